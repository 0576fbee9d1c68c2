"""``make_sandbox`` and the explicit opt-out runner."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from openintern.config import Settings
from openintern.sandbox import BwrapSandbox, UnsandboxedRunner, make_sandbox


def test_factory_builds_bwrap_by_default_with_network_policy(workspace: Path) -> None:
    sandbox = make_sandbox(Settings(workspace=workspace, sandbox_network=False), workspace)
    assert isinstance(sandbox, BwrapSandbox)
    assert sandbox.name == "bwrap"
    assert sandbox.network == "off"
    assert sandbox.workspace == workspace.resolve()


async def test_factory_passes_configured_secrets_as_values_to_drop(workspace: Path) -> None:
    settings = Settings(workspace=workspace, api_key="sk-configured-key-77")
    sandbox = make_sandbox(settings, workspace)
    result = await sandbox.run("env", timeout_s=60, env={"RENAMED": "sk-configured-key-77"})
    assert "sk-configured-key-77" not in result.output


def test_factory_builds_unsandboxed_runner_with_warning(
    workspace: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        runner = make_sandbox(Settings(workspace=workspace, sandbox="none"), workspace)
    assert isinstance(runner, UnsandboxedRunner)
    assert runner.name == "none"
    assert "Sandbox disabled" in runner.warning
    assert "any file" in runner.warning
    assert runner.warning in caplog.text


async def test_unsandboxed_runner_scrubs_environment(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-none-openai")
    monkeypatch.setenv("HF_TOKEN", "hf_none")
    monkeypatch.setenv("MY_SECRET_TOKEN", "none-secret")
    runner = UnsandboxedRunner(workspace)
    result = await runner.run(
        "env; echo HOME=$HOME", timeout_s=60, env={"HF_TOKEN": "hf_explicit", "OK_VAR": "1"}
    )
    assert result.exit_code == 0
    for leaked in ("sk-none-openai", "hf_none", "none-secret", "hf_explicit", "OPENAI_API_KEY"):
        assert leaked not in result.output
    assert "OK_VAR=1" in result.output
    assert f"HOME={runner.home}" in result.output
    assert runner.environment({"HF_TOKEN": "x"})[1] == ["HF_TOKEN"]


async def test_unsandboxed_runner_has_no_filesystem_isolation(workspace: Path) -> None:
    # Documented behaviour of the opt-out: writes outside the workspace do happen.
    outside = workspace.parent / f"outside-{uuid.uuid4().hex}"
    runner = UnsandboxedRunner(workspace, network=False)
    assert "cannot be enforced without a sandbox" in runner.warning
    result = await runner.run(f"echo x > {outside}", timeout_s=60)
    assert result.exit_code == 0
    assert outside.read_text() == "x\n"


def test_demo_says_what_really_failed_when_bwrap_cannot_create_namespaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from openintern.demo.runner import _choose_sandbox

    # A bwrap that fails the way it does in a chroot or a locked-down container.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create a new namespace, "
                    "likely because the kernel does not allow non-privileged user "
                    "namespaces.' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    console = Console(record=True, width=300)
    assert _choose_sandbox(None, console) == "none"
    said = console.export_text()
    assert "not installed" not in said
    assert f"bubblewrap is installed ({fake})" in said
    assert "cannot create a sandbox here" in said and "No permissions" in said
    assert "To sandbox real sessions:" in said
    # Missing altogether is still reported as missing.
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    console = Console(record=True, width=300)
    assert _choose_sandbox(None, console) == "none"
    assert "bubblewrap is not installed" in console.export_text()
