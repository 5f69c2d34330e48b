"""Export -> import gives the record back exactly: the record structures without a standard code (vertebral body
heights, guideline-tool categories, the falls screen), a planned medication end, a lab without a unit, the reaction
text of an intolerance."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from osteocare.core.records import PatientRecord
from osteocare.fhir import import_bundle
from osteocare.fhir.export import export_record_assessment
from osteocare.fhir.local import LOCAL_SYSTEM, local_entry

AS_OF = dt.date(2024, 12, 31)
BASE: dict[str, Any] = {"id": "r1", "sex": "female", "age": 72, "bmi": 23.0, "menopausal_status": "postmenopausal"}


def _round_trip(**extra: Any) -> tuple[PatientRecord, PatientRecord, dict[str, Any]]:
    rec = PatientRecord.model_validate({**BASE, **extra})
    b = export_record_assessment(rec, as_of=AS_OF)
    Bundle.model_validate(b)
    [(back, rep)] = import_bundle(b, as_of=AS_OF)
    assert back is not None, rep.summary()
    assert rep.counts["error"] == 0, rep.summary()
    return rec, back, b


def _local_codes(bundle: dict[str, Any]) -> set[str]:
    found = set()
    for e in bundle["entry"]:
        r = e["resource"]
        for cc in [r.get("code")] + [c.get("code") for c in r.get("component", [])]:
            found |= {c["code"] for c in (cc or {}).get("coding", []) if c["system"] == LOCAL_SYSTEM}
    return found


def test_vertebral_heights_come_back_level_by_level() -> None:
    vertebrae = [{"level": "T12", "anterior_mm": 18.0, "middle_mm": 20.5, "posterior_mm": 26.0},
                 {"level": "L1", "anterior_mm": 25.0, "posterior_mm": 26.5}]
    rec, back, b = _round_trip(vertebrae=vertebrae)
    assert back.vertebrae == rec.vertebrae  # was: [] (never exported)
    assert {"vertebra-heights", "vertebra-level", "vertebra-anterior-mm", "vertebra-middle-mm",
            "vertebra-posterior-mm"} <= _local_codes(b)


def test_a_level_read_on_two_days_comes_back_with_its_days_and_a_later_reading_is_left_out() -> None:
    vertebrae = [{"level": "L1", "date": "2021-06-01", "anterior_mm": 25.0, "posterior_mm": 26.0},
                 {"level": "L1", "date": "2024-02-03", "anterior_mm": 18.0, "posterior_mm": 26.0},
                 {"level": "L2", "anterior_mm": 25.0, "posterior_mm": 26.5}]
    rec, back, b = _round_trip(vertebrae=vertebrae)
    assert back.vertebrae == rec.vertebrae  # the days were not exported
    heights = [e["resource"] for e in b["entry"] if e["resource"].get("category", [{}])[0].get("coding", [{}])[0]
               .get("code") == "imaging" and "component" in e["resource"]]
    assert sorted(r.get("effectiveDateTime", "-") for r in heights) == ["-", "2021-06-01", "2024-02-03"]
    later = PatientRecord.model_validate({**BASE, "vertebrae": [*vertebrae, {
        "level": "L3", "date": "2025-01-02", "anterior_mm": 20.0, "posterior_mm": 26.0}]})
    [(_, rep)] = import_bundle(export_record_assessment(later, as_of=dt.date(2025, 1, 2)), as_of=AS_OF)
    assert "vertebra-heights]: dated 2025-01-02 after the as-of date 2024-12-31" in rep.summary()


def test_a_guideline_category_read_from_its_tool_comes_back() -> None:
    rec, back, b = _round_trip(guideline_categories={"nogg-2022": "very_high", "bhof-2022": "high"})
    assert back.guideline_categories == rec.guideline_categories  # was: {} (the NOGG stratum was lost)
    assert "guideline-category:nogg-2022" in _local_codes(b)


def test_the_falls_screen_answers_and_brochure_items_come_back() -> None:
    _, back, _ = _round_trip(falls_screen_answers={"fallen_past_year": False, "unsteady": True},
                               falls_screen_brochure_items=["worried", "cane_or_walker"])
    assert back.falls_screen_answers == {"fallen_past_year": False, "unsteady": True}  # was: {}
    assert back.falls_screen_brochure_items == ["worried", "cane_or_walker"]  # was: None


def test_a_brochure_asked_with_no_item_answered_yes_is_not_read_as_not_asked() -> None:
    _, back, _ = _round_trip(falls_screen_brochure_items=[])
    assert back.falls_screen_brochure_items == []  # was: None (not asked)
    _, back, _ = _round_trip()
    assert back.falls_screen_brochure_items is None


def test_a_planned_medication_end_after_the_as_of_date_comes_back() -> None:
    meds = [{"drug": "denosumab", "start": "2022-01-10", "end": "2027-01-10", "last_dose": "2024-07-10"},
            {"drug": "alendronate", "start": "2015-01-01", "end": "2020-01-01"}]
    rec, back, _ = _round_trip(medications=meds)
    assert back.medications == rec.medications  # was: denosumab's end None (read as running with no end)


def test_a_lab_without_a_unit_comes_back_without_one() -> None:
    _, back, _ = _round_trip(labs=[{"name": "pth", "value": 5.0, "unit": "", "date": "2024-01-01"}])
    assert [(lab.name, lab.value, lab.unit) for lab in back.labs] == [("pth", 5.0, "")]  # was: unit "1"


def test_the_reaction_text_of_an_intolerance_comes_back_exactly() -> None:
    tolerances = [{"drug": "alendronate", "reaction": "oesophagitis", "severity": "severe"},
                  {"drug": "zoledronic_acid", "reaction": "allergy: rash,  fever"},
                  {"drug": "denosumab", "reaction": "", "severity": "mild"},
                  {"drug": "risedronate", "reaction": ""}]
    rec, back, _ = _round_trip(intolerances=tolerances)
    assert back.intolerances == rec.intolerances  # was: "reaction: oesophagitis", "reaction: reaction not described"


def test_a_local_structure_code_naming_an_unknown_id_is_not_a_code() -> None:
    assert local_entry("guideline-category:nogg-2022") is not None
    assert local_entry("guideline-category:who-1994") is None  # unknown guideline: skipped as an unknown code
    assert local_entry("falls-screen-answer:dizzy") is None
    assert local_entry("falls-screen-brochure-item:worried") is not None


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    entries = [{"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "id": "p", "gender": "female",
                                                      "birthDate": "1950-01-01"}}]
    for i, r in enumerate(resources):
        entries.append({"fullUrl": f"urn:uuid:r{i}", "resource": {"id": f"r{i}", "subject": {"reference": "urn:uuid:p"},
                                                                  **r}})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def test_a_completed_statement_ending_after_the_as_of_date_keeps_its_end_and_is_flagged() -> None:
    ms = {"resourceType": "MedicationStatement", "status": "completed",
          "medicationCodeableConcept": {"coding": [{"system": LOCAL_SYSTEM, "code": "drug:alendronate"}]},
          "effectivePeriod": {"start": "2020-01-01", "end": "2025-06-30"}}
    [(rec, rep)] = import_bundle(_bundle(ms), as_of=AS_OF)
    assert rec is not None and [(m.start, m.end) for m in rec.medications] == [
        (dt.date(2020, 1, 1), dt.date(2025, 6, 30))]  # was: end None
    [entry] = [e for e in rep.entries if e.resource.endswith("/r0")]
    assert entry.outcome == "flagged" and "after the as-of date" in entry.reason


def test_a_guideline_category_of_two_disagreeing_observations_is_left_out_and_flagged() -> None:
    def cat(value: str) -> dict[str, Any]:
        return {"resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": LOCAL_SYSTEM, "code": "guideline-category:nogg-2022"}]},
                "valueCodeableConcept": {"coding": [{"system": LOCAL_SYSTEM, "code": value}]}}

    [(rec, rep)] = import_bundle(_bundle(cat("high"), cat("low")), as_of=AS_OF)
    assert rec is not None and rec.guideline_categories == {}
    assert any(e.outcome == "flagged" and "disagree" in e.reason for e in rep.entries)


def test_the_summary_dxa_fields_come_back_as_summary_fields_not_undated_measurements() -> None:
    """A review: a record's summary T-score (femoral_neck_t_score) came back as an undated DXA measurement, which
    the assessment then read as the most recent one ("the DXA measurement has no date") and which dropped the
    warning that the summary field differs from the dated exam."""
    _rec, back, b = _round_trip(femoral_neck_t_score=-1.2, total_hip_t_score=-1.0, lumbar_spine_t_score=-1.4,
                               femoral_neck_bmd_g_cm2=0.74,
                               dxa=[{"site": "femoral_neck", "t_score": -3.1, "date": "2024-11-01"}])
    assert (back.femoral_neck_t_score, back.total_hip_t_score, back.lumbar_spine_t_score,
            back.femoral_neck_bmd_g_cm2) == (-1.2, -1.0, -1.4, 0.74)
    assert [(d.site, d.t_score, d.date) for d in back.dxa] == [("femoral_neck", -3.1, dt.date(2024, 11, 1))]
    # an EHR still reads a DXA value under LOINC
    flat = [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Observation"
            and any(c.get("system") == LOCAL_SYSTEM and c.get("code") == "femoral_neck_t_score"
                    for c in e["resource"]["code"]["coding"])]
    assert len(flat) == 1 and any(c["system"] == "http://loinc.org" for c in flat[0]["code"]["coding"])


def test_a_summary_dxa_observation_given_a_date_since_is_read_as_a_dated_measurement() -> None:
    """A review: an exported summary T-score that a sender re-sent with a date came back as the undated summary
    field, its date dropped without a word; it is read by its LOINC code as a dated measurement."""
    rec = PatientRecord.model_validate({**BASE, "femoral_neck_t_score": -2.7})
    b = export_record_assessment(rec, as_of=AS_OF)
    [obs] = [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Observation"
             and any(c.get("code") == "femoral_neck_t_score" for c in e["resource"]["code"]["coding"])]
    obs["effectiveDateTime"] = "2024-06-01"
    [(back, rep)] = import_bundle(b, as_of=AS_OF)
    assert back is not None, rep.summary()
    assert back.femoral_neck_t_score is None
    assert [(d.site, d.t_score, d.date) for d in back.dxa] == [("femoral_neck", -2.7, dt.date(2024, 6, 1))]
