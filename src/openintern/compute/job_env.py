"""What enters a remote job: a secret-free environment and a bash wrapper around the command.

Shared by the Ray and Hugging Face Jobs backends. The wrapper makes the job's run directory
(``OPENINTERN_RUN_DIR``) and metrics file (``OPENINTERN_METRICS``) point inside the job's own
working directory on the remote machine, since the agent's local paths mean nothing there.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path

from openintern.compute.base import JobSpec
from openintern.secrets import _SECRET_NAME, _SECRET_PREFIXES, looks_secret

# Exit status of coreutils ``timeout`` when the time limit was hit.
TIMEOUT_EXIT_CODE = 124
DEFAULT_RUN_SUBDIR = ".openintern/run"


def scrub_env(env: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """``env`` without secret-looking variables, and the names that were dropped."""
    kept = {k: str(v) for k, v in env.items() if not looks_secret(k)}
    dropped = sorted(k for k in env if looks_secret(k))
    return kept, dropped


def scrub_prologue(keep: Iterable[str] = ()) -> str:
    """Bash that unsets every secret-looking variable the job inherited, except ``keep``.

    A Ray job inherits the environment of the process that started the node; a head started
    from a shell with ``OPENAI_API_KEY`` exported would otherwise hand it to the job. The
    patterns are those of :func:`openintern.secrets.looks_secret` (``\\b`` becomes ``$``:
    a variable name has no other word boundary).
    """
    names = _SECRET_NAME.pattern.replace(r"\b", "$")
    prefixes = "^(" + "|".join(_SECRET_PREFIXES) + ")"
    kept = "|".join(shlex.quote(k) for k in sorted(set(keep))) or "''"
    return "\n".join([
        "for __oi_n in $(compgen -e); do",
        '  __oi_u="${__oi_n^^}"',
        f'  case "$__oi_n" in {kept}) continue;; esac',
        f"  if [[ $__oi_u =~ {names} || $__oi_u =~ {prefixes} ]]; then unset \"$__oi_n\"; fi",
        "done",
        "unset __oi_n __oi_u",
    ])


def run_subdir(spec: JobSpec) -> str:
    """The run directory relative to the job's working directory.

    ``spec.run_dir`` is kept when it lies inside ``spec.workdir`` (so the remote layout
    mirrors the local one); otherwise the run directory is ``.openintern/run``.
    """
    if spec.run_dir is not None:
        try:
            rel = Path(spec.run_dir).resolve().relative_to(Path(spec.workdir).resolve())
        except ValueError:
            return DEFAULT_RUN_SUBDIR
        if str(rel) not in ("", "."):
            return rel.as_posix()
    return DEFAULT_RUN_SUBDIR


def wrapped_command(spec: JobSpec, *, pip: bool = False, prologue: str = "") -> str:
    """A bash script: set the run-dir variables, optionally pip install, run the command.

    With a ``timeout_s`` the command runs under coreutils ``timeout`` so the job ends with
    exit status 124 when the limit is hit (Ray Jobs has no time limit of its own).
    """
    subdir = shlex.quote(run_subdir(spec))
    lines = [prologue] if prologue else []
    lines += [
        f'export OPENINTERN_RUN_DIR="$PWD"/{subdir}',
        'export OPENINTERN_METRICS="$OPENINTERN_RUN_DIR/metrics.jsonl"',
        # The metrics file stays on the cluster; track.log echoes lines to the logs too.
        "export OPENINTERN_METRICS_ECHO=1",
        'mkdir -p "$OPENINTERN_RUN_DIR"',
    ]
    if pip and spec.pip:
        reqs = " ".join(shlex.quote(r) for r in spec.pip)
        lines.append(f"python -m pip install --quiet {reqs} || exit $?")
    if spec.timeout_s is not None:
        seconds = max(1, int(spec.timeout_s))
        lines.append(
            f"exec timeout --kill-after=10 {seconds} bash -c {shlex.quote(spec.command)}"
        )
    else:
        lines.append(spec.command)
    return "\n".join(lines)
