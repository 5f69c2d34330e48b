"""Findings of a clinical review, each checked against the shared knowledge it cites:

* denosumab is urgent FROM the due date + 28 days, inclusive (treatment.md 4, DMAB-LATE: "Default (CONVENTION):
  urgent from due date + 28 days"), in the assessment as in the clinic worklist (``core.schedule.timeliness``);
* a 25(OH)D is compared with its target as it is shown, rounded half away from zero to one decimal (knowledge
  README, general conventions; BHOF 25(OH)D target 30-50 ng/mL, treatment.md 7);
* the ``prior_fracture`` flag alone (QFracture's previous fracture at an osteoporotic site, risk-calculators.md
  1.4) does not say where: a rule that needs a hip or spine fracture is undecided on it, never "no";
* CAROC and the FRAX LS/FN offset read the T-score that decides at each site in the bone-density result, and
  CAROC only a femoral neck T-score against NHANES III white women (risk-calculators.md 4, CAROC-TSCORE);
* the sequencing drug lists, fracture sites and counts are read from the knowledge file (treatment.md 4);
* QFracture's BMI refusal shows the value so that it reads on the side of the range it is on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from osteocare.core.assessment import assess
from osteocare.core.drugs import recommend
from osteocare.core.drugs.lifestyle import vitamin_d_item
from osteocare.core.drugs.sequencing import advise
from osteocare.core.guidelines import DerivedFacts, derived_facts_from_record
from osteocare.core.guidelines.conditions import drug_ids
from osteocare.core.guidelines.engine import StratumResult
from osteocare.core.guidelines.rulesets import sequencing_file
from osteocare.core.records import PatientRecord, parse_record
from osteocare.core.risk import qfracture
from osteocare.core.risk.caroc import assess_caroc
from osteocare.core.risk.frax_adjust import assess_frax
from osteocare.core.schedule import add_months, timeliness

# --- 1. denosumab: urgent from due + 28 days, as the worklist says ------------------------------------------------

LAST = dt.date(2025, 1, 10)
DUE = dt.date(2025, 7, 10)  # 6 calendar months after the last injection (DMAB-LATE)


def _dmab_give_dose(day: dt.date) -> dict[str, Any]:
    r = PatientRecord(id="d", sex="female", age=70, menopausal_status="postmenopausal", femoral_neck_t_score=-2.7,
                      frax_mof_percent=20, frax_hip_percent=4, frax_country="US",
                      medications=[{"drug": "denosumab", "start": "2023-01-10", "last_dose": LAST.isoformat()}])
    a = assess(r, as_of=day)
    assert a.recommendation is not None
    (item,) = [s for s in a.recommendation["sequencing"] if s["action"] == "give_dose"]
    return dict(item)


def test_denosumab_is_urgent_on_the_28th_day_after_the_due_date_and_overdue_on_the_27th() -> None:
    on_27 = _dmab_give_dose(DUE + dt.timedelta(days=27))
    assert (on_27["urgency"], on_27["rule_id"]) == ("soon", "DMAB-LATE")
    on_28 = _dmab_give_dose(DUE + dt.timedelta(days=28))
    assert (on_28["urgency"], on_28["rule_id"]) == ("urgent", "DMAB-URGENT")


@pytest.mark.parametrize("offset", [-1, 0, 1, 26, 27, 28, 29, 60])
def test_the_assessment_and_the_clinic_worklist_agree_on_a_late_denosumab(offset: int) -> None:
    day = DUE + dt.timedelta(days=offset)
    days = int(sequencing_file().value("dmab_urgent_days_after_due"))
    clinic = timeliness(DUE, day, urgent_after_days=days)
    expected = {"not_yet_due": "routine", "due": "routine", "overdue": "soon", "urgent": "urgent"}[clinic]
    assert _dmab_give_dose(day)["urgency"] == expected


def _stopped_dmab(day: dt.date) -> dict[str, Any]:
    r = PatientRecord(id="s", sex="female", age=70, menopausal_status="postmenopausal", lumbar_spine_t_score=-2.2,
                      medications=[{"drug": "denosumab", "start": "2021-06-01", "last_dose": LAST.isoformat(),
                                    "end": "2025-02-01"}])
    a = assess(r, guideline="endocrine-society-2019", as_of=day)
    assert a.recommendation is not None
    (item,) = [s for s in a.recommendation["sequencing"] if s["rule_id"] == "DMAB-NOSTOP"]
    return dict(item)


def test_a_stopped_denosumab_without_follow_on_is_urgent_late_from_the_switch_date_plus_28_days() -> None:
    switch_due = add_months(LAST, int(sequencing_file().value("dmab_switch_after_months")))
    urgent_text = str(sequencing_file().value("DMAB-URGENT"))
    assert urgent_text not in _stopped_dmab(switch_due + dt.timedelta(days=27))["text"]
    assert urgent_text in _stopped_dmab(switch_due + dt.timedelta(days=28))["text"]


# --- 2. 25(OH)D compared as shown ----------------------------------------------------------------------------------


def _vitd(value: float, unit: str) -> dict[str, Any]:
    r = PatientRecord(id="v", sex="female", age=68,
                      labs=[{"name": "vitamin_d_25oh", "value": value, "unit": unit, "date": "2025-12-01"}])
    return vitamin_d_item(r, "bhof-2022", dt.date(2026, 1, 1)).model_dump()


@pytest.mark.parametrize(("value", "unit"), [(74.8, "nmol/L"), (29.96, "ng/mL")])
def test_a_25ohd_shown_as_30_0_ng_ml_is_within_the_bhof_target_not_below_it(value: float, unit: str) -> None:
    item = _vitd(value, unit)
    assert item["values"]["latest_25ohd_ng_ml"] == 30.0
    assert "below_target" not in item["values"]
    assert "30.0 ng/mL on 2025-12-01 is within target" in item["text"]


def test_a_25ohd_shown_as_29_9_ng_ml_is_below_the_bhof_target() -> None:
    item = _vitd(29.94, "ng/mL")
    assert item["values"]["latest_25ohd_ng_ml"] == 29.9 and item["values"]["below_target"] is True
    assert "29.9 ng/mL on 2025-12-01 is BELOW target" in item["text"]


def test_a_25ohd_shown_as_50_0_ng_ml_is_within_the_bhof_upper_limit() -> None:
    item = _vitd(50.04, "ng/mL")
    assert item["values"]["latest_25ohd_ng_ml"] == 50.0
    assert "is within target" in item["text"]


def test_the_25ohd_is_rounded_half_away_from_zero_not_half_to_even() -> None:
    assert _vitd(30.25, "ng/mL")["values"]["latest_25ohd_ng_ml"] == 30.3  # round(30.25, 1) would give 30.2


# --- 3. the prior_fracture flag alone does not say where -----------------------------------------------------------

FLAG_ONLY: dict[str, Any] = {"id": "f", "sex": "female", "age": 68, "weight_kg": 60, "height_cm": 158,
                             "menopausal_status": "postmenopausal", "frax_country": "US", "frax_with_bmd": True,
                             "femoral_neck_t_score": -0.5, "frax_mof_percent": 8, "frax_hip_percent": 1,
                             "prior_fracture": True}


@pytest.mark.parametrize("guideline", ["bhof-2022", "endocrine-society-2019"])
def test_the_prior_fracture_flag_alone_leaves_a_hip_or_spine_fracture_rule_undecided(guideline: str) -> None:
    a = assess(PatientRecord.model_validate(FLAG_ONLY), guideline=guideline, as_of=dt.date(2026, 1, 1))
    assert a.recommendation is not None
    st = a.recommendation["stratum"]
    assert st["stratum"] is None and "fracture site" in st["missing"]


def test_a_recorded_hip_fracture_still_decides_bhof() -> None:
    rec = {**FLAG_ONLY, "prior_fracture": False, "fractures": [{"site": "hip", "date": "2024-01-01"}]}
    a = assess(PatientRecord.model_validate(rec), guideline="bhof-2022", as_of=dt.date(2026, 1, 1))
    assert a.recommendation is not None and a.recommendation["stratum"]["stratum"] == "high"


# --- 4. one T-score per site: CAROC and FRAX read what bone density decided ------------------------------------------

AS_OF = dt.date(2026, 1, 1)


def test_caroc_and_the_frax_offset_use_the_dxa_exam_that_decides_the_who_category() -> None:
    """The DXA exam (FN -2.8, LS -1.0) decides over the summary fields (-1.5, -1.5): woman 67, row 65,
    -3.5 <= -2.8 <= -1.9 -> moderate; FN - LS = -1.8, offset -2, MOF 10% x 0.8 = 8.0% (risk-calculators.md 2.2b)."""
    r = PatientRecord(id="t", sex="female", age=67, menopausal_status="postmenopausal", femoral_neck_t_score=-1.5,
                      lumbar_spine_t_score=-1.5, frax_mof_percent=10, frax_hip_percent=1, frax_country="US",
                      frax_with_bmd=True, dxa=[{"site": "femoral_neck", "date": "2025-06-01", "t_score": -2.8},
                                               {"site": "lumbar_spine", "date": "2025-06-01", "t_score": -1.0}])
    a = assess(r, as_of=AS_OF)
    bd, car, frax = a.results["bone-density"], a.results["caroc-2010"], a.results["frax-entered"]
    assert car.values["femoral_neck_t_score"].value == bd.values["femoral_neck_t_score"].value == -2.8
    assert car.category == "moderate"
    assert frax.values["mof_adjusted"].value == 8.0
    assert frax.details["adjustments"] == [{"id": "ls_fn_offset", "offset": -2, "mof_factor": 0.8}]
    assert any("lowest T -2.8" in t["text"] for t in frax.details["thresholds"])
    # called on its own, each calculator reads the same T-scores as the assessment
    assert assess_caroc(r).model_dump() == car.model_dump()
    assert assess_frax(r).values["mof_adjusted"].value == 8.0


def test_caroc_uses_the_femoral_neck_t_score_computed_from_raw_bmd_against_nhanes_iii() -> None:
    """FN BMD 0.600 g/cm2 (Hologic): T = (0.600 - 0.858) / 0.120 = -2.15 -> -2.2 (bone-density.md 1-2), the
    WHO category's T; woman 67, row 65 -> moderate."""
    r = PatientRecord(id="t", sex="female", age=67, menopausal_status="postmenopausal", femoral_neck_bmd_g_cm2=0.600,
                      densitometer_manufacturer="hologic")
    a = assess(r, as_of=AS_OF)
    car = a.results["caroc-2010"]
    assert a.results["bone-density"].values["femoral_neck_t_score"].value == -2.2
    assert car.category == "moderate" and car.values["femoral_neck_t_score"].value == -2.2
    assert car.values["femoral_neck_t_score_reference"].value == "NHANES III white female 20-29"


