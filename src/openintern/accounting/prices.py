"""Prices: of model tokens (the user's ``model_prices``, else LiteLLM's bundled table)
and of compute hours (the user's ``compute_prices`` for Ray and local; HF Jobs hardware
has its own list in :mod:`openintern.compute.hf_pricing`)."""

from __future__ import annotations

import math
import re
from typing import Any

from openintern.config import ComputePrice, ModelPrice

PER_MILLION = 1_000_000
# The ``source`` of prices read from LiteLLM's table (its own per-call cost is exact).
LITELLM_SOURCE = "LiteLLM price table"
__all__ = ["LITELLM_SOURCE", "ComputePrice", "ModelPrice", "hf_flavor_gpus", "litellm_price",
           "resolve_model_price"]


def litellm_price(litellm_model: str, api_base: str | None = None) -> ModelPrice | None:
    """The price in LiteLLM's bundled table, or None when it does not know the model.
    Imports LiteLLM (seconds, once): call it from a worker thread in async code."""
    from openintern.llm.client import _litellm

    try:
        info: Any = _litellm().get_model_info(litellm_model, api_base=api_base)
    except Exception:  # unknown model: no price, never a crash
        return None
    prompt = _field(info, "input_cost_per_token")
    completion = _field(info, "output_cost_per_token")
    if prompt is None or completion is None or (prompt == 0 and completion == 0):
        return None
    cached = _field(info, "cache_read_input_token_cost")
    return ModelPrice(
        input_per_mtok=prompt * PER_MILLION, output_per_mtok=completion * PER_MILLION,
        cached_input_per_mtok=None if cached is None else cached * PER_MILLION,
        source=LITELLM_SOURCE,
    )


def _field(info: Any, key: str) -> float | None:
    value = info.get(key) if isinstance(info, dict) else getattr(info, key, None)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def resolve_model_price(model: str, configured: dict[str, ModelPrice], *,
                        litellm_model: str | None = None,
                        api_base: str | None = None) -> ModelPrice | None:
    """The user's price for ``model`` (exact id, or the id without its provider prefix),
    else LiteLLM's; None when neither knows it."""
    for key in (model, model.split("/", 1)[-1]):
        if key in configured:
            return configured[key]
    return litellm_price(litellm_model or model, api_base)


_GPU_COUNT = re.compile(r"x(\d+)$")


def hf_flavor_gpus(flavor: str) -> int:
    """GPUs of an HF Jobs flavor from its id (``cpu-*``: 0, ``a100x4``: 4, ``t4-small``: 1)."""
    if flavor.startswith("cpu"):
        return 0
    match = _GPU_COUNT.search(flavor)
    return int(match.group(1)) if match else 1
