"""Process entry points for the concurrency and crash tests (importable by a spawned child process).

Each function opens its own connection to ``url`` (never shares an engine across processes) and reports
through a multiprocessing queue or event.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from ..settings import get_settings
from ..store.db import Database
from .context import Clinic


def _clinic(url: str, today: dt.date, actor: str) -> Clinic:
    return Clinic(Database(url), get_settings({"OSTEOCARE_DATABASE_URL": url}), actor, fixed_today=today)


def record_same_dose(url: str, item_ids: list[int], today: dt.date, lot: str, barrier: Any, results: Any) -> None:
    """For each appointment: wait for the other process at ``barrier``, then record its dose."""
    from ..core.knowledge import all_files
    from .doses import record_dose
    from .drugs import regimen
    from .errors import DoseAlreadyRecorded

    clinic = _clinic(url, today, f"nurse-{lot}")
    try:
        all_files()
        regimen("denosumab")
        clinic.db.engine.connect().close()  # warm up: knowledge loaded and connected before the race starts
        for item_id in item_ids:
            barrier.wait(timeout=60)
            try:
                res = record_dose(clinic, item_id=item_id, given_on=today, lot_number=lot)
                results.put((item_id, "recorded", res.dose.id, lot))
            except DoseAlreadyRecorded as exc:
                results.put((item_id, "already", exc.dose_id, lot))
            except Exception as exc:  # reported to the test, which fails on it
                results.put((item_id, "error", repr(exc), lot))
    finally:
        clinic.close()


def write_then_hang(url: str, record_id: str, flushed: Any) -> None:
    """Open a transaction, write a patient with labs, flush it to the database, signal, then hang (uncommitted)."""
    from ..core.records import PatientRecord
    from ..store.records import patient_from_record

    db = Database(url)
    with db.write() as s:
        rec = PatientRecord.model_validate({
            "id": record_id, "sex": "female", "age": 66,
            "labs": [{"name": "calcium", "value": 2.2 + i / 1000, "unit": "mmol/L", "date": "2025-01-01"}
                     for i in range(200)],
        })
        s.add(patient_from_record(rec))
        s.flush()
        flushed.set()
        time.sleep(600)  # killed here, mid-transaction


def record_dose_then_hang(url: str, item_id: int, today: dt.date, flushed: Any) -> None:
    """Record a dose but hang after the dose, the closed appointment and the next one are written, before commit."""
    from . import doses, schedule

    original = schedule.after_dose

    def hang_after(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        flushed.set()
        time.sleep(600)  # killed here, mid-transaction
        return out

    setattr(doses, "after_dose", hang_after)  # noqa: B010 - patch the name record_dose looks up
    clinic = _clinic(url, today, "nurse-crash")
    doses.record_dose(clinic, item_id=item_id, given_on=today, lot_number="CRASH")