@pytest.mark.parametrize("reference", ["Vietnam Hanoi 2009", "NHANES III white male", "manufacturer (men)"])
def test_caroc_does_not_use_a_femoral_neck_t_score_reported_against_another_reference(reference: str) -> None:
    r = PatientRecord(id="t", sex="female", age=67, menopausal_status="postmenopausal",
                      dxa=[{"site": "femoral_neck", "date": "2025-06-01", "t_score": -2.8, "reference": reference}])
    car = assess(r, as_of=AS_OF).results["caroc-2010"]
    assert car.category == "undefined" and "femoral_neck_t_score" not in car.values
    assert any(reference in w and "NHANES III white-women" in w for w in car.warnings)


@pytest.mark.parametrize("reference", [None, "manufacturer", "NHANES III white female", "NHANES III"])
def test_caroc_uses_a_reported_femoral_neck_t_score_of_the_densitometers_nhanes_reference(
    reference: str | None,
) -> None:
    r = PatientRecord(id="t", sex="female", age=67, menopausal_status="postmenopausal",
                      dxa=[{"site": "femoral_neck", "date": "2025-06-01", "t_score": -2.8, "reference": reference}])
    assert assess(r, as_of=AS_OF).results["caroc-2010"].category == "moderate"


def test_a_spine_the_iscd_positions_exclude_gives_no_ls_fn_offset() -> None:
    """Fewer than 2 evaluable vertebrae: the spine does not decide (bone-density.md 4), so FRAX has no LS T-score."""
    r = PatientRecord(id="t", sex="female", age=67, menopausal_status="postmenopausal", frax_mof_percent=10,
                      frax_hip_percent=1, frax_country="US", frax_with_bmd=True,
                      dxa=[{"site": "femoral_neck", "date": "2025-06-01", "t_score": -1.5},
                           {"site": "lumbar_spine", "date": "2025-06-01", "t_score": -3.6, "evaluable_vertebrae": 1}])
    frax = assess(r, as_of=AS_OF).results["frax-entered"]
    assert frax.values["mof_adjusted"].value == 10.0
    assert "FRAX-ADJ-LS-FN" not in [x.rule_id for x in frax.rules_fired]


