"""Real bubblewrap: what a sandboxed command can and cannot see or change."""

from __future__ import annotations

import os
import pwd
import shutil
import uuid
from pathlib import Path

import pytest

from openintern.sandbox import BwrapSandbox, SandboxError


def host_has(path: str | Path) -> bool:
    """Whether the file exists on the host (outside any sandbox)."""
    return Path(path).exists()


def entries_in(directory: Path) -> int:
    """How many entries the host directory holds."""
    return len(list(directory.iterdir()))


async def test_can_write_inside_the_workspace(workspace: Path) -> None:
    sandbox = BwrapSandbox(workspace, network=False)
    (workspace / "sub").mkdir()
    result = await sandbox.run("echo hello > note.txt && pwd", timeout_s=60, cwd=Path("sub"))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str((workspace / "sub").resolve())
    assert (workspace / "sub" / "note.txt").read_text() == "hello\n"


@pytest.mark.parametrize("target", ["/etc/openintern-probe", "/usr/openintern-probe"])
async def test_cannot_write_system_directories(offline_sandbox: BwrapSandbox, target: str) -> None:
    result = await offline_sandbox.run(f"echo x > {target}", timeout_s=30)
    assert result.exit_code != 0
    assert "Read-only file system" in result.output
    assert not host_has(target)


async def test_writes_outside_the_workspace_never_reach_the_host(workspace: Path) -> None:
    sandbox = BwrapSandbox(workspace, network=False)
    parent_file = workspace.parent / f"escape-{uuid.uuid4().hex}"
    result = await sandbox.run(f"echo x > {parent_file}; echo done", timeout_s=30)
    assert "done" in result.output
    assert not parent_file.exists()


async def test_tmp_is_private(offline_sandbox: BwrapSandbox) -> None:
    name = f"/tmp/openintern-private-{uuid.uuid4().hex}"
    result = await offline_sandbox.run(f"echo inside > {name} && cat {name}", timeout_s=30)
    assert result.exit_code == 0
    assert result.output.strip() == "inside"
    assert not host_has(name)


async def test_real_home_directory_is_hidden(offline_sandbox: BwrapSandbox) -> None:
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    secret = home / f".openintern-sandbox-test-{uuid.uuid4().hex}"
    secret.write_text("top secret")
    try:
        result = await offline_sandbox.run(
            f"cat {secret}; ls -A {home} | wc -l; echo HOME=$HOME", timeout_s=30
        )
    finally:
        secret.unlink()
    assert "top secret" not in result.output
    assert "No such file or directory" in result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == "HOME=/tmp/home"
    # Only what the sandbox re-exposes read-only (the Python installation, if it lives in
    # the home directory) may appear: the listing is far from the real one.
    assert int(lines[-2]) < entries_in(home)


