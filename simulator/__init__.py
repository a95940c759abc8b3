"""The smart-car log generator: the book's status and driving logs, reproducibly.

- :func:`simulator.status.write_status_file`: the day's batch status file, handed off whole.
- :func:`simulator.driver.run_driver`: the real-time driving log, appended line-safe.
- :mod:`simulator.manifest`: what a run wrote, with a record digest a verifier can recount.
"""
