"""recommend(), the lifestyle block and the text report, against the briefs' rules (treatment.md 3-8)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from osteocare.core.drugs import check_contraindications, recommend, steadi_brochure_score
from osteocare.core.errors import InputError
from osteocare.core.guidelines import DerivedFacts, FallsScreen, derived_facts_from_record
from osteocare.core.records import parse_record

AS_OF = dt.date(2025, 3, 1)


def _rec(guideline: str = "endocrine-society-2019", derived: dict[str, Any] | None = None, **fields: Any) -> Any:
    record = parse_record({"id": "t", "sex": "female", "age": 70, "menopausal_status": "postmenopausal", **fields})
    facts = derived_facts_from_record(record).model_copy(update=derived or {})
    return recommend(record, facts, guideline=guideline, as_of=AS_OF)


def _item(rec: Any, topic: str) -> Any:
    return next(i for i in rec.lifestyle.items if i.topic == topic)


@pytest.mark.parametrize(("sex", "age", "target"), [
    ("female", 45, 1000), ("male", 45, 1000), ("female", 51, 1200), ("female", 70, 1200),
    ("male", 51, 1000), ("male", 70, 1000), ("male", 71, 1200), ("female", 85, 1200),
])
def test_the_calcium_target_follows_the_iom_bands(sex: str, age: int, target: int) -> None:
    fields: dict[str, Any] = {"sex": sex, "age": age}
    if sex == "male":
        fields["menopausal_status"] = None
    assert _item(_rec(**fields), "calcium").values["target_mg_per_day"] == target


def test_it_suggests_a_supplement_only_for_the_gap_between_diet_and_target() -> None:
    ca = _item(_rec(dietary_calcium_mg_per_day=700), "calcium")
    assert ca.values["supplement_mg_per_day"] == 500
    assert "diet first" in ca.text


def test_it_suggests_no_calcium_supplement_when_diet_meets_the_target() -> None:
    assert _item(_rec(dietary_calcium_mg_per_day=1300), "calcium").values["supplement_mg_per_day"] == 0


def test_it_asks_for_dietary_calcium_when_not_recorded() -> None:
    assert "not recorded" in _item(_rec(), "calcium").text


def test_the_25ohd_target_is_bhofs_30_to_50_ng_ml_under_bhof() -> None:
    vd = _item(_rec("bhof-2022"), "vitamin_d")
    assert vd.values["target_ng_ml"] == [30, 50]


def test_a_25ohd_in_nmol_l_is_converted_and_the_unverified_factor_lowers_the_status() -> None:
    vd = _item(_rec("bhof-2022", labs=[{"name": "vitamin_d_25oh", "value": 49.92, "unit": "nmol/L",
                                        "date": "2025-01-01"}]), "vitamin_d")
    assert vd.values["latest_25ohd_ng_ml"] == 20.0
    assert vd.values["below_target"] is True
    assert vd.status == "unverified"


def test_vitamin_d_intake_is_800_iu_from_age_71_and_600_before() -> None:
    assert _item(_rec(age=71), "vitamin_d").values["intake_iu_per_day"] == 800
    assert _item(_rec(age=70), "vitamin_d").values["intake_iu_per_day"] == 600


def test_the_stay_independent_brochure_scores_two_for_a_fall_and_a_walker() -> None:
    assert steadi_brochure_score(["fallen_past_year", "cane_or_walker"]) == (4, True)
    assert steadi_brochure_score(["worried", "rush_toilet", "unsteady_walking"]) == (3, False)


def test_a_fall_in_the_past_year_makes_the_falls_screen_positive_and_leads_to_assessment() -> None:
    rec = _rec(falls_history=[{"date": "2024-11-01"}])
    assert rec.lifestyle.falls_screen == "positive"
    assert "Timed Up-and-Go" in _item(rec, "falls").text


def test_key_questions_answered_no_make_the_screen_negative() -> None:
    screen = FallsScreen(key_questions={"fallen_past_year": False, "unsteady": False, "worries": False})
    assert _rec(derived={"falls_screen": screen}).lifestyle.falls_screen == "negative"


def test_without_answers_or_falls_the_screen_is_not_done_never_negative() -> None:
    assert _rec().lifestyle.falls_screen == "not_done"


def test_a_patient_who_needs_no_drug_gets_lifestyle_advice_and_no_early_dxa() -> None:
    rec = _rec(femoral_neck_t_score=-0.5, lumbar_spine_t_score=0.1, frax_mof_percent=6, frax_hip_percent=0.4,
               frax_country="US", dxa=[{"site": "femoral_neck", "date": "2025-02-01", "t_score": -0.5}])
    assert rec.stratum.stratum == "low" and not rec.options and rec.no_drug_reason is not None
    assert not rec.before_first_dose
    dxa = next(f for f in rec.follow_up if f.rule_id == "MON-BMD-NOREPEAT")
    assert dxa.due_from == dt.date(2027, 2, 1)
    assert {i.topic for i in rec.lifestyle.items} >= {"calcium", "vitamin_d", "exercise", "falls"}


def test_a_treated_patient_gets_bmd_and_annual_review_dates() -> None:
    rec = _rec(lumbar_spine_t_score=-2.7, derived={"crcl_ml_min": 60.0})
    bmd = next(f for f in rec.follow_up if f.rule_id == "ES-11.1")
    assert (bmd.due_from, bmd.due_by) == (dt.date(2026, 3, 1), dt.date(2028, 3, 1))
    assert next(f for f in rec.follow_up if f.rule_id == "MON-ANNUAL").due_by == dt.date(2026, 3, 1)


def test_options_say_how_and_where_the_drug_is_given() -> None:
    rec = _rec(lumbar_spine_t_score=-2.7, derived={"crcl_ml_min": 60.0})
    zol = next(o for o in rec.options if o.drug == "zoledronic_acid")
    assert zol.how.route == "intravenous infusion" and zol.how.setting == "hospital"
    aln = next(o for o in rec.options if o.drug == "alendronate")
    assert "plain water" in aln.how.administration


def test_options_are_ranked_first_line_before_alternatives() -> None:
    rec = _rec(lumbar_spine_t_score=-2.7, derived={"crcl_ml_min": 60.0})
    tiers = [o.tier for o in rec.options]
    assert tiers == sorted(tiers, key=["first_line", "alternative"].index)
    assert [o.rank for o in rec.options] == list(range(1, len(rec.options) + 1))


def test_the_report_leads_with_what_to_act_on() -> None:
    rec = _rec(lumbar_spine_t_score=-2.7, medications=[{"drug": "denosumab", "start": "2022-01-01",
                                                        "last_dose": "2024-06-01"}])
    text = rec.to_text()
    assert text.index("ACT ON THIS FIRST") < text.index("RISK STRATUM") < text.index("TREATMENT OPTIONS")
    assert "URGENT" in text and "(status: unverified)" in text


def test_check_contraindications_refuses_an_unknown_drug() -> None:
    record = parse_record({"id": "t", "sex": "female", "age": 70})
    with pytest.raises(InputError, match="alendronate"):
        check_contraindications(record, DerivedFacts(), "strontium", as_of=AS_OF)


def test_it_refuses_zoledronic_acid_below_35_ml_min() -> None:
    record = parse_record({"id": "t", "sex": "female", "age": 80})
    hits = check_contraindications(record, DerivedFacts(crcl_ml_min=34.0), "zoledronic_acid", as_of=AS_OF)
    assert [(h.kind, h.rule_id, h.status) for h in hits] == [("must_not", "ZOL-KIDNEY", "secondary")]
    assert "RECLAST" in hits[0].citation.text


def test_hits_are_sorted_must_not_then_fix_first_then_caution() -> None:
    record = parse_record({"id": "t", "sex": "female", "age": 70, "conditions": [
        {"code": "active_upper_gi_disease"}, {"code": "hypocalcaemia"}, {"code": "achalasia"}]})
    kinds = [h.kind for h in check_contraindications(record, DerivedFacts(), "alendronate", as_of=AS_OF)]
    assert kinds == ["must_not", "fix_first", "caution"]
