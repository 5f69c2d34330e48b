"""FHIR import: one clinical fact is read once and two facts are read twice.

A DXA report's scores given as its components (LOINC 38269-7 with 38264-8 and 38261-4) are read; a creatinine under
the moles/volume LOINC term (14682-9) is read; two Conditions of one site on one day are two fractures and two falls
on one day are two falls; an ICD-10-CM fracture code whose 7th character records a later encounter (D, G, K, P) or a
sequela (S) is not a new fracture (ICD-10-CM Tabular List, category M80); a MedicationRequest and the
MedicationStatement based on it, or overlapping repeat prescriptions, are one course; a weight and height whose BMI
is out of range are left out with the reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from osteocare.core.drugs import check_drug
from osteocare.core.guidelines import derived_facts_from_record
from osteocare.core.records import PatientRecord, parse_record
from osteocare.fhir import ImportResult, import_bundle
from osteocare.fhir.clinical import clinical_picture
from osteocare.fhir.export import export_record_assessment

AS_OF = dt.date(2025, 6, 1)
LOINC, SCT, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"
ICD10CM, RXN = "http://hl7.org/fhir/sid/icd-10-cm", "http://www.nlm.nih.gov/research/umls/rxnorm"
ACTIVE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}
TPTD = {"coding": [{"system": RXN, "code": "110634"}], "text": "teriparatide"}


def imported(*resources: dict[str, Any]) -> ImportResult:
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1950-03-01"}
    entries = [{"fullUrl": "https://ehr.example/fhir/Patient/p1", "resource": patient}]
    for r in resources:
        r.setdefault("subject", {"reference": "Patient/p1"})
        entries.append({"fullUrl": f"https://ehr.example/fhir/{r['resourceType']}/{r['id']}", "resource": r})
    [result] = import_bundle({"resourceType": "Bundle", "type": "searchset", "entry": entries}, as_of=AS_OF)
    assert result.record is not None, result.report.summary()
    return result


def entries(result: ImportResult, rid: str) -> list[Any]:
    return [e for e in result.report.entries if e.resource.endswith("/" + rid) and "validate" not in e.reason]


def obs(oid: str, code: str, value: float | None, unit: str | None = None, **kw: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Observation", "id": oid, "status": "final",
                         "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": "2025-01-10"}
    if value is not None:
        r["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    r.update(kw)
    return r


def condition(cid: str, system: str, code: str, day: str, **kw: Any) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": cid, "clinicalStatus": ACTIVE,
            "code": {"coding": [{"system": system, "code": code}]}, "onsetDateTime": day, **kw}


# ------------------------------------------------------------------------------------------------ observations
def test_a_dxa_report_with_its_scores_as_components_gives_them_to_the_record() -> None:
    report = obs("dxa", "38269-7", None, component=[
        {"code": {"coding": [{"system": LOINC, "code": "38264-8"}]},  # DXA Hip [T-score]
         "valueQuantity": {"value": -2.7, "system": UCUM, "code": "{T-score}"}},
        {"code": {"coding": [{"system": LOINC, "code": "38261-4"}]},  # DXA Hip [Mass/Area]
         "valueQuantity": {"value": 0.70, "unit": "g/cm2", "system": UCUM, "code": "g/cm2"}},
        {"code": {"coding": [{"system": LOINC, "code": "8867-4"}]},  # heart rate: not a DXA value
         "valueQuantity": {"value": 70, "unit": "/min", "system": UCUM, "code": "/min"}}])
    result = imported(report)
    assert result.record is not None
    [hip] = result.record.dxa
    assert (hip.site, hip.t_score, hip.bmd_g_cm2, hip.date) == ("total_hip", -2.7, 0.70, dt.date(2025, 1, 10))
    skipped = [e for e in entries(result, "dxa") if e.outcome == "skipped"]
    assert len(skipped) == 1 and "http://loinc.org|8867-4" in skipped[0].reason
    bd = clinical_picture(result.record, as_of=AS_OF).results["bone-density"]
    assert bd.category == "osteoporosis"


def test_a_creatinine_under_the_moles_per_volume_loinc_term_is_read() -> None:
    result = imported(obs("cr", "14682-9", 88, "umol/L"))  # Creatinine [Moles/volume] in Serum or Plasma
    assert result.record is not None
    assert [(lab.name, lab.value, lab.unit) for lab in result.record.labs] == [("creatinine", 88.0, "umol/L")]


# ------------------------------------------------------------------------------------------------ fractures
def test_two_conditions_of_one_site_on_one_day_are_two_fractures() -> None:
    """T12 and L1 broken in one fall: two vertebral fractures (NOGG: very high risk), not one."""
    result = imported(condition("vfx1", SCT, "15724005", "2021-04-01", bodySite=[{"text": "T12 vertebra"}]),
                      condition("vfx2", SCT, "42942008", "2021-04-01", bodySite=[{"text": "L1 vertebra"}]),
                      obs("t", "38267-1", -2.6, "{T-score}"))
    assert result.record is not None
    assert [(f.site, f.date) for f in result.record.fractures] == [("vertebra", dt.date(2021, 4, 1))] * 2
    assert "another fracture at this site on this day" in entries(result, "vfx2")[0].reason
    rec = clinical_picture(result.record, as_of=AS_OF, guideline="nogg-2022").recommendation
    assert rec is not None and rec.stratum.stratum == "very_high"


def test_a_procedure_for_a_recorded_fracture_adds_no_second_fracture() -> None:
    hip = condition("hipfx", SCT, "5913000", "2024-02-03")
    by_code = {"resourceType": "Procedure", "id": "orif", "status": "completed", "performedDateTime": "2024-02-03",
               "code": {"text": "open reduction and internal fixation"},
               "reasonCode": [{"coding": [{"system": SCT, "code": "5913000"}]}]}
    by_ref = {**by_code, "id": "orif2", "reasonCode": [{"coding": [{"system": SCT, "code": "359817006"}]}],
              "performedDateTime": "2024-02-05", "reasonReference": [{"reference": "Condition/hipfx"}]}
    result = imported(by_code, hip, by_ref)
    assert result.record is not None
    assert [(f.site, f.date) for f in result.record.fractures] == [("hip", dt.date(2024, 2, 3))]
    for rid in ("orif", "orif2"):
        assert "already recorded from Condition/hipfx" in entries(result, rid)[0].reason


@pytest.mark.parametrize("seventh", ["D", "G", "K", "P", "S"])
def test_an_icd_10_cm_code_of_a_later_encounter_or_sequela_is_not_a_new_fracture(seventh: str) -> None:
    result = imported(condition("c1", ICD10CM, "M80.08XA", "2022-03-01"),
                      condition("c2", ICD10CM, f"M80.08X{seventh}", "2022-04-12"),
                      obs("t", "38267-1", -2.6, "{T-score}"))
    assert result.record is not None
    assert [(f.site, f.date) for f in result.record.fractures] == [("other", dt.date(2022, 3, 1))]
    [skipped] = [e for e in entries(result, "c2") if e.outcome == "skipped"]
    assert f"7th character {seventh}" in skipped.reason and "not a new fracture" in skipped.reason
    assert any(d.code == f"{ICD10CM}|M80.08X{seventh}" for d in result.report.diagnoses)  # still osteoporosis
    rec = clinical_picture(result.record, as_of=AS_OF, guideline="aace-2020").recommendation
    assert rec is not None and rec.stratum.stratum == "high"  # one fracture, not 'multiple' (very high)


def test_two_falls_on_one_day_are_two_falls() -> None:
    result = imported(condition("f1", SCT, "1912002", "2025-02-01"), condition("f2", SCT, "217082002", "2025-02-01"))
    assert result.record is not None
    assert [f.date for f in result.record.falls_history] == [dt.date(2025, 2, 1)] * 2


def test_two_fractures_and_two_falls_of_one_day_come_back_from_the_export() -> None:
    rec = PatientRecord.model_validate({
        "id": "P1", "sex": "female", "age": 72,
        "fractures": [{"site": "vertebra", "date": "2024-05-01"}, {"site": "vertebra", "date": "2024-05-01"}],
        "falls_history": [{"date": "2025-02-01"}, {"date": "2025-02-01", "injurious": True}]})
    [(back, _)] = import_bundle(export_record_assessment(rec, as_of=AS_OF), as_of=AS_OF)
    assert back is not None
    assert back.fractures == rec.fractures and back.falls_history == rec.falls_history


# ------------------------------------------------------------------------------------------------ medications
def _request(rid: str, start: str, **kw: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active", "intent": "order",
            "authoredOn": start, "medicationCodeableConcept": TPTD, **kw}


def _statement(sid: str, start: str, end: str | None = None, **kw: Any) -> dict[str, Any]:
    period = {"start": start, **({"end": end} if end else {})}
    return {"resourceType": "MedicationStatement", "id": sid, "status": "completed" if end else "active",
            "medicationCodeableConcept": TPTD, "effectivePeriod": period, **kw}


def _courses(result: ImportResult) -> list[tuple[str, dt.date | None, dt.date | None]]:
    assert result.record is not None
    return [(m.drug, m.start, m.end) for m in result.record.medications]


def test_a_request_and_the_statement_based_on_it_are_one_course() -> None:
    result = imported(_request("rx1", "2024-03-01"),
                      _statement("ms1", "2024-03-05", basedOn=[{"reference": "MedicationRequest/rx1"}]))
    assert _courses(result) == [("teriparatide", dt.date(2024, 3, 1), None)]
    assert "the same course as MedicationRequest/rx1" in entries(result, "ms1")[0].reason


def test_overlapping_records_of_one_drug_are_one_course_and_separate_ones_stay_apart() -> None:
    result = imported(_statement("old", "2019-01-01", "2019-06-30"),
                      _request("rx1", "2024-01-01", dispenseRequest={"validityPeriod": {"start": "2024-01-01",
                                                                                        "end": "2024-06-30"}}),
                      _request("rx2", "2024-06-01"))  # a repeat prescription, still running
    assert _courses(result) == [("teriparatide", dt.date(2019, 1, 1), dt.date(2019, 6, 30)),
                                ("teriparatide", dt.date(2024, 1, 1), None)]


def test_overlapping_courses_of_one_drug_count_their_shared_days_once() -> None:
    """Teriparatide from 2023-06-01 recorded twice (as entered by hand, or imported from two systems): 366 days on
    the as-of date, under the 730-day lifetime limit; counted per course it would be 732 and 'contraindicated'."""
    record = parse_record({"id": "P", "sex": "female", "age": 72, "medications": [
        {"drug": "teriparatide", "start": "2023-06-01"}, {"drug": "teriparatide", "start": "2023-06-01"}]})
    check = check_drug(record, derived_facts_from_record(record), "teriparatide", as_of=dt.date(2024, 5, 31))
    assert "PTH-LIFETIME" not in [h.rule_id for h in check.hits]
    longer = record.model_copy(update={"medications": [*record.medications,
                                                       *parse_record({"id": "P", "sex": "female", "age": 72,
                                                                      "medications": [{"drug": "teriparatide",
                                                                                       "start": "2021-01-01",
                                                                                       "end": "2022-06-30"}]}
                                                                     ).medications]})
    check = check_drug(longer, derived_facts_from_record(longer), "teriparatide", as_of=dt.date(2024, 5, 31))
    assert "PTH-LIFETIME" in [h.rule_id for h in check.hits]  # 546 + 366 days: over the limit


# ------------------------------------------------------------------------------------------------ body
def test_a_weight_and_height_whose_bmi_is_out_of_range_are_left_out_with_the_reason() -> None:
    result = imported(obs("w", "29463-7", 260, "kg"), obs("h", "8302-2", 150, "cm"))
    assert result.record is not None
    assert (result.record.weight_kg, result.record.height_cm, result.record.bmi) == (None, None, None)
    why = [e.reason for e in result.report.entries if e.resource == "Patient/p1" and "dropped" in e.reason]
    assert len(why) == 1 and "260" in why[0] and "150" in why[0] and "10 to 80" in why[0]
    assert all(e.outcome == "skipped" for rid in ("w", "h") for e in entries(result, rid))
    clinical_picture(result.record, as_of=AS_OF)  # the assessment runs
