"""bubblewrap installed but unable to create namespaces (a chroot, a locked-down
container): the error says what failed, not that bubblewrap is missing."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from openintern.demo.runner import _choose_sandbox
from openintern.sandbox import bwrap_probe
from openintern.sandbox.base import SandboxError

_REFUSAL = ("bwrap: No permissions to create new namespace, likely because the kernel "
            "does not allow non-privileged user namespaces.")


@pytest.fixture
def unusable_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho '{_REFUSAL}' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    bwrap_probe._probe.cache_clear()
    yield fake
    bwrap_probe._probe.cache_clear()


def test_find_bwrap_reports_the_refusal(unusable_bwrap: Path) -> None:
    with pytest.raises(SandboxError) as caught:
        bwrap_probe.find_bwrap()
    message = str(caught.value)
    assert "cannot create a sandbox here" in message and _REFUSAL in message
    assert "not installed" not in message


def test_demo_says_what_really_failed(unusable_bwrap: Path) -> None:
    out = io.StringIO()
    chosen = _choose_sandbox(None, Console(file=out, width=300))
    assert chosen == "none"
    text = out.getvalue()
    assert "without a sandbox" in text and "No permissions to create new namespace" in text
    assert "not installed" not in text
