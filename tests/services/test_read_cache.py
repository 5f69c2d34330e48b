"""Read caches keyed on the data revision: every change to clinical data is seen at once, by this process and by
another one sharing the store; reads never bump the revision; audited reads are on the log (group commit)."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from osteocare.core.errors import InputError
from osteocare.core.records import Fracture
from osteocare.services import patients as sp
from osteocare.services import worklist as sw
from osteocare.services.context import Clinic
from osteocare.services.courses import start_course, stop_course
from osteocare.services.doses import record_dose
from osteocare.services.errors import NotFound
from osteocare.services.facts import DxaExamIn, SiteResult, add_dxa_exam, add_fracture, add_lab
from osteocare.services.reactions import record_reaction
from osteocare.store import models as m
from osteocare.store.db import Database
from osteocare.store.revision import revision_of, tracked_tables

TODAY = dt.date(2025, 3, 3)  # as pinned by the clinic fixture (tests/services/conftest.py)


def _rev(clinic: Clinic) -> int:
    r = revision_of(clinic.db)
    assert r is not None
    return r


def test_reads_do_not_bump_the_revision_and_hit_the_cache(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    before = _rev(clinic)
    first = sp.show_patient(clinic, rid)
    hits = clinic.db.cache.hits
    assert sp.show_patient(clinic, rid) is first
    assert clinic.db.cache.hits == hits + 1
    sp.get_record(clinic, rid)
    sw.worklist(clinic)
    assert _rev(clinic) == before


def test_every_kind_of_write_is_seen_by_the_next_read(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    view = sp.show_patient(clinic, rid)
    assert view.courses == []
    steps: list[tuple[str, Callable[[], object], Callable[[], bool]]] = [
        ("lab", lambda: add_lab(clinic, rid, name="calcium", value=2.2, unit="mmol/L", date=TODAY),
         lambda: any(x.value == 2.2 and x.date == TODAY for x in sp.show_patient(clinic, rid).labs)),
        ("dxa", lambda: add_dxa_exam(clinic, rid, DxaExamIn(exam_date=TODAY, sites=[
            SiteResult(site="femoral_neck", t_score=-3.1)])),
         lambda: any(d.t_score == -3.1 for d in sp.get_record(clinic, rid).dxa)),
        ("fracture", lambda: add_fracture(clinic, rid, Fracture(site="wrist", date=TODAY - dt.timedelta(days=9))),
         lambda: any(f.site == "wrist" for f in sp.get_record(clinic, rid).fractures)),
        ("course", lambda: start_course(clinic, rid, "zoledronic_acid", start_date=TODAY, origin="clinician"),
         lambda: [c.drug for c in sp.show_patient(clinic, rid).courses] == ["zoledronic_acid"]),
    ]
    for what, write, seen in steps:
        before = _rev(clinic)
        write()
        assert _rev(clinic) > before, what
        assert seen(), f"the read after the {what} write was stale"
    course = sp.show_patient(clinic, rid).courses[0]
    item = next(it for it in sp.show_patient(clinic, rid).schedule if it.kind == "dose" and it.status == "open")
    before_list = sw.worklist(clinic)
    record_dose(clinic, item_id=item.id, given_on=TODAY, lot_number="LOT-1")
    assert [d.lot_number for d in sp.show_patient(clinic, rid).doses] == ["LOT-1"]
    assert sw.worklist(clinic) is not before_list
    record_reaction(clinic, rid, kind="fever", severity="mild", drug="zoledronic_acid", onset_on=TODAY)
    assert [r.kind for r in sp.show_patient(clinic, rid).reactions] == ["fever"]
    stop_course(clinic, course.id, reason="test")
    assert sp.show_patient(clinic, rid).courses[0].status == "stopped"
    rec = sp.get_record(clinic, rid)
    sp.update_record(clinic, rec.model_copy(update={"weight_kg": 61.0}))
    assert sp.get_record(clinic, rid).weight_kg == 61.0


def test_a_failed_write_leaves_the_revision(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    before = _rev(clinic)
    with pytest.raises(InputError):
        add_lab(clinic, rid, name="creatinine", value=-5, unit="umol/L", date=TODAY)
    with pytest.raises(NotFound):
        add_lab(clinic, "NO-SUCH", name="creatinine", value=70, unit="umol/L", date=TODAY)
    assert _rev(clinic) == before


def test_another_process_sharing_the_store_sees_the_change(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    other = Clinic(Database(clinic.db.url), clinic.settings, "other", fixed_today=TODAY)  # a second worker
    try:
        assert sp.get_record(other, rid).weight_kg == 55.0
        rec = sp.get_record(clinic, rid)
        sp.update_record(clinic, rec.model_copy(update={"weight_kg": 48.5}))
        assert sp.get_record(other, rid).weight_kg == 48.5
    finally:
        other.db.dispose()


@contextmanager
def _tables_read(db: Database) -> Iterator[set[str]]:
    seen: set[str] = set()

    def grab(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.update(t.strip('"').lower() for t in re.findall(r'\b(?:FROM|JOIN)\s+("?\w+"?)', statement, re.I))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)


def test_cached_readers_read_only_tracked_tables(clinic: Clinic, patient: Callable[..., str]) -> None:
    """A cached value may only depend on tables whose changes bump the revision (else it could go stale)."""
    rid = patient()
    start_course(clinic, rid, "alendronate", start_date=TODAY, origin="clinician")
    clinic.db.cache.clear()
    with _tables_read(clinic.db) as seen:
        sp.show_patient(clinic, rid)
        sp.get_record(clinic, rid)
        sw.worklist(clinic)
    untracked = seen - tracked_tables() - {"data_revision"}
    assert "patients" in seen and "schedule_items" in seen
    assert not untracked, f"cached readers read tables that do not bump the revision: {sorted(untracked)}"


def test_audited_reads_are_all_on_the_log_under_concurrency(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    with clinic.db.read() as s:
        before = s.scalar(select(func.count()).select_from(m.AuditEntry))
    errors: list[BaseException] = []

    def reader(n: int) -> None:
        try:
            for _ in range(15):
                sp.get_record(clinic.as_actor(f"reader{n}"), rid)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with clinic.db.read() as s:
        rows = s.execute(select(m.AuditEntry.actor, m.AuditEntry.patient_id, m.AuditEntry.action)
                         .where(m.AuditEntry.actor.like("reader%"))).all()
        after = s.scalar(select(func.count()).select_from(m.AuditEntry))
    assert after - before == 90 == len(rows)
    assert {r.action for r in rows} == {"read"} and len({r.actor for r in rows}) == 6


def test_a_read_whose_audit_entry_cannot_be_written_fails(clinic: Clinic, patient: Callable[..., str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    rid = patient()
    real = clinic.db.write
    calls = {"n": 0}

    @contextmanager
    def flaky() -> Iterator[object]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk full")
        with real() as s:
            yield s

    clinic.db.cache.clear()
    misses = clinic.db.cache.misses
    monkeypatch.setattr(clinic.db, "write", flaky)
    with pytest.raises(RuntimeError, match="disk full"):
        sp.get_record(clinic.as_actor("first"), rid)
    assert clinic.db.cache.misses == misses  # nothing was even loaded
    sp.get_record(clinic.as_actor("second"), rid)
    monkeypatch.undo()
    with clinic.db.read() as s:
        actors = s.scalars(select(m.AuditEntry.actor).where(m.AuditEntry.actor.in_(["first", "second"]))).all()
    assert actors == ["second"]  # the first read showed nothing, so it has nothing to be audited for


def test_the_event_loop_path_audits_before_it_returns(clinic: Clinic, patient: Callable[..., str]) -> None:
    """What the web's async endpoints do: the plan's audit entry is committed when ``run_async`` returns, and
    concurrent readers on one loop are all logged."""
    import asyncio

    rid = patient()

    async def many() -> list[object]:
        plans = [sp.record_plan(clinic.as_actor(f"loop{i}"), rid) for i in range(20)]
        return list(await asyncio.gather(*(p.run_async(clinic.as_actor(f"loop{i}")) for i, p in enumerate(plans))))

    records = asyncio.run(many())
    assert all(r == records[0] for r in records) and records[0].id == rid  # type: ignore[attr-defined]
    with clinic.db.read() as s:
        n = s.scalar(select(func.count()).select_from(m.AuditEntry).where(m.AuditEntry.actor.like("loop%")))
    assert n == 20
