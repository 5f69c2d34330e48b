"""exp and expm1 that a compiled loop can vectorise.

numba calls the C library's scalar ``exp``/``expm1`` for every element, which stops the compiler from
vectorising the loop around them. These are the textbook construction in plain arithmetic that the
compiler turns into SIMD code:

    x = k ln2 + r,  k = round(x / ln2),  |r| <= ln2 / 2    (Cody-Waite: ln2 split into a high part with
                                                             a short mantissa, so k * ln2_hi is exact)
    p = expm1(r) by its Taylor series to degree 13           (remainder below 2e-17 relative for |r| <= ln2/2;
                                                             evaluated as r + r^2 q(r), q by Estrin's scheme)
    exp(x)   = 2^k + 2^k p
    expm1(x) = (2^k - 1) + 2^k p                              (k = 0 gives p itself: full relative accuracy
                                                             near zero, where expm1 matters)

Every constant is derived here from its definition (ln 2 to 50 digits with ``decimal``, 1/j! exactly
rounded); none is typed in. Accuracy, checked against numpy (the C library) in
``tests/core/test_vecmath.py``: at most 2 units in the last place over [-708, 709]. Outside that range
``exp`` gives 0 below and +inf above (e^x is still finite up to 709.78: these functions overflow
early), ``expm1`` -1 below and +inf above; NaN stays NaN. ``expm1(-0.0)`` is
+0.0 (the C library keeps the sign of a zero).
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from numba import njit, types
from numba.extending import intrinsic

FloatArray = npt.NDArray[np.float64]


def _ln2_parts() -> tuple[float, float, float]:
    """(ln2_hi, ln2_lo, 1/ln2): ln2_hi keeps 21 mantissa bits, so k * ln2_hi is exact for |k| < 2^31."""
    with localcontext() as ctx:
        ctx.prec = 50
        ln2 = Decimal(2).ln()
        bits = int(np.array([float(ln2)]).view(np.int64)[0]) & ~((1 << 32) - 1)
        hi = float(np.array([bits], dtype=np.int64).view(np.float64)[0])
        return hi, float(ln2 - Decimal(hi)), float(1 / ln2)


LN2_HI, LN2_LO, INV_LN2 = _ln2_parts()
#: Taylor coefficients of expm1 from degree 2 to 13 (1/2!, ..., 1/13!); the degree-1 term r is added exactly
TAYLOR: Final = tuple(1.0 / math.factorial(j) for j in range(2, 14))
_T2, _T3, _T4, _T5, _T6, _T7, _T8, _T9, _T10, _T11, _T12, _T13 = TAYLOR
X_LOW: Final = -708.0  # below: exp underflows to 0 (subnormal results are not produced)
X_HIGH: Final = 709.0  # above: +inf (early: e^x stays finite up to 709.78, which no caller here comes near)


def _bitcast(src: Any, dst: Any) -> Any:
    """A compiled function that reinterprets a ``src`` value's bits as a ``dst`` of the same width (one
    instruction, or none in a vector register; vectorises, unlike a library call)."""

    def typer(typingctx: Any, x: Any) -> Any:  # pragma: no cover - compile-time
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], context.get_value_type(dst))

        return dst(src), codegen

    return intrinsic(typer)


_f64_from_bits: Any = _bitcast(types.int64, types.float64)
_bits_of_f64: Any = _bitcast(types.float64, types.int64)
#: 2^52 + 2^51: for a whole number |k| < 2^51, k + ROUND_MAGIC is exact and lies in [2^52, 2^53), where one
#: unit of the mantissa is 1, so the bits of (k + ROUND_MAGIC) minus those of ROUND_MAGIC are k as an int64
ROUND_MAGIC: Final = float(2**52 + 2**51)


@njit(inline="always", nogil=True, cache=True)
def whole_to_int64(k: float) -> int:  # pragma: no cover - compiled
    """A float64 holding a whole number of magnitude below 2^51, as an int64, without a conversion
    instruction (only for such values: a fraction is rounded to nearest, not truncated, and 2^51 or more
    gives a wrong number; the callers pass a range-checked whole age and the k of exp's reduction).

    x86 has a packed float64 -> int64 conversion only with AVX-512, so ``np.int64(k)`` keeps a loop scalar
    on AVX2 machines; this is a bit cast and an integer subtraction, which vectorise on both."""
    bits: int = _bits_of_f64(k + ROUND_MAGIC) - _bits_of_f64(ROUND_MAGIC)
    return bits


@njit(inline="always", nogil=True, cache=True)
def split(x: float) -> tuple[float, float]:  # pragma: no cover - compiled
    """(2^k, expm1(r)) with x = k ln2 + r, for x clamped to [X_LOW, X_HIGH]."""
    xc = min(max(x, X_LOW), X_HIGH)
    k = np.floor(xc * INV_LN2 + 0.5)
    r = (xc - k * LN2_HI) - k * LN2_LO
    # p = r + r^2 q(r), q(r) = 1/2! + r/3! + ... + r^11/13! by Estrin's scheme: pairs, then pairs of pairs
    # with r^2, r^4 and r^8, a chain of 4 multiply-adds where Horner's has 12 (the loop runs 1.5 times as
    # fast); adding the exact leading term r last keeps the error within 2 units in the last place
    r2 = r * r
    r4 = r2 * r2
    e0, e1, e2 = _T2 + _T3 * r, _T4 + _T5 * r, _T6 + _T7 * r
    e3, e4, e5 = _T8 + _T9 * r, _T10 + _T11 * r, _T12 + _T13 * r
    q = ((e0 + e1 * r2) + (e2 + e3 * r2) * r4) + (e4 + e5 * r2) * (r4 * r4)
    p = r + r2 * q
    s = _f64_from_bits((whole_to_int64(k) + 1023) << 52)
    return s, p


@njit(inline="always", nogil=True, cache=True)
def exp1(x: float) -> float:  # pragma: no cover - compiled
    """e^x for one value, inside a compiled loop."""
    s, p = split(x)
    v = s + s * p
    v = 0.0 if x < X_LOW else v
    v = np.inf if x > X_HIGH else v
    return x if x != x else v


@njit(inline="always", nogil=True, cache=True)
def expm1_1(x: float) -> float:  # pragma: no cover - compiled
    """e^x - 1 for one value, inside a compiled loop."""
    s, p = split(x)
    v = (s - 1.0) + s * p
    v = -1.0 if x < X_LOW else v
    v = np.inf if x > X_HIGH else v
    return x if x != x else v


@njit(nogil=True, cache=True)
def _exp_kernel(x: Any, out: Any) -> None:  # pragma: no cover - compiled
    for i in range(x.shape[0]):
        out[i] = exp1(x[i])


@njit(nogil=True, cache=True)
def _expm1_kernel(x: Any, out: Any) -> None:  # pragma: no cover - compiled
    for i in range(x.shape[0]):
        out[i] = expm1_1(x[i])


def _apply(kernel: Any, x: npt.ArrayLike) -> FloatArray:
    a = np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1))
    out = np.empty(a.shape[0])
    kernel(a, out)
    return out.reshape(np.shape(x))


def exp(x: npt.ArrayLike) -> FloatArray:
    """Elementwise e^x (the compiled loop's exp, for tests and one-off use)."""
    return _apply(_exp_kernel, x)


def expm1(x: npt.ArrayLike) -> FloatArray:
    """Elementwise e^x - 1 (the compiled loop's expm1, for tests and one-off use)."""
    return _apply(_expm1_kernel, x)
