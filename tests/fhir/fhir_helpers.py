"""Helpers shared by the FHIR tests (hand-made bundles live in ./bundles)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import typer

from osteocare.fhir import ImportReport, ImportResult, import_json
from osteocare.fhir.report import ReportEntry

BUNDLES = Path(__file__).parent / "bundles"
SYNTHEA = Path(__file__).resolve().parents[3] / "shared/fixtures/fhir-synthea-r4"
AS_OF = dt.date(2024, 12, 31)


def entries(report: ImportReport, rid: str) -> list[ReportEntry]:
    return [e for e in report.entries if e.resource.endswith("/" + rid)]


def one(report: ImportReport, rid: str, *, target: str | None = None) -> ReportEntry:
    found = [e for e in entries(report, rid) if target is None or e.target == target]
    assert len(found) == 1, f"{rid}: {found}"
    return found[0]


def load(name: str, as_of: dt.date = AS_OF) -> ImportResult:
    results = import_json(BUNDLES / name, as_of=as_of)
    assert len(results) == 1
    return results[0]


def synthea_files() -> list[Path]:
    if not SYNTHEA.exists():
        pytest.skip(f"Synthea fixtures not beside the checkout ({SYNTHEA})")
    files = sorted(SYNTHEA.glob("*.json"))
    assert len(files) == 5
    return files


def cli_app() -> typer.Typer:
    """A Typer app with only the FHIR commands (``import-fhir``), for CliRunner tests."""
    from osteocare.cli_fhir import register

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test app"""

    register(app)
    return app
