"""Experiment trackers: finished ledger runs mirrored to MLflow, Trackio or W&B.

``mirror.py`` subscribes to the session's events and, on a worker thread, writes each
finished experiment once (name, config, seed, code hash, lineage, the whole metric series,
final status) to every tracker in ``trackers = [...]``; ``backends.py`` holds one small
adapter per tracker, each importing its library only when configured.
"""
