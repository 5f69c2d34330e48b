"""The vectorisable exp/expm1 of core.vecmath against numpy's (the C library's), in units in the last place."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from osteocare.core import vecmath

MAX_ULP = 2.0


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(got - want) / np.spacing(np.abs(want))


@pytest.mark.parametrize(
    ("lo", "hi"),
    [(-1e-12, 1e-12), (-1e-4, 1e-4), (-0.35, 0.35), (-1.0, 1.0), (-10.0, 5.0), (-60.0, 60.0), (-708.0, 709.0)],
)
def test_exp_and_expm1_match_the_c_library_to_two_units_in_the_last_place(lo: float, hi: float) -> None:
    x = np.random.default_rng(int(hi * 1000) % 2**32).uniform(lo, hi, 200_000)
    assert _ulps(vecmath.exp(x), np.exp(x)).max() <= MAX_ULP
    assert _ulps(vecmath.expm1(x), np.expm1(x)).max() <= MAX_ULP


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=-708.0, max_value=709.0, allow_nan=False))
def test_any_value_in_range_is_within_two_units_in_the_last_place(x: float) -> None:
    a = np.array([x])
    assert _ulps(vecmath.exp(a), np.exp(a))[0] <= MAX_ULP
    want = np.expm1(a)
    if want[0] != 0.0:
        assert _ulps(vecmath.expm1(a), want)[0] <= MAX_ULP
    else:
        assert vecmath.expm1(a)[0] == 0.0


def test_it_gives_the_limits_outside_the_range_and_keeps_nan() -> None:
    x = np.array([-np.inf, -1000.0, -709.0, 710.0, np.inf, np.nan, 0.0])
    assert vecmath.exp(x)[:5].tolist() == [0.0, 0.0, 0.0, np.inf, np.inf]
    assert vecmath.expm1(x)[:5].tolist() == [-1.0, -1.0, -1.0, np.inf, np.inf]
    assert np.isnan(vecmath.exp(x)[5]) and np.isnan(vecmath.expm1(x)[5])
    assert vecmath.exp(x)[6] == 1.0 and vecmath.expm1(x)[6] == 0.0


def test_the_split_of_ln2_is_exact_and_short() -> None:
    with localcontext() as ctx:
        ctx.prec = 60
        # LN2_LO is ln 2 - LN2_HI correctly rounded: within half a unit in its last place
        assert abs(Decimal(vecmath.LN2_HI) + Decimal(vecmath.LN2_LO) - Decimal(2).ln()) <= Decimal(
            float(np.spacing(vecmath.LN2_LO))) / 2
    # k * LN2_HI is exact for every k the range produces: LN2_HI has at most 21 significant bits
    mantissa, _ = math.frexp(vecmath.LN2_HI)
    assert (mantissa * 2**21).is_integer()


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(2**51) + 1, max_value=2**51 - 1))
def test_whole_to_int64_is_the_integer_of_a_whole_float(k: int) -> None:
    """The bit-cast conversion (vectorises without AVX-512) against Python's int(), negatives included."""
    assert _whole_to_int64(float(k)) == k
    assert _whole_to_int64(-0.0) == 0 and _whole_to_int64(1023.0) == 1023 and _whole_to_int64(-1074.0) == -1074


@njit
def _whole_to_int64(x: float) -> int:
    return vecmath.whole_to_int64(x)  # type: ignore[no-any-return]
