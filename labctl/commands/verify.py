"""Commands of this area register on labctl.app.app (filled in by its issue)."""
