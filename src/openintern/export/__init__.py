"""Trace export: a recorded session as Claude Code JSONL, OpenAI chat messages or Parquet,
redacted a second time on the way out; an optional push to a private Hub dataset after an
explicit approval (``intern export``). Nothing is uploaded by default."""
