"""QFracture-2012: published reference vectors, range refusals, and properties of the coefficients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from osteocare.core.records import FLAGS, parse_record
from osteocare.core.risk.qfracture import assess_qfracture, equations

# risk-calculators.md section 1.6: ClinRisk's reference code outputs (VERIFIED), 10-year risk, percent.
VECTORS = [
    ({"sex": "female", "age": 65, "height_cm": 165, "weight_kg": 68, "ethnicity": "white"}, 4.551261, 1.187594),
    ({"sex": "female", "age": 75, "height_cm": 160, "weight_kg": 56, "ethnicity": "white", "smoking": "heavy",
      "alcohol": "7to9", "prior_fracture": True, "ra_sle": True, "corticosteroids": True,
      "parental_osteoporosis": True}, 45.194353, 35.514128),
    ({"sex": "male", "age": 70, "height_cm": 175, "weight_kg": 92, "ethnicity": "white", "smoking": "moderate",
      "type2_diabetes": True, "cvd": True, "asthma_copd": True}, 4.146912, 2.527956),
    ({"sex": "male", "age": 80, "height_cm": 172, "weight_kg": 71, "ethnicity": "white", "falls": True,
      "parkinsons": True, "type1_diabetes": True, "care_home": True}, 47.924641, 80.247719),
    ({"sex": "female", "age": 60, "height_cm": 158, "weight_kg": 60, "ethnicity": "indian",
      "hrt_oestrogen": True, "antidepressant": True}, 2.969878, 0.428621),
]


@pytest.mark.parametrize(("facts", "mof", "hip"), VECTORS)
def test_qfracture_record_path_matches_published_reference_vectors(facts: dict, mof: float, hip: float) -> None:
    r = assess_qfracture(parse_record({"id": "v", **facts}))
    assert r.applicable
    assert r.values["major_osteoporotic_fracture_percent"].value == pytest.approx(mof, abs=1e-6)
    assert r.values["hip_fracture_percent"].value == pytest.approx(hip, abs=1e-6)
    assert any("not produced or endorsed by ClinRisk" in w.lower() or "ClinRisk" in w for w in r.warnings)


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        ({"age": 29, "bmi": 25}, "age 29 is below the model range 30-100"),
        ({"age": 101, "bmi": 25}, "age 101 is above the model range 30-100"),
        ({"age": 70, "bmi": 18.4}, "BMI 18.4 is below the model range 20-40"),
        ({"age": 70, "bmi": 40.5}, "BMI 40.5 is above the model range 20-40"),
    ],
)
def test_it_refuses_qfracture_outside_the_valid_range_with_the_reason(facts: dict, reason: str) -> None:
    r = assess_qfracture(parse_record({"id": "x", "sex": "female", **facts}))
    assert not r.applicable
    assert reason in (r.reason or "")


def test_it_scores_the_range_ends_inclusively() -> None:
    for age, bmi in [(30, 20.0), (100, 40.0)]:
        assert assess_qfracture(parse_record({"id": "x", "sex": "male", "age": age, "bmi": bmi})).applicable


record_st = st.fixed_dictionaries(
    {
        "id": st.just("p"),
        "sex": st.sampled_from(["female", "male"]),
        "age": st.integers(30, 100),
        "bmi": st.floats(20, 40),
        "ethnicity": st.sampled_from(["white", "indian", "other_asian", "chinese", "black_african", "other"]),
        "smoking": st.sampled_from(["non_smoker", "ex_smoker", "light", "moderate", "heavy"]),
        "alcohol": st.sampled_from(["none", "lt1", "1to2", "3to6", "7to9", "gt9"]),
        "years": st.integers(1, 10),
    },
    optional={f: st.booleans() for f in FLAGS},
)


def _scores(rec: dict) -> tuple[float, float]:
    r = assess_qfracture(parse_record(rec))
    return (r.values["major_osteoporotic_fracture_percent"].value,  # type: ignore[return-value]
            r.values["hip_fracture_percent"].value)


@given(record_st, st.sampled_from(["prior_fracture", "falls", "corticosteroids"]))
def test_adding_a_prior_fracture_falls_or_glucocorticoids_never_lowers_a_qfracture_score(rec: dict, flag: str) -> None:
    without = _scores({**rec, flag: False})
    with_ = _scores({**rec, flag: True})
    assert with_[0] >= without[0] - 1e-12
    assert with_[1] >= without[1] - 1e-12


def test_those_three_risk_factors_have_positive_coefficients_in_every_equation() -> None:
    # The property above holds because the published betas are positive; check the file says so.
    for eq in equations().values():
        betas = dict(zip(eq.booleans, eq.boolean_betas, strict=True))
        for name in ("b_fracture4", "b_falls", "b_corticosteroids"):
            assert betas[name] > 0, (eq.name, name)


@given(record_st)
def test_qfracture_never_raises_and_stays_a_percentage_on_valid_records(rec: dict) -> None:
    mof, hip = _scores(rec)
    assert 0.0 < mof <= 100.0 and 0.0 < hip <= 100.0  # the reference code also reaches 100.0


def test_a_longer_horizon_never_lowers_the_risk() -> None:
    base = {"id": "p", "sex": "female", "age": 70, "bmi": 24.0}
    scores = [_scores({**base, "years": y}) for y in range(1, 11)]
    assert all(np.diff([s[0] for s in scores]) > 0) and all(np.diff([s[1] for s in scores]) > 0)


def test_a_row_scores_the_same_alone_and_inside_any_block_of_a_long_column() -> None:
    """The kernel works in blocks of rows; where a row falls (block edges, invalid neighbours, views of larger
    arrays, flags as booleans or numbers) must not change its result in any digit."""
    from osteocare.core.risk.qfracture import score

    rng = np.random.default_rng(7)
    n = 5000  # more than two kernel blocks, and a partial last block
    names = sorted({b for eq in equations().values() for b in eq.booleans})
    flags = {k: rng.random(2 * n)[::2] < 0.2 for k in names}  # strided views
    cols = dict(female=rng.random(n) < 0.5, age=rng.integers(25, 106, n).astype(float), bmi=rng.uniform(17, 43, n),
                ethrisk=rng.integers(1, 10, n), smoke_cat=rng.integers(0, 5, n), alcohol_cat6=rng.integers(0, 6, n),
                surv=rng.integers(0, 12, n))
    cols["age"][::37] = np.nan
    cols["age"][5::41] += 0.5
    mof, hip, code = score(**cols, flags=flags)
    numeric_flags = {k: v.astype(np.float64) for k, v in flags.items()}
    mof2, hip2, code2 = score(**cols, flags=numeric_flags)
    assert np.array_equal(code, code2) and np.array_equal(mof, mof2, equal_nan=True)
    assert np.array_equal(hip, hip2, equal_nan=True)
    assert set(np.unique(code)) > {0}  # the column mixes scored and refused rows
    for i in [*range(0, n, 97), 2047, 2048, 2049, 4095, 4096, n - 1]:
        one = {k: v[i : i + 1] for k, v in cols.items()}
        m1, h1, c1 = score(**one, flags={k: v[i : i + 1] for k, v in flags.items()})
        assert c1[0] == code[i]
        assert np.array_equal(m1, mof[i : i + 1], equal_nan=True) and np.array_equal(h1, hip[i : i + 1], equal_nan=True)
        assert np.isnan(m1[0]) == (c1[0] != 0)


def test_flags_may_be_left_out_or_given_as_one_value_for_every_row() -> None:
    """A flag left out counts as 0 and a scalar flag as that value in every row: the same results as columns
    of zeros and of that value (a left-out flag and a scalar flag stopped the call with a numba TypingError:
    read-only and writeable columns in one tuple)."""
    from osteocare.core.risk.qfracture import score

    rng = np.random.default_rng(11)
    n = 300
    names = sorted({b for eq in equations().values() for b in eq.booleans})
    cols = dict(female=rng.random(n) < 0.5, age=rng.integers(30, 100, n).astype(float), bmi=rng.uniform(20, 40, n),
                ethrisk=rng.integers(1, 10, n), smoke_cat=rng.integers(0, 5, n), alcohol_cat6=rng.integers(0, 6, n),
                surv=np.full(n, 10))
    falls = rng.random(n) < 0.3
    full = {k: np.zeros(n, dtype=bool) for k in names}
    full["b_falls"] = falls
    full["b_corticosteroids"] = np.ones(n, dtype=bool)
    want = score(**cols, flags=full)
    got = score(**cols, flags={"b_falls": falls, "b_corticosteroids": 1})
    for a, b in zip(want, got, strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    assert np.isfinite(want[0]).all()
