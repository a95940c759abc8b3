"""python -m agents: run a Flume-equivalent agent."""
