"""The egress log against what the servers really received: an end-to-end research
session through the `intern` command (scripted model, fixture servers for arXiv,
Semantic Scholar, the Hub and the dataset viewer). For every destination, the requests
and body bytes the log records equal the requests and body bytes that arrived."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from e2e_helpers import intern_env, run_intern
from test_research_session import HF_TOKEN, _servers

from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer


def _call(name: str, **arguments: object) -> dict[str, object]:
    return {"name": name, "arguments": arguments}


STEPS: list[dict[str, Any]] = [
    {"text": "Searching the literature.",
     "tool_calls": [_call("papers", operation="search", query="transformer", limit=5)]},
    {"tool_calls": [_call("papers", operation="citations", paper="2312.07559",
                          min_citations=1, year_min=2010, sort="citations")]},
    {"tool_calls": [_call("papers", operation="read", paper="2401.00001", section="method")]},
    {"tool_calls": [_call("datasets", operation="inspect", dataset="nyu-mll/glue", rows=2)]},
    {"text": "Survey done."},
]


def test_egress_log_matches_what_each_server_received(workspace: Path) -> None:
    servers = _servers()
    for server in servers.values():
        server.start()
    try:
        with ScriptedServer(Script.from_steps(STEPS)) as model:
            env = intern_env(
                model.base_url,
                OPENINTERN_ARXIV_API_URL=f"{servers['arxiv'].url}/api/query",
                OPENINTERN_ARXIV_WEB_URL=servers["arxiv"].url,
                OPENINTERN_SEMANTIC_SCHOLAR_URL=servers["s2"].url,
                OPENINTERN_HF_ENDPOINT=servers["hf"].url,
                OPENINTERN_DATASETS_SERVER_URL=servers["viewer"].url,
                HF_TOKEN=HF_TOKEN,
            )
            result = run_intern("survey transformers", env=env, cwd=workspace, timeout=180)
            model_bytes = list(model.received_body_bytes)
            model_port = model.port
        log = json.loads(run_intern("egress", "last", "--json", env=env, cwd=workspace).output)
        table = run_intern("egress", "last", env=env, cwd=workspace).output
    finally:
        for server in servers.values():
            server.stop()
    assert result.code == 0, result.output
    hosts = {h["destination"]: h for h in log["hosts"]}
    received = {f"127.0.0.1:{s.port}": s.requests for s in servers.values()}
    for destination, requests in received.items():
        assert requests, f"the session should have used {destination}"
        logged = hosts[destination]
        assert logged["requests"] == len(requests), destination
        assert logged["bytes_sent"] == sum(len(r.body) for r in requests), destination
        paths = Counter(r["target"].split("?")[0] for r in log["requests"]
                        if r["destination"] == destination)
        assert paths == Counter(r.path for r in requests), destination
    model_host = hosts[f"127.0.0.1:{model_port}"]
    assert model_host["requests"] == len(model_bytes) == len(STEPS)
    assert model_host["bytes_sent"] == sum(model_bytes)
    assert set(hosts) == {*received, f"127.0.0.1:{model_port}"}
    # Model calls say what the prompt carried: the tool outputs by tool.
    prompts = [r for r in log["requests"] if r["kind"] == "prompt"]
    assert "papers" in prompts[-1]["detail"]["tool_output_chars"]
    assert "datasets" in prompts[-1]["detail"]["tool_output_chars"]
    # Secrets never reach the log: the Hub token is redacted like everywhere else.
    assert HF_TOKEN not in json.dumps(log)
    assert "Requests by destination" in table
