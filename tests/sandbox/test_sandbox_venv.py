"""The per-workspace venv: created once, safely, and pip installs go into it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib.util
import zipfile
from pathlib import Path

from openintern.sandbox import BwrapSandbox, UnsandboxedRunner
from openintern.sandbox.venv import ensure_venv, ensure_venv_blocking, venv_bin, venv_dir

PACKAGE = "openintern_tinypkg_probe"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_tiny_wheel(directory: Path) -> Path:
    """Write a minimal pure-Python wheel by hand (no build backend, no network)."""
    dist_info = f"{PACKAGE}-0.1.dist-info"
    files = {
        f"{PACKAGE}/__init__.py": b"VALUE = 42\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: 0.1\n".encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [_record_line(name, data) for name, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"{PACKAGE}-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


async def test_venv_is_created_once_even_when_raced(workspace: Path) -> None:
    results = await asyncio.gather(
        ensure_venv(workspace),
        ensure_venv(workspace),
        asyncio.to_thread(ensure_venv_blocking, workspace),
    )
    assert results == [venv_dir(workspace)] * 3
    python = venv_bin(workspace) / "python"
    assert python.exists()
    config = (venv_dir(workspace) / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = true" in config
    created = python.stat().st_mtime_ns
    await ensure_venv(workspace)  # idempotent: nothing is recreated
    assert python.stat().st_mtime_ns == created


async def test_sandboxed_python_is_the_venv_and_sees_host_packages(
    offline_sandbox: BwrapSandbox,
) -> None:
    result = await offline_sandbox.run(
        "python -c 'import sys, pydantic; print(sys.prefix)'; python -m pip --version; "
        "pip --version",
        timeout_s=60,
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == str(venv_dir(offline_sandbox.workspace))
    assert lines[1].startswith("pip ")
    assert lines[2].startswith("pip ")


async def test_pip_install_lands_in_the_venv_not_the_host(workspace: Path) -> None:
    wheel = build_tiny_wheel(workspace)
    sandbox = BwrapSandbox(workspace, network=False)
    install = await sandbox.run(f"pip install --no-index {wheel.name}", timeout_s=120)
    assert install.exit_code == 0, install.output
    used = await sandbox.run(
        f"python -c 'import {PACKAGE} as m; print(m.VALUE, m.__file__)'", timeout_s=60
    )
    assert used.exit_code == 0, used.output
    value, location = used.output.split()
    assert value == "42"
    assert Path(location).is_relative_to(venv_dir(workspace))
    # The host interpreter (this test process) cannot see it.
    assert importlib.util.find_spec(PACKAGE) is None


async def test_unsandboxed_pip_also_targets_the_venv(workspace: Path) -> None:
    wheel = build_tiny_wheel(workspace)
    runner = UnsandboxedRunner(workspace)
    install = await runner.run(f"python -m pip install --no-index {wheel}", timeout_s=120)
    assert install.exit_code == 0, install.output
    assert list(venv_dir(workspace).glob(f"lib/python*/site-packages/{PACKAGE}/__init__.py"))
    assert importlib.util.find_spec(PACKAGE) is None


async def test_jobs_can_import_the_tracking_helper(offline_sandbox: BwrapSandbox) -> None:
    """`from openintern import track` works inside the sandbox wherever openintern is
    installed (an editable checkout under /tmp or $HOME is hidden otherwise)."""
    result = await offline_sandbox.run(
        "python -c 'from openintern import track; print(track.__name__)'", timeout_s=60)
    assert result.exit_code == 0, result.output
    assert "openintern.track" in result.output
