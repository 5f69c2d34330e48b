"""The compiled array paths of ``round_half_away`` and CAROC's ``classify`` give exactly what the scalar paths
and the numpy expressions they replaced give, on random inputs, values on every threshold, NaN and -0.0.

The references below are the numpy code of ``osteocare.core`` before the kernels were compiled (kept here as
test oracles only), so "bit-identical" is checked, not just "close".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
from hypothesis import example, given, settings
from hypothesis import strategies as st

from osteocare.core.numeric import decimal_round, round_half_away
from osteocare.core.risk import caroc

FIELDS = ("category", "basal", "age_row", "highfx", "lsth", "mod2", "mod1")


# ---- references ----------------------------------------------------------------------------------------


def _numpy_round_half_away(x: Any, ndigits: int = 1) -> Any:
    """``round_half_away`` as it was: numpy ufuncs over the whole array."""
    a = np.asarray(x, dtype=np.float64)
    scale = 10.0**ndigits
    scaled = np.round(a * scale, 9)
    return np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) / scale


def _numpy_classify(**kw: Any) -> dict[str, npt.NDArray[Any]]:
    """``caroc.classify`` as it was: numpy ``where`` chains, with the same knowledge table."""
    t = caroc._table()
    floats = [np.asarray(kw.get(k, np.nan), dtype=np.float64) for k in ("age", "fn_t", "ls_t", "th_t")]
    names = ("female", "fracture_after_40", "hip_or_vertebral_fracture", "multiple_fractures", "glucocorticoids",
             "on_treatment")
    flags = [np.asarray(kw.get(k, False), dtype=bool) for k in names]
    shape = np.broadcast_shapes((1,), *(a.shape for a in (*floats, *flags)))
    age_a, fn_a, ls_a, th_a = (np.broadcast_to(a, shape) for a in floats)
    fem, fx40, hipvert, multi, gc, treated = (np.broadcast_to(a, shape) for a in flags)
    fn10, ls10, th10 = (np.rint(_numpy_round_half_away(a, t.decimals) * 10.0) for a in (fn_a, ls_a, th_a))
    in_scope = (age_a >= t.min_age) & ~treated
    row_idx = np.clip(np.searchsorted(t.rows, age_a, side="right") - 1, 0, len(t.rows) - 1)
    sex_idx = np.where(fem, 0, 1)
    low_cut, high_cut = t.low_cut[sex_idx, row_idx], t.high_cut[sex_idx, row_idx]
    basal = np.where(fn10 > low_cut, caroc.LOW, np.where(fn10 < high_cut, caroc.HIGH, caroc.MODERATE))
    basal = np.where(~np.isnan(fn10), basal, caroc.UNDEFINED)
    highfx = in_scope & (hipvert | multi)
    rest = in_scope & ~highfx
    lsth = rest & ((basal == caroc.LOW) | (basal == caroc.UNDEFINED)) & ((ls10 <= t.lsth) | (th10 <= t.lsth))
    cat = np.where(lsth, caroc.MODERATE, basal)
    mod2 = rest & fx40 & gc
    mod1 = rest & ~mod2 & (fx40 | gc)
    stepped = np.where(cat == caroc.UNDEFINED, caroc.UNDEFINED, np.minimum(cat + 1, caroc.HIGH))
    cat = np.where(mod2, caroc.HIGH, np.where(mod1, stepped, cat))
    cat = np.where(highfx, caroc.HIGH, cat)
    cat = np.where(in_scope, cat, caroc.OUT_OF_SCOPE)
    return {
        "category": cat.astype(np.int64),
        "basal": np.where(in_scope, basal, caroc.OUT_OF_SCOPE).astype(np.int64),
        "age_row": np.where(in_scope, t.rows[row_idx], 0).astype(np.int64),
        "highfx": highfx, "lsth": lsth, "mod2": mod2, "mod1": mod1,
    }


def _same_bits(a: Any, b: Any) -> bool:
    """Equal shape, dtype and bits (every NaN counts as the same NaN; -0.0 and 0.0 differ)."""
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    if x.dtype.kind == "f":
        x, y = np.where(np.isnan(x), np.nan, x), np.where(np.isnan(y), np.nan, y)
    return x.tobytes() == y.tobytes()


# ---- round_half_away -----------------------------------------------------------------------------------

HALVES = [k / 20 for k in range(-100, 101, 2)] + [-2.4999999999999996, 2.4999999999999996, 0.45, -0.45, 1.005]
ANY_FLOAT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e4, max_value=1e4),
    st.sampled_from([0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 5e-324, -5e-324, *HALVES]),
    st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False).map(float),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ANY_FLOAT, min_size=1, max_size=40), st.integers(-2, 9))
@example([0.05, -0.05, 0.15, -0.15, -0.0, 0.0, -0.04, np.nan, 2.5, -2.5], 1)
@example([0.5, -0.5, 1.5, -1.5, 2.5, -2.5, -0.0], 0)
def test_round_half_away_array_path_equals_the_numpy_expression_and_the_scalar_path(xs: list[float], nd: int) -> None:
    a = np.array(xs)
    with np.errstate(over="ignore", invalid="ignore"):
        fast = round_half_away(a, nd)
        assert _same_bits(fast, _numpy_round_half_away(a, nd))
        for x, y in zip(xs, fast, strict=True):
            one = round_half_away(x, nd)
            assert type(one) is np.float64
            assert _same_bits(one, y)
        assert _same_bits(round_half_away(a.reshape(1, -1)[:, ::-1], nd), _numpy_round_half_away(a[::-1], nd)[None])


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=-1000, max_value=1000, places=4, allow_nan=False, allow_infinity=False),
       st.integers(0, 3))
@example(Decimal("-2.45"), 1)
@example(Decimal("2.45"), 1)
@example(Decimal("-0.05"), 1)
@example(Decimal("1.005"), 2)
def test_round_half_away_equals_decimal_rounding_on_decimal_inputs(d: Decimal, nd: int) -> None:
    expected = float(decimal_round(d, nd))
    got = float(round_half_away(float(d), nd))
    assert got == expected or (got == 0.0 and expected == 0.0)
    assert float(round_half_away(np.array([float(d)]), nd)[0]) == got


# ---- CAROC ---------------------------------------------------------------------------------------------


def _cut_values() -> list[float]:
    """Every T-score threshold of the knowledge file (in T units), with the values that round onto it."""
    t = caroc._table()
    cuts = {int(v) for v in np.concatenate([t.low_cut.ravel(), t.high_cut.ravel(), [t.lsth]])}
    out: list[float] = []
    for c in sorted(cuts):
        out += [c / 10, (c - 1) / 10, (c + 1) / 10, (c - 0.5) / 10, (c + 0.5) / 10, c / 10 + 1e-12, c / 10 - 1e-12]
    return out


def _ages() -> list[float]:
    t = caroc._table()
    rows = [float(r) for r in t.rows]
    return [*rows, *(r - 1 for r in rows), *(r + 0.5 for r in rows), t.min_age - 1.0, float(t.min_age), 120.0,
            np.nan, 0.0, -1.0, np.inf]


T_SCORE = st.one_of(st.sampled_from([np.nan, -0.0, 0.0, np.inf, -np.inf, *_cut_values()]),
                    st.floats(min_value=-6, max_value=4), st.floats(allow_nan=True))
AGE = st.one_of(st.sampled_from(_ages()), st.floats(min_value=0, max_value=120), st.integers(0, 120).map(float))
ROW = st.tuples(AGE, T_SCORE, T_SCORE, T_SCORE, *[st.booleans()] * 6)
ROW_KEYS = ("age", "fn_t", "ls_t", "th_t", "female", "fracture_after_40", "hip_or_vertebral_fracture",
            "multiple_fractures", "glucocorticoids", "on_treatment")


@settings(max_examples=200, deadline=None)
@given(st.lists(ROW, min_size=1, max_size=50))
def test_caroc_array_path_equals_the_numpy_expression_and_the_single_patient_path(rows: list[tuple[Any, ...]]) -> None:
    cols = {k: np.array([r[i] for r in rows]) for i, k in enumerate(ROW_KEYS)}
    with np.errstate(over="ignore", invalid="ignore"):
        fast = caroc.classify(**cols)
        ref = _numpy_classify(**cols)
        for f in FIELDS:
            assert _same_bits(getattr(fast, f), ref[f]), f
        for i, r in enumerate(rows):  # one patient at a time, Python scalars (as assess_caroc calls it)
            one = caroc.classify(**{k: (bool(v) if isinstance(v, np.bool_) else v) for k, v in zip(ROW_KEYS, r,
                                                                                                    strict=True)})
            for f in FIELDS:
                assert _same_bits(getattr(one, f), getattr(fast, f)[i : i + 1]), (f, r)


@settings(max_examples=100, deadline=None)
@given(st.lists(ROW, min_size=2, max_size=20), AGE, T_SCORE, st.booleans())
def test_caroc_broadcasts_scalars_and_2d_inputs_as_before(rows: list[tuple[Any, ...]], age: float, ls: float,
                                                           treated: bool) -> None:
    fn = np.array([r[1] for r in rows])
    fem = np.array([[r[4] for r in rows], [not r[4] for r in rows]])
    kw = {"female": fem, "age": age, "fn_t": fn, "ls_t": ls, "on_treatment": treated}
    with np.errstate(over="ignore", invalid="ignore"):
        fast, ref = caroc.classify(**kw), _numpy_classify(**kw)
    for f in FIELDS:
        assert _same_bits(getattr(fast, f), ref[f]), f


def test_caroc_classifies_no_rows() -> None:
    out = caroc.classify(female=np.array([], dtype=bool), age=np.array([]), fn_t=np.array([]))
    assert all(getattr(out, f).shape == (0,) for f in FIELDS)
