"""CAROC 2010 against shared/knowledge/risk-calculators.md section 4 (Papaioannou, CMAJ 2010; basal table as
reproduced by Osteoporosis Canada's Bone Fit - SECONDARY)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osteocare.core.records import Fracture, Medication, PatientRecord
from osteocare.core.risk.caroc import (
    CATEGORY_NAMES,
    HIGH,
    LOW,
    MODERATE,
    OUT_OF_SCOPE,
    UNDEFINED,
    assess_caroc,
    classify,
    prolonged_glucocorticoids,
)


def _rec(sex: str, age: int, **kw: object) -> PatientRecord:
    return PatientRecord.model_validate({"id": "c", "sex": sex, "age": age, **kw})


def _rules(res: object) -> list[str]:
    return [r.rule_id for r in res.rules_fired]  # type: ignore[attr-defined]


# ---- worked examples of the brief (SECONDARY, because they use the table) -----------------------------


def test_caroc_matches_brief_example_woman_67_fn_minus_2_is_moderate_from_row_65() -> None:
    res = assess_caroc(_rec("female", 67, femoral_neck_t_score=-2.0))
    assert res.category == "moderate"
    assert res.details["age_row"] == 65
    assert res.status == "secondary"
    assert any("status: secondary" in w for w in res.warnings)
    assert "CAROC-BASAL" in _rules(res)


def test_caroc_matches_brief_example_woman_67_with_a_fragility_fracture_after_40_is_high() -> None:
    res = assess_caroc(_rec("female", 67, femoral_neck_t_score=-2.0, prior_fracture=True))
    assert res.category == "high"
    assert "CAROC-MOD1" in _rules(res)


def test_caroc_matches_brief_example_man_72_fn_minus_2_is_low_from_row_70() -> None:
    res = assess_caroc(_rec("male", 72, femoral_neck_t_score=-2.0))
    assert res.category == "low"
    assert res.details["age_row"] == 70


def test_caroc_matches_brief_example_man_72_with_ls_minus_2_7_is_moderate_by_lsth() -> None:
    res = assess_caroc(_rec("male", 72, femoral_neck_t_score=-2.0, lumbar_spine_t_score=-2.7))
    assert res.category == "moderate"
    assert "CAROC-LSTH" in _rules(res)


def test_caroc_matches_brief_example_woman_58_with_glucocorticoids_and_fracture_is_high_by_mod2() -> None:
    res = assess_caroc(
        _rec("female", 58, femoral_neck_t_score=-1.5, prior_fracture=True, glucocorticoid_mg_per_day=7.5,
             glucocorticoid_months=3)
    )
    assert res.category == "high"
    assert "CAROC-MOD2" in _rules(res)
    assert "CAROC-MOD1" not in _rules(res)


def test_caroc_matches_brief_example_woman_80_fn_minus_0_3_is_low_from_row_80() -> None:
    res = assess_caroc(_rec("female", 80, femoral_neck_t_score=-0.3))
    assert res.category == "low"
    assert res.details["age_row"] == 80


def test_the_brief_examples_agree_in_one_vectorised_call() -> None:
    out = classify(
        female=np.array([True, True, False, False, True, True]),
        age=np.array([67, 67, 72, 72, 58, 80]),
        fn_t=np.array([-2.0, -2.0, -2.0, -2.0, -1.5, -0.3]),
        ls_t=np.array([np.nan, np.nan, np.nan, -2.7, np.nan, np.nan]),
        fracture_after_40=np.array([False, True, False, False, True, False]),
        glucocorticoids=np.array([False, False, False, False, True, False]),
    )
    assert [CATEGORY_NAMES[int(c)] for c in out.category] == ["moderate", "high", "low", "moderate", "high", "low"]
    np.testing.assert_array_equal(out.age_row, [65, 65, 70, 70, 55, 80])


# ---- boundaries and rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sex", "age", "fn", "expected"),
    [
        ("female", 65, -1.9, "moderate"),  # both cut-offs belong to moderate (Bone Fit reading)
        ("female", 65, -1.8, "low"),
        ("female", 65, -3.5, "moderate"),
        ("female", 65, -3.6, "high"),
        ("male", 50, -2.5, "moderate"),
        ("male", 50, -3.9, "moderate"),
        ("male", 50, -4.0, "high"),
        ("female", 85, 0.1, "moderate"),
        ("female", 85, 0.2, "low"),
    ],
)
def test_basal_cut_offs_are_inclusive_for_moderate(sex: str, age: int, fn: float, expected: str) -> None:
    res = assess_caroc(_rec(sex, age, femoral_neck_t_score=fn))
    assert res.category == expected


def test_a_t_score_that_binary_floats_put_past_minus_2_5_is_read_as_minus_2_5() -> None:
    # bone-density.md 1: (0.558 - 0.858) / 0.120 = -2.4999999999999996 is -2.5 in decimal arithmetic.
    t = (0.558 - 0.858) / 0.120
    out = classify(female=False, age=50, fn_t=t)
    assert int(out.category[0]) == MODERATE


@pytest.mark.parametrize(("age", "row"), [(50, 50), (54, 50), (55, 55), (69, 65), (84, 80), (85, 85), (99, 85)])
def test_the_age_row_is_the_five_year_band_the_age_falls_in(age: int, row: int) -> None:
    assert int(classify(female=True, age=age, fn_t=-1.0).age_row[0]) == row


def test_a_hip_or_vertebral_fracture_is_high_without_the_table_and_stays_verified() -> None:
    rec = _rec("female", 60, femoral_neck_t_score=0.5, fractures=[Fracture(site="vertebra")])
    res = assess_caroc(rec)
    assert res.category == "high"
    assert _rules(res) == ["CAROC-SCOPE", "CAROC-HIGHFX"]
    assert res.status == "verified"


def test_more_than_one_fragility_fracture_is_high() -> None:
    rec = _rec("male", 66, fractures=[Fracture(site="wrist"), Fracture(site="humerus")])
    assert assess_caroc(rec).category == "high"


def test_a_single_wrist_fracture_moves_one_category_up() -> None:
    rec = _rec("male", 66, femoral_neck_t_score=-1.0, fractures=[Fracture(site="wrist")])
    res = assess_caroc(rec)
    assert res.category == "moderate"
    assert any("after 40" in w for w in res.warnings)


def test_without_a_femoral_neck_t_score_the_category_is_undefined_and_says_so() -> None:
    res = assess_caroc(_rec("female", 70, prior_fracture=True))
    assert res.category == "undefined"
    assert any("femoral neck" in w for w in res.warnings)


def test_lsth_applies_to_an_undefined_basal_risk() -> None:
    res = assess_caroc(_rec("female", 70, total_hip_t_score=-2.5))
    assert res.category == "moderate"
    assert "CAROC-LSTH" in _rules(res)


def test_lsth_is_applied_before_the_modifiers_per_the_project_convention() -> None:
    # risk-calculators.md 4: applying LSTH first can give high (low -> moderate -> high).
    res = assess_caroc(_rec("male", 72, femoral_neck_t_score=-2.0, lumbar_spine_t_score=-2.7, prior_fracture=True))
    assert res.category == "high"
    assert _rules(res)[-2:] == ["CAROC-LSTH", "CAROC-MOD1"]


def test_glucocorticoids_count_from_7_5_mg_for_3_months() -> None:
    assert prolonged_glucocorticoids(7.5, 3).all()
    assert not prolonged_glucocorticoids(7.4, 12).any()
    assert not prolonged_glucocorticoids(10, 2).any()
    assert not prolonged_glucocorticoids(np.nan, np.nan).any()


def test_it_warns_when_the_glucocorticoid_duration_is_missing() -> None:
    res = assess_caroc(_rec("female", 70, femoral_neck_t_score=-1.0, glucocorticoid_mg_per_day=10.0))
    assert res.category == "low"
    assert any("glucocorticoid_months" in w for w in res.warnings)


def test_it_is_not_applicable_on_treatment_and_says_why() -> None:
    rec = _rec("female", 70, femoral_neck_t_score=-2.0,
               medications=[Medication(drug="alendronate", start=dt.date(2023, 1, 1))])
    res = assess_caroc(rec)
    assert not res.applicable
    assert res.reason is not None and "treatment-naive" in res.reason and "alendronate" in res.reason


def test_it_is_not_applicable_below_50() -> None:
    res = assess_caroc(_rec("female", 49, femoral_neck_t_score=-3.0))
    assert not res.applicable and res.reason is not None and "50" in res.reason
    assert int(classify(female=True, age=49, fn_t=-3.0).category[0]) == OUT_OF_SCOPE


def test_the_kernel_marks_treated_rows_out_of_scope() -> None:
    out = classify(female=True, age=np.array([70, 70]), fn_t=-3.0, on_treatment=np.array([True, False]))
    assert list(out.category) == [OUT_OF_SCOPE, MODERATE]


# ---- properties the published model implies -----------------------------------------------------------

RANK = {LOW: 0, MODERATE: 1, HIGH: 2}
t_scores = st.integers(min_value=-60, max_value=30).map(lambda x: x / 10)
maybe_t = st.one_of(st.none(), t_scores)


def _nan(x: float | None) -> float:
    return np.nan if x is None else x


@settings(max_examples=300)
@given(
    female=st.booleans(),
    age=st.integers(min_value=50, max_value=100),
    fn=t_scores,
    drop=st.integers(min_value=1, max_value=30).map(lambda x: x / 10),
    ls=maybe_t,
    th=maybe_t,
    fx=st.booleans(),
    gc=st.booleans(),
)
def test_a_lower_t_score_never_improves_the_category(
    female: bool, age: int, fn: float, drop: float, ls: float | None, th: float | None, fx: bool, gc: bool
) -> None:
    kw = {"female": female, "age": age, "fracture_after_40": fx, "glucocorticoids": gc}
    base = int(classify(fn_t=fn, ls_t=_nan(ls), th_t=_nan(th), **kw).category[0])
    lower_fn = int(classify(fn_t=fn - drop, ls_t=_nan(ls), th_t=_nan(th), **kw).category[0])
    lower_ls = int(classify(fn_t=fn, ls_t=_nan(ls) - drop, th_t=_nan(th), **kw).category[0])
    lower_th = int(classify(fn_t=fn, ls_t=_nan(ls), th_t=_nan(th) - drop, **kw).category[0])
    for other in (lower_fn, lower_ls, lower_th):
        assert RANK[other] >= RANK[base]


@settings(max_examples=300)
@given(
    female=st.booleans(),
    age=st.integers(min_value=50, max_value=100),
    fn=maybe_t,
    ls=maybe_t,
    fx=st.booleans(),
    gc=st.booleans(),
    add=st.sampled_from(["fracture_after_40", "glucocorticoids", "hip_or_vertebral_fracture", "multiple_fractures"]),
)
def test_adding_glucocorticoids_or_a_fracture_never_lowers_the_category(
    female: bool, age: int, fn: float | None, ls: float | None, fx: bool, gc: bool, add: str
) -> None:
    kw: dict[str, object] = {
        "female": female, "age": age, "fn_t": _nan(fn), "ls_t": _nan(ls), "fracture_after_40": fx,
        "glucocorticoids": gc,
    }
    before = int(classify(**kw).category[0])  # type: ignore[arg-type]
    kw[add] = True
    after = int(classify(**kw).category[0])  # type: ignore[arg-type]
    if before == UNDEFINED:
        assert after in (UNDEFINED, HIGH)
    else:
        assert RANK[after] >= RANK[before]


@settings(max_examples=100)
@given(
    sex=st.sampled_from(["female", "male"]),
    age=st.integers(min_value=0, max_value=120),
    fn=maybe_t,
    ls=maybe_t,
    th=maybe_t,
    prior=st.booleans(),
    sites=st.lists(st.sampled_from(["hip", "vertebra", "wrist", "rib", "other"]), max_size=3),
    dose=st.one_of(st.none(), st.floats(min_value=0, max_value=200)),
    months=st.one_of(st.none(), st.floats(min_value=0, max_value=240)),
)
def test_it_never_raises_on_a_valid_record(
    sex: str, age: int, fn: float | None, ls: float | None, th: float | None, prior: bool, sites: list[str],
    dose: float | None, months: float | None,
) -> None:
    rec = _rec(
        sex, age, femoral_neck_t_score=fn, lumbar_spine_t_score=ls, total_hip_t_score=th, prior_fracture=prior,
        fractures=[Fracture(site=s) for s in sites], glucocorticoid_mg_per_day=dose,
        glucocorticoid_months=None if months is None else min(months, 12 * age),  # not longer than the patient lived
    )
    res = assess_caroc(rec)
    assert res.applicable == (age >= 50)
    if res.applicable:
        assert res.category in {"low", "moderate", "high", "undefined"}
