"""Hourly prices of Hugging Face Jobs hardware flavors, for cost estimates before launch.

The live source is ``GET /api/jobs/hardware`` (each entry has ``name``, ``unitCostUSD`` and
``unitLabel``, e.g. ``0.000167`` per ``"minute"`` for ``cpu-basic``). When it cannot be
reached, the fallback is the official pricing table of the Hub documentation
(huggingface/hub-docs, docs/hub/jobs-pricing.md, "## Pricing", as of 2026-08-21), keyed
by the flavor ids of ``huggingface_hub.JobHardware``. Prices change: the live list wins.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

PRICE_TABLE_SOURCE = "Hugging Face docs, jobs-pricing.md (2026-08-21)"

# Flavor id -> USD per hour, from the documentation table (display name in the comment).
DOCS_HOURLY_USD: dict[str, float] = {
    "cpu-basic": 0.01,          # CPU Basic
    "cpu-upgrade": 0.03,        # CPU Upgrade
    "cpu-xl": 1.00,             # CPU XL
    "cpu-performance": 1.90,    # CPU Performance
    "t4-small": 0.40,           # Nvidia T4 - small
    "t4-medium": 0.60,          # Nvidia T4 - medium
    "l4x1": 0.80,               # 1x Nvidia L4
    "l4x4": 3.80,               # 4x Nvidia L4
    "l40sx1": 1.80,             # 1x Nvidia L40S
    "l40sx4": 8.30,             # 4x Nvidia L40S
    "l40sx8": 23.50,            # 8x Nvidia L40S
    "a10g-small": 1.00,         # Nvidia A10G - small
    "a10g-large": 1.50,         # Nvidia A10G - large
    "a10g-largex2": 3.00,       # 2x Nvidia A10G - large
    "a10g-largex4": 5.00,       # 4x Nvidia A10G - large
    "a100-large": 2.50,         # Nvidia A100 - large
    "a100x4": 10.00,            # 4x Nvidia A100 - large
    "a100x8": 20.00,            # 8x Nvidia A100 - large
    "h200": 5.00,               # Nvidia H200
    "h200x2": 10.00,            # 2x Nvidia H200
    "h200x4": 20.00,            # 4x Nvidia H200
    "h200x8": 40.00,            # 8x Nvidia H200
    "rtx-pro-6000": 2.75,       # Nvidia RTX PRO 6000
    "rtx-pro-6000x2": 5.50,     # 2x Nvidia RTX PRO 6000
    "rtx-pro-6000x4": 11.00,    # 4x Nvidia RTX PRO 6000
    "rtx-pro-6000x8": 22.00,    # 8x Nvidia RTX PRO 6000
}

_UNITS_PER_HOUR = {"second": 3600.0, "minute": 60.0, "hour": 1.0}


def hourly_prices_from_hardware(entries: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Flavor id -> USD per hour, from ``/api/jobs/hardware`` entries.

    Entries with an unknown unit or no price are skipped rather than guessed.
    """
    prices: dict[str, float] = {}
    for entry in entries:
        name = entry.get("name")
        unit_cost = entry.get("unitCostUSD")
        if unit_cost is None and entry.get("unitCostMicroUSD") is not None:
            unit_cost = float(entry["unitCostMicroUSD"]) / 1_000_000
        per_hour = _UNITS_PER_HOUR.get(str(entry.get("unitLabel", "")).lower())
        if isinstance(name, str) and unit_cost is not None and per_hour is not None:
            prices[name] = round(float(unit_cost) * per_hour, 6)
    return prices


def estimate_cost_usd(hourly_usd: float, seconds: float) -> float:
    """The cost of ``seconds`` of hardware billed per started minute (as HF Jobs bills)."""
    minutes = math.ceil(max(0.0, seconds) / 60)
    return round(hourly_usd * minutes / 60, 4)
