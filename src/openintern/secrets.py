"""Recognising secrets: by environment-variable name and by value shape.

Used by the store (redaction before anything is written), by the sandbox (what never
enters a sandboxed process) and by job backends (what never enters a job).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

_SECRET_NAME = re.compile(
    r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|_PAT\b)",
    re.IGNORECASE,
)
# Providers' credential variables that do not all contain one of the words above.
_SECRET_PREFIXES = (
    "AWS_",
    "AZURE_",
    "GOOGLE_APPLICATION",
    "GCP_",
    "HF_",
    "HUGGING",
    "OPENAI",
    "ANTHROPIC",
    "GITHUB_",
    "GH_",
    "GEMINI",
    "MISTRAL",
    "COHERE",
    "GROQ",
    "TOGETHER",
    "OPENROUTER",
    "DEEPSEEK",
    "XAI_",
    "REPLICATE",
    "WANDB_",
    "RAY_AUTH",
    "LITELLM_",
    "OPENINTERN_WEB_TOKEN",
)

# Shapes of well-known credentials, matched anywhere in text, each with a literal that
# must occur for it to match (a C-speed substring test skips the regex on most text).
_SECRET_PATTERNS = [
    ("sk-", re.compile(r"sk-(?:ant-|proj-|or-v1-)?[A-Za-z0-9_\-]{16,}")),
    ("hf_", re.compile(r"\bhf_[A-Za-z0-9]{20,}")),
    ("gh", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}")),
    ("github_pat_", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}")),
    ("AKIA", re.compile(r"\bAKIA[0-9A-Z]{16}\b")),
    ("xox", re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}")),
    ("AIza", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("earer ", re.compile(r"(?<=[Bb]earer )[A-Za-z0-9._~+/\-]{16,}=*")),
]

REDACTED = "[REDACTED]"


def looks_secret(name: str) -> bool:
    """Whether an environment variable of this name may hold a credential."""
    upper = name.upper()
    return bool(_SECRET_NAME.search(upper)) or upper.startswith(_SECRET_PREFIXES)


def secret_env_values(environ: Mapping[str, str] | None = None, min_length: int = 8) -> list[str]:
    """Values of secret-looking variables in the environment (long enough to be real)."""
    env = os.environ if environ is None else environ
    return [v for k, v in env.items() if looks_secret(k) and len(v) >= min_length]


class Redactor:
    """Replaces known secret values and credential-shaped strings with ``[REDACTED]``."""

    def __init__(self, known_values: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._known = sorted({v for v in known_values if v and len(v) >= 6}, key=len, reverse=True)

    @classmethod
    def from_environment(cls, extra: Iterable[str] = ()) -> Redactor:
        """A redactor knowing every secret in the process environment plus ``extra``."""
        return cls([*secret_env_values(), *extra])

    def text(self, value: str) -> str:
        """Redact one string."""
        for secret in self._known:
            if secret in value:
                value = value.replace(secret, REDACTED)
        for trigger, pattern in _SECRET_PATTERNS:
            if trigger in value:
                value = pattern.sub(REDACTED, value)
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
