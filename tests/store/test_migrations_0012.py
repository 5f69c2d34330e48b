"""Migration 0012 (``patients.falls_screen_date``): upgraded, a recorded falls screen keeps its day; downgraded to
0011 the column goes and every patient row stays as it was; upgraded again the day is not known (NULL), as for
rows from before 0012; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from osteocare.store.db import Database
from osteocare.store.migrate import current_revision, downgrade, head_revision, upgrade
from osteocare.store.testing import fresh_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
        try:
            yield db
        finally:
            db.dispose()
        return
    request.getfixturevalue("postgres_server")  # skip (fail under CI) without a server: tests/conftest.py
    with fresh_postgres_database() as url:
        db = Database(url)
        try:
            yield db
        finally:
            db.dispose()


def test_0012_adds_the_falls_screen_date_and_drops_it_keeping_the_patients(empty_db: Database) -> None:
    from osteocare.core.records import parse_record
    from osteocare.services.context import Clinic
    from osteocare.services.history import falls_screen_of, set_falls_screen
    from osteocare.services.patients import add_patient
    from osteocare.settings import get_settings
    from osteocare.store import models as m

    upgrade(empty_db)
    assert current_revision(empty_db) == head_revision()
    today = dt.date(2025, 3, 3)
    clinic = Clinic(empty_db, get_settings({"OSTEOCARE_DATABASE_URL": empty_db.url}), "t", fixed_today=today)
    for rid in ("F1", "F2"):
        add_patient(clinic, parse_record({"id": rid, "sex": "female", "age": 70}))
    set_falls_screen(clinic, "F1", key_questions={"worries": True}, brochure_items=None)
    assert falls_screen_of(clinic, "F1").answered_on == today
    t = m.Patient.__table__

    def rows() -> list[tuple[object, ...]]:
        with empty_db.engine.connect() as c:
            return [tuple(r) for r in c.execute(select(*[col for col in t.c if col.name != "falls_screen_date"])
                                                .order_by(t.c.id))]

    def days() -> list[object]:
        with empty_db.engine.connect() as c:
            return [r[0] for r in c.execute(select(t.c.falls_screen_date).order_by(t.c.id))]

    assert days() == [today, None]
    before = rows()
    downgrade(empty_db, "0011")
    assert "falls_screen_date" not in {c["name"] for c in inspect(empty_db.engine).get_columns("patients")}
    assert rows() == before
    upgrade(empty_db)
    assert rows() == before and days() == [None, None]
    assert falls_screen_of(clinic, "F1").key_questions == {"worries": True}  # the answers stay; their day unknown
    assert falls_screen_of(clinic, "F1").answered_on is None
