"""Typed errors of the model layer. Every message says what failed and what to do."""

from __future__ import annotations


class LLMError(Exception):
    """Base of every model-layer error."""


class LLMAuthError(LLMError):
    """The provider rejected the credentials (HTTP 401/403).

    ``env_var`` names the variable (or setting) that holds the key for this provider.
    """

    def __init__(self, message: str, *, status: int, env_var: str) -> None:
        super().__init__(message)
        self.status = status
        self.env_var = env_var


class LLMBadRequest(LLMError):
    """The provider refused the request as invalid (HTTP 400/404/422): retrying won't help."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ContextWindowExceeded(LLMError):
    """The provider says the prompt is longer than the model's context window."""


class LLMUnavailable(LLMError):
    """Retries are exhausted: the provider kept failing with retryable errors."""

    def __init__(self, message: str, *, attempts: int, last_reason: str) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_reason = last_reason
