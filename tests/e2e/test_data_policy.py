"""The data policy through the `intern` command: local-only mode refuses (and logs) every
destination but the local model server, while the model keeps working; private paths
never reach the model server, whatever the tool that read them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from e2e_helpers import intern_env, run_intern, store

from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "research"))

from fixture_server import FixtureServer, Route


def _call(name: str, **arguments: object) -> dict[str, object]:
    return {"name": name, "arguments": arguments}


def _tool_results(requests: list[dict[str, Any]]) -> list[str]:
    """Every tool result the model server received, newest request's view."""
    return [m["content"] for m in requests[-1]["messages"] if m["role"] == "tool"]


def test_local_only_refuses_and_logs_other_destinations_while_the_local_model_works(
    workspace: Path,
) -> None:
    arxiv = FixtureServer({"/api/query": Route(fixture="arxiv/query_search.atom.xml")}).start()
    script = Script.from_steps([
        {"text": "Searching.", "tool_calls": [_call("papers", operation="search",
                                                    query="transformer", limit=3)]},
        {"text": "Writing notes locally instead.",
         "tool_calls": [_call("write_file", path="notes.md", content="offline notes")]},
        {"text": "Done without the network."},
    ])
    try:
        with ScriptedServer(script) as model:
            env = intern_env(model.base_url,
                             OPENINTERN_ARXIV_API_URL=f"{arxiv.url}/api/query",
                             OPENINTERN_SEMANTIC_SCHOLAR_URL=arxiv.url,
                             OPENINTERN_HF_ENDPOINT=arxiv.url)
            result = run_intern("survey transformers", "--local-only", env=env,
                                cwd=workspace, timeout=180)
            requests = list(model.requests)
            model_port = model.port
            egress = run_intern("egress", "last", "--json", env=env, cwd=workspace)
    finally:
        arxiv.stop()
    assert result.code == 0, result.output
    assert "Done without the network." in result.output
    # The fixture server (loopback, but another port: not allowlisted) got nothing.
    assert arxiv.requests == []
    # The model saw the refusal and went on.
    search_result = _tool_results(requests)[0]
    assert "local-only" in search_result and f"127.0.0.1:{arxiv.port}" in search_result
    assert (workspace / "notes.md").read_text() == "offline notes"
    assert len(requests) == 3
    # Logged: refused requests to the fixture port, and only the model's calls went.
    log = json.loads(egress.output)
    hosts = {h["destination"]: h for h in log["hosts"]}
    refused = hosts[f"127.0.0.1:{arxiv.port}"]
    assert refused["requests"] == 0 and refused["refused"] >= 1
    model_host = hosts[f"127.0.0.1:{model_port}"]
    assert model_host["requests"] == 3 and model_host["refused"] == 0
    assert all(r["kind"] == "prompt" for r in log["requests"] if r["allowed"])
    [session] = store().list_sessions()
    assert session.config["accounting"]["egress"] == "local-only"


def test_local_only_will_not_start_with_a_provider_model(workspace: Path) -> None:
    env = intern_env("http://127.0.0.1:9/v1")
    env.pop("OPENINTERN_API_BASE")
    env["OPENINTERN_MODEL"] = "anthropic/claude-sonnet-4-5"
    result = run_intern("anything", "--local-only", env=env, cwd=workspace, timeout=120)
    assert result.code == 2, result.output
    assert "local-only" in result.output and "--api-base" in result.output


SECRET_ROWS = [
    ("patient_0001", "Jane Roe", "1970-01-02", "diabetes type 2", "71.5"),
    ("patient_0002", "John Doe", "1981-05-17", "hypertension", "88.25"),
    ("patient_0003", "Ada Stone", "1990-09-30", "asthma", "60.0"),
]


def test_private_rows_never_reach_the_model_server(workspace: Path) -> None:
    data = workspace / "data"
    data.mkdir()
    lines = ["id,name,born,diagnosis,weight"] + [",".join(r) for r in SECRET_ROWS]
    (data / "patients.csv").write_text("\n".join(lines) + "\n")
    (workspace / "peek.py").write_text(
        "import csv\n"
        "rows = list(csv.reader(open('data/patients.csv')))\n"
        "print(rows[1])\n"
        "weights = [float(r[4]) for r in rows[1:]]\n"
        "print('mean weight', round(sum(weights) / len(weights), 3))\n")
    script = Script.from_steps([
        {"tool_calls": [_call("read_file", path="data/patients.csv")]},
        {"tool_calls": [_call("shell", command="cat data/patients.csv; grep -n Doe data/*")]},
        {"tool_calls": [_call("shell", command="python peek.py")]},
        {"tool_calls": [_call("datasets", operation="audit", path="data/patients.csv")]},
        {"text": "I worked from the schema and the aggregates only."},
    ])
    with ScriptedServer(script) as model:
        env = intern_env(model.base_url)
        result = run_intern("study the patients", "--private", "data/", "--sandbox", "none",
                            env=env, cwd=workspace, timeout=180)
        requests = list(model.requests)
    assert result.code == 0, result.output
    sent = json.dumps(requests)
    for row in SECRET_ROWS:
        for value in row[:4]:
            assert value not in sent, value
    results = _tool_results(requests)
    read, shell, peek, audit = results
    assert "private data withheld: 3 lines from data/patients.csv" in read
    assert "private data withheld" in shell and "exit code 0" in shell
    # Aggregates and the schema pass; the row the script printed does not.
    assert "mean weight 73.25" in peek and "private data withheld: 1 line" in peek
    assert "id" in audit and "diagnosis" in audit and "3 rows" in audit
    # The egress log says what was withheld from which prompt.
    egress = json.loads(run_intern("egress", "last", "--json", env=env, cwd=workspace).output)
    withheld = [r["detail"].get("withheld_private_lines") for r in egress["requests"]]
    assert {"data/patients.csv": 3} in withheld


def test_private_rows_stay_out_of_summaries_too(workspace: Path, tmp_path: Path) -> None:
    """A compaction's summary request carries old tool outputs: filtered the same way."""
    import asyncio

    from openintern.agent.session import ResearchSession, SessionOptions
    from openintern.config import Settings
    from openintern.llm.client import LiteLLMClient
    from openintern.store import Store

    (workspace / "data").mkdir()
    lines = ["id,name,born,diagnosis,weight"] + [",".join(r) for r in SECRET_ROWS]
    (workspace / "data" / "patients.csv").write_text("\n".join(lines) + "\n")
    script = Script.from_steps([
        {"tool_calls": [_call("shell", command="cat data/patients.csv")]},
        {"text": "Read."},
        {"text": "After the compaction."},
    ])
    settings = Settings(workspace=workspace, sandbox="none", model="openai/scripted",
                        context_window=64_000, private_paths=["data/"])
    db = Store(f"sqlite:///{tmp_path / 'store.db'}")

    async def run() -> list[dict[str, Any]]:
        with ScriptedServer(script) as server:
            llm = LiteLLMClient("openai/scripted", api_base=server.base_url, api_key="x",
                                max_retries=0, context_window_override=64_000)
            session = ResearchSession.create(settings, "look", store=db,
                                             options=SessionOptions(), llm=llm)
            await session.run("look at the patients")
            session.request_compaction()
            await session.run("go on")
            return list(server.requests)

    requests = asyncio.run(run())
    summaries = [r for r in requests if not r.get("tools")]
    assert len(summaries) == 1
    sent = json.dumps(requests)
    assert "private data withheld" in json.dumps(summaries)
    for row in SECRET_ROWS:
        assert row[1] not in sent and row[0] not in sent
