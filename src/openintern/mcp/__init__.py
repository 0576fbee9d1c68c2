"""MCP both ways, through the official ``mcp`` SDK (the ``mcp`` extra, imported lazily).

- Client (``connections.py``, ``tools.py``): the servers in ``mcp_servers`` are started
  beside a session; their tools are offered to the model as ``mcp__<server>__<tool>`` and go
  through the loop's approval path like built-in tools. A server that hangs at start or
  dies is reported and skipped; it never blocks the session.
- Server (``server.py``, ``commands.py``): ``intern mcp`` exposes OpenIntern's research
  tools (papers, datasets, jobs, the experiment ledger) to Claude Code, Codex or Cursor,
  with the same sandbox, approvals and compute budget as inside OpenIntern.
"""
