"""Reusable terminal views of labctl's commands."""
