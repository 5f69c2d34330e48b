"""``osteocare import-fhir`` (registered by cli_fhir.register) and record_from_fhir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from fhir_helpers import AS_OF, BUNDLES, SYNTHEA, cli_app
from typer.testing import CliRunner

from osteocare.cli_fhir import record_from_fhir


def _app() -> typer.Typer:
    return cli_app()


@pytest.fixture()
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "clinic.db"
    monkeypatch.setenv("OSTEOCARE_DATABASE_URL", f"sqlite:///{path}")
    return path


def test_import_fhir_without_store_prints_the_records_and_writes_the_report(tmp_path: Path) -> None:
    rep = tmp_path / "report.json"
    r = CliRunner().invoke(_app(), ["import-fhir", str(BUNDLES / "dxa.json"), str(BUNDLES / "two-patients.json"),
                                    "--as-of", AS_OF.isoformat(), "--no-store", "--report", str(rep)])
    assert r.exit_code == 0, r.output
    records = json.loads(r.stdout[r.stdout.index("["):])
    assert [x["id"] for x in records] == ["p1", "p1", "p2"]
    reports = json.loads(rep.read_text())
    assert len(reports) == 3 and all(x["record_created"] for x in reports)
    assert any(e["outcome"] == "skipped" and "calcaneus" in e["reason"] for e in reports[0]["entries"])


def test_import_fhir_fails_with_the_reason_when_no_record_can_be_made() -> None:
    r = CliRunner().invoke(_app(), ["import-fhir", str(BUNDLES / "no-patient.json"), "--no-store"])
    assert r.exit_code == 2  # bad input: nothing printed, nothing stored
    assert "no Patient resource" in r.output and "nothing printed" in r.output


def test_import_fhir_refuses_a_missing_file_and_a_bad_date() -> None:
    assert CliRunner().invoke(_app(), ["import-fhir", "/no/such/file.json"]).exit_code == 2
    assert CliRunner().invoke(_app(), ["import-fhir", str(BUNDLES / "dxa.json"), "--as-of", "soon"]).exit_code == 2


def test_import_fhir_stores_the_synthea_patients_and_refuses_duplicates(db: Path) -> None:
    if not SYNTHEA.exists():
        pytest.skip("Synthea fixtures missing")
    args = ["import-fhir", str(SYNTHEA), "--as-of", "2020-12-31"]
    r = CliRunner().invoke(_app(), args)
    assert r.exit_code == 0, r.output
    assert "5 created" in r.output
    r = CliRunner().invoke(_app(), args)
    assert r.exit_code == 2 and "already exists" in r.output and "nothing stored" in r.output
    r = CliRunner().invoke(_app(), [*args, "--update"])
    assert r.exit_code == 0 and "5 updated" in r.output

    from osteocare.services.context import Clinic
    from osteocare.services.patients import get_record

    clinic = Clinic.open()
    try:
        rec = get_record(clinic, "f120016e-295c-48b8-a7be-34dc0127d7e6")
    finally:
        clinic.close()
    assert rec.sex == "male" and any(m.drug == "alendronate" for m in rec.medications)


def test_record_from_fhir_gives_the_record_and_its_report() -> None:
    rec, rep = record_from_fhir(BUNDLES / "medications.json", as_of=AS_OF)
    assert rec.id == "p1" and rep.record_created and rep.counts["mapped"] > 0


def _creatinine_bundle(*observations: tuple[str, float, str, str]) -> dict[str, object]:
    """A patient and creatinine Observations (id, mg/dL, date, status)."""
    entries: list[dict[str, object]] = [{"fullUrl": "urn:uuid:p", "resource": {
        "resourceType": "Patient", "id": "r1", "gender": "female", "birthDate": "1950-03-15"}}]
    for oid, value, day, status in observations:
        entries.append({"fullUrl": f"urn:uuid:{oid}", "resource": {
            "resourceType": "Observation", "id": oid, "status": status, "subject": {"reference": "urn:uuid:p"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "2160-0"}]}, "effectiveDateTime": day,
            "valueQuantity": {"value": value, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                              "code": "mg/dL"}}})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def test_an_update_removes_an_imported_lab_the_ehr_marked_entered_in_error_and_keeps_the_clinics(
        db: Path, tmp_path: Path) -> None:
    """A creatinine imported from the EHR and later marked entered-in-error there stayed in the store after
    ``import-fhir --update`` (the update keeps every stored lab), and went on deciding the kidney limits of the
    drugs. Now the update removes the imported result with the same lab, value, unit and date (audited), keeps
    other results, and keeps the same result entered in the clinic, saying so."""
    import datetime as dt

    from osteocare.services.context import Clinic
    from osteocare.services.facts import add_lab
    from osteocare.services.patients import audit_trail, get_record

    first = tmp_path / "first.json"
    first.write_text(json.dumps(_creatinine_bundle(("c1", 3.1, "2024-04-01", "final"),
                                                   ("c0", 0.9, "2023-04-01", "final"))))
    args = ["import-fhir", "--as-of", "2024-05-01"]
    r = CliRunner().invoke(_app(), [*args, str(first)])
    assert r.exit_code == 0, r.output
    clinic = Clinic.open()
    try:
        add_lab(clinic, "r1", name="creatinine", value=3.1, unit="mg/dL", date=dt.date(2024, 4, 1))  # the clinic's
        assert sorted((x.value, str(x.date)) for x in get_record(clinic, "r1").labs) == [
            (0.9, "2023-04-01"), (3.1, "2024-04-01"), (3.1, "2024-04-01")]
    finally:
        clinic.close()
    update = tmp_path / "update.json"
    update.write_text(json.dumps(_creatinine_bundle(("c1", 3.1, "2024-04-01", "entered-in-error"),
                                                    ("c2", 1.0, "2024-04-02", "final"))))
    r = CliRunner().invoke(_app(), [*args, str(update), "--update"])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "removed for r1: creatinine 3.1 mg/dL on 2024-04-01 (imported before; marked entered-in-error" in out
    assert "check for r1: creatinine 3.1 mg/dL on 2024-04-01 entered in the clinic and marked entered-in-error" in out
    clinic = Clinic.open()
    try:
        assert sorted((x.value, str(x.date)) for x in get_record(clinic, "r1").labs) == [
            (0.9, "2023-04-01"), (1.0, "2024-04-02"), (3.1, "2024-04-01")]  # the clinic's 3.1 kept
        said = [json.loads(e["detail"]).get("retracted_labs") for e in audit_trail(clinic, "r1")
                if e["action"] == "update"]
        assert said and said[0][0]["value"] == 3.1 and said[0][0]["date"] == "2024-04-01"
    finally:
        clinic.close()
    # the import's report says what it did with the retracted Observation; the record has no value from it
    record, report = record_from_fhir(update, as_of=dt.date(2024, 5, 1))
    assert [(x.value, str(x.date)) for x in record.labs] == [(1.0, "2024-04-02")]
    assert any(e.resource.startswith("Observation/c1") and e.outcome == "skipped" and "entered-in-error: "
               "labs[creatinine] = 3.1 mg/dL on 2024-04-01 retracted" in e.reason for e in report.entries)


def test_the_phone_number_goes_out_and_comes_back(db: Path, tmp_path: Path) -> None:
    """A review: every demo patient's phone number was null after export-fhir then import-fhir."""
    from osteocare.services.context import Clinic
    from osteocare.services.patients import phone_of

    b = _creatinine_bundle(("c0", 0.9, "2023-04-01", "final"))
    b["entry"][0]["resource"]["telecom"] = [{"system": "email", "value": "a@b.vn"},  # type: ignore[index]
                                            {"system": "phone", "value": "+84 912 345 678"}]
    src = tmp_path / "in.json"
    src.write_text(json.dumps(b))
    assert CliRunner().invoke(_app(), ["import-fhir", "--as-of", "2024-05-01", str(src)]).exit_code == 0
    out = tmp_path / "out.json"
    r = CliRunner().invoke(_app(), ["export-fhir", "r1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    [patient] = [e["resource"] for e in json.loads(out.read_text())["entry"]
                 if e["resource"]["resourceType"] == "Patient"]
    assert patient["telecom"] == [{"system": "phone", "value": "+84 912 345 678"}]
    clinic = Clinic.open()
    try:
        assert phone_of(clinic, "r1") == "+84 912 345 678"
    finally:
        clinic.close()
