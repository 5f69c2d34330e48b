"""Worklist on a large clinic: builds N patients (default 100,000) with courses and open schedule items, then
times the whole-clinic worklist and one patient's alerts.

    uv run python benchmarks/worklist.py                       # SQLite file in a temporary folder
    uv run python benchmarks/worklist.py --url postgresql://postgres@127.0.0.1:5432/bench --patients 100000

The data is bulk-inserted (not through the services) so that building it stays quick; the timed calls are the
real service functions. Not part of the test run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, text

from osteocare.services.alerts import patient_alerts
from osteocare.services.context import Clinic
from osteocare.services.worklist import worklist
from osteocare.settings import get_settings
from osteocare.store import models as m
from osteocare.store.db import Database
from osteocare.store.migrate import upgrade

DRUGS = (("alendronate", "home", "oral"), ("denosumab", "hospital", "subcutaneous injection"),
         ("zoledronic_acid", "hospital", "intravenous infusion"), ("risedronate", "home", "oral"),
         ("teriparatide", "home", "subcutaneous injection"))


ITEM_KEYS = ("patient_id", "course_id", "kind", "seq", "lab_name", "due_on", "scheduled_at", "status", "reason",
             "rule_id", "fact_status", "created_at")


def _item(**kw: object) -> dict[str, object]:
    return {k: kw.get(k) for k in ITEM_KEYS}


def build(db: Database, patients: int, today: dt.date, seed: int = 1) -> int:
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    chunk = 10_000
    items_total = 0
    next_course = 1
    for lo in range(0, patients, chunk):
        hi = min(patients, lo + chunk)
        prow, crow, irow = [], [], []
        for i in range(lo + 1, hi + 1):
            prow.append({"id": i, "record_id": f"B{i:07d}", "given_name": "Test", "family_name": f"Patient{i}",
                         "sex": "female" if rng.random() < 0.85 else "male", "age": rng.randint(50, 95),
                         "calendar_token": secrets.token_urlsafe(16), "created_at": now, "updated_at": now,
                         "version": 1})
            if rng.random() < 0.6:
                drug, setting, route = rng.choice(DRUGS)
                start = today - dt.timedelta(days=rng.randint(0, 2000))
                cid = next_course
                next_course += 1
                crow.append({"id": cid, "patient_id": i, "drug": drug, "regimen": drug, "setting": setting,
                             "route": route, "start_date": start, "status": "active", "origin": "clinician",
                             "check_json": "{}", "knowledge_version": "bench", "started_by": "bench",
                             "created_at": now})
                due = today + dt.timedelta(days=rng.randint(-90, 365))
                if setting == "hospital":
                    booked = (dt.datetime.combine(today, dt.time(rng.randint(8, 15)), tzinfo=dt.UTC)
                              if rng.random() < 0.01 else None)
                    irow.append(_item(**{"patient_id": i, "course_id": cid, "kind": "dose", "seq": 2, "due_on": due,
                                 "scheduled_at": booked, "status": "open", "reason": "dose 2", "created_at": now,
                                 "rule_id": "DMAB-LATE" if drug == "denosumab" else None, "fact_status": "verified"}))
                irow.append(_item(**{"patient_id": i, "course_id": cid, "kind": "review", "seq": 1, "status": "open",
                             "due_on": start + dt.timedelta(days=365 * 5), "reason": "review", "created_at": now,
                             "rule_id": "BP-HOLIDAY-1", "fact_status": "verified"}))
                irow.append(_item(**{"patient_id": i, "course_id": cid, "kind": "dxa", "status": "open",
                             "due_on": today + dt.timedelta(days=rng.randint(-30, 700)), "reason": "dxa",
                             "created_at": now, "rule_id": "BHOF-MON", "fact_status": "secondary"}))
            # closed history, which the worklist must skip
            irow.append(_item(**{"patient_id": i, "kind": "lab", "lab_name": "calcium", "status": "done",
                         "due_on": today - dt.timedelta(days=rng.randint(1, 900)), "reason": "old",
                         "created_at": now, "fact_status": "verified"}))
        with db.engine.begin() as conn:
            conn.execute(insert(m.Patient), prow)
            if crow:
                conn.execute(insert(m.TreatmentCourse), crow)
            conn.execute(insert(m.ScheduleItem), irow)
        items_total += len(irow)
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            for t in ("patients", "courses", "schedule_items"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"))
            conn.execute(text("ANALYZE"))
    else:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return items_total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="Database URL (default: a new SQLite file in a temporary folder)")
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        db = Database(url)
        upgrade(db)
        today = dt.date(2025, 3, 3)
        t0 = time.perf_counter()
        items = build(db, args.patients, today)
        print(f"built {args.patients:,} patients, {items:,} schedule items on {db.dialect} "
              f"in {time.perf_counter() - t0:.1f} s")
        clinic = Clinic(db, get_settings({"OSTEOCARE_DATABASE_URL": url}), "bench", fixed_today=today)
        times = []
        w = None
        for _ in range(args.repeat):
            t = time.perf_counter()
            w = worklist(clinic, today=today, limit=500)
            times.append((time.perf_counter() - t) * 1000)
        assert w is not None
        print(f"worklist (whole clinic, 500 rows per section): median {statistics.median(times):.0f} ms, "
              f"best {min(times):.0f} ms over {args.repeat} runs")
        print(f"  counts: {w.counts}")
        times = []
        for i in range(1, 21):
            t = time.perf_counter()
            patient_alerts(clinic, f"B{i * (args.patients // 21):07d}", today=today)
            times.append((time.perf_counter() - t) * 1000)
        print(f"one patient's alerts: median {statistics.median(times):.1f} ms")
        db.dispose()


if __name__ == "__main__":
    main()
