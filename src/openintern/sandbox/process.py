"""Running one command as its own process group: merged output capped head+tail, a
timeout that kills the whole group, and no exception for a command that fails."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import os
import shutil
import signal
import time
from pathlib import Path

from openintern.sandbox.base import CommandResult
from openintern.sandbox.limits import LimitScope, ResourceLimits
from openintern.sandbox.live_output import byte_listener

TIMEOUT_EXIT_CODE = 124  # what coreutils `timeout` returns; familiar to shell users
_READ_CHUNK = 65_536
_DRAIN_GRACE_S = 2.0


class CappedOutput:
    """Collects decoded text keeping at most ``limit`` characters: the head and the tail,
    with a note in between saying how many characters were cut."""

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 0)
        self.total_chars = 0
        self._head: list[str] = []
        self._head_len = 0
        self._tail = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes, *, final: bool = False) -> None:
        """Add raw bytes (UTF-8; invalid sequences become U+FFFD)."""
        self._add(self._decoder.decode(data, final))

    def _add(self, text: str) -> None:
        if not text:
            return
        self.total_chars += len(text)
        room = self.limit - self._head_len
        if room > 0:
            self._head.append(text[:room])
            self._head_len += min(room, len(text))
            text = text[room:]
        if text:
            # Keep at most ``limit`` trailing characters; trim lazily to stay linear.
            self._tail += text
            if len(self._tail) > 2 * self.limit:
                self._tail = self._tail[-self.limit :]

    @property
    def truncated(self) -> bool:
        """Whether some characters will be left out of ``text()``."""
        return self.total_chars > self.limit

    def text(self) -> str:
        """The kept output: all of it, or head + note + tail within ``limit`` characters."""
        head = "".join(self._head)
        if not self.truncated:
            return head + self._tail
        kept = self.limit
        for _ in range(3):  # the note's length depends on the number it reports
            cut = self.total_chars - kept
            note = f"\n[... {cut} characters cut ...]\n"
            kept = max(self.limit - len(note), 0)
        head_n = kept // 2
        tail_n = kept - head_n
        tail_source = head + self._tail
        tail = tail_source[-tail_n:] if tail_n else ""
        cut = self.total_chars - head_n - tail_n
        return f"{head[:head_n]}\n[... {cut} characters cut ...]\n{tail}"


@functools.cache
def bash_path() -> str:
    """The host's bash (also the sandbox's: the system is mounted into it)."""
    return "/bin/bash" if Path("/bin/bash").exists() else (shutil.which("bash") or "bash")


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def _pump(stream: asyncio.StreamReader, sink: CappedOutput) -> None:
    live = byte_listener()  # the shell tool streams output to the UIs as it arrives
    while chunk := await stream.read(_READ_CHUNK):
        sink.feed(chunk)
        if live is not None:
            live(chunk)
    sink.feed(b"", final=True)
    if live is not None:
        live(b"")


async def run_process(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    timeout_s: float,
    max_output_chars: int,
) -> CommandResult:
    """Run ``argv`` in a new session (its own process group) and collect the result.

    On timeout the whole group is killed with SIGKILL and the result has
    ``timed_out=True`` and exit code 124. When the main process ends, any background
    process it left in its group is killed too, so nothing outlives the command. A program
    that cannot be started gives exit code 127 and the reason as output.
    """
    started = time.monotonic()
    sink = CappedOutput(max_output_chars)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=str(cwd),
            start_new_session=True,
        )
    except OSError as exc:
        return CommandResult(
            exit_code=127,
            output=f"could not start {argv[0]}: {exc}",
            duration_s=time.monotonic() - started,
        )
    assert process.stdout is not None
    reader = asyncio.create_task(_pump(process.stdout, sink))
    timed_out = False
    try:
        await asyncio.wait_for(process.wait(), timeout_s)
    except TimeoutError:
        timed_out = True
    except asyncio.CancelledError:
        reader.cancel()
        raise
    finally:
        # Also on cancellation: never leave the command running behind our back.
        _kill_group(process)
        if process.returncode is None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(process.wait())
    # A process that escaped the group (setsid) may still hold the pipe open.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reader, _DRAIN_GRACE_S)
    output = sink.text()
    exit_code = process.returncode if process.returncode is not None else -signal.SIGKILL
    if timed_out:
        exit_code = TIMEOUT_EXIT_CODE
        if output and not output.endswith("\n"):
            output += "\n"
        output += f"[timed out after {timeout_s:g}s; the command and its children were killed]"
    return CommandResult(
        exit_code=exit_code,
        output=output,
        duration_s=time.monotonic() - started,
        timed_out=timed_out,
        truncated=sink.truncated,
        total_chars=sink.total_chars,
    )


async def run_limited(
    argv: list[str],
    *,
    limits: ResourceLimits,
    cgroup_root: str | None,
    env: dict[str, str],
    cwd: Path,
    timeout_s: float,
    max_output_chars: int,
) -> CommandResult:
    """:func:`run_process` under ``limits``: a scope (cgroup or rlimits) made for this one
    command and removed after it; a limit the command hit is noted on the result."""
    scope = await asyncio.to_thread(LimitScope, limits, cgroup_root=cgroup_root)
    try:
        result = await run_process([*scope.wrapper(), *argv], env=env, cwd=cwd,
                                   timeout_s=timeout_s, max_output_chars=max_output_chars)
        result.note_limits(scope.reached(exit_code=result.exit_code, output=result.output))
    finally:
        await asyncio.shield(asyncio.to_thread(scope.close))
    return result
