"""What enters a remote job: a secret-free environment and a bash wrapper around the command.

Shared by the Ray and Hugging Face Jobs backends. The wrapper makes the job's run directory
(``OPENINTERN_RUN_DIR``) and metrics file (``OPENINTERN_METRICS``) point inside the job's own
working directory on the remote machine, since the agent's local paths mean nothing there.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path

from openintern.compute.base import JobBackendError, JobSpec
from openintern.secrets import CREDENTIAL_NAME_ERE, SECRET_PREFIX_ERE, is_secret_name

# Exit status of coreutils ``timeout`` when the time limit was hit.
TIMEOUT_EXIT_CODE = 124
DEFAULT_RUN_SUBDIR = ".openintern/run"


def missing_secret_names(names: Iterable[str], allowed: Iterable[str]) -> list[str]:
    """The names of ``names`` that the user's ``job_secrets`` allowlist does not hold."""
    allow = set(allowed)
    return [name for name in names if name not in allow]


def secret_allowlist_hint(names: Iterable[str]) -> str:
    """How the user allows secrets for jobs."""
    listed = ", ".join(f'"{n}"' for n in names)
    return (f"to allow it, add it to job_secrets in the config file "
            f"(job_secrets = [{listed}]) or set OPENINTERN_JOB_SECRETS='[{listed}]'; "
            "each job that receives a secret still needs a person's approval")


def check_secret_names(names: Iterable[str], allowed: Iterable[str]) -> None:
    """Raise ``JobBackendError`` unless every name is in the user's allowlist."""
    refused = missing_secret_names(names, allowed)
    if refused:
        raise JobBackendError(
            f"the job asks for secret(s) {', '.join(refused)}, which the user has not "
            f"allowed for jobs; {secret_allowlist_hint(refused)}")


def scrub_env(env: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """``env`` without secret-looking variables, and the names that were dropped."""
    kept = {k: str(v) for k, v in env.items() if not is_secret_name(k)}
    dropped = sorted(k for k in env if is_secret_name(k))
    return kept, dropped


def scrub_prologue(keep: Iterable[str] = (), *, runtime_prefixes: Iterable[str] = ()) -> str:
    """Bash that unsets every secret-looking variable the job inherited, except ``keep``
    and, unless they name a credential, variables of the platform's own runtime
    (``runtime_prefixes``, e.g. ``RAY_`` inside a Ray job).

    A Ray job inherits the environment of the process that started the node; a head started
    from a shell with ``OPENAI_API_KEY`` exported would otherwise hand it to the job. The
    patterns are those of :func:`openintern.secrets.is_secret_name` (the same POSIX
    regular expressions, run by bash).
    """
    names = shlex.quote(CREDENTIAL_NAME_ERE)
    prefixes = shlex.quote(SECRET_PREFIX_ERE)
    kept = "|".join(shlex.quote(k) for k in sorted(set(keep))) or "''"
    runtime = "|".join(f"{shlex.quote(p)}*" for p in sorted(set(runtime_prefixes))) or "''"
    return "\n".join([
        f"__oi_c={names}",
        f"__oi_p={prefixes}",
        "for __oi_n in $(compgen -e); do",
        '  __oi_u="${__oi_n^^}"',
        f'  case "$__oi_n" in {kept}) continue;; esac',
        '  if [[ $__oi_u =~ $__oi_c ]]; then unset "$__oi_n"; continue; fi',
        f'  case "$__oi_u" in {runtime}) continue;; esac',
        '  if [[ $__oi_u =~ $__oi_p ]]; then unset "$__oi_n"; fi',
        "done",
        "unset __oi_n __oi_u __oi_c __oi_p",
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
