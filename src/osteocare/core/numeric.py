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
from numba import njit

FloatArray = npt.NDArray[np.float64]

# Binary noise below this many decimals is removed before rounding. Clinical inputs carry at most a few
# decimals, so a value that is a half in decimal arithmetic (e.g. -2.4999999999999996 from
# (0.558 - 0.858) / 0.120) is treated as that half.
_NOISE_DECIMALS = 9
_NOISE_SCALE = 10.0**_NOISE_DECIMALS


@njit(cache=True, nogil=True)
def _round_kernel(a: Any, scale: float, noise: float, out: Any) -> None:  # pragma: no cover - compiled
    """One pass per value, with the same IEEE operations in the same order as the array expression

        scaled = rint((a * scale) * noise) / noise        # numpy's round(a * scale, _NOISE_DECIMALS)
        out = sign(scaled) * floor(|scaled| + 0.5) / scale

    (numpy's sign: +1, -1, +0.0 for either zero; NaN passes through with its sign bit), so the result is
    bit-identical to it.
    """
    for i in range(a.shape[0]):
        s = np.rint(a[i] * scale * noise) / noise
        sg = (1.0 if s > 0.0 else 0.0) - (1.0 if s < 0.0 else 0.0)  # selects, no branches: the loop vectorises
        r = sg * np.floor(np.abs(s) + 0.5) / scale
        out[i] = s if s != s else r  # NaN: numpy's sign(NaN) * NaN / scale keeps the first NaN, sign bit and all


def round_half_away(x: Any, ndigits: int = 1) -> FloatArray:
    """Round ``x`` (scalar or array) to ``ndigits`` decimals, half away from zero.

    Matches ``Decimal(...).quantize(..., ROUND_HALF_UP)`` on values computed from decimal inputs.
    NaN stays NaN. An array comes back with the shape of ``x``; a scalar as a numpy float.
    """
    a = np.asarray(x, dtype=np.float64)
    flat = np.ascontiguousarray(a).reshape(-1)
    out = np.empty(flat.shape[0], dtype=np.float64)
    _round_kernel(flat, 10.0**ndigits, _NOISE_SCALE, out)
    if a.ndim == 0:
        scalar: FloatArray = out[0]  # a numpy float64, as numpy's own arithmetic gives for a scalar
        return scalar
    return out.reshape(a.shape)


def decimal_round(value: float | str | Decimal, ndigits: int = 1) -> Decimal:
    """Scalar rounding in decimal arithmetic, half away from zero (reference for the vectorised form)."""
    q = Decimal(1).scaleb(-ndigits)
    return Decimal(str(value)).quantize(q, rounding=ROUND_HALF_UP)
