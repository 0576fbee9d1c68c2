"""The one secret policy: which names hold secrets, which values to redact, and how.

Two tiers of environment-variable names:

- *credential* names (``OPENAI_API_KEY``, ``DB_PASSWORD``, ``SLACK_WEBHOOK_URL``) hold a
  secret: their values are redacted everywhere (store, terminal, web, ``intern config``).
- *secret* names are the credential names plus everything that configures an account
  (``AWS_REGION``, ``DATABASE_URL``, ``HF_ENDPOINT``, ``OPENINTERN_*``): they never enter
  agent code (sandbox environment, job environments, the Ray prologue), but their values
  are redacted only where they carry a credential (the password of a URL), so ordinary
  values such as ``/etc/ssl/certs/ca-certificates.crt`` or a model id stay readable.

Values are also recognised by shape (``sk-…``, ``hf_…``, ``ghp_…``, AWS key ids, Slack
tokens, bearer tokens, passwords inside URLs). Used by the store, the sandbox, job
backends, the Ray prologue, the terminal renderer and ``intern config``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Whole words of a name (split at non-alphanumerics) that mark a credential ...
_CREDENTIAL_WORDS = ("PASS", "PASSPHRASE", "SESSION", "PRIVATE", "SIGNATURE", "BEARER",
                     "PAT", "DSN", "WEBHOOK", "CREDS", "OTP")
# ... and word endings that do (``APIKEY``, ``OAUTH``, ``MYTOKEN`` count too).
_CREDENTIAL_ENDINGS = ("KEY", "KEYS", "TOKEN", "TOKENS", "SECRET", "SECRETS", "PASSWORD",
                       "PASSWD", "COOKIE", "COOKIES", "CREDENTIAL", "CREDENTIALS", "AUTH")
# Providers and services whose variables configure an account: never into agent code.
SECRET_PREFIXES = (
    "AWS_", "AZURE", "GOOGLE", "GCP_", "GCLOUD", "CLOUDSDK", "HF_", "HUGGING", "OPENAI",
    "ANTHROPIC", "GITHUB", "GH_", "GITLAB", "GEMINI", "MISTRAL", "COHERE", "GROQ",
    "TOGETHER", "REPLICATE", "OPENROUTER", "DEEPSEEK", "XAI_", "WANDB", "COMET", "NEPTUNE",
    "SLACK", "DOCKER", "NPM_", "PYPI", "TWINE", "DATABASE", "LITELLM", "RAY_", "OPENINTERN",
    "SSH_", "GPG_", "KUBE", "MLFLOW_TRACKING_", "POSTGRES", "PG", "MYSQL", "REDIS",
)

#: POSIX extended regular expressions (also valid Python ``re``), matched against the
#: upper-cased name; the Ray prologue runs them in bash, so both sides agree exactly.
CREDENTIAL_NAME_ERE = (
    "(^|[^A-Z0-9])(" + "|".join(_CREDENTIAL_WORDS) + ")([^A-Z0-9]|$)"
    "|(" + "|".join(_CREDENTIAL_ENDINGS) + ")([^A-Z0-9]|$)"
)
SECRET_PREFIX_ERE = "^(" + "|".join(SECRET_PREFIXES) + ")"
_CREDENTIAL_NAME = re.compile(CREDENTIAL_NAME_ERE)
_SECRET_PREFIX = re.compile(SECRET_PREFIX_ERE)

# Shapes of well-known credentials, matched anywhere in text, each with a literal that
# must occur for it to match (a C-speed substring test skips the regex on most text).
_SECRET_PATTERNS: list[tuple[str, re.Pattern[str], str]] = [
    ("sk-", re.compile(r"sk-(?:ant-|proj-|or-v1-)?[A-Za-z0-9_\-]{16,}"), "[REDACTED]"),
    ("hf_", re.compile(r"\bhf_[A-Za-z0-9]{20,}"), "[REDACTED]"),
    ("gh", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), "[REDACTED]"),
    ("github_pat_", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), "[REDACTED]"),
    ("AKIA", re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "[REDACTED]"),
    ("xox", re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"), "[REDACTED]"),
    ("AIza", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"), "[REDACTED]"),
    ("earer ", re.compile(r"(?<=[Bb]earer )[A-Za-z0-9._~+/\-]{16,}=*"), "[REDACTED]"),
    # The password of a URL (scheme://user:password@host): the user and host stay.
    ("://", re.compile(r"(://[^/\s:@]*):[^/\s@]+@"), r"\1:[REDACTED]@"),
]

REDACTED = "[REDACTED]"
_MIN_SECRET_CHARS = 8
_NOT_SECRET_VALUES = frozenset({"true", "false", "yes", "no", "none", "null", "on", "off"})


def is_credential_name(name: str) -> bool:
    """Whether a variable of this name holds a credential (its value is redacted)."""
    return bool(_CREDENTIAL_NAME.search(name.upper()))


def is_secret_name(name: str) -> bool:
    """Whether a variable of this name must stay out of agent code: a credential, or
    anything configuring a provider's or service's account."""
    upper = name.upper()
    return bool(_CREDENTIAL_NAME.search(upper) or _SECRET_PREFIX.search(upper))


#: Kept for callers of the first version; the same rule as :func:`is_secret_name`.
looks_secret = is_secret_name


def _is_plain_path(value: str) -> bool:
    # File and directory paths (CA bundles, caches, sockets) are configuration, not secrets.
    return value.startswith(("/", "~/", "./")) and not any(c.isspace() for c in value)


def url_password(value: str) -> str | None:
    """The password inside a URL (``scheme://user:password@host``), if any."""
    if "://" not in value or "@" not in value:
        return None
    try:
        password = urlsplit(value.strip()).password
    except ValueError:
        return None
    return password or None


def secret_value_of(name: str, value: str) -> list[str]:
    """The parts of one variable's value to redact (often none)."""
    found: list[str] = []
    password = url_password(value)
    if password and len(password) >= 4:
        found.append(password)
    if not is_credential_name(name) or len(value) < _MIN_SECRET_CHARS:
        return found
    if _is_plain_path(value) or value.strip().lower() in _NOT_SECRET_VALUES:
        return found
    if value.replace(".", "", 1).isdigit():
        return found
    return [value, *found]


def secret_env_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Every secret the environment holds: credential values and URL passwords."""
    env = os.environ if environ is None else environ
    values: list[str] = []
    for name, value in env.items():
        values += secret_value_of(name, value)
    return values


def redact_url(url: str) -> str:
    """``url`` with its password and secret-looking query values replaced (for display)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if parts.password:
        user = parts.username or ""
        host = netloc.rsplit("@", 1)[1]
        netloc = f"{user}:{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_credential_name(k) for k, _ in pairs):
            query = urlencode([(k, REDACTED if is_credential_name(k) else v) for k, v in pairs],
                              safe="[]")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


T = TypeVar("T")


class Redactor:
    """Replaces known secret values and credential-shaped strings with ``[REDACTED]``."""

    def __init__(self, known_values: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._known = sorted({v for v in known_values if v and len(v) >= 6}, key=len,
                             reverse=True)

    @classmethod
    def from_environment(cls, extra: Iterable[str] = ()) -> Redactor:
        """A redactor knowing every secret in the process environment plus ``extra``."""
        return cls([*secret_env_values(), *extra])

    def text(self, value: str) -> str:
        """Redact one string."""
        for secret in self._known:
            if secret in value:
                value = value.replace(secret, REDACTED)
        for trigger, pattern, replacement in _SECRET_PATTERNS:
            if trigger in value:
                value = pattern.sub(replacement, value)
        return value

    def deep(self, value: Any) -> Any:
        """Redact every string inside nested dicts/lists (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.deep(k): self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(v) for v in value]
        return value

    def model(self, obj: T) -> T:
        """A pydantic model (e.g. an event) with every string field redacted; the object
        itself when nothing changes."""
        dump = getattr(obj, "model_dump", None)
        if dump is None:
            return obj
        data = dump()
        cleaned = self.deep(data)
        if cleaned == data:
            return obj
        return type(obj).model_validate(cleaned)  # type: ignore[attr-defined, no-any-return]


def display_setting(name: str, value: Any) -> str:
    """A setting's value as ``intern config`` shows it: secrets hidden, passwords in URLs
    and credential query parameters replaced."""
    if hasattr(value, "get_secret_value"):
        return "**********" if value.get_secret_value() else ""
    if isinstance(value, dict):
        return str({k: display_setting(f"{name}.{k}", v) for k, v in value.items()})
    text = str(value)
    if "://" in text:
        text = redact_url(text)
    if isinstance(value, str) and value and is_credential_name(name):
        return "**********"  # a plain-text setting named like a credential
    return text


class StreamRedactor:
    """Redacts text that arrives in pieces (streamed model output), where a secret may be
    split across pieces: text is held back until a whitespace boundary at least ``hold``
    characters before the end, so every secret is seen whole before anything is shown."""

    def __init__(self, redactor: Redactor, hold: int = 128) -> None:
        self.redactor = redactor
        self.hold = hold
        self._pending = ""

    def feed(self, text: str) -> str:
        """The part of the stream so far that is safe to show now (redacted)."""
        self._pending += text
        limit = len(self._pending) - self.hold
        if limit <= 0:
            return ""
        cut = max(self._pending.rfind(" ", 0, limit), self._pending.rfind("\n", 0, limit))
        if cut < 0:
            if len(self._pending) < 8 * self.hold:
                return ""
            cut = limit  # no boundary in a long run: show it redacted as it stands
        head, self._pending = self._pending[: cut + 1], self._pending[cut + 1 :]
        return self.redactor.text(head)

    def flush(self) -> str:
        """Whatever is still held back (redacted), e.g. when the message ends."""
        head, self._pending = self._pending, ""
        return self.redactor.text(head)
