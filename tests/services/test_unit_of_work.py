"""One transaction around many service calls (``Database.unit_of_work``), as the demo clinic loads in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from osteocare.services.context import Clinic
from osteocare.services.errors import NotFound
from osteocare.services.patients import get_record, show_patient
from osteocare.store import models as m
from osteocare.store.db import Database


def _count(db: Database, table: type[m.Base]) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_a_demo_load_killed_part_way_leaves_nothing(tmp_path: Path) -> None:
    """SIGKILL after the 40th patient: no cleanup code runs, so only one transaction can leave the store empty."""
    url = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    script = textwrap.dedent(f"""
        import os, signal
        import osteocare.services.demo as demo
        from osteocare.services.context import Clinic
        from osteocare.settings import get_settings
        from osteocare.store.db import open_database

        settings = get_settings({{"OSTEOCARE_DATABASE_URL": {url!r}}})
        clinic = Clinic(open_database(settings), settings, "demo")
        real, calls = demo.add_patient, []

        def killed(*args, **kwargs):
            calls.append(1)
            if len(calls) == 40:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        demo.add_patient = killed
        demo.load_demo(clinic, patients=60, seed=11)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert run.returncode == -signal.SIGKILL, run.stderr
    from osteocare.settings import get_settings
    from osteocare.store.db import open_database

    db = open_database(get_settings({"OSTEOCARE_DATABASE_URL": url}))
    try:
        assert _count(db, m.Patient) == 0
        assert _count(db, m.Lab) == 0
        assert _count(db, m.TreatmentCourse) == 0
    finally:
        db.dispose()


def test_inside_a_unit_reads_see_its_writes_and_nothing_is_seen_or_cached_outside(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    patient("P0")
    before = show_patient(clinic, "P0")  # cached at the revision before the unit
    with clinic.db.unit_of_work():
        patient("P1")
        assert get_record(clinic, "P1").id == "P1"  # an audited, cache-planned read of the unit's own patient
        assert show_patient(clinic, "P0") == before
    assert _count(clinic.db, m.Patient) == 2
    with clinic.db.read() as s:
        read = s.scalars(select(m.AuditEntry.entity_id).where(m.AuditEntry.action == "read")).all()
    assert "P1" in read  # the read's audit entry was committed with the unit


def test_a_unit_that_fails_keeps_nothing_not_even_its_cached_reads(clinic: Clinic,
                                                                   patient: Callable[..., str]) -> None:
    class Stop(Exception):
        pass

    with pytest.raises(Stop), clinic.db.unit_of_work():
        patient("P1")
        get_record(clinic, "P1")
        raise Stop
    assert _count(clinic.db, m.Patient) == 0
    with pytest.raises(NotFound):
        get_record(clinic, "P1")  # not served from a cache filled inside the unit


def test_a_failing_service_call_inside_a_unit_undoes_only_itself(clinic: Clinic,
                                                                patient: Callable[..., str]) -> None:
    from osteocare.services.errors import Conflict

    with clinic.db.unit_of_work():
        patient("P1", labs=False)
        with pytest.raises(Conflict):
            patient("P1", labs=False)  # the same id again: refused, and only that call is undone
        patient("P2", labs=False)
    assert _count(clinic.db, m.Patient) == 2


def test_units_do_not_nest(clinic: Clinic) -> None:
    with clinic.db.unit_of_work(), pytest.raises(RuntimeError, match="already open"), clinic.db.unit_of_work():
        pass


def test_a_unit_bumps_the_revision_once_at_its_commit_not_at_each_call(clinic: Clinic,
                                                                        patient: Callable[..., str]) -> None:
    """Each service call's savepoint used to run the counter's UPDATE, so on PostgreSQL the unit held the row lock
    of data_revision, and every other writer of the clinic waited, from its first call until it ended."""
    from sqlalchemy import event

    from osteocare.services.errors import Conflict
    from osteocare.store.revision import revision_of

    before = revision_of(clinic.db)
    bumps: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE DATA_REVISION"):
            bumps.append(statement)

    event.listen(clinic.db.engine, "before_cursor_execute", seen)
    try:
        with clinic.db.unit_of_work():
            patient("P1", labs=False)
            with pytest.raises(Conflict):
                patient("P1", labs=False)  # a savepoint rolled back: the earlier change still counts
            patient("P2")
    finally:
        event.remove(clinic.db.engine, "before_cursor_execute", seen)
    assert len(bumps) == 1
    after = revision_of(clinic.db)
    assert before is not None and after is not None and after == before + 1
