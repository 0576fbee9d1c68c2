"""End-to-end: `intern export` of a scripted session in which secrets were planted three
ways — a token in the environment the model echoes, a credential-shaped key in a file it
reads, and a plain credential only known (as an env variable) when exporting. No secret
survives in any format; a Hub push happens only after approval, only to a private dataset.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pexpect
import pyarrow.parquet as pq
import pytest
from hub_fixture import FakeHub

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from e2e_helpers import intern_argv, intern_env, run_intern, store

from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer

HF_SECRET = "hf_plantedRunTimeToken0123456789abcdef"
SHAPED = "sk-ant-api03-plantedShapeKey0123456789abcdefXYZ"
PLAIN = "zq-plain-credential-77310042"
SECRETS = (HF_SECRET, SHAPED, PLAIN)


@pytest.fixture
def session_id(workspace: Path) -> str:
    (workspace / "config.txt").write_text(f"anthropic key: {SHAPED}\nservice: {PLAIN}\n")
    script = Script.from_steps([
        {"text": "Reading the config.",
         "tool_calls": [{"name": "read_file", "arguments": {"path": "config.txt"}}]},
        {"text": f"I will pass the token {HF_SECRET} along.",
         "tool_calls": [{"name": "shell", "arguments": {"command": f"echo {HF_SECRET}"}}]},
        {"text": "Done: the config holds two keys."},
    ])
    with ScriptedServer(script) as server:
        env = intern_env(server.base_url, HF_TOKEN=HF_SECRET)
        result = run_intern("inspect the config", env=env, cwd=workspace, timeout=120)
    assert result.code == 0, result.output
    sid: str = store().list_sessions()[0].id
    return sid


def _export_env(**extra: str) -> dict[str, str]:
    # The plain credential is known to the exporting process only.
    return intern_env("http://127.0.0.1:9", MY_SERVICE_TOKEN=PLAIN, **extra)


def test_exports_in_every_format_have_no_secret(session_id: str, workspace: Path,
                                         tmp_path: Path) -> None:
    out = tmp_path / "trace.jsonl"
    result = run_intern("export", session_id, "--format", "claude-code-jsonl",
                        "--output", str(out), env=_export_env(), cwd=workspace)
    assert result.code == 0, result.output
    raw = out.read_text()
    for secret in SECRETS:
        assert secret not in raw
    assert raw.count("[REDACTED]") >= 4
    lines = [json.loads(line) for line in raw.splitlines()]
    assert [line["type"] for line in lines] == ["user", "assistant", "user", "assistant",
                                                "user", "assistant"]
    # A chain, as Claude Code writes it.
    assert lines[0]["parentUuid"] is None
    assert all(b["parentUuid"] == a["uuid"] for a, b in itertools.pairwise(lines))
    assert len({line["sessionId"] for line in lines}) == 1
    assert lines[0]["message"] == {"role": "user", "content": "inspect the config"}
    use = lines[1]["message"]["content"][1]
    assert use["type"] == "tool_use" and use["name"] == "read_file"
    assert use["input"] == {"path": "config.txt"}
    result_block = lines[2]["message"]["content"][0]
    assert result_block["type"] == "tool_result" and result_block["tool_use_id"] == use["id"]
    assert "anthropic key: [REDACTED]" in result_block["content"]
    assert lines[3]["message"]["content"][1]["input"] == {"command": "echo [REDACTED]"}
    assert lines[-1]["message"]["stop_reason"] == "end_turn"

    # The same record as OpenAI chat messages (fine-tuning JSONL) and as Parquet.
    result = run_intern("export", session_id, "--format", "openai-messages", "--output", "-",
                        env=_export_env(), cwd=workspace)
    assert result.code == 0, result.output
    for secret in SECRETS:
        assert secret not in result.output
    record = json.loads(result.output.splitlines()[0])
    roles = [m["role"] for m in record["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert {t["function"]["name"] for t in record["tools"]} == {"read_file", "shell"}
    assert record["messages"][3]["tool_call_id"] == record["messages"][2]["tool_calls"][0]["id"]

    out = tmp_path / "trace.parquet"
    result = run_intern("export", session_id, "-f", "parquet", "-o", str(out),
                        env=_export_env(), cwd=workspace)
    assert result.code == 0, result.output
    table = pq.read_table(out).to_pylist()
    assert [row["role"] for row in table] == roles[1:]
    assert not any(secret in json.dumps(table) for secret in SECRETS)


def test_push_to_hub_only_after_approval_and_only_private(session_id: str,
                                                          workspace: Path) -> None:
    with FakeHub() as hub:
        env = _export_env(OPENINTERN_HF_ENDPOINT=hub.url, HF_TOKEN="hf_pushTokenAbcdefghij0123")
        # Asked at the terminal; "n" uploads nothing.
        child = pexpect.spawn(intern_argv()[0], [*intern_argv()[1:], "export", session_id,
                                                 "--push-to-hub", "me/traces"],
                              env=env, cwd=str(workspace), encoding="utf-8", timeout=60)
        child.expect("private dataset me/traces")
        child.expect(r"approve the upload\? \[y/N\]")
        child.sendline("n")
        child.expect("not uploaded")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 1 and hub.requests == []
        # Without a terminal and without --yes: never uploaded.
        result = run_intern("export", session_id, "--push-to-hub", "me/traces", env=env,
                            cwd=workspace)
        assert result.code == 1 and "not uploaded" in result.output and hub.requests == []

        result = run_intern("export", session_id, "--push-to-hub", "me/traces", "--yes",
                            env=env, cwd=workspace)
        assert result.code == 0, result.output
        repo = hub.repos["me/traces"]
        assert repo.private
        [(name, data)] = repo.files.items()
        assert name == f"traces/openintern-{session_id}.jsonl"
        assert not any(secret.encode() in data for secret in SECRETS)
        assert all(auth == "Bearer hf_pushTokenAbcdefghij0123" for _, _, auth in hub.requests)

        hub.repos["me/public"] = type(repo)(private=False)
        result = run_intern("export", session_id, "--push-to-hub", "me/public", "--yes",
                            env=env, cwd=workspace)
        assert result.code == 2 and "is public" in result.output
        assert hub.repos["me/public"].files == {}
