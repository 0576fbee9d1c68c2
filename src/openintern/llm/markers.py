"""Marker strings shared by the harness and the scripted model server.

The context module appends ``SUMMARY_REQUEST_MARKER`` to the last message of a
summarisation request. Real models ignore it; the scripted server recognises it and
answers with a deterministic summary without consuming a script step, so scripted
sessions stay reproducible however often compaction runs.
"""

from __future__ import annotations

SUMMARY_REQUEST_MARKER = "[openintern:summarise]"
