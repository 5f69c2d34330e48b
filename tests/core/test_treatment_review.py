"""The treatment review's findings (2026-12): advice about a drug already taken is checked as a new option would be,
history items count when resolved, intolerances weigh on the options, fractures before a course are not failure on
it, switch alternatives respect the guideline, and an independent oracle of the absolute contraindications.

The oracle (:func:`blocked`) is typed by hand from shared/knowledge/treatment.md section 3 (absolute
contraindications, 'avoid' and 'do not use' = block, treatment.md 0), not read from the project's knowledge files,
so that it notices a contraindication missing from them.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_drugs_properties import derived, records

from osteocare.core.drugs import check_contraindications, recommend
from osteocare.core.guidelines import DerivedFacts, available_guidelines, derived_facts_from_record
from osteocare.core.records import PatientRecord, parse_record

AS_OF = dt.date(2025, 3, 1)
GIVE = ("continue", "give_dose", "restart")


# --- the oracle: treatment.md 3, by hand ------------------------------------------------------------------------

OESOPHAGUS = {"oesophageal_stricture", "achalasia", "oesophageal_abnormality_delayed_emptying"}
# 'prior', 'past', 'history of': count even when recorded as resolved
HISTORY = {"prior_skeletal_radiation", "venous_thromboembolism", "hereditary_osteosarcoma_predisposition",
           "bone_metastases", "skeletal_malignancy"}
HYPERSENSITIVITY = ("hypersensitivity", "anaphylaxis", "anaphylactic", "allergy", "allergic", "angioedema",
                    "erythema multiforme")  # romosozumab label (3.8): angioedema, erythema multiforme


def _within_12_months(day: dt.date, as_of: dt.date) -> bool:
    y, m = (as_of.year, as_of.month - 12) if as_of.month > 12 else (as_of.year - 1, as_of.month)
    start = dt.date(y, m, min(as_of.day, calendar.monthrange(y, m)[1]))
    return start <= day <= as_of


def _present(rec: PatientRecord, code: str, as_of: dt.date) -> bool:
    for c in rec.conditions:
        if c.code != code or (c.onset is not None and c.onset > as_of):
            continue
        if code in HISTORY or c.resolved is None or c.resolved > as_of:
            return True
    return False


def blocked(rec: PatientRecord, facts: DerivedFacts, drug: str, as_of: dt.date, region: str) -> list[str]:
    """The absolute contraindications of ``drug`` for this patient (empty: none) per treatment.md 3."""
    def has(*codes: str) -> bool:
        return any(_present(rec, c, as_of) for c in codes)

    crcl = None if facts.crcl_ml_min is None else round(facts.crcl_ml_min + 1e-9, 1)
    egfr = None if facts.egfr_ml_min_1_73m2 is None else round(facts.egfr_ml_min_1_73m2 + 1e-9, 1)
    r: list[str] = []
    if any(i.drug == drug and any(t in i.reaction.lower() for t in HYPERSENSITIVITY) for i in rec.intolerances):
        r.append("hypersensitivity")
    if drug in ("alendronate", "risedronate", "ibandronate"):
        if has(*OESOPHAGUS):
            r.append("oesophageal abnormality")
        if has("cannot_sit_upright_30_min") or (drug == "ibandronate" and has("cannot_sit_upright_60_min")):
            r.append("cannot stay upright")
        if crcl is not None and crcl < (35 if drug == "alendronate" else 30):
            r.append("CrCl")
        if drug == "alendronate" and has("pregnancy", "breastfeeding"):
            r.append("pregnancy")
    if drug == "zoledronic_acid":
        if has("acute_kidney_injury"):
            r.append("acute renal impairment")
        if crcl is not None and crcl < 35:
            r.append("CrCl")
        if has("pregnancy", "breastfeeding"):
            r.append("pregnancy")
    if drug == "denosumab":
        if has("pregnancy"):
            r.append("pregnancy")
        if (egfr is not None and egfr < 30) or has("dialysis"):
            r.append("eGFR < 30 (specialist supervision)")
    if drug in ("teriparatide", "abaloparatide"):
        if has("pagets_disease", "unexplained_raised_alkaline_phosphatase", "open_epiphyses", "prior_skeletal_radiation",
               "bone_metastases", "skeletal_malignancy", "hereditary_osteosarcoma_predisposition",
               "other_metabolic_bone_disease"):
            r.append("osteosarcoma risk")
        if has("hypercalcaemia", "primary_hyperparathyroidism"):
            r.append("hypercalcaemia")
        if drug == "teriparatide" and has("pregnancy", "breastfeeding", "severe_renal_impairment", "dialysis"):
            r.append("EU SmPC")
    if drug == "romosozumab":
        for c in rec.conditions:
            if c.code in ("myocardial_infarction", "stroke") and (c.onset is None or c.onset <= as_of):
                if region in ("AU", "EU"):
                    r.append("MI or stroke ever")
                elif c.onset is not None and _within_12_months(c.onset, as_of):
                    r.append("MI or stroke within a year")
        if region == "US" and rec.sex == "male":
            r.append("US indication")
        if rec.menopausal_status in ("premenopausal", "perimenopausal") or has("pregnancy", "breastfeeding"):
            r.append("reproductive potential")
    if drug == "raloxifene":
        if any(c.code == "venous_thromboembolism" and (c.onset is None or c.onset <= as_of) for c in rec.conditions):
            r.append("VTE")
        if has("pregnancy", "breastfeeding"):
            r.append("pregnancy")
    return r


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), raw=records(), guideline=st.sampled_from(available_guidelines()),
       region=st.sampled_from(["US", "AU", "EU"]))
def test_nothing_the_engine_says_to_give_is_absolutely_contraindicated_by_the_brief(
        data: st.DataObject, raw: dict[str, Any], guideline: str, region: str) -> None:
    """Options, switch and follow-on alternatives, and the drug a continue / give-dose / restart advice names."""
    record = parse_record(raw)
    facts = data.draw(derived(record))
    rec = recommend(record, facts, guideline=guideline, as_of=AS_OF, region=region)
    not_offered = {n.drug for n in rec.not_offered}
    for o in rec.options:
        assert not blocked(record, facts, o.drug, AS_OF, region), ("option", o.drug)
    for a in rec.sequencing:
        for alt in a.alternatives:
            assert not blocked(record, facts, alt, AS_OF, region), ("alternative", a.action, alt)
            assert alt not in not_offered, ("alternative the recommendation does not offer", a.action, alt)
        if a.action in GIVE and a.drug:
            assert not blocked(record, facts, a.drug, AS_OF, region), (a.action, a.drug, a.text[:120])


# --- the reviewer's scenarios -------------------------------------------------------------------------------------


def _recommend(raw: dict[str, Any], guideline: str = "endocrine-society-2019", **derived_facts: Any) -> Any:
    record = parse_record({"id": "t", "sex": "female", "age": 70, "menopausal_status": "postmenopausal", **raw})
    facts = derived_facts_from_record(record).model_copy(update=derived_facts)
    return recommend(record, facts, guideline=guideline, as_of=AS_OF, region="US")


def _gives(rec: Any, drug: str) -> list[Any]:
    return [a for a in rec.sequencing if a.action in GIVE and a.drug == drug]


def _stop(rec: Any, drug: str) -> Any:
    return next(a for a in rec.sequencing if a.action == "switch" and a.drug == drug and a.urgency == "urgent")


def test_it_tells_a_patient_on_zoledronic_acid_with_crcl_20_to_stop_not_to_continue() -> None:
    rec = _recommend({"lumbar_spine_t_score": -2.8, "medications": [{"drug": "zoledronic_acid", "start": "2024-01-10"}]},
                     crcl_ml_min=20)
    assert not _gives(rec, "zoledronic_acid")
    stop = _stop(rec, "zoledronic_acid")
    assert "ZOL-" in stop.text and "do not give it" in stop.text  # the rule that fired is cited
    assert "fits the risk stratum" not in rec.to_text()


def test_pregnancy_on_denosumab_stops_the_next_injection_but_never_without_a_follow_on() -> None:
    rec = _recommend({"age": 40, "menopausal_status": "premenopausal", "lumbar_spine_t_score": -2.8,
                      "conditions": [{"code": "pregnancy", "onset": "2025-01-01"}],
                      "medications": [{"drug": "denosumab", "start": "2024-06-01", "last_dose": "2024-12-01"}]})
    assert not _gives(rec, "denosumab")
    stop = next(a for a in rec.sequencing if a.rule_id == "DMAB-MUST-NOT")
    assert stop.action == "start_follow_on" and stop.urgency == "urgent"
    assert "[DMAB-CI-PREG]" in stop.text  # the rule that fired
    assert "must not be stopped without a follow-on antiresorptive" in stop.text  # DMAB-NOSTOP, no bare stop
    assert stop.due == dt.date(2025, 6, 1)  # DMAB-SWITCH: 6 months after the final injection
    if not stop.alternatives:
        assert "No other drug can be offered" in stop.text


def test_romosozumab_after_a_myocardial_infarction_last_month_is_stopped_with_an_antiresorptive_follow_on() -> None:
    rec = _recommend({"lumbar_spine_t_score": -3.2,
                      "fractures": [{"site": "vertebra", "date": "2024-06-01"}, {"site": "vertebra", "date": "2024-07-01"}],
                      "conditions": [{"code": "myocardial_infarction", "onset": "2025-02-01"}],
                      "medications": [{"drug": "romosozumab", "start": "2024-09-01"}]})
    assert not _gives(rec, "romosozumab")
    stop = _stop(rec, "romosozumab")
    assert "ROMO-CI-MI-1Y" in stop.text
    assert stop.alternatives and set(stop.alternatives) <= {"alendronate", "risedronate", "zoledronic_acid", "denosumab"}


def test_alendronate_with_a_stricture_at_low_risk_is_stopped_and_nothing_says_it_fits_the_stratum() -> None:
    rec = _recommend({"lumbar_spine_t_score": -0.5, "femoral_neck_t_score": -0.5, "total_hip_t_score": -0.5,
                      "frax_mof_percent": 5, "frax_hip_percent": 0.5, "conditions": [{"code": "oesophageal_stricture"}],
                      "medications": [{"drug": "alendronate", "start": "2023-01-10"}]})
    assert rec.stratum.treat is False
    assert not _gives(rec, "alendronate")
    assert "ALN-" in _stop(rec, "alendronate").text
    assert "fits the risk stratum" not in rec.to_text()


def test_at_low_risk_a_current_drug_is_reviewed_not_said_to_fit_the_stratum() -> None:
    rec = _recommend({"lumbar_spine_t_score": -0.5, "femoral_neck_t_score": -0.5, "total_hip_t_score": -0.5,
                      "frax_mof_percent": 5, "frax_hip_percent": 0.5,
                      "medications": [{"drug": "alendronate", "start": "2023-01-10"}]}, crcl_ml_min=60)
    assert not [a for a in rec.sequencing if a.rule_id == "CONTINUE"]
    assert [a for a in rec.sequencing if a.rule_id == "CURRENT-NOT-INDICATED" and a.drug == "alendronate"]


def test_a_holiday_is_not_ended_by_restarting_a_bisphosphonate_that_is_now_contraindicated() -> None:
    raw = {"lumbar_spine_t_score": -2.8, "conditions": [{"code": "oesophageal_stricture", "onset": "2024-05-01"}],
           "fractures": [{"site": "wrist", "date": "2025-01-15"}],
           "medications": [{"drug": "alendronate", "start": "2017-01-01", "end": "2022-01-01"}]}
    for guideline in ("endocrine-society-2019", "nogg-2022"):
        rec = _recommend(raw, guideline, crcl_ml_min=20)
        assert not _gives(rec, "alendronate"), guideline
        assert "ALN-" in _stop(rec, "alendronate").text


def test_a_must_not_rule_left_undecided_on_the_current_drug_says_what_is_missing_in_words() -> None:
    rec = _recommend({"lumbar_spine_t_score": -2.8, "medications": [{"drug": "zoledronic_acid", "start": "2024-01-10"}]})
    und = [a for a in rec.sequencing if a.rule_id == "CURRENT-UNDECIDED" and a.drug == "zoledronic_acid"]
    assert und and "creatinine clearance" in und[0].text and "crcl_ml_min" not in und[0].text


def test_resolved_history_items_still_block_teriparatide_and_abaloparatide() -> None:
    vh = {"lumbar_spine_t_score": -3.0,
          "fractures": [{"site": "vertebra", "date": "2023-05-01"}, {"site": "vertebra", "date": "2023-09-01"}]}
    for cond in ({"code": "prior_skeletal_radiation", "onset": "2019-02-01", "resolved": "2019-03-15"},
                 {"code": "bone_metastases", "onset": "2020-01-01", "resolved": "2022-01-01"},
                 {"code": "skeletal_malignancy", "onset": "2015-01-01", "resolved": "2016-01-01"},
                 {"code": "hereditary_osteosarcoma_predisposition", "onset": "1960-01-01", "resolved": "2000-01-01"}):
        record = parse_record({"id": "t", "sex": "female", "age": 70, "menopausal_status": "postmenopausal",
                               "conditions": [cond], **vh})
        for drug in ("teriparatide", "abaloparatide"):
            hits = check_contraindications(record, derived_facts_from_record(record), drug, as_of=AS_OF)
            assert [h for h in hits if h.kind == "must_not"], (cond["code"], drug)
        rec = _recommend({"conditions": [cond], **vh})
        assert not {"teriparatide", "abaloparatide"} & {o.drug for o in rec.options}, cond["code"]


def test_any_recorded_intolerance_is_a_caution_that_ranks_the_drug_after_the_others() -> None:
    for reaction, severity in (("severe oesophagitis", "severe"), ("urticaria", "severe"), ("nausea", "mild")):
        rec = _recommend({"lumbar_spine_t_score": -2.8,
                          "medications": [{"drug": "alendronate", "start": "2023-01-01", "end": "2023-03-01"}],
                          "intolerances": [{"drug": "alendronate", "reaction": reaction, "severity": severity}]},
                         crcl_ml_min=60)
        aln = next(o for o in rec.options if o.drug == "alendronate")
        assert [c for c in aln.cautions if c.rule_id == "INTOLERANCE-RECORDED"], reaction
        first_line = [o.drug for o in rec.options if o.tier == "first_line"]
        assert first_line[-1] == "alendronate", (reaction, first_line)
        assert "needs a recorded clinician override" in rec.to_text()


def test_erythema_multiforme_named_by_the_romosozumab_label_is_a_hypersensitivity_reaction() -> None:
    rec = _recommend({"lumbar_spine_t_score": -2.8,
                      "intolerances": [{"drug": "alendronate", "reaction": "erythema multiforme", "severity": "severe"}]},
                     crcl_ml_min=60)
    assert "alendronate" in {n.drug for n in rec.not_offered}


def test_fractures_before_the_current_drug_started_are_not_failure_on_it() -> None:
    rec = _recommend({"lumbar_spine_t_score": -2.7,
                      "fractures": [{"site": "wrist", "date": "2012-03-01", "on_treatment": True},
                                    {"site": "humerus", "date": "2014-06-01", "on_treatment": True}],
                      "medications": [{"drug": "raloxifene", "start": "2010-01-01", "end": "2015-01-01"},
                                      {"drug": "alendronate", "start": "2022-01-01"}]}, crcl_ml_min=60)
    assert not [a for a in rec.sequencing if a.rule_id in ("TF-FAILURE", "TF-FRACTURE-ON-TX")]


def test_an_undated_fracture_flagged_on_treatment_still_counts() -> None:
    rec = _recommend({"lumbar_spine_t_score": -2.7,
                      "fractures": [{"site": "wrist", "on_treatment": True}, {"site": "humerus", "on_treatment": True}],
                      "medications": [{"drug": "alendronate", "start": "2022-01-01"}]}, crcl_ml_min=60)
    assert [a for a in rec.sequencing if a.rule_id == "TF-FAILURE"]


def test_switch_alternatives_leave_out_what_the_guideline_does_not_offer_and_the_failing_drug_ranks_last() -> None:
    rec = _recommend({"lumbar_spine_t_score": -3.0, "cvd": True, "conditions": [{"code": "stroke", "onset": "2019-05-01"}],
                      "fractures": [{"site": "wrist", "date": "2024-03-01", "on_treatment": True},
                                    {"site": "humerus", "date": "2024-11-01", "on_treatment": True}],
                      "medications": [{"drug": "alendronate", "start": "2022-01-01"}]}, crcl_ml_min=60)
    assert "romosozumab" in {n.drug for n in rec.not_offered}  # ES2020-ROMO-1: not in high CV or stroke risk
    switch = next(a for a in rec.sequencing if a.rule_id == "TF-FAILURE")
    assert switch.alternatives and "romosozumab" not in switch.alternatives
    assert rec.options[-1].drug == "alendronate"
    assert [c for c in rec.options[-1].cautions if c.rule_id == "TF-FAILURE"]


def test_iof_very_high_risk_with_every_anabolic_contraindicated_says_no_option_remains() -> None:
    rec = _recommend({"sex": "male", "age": 72, "menopausal_status": None, "lumbar_spine_t_score": -3.8,
                      "conditions": [{"code": "pagets_disease", "onset": "2015-01-01"}]}, "iof-esceo-2020")
    assert rec.stratum.stratum == "very_high" and not rec.options
    note = next(a for a in rec.sequencing if a.rule_id == "NO-OPTION-LEFT")
    assert "no drug option remains" in note.text and "Teriparatide" in note.text


def test_romosozumab_is_not_offered_to_a_perimenopausal_woman() -> None:
    raw = {"age": 49, "menopausal_status": "perimenopausal", "lumbar_spine_t_score": -3.6,
           "fractures": [{"site": "vertebra", "date": "2024-06-01"}, {"site": "vertebra", "date": "2024-09-01"}]}
    for guideline in ("nogg-2022", "iof-esceo-2020", "aace-2020"):
        rec = _recommend(raw, guideline)
        assert "romosozumab" not in {o.drug for o in rec.options}, guideline
        assert any(h.rule_id == "ROMO-REPRO" for n in rec.not_offered for h in n.hits), guideline