async def test_openintern_store_and_config_are_hidden(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Put the data dir and the config file *inside* the workspace: the worst case.
    data = workspace / "store"
    data.mkdir()
    (data / "openintern.db").write_text("all sessions")
    config = workspace / "config.toml"
    config.write_text('api_key = "sk-in-config"\n')
    monkeypatch.setenv("OPENINTERN_DATA_DIR", str(data))
    monkeypatch.setenv("OPENINTERN_CONFIG", str(config))
    sandbox = BwrapSandbox(workspace, network=False)
    listing = await sandbox.run(f"ls -A {data}", timeout_s=30)
    assert listing.exit_code == 0
    assert listing.output == ""
    reading = await sandbox.run(f"cat {data}/openintern.db; cat {config}; echo end", timeout_s=30)
    assert "all sessions" not in reading.output
    assert "sk-in-config" not in reading.output
    assert reading.output.strip().endswith("end")
    # The rest of the workspace is untouched and visible.
    visible = await sandbox.run("ls", timeout_s=30)
    assert visible.output.split() == ["config.toml", "store"]
    assert (data / "openintern.db").read_text() == "all sessions"


async def test_secrets_in_host_environment_do_not_enter(
    offline_sandbox: BwrapSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-openai-123")
    monkeypatch.setenv("HF_TOKEN", "hf_host_456")
    monkeypatch.setenv("MY_SECRET_TOKEN", "my-host-789")
    result = await offline_sandbox.run(
        "env", timeout_s=30, env={"HF_TOKEN": "hf_explicit_000", "RUN_NAME": "baseline"}
    )
    assert result.exit_code == 0
    for leaked in (
        "OPENAI_API_KEY",
        "HF_TOKEN",
        "MY_SECRET_TOKEN",
        "sk-host-openai-123",
        "hf_host_456",
        "my-host-789",
        "hf_explicit_000",
    ):
        assert leaked not in result.output
    assert "RUN_NAME=baseline" in result.output
    assert "OPENINTERN_SANDBOX=1" in result.output
    _, dropped = offline_sandbox.environment({"HF_TOKEN": "x", "RUN_NAME": "y"})
    assert dropped == ["HF_TOKEN"]


async def test_configured_secret_values_never_enter(shared_workspace: Path) -> None:
    sandbox = BwrapSandbox(shared_workspace, network=False, secret_values=["sk-configured"])
    result = await sandbox.run("env", timeout_s=30, env={"HARMLESS": "sk-configured"})
    assert "sk-configured" not in result.output


_CONNECT = (
    "python -c \"import socket; s = socket.create_connection(('127.0.0.1', {port}), 5); "
    'print(s.recv(4).decode())"'
)


async def test_network_off_cannot_reach_host_loopback(
    offline_sandbox: BwrapSandbox, loopback_port: int
) -> None:
    result = await offline_sandbox.run(_CONNECT.format(port=loopback_port), timeout_s=30)
    assert result.exit_code != 0
    assert "ConnectionRefusedError" in result.output or "unreachable" in result.output


async def test_network_full_reaches_host_loopback(
    shared_workspace: Path, loopback_port: int
) -> None:
    sandbox = BwrapSandbox(shared_workspace, network="full")
    result = await sandbox.run(_CONNECT.format(port=loopback_port), timeout_s=30)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "pong"


async def test_cwd_outside_workspace_is_refused(offline_sandbox: BwrapSandbox) -> None:
    with pytest.raises(SandboxError, match="outside the workspace"):
        await offline_sandbox.run("true", timeout_s=5, cwd=Path("/etc"))
    with pytest.raises(SandboxError, match="outside the workspace"):
        await offline_sandbox.run("true", timeout_s=5, cwd=Path("../.."))


def test_home_directory_as_workspace_is_refused() -> None:
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    with pytest.raises(SandboxError, match="home directory"):
        BwrapSandbox(home, network=False)
    with pytest.raises(SandboxError, match="home directory"):
        BwrapSandbox(Path("/"), network=False)


def test_missing_bwrap_says_how_to_fix(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(SandboxError) as caught:
        BwrapSandbox(workspace, network=False)
    assert "sudo apt-get install bubblewrap" in str(caught.value)
    assert "--sandbox none" in str(caught.value)


def test_bwrap_without_namespaces_says_how_to_fix(workspace: Path, tmp_path: Path) -> None:
    # A bwrap that fails the way it does where user namespaces are disabled.
    fake = tmp_path / "bwrap"
    fake.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    with pytest.raises(SandboxError) as caught:
        BwrapSandbox(workspace, network=False, bwrap_path=str(fake))
    message = str(caught.value)
    assert "No permissions to creating new namespace" in message
    assert "--sandbox none" in message


async def test_workspace_inside_home_works_and_the_rest_of_home_stays_hidden() -> None:
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    tag = uuid.uuid4().hex
    inside = home / f".openintern-test-ws-{tag}"
    sibling = home / f".openintern-test-sibling-{tag}"
    inside.mkdir()
    sibling.write_text("sibling secret")
    try:
        sandbox = BwrapSandbox(inside, network=False)
        result = await sandbox.run(f"echo made > out.txt; cat {sibling}; ls -A", timeout_s=60)
        assert (inside / "out.txt").read_text() == "made\n"
        assert "sibling secret" not in result.output
        assert "out.txt" in result.output
    finally:
        shutil.rmtree(inside)
        sibling.unlink()


async def test_extra_read_only_binds_are_visible_but_not_writable(
    workspace: Path, tmp_path: Path
) -> None:
    # A dataset under /tmp would otherwise be covered by the private /tmp.
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "train.csv").write_text("a,b\n1,2\n")
    sandbox = BwrapSandbox(workspace, network=False, extra_ro_binds=[dataset])
    result = await sandbox.run(
        f"cat {dataset}/train.csv; echo x > {dataset}/new.csv || echo REFUSED", timeout_s=30
    )
    assert "a,b\n1,2" in result.output
    assert "REFUSED" in result.output
    assert not host_has(dataset / "new.csv")
