"""Entered FRAX: adjustments (Kanis 2011 glucocorticoid dose; Leslie 2011 LS/FN offset) and guideline
thresholds, against the worked examples of shared/knowledge/risk-calculators.md 2.2-2.4 (one decimal)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osteocare.core.errors import InputError
from osteocare.core.records import PatientRecord
from osteocare.core.results import CalculatorResult
from osteocare.core.risk.frax_adjust import (
    GC_HIGH,
    GC_LOW,
    GC_MEDIUM,
    GC_NOT_APPLIED,
    adjust,
    assess_frax,
    frax_thresholds,
    gc_age_column,
    gc_dose_band,
    ls_fn_offset,
    threshold_met,
    thresholds_for,
)


def _rec(**kw: object) -> PatientRecord:
    base: dict[str, object] = {
        "id": "f",
        "sex": "female",
        "age": 65,
        "frax_mof_percent": 20.0,
        "frax_hip_percent": 4.0,
        "frax_country": "US (Caucasian)",
        "frax_with_bmd": True,
    }
    base.update(kw)
    return PatientRecord.model_validate(base)


def _threshold(res: CalculatorResult, guideline: str) -> dict[str, object]:
    return next(t for t in res.details["thresholds"] if t["guideline"] == guideline)


# ---- Kanis 2011 glucocorticoid dose (risk-calculators.md 2.2a worked examples) ---------------------------


@pytest.mark.parametrize(
    ("age", "dose", "age_specific", "mof", "hip"),
    [
        (65, 7.5, False, 23.0, 4.8),  # high dose, all-ages: MOF +15, hip +20
        (65, 7.5, True, 23.0, 5.0),  # age-specific, 60 column: MOF +15, hip +25
        (80, 2.0, False, 16.0, 2.6),  # low dose, all-ages: MOF -20, hip -35
        (80, 2.0, True, 16.0, 2.8),  # age-specific, 80 column: MOF -20, hip -30
    ],
)
def test_glucocorticoid_adjustment_matches_kanis_2011_worked_examples(
    age: int, dose: float, age_specific: bool, mof: float, hip: float
) -> None:
    res = assess_frax(
        _rec(age=age, frax_glucocorticoids_ticked=True, glucocorticoid_mg_per_day=dose), age_specific=age_specific
    )
    assert res.values["mof_adjusted"].value == pytest.approx(mof, abs=1e-9)
    assert res.values["hip_adjusted"].value == pytest.approx(hip, abs=1e-9)
    assert "FRAX-ADJ-GC-DOSE" in [r.rule_id for r in res.rules_fired]
    mode = "age-specific" if age_specific else "all ages"
    assert res.details["adjustments"][0]["mode"] == mode


def test_the_kanis_examples_agree_in_one_vectorised_call() -> None:
    out = adjust(
        mof=np.array([20.0, 20.0]), hip=np.array([4.0, 4.0]), age=np.array([65, 80]), gc_ticked=True,
        gc_mg_per_day=np.array([7.5, 2.0]),
    )
    np.testing.assert_allclose(out.mof, [23.0, 16.0])
    np.testing.assert_allclose(out.hip, [4.8, 2.6])


def test_7_5_mg_exactly_is_a_high_dose_and_2_5_mg_is_medium() -> None:
    # Brief 2.2a: the table says ">= 7.5" is high (CONVENTION: 7.5 exactly is high); medium 2.5 to < 7.5.
    bands = gc_dose_band(np.array([2.4, 2.5, 7.4, 7.5, np.nan]))
    assert list(bands) == [GC_LOW, GC_MEDIUM, GC_MEDIUM, GC_HIGH, GC_NOT_APPLIED]


def test_a_medium_dose_changes_nothing() -> None:
    res = assess_frax(_rec(frax_glucocorticoids_ticked=True, glucocorticoid_mg_per_day=5.0))
    assert res.values["mof_adjusted"].value == 20.0
    assert res.values["hip_adjusted"].value == 4.0


def test_the_dose_adjustment_applies_only_when_frax_was_computed_with_glucocorticoids() -> None:
    res = assess_frax(_rec(frax_glucocorticoids_ticked=False, glucocorticoid_mg_per_day=10.0))
    assert res.values["mof_adjusted"].value == 20.0
    assert "FRAX-ADJ-GC-DOSE" not in [r.rule_id for r in res.rules_fired]
    assert any("glucocorticoids = yes" in w for w in res.warnings)


def test_it_warns_when_glucocorticoids_were_ticked_but_no_dose_is_recorded() -> None:
    res = assess_frax(_rec(frax_glucocorticoids_ticked=True))
    assert res.values["mof_adjusted"].value == 20.0
    assert any("no daily dose" in w for w in res.warnings)


@pytest.mark.parametrize(("age", "column"), [(39, 40), (40, 40), (49, 40), (65, 60), (89, 80), (90, 90), (95, 90)])
def test_the_age_specific_column_is_the_decade_of_the_age(age: int, column: int) -> None:
    assert int(gc_age_column(age)) == column


# ---- Leslie 2011 LS/FN offset (risk-calculators.md 2.2b worked table) ------------------------------------

LESLIE_TABLE = [
    (15.0, -1.5, -3.6, 2, 18.0),
    (10.0, -2.5, -1.2, -1, 9.0),
    (12.0, -2.0, -2.4, 0, 12.0),
    (10.0, -1.0, -2.5, 2, 12.0),  # 1.5 -> 2, half away from zero
    (10.0, -4.6, -3.1, -2, 8.0),  # -1.5 -> -2; binary floats give -1.4999999999999996
]


@pytest.mark.parametrize(("mof", "fn", "ls", "offset", "adjusted"), LESLIE_TABLE)
def test_ls_fn_offset_matches_the_leslie_2011_worked_table(
    mof: float, fn: float, ls: float, offset: int, adjusted: float
) -> None:
    res = assess_frax(_rec(frax_mof_percent=mof, frax_hip_percent=2.0, femoral_neck_t_score=fn,
                           lumbar_spine_t_score=ls))
    assert res.details["adjustments"][0]["offset"] == offset
    assert res.values["mof_adjusted"].value == pytest.approx(adjusted, abs=1e-9)
    assert res.values["hip_adjusted"].value == 2.0  # MOF only


def test_the_leslie_table_agrees_in_one_vectorised_call() -> None:
    mof, fn, ls, offset, adjusted = (np.array(c) for c in zip(*LESLIE_TABLE, strict=True))
    out = adjust(mof=mof, hip=1.0, age=70, fn_t=fn, ls_t=ls)
    np.testing.assert_array_equal(out.ls_offset, offset)
    np.testing.assert_allclose(out.mof, adjusted)
    np.testing.assert_allclose(out.hip, 1.0)


def test_the_offset_is_not_applied_to_a_frax_computed_without_bmd() -> None:
    res = assess_frax(_rec(frax_with_bmd=False, femoral_neck_t_score=-1.5, lumbar_spine_t_score=-3.6))
    assert res.values["mof_adjusted"].value == 20.0
    assert any("without femoral neck BMD" in w for w in res.warnings)


@given(fn10=st.integers(min_value=-80, max_value=60), ls10=st.integers(min_value=-80, max_value=60))
def test_the_offset_equals_decimal_half_away_rounding_of_the_one_decimal_difference(fn10: int, ls10: int) -> None:
    expected = int((Decimal(fn10) / 10 - Decimal(ls10) / 10).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert int(ls_fn_offset(fn10 / 10, ls10 / 10)) == expected


# ---- combining ---------------------------------------------------------------------------------------


def test_adjustments_combine_multiplicatively_and_round_once_listing_each() -> None:
    # 20 x 1.15 (high dose, all ages) x 1.2 (offset +2) = 27.6; hip 4 x 1.20 = 4.8.
    res = assess_frax(_rec(frax_glucocorticoids_ticked=True, glucocorticoid_mg_per_day=7.5,
                           femoral_neck_t_score=-1.5, lumbar_spine_t_score=-3.6))
    assert res.values["mof_adjusted"].value == pytest.approx(27.6, abs=1e-9)
    assert res.values["hip_adjusted"].value == pytest.approx(4.8, abs=1e-9)
    assert [a["id"] for a in res.details["adjustments"]] == ["gc_dose", "ls_fn_offset"]
    assert {"FRAX-ADJ-GC-DOSE", "FRAX-ADJ-LS-FN", "FRAX-ADJ-COMBINE"} <= {r.rule_id for r in res.rules_fired}


def test_rounding_of_the_combined_value_is_half_away_from_zero() -> None:
    # 10.5 x 1.15 = 12.075 exactly in decimal -> 12.1 (binary floats give 12.074999...).
    out = adjust(mof=10.5, hip=1.0, age=65, gc_ticked=True, gc_mg_per_day=7.5)
    assert float(out.mof[0]) == 12.1


# ---- thresholds ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mof", "hip", "met"), [(20.0, 0.5, True), (19.9, 2.9, False), (5.0, 3.0, True), (19.9, 3.0, True)]
)
def test_bhof_2022_frax_threshold_is_mof_20_or_hip_3_inclusive(mof: float, hip: float, met: bool) -> None:
    assert bool(threshold_met("bhof_2022_frax", mof=mof, hip=hip)) is met


@pytest.mark.parametrize(
    ("mof", "hip", "met"), [(30.0, 4.5, False), (30.1, 1.0, True), (10.0, 4.6, True)]
)
def test_aace_2020_very_high_frax_is_strictly_above_30_or_4_5(mof: float, hip: float, met: bool) -> None:
    assert bool(threshold_met("aace_2020_frax_very_high", mof=mof, hip=hip)) is met


def test_bhof_on_a_us_model_with_low_bone_mass_is_met_without_any_warning() -> None:
    bhof = frax_thresholds(20.0, 3.0, lowest_t=-2.4, country="USA")[0]
    assert bhof.guideline == "bhof-2022" and bhof.met is True
    assert bhof.status == "verified" and not bhof.warnings


def test_bhof_needs_low_bone_mass_and_is_verified() -> None:
    res = assess_frax(_rec(frax_mof_percent=21.0, femoral_neck_t_score=-1.8))
    bhof = _threshold(res, "bhof-2022")
    assert bhof["met"] is True and bhof["status"] == "verified"
    res = assess_frax(_rec(frax_mof_percent=21.0, femoral_neck_t_score=-2.5))  # osteoporosis, not low bone mass
    assert _threshold(res, "bhof-2022")["met"] is False
    res = assess_frax(_rec(frax_mof_percent=21.0))  # no T-score
    assert _threshold(res, "bhof-2022")["met"] is None


def test_thresholds_are_compared_on_the_adjusted_values() -> None:
    # MOF 18% with high-dose glucocorticoids -> 20.7% >= 20 (BHOF met); without -> not met.
    res = assess_frax(_rec(frax_mof_percent=18.0, frax_hip_percent=1.0, frax_glucocorticoids_ticked=True,
                           glucocorticoid_mg_per_day=10.0, femoral_neck_t_score=-2.0))
    assert res.values["mof_adjusted"].value == 20.7
    assert _threshold(res, "bhof-2022")["met"] is True


def test_endocrine_society_and_aace_thresholds_carry_unverified_status_with_visible_warnings() -> None:
    res = assess_frax(_rec(frax_mof_percent=31.0))
    es = _threshold(res, "es-2019")
    aace = _threshold(res, "aace-2020")
    assert es["met"] is True and es["status"] == "unverified"
    assert aace["met"] is True and aace["status"] == "unverified"
    assert any("ES-R-HIGH" in w and "unverified" in w for w in res.warnings)
    assert any("AACE-R-VH" in w and "unverified" in w for w in res.warnings)


def test_iof_esceo_and_nogg_say_their_tables_are_not_available() -> None:
    res = assess_frax(_rec())
    iof = _threshold(res, "iof-esceo-2020")
    nogg = _threshold(res, "nogg-2022")
    assert iof["met"] is None and "not available" in str(iof["text"])
    assert nogg["met"] is None
    assert "not available; enter the NOGG category from the NOGG tool" in str(nogg["text"])


def test_the_country_model_is_shown_and_a_missing_one_is_flagged() -> None:
    res = assess_frax(_rec(frax_country=None))
    assert res.details["country_model"] is None
    assert any("country model not recorded" in w for w in res.warnings)
    assert "NOT RECORDED" in res.rules_fired[0].text


def test_a_vietnam_country_model_is_flagged_as_not_confirmed() -> None:
    res = assess_frax(_rec(frax_country="Vietnam"))
    assert any("Vietnam" in w and "No confirmed" in w for w in res.warnings)


def test_us_guidelines_warn_when_a_non_us_model_was_used() -> None:
    res = assess_frax(_rec(frax_country="Thailand"))
    assert any("bhof-2022 thresholds are set for the US FRAX model" in w for w in res.warnings)
    assert any("surrogate" in w for w in res.warnings)


def test_frax_thresholds_are_never_applied_to_qfracture() -> None:
    q = CalculatorResult(calculator="qfracture-2012", name="QFracture-2012 equations")
    with pytest.raises(InputError) as err:
        thresholds_for(q)
    assert "QFracture" in err.value.allowed
    ok = thresholds_for(assess_frax(_rec()))
    assert len(ok) == 5


def test_it_is_not_applicable_without_an_entered_frax() -> None:
    res = assess_frax(_rec(frax_mof_percent=None, frax_hip_percent=None))
    assert not res.applicable and res.reason is not None
    assert "frax_mof_percent" in res.reason and "never computes FRAX" in res.reason


# ---- properties ---------------------------------------------------------------------------------------

percent = st.integers(min_value=0, max_value=1000).map(lambda x: x / 10)


@given(mof=percent, hip=percent, age=st.integers(40, 90), d1=st.floats(0, 50), d2=st.floats(0, 50))
def test_a_higher_glucocorticoid_dose_never_lowers_the_adjusted_values(
    mof: float, hip: float, age: int, d1: float, d2: float
) -> None:
    lo, hi = sorted((d1, d2))
    for spec in (False, True):
        a = adjust(mof=mof, hip=hip, age=age, gc_ticked=True, gc_mg_per_day=lo, age_specific=spec)
        b = adjust(mof=mof, hip=hip, age=age, gc_ticked=True, gc_mg_per_day=hi, age_specific=spec)
        assert b.mof[0] >= a.mof[0] and b.hip[0] >= a.hip[0]


@given(mof=percent, fn10=st.integers(-60, 30), ls10=st.integers(-60, 30), drop=st.integers(1, 30))
def test_a_lower_spine_t_score_never_lowers_the_adjusted_mof(mof: float, fn10: int, ls10: int, drop: int) -> None:
    a = adjust(mof=mof, hip=1.0, age=70, fn_t=fn10 / 10, ls_t=ls10 / 10)
    b = adjust(mof=mof, hip=1.0, age=70, fn_t=fn10 / 10, ls_t=(ls10 - drop) / 10)
    assert b.mof[0] >= a.mof[0]


@given(mof=percent, hip=percent, a=percent, b=percent)
def test_a_higher_frax_never_turns_a_met_threshold_into_not_met(mof: float, hip: float, a: float, b: float) -> None:
    for fact in ("bhof_2022_frax", "es_2019_frax", "aace_2020_frax_very_high"):
        if threshold_met(fact, mof=mof, hip=hip):
            assert threshold_met(fact, mof=mof + a, hip=hip + b)


@settings(max_examples=100)
@given(
    sex=st.sampled_from(["female", "male"]),
    age=st.integers(0, 120),
    mof=st.one_of(st.none(), percent),
    hip=percent,
    ticked=st.one_of(st.none(), st.booleans()),
    dose=st.one_of(st.none(), st.floats(0, 200)),
    fn=st.one_of(st.none(), st.integers(-80, 60).map(lambda x: x / 10)),
    ls=st.one_of(st.none(), st.integers(-80, 60).map(lambda x: x / 10)),
    bmd=st.one_of(st.none(), st.booleans()),
    country=st.one_of(st.none(), st.sampled_from(["US", "UK", "Vietnam", "Thailand", "Japan"])),
    spec=st.booleans(),
)
def test_it_never_raises_on_a_valid_record(
    sex: str, age: int, mof: float | None, hip: float, ticked: bool | None, dose: float | None,
    fn: float | None, ls: float | None, bmd: bool | None, country: str | None, spec: bool,
) -> None:
    rec = PatientRecord.model_validate({
        "id": "p", "sex": sex, "age": age, "frax_mof_percent": mof,
        "frax_hip_percent": hip if mof is None else min(hip, mof),  # a major osteoporotic fracture includes the hip
        "frax_glucocorticoids_ticked": ticked, "glucocorticoid_mg_per_day": dose, "femoral_neck_t_score": fn,
        "lumbar_spine_t_score": ls, "frax_with_bmd": bmd, "frax_country": country,
    })
    res = assess_frax(rec, age_specific=spec)
    assert res.applicable == (mof is not None)
    if res.applicable:
        assert len(res.details["thresholds"]) == 5
