"""``osteocare export-fhir RECORD_ID``: a stored patient as a FHIR R4 Bundle, read back by ``import-fhir``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from fhir.resources.R4B.bundle import Bundle
from fhir_helpers import AS_OF, cli_app
from typer.testing import CliRunner

from osteocare.core.records import PatientRecord

RECORD: dict[str, Any] = {
    "id": "VN-0001", "sex": "female", "age": 72, "weight_kg": 52.0, "height_cm": 151.0,
    "menopausal_status": "postmenopausal", "smoking": "ex_smoker", "prior_fracture": True,
    "dxa": [{"site": "femoral_neck", "date": "2024-03-01", "bmd_g_cm2": 0.58, "t_score": -2.7,
             "manufacturer": "hologic", "device_model": "Horizon"}],
    "fractures": [{"site": "vertebra", "date": "2023-05-01"}],
    "labs": [{"name": "creatinine", "value": 70.0, "unit": "umol/L", "date": "2024-03-01"},
             {"name": "pth", "value": 5.1, "unit": "", "date": "2024-03-01"}],
    "medications": [{"drug": "alendronate", "start": "2021-01-01", "end": "2026-01-01",
                     "last_dose": "2024-12-01"}],
    "intolerances": [{"drug": "risedronate", "reaction": "oesophagitis", "severity": "moderate"}],
    "vertebrae": [{"level": "T12", "anterior_mm": 18.0, "middle_mm": 20.0, "posterior_mm": 26.0},
                  {"level": "L1", "anterior_mm": 25.0, "posterior_mm": 26.5}],
    "guideline_categories": {"nogg-2022": "very_high"},
    "falls_screen_answers": {"fallen_past_year": True, "worries": False},
    "falls_screen_brochure_items": ["cane_or_walker", "worried"],
}
BIRTH = dt.date(1952, 6, 1)


def _use(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setenv("OSTEOCARE_DATABASE_URL", f"sqlite:///{path}")


def _app() -> typer.Typer:
    return cli_app()


@pytest.fixture()
def clinic_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clinic database holding patient VN-0001 (with a name and a birth date)."""
    from osteocare.services.context import Clinic
    from osteocare.services.patients import add_patient

    path = tmp_path / "clinic.db"
    _use(monkeypatch, path)
    clinic = Clinic.open()
    try:
        add_patient(clinic, PatientRecord.model_validate(RECORD), given_name="Thị Lan", family_name="Nguyễn",
                    birth_date=BIRTH)
    finally:
        clinic.close()
    return path


def _stored(record_id: str) -> tuple[PatientRecord, Any]:
    from osteocare.services.context import Clinic
    from osteocare.services.patients import get_patient, get_record

    clinic = Clinic.open()
    try:
        return get_record(clinic, record_id, as_of=AS_OF), get_patient(clinic, record_id)
    finally:
        clinic.close()


def _export(*args: str) -> Any:
    return CliRunner().invoke(_app(), ["export-fhir", *args])


def test_export_fhir_then_import_fhir_into_a_fresh_database_gives_the_same_record(
        clinic_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before, who = _stored("VN-0001")
    out = tmp_path / "vn-0001.json"
    out.write_text("old", encoding="utf-8")
    out.chmod(0o644)
    r = _export("VN-0001", "--as-of", AS_OF.isoformat(), "--out", str(out))
    assert r.exit_code == 0, r.output
    assert out.stat().st_mode & 0o777 == 0o600  # it names the patient: the owner's only, even over an old file
    bundle = json.loads(out.read_text(encoding="utf-8"))
    Bundle.model_validate(bundle)
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "Observation", "RiskAssessment", "CarePlan", "Provenance"} <= kinds

    fresh = tmp_path / "fresh.db"
    _use(monkeypatch, fresh)
    r = CliRunner().invoke(_app(), ["import-fhir", str(out), "--as-of", AS_OF.isoformat()])
    assert r.exit_code == 0, r.output
    assert "1 created" in r.output
    after, who_after = _stored("VN-0001")
    assert after == before  # every fact: vertebrae, guideline category, falls screen, planned end, no-unit lab ...
    assert (who_after.given_name, who_after.family_name, who_after.birth_date) == ("Thị Lan", "Nguyễn", BIRTH)
    assert who == who_after


def test_export_fhir_writes_the_bundle_to_stdout_by_default(clinic_db: Path) -> None:
    r = _export("VN-0001", "--as-of", AS_OF.isoformat(), "--guideline", "nogg-2022")
    assert r.exit_code == 0, r.output
    bundle = json.loads(r.stdout)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    [prov] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"]
    assert "nogg-2022" in prov["reason"][0]["text"]


@pytest.mark.parametrize(("args", "words"), [
    (["NOPE"], ["NOPE"]),
    (["VN-0001", "--as-of", "soon"], ["--as-of", "soon", "YYYY-MM-DD"]),
    (["VN-0001", "--guideline", "who-1994"], ["guideline", "who-1994", "nogg-2022"]),
])
def test_export_fhir_refuses_bad_input_naming_the_field_and_value(clinic_db: Path, args: list[str],
                                                                   words: list[str]) -> None:
    r = _export(*args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and not r.stdout.strip()
    text = " ".join(r.output.split())
    assert all(w in text for w in words), text


def test_export_fhir_refuses_a_folder_or_a_missing_folder_for_out(clinic_db: Path, tmp_path: Path) -> None:
    r = _export("VN-0001", "--out", str(tmp_path))
    assert r.exit_code == 2 and "--out" in r.output and "folder" in r.output
    missing = tmp_path / "no-such-dir" / "b.json"
    r = _export("VN-0001", "--out", str(missing))
    assert r.exit_code == 2 and "--out" in r.output and "does not exist" in " ".join(r.output.split())
    assert not missing.parent.exists()


def test_export_fhir_refuses_a_database_that_does_not_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, tmp_path / "typo.db")
    r = _export("VN-0001")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "typo.db" in " ".join(r.output.split())  # the message names the database it could not find
    assert not (tmp_path / "typo.db").exists()  # a mistyped path is an error, not a new empty clinic
