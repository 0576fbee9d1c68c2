"""Timeouts, output caps, exit codes and detached launch (``wrap``), on both runners."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from openintern.sandbox import BwrapSandbox, Sandbox, UnsandboxedRunner
from openintern.sandbox.process import CappedOutput


@pytest.fixture(params=["bwrap", "none"])
def runner(request: pytest.FixtureRequest, shared_workspace: Path) -> Sandbox:
    if request.param == "bwrap":
        return BwrapSandbox(shared_workspace, network=False)
    return UnsandboxedRunner(shared_workspace)


def _heartbeat_command(beat: Path) -> str:
    # A background child that keeps touching a file, then a long foreground sleep.
    return f"(while true; do date +%s%N > {beat}; sleep 0.05; done) & sleep 100"


async def _assert_stopped(beat: Path) -> None:
    await asyncio.sleep(0.3)
    first = await asyncio.to_thread(beat.read_text)
    await asyncio.sleep(0.4)
    last = await asyncio.to_thread(beat.read_text)
    assert last == first, "the background child is still running"


async def test_timeout_kills_the_whole_process_group(runner: Sandbox, tmp_path: Path) -> None:
    beat = runner.workspace / f"beat-{runner.name}-{os.getpid()}"
    started = time.monotonic()
    result = await runner.run(_heartbeat_command(beat), timeout_s=1.0)
    assert time.monotonic() - started < 5
    assert result.timed_out
    assert result.exit_code == 124
    assert "timed out" in result.output
    assert beat.exists()
    await _assert_stopped(beat)
    beat.unlink()


async def test_failing_command_returns_its_exit_code(runner: Sandbox) -> None:
    result = await runner.run("echo out; echo err >&2; exit 7", timeout_s=30)
    assert result.exit_code == 7
    assert not result.timed_out
    assert "out" in result.output and "err" in result.output
    assert result.duration_s >= 0


async def test_output_cap_keeps_head_and_tail(runner: Sandbox) -> None:
    result = await runner.run(
        "echo FIRST-LINE; seq 1 20000; echo LAST-LINE", timeout_s=30, max_output_chars=400
    )
    assert result.exit_code == 0
    assert result.truncated
    assert len(result.output) <= 400
    assert result.output.startswith("FIRST-LINE\n")
    assert result.output.rstrip().endswith("LAST-LINE")
    full_length = (
        len("FIRST-LINE\n") + sum(len(f"{i}\n") for i in range(1, 20001)) + len("LAST-LINE\n")
    )
    assert result.total_chars == full_length
    cut = int(result.output.split("[... ")[1].split(" characters cut")[0])
    kept = len(result.output) - len(f"\n[... {cut} characters cut ...]\n")
    assert cut + kept == full_length


async def test_short_output_is_untouched(runner: Sandbox) -> None:
    result = await runner.run("printf 'a\\nb'", timeout_s=30)
    assert result.output == "a\nb"
    assert not result.truncated
    assert result.total_chars == 3


def test_capped_output_handles_split_utf8() -> None:
    sink = CappedOutput(10)
    data = "é" * 30
    raw = data.encode()
    for i in range(len(raw)):
        sink.feed(raw[i : i + 1])
    sink.feed(b"", final=True)
    assert sink.total_chars == 30
    assert "\ufffd" not in sink.text()
    assert sink.truncated


async def test_wrap_runs_detached_and_dies_with_its_group(runner: Sandbox) -> None:
    beat = runner.workspace / f"wrapbeat-{runner.name}-{os.getpid()}"
    argv, env = runner.wrap(
        ["bash", "-c", f"echo sandbox=$OPENINTERN_SANDBOX; {_heartbeat_command(beat)}"],
        {"HF_TOKEN": "hf_wrapped"},
    )
    assert "HF_TOKEN" not in env
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, start_new_session=True
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    assert line.decode().strip() == "sandbox=1"
    for _ in range(100):
        if beat.exists():
            break
        await asyncio.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    await process.wait()
    await _assert_stopped(beat)
    beat.unlink()


async def test_wrapped_bwrap_process_is_isolated(offline_sandbox: BwrapSandbox) -> None:
    argv, _ = offline_sandbox.wrap(["bash", "-c", "env; touch /etc/x-wrapped || echo RO"])
    # Even a launcher that passes the host environment cannot leak it.
    host_env = dict(os.environ, OPENAI_API_KEY="sk-leak-test")
    process = await asyncio.create_subprocess_exec(
        *argv, env=host_env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    text = out.decode()
    assert "RO" in text
    assert "sk-leak-test" not in text
    assert "OPENINTERN_SANDBOX=1" in text
    assert not await asyncio.to_thread(Path("/etc/x-wrapped").exists)


async def test_cancelled_run_leaves_nothing_running(runner: Sandbox) -> None:
    beat = runner.workspace / f"cancelbeat-{runner.name}-{os.getpid()}"
    task = asyncio.create_task(runner.run(_heartbeat_command(beat), timeout_s=100))
    for _ in range(200):
        if await asyncio.to_thread(beat.exists):
            break
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _assert_stopped(beat)
    await asyncio.to_thread(beat.unlink)
