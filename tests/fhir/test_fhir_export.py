"""FHIR export: the bundle validates under the R4B models, carries risks, derived T-scores, recommendation and
provenance, and importing it again keeps the clinical facts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir_helpers import SYNTHEA

from osteocare.core.assessment import assess
from osteocare.core.knowledge import release
from osteocare.core.records import PatientRecord
from osteocare.fhir import import_bundle, import_json
from osteocare.fhir.export import export_assessment, export_record_assessment

AS_OF = dt.date(2024, 12, 31)

RICH: dict[str, Any] = {
    "id": "rt_001 (Nguyen)",  # not a valid FHIR id: goes to an identifier
    "sex": "female", "age": 72, "weight_kg": 52.0, "height_cm": 151.0, "ethnicity": "other_asian",
    "smoking": "ex_smoker", "alcohol": "1to2", "corticosteroids": True, "ra_sle": True, "parental_osteoporosis": True,
    "menopausal_status": "postmenopausal", "glucocorticoid_mg_per_day": 7.5, "glucocorticoid_months": 6,
    "frax_mof_percent": 24.0, "frax_hip_percent": 4.1, "frax_country": "Thailand", "frax_with_bmd": True,
    "dietary_calcium_mg_per_day": 600, "femoral_neck_bmd_g_cm2": 0.55, "densitometer_manufacturer": "hologic",
    "creatinine_umol_l": 88,
    "dxa": [
        {"site": "lumbar_spine", "date": "2024-03-01", "bmd_g_cm2": 0.79, "t_score": -2.7, "z_score": -0.9,
         "manufacturer": "ge_lunar", "device_model": "Prodigy", "reference": "manufacturer", "evaluable_vertebrae": 4},
        {"site": "total_hip", "date": "2024-03-01", "t_score": -2.2},
        {"site": "radius_33", "date": "2023-01-01", "t_score": -3.0},
        {"site": "trochanter", "date": "2023-01-01", "t_score": -1.5},
    ],
    "fractures": [
        {"site": "vertebra", "date": "2022-05-05"},
        {"site": "humerus", "date": "2020-01-01", "fragility": False},
        {"site": "wrist", "date": "2019-01-01", "on_treatment": True},
        {"site": "other", "date": "2018-01-01"},
    ],
    "falls_history": [{"date": "2024-06-01", "injurious": True}, {"date": "2024-08-01"}],
    "conditions": [{"code": "hypocalcaemia", "onset": "2023-01-01", "resolved": "2023-03-01"},
                   {"code": "dialysis"}],
    "labs": [{"name": "calcium", "value": 2.3, "unit": "mmol/L", "date": "2024-03-01"},
             {"name": "vitamin_d_25oh", "value": 55, "unit": "nmol/L", "date": "2024-03-01"},
             {"name": "pth", "value": 5.1, "unit": "pmol/L", "date": "2024-03-01"}],
    "medications": [{"drug": "denosumab", "start": "2022-06-01", "last_dose": "2024-06-01"},
                    {"drug": "alendronate", "start": "2017-01-01", "end": "2022-05-01"},
                    {"drug": "vitamin_d", "start": "2020-01-01"}, {"drug": "calcium", "start": "2020-01-01"}],
}


def _facts(r: PatientRecord) -> dict[str, Any]:
    """The clinical facts of a record, with the flat summary fields folded into the lists they equal."""
    d = r.model_dump(mode="json")
    dxa = [dict(m) for m in d.pop("dxa")]
    for name, site, kind in (("femoral_neck_t_score", "femoral_neck", "t_score"),
                             ("total_hip_t_score", "total_hip", "t_score"),
                             ("lumbar_spine_t_score", "lumbar_spine", "t_score"),
                             ("femoral_neck_bmd_g_cm2", "femoral_neck", "bmd_g_cm2")):
        v = d.pop(name)
        if v is not None:
            m = {k: None for k in ("date", "bmd_g_cm2", "t_score", "z_score", "device_model", "reference",
                                   "evaluable_vertebrae", "manufacturer")}
            m.update({"site": site, kind: v})
            if kind == "bmd_g_cm2":
                m["manufacturer"] = d["densitometer_manufacturer"]
            dxa.append(m)
    d.pop("densitometer_manufacturer")
    labs = list(d.pop("labs"))
    for name, unit in (("creatinine_umol_l", "umol/L"), ("creatinine_mg_dl", "mg/dL")):
        v = d.pop(name)
        if v is not None:
            labs.append({"name": "creatinine", "value": v, "unit": unit, "date": None})

    def key(x: dict[str, Any]) -> str:
        return json.dumps(x, sort_keys=True)

    d["dxa"] = sorted(dxa, key=key)
    d["labs"] = sorted(labs, key=key)
    for k in ("fractures", "falls_history", "conditions", "medications", "intolerances", "vertebrae"):
        d[k] = sorted(d[k], key=key)
    return d


def test_an_exported_assessment_validates_under_the_r4b_models() -> None:
    rec = PatientRecord.model_validate(RICH)
    b = export_record_assessment(rec, as_of=AS_OF)
    model = Bundle.model_validate(b)
    types = [e.resource.get_resource_type() for e in model.entry]
    for t in ("Patient", "Observation", "Condition", "MedicationStatement", "MedicationAdministration",
              "RiskAssessment", "CarePlan", "MedicationRequest", "Provenance"):
        assert t in types, t
    json.loads(model.model_dump_json())


def test_the_risk_assessment_carries_the_qfracture_and_frax_probabilities() -> None:
    rec = PatientRecord.model_validate(RICH)
    a = assess(rec, as_of=AS_OF)
    b = export_record_assessment(rec, as_of=AS_OF)
    ras = {r["method"]["coding"][0]["code"]: r for r in (e["resource"] for e in b["entry"])
           if r["resourceType"] == "RiskAssessment"}
    assert set(ras) == {"qfracture-2012", "frax-entered"}
    q = a.results["qfracture-2012"].values
    preds = {p["outcome"]["text"]: p["probabilityDecimal"] for p in ras["qfracture-2012"]["prediction"]}
    assert preds["major osteoporotic fracture"] == pytest.approx(q["major_osteoporotic_fracture_percent"].value / 100)
    assert preds["hip fracture"] == pytest.approx(q["hip_fracture_percent"].value / 100)
    frax = {p["outcome"]["text"]: p["probabilityDecimal"] for p in ras["frax-entered"]["prediction"]}
    assert set(frax) == {"major osteoporotic fracture", "hip fracture"}
    assert "Thailand" in ras["frax-entered"]["method"]["text"]
    assert any("status" in n["text"] for n in ras["qfracture-2012"]["note"])


def test_derived_t_scores_and_the_who_category_are_observations_that_do_not_import_back_as_facts() -> None:
    rec = PatientRecord.model_validate({"id": "d1", "sex": "female", "age": 70, "bmi": 24,
                                        "dxa": [{"site": "femoral_neck", "bmd_g_cm2": 0.6, "manufacturer": "hologic",
                                                 "date": "2024-01-01"}]})
    b = export_record_assessment(rec, as_of=AS_OF)
    derived = [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Observation"
               and any(c["code"] == "derived-t-score" for c in e["resource"]["code"]["coding"])]
    assert len(derived) == 1 and derived[0]["code"]["coding"][0]["code"] == "38263-0"
    assert derived[0]["valueQuantity"]["value"] == -2.2 and "NHANES" in derived[0]["method"]["text"]
    [(back, _)] = import_bundle(b, as_of=AS_OF)
    assert back is not None and [m.t_score for m in back.dxa] == [None]


def test_the_care_plan_proposes_the_recommended_drugs() -> None:
    rec = PatientRecord.model_validate({"id": "c1", "sex": "female", "age": 70, "bmi": 24,
                                        "menopausal_status": "postmenopausal",
                                        "dxa": [{"site": "lumbar_spine", "t_score": -2.8, "date": "2024-01-01"}]})
    b = export_record_assessment(rec, as_of=AS_OF)
    res = [e["resource"] for e in b["entry"]]
    [cp] = [r for r in res if r["resourceType"] == "CarePlan"]
    props = [r for r in res if r["resourceType"] == "MedicationRequest"]
    assert cp["intent"] == "proposal" and len(cp["activity"]) == len(props) > 0
    assert all(p["intent"] == "proposal" and p["status"] == "draft" for p in props)
    codes = {c["code"] for p in props for c in p["medicationCodeableConcept"]["coding"]}
    assert "M05BA04" in codes  # alendronate, ATC


def test_the_provenance_names_the_knowledge_release_and_targets_every_result() -> None:
    rec = PatientRecord.model_validate(RICH)
    b = export_record_assessment(rec, as_of=AS_OF, guideline="nogg-2022")
    res = [e["resource"] for e in b["entry"]]
    [prov] = [r for r in res if r["resourceType"] == "Provenance"]
    what = prov["entity"][0]["what"]
    assert what["identifier"]["value"] == release().version and release().sha256 in what["display"]
    targets = {t["reference"] for t in prov["target"]}
    urls = {e["fullUrl"] for e in b["entry"] if e["resource"]["resourceType"] in ("RiskAssessment", "CarePlan")}
    assert urls <= targets
    assert "nogg-2022" in prov["reason"][0]["text"]


def test_a_round_trip_keeps_the_clinical_facts() -> None:
    rec = PatientRecord.model_validate(RICH)
    b = export_record_assessment(rec, as_of=AS_OF)
    [(back, rep)] = import_bundle(json.dumps(b), as_of=AS_OF)
    assert back is not None, rep.summary()
    assert rep.counts["error"] == 0
    assert _facts(back) == _facts(rec)


def test_the_export_of_an_assessment_without_its_record_still_validates() -> None:
    rec = PatientRecord.model_validate(RICH)
    b = export_assessment(assess(rec, as_of=AS_OF))
    Bundle.model_validate(b)
    assert b["entry"][0]["resource"]["identifier"][0]["value"] == rec.id
    types = {e["resource"]["resourceType"] for e in b["entry"]}
    assert {"RiskAssessment", "CarePlan", "MedicationRequest", "Provenance"} <= types  # from the assessment alone


FILES = sorted(SYNTHEA.glob("*.json")) if SYNTHEA.exists() else []


@pytest.mark.parametrize("path", FILES, ids=[f.name.split("_")[0] for f in FILES])
def test_a_synthea_patient_survives_import_export_import(path: Path) -> None:
    day = dt.date(2020, 12, 31)
    [(rec, _)] = import_json(path, as_of=day)
    assert rec is not None
    b = export_record_assessment(rec, as_of=day)
    [(back, _)] = import_bundle(b, as_of=day)
    assert back is not None and _facts(back) == _facts(rec)