# --- 5. sequencing lists from the knowledge file ----------------------------------------------------------------

DRUG_LISTS = ("dmab_switch_drugs", "anabolic_followon_drugs", "switch_fail_after_oral_drugs", "anabolic_drugs")


@pytest.mark.parametrize("name", DRUG_LISTS)
def test_each_sequencing_drug_list_names_drugs_that_exist(name: str) -> None:
    drugs = sequencing_file().value(name)
    assert drugs and set(drugs) <= drug_ids()


def test_the_bisphosphonate_continue_criteria_name_hip_and_spine_fractures_and_multiple_ones() -> None:
    """BP-HOLIDAY-2: "previous major osteoporotic fracture (hip, spine, multiple)" (treatment.md 4)."""
    kf = sequencing_file()
    assert kf.value("bp_continue_fracture_sites") == ["hip", "vertebra"]
    assert kf.value("bp_continue_fractures_min") == 2


def _with(monkeypatch: pytest.MonkeyPatch, name: str, value: Any) -> None:
    kf = sequencing_file()
    monkeypatch.setitem(kf.facts, name, kf.fact(name).model_copy(update={"value": value}))


BP_LOW_RISK: dict[str, Any] = {"id": "b", "sex": "female", "age": 68, "menopausal_status": "postmenopausal",
                               "femoral_neck_t_score": -1.2, "total_hip_t_score": -1.0, "frax_mof_percent": 8,
                               "frax_hip_percent": 1, "frax_country": "US",
                               "medications": [{"drug": "alendronate", "start": "2019-01-15"}]}


