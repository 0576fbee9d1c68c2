"""Maps LiteLLM/provider exceptions to retryable failures or typed model-layer errors."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

from openintern.llm.errors import (
    ContextWindowExceeded,
    LLMAuthError,
    LLMBadRequest,
    LLMError,
)

KEY_ENV_VARS = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "huggingface": "HF_TOKEN",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "xai": "XAI_API_KEY",
    "azure": "AZURE_API_KEY",
}

CONTEXT_PHRASES = (
    "context_length_exceeded",
    "maximum context length",
    "context window",
    "prompt is too long",
    "input is too long",
    "too many tokens",
)


@dataclass
class Retryable:
    """A failure worth retrying, and how long the provider asked us to wait.

    ``connect_failure`` says why no connection could be opened at all ("connection
    refused", ...); such failures get few, quick retries."""

    reason: str
    retry_after: float | None = None
    connect_failure: str | None = None


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it was raised from (LiteLLM wraps the OpenAI SDK, which
    wraps httpx or aiohttp, which wrap the socket error)."""
    seen: list[BaseException] = []
    stack = [exc]
    while stack and len(seen) < 20:
        current = stack.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        for nxt in (current.__cause__, current.__context__,
                    getattr(current, "original_exception", None)):
            if isinstance(nxt, BaseException):
                stack.append(nxt)
    return seen


def connect_failure(exc: BaseException) -> str | None:
    """Why no connection could be opened, when that is what happened: "connection
    refused", "unknown host", "network unreachable"; None for any other failure."""
    import errno
    import socket

    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "unknown host: the name does not resolve"
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH,
                                                           errno.EHOSTUNREACH):
            return "network unreachable" if cause.errno == errno.ENETUNREACH else (
                "host unreachable")
    return None


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds the provider asked us to wait (``retry-after-ms`` / ``retry-after``)."""
    for source in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "headers", None),
    ):
        if not source:
            continue
        try:
            headers = {str(k).lower(): str(v) for k, v in dict(source).items()}
        except (TypeError, ValueError):
            continue
        if "retry-after-ms" in headers:
            try:
                return max(0.0, float(headers["retry-after-ms"]) / 1000)
            except ValueError:
                pass
        if "retry-after" in headers:
            value = headers["retry-after"]
            try:
                return max(0.0, float(value))
            except ValueError:
                try:  # the HTTP-date form
                    when = email.utils.parsedate_to_datetime(value)
                except (TypeError, ValueError):
                    return None
                return max(0.0, when.timestamp() - time.time())
    return None


def auth_error(status: int, *, model: str, provider: str, api_base: str | None) -> LLMAuthError:
    """The error for rejected credentials, naming the variable that holds the key."""
    if api_base:
        env_var = "OPENINTERN_API_KEY"
        where = f"the server at {api_base}"
    else:
        env_var = KEY_ENV_VARS.get(provider, f"{provider.upper()}_API_KEY")
        where = f"the {provider} API"
    return LLMAuthError(
        f"{where} rejected the credentials for {model} (HTTP {status}). Set {env_var} in "
        "the environment (or api_key in the config file) to a valid key with access to "
        "this model.",
        status=status,
        env_var=env_var,
    )


_RETRYABLE_NAMES = (
    "Timeout",
    "APIConnectionError",
    "APITimeoutError",
    "ServiceUnavailableError",
    "InternalServerError",
    "MidStreamFallbackError",
)


def classify_failure(
    exc: Exception, *, model: str, provider: str, api_base: str | None, mid_stream: bool = False
) -> Retryable:
    """Return a retryable failure, or raise the typed error for a permanent one.

    LiteLLM's exception classes are not reliable across providers (a 401 from an
    OpenAI-compatible server arrives as ``BadRequestError``), so the HTTP status decides
    first and class names only fill in where there is none.
    """
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    text = str(getattr(exc, "message", "") or exc)
    lowered = text.lower()
    name = type(exc).__name__
    refused = connect_failure(exc)
    if refused is not None:
        where = api_base or f"the {provider} API"
        return Retryable(f"cannot connect to {where} ({refused})", connect_failure=refused)
    if status in (401, 403):
        raise auth_error(status, model=model, provider=provider, api_base=api_base) from exc
    if (
        name == "ContextWindowExceededError"
        or status == 413
        or (status == 400 and any(p in lowered for p in CONTEXT_PHRASES))
    ):
        raise ContextWindowExceeded(
            f"the prompt is longer than {model}'s context window: {text}. Compact the "
            "history or set context_window to the model's real size."
        ) from exc
    if status in (400, 404, 422) or name in ("UnsupportedParamsError", "NotFoundError"):
        hint = ""
        if status == 404 or name == "NotFoundError":
            hint = f" Check the model id '{model}'" + (
                f" and that {api_base} serves it." if api_base else "."
            )
        raise LLMBadRequest(
            f"the provider rejected the request: {text}.{hint}", status=status
        ) from exc
    prefix = "stream cut" if mid_stream else (f"HTTP {status}" if status else name)
    if status == 429:
        return Retryable(f"rate limited (HTTP 429): {text}", retry_after_seconds(exc))
    if status is not None and (status >= 500 or status in (408, 409)):
        return Retryable(f"{prefix}: {text}", retry_after_seconds(exc))
    if (
        mid_stream
        or isinstance(exc, (TimeoutError, ConnectionError, OSError))
        or name in _RETRYABLE_NAMES
        or type(exc).__module__.startswith(("httpx", "httpcore", "aiohttp"))
    ):
        return Retryable(f"{prefix}: {text}")
    raise LLMError(f"model call to {model} failed: {name}: {text}") from exc
