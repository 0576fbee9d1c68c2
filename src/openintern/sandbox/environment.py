"""The environment variables a sandboxed process sees.

An allowlist: the environment starts empty and only variables known to be harmless are
copied from the host. Anything whose *name* looks like a secret is dropped, even when a
caller passes it explicitly, and the dropped names are returned so a tool can warn. A
variable whose *value* equals a known secret (e.g. the configured API key) is dropped too.
Which names are secret is decided by :mod:`openintern.secrets` (the one policy).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from openintern.secrets import is_secret_name

#: Copied from the host when present: locale, terminal, search path and time zone.
PASSTHROUGH_NAMES: frozenset[str] = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "TERM",
        "TZ",
        "COLUMNS",
        "LINES",
        # Display preferences only.
        "NO_COLOR",
        "COLORTERM",
        # Which GPUs a job may use and how many threads BLAS/OpenMP start: resource
        # hints that research code needs and that reveal nothing.
        "CUDA_VISIBLE_DEVICES",
        "NVIDIA_VISIBLE_DEVICES",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        # Paths to *public* CA bundles: needed for HTTPS behind a TLS-inspecting proxy.
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "PIP_CERT",
        # pip settings that carry no identity (a URL with credentials is still refused).
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_FIND_LINKS",
        "PIP_TRUSTED_HOST",
        "PIP_DEFAULT_TIMEOUT",
        "PIP_DISABLE_PIP_VERSION_CHECK",
        # Proxies, so `pip install` works where the network needs one (refused when the
        # URL embeds a user name or password).
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
    }
)

#: Copied from the host by prefix (locale categories).
PASSTHROUGH_PREFIXES: tuple[str, ...] = ("LC_",)

#: Variables whose value may be a URL: refused when the URL carries credentials.
URL_VALUED_NAMES: frozenset[str] = frozenset(
    {
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_FIND_LINKS",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
    }
)

_VALID_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Home directory inside the sandbox (on its private /tmp).
SANDBOX_HOME = "/tmp/home"


def _url_has_credentials(value: str) -> bool:
    # pip accepts several space-separated URLs in one variable.
    for part in value.split():
        try:
            parts = urlsplit(part)
        except ValueError:
            return True
        if parts.username or parts.password or "@" in parts.netloc:
            return True
    return False


def _acceptable(name: str, value: str, secret_values: Iterable[str]) -> bool:
    if not _VALID_NAME.match(name) or "\0" in value or is_secret_name(name):
        return False
    if name in URL_VALUED_NAMES and _url_has_credentials(value):
        return False
    return not any(secret and secret in value for secret in secret_values)


def _is_passthrough(name: str) -> bool:
    return name in PASSTHROUGH_NAMES or name.startswith(PASSTHROUGH_PREFIXES)


def sandbox_environment(
    extra: Mapping[str, str] | None,
    *,
    home: str,
    venv: Path | None,
    host_env: Mapping[str, str] | None = None,
    secret_values: Iterable[str] = (),
) -> tuple[dict[str, str], list[str]]:
    """Build the environment for a sandboxed process.

    Starts empty; copies only allowlisted variables from ``host_env`` (default
    ``os.environ``); adds the caller's ``extra`` variables unless they look secret; then
    sets ``HOME``, ``OPENINTERN_SANDBOX=1``, ``PYTHONUNBUFFERED=1`` and, with ``venv``,
    ``VIRTUAL_ENV`` and the venv's ``bin`` first on ``PATH``.

    Returns ``(environment, dropped)`` where ``dropped`` lists, sorted, the names of the
    caller's variables that were refused (host variables are filtered silently: they were
    never asked for).
    """
    source = os.environ if host_env is None else host_env
    secrets = [value for value in secret_values if value]
    env: dict[str, str] = {
        name: value
        for name, value in source.items()
        if _is_passthrough(name) and _acceptable(name, value, secrets)
    }
    dropped: list[str] = []
    for name, value in (extra or {}).items():
        if _acceptable(name, value, secrets):
            env[name] = value
        else:
            dropped.append(name)

    path = env.get("PATH") or "/usr/local/bin:/usr/bin:/bin"
    if venv is not None:
        bin_dir = str(venv / "bin")
        if path.split(os.pathsep)[0] != bin_dir:
            path = bin_dir + os.pathsep + path
        env["VIRTUAL_ENV"] = str(venv)
    # Set last so no caller can override what the sandbox guarantees.
    env["PATH"] = path
    env["HOME"] = home
    env["OPENINTERN_SANDBOX"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONHOME", None)
    return env, sorted(dropped)
