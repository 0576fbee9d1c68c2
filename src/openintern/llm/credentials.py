"""Before a session starts: does the chosen provider have the key it needs?

Without this check a missing key shows up only after LiteLLM's first call fails (and is
retried), as a vague "rejected the credentials". The common providers' key variables
are known here (so a missing key is reported in a fraction of a second); for the others
LiteLLM says which environment variables it reads (``validate_environment``), at the cost
of its import (seconds).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openintern.config import Settings

# Variables that hold a key or token: when these are missing the call cannot succeed. Other
# missing names (AWS_ACCESS_KEY_ID, VERTEXAI_PROJECT, AZURE_API_BASE ...) may be supplied
# another way (a profile file, application-default credentials), so those only warn.
_KEY_VARIABLE = re.compile(r"(_API_KEY|_TOKEN|_KEY)$")
# Names a provider also accepts that LiteLLM's check does not list.
_ALSO_ACCEPTED = {"huggingface": ("HF_TOKEN",)}
# The key variables of the most used hosted providers (the names LiteLLM reads; the first
# is the one to set): decided without importing LiteLLM, which takes seconds, so a missing
# key is said at once. Other providers ask LiteLLM.
_KEYS_OF = {
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"),
    "openai": ("OPENAI_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY", "OPENROUTER_KEY", "OR_API_KEY"),
}


@dataclass(frozen=True)
class MissingCredentials:
    """The provider of ``model`` needs ``variables`` and none is set. ``certain`` is False
    when the provider may find credentials elsewhere (then it is only a warning)."""

    model: str
    provider: str
    variables: tuple[str, ...]
    certain: bool

    def message(self, config_path: str) -> str:
        """What is missing and the three ways to fix it."""
        names = " and ".join(self.variables)
        first = self.variables[0]
        verb = "is" if len(self.variables) == 1 else "are"
        outcome = ("so nothing was started" if self.certain else
                   "so its first call fails unless it finds credentials elsewhere")
        return (
            f"no API key for {self.provider}: {names} {verb} not set (model {self.model}), "
            f"{outcome}.\n"
            f"Set it for this shell:\n  export {first}=...\n"
            f"or save it in OpenIntern's config file ({config_path}):\n  api_key = \"...\"\n"
            "or use a local model through an OpenAI-compatible server (no key needed):\n"
            '  intern --model ollama/qwen3:32b --api-base http://127.0.0.1:11434 "…"\n'
            "(`intern demo` needs no key at all.)"
        )


def missing_credentials(settings: Settings) -> MissingCredentials | None:
    """None when the session can authenticate (a key is configured, the model is served
    at ``api_base``, or the provider's variables are set); else what is missing."""
    if settings.api_key is not None and settings.api_key.get_secret_value():
        return None
    if settings.api_base:  # local servers: Ollama, vLLM, llama.cpp ... need no key
        return None
    from openintern.llm.client import LiteLLMClient, _litellm

    client = LiteLLMClient(settings.model)
    known = _KEYS_OF.get(client.provider)
    if known is not None:
        if any(os.environ.get(name) for name in known):
            return None
        return MissingCredentials(settings.model, client.provider, known[:1], True)
    found = _litellm().validate_environment(model=client.litellm_model())
    missing = tuple(str(name) for name in found.get("missing_keys") or ())
    if found.get("keys_in_environment") or not missing:
        return None
    if any(os.environ.get(name) for name in _ALSO_ACCEPTED.get(client.provider, ())):
        return None
    certain = all(_KEY_VARIABLE.search(name) for name in missing)
    return MissingCredentials(settings.model, client.provider, missing, certain)
