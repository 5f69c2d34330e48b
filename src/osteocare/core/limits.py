"""Plausibility limits from ``knowledge/calculators/input-limits.yaml`` and the one range check."""

from __future__ import annotations

from functools import cache

from .errors import InputError
from .knowledge import load


@cache
def limit(name: str) -> tuple[float, float, str]:
    """(low, high, unit) for the plausibility limit ``name``."""
    f = load("input-limits").fact(name)
    lo, hi = f.value
    return float(lo), float(hi), f.unit


def check_range(field: str, value: float | None, limit_name: str | None = None) -> float | None:
    """Return ``value`` if it lies within the inclusive limit, else raise :class:`InputError`."""
    if value is None:
        return None
    lo, hi, unit = limit(limit_name or field)
    if not (lo <= value <= hi):  # also rejects NaN
        raise InputError(field, value, f"a value from {lo:g} to {hi:g}", unit=unit)
    return value
