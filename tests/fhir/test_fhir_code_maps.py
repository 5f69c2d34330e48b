"""Every code of every code map, in a bundle of its own, is recognised and goes where its map says."""

from __future__ import annotations

from typing import Any

import pytest
from fhir_helpers import AS_OF

from osteocare.fhir import import_bundle
from osteocare.fhir.codes import CodeEntry, table

UCUM = "http://unitsofmeasure.org"
VALUE = {"g/cm2": 0.8, "{T-score}": -2.0, "{Z-score}": -1.0, "ng/mL": 30.0, "mg/dL": 1.0,
         "mL/min/{1.73_m2}": 60.0, "kg": 60.0, "cm": 160.0, "kg/m2": 23.4, "umol/L": 88.0}
#: Codes the maps know but deliberately do not use for a record fact (the reason is in the map).
NOT_USED = {"904419", "904420", "1114085"}


def _entries(*names: str) -> list[Any]:
    return [pytest.param(e, id=f"{e.system}:{e.code}") for n in names for e in table(n).entries.values()]


def _bundle(resource: dict[str, Any]) -> dict[str, Any]:
    resource["subject"] = {"reference": "Patient/p"}
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "Patient/p", "resource": {"resourceType": "Patient", "id": "p", "gender": "female",
                                              "birthDate": "1950-01-01"}},
        {"resource": resource}]}


def _entries_for(bundle: dict[str, Any], rid: str) -> list[Any]:
    [(rec, rep)] = import_bundle(bundle, as_of=AS_OF)
    assert rec is not None
    return [e for e in rep.entries if e.resource.endswith("/" + rid) and "validate" not in e.reason]


@pytest.mark.parametrize("entry", _entries("loinc"))
def test_every_loinc_code_is_read(entry: CodeEntry) -> None:
    obs: dict[str, Any] = {"resourceType": "Observation", "id": "o", "status": "final",
                           "code": {"coding": [{"system": entry.system_uri, "code": entry.code}]},
                           "effectiveDateTime": "2024-01-01"}
    if entry.get("concept") not in ("dxa_report", "dxa_panel"):
        unit = table("loinc").file.fact(entry.code).unit
        obs["valueQuantity"] = {"value": VALUE[unit], "unit": unit, "system": UCUM, "code": unit}
    found = _entries_for(_bundle(obs), "o")
    assert found and all("not in the knowledge code maps" not in e.reason for e in found)
    if entry.get("site") == "calcaneus":
        assert found[0].outcome == "skipped" and "not a diagnostic site" in found[0].reason
    else:
        assert found[0].outcome in ("mapped", "flagged"), found


@pytest.mark.parametrize("entry", _entries("snomed", "icd10cm", "icd10who"))
def test_every_condition_code_is_read(entry: CodeEntry) -> None:
    code = entry.code + ("1XA" if entry.get("match") == "prefix" else "")
    cond = {"resourceType": "Condition", "id": "c", "onsetDateTime": "2020-01-01",
            "code": {"coding": [{"system": entry.system_uri, "code": code}]}}
    found = _entries_for(_bundle(cond), "c")
    assert found and all(e.outcome in ("mapped", "flagged") for e in found), found
    targets = {e.target for e in found}
    concept = entry.get("concept")
    expected = {"diagnosis": {"report.diagnoses"}, "finding": {"report.diagnoses"}, "fracture": {"fractures"},
                "diagnosis_with_fracture": {"report.diagnoses", "fractures"}, "fall": {"falls_history"},
                "dxa_procedure": {"report.dxa_exams"}}[str(concept)]
    assert expected <= targets, (targets, expected)


@pytest.mark.parametrize("entry", _entries("rxnorm", "atc"))
def test_every_drug_code_is_read(entry: CodeEntry) -> None:
    ms = {"resourceType": "MedicationStatement", "id": "m", "status": "active", "effectiveDateTime": "2023-01-01",
          "medicationCodeableConcept": {"coding": [{"system": entry.system_uri, "code": entry.code}]}}
    found = _entries_for(_bundle(ms), "m")
    assert len(found) == 1
    if entry.code in NOT_USED:
        assert found[0].outcome == "skipped"
    elif entry.code == "M05BX04":  # ATC does not state the strength (60 mg vs 120 mg oncology)
        assert found[0].outcome == "flagged" and "strength" in found[0].reason
    else:
        assert found[0].outcome == "mapped" and found[0].target == f"medications[{entry.get('drug')}]"


def test_every_drug_a_code_map_names_has_a_drug_knowledge_file() -> None:
    from osteocare.core.guidelines.rulesets import drug_files

    named = {str(e.get("drug")) for n in ("rxnorm", "atc") for e in table(n).entries.values() if e.get("drug")}
    named |= set(table("rxnorm").rule("ingredient_names")) | set(table("rxnorm").rule("excluded_products"))
    assert named <= set(drug_files()), named - set(drug_files())
