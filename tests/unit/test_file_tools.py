"""read_file / write_file / edit_file behaviour the model relies on."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from openintern.config import Settings
from openintern.tools.base import ToolContext, ToolError, ToolRegistry, ToolResult
from openintern.tools.catalog import core_tools


def _ctx(ws: Path) -> ToolContext:
    return ToolContext(
        settings=Settings(workspace=ws),
        workspace=ws,
        sandbox=cast(Any, None),
        state=cast(Any, None),
        session_id="s",
        emit=lambda e: e,
    )


async def _run(ws: Path, name: str, **args: Any) -> ToolResult:
    import json

    tool, params = ToolRegistry(core_tools()).parse(name, json.dumps(args))
    return await tool.run(params, _ctx(ws))


async def test_write_then_read_with_line_numbers_and_paging(tmp_path: Path) -> None:
    await _run(
        tmp_path, "write_file", path="sub/a.txt", content="".join(f"l{i}\n" for i in range(10))
    )
    page = await _run(tmp_path, "read_file", path="sub/a.txt", offset=3, limit=2)
    assert page.text.splitlines()[:2] == ["3| l2", "4| l3"]
    assert "continue with offset=5" in page.text


async def test_edit_exact_whitespace_tolerant_and_ambiguous(tmp_path: Path) -> None:
    (tmp_path / "f.py").write_text("def f():\n    return 1\n\ndef g():\n    return 1\n")
    with pytest.raises(ToolError, match="occurs 2 times"):
        await _run(tmp_path, "edit_file", path="f.py", old_text="return 1", new_text="return 2")
    done = await _run(
        tmp_path,
        "edit_file",
        path="f.py",
        old_text="def g():\n  return 1",
        new_text="def g():\n    return 3",
    )
    assert done.data["match"] == "whitespace-tolerant"
    assert (tmp_path / "f.py").read_text().endswith("def g():\n    return 3\n")
    with pytest.raises(ToolError, match="not found"):
        await _run(tmp_path, "edit_file", path="f.py", old_text="nope", new_text="x")


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "sub/../../x"])
async def test_paths_outside_the_workspace_are_refused(tmp_path: Path, path: str) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    with pytest.raises(ToolError, match="outside the workspace"):
        await _run(ws, "write_file", path=path, content="x")
    assert not (tmp_path / "outside.txt").exists()


async def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "link").symlink_to(tmp_path)
    with pytest.raises(ToolError, match="outside the workspace"):
        await _run(ws, "write_file", path="link/evil.txt", content="x")


# --- what the sandbox hides, the host-side file tools refuse too ------------------------


async def test_env_files_are_refused_even_through_a_link(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-dotenv-secret-0123456789\n")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / ".env.production").write_text("DB_PASSWORD=hunter2\n")
    (tmp_path / "notes.txt").symlink_to(tmp_path / ".env")  # made by agent code
    for path in (".env", "conf/.env.production", "notes.txt", str(tmp_path / ".env")):
        with pytest.raises(ToolError, match=r"\.env files hold credentials"):
            await _run(tmp_path, "read_file", path=path)
    with pytest.raises(ToolError, match="refusing to write"):
        await _run(tmp_path, "write_file", path=".env", content="OPENAI_API_KEY=mine\n")
    with pytest.raises(ToolError, match="refusing to write"):
        await _run(tmp_path, "edit_file", path="notes.txt", old_text="OPENAI", new_text="X")
    assert (tmp_path / ".env").read_text().startswith("OPENAI_API_KEY=sk-dotenv")


async def test_openintern_internals_are_refused_but_spilled_output_is_readable(
    tmp_path: Path,
) -> None:
    spill = tmp_path / ".openintern" / "spill"
    spill.mkdir(parents=True)
    (spill / "call_1.txt").write_text("full tool output\n")
    (tmp_path / ".openintern" / "venv.lock").write_text("")
    page = await _run(tmp_path, "read_file", path=".openintern/spill/call_1.txt")
    assert "full tool output" in page.text
    with pytest.raises(ToolError, match="internal state"):
        await _run(tmp_path, "read_file", path=".openintern/venv.lock")
    for path in (".openintern/spill/call_1.txt", ".openintern/runs/x/spec.json"):
        with pytest.raises(ToolError, match="read-only for the agent"):
            await _run(tmp_path, "write_file", path=path, content="forged")


async def test_a_store_inside_the_workspace_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "store"
    data.mkdir()
    (data / "openintern.db").write_text("all sessions")
    monkeypatch.setenv("OPENINTERN_DATA_DIR", str(data))
    with pytest.raises(ToolError, match="store and configuration"):
        await _run(tmp_path, "read_file", path="store/openintern.db")


async def test_a_workspace_inside_the_data_directory_stays_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # e.g. a server keeping one workspace per owner under its data directory
    monkeypatch.setenv("OPENINTERN_DATA_DIR", str(tmp_path))
    ws = tmp_path / "workspaces" / "alice"
    ws.mkdir(parents=True)
    await _run(ws, "write_file", path="train.py", content="print(1)\n")
    assert "print(1)" in (await _run(ws, "read_file", path="train.py")).text
