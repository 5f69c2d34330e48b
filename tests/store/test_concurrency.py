"""Integrity under concurrency and crashes, with real processes, on SQLite and PostgreSQL.

* Two processes record the dose of the same appointment at the same moment: one dose, one next appointment.
* A writer killed (SIGKILL) mid-transaction leaves nothing behind and blocks nobody.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import signal

from sqlalchemy import func, select, text

from osteocare.core.records import PatientRecord
from osteocare.services.context import Clinic
from osteocare.services.courses import start_course
from osteocare.services.doses import record_dose
from osteocare.services.patients import add_patient
from osteocare.services.testing import record_dose_then_hang, record_same_dose, write_then_hang
from osteocare.settings import get_settings
from osteocare.store import models as m
from osteocare.store.db import Database

TODAY = dt.date(2025, 3, 3)
CTX = mp.get_context("spawn")


def _clinic(db: Database) -> Clinic:
    return Clinic(db, get_settings({"OSTEOCARE_DATABASE_URL": db.url}), "tester", fixed_today=TODAY)


def _denosumab_appointment(db: Database, rid: str) -> tuple[int, int]:
    clinic = _clinic(db)
    add_patient(clinic, PatientRecord(id=rid, sex="female", age=72, weight_kg=50, height_cm=150,
                                            creatinine_umol_l=70))  # the kidney rules decided, not overridden
    course = start_course(clinic, rid, "denosumab", start_date=TODAY)
    with db.read() as s:
        item = s.scalars(select(m.ScheduleItem).where(m.ScheduleItem.course_id == course.id,
                                                      m.ScheduleItem.kind == "dose")).one()
        return course.id, item.id


def _count(db: Database, model: type[m.Base], *where: object) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def test_two_processes_recording_the_same_dose_give_one_dose(db: Database) -> None:
    rounds = [_denosumab_appointment(db, f"race-{n}") for n in range(4)]
    barrier = CTX.Barrier(2)
    results = CTX.Queue()
    items = [item for _course, item in rounds]
    procs = [CTX.Process(target=record_same_dose, args=(db.url, items, TODAY, lot, barrier, results))
             for lot in ("LOT-A", "LOT-B")]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=180) for _ in range(2 * len(rounds))]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for course_id, item_id in rounds:
        mine = [o for o in outcomes if o[0] == item_id]
        assert sorted(o[1] for o in mine) == ["already", "recorded"], mine
        assert mine[0][2] == mine[1][2]  # the loser is told which dose won
        assert _count(db, m.AdministeredDose, m.AdministeredDose.course_id == course_id) == 1
        assert _count(db, m.ScheduleItem, m.ScheduleItem.course_id == course_id, m.ScheduleItem.kind == "dose",
                      m.ScheduleItem.status == "open") == 1
    assert _count(db, m.AuditEntry, m.AuditEntry.entity == "dose") == len(rounds)


def _kill_when(flushed: object, proc: mp.process.BaseProcess) -> None:
    assert flushed.wait(timeout=120), "the writer never reached the middle of its transaction"  # type: ignore[attr-defined]
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=60)
    assert proc.exitcode == -signal.SIGKILL


def test_a_writer_killed_mid_transaction_leaves_nothing_and_blocks_nobody(db: Database) -> None:
    before = (_count(db, m.Patient), _count(db, m.Lab))
    flushed = CTX.Event()
    proc = CTX.Process(target=write_then_hang, args=(db.url, "crash-1", flushed))
    proc.start()
    _kill_when(flushed, proc)
    assert (_count(db, m.Patient), _count(db, m.Lab)) == before
    # The database is sound and writable straight away, including the id the dead writer had claimed.
    if db.dialect == "sqlite":
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    add_patient(_clinic(db), PatientRecord(id="crash-1", sex="female", age=66, weight_kg=60, height_cm=160,
                                                 creatinine_umol_l=70))
    assert _count(db, m.Patient) == before[0] + 1


def test_a_dose_writer_killed_mid_transaction_loses_nothing_and_duplicates_nothing(db: Database) -> None:
    course_id, item_id = _denosumab_appointment(db, "crash-dose")
    flushed = CTX.Event()
    proc = CTX.Process(target=record_dose_then_hang, args=(db.url, item_id, TODAY, flushed))
    proc.start()
    _kill_when(flushed, proc)
    assert _count(db, m.AdministeredDose) == 0
    with db.read() as s:
        assert s.get(m.ScheduleItem, item_id).status == "open"  # type: ignore[union-attr]
    res = record_dose(_clinic(db), item_id=item_id, given_on=TODAY, lot_number="AGAIN")
    assert res.dose.lot_number == "AGAIN"
    assert _count(db, m.AdministeredDose) == 1
    assert _count(db, m.ScheduleItem, m.ScheduleItem.course_id == course_id, m.ScheduleItem.kind == "dose") == 2
