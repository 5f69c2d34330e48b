"""Every Synthea sample bundle (shared/fixtures/fhir-synthea-r4) imports with a report, and its assessment uses
the values written in the bundle. The expected values are read from the raw JSON here, independently."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fhir_helpers import SYNTHEA

from osteocare.core.assessment import assess
from osteocare.fhir import import_json

FILES = sorted(SYNTHEA.glob("*.json")) if SYNTHEA.exists() else []
AS_OF = dt.date(2020, 12, 31)  # the bundles' data end in 2020


def _resources(path: Path, rtype: str) -> list[dict[str, Any]]:
    b = json.loads(path.read_text(encoding="utf-8"))
    return [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == rtype]


def _latest_obs(path: Path, code: str) -> float | None:
    vals = [(o["effectiveDateTime"], o["valueQuantity"]["value"]) for o in _resources(path, "Observation")
            if o["code"]["coding"][0]["code"] == code and o["effectiveDateTime"][:10] <= AS_OF.isoformat()]
    return max(vals)[1] if vals else None


def test_the_five_synthea_bundles_are_present() -> None:
    if not SYNTHEA.exists():
        pytest.skip(f"Synthea fixtures not beside the checkout ({SYNTHEA})")
    assert len(FILES) == 5


@pytest.mark.parametrize("path", FILES, ids=[f.name.split("_")[0] for f in FILES])
def test_every_synthea_bundle_imports_with_a_report_and_no_error(path: Path) -> None:
    [(rec, rep)] = import_json(path, as_of=AS_OF)
    assert rec is not None and rep.record_created
    assert rep.counts["error"] == 0, [e for e in rep.entries if e.outcome == "error"]
    assert rep.bundle_type == "transaction" and rep.read["Patient"] == 1
    assert sum(rep.counts.values()) > 10
    assert rep.summary()


@pytest.mark.parametrize("path", FILES, ids=[f.name.split("_")[0] for f in FILES])
def test_the_assessment_of_a_synthea_patient_uses_the_values_in_the_bundle(path: Path) -> None:
    [(rec, _rep)] = import_json(path, as_of=AS_OF)
    assert rec is not None
    [patient] = _resources(path, "Patient")
    birth = dt.date.fromisoformat(patient["birthDate"])
    age = AS_OF.year - birth.year - ((AS_OF.month, AS_OF.day) < (birth.month, birth.day))
    assert (rec.id, rec.sex, rec.age) == (patient["id"], patient["gender"], age)
    assert rec.bmi == _latest_obs(path, "39156-5")
    assert rec.weight_kg == _latest_obs(path, "29463-7") and rec.height_cm == _latest_obs(path, "8302-2")

    a = assess(rec, as_of=AS_OF)
    assert a.patient_id == patient["id"]
    q = a.results.get("qfracture-2012")
    if q is not None:
        assert q.values["bmi_kg_m2"].value == pytest.approx(_latest_obs(path, "39156-5"))


@pytest.mark.parametrize("path", FILES, ids=[f.name.split("_")[0] for f in FILES])
def test_synthea_osteoporosis_t_scores_and_alendronate_come_through(path: Path) -> None:
    [(rec, rep)] = import_json(path, as_of=AS_OF)
    assert rec is not None
    osteoporosis = [c for c in _resources(path, "Condition") if c["code"]["coding"][0]["code"] == "64859006"]
    assert [d.onset for d in rep.diagnoses if d.diagnosis == "osteoporosis"] == [
        dt.date.fromisoformat(c["onsetDateTime"][:10]) for c in osteoporosis]
    t_scores = [o["valueQuantity"]["value"] for o in _resources(path, "Observation")
                if o["code"]["coding"][0]["code"] == "38265-5"]
    assert [s.value for s in rep.site_unknown_scores] == t_scores
    assert all(s.region == "unknown" for s in rep.site_unknown_scores)
    assert rec.dxa == []  # never a forearm T-score
    alendronate = [m for m in _resources(path, "MedicationRequest")
                   if "alendron" in m["medicationCodeableConcept"]["text"].lower()]
    assert [(m.drug, m.start, m.end) for m in rec.medications] == [
        ("alendronate", dt.date.fromisoformat(m["authoredOn"][:10]), None) for m in alendronate]
    assert [d for d in rep.dxa_exams] == [
        dt.date.fromisoformat(p["performedPeriod"]["start"][:10]) for p in _resources(path, "Procedure")
        if p["code"]["coding"][0]["code"] == "312681000"]


def test_four_synthea_patients_carry_osteoporosis_and_three_a_38265_5_t_score() -> None:
    if len(FILES) != 5:
        pytest.skip("Synthea fixtures missing")
    reports = [import_json(f, as_of=AS_OF)[0].report for f in FILES]
    assert sum(any(d.diagnosis == "osteoporosis" for d in r.diagnoses) for r in reports) == 4
    assert sum(bool(r.site_unknown_scores) for r in reports) == 3
