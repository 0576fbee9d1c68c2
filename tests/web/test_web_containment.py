"""Web users are contained: the sandbox policy is the server's (a request asking for
``sandbox: "none"`` is refused), each user works in a workspace of their own, and no user
reaches another's sessions, events, runs or files, nor, from their agent's code, their
workspace."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from web_support import LiveServer, call, read_events

from openintern.config import Settings
from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer
from openintern.sandbox import SandboxError
from openintern.sandbox.bwrap import find_bwrap
from openintern.web.app import create_app

USERS = {"alice": "alice-token-1234", "bob": "bob-token-5678"}


def _bwrap_works() -> bool:
    try:
        find_bwrap()
    except SandboxError:
        return False
    return True


def settings(model_url: str, workspace: Path, sandbox: str = "none") -> Settings:
    return Settings(model="openai/scripted", api_base=model_url, api_key="x",  # type: ignore[arg-type]
                    workspace=workspace, sandbox=sandbox, retry_base_delay_s=0.05,
                    auto_approve=True, context_window=32_000,
                    web_users={k: v for k, v in USERS.items()})  # type: ignore[arg-type]


def as_user(server: LiveServer, name: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, timeout=120,
                             headers={"Authorization": f"Bearer {USERS[name]}"})


async def test_a_request_for_no_sandbox_is_refused(workspace: Path) -> None:
    app = create_app(settings("http://127.0.0.1:9", workspace, sandbox="bwrap"), "server-tok")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers={"Authorization": f"Bearer {USERS['bob']}"}) as c:
        refused = await c.post("/api/sessions", json={"goal": "x", "sandbox": "none"})
        assert refused.status_code == 422
        assert "sandbox" in refused.text and "xtra" in refused.text  # extra field forbidden
        index = (await c.get("/")).text
        assert 'name="sandbox"' not in index and "the server's setting" in index


async def test_users_have_their_own_workspaces_and_cannot_reach_each_other(
        workspace: Path) -> None:
    sandbox = "bwrap" if _bwrap_works() else "none"
    root = Path(os.environ["OPENINTERN_DATA_DIR"]) / "web-workspaces"
    alice_ws = root / "alice"
    steps = [
        {"text": "Keeping a secret.",
         "tool_calls": [call("write_file", path="secret.txt", content="alice's secret")]},
        {"text": "Kept."},
        {"text": "Looking.", "tool_calls": [call("read_file", path=f"{alice_ws}/secret.txt")]},
        {"text": "Shell.", "tool_calls": [call("shell", command=f"cat {alice_ws}/secret.txt")]},
        {"text": "Nothing found."},
    ]
    with ScriptedServer(Script.from_steps(steps)) as model:
        server = LiveServer(settings(model.base_url, workspace, sandbox)).__enter__()
        try:
            async with as_user(server, "alice") as alice, as_user(server, "bob") as bob:
                a = (await alice.post("/api/sessions", json={"goal": "keep a secret"})).json()
                await read_events(alice, a["id"], until=lambda e: e["type"] == "turn_complete",
                                  deadline_s=120)
                assert (alice_ws / "secret.txt").read_text() == "alice's secret"
                assert server.hub.store.get_session(a["id"]).workspace == str(alice_ws)

                b = (await bob.post("/api/sessions", json={"goal": "find the secret"})).json()
                events = await read_events(bob, b["id"], deadline_s=120,
                                           until=lambda e: e["type"] == "turn_complete")
                bob_ws = Path(server.hub.store.get_session(b["id"]).workspace)
                assert bob_ws == root / "bob" and bob_ws != alice_ws
                results = {e["name"]: e for e in events if e["type"] == "tool_call_finished"}
                assert not results["read_file"]["ok"]
                assert "outside the workspace" in results["read_file"]["preview"]
                if sandbox == "bwrap":  # the other workspaces are hidden from the sandbox
                    assert not results["shell"]["ok"]
                    assert "No such file" in results["shell"]["preview"]
                assert all("alice's secret" not in e.get("preview", "") for e in events)

                # Alice's session, its events, runs, calls and pages do not exist for Bob.
                sid = a["id"]
                for path in (f"/api/sessions/{sid}", f"/api/sessions/{sid}/events",
                             f"/sessions/{sid}", f"/sessions/{sid}/report",
                             f"/api/sessions/{sid}/calls/x/output.txt"):
                    assert (await bob.get(path)).status_code == 404, path
                for path in (f"/api/sessions/{sid}/messages", f"/api/sessions/{sid}/interrupt"):
                    assert (await bob.post(path, json={"text": "hi"})).status_code == 404
                assert [s["id"] for s in (await bob.get("/api/sessions")).json()] == [b["id"]]
                assert (await bob.get("/api/experiments", params={"session": sid})).json() == []
        finally:
            server.__exit__()
