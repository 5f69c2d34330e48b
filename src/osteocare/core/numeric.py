"""Clinical rounding and boundary-safe comparisons (knowledge README, general conventions).

The project rounds *half away from zero* (CONVENTION) and compares clinical values with thresholds only
after rounding to the reported precision, so that binary floating point never puts a value such as
T = -2.5 on the wrong side of a boundary. One vectorised implementation serves one value or ten million.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Binary noise below this many decimals is removed before rounding. Clinical inputs carry at most a few
# decimals, so a value that is a half in decimal arithmetic (e.g. -2.4999999999999996 from
# (0.558 - 0.858) / 0.120) is treated as that half.
_NOISE_DECIMALS = 9


def round_half_away(x: Any, ndigits: int = 1) -> FloatArray:
    """Round ``x`` (scalar or array) to ``ndigits`` decimals, half away from zero.

    Matches ``Decimal(...).quantize(..., ROUND_HALF_UP)`` on values computed from decimal inputs.
    NaN stays NaN.
    """
    a = np.asarray(x, dtype=np.float64)
    scale = 10.0**ndigits
    scaled = np.round(a * scale, _NOISE_DECIMALS)
    out: FloatArray = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) / scale
    return out


def decimal_round(value: float | str | Decimal, ndigits: int = 1) -> Decimal:
    """Scalar rounding in decimal arithmetic, half away from zero (reference for the vectorised form)."""
    q = Decimal(1).scaleb(-ndigits)
    return Decimal(str(value)).quantize(q, rounding=ROUND_HALF_UP)
