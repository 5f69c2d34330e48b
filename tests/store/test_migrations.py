"""Migrations: an empty database goes to head and back, on SQLite and PostgreSQL; the schema matches the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import osteocare.web.models  # noqa: F401  (registers the web tables of migration 0002 on the metadata)
from osteocare.store.db import Database
from osteocare.store.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade
from osteocare.store.models import Base
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


def _tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_it_migrates_an_empty_database_to_head_and_back(empty_db: Database) -> None:
    assert _tables(empty_db) == set()
    upgrade(empty_db)
    assert current_revision(empty_db) == head_revision()
    assert _tables(empty_db) == set(Base.metadata.tables)
    downgrade(empty_db, "base")
    assert current_revision(empty_db) is None
    assert _tables(empty_db) == set()
    upgrade(empty_db)
    assert _tables(empty_db) == set(Base.metadata.tables)


def test_the_migrated_schema_matches_the_models(empty_db: Database) -> None:
    upgrade(empty_db)
    with empty_db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], diff


def test_upgrading_twice_is_a_no_op(empty_db: Database) -> None:
    upgrade(empty_db)
    upgrade(empty_db)
    assert current_revision(empty_db) == head_revision()


def test_the_alembic_configuration_needs_no_ini_file(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    cfg = alembic_config(db)
    assert cfg.config_file_name is None
    assert cfg.get_main_option("script_location") == "osteocare.store:migrations"
    db.dispose()


def test_downgrading_the_latest_migrations_keeps_the_clinic_data(empty_db: Database) -> None:
    """0005's downgrade copied schedule_items on SQLite (batch mode): with foreign keys on, dropping the original
    deleted every pre-dose check and unlinked every dose from its appointment."""
    import datetime as dt

    from sqlalchemy import func, select

    from osteocare.services.context import Clinic
    from osteocare.services.demo import load_demo
    from osteocare.settings import get_settings
    from osteocare.store import models as m

    upgrade(empty_db)
    clinic = Clinic(empty_db, get_settings({"OSTEOCARE_DATABASE_URL": empty_db.url}), "t",
                    fixed_today=dt.date(2025, 3, 3))
    load_demo(clinic, patients=15, seed=11)

    def counts() -> tuple[int, int, int]:
        with empty_db.engine.connect() as c:
            return (c.scalar(select(func.count()).select_from(m.PreDoseCheck.__table__)) or 0,
                    c.scalar(select(func.count()).select_from(m.AdministeredDose.__table__)
                             .where(m.AdministeredDose.__table__.c.item_id.is_not(None))) or 0,
                    c.scalar(select(func.count()).select_from(m.ScheduleItem.__table__)) or 0)

    before = counts()
    assert before[0] > 0 and before[1] > 0
    downgrade(empty_db, "0003")
    assert counts() == before


def test_0006_fills_each_items_reason_parts_from_the_english_the_schedule_wrote(empty_db: Database) -> None:
    """Items written before 0006 have only their English reason: the upgrade reads it back by the patterns the
    schedule wrote (frozen in the migration), and must give the parts the schedule now writes itself; a knowledge
    sentence, or text changed by hand, stays NULL (shown verbatim)."""
    import datetime as dt
    import json

    from sqlalchemy import select, update

    from osteocare.services import schedule
    from osteocare.services.context import Clinic
    from osteocare.services.demo import load_demo
    from osteocare.services.textparts import dumps, text_of
    from osteocare.settings import get_settings
    from osteocare.store import models as m

    upgrade(empty_db)
    clinic = Clinic(empty_db, get_settings({"OSTEOCARE_DATABASE_URL": empty_db.url}), "t",
                    fixed_today=dt.date(2025, 3, 3))
    load_demo(clinic, patients=40, seed=5)
    generated = [schedule.dxa_reason("Repeat DXA.", dt.date(2025, 1, 15), dt.date(2026, 1, 15)),
                 schedule.calcitriol_first_reason("calcium", 1), schedule.calcitriol_first_reason("creatinine", 3),
                 schedule.calcitriol_repeat_reason("phosphate", 6),
                 schedule.dmab_lab_reason("magnesium", 10, 14, dt.date(2025, 2, 3))]
    t = m.ScheduleItem.__table__
    with empty_db.engine.begin() as c:
        some = c.execute(select(t.c.id).where(t.c.kind != "dose").order_by(t.c.id).limit(len(generated) + 2)).all()
        assert len(some) == len(generated) + 2
        for (item_id,), parts in zip(some, generated, strict=False):
            c.execute(update(t).where(t.c.id == item_id).values(reason=text_of(parts), reason_parts=dumps(parts)))
        # changed by hand: looks generated, but is not what the parts give ("1 months")
        c.execute(update(t).where(t.c.id == some[-2][0]).values(reason="Calcitriol monitoring: calcium at 1 months"))
        c.execute(update(t).where(t.c.id == some[-1][0]).values(reason="Check {this} <text>."))
        before = {i: (r, json.loads(p)) for i, r, p in c.execute(select(t.c.id, t.c.reason, t.c.reason_parts))}
    kinds = {p[0]["template"] for _, p in before.values()}
    assert "{drug} dose {seq}" in kinds and "Due from {start}, by {end}." in {q["template"] for _, p in before.values()
                                                                              for q in p}
    downgrade(empty_db, "0005")
    upgrade(empty_db)
    with empty_db.engine.connect() as c:
        after = {i: (r, None if p is None else json.loads(p))
                 for i, r, p in c.execute(select(t.c.id, t.c.reason, t.c.reason_parts))}
    # a knowledge sentence (one part without values), and text changed by hand, stay NULL: shown verbatim
    verbatim = {i for i, (_, p) in before.items() if len(p) == 1 and not p[0]["params"]}
    verbatim |= {some[-2][0], some[-1][0]}
    # reasons the schedule first wrote after 0006 (the drug-holiday reassessment) cannot be in a 0005 store: 0006
    # does not know them, and leaves them verbatim
    verbatim |= {i for i, (_, p) in before.items() if any(q["template"] == "{drug} stopped on {date}." for q in p)}
    assert len(verbatim) < len(before) - len(generated)
    assert {i for i, (_, p) in after.items() if p is None} == verbatim
    assert {i: v for i, v in after.items() if i not in verbatim} == {i: v for i, v in before.items()
                                                                      if i not in verbatim}
    assert all(after[i][0] == before[i][0] for i in before)


def test_0007_gives_each_age_the_last_change_the_store_knew_of(empty_db: Database) -> None:
    """Before 0007 the day an age was recorded was read from ``updated_at``: the upgrade starts each age from
    there."""
    import datetime as dt

    from sqlalchemy import select, update

    from osteocare.core.records import PatientRecord
    from osteocare.services.context import Clinic
    from osteocare.services.patients import add_patient
    from osteocare.settings import get_settings
    from osteocare.store import models as m

    upgrade(empty_db)
    clinic = Clinic(empty_db, get_settings({"OSTEOCARE_DATABASE_URL": empty_db.url}), "t",
                    fixed_today=dt.date(2025, 3, 3))
    for rid in ("A1", "A2"):
        add_patient(clinic, PatientRecord.model_validate({"id": rid, "sex": "female", "age": 70}))
    t = m.Patient.__table__
    then = {"A1": dt.datetime(2016, 5, 4, 3, 2, 1, tzinfo=dt.UTC), "A2": dt.datetime(2019, 1, 1, tzinfo=dt.UTC)}
    with empty_db.engine.begin() as c:
        for rid, when in then.items():
            c.execute(update(t).where(t.c.record_id == rid).values(updated_at=when, age_recorded_at=None))
    downgrade(empty_db, "0006")
    upgrade(empty_db)
    with empty_db.engine.connect() as c:
        got = dict(c.execute(select(t.c.record_id, t.c.age_recorded_at)).all())
    assert got == then


def test_0010_marks_the_entries_the_audit_log_shows_added_one_by_one_and_leaves_the_others_unknown(
        empty_db: Database) -> None:
    """Upgraded from 0009 with entries of every kind stored, each keeps its values; those the audit log shows added
    one by one (entry add) are marked entered in the clinic, so that an import update keeps them as before 0010
    (a review reproduced an anaphylaxis deleted by the first update after the upgrade); the imported fracture is
    unknown (NULL) and replaced. Downgraded, the rows stay."""
    import datetime as dt

    from sqlalchemy import select

    from osteocare.services.context import Clinic
    from osteocare.services.entries import add_entry
    from osteocare.services.patients import get_record, import_patients
    from osteocare.settings import get_settings
    from osteocare.store import models as m

    upgrade(empty_db)
    clinic = Clinic(empty_db, get_settings({"OSTEOCARE_DATABASE_URL": empty_db.url}), "t",
                    fixed_today=dt.date(2025, 3, 3))
    base = {"id": "M1", "sex": "female", "age": 70}
    assert import_patients(clinic, [{**base, "fractures": [{"site": "hip", "date": "2023-01-01"}]}]).created
    for kind, data in (("condition", {"code": "stroke"}), ("medication", {"drug": "raloxifene"}),
                       ("intolerance", {"drug": "zoledronic_acid", "reaction": "fever"}),
                       ("fracture", {"site": "wrist"}), ("fall", {"date": "2025-01-01"}),
                       ("vertebra", {"level": "L1", "anterior_mm": 20.0, "posterior_mm": 25.0})):
        add_entry(clinic, "M1", kind, data)
    tables = [t.__table__ for t in (m.Condition, m.Medication, m.Intolerance, m.Fracture, m.Fall, m.Vertebra)]

    def rows() -> dict[str, list[tuple[object, ...]]]:  # every column but the new one, as 0009 has them
        with empty_db.engine.connect() as c:
            return {t.name: [tuple(r) for r in c.execute(select(*[col for col in t.c if col.name != "entered_in_clinic"])
                                                         .order_by(t.c.id))] for t in tables}

    before = rows()
    assert sum(map(len, before.values())) == 7
    downgrade(empty_db, "0009")
    assert all("entered_in_clinic" not in {c["name"] for c in inspect(empty_db.engine).get_columns(t.name)}
               for t in tables)
    assert rows() == before
    upgrade(empty_db)
    assert rows() == before
    with empty_db.engine.connect() as c:
        marked = {t.name: [r[0] for r in c.execute(select(t.c.entered_in_clinic).order_by(t.c.id))] for t in tables}
    assert marked == {"conditions": [True], "medications": [True], "intolerances": [True],
                      "fractures": [None, True], "falls": [True], "vertebrae": [True]}
    clinic = Clinic(empty_db, get_settings({"OSTEOCARE_DATABASE_URL": empty_db.url}), "t",
                    fixed_today=dt.date(2025, 3, 3))
    res = import_patients(clinic, [{**base, "fractures": [{"site": "hip", "date": "2023-01-05"}]}],
                          update_existing=True)
    assert res.kept == {"M1": {"conditions": 1, "medications": 1, "intolerances": 1, "fractures": 1,
                               "falls_history": 1, "vertebrae": 1}}
    rec = get_record(clinic, "M1")
    assert sorted((f.site, f.date) for f in rec.fractures) == [("hip", dt.date(2023, 1, 5)), ("wrist", None)]
    assert [i.reaction for i in rec.intolerances] == ["fever"]


def test_0008_downgrade_keeps_each_levels_latest_reading_for_the_code_that_grades_a_level_once(
        empty_db: Database) -> None:
    """L1 read on two days and L2 once: down to 0007 (whose code refuses a level twice) keeps the 2025 L1 and L2."""
    import datetime as dt

    from sqlalchemy import insert, select

    from osteocare.core.records import PatientRecord
    from osteocare.services.context import Clinic
    from osteocare.services.patients import add_patient
    from osteocare.settings import get_settings
    from osteocare.store import models as m

    upgrade(empty_db)
    clinic = Clinic(empty_db, get_settings({"OSTEOCARE_DATABASE_URL": empty_db.url}), "t",
                    fixed_today=dt.date(2025, 3, 3))
    add_patient(clinic, PatientRecord.model_validate({"id": "V8", "sex": "female", "age": 70}))
    t = m.Vertebra.__table__
    with empty_db.engine.begin() as c:
        pid = c.execute(select(m.Patient.__table__.c.id)).scalar_one()
        for level, day, ha in (("L1", dt.date(2025, 2, 3), 15.0), ("L1", dt.date(2023, 5, 1), 24.0),
                               ("L2", None, 25.0)):
            c.execute(insert(t).values(patient_id=pid, level=level, date=day, anterior_mm=ha, posterior_mm=25.0))
    downgrade(empty_db, "0007")
    with empty_db.engine.connect() as c:
        left = sorted(c.execute(select(t.c.level, t.c.anterior_mm)).all())
    assert left == [("L1", 15.0), ("L2", 25.0)]
    upgrade(empty_db)


def test_0011_marks_the_labs_the_audit_log_shows_entered_in_the_clinic(empty_db: Database) -> None:
    """Upgraded from 0010, a lab result added with ``lab add`` (audited as created) is marked entered in the clinic,
    so that an import retracting the same result keeps it; an imported one is unknown (NULL, read as imported).
    Downgraded, the rows stay."""
    import datetime as dt

    from sqlalchemy import select

    from osteocare.services.context import Clinic
    from osteocare.services.facts import add_lab
    from osteocare.services.patients import import_patients
    from osteocare.settings import get_settings
    from osteocare.store import models as m

    upgrade(empty_db)
    clinic = Clinic(empty_db, get_settings({"OSTEOCARE_DATABASE_URL": empty_db.url}), "t",
                    fixed_today=dt.date(2025, 3, 3))
    assert import_patients(clinic, [{"id": "L1", "sex": "female", "age": 70, "labs": [
        {"name": "calcium", "value": 2.3, "unit": "mmol/L", "date": "2025-01-01"}]}]).created
    add_lab(clinic, "L1", name="calcium", value=2.2, unit="mmol/L", date=dt.date(2025, 2, 1))
    t = m.Lab.__table__

    def rows() -> list[tuple[object, ...]]:
        with empty_db.engine.connect() as c:
            return [tuple(r) for r in c.execute(select(*[col for col in t.c if col.name != "entered_in_clinic"])
                                                .order_by(t.c.id))]

    before = rows()
    downgrade(empty_db, "0010")
    assert "entered_in_clinic" not in {c["name"] for c in inspect(empty_db.engine).get_columns("labs")}
    assert rows() == before
    upgrade(empty_db)
    assert rows() == before
    with empty_db.engine.connect() as c:
        assert [r[0] for r in c.execute(select(t.c.entered_in_clinic).order_by(t.c.id))] == [None, True]
