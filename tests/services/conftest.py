"""Service fixtures: every test that takes ``db`` runs on SQLite and on PostgreSQL (see tests/store/conftest.py).

PostgreSQL: one fresh database per test session (per xdist worker) on 127.0.0.1:5432, emptied between tests.
If the server is unreachable the PostgreSQL half is skipped with the reason, except under ``CI=true``, where it
fails (never skipped under CI).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from osteocare.core.records import PatientRecord
from osteocare.services.context import Clinic
from osteocare.services.facts import add_lab
from osteocare.services.patients import add_patient
from osteocare.settings import get_settings
from osteocare.store.db import Database

#: "Today" in the service tests: a Monday.
TODAY = dt.date(2025, 3, 3)


@pytest.fixture
def clinic(db: Database) -> Clinic:
    """A clinic on ``db`` with "today" pinned to :data:`TODAY` and default settings."""
    return Clinic(db, get_settings({"OSTEOCARE_DATABASE_URL": db.url}), "tester", fixed_today=TODAY)


@pytest.fixture
def patient(clinic: Clinic) -> Callable[..., str]:
    """``patient(rid, **record_fields)`` adds a 70-year-old woman (55 kg, 155 cm) with normal baseline labs."""

    def make(rid: str = "P1", *, labs: bool = True, **fields: object) -> str:
        data: dict[str, object] = {"id": rid, "sex": "female", "age": 70, "weight_kg": 55.0, "height_cm": 155.0,
                                   "menopausal_status": "postmenopausal", "femoral_neck_t_score": -2.8}
        data.update(fields)
        add_patient(clinic, PatientRecord.model_validate(data), given_name="Lan", family_name="Nguyen")
        if labs:
            day = TODAY - dt.timedelta(days=20)
            add_lab(clinic, rid, name="creatinine", value=70, unit="umol/L", date=day)
            add_lab(clinic, rid, name="calcium", value=2.35, unit="mmol/L", date=day, reference_low=2.1,
                    reference_high=2.6)
            add_lab(clinic, rid, name="vitamin_d_25oh", value=35, unit="ng/mL", date=day)
        return rid

    return make


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Callable[[dict[str, Any]], None]]:
    """An empty store on a SQLite file for the CLI's end-to-end tests (``OSTEOCARE_DATABASE_URL`` and the actor
    set, migrated by ``osteocare db upgrade``), and a function that adds a patient (a record) with ``patient add``.
    Returns the store's URL and that function."""
    import json

    import typer
    from typer.testing import CliRunner

    from osteocare.cli_clinic import register

    cli = typer.Typer()
    register(cli)
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'data' / 'clinic.sqlite3'}"
    monkeypatch.setenv("OSTEOCARE_DATABASE_URL", url)
    monkeypatch.setenv("OSTEOCARE_ACTOR", "nurse-cli")
    done = runner.invoke(cli, ["db", "upgrade"])
    assert done.exit_code == 0, done.output

    def add(record: dict[str, Any]) -> None:
        path = tmp_path / f"{record['id']}.json"
        path.write_text(json.dumps(record))
        res = runner.invoke(cli, ["patient", "add", "--json", str(path)])
        assert res.exit_code == 0, res.output

    return url, add