def _bp_rules(**extra: Any) -> list[str]:
    a = assess(PatientRecord.model_validate({**BP_LOW_RISK, **extra}), guideline="bhof-2022",
               as_of=dt.date(2025, 3, 1))
    assert a.recommendation is not None
    return [s["rule_id"] for s in a.recommendation["sequencing"]]


def test_still_high_risk_reads_the_fracture_count_from_the_sequencing_file(monkeypatch: pytest.MonkeyPatch) -> None:
    two = [{"site": "wrist", "date": "2015-01-01"}, {"site": "rib", "date": "2016-01-01"}]
    assert "BP-HOLIDAY-2" in _bp_rules(fractures=two)
    _with(monkeypatch, "bp_continue_fractures_min", 3)
    assert "BP-HOLIDAY-3" in _bp_rules(fractures=two)


def test_still_high_risk_reads_the_fracture_sites_from_the_sequencing_file(monkeypatch: pytest.MonkeyPatch) -> None:
    one = [{"site": "wrist", "date": "2015-01-01"}]
    assert "BP-HOLIDAY-3" in _bp_rules(fractures=one)
    _with(monkeypatch, "bp_continue_fracture_sites", ["hip", "vertebra", "wrist"])
    assert "BP-HOLIDAY-2" in _bp_rules(fractures=one)


def _seq(patient: dict[str, Any], as_of: dt.date, **derived: Any) -> list[Any]:
    record = parse_record(patient)
    facts = DerivedFacts.model_validate({**derived_facts_from_record(record).model_dump(), **derived})
    return recommend(record, facts, guideline="endocrine-society-2019", as_of=as_of).sequencing


def test_the_drug_after_stopping_denosumab_comes_from_the_sequencing_file(monkeypatch: pytest.MonkeyPatch) -> None:
    patient = {"id": "s", "sex": "female", "age": 70, "menopausal_status": "postmenopausal",
               "lumbar_spine_t_score": -2.2,
               "medications": [{"drug": "denosumab", "start": "2021-06-01", "last_dose": "2024-06-01",
                                "end": "2024-12-01"}]}
    (a,) = [x for x in _seq(patient, dt.date(2025, 2, 1), crcl_ml_min=55) if x.rule_id == "DMAB-NOSTOP"]
    assert (a.drug, a.alternatives) == ("zoledronic_acid", ["zoledronic_acid", "alendronate"])
    _with(monkeypatch, "dmab_switch_drugs", ["alendronate", "zoledronic_acid"])
    (a,) = [x for x in _seq(patient, dt.date(2025, 2, 1), crcl_ml_min=55) if x.rule_id == "DMAB-NOSTOP"]
    assert (a.drug, a.alternatives) == ("alendronate", ["alendronate", "zoledronic_acid"])


