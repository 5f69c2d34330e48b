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