def test_the_follow_on_after_an_anabolic_comes_from_the_sequencing_file(monkeypatch: pytest.MonkeyPatch) -> None:
    patient = {"id": "r", "sex": "female", "age": 70, "menopausal_status": "postmenopausal",
               "lumbar_spine_t_score": -3.2,
               "medications": [{"drug": "romosozumab", "start": "2024-01-01", "end": "2024-12-01"}]}
    (a,) = [x for x in _seq(patient, dt.date(2025, 2, 1), crcl_ml_min=55) if x.rule_id == "ANAB-THEN-AR-ROMO"]
    assert a.alternatives == ["alendronate", "risedronate", "zoledronic_acid", "denosumab"]
    assert a.status == "verified"  # the list is a CONVENTION: it does not lower the verified rule
    _with(monkeypatch, "anabolic_followon_drugs", ["denosumab", "zoledronic_acid"])
    (a,) = [x for x in _seq(patient, dt.date(2025, 2, 1), crcl_ml_min=55) if x.rule_id == "ANAB-THEN-AR-ROMO"]
    assert (a.drug, a.alternatives) == ("denosumab", ["denosumab", "zoledronic_acid"])


def test_the_switch_after_failure_on_an_oral_bisphosphonate_comes_from_the_sequencing_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patient = {"id": "tf", "sex": "female", "age": 74, "menopausal_status": "postmenopausal",
               "lumbar_spine_t_score": -2.9, "medications": [{"drug": "alendronate", "start": "2022-01-01"}],
               "fractures": [{"site": "vertebra", "date": "2023-06-01", "on_treatment": True},
                             {"site": "humerus", "date": "2024-08-01", "on_treatment": True}]}
    kw = {"crcl_ml_min": 60, "egfr_ml_min_1_73m2": 65}
    (a,) = [x for x in _seq(patient, dt.date(2025, 3, 1), **kw) if x.rule_id == "TF-FAILURE"]
    assert a.alternatives[:2] == ["zoledronic_acid", "denosumab"]
    _with(monkeypatch, "switch_fail_after_oral_drugs", ["denosumab"])
    _with(monkeypatch, "anabolic_drugs", ["romosozumab"])
    (a,) = [x for x in _seq(patient, dt.date(2025, 3, 1), **kw) if x.rule_id == "TF-FAILURE"]
    assert [d for d in a.alternatives if d != "romosozumab"] == ["denosumab"]


# --- 6. QFracture's BMI refusal reads on its side of the range -------------------------------------------------


@pytest.mark.parametrize(("bmi", "text"), [
    (19.99, "BMI 19.99 is below the model range 20-40"),
    (40.01, "BMI 40.01 is above the model range 20-40"),
    (19.96, "BMI 19.96 is below the model range 20-40"),
    (18.4, "BMI 18.4 is below the model range 20-40"),
    (17.578125, "BMI 17.6 is below the model range 20-40"),
])
def test_a_bmi_outside_the_qfracture_range_is_shown_on_its_side_of_the_range(bmi: float, text: str) -> None:
    res = qfracture.assess_qfracture(PatientRecord(id="q", sex="female", age=60, bmi=bmi))
    assert not res.applicable and res.reason is not None and text in res.reason


def test_the_prior_fracture_flag_alone_leaves_the_bisphosphonate_continue_criteria_undecided() -> None:
    """BP-HOLIDAY-2's hip or spine fracture and its 'multiple' fractures cannot be read from the flag alone: with
    the rest pointing to a holiday, the advice is to reassess (missing the fracture site), never the holiday."""
    record = parse_record({**BP_LOW_RISK, "prior_fracture": True})
    facts = derived_facts_from_record(record)
    low = StratumResult(guideline="bhof-2022", guideline_name="BHOF 2022", as_of=dt.date(2025, 3, 1), stratum="low",
                        label="low", treat=False)
    out = advise(record, facts, low, [], as_of=dt.date(2025, 3, 1))
    (a,) = [x for x in out if x.rule_id.startswith("BP-HOLIDAY")]
    assert (a.rule_id, a.action) == ("BP-HOLIDAY-1", "reassess") and "fracture site" in a.text
    out = advise(parse_record(BP_LOW_RISK), facts, low, [], as_of=dt.date(2025, 3, 1))
    assert [x.action for x in out if x.rule_id.startswith("BP-HOLIDAY")] == ["drug_holiday"]
