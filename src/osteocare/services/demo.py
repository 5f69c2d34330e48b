"""A realistic demo clinic: a few hundred patients on various courses, some doses late, some overdue.

Everything goes through the same services as real use (courses start with the contraindication check, doses
are recorded against their appointments, reactions become intolerances), so the demo also exercises them.
Deterministic for a given seed and date. The patients are invented.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, select

from ..core.errors import InputError
from ..core.records import PatientRecord, check_record_id
from ..core.schedule import add_months, next_due
from ..store import models as m
from .appointments import book_appointment, complete_item
from .context import Clinic
from .courses import start_course, stop_course
from .doses import record_dose
from .drugs import regimen
from .errors import Conflict, OverrideRequired
from .facts import DxaExamIn, SiteResult, add_dxa_exam, add_lab
from .patients import add_patient
from .reactions import record_reaction

FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
          "Dương", "Lý")
GIVEN_F = ("Lan", "Hoa", "Mai", "Hương", "Thảo", "Linh", "Ngọc", "Hạnh", "Dung", "Yến", "Nga", "Hằng", "Thu", "Cúc",
           "Loan", "Phượng", "Tuyết", "Xuân")
GIVEN_M = ("Minh", "Hùng", "Dũng", "Tuấn", "Nam", "Sơn", "Long", "Quang", "Thắng", "Bình")
#: (drug, share of patients on it). The rest have no course yet (assessment only).
MIX = (("alendronate", 0.24), ("risedronate", 0.08), ("ibandronate", 0.05), ("zoledronic_acid", 0.14),
       ("denosumab", 0.20), ("teriparatide", 0.05), ("abaloparatide", 0.02), ("romosozumab", 0.04),
       ("raloxifene", 0.04), ("calcitriol", 0.02))
FALLBACK = ("alendronate", "denosumab", "zoledronic_acid", "raloxifene")
YEARS_BACK = {"alendronate": 6, "risedronate": 5, "ibandronate": 4, "zoledronic_acid": 4, "denosumab": 5,
              "teriparatide": 2, "abaloparatide": 2, "romosozumab": 1, "raloxifene": 4, "calcitriol": 2}


#: The most patients one demo load makes (a size limit, not a clinical fact: the load is one transaction).
DEMO_MAX_PATIENTS = 10_000


@dataclass
class DemoSummary:
    patients: int = 0
    courses: dict[str, int] = field(default_factory=dict)
    doses: int = 0
    reactions: int = 0
    overrides: int = 0
    appointments_today: int = 0


def _pick(rng: random.Random) -> str | None:
    x = rng.random()
    acc = 0.0
    for drug, share in MIX:
        acc += share
        if x < acc:
            return drug
    return None


def _record(rng: random.Random, rid: str, today: dt.date) -> tuple[PatientRecord, dict[str, object]]:
    female = rng.random() < 0.85
    age = rng.randint(55, 89)
    birth = today - dt.timedelta(days=age * 365 + rng.randint(0, 364))
    fn, tn, ls = (round(rng.uniform(-3.6, -1.6), 1) for _ in range(3))
    rec = PatientRecord.model_validate({
        "id": rid, "sex": "female" if female else "male", "age": age,
        "weight_kg": round(rng.uniform(40, 72), 1), "height_cm": round(rng.uniform(145, 168), 1),
        "ethnicity": "other_asian", "menopausal_status": "postmenopausal" if female else None,
        "prior_fracture": rng.random() < 0.4, "falls": rng.random() < 0.2,
        "corticosteroids": rng.random() < 0.08, "femoral_neck_t_score": fn, "total_hip_t_score": tn,
        "lumbar_spine_t_score": ls, "frax_country": "Thailand (surrogate)",
        "frax_mof_percent": (mof := round(rng.uniform(5, 35), 1)),
        "frax_hip_percent": min(round(rng.uniform(1, 12), 1), mof),  # a major osteoporotic fracture includes the hip
        "fractures": [{"site": rng.choice(["vertebra", "wrist", "hip", "humerus"]),
                       "date": (today - dt.timedelta(days=rng.randint(60, 3000))).isoformat()}]
        if rng.random() < 0.4 else [],
    })
    ident = {"given_name": rng.choice(GIVEN_F if female else GIVEN_M), "family_name": rng.choice(FAMILY),
             "birth_date": birth, "phone": f"09{rng.randint(10_000_000, 99_999_999)}"}
    return rec, ident


def _baseline(clinic: Clinic, rng: random.Random, rid: str, day: dt.date) -> None:
    add_lab(clinic, rid, name="creatinine", value=round(rng.uniform(52, 105)), unit="umol/L", date=day)
    add_lab(clinic, rid, name="calcium", value=round(rng.uniform(2.15, 2.55), 2), unit="mmol/L", date=day,
            reference_low=2.10, reference_high=2.60)
    add_lab(clinic, rid, name="vitamin_d_25oh", value=round(rng.uniform(18, 48), 1), unit="ng/mL", date=day)


def _start(clinic: Clinic, rid: str, drug: str, start: dt.date, summary: DemoSummary) -> tuple[str, int] | None:
    for candidate in (drug, *[d for d in FALLBACK if d != drug]):
        try:
            view = start_course(clinic, rid, candidate, start_date=start, origin="clinician")
        except OverrideRequired:
            continue
        summary.courses[candidate] = summary.courses.get(candidate, 0) + 1
        return candidate, view.id
    view = start_course(clinic, rid, drug, start_date=start, origin="clinician",
                        override_reason="Demo data: specialist decision after discussion with the patient")
    summary.overrides += 1
    summary.courses[drug] = summary.courses.get(drug, 0) + 1
    return drug, view.id


def _demo_ids(prefix: str) -> ColumnElement[bool]:
    return m.Patient.record_id.like(f"{prefix}-%")


def load_demo(clinic: Clinic, *, patients: int = 300, seed: int = 2024, today: dt.date | None = None,
              prefix: str = "DEMO") -> DemoSummary:
    """Load ``patients`` invented patients with courses, doses, labs, DXA exams and reactions.

    All or nothing: the whole load is one transaction (:meth:`~osteocare.store.db.Database.unit_of_work`), so an
    error, Ctrl-C or a killed process part way leaves the store as it was, and a re-run is not refused. It holds
    the store's write lock while it runs, hence the size limit (:data:`DEMO_MAX_PATIENTS`)."""
    if isinstance(patients, bool) or not 1 <= patients <= DEMO_MAX_PATIENTS:
        raise InputError("patients", patients, f"a whole number from 1 to {DEMO_MAX_PATIENTS:,}")
    check_record_id(f"{prefix}-{patients:04d}", "prefix")
    with clinic.db.unit_of_work() as s:
        taken = s.scalar(select(m.Patient.record_id).where(_demo_ids(prefix)).limit(1))
        if taken is not None:
            raise Conflict(f"demo patients with the prefix {prefix!r} are already loaded (e.g. {taken}); "
                           "use another prefix or a fresh database")
        return _load(clinic, patients=patients, seed=seed, today=today, prefix=prefix)


def _load(clinic: Clinic, *, patients: int, seed: int, today: dt.date | None, prefix: str) -> DemoSummary:
    rng = random.Random(seed)
    day = today or clinic.today()
    summary = DemoSummary()
    zone = clinic.settings.zone
    for n in range(1, patients + 1):
        rid = f"{prefix}-{n:04d}"
        rec, ident = _record(rng, rid, day)
        add_patient(clinic, rec, **ident)  # type: ignore[arg-type]
        summary.patients += 1
        drug = _pick(rng)
        if drug is None:
            _baseline(clinic, rng, rid, day - dt.timedelta(days=rng.randint(5, 200)))
            continue
        months_back = rng.randint(1, 12 * YEARS_BACK[drug])
        start = add_months(day, -months_back)
        _baseline(clinic, rng, rid, start - dt.timedelta(days=rng.randint(3, 30)))
        add_dxa_exam(clinic, rid, DxaExamIn(
            exam_date=start - dt.timedelta(days=rng.randint(10, 60)), manufacturer="hologic",
            device_model="Horizon", reference="NHANES III",
            sites=[SiteResult(site="femoral_neck", t_score=rec.femoral_neck_t_score),
                   SiteResult(site="total_hip", t_score=rec.total_hip_t_score),
                   SiteResult(site="lumbar_spine", t_score=rec.lumbar_spine_t_score)]))
        started = _start(clinic, rid, drug, start, summary)
        if started is None:
            continue
        drug, course_id = started
        reg = regimen(drug)
        if not reg.given_in_clinic:
            if drug == "alendronate" and rng.random() < 0.1:
                onset = start + dt.timedelta(days=rng.randint(7, 60))
                if onset < day:
                    record_reaction(clinic, rid, kind="digestive_irritation", severity="moderate", course_id=course_id,
                                    onset_on=onset, outcome="resolved", resolved_on=min(onset + dt.timedelta(days=10), day),
                                    intolerance=True, description="heartburn after the weekly tablet")
                    summary.reactions += 1
                    stop_course(clinic, course_id, reason="intolerance (digestive irritation)", stop_date=onset)
                    _start(clinic, rid, "zoledronic_acid", onset, summary)
            _follow_up(clinic, rng, rid, rec, day)
            continue
        # Clinic doses: given around their due dates; the last may be missed (overdue), a few very late.
        missed_last = rng.random() < 0.18
        while True:
            with clinic.db.read() as s:
                item = s.scalars(select(m.ScheduleItem).where(
                    m.ScheduleItem.course_id == course_id, m.ScheduleItem.kind == "dose",
                    m.ScheduleItem.status == "open")).first()
            if item is None:
                break
            delay = rng.choice([0, 0, 0, 1, 2, 3, 5, 7, 10, 14, 21]) if rng.random() < 0.95 else rng.randint(30, 70)
            given = item.due_on + dt.timedelta(days=delay)
            last_before_today = reg.interval is not None and next_due(given, reg.interval) > day
            if given > day or (missed_last and last_before_today):
                if item.due_on <= day + dt.timedelta(days=7) and rng.random() < 0.3:
                    hour = rng.randint(8, 15)
                    at = dt.datetime.combine(day, dt.time(hour, rng.choice([0, 15, 30, 45])), tzinfo=zone)
                    book_appointment(clinic, item.id, at=at, location="Osteoporosis clinic, room 2")
                    summary.appointments_today += 1
                break
            _baseline(clinic, rng, rid, given - dt.timedelta(days=rng.randint(1, 14)))  # the pre-dose labs
            dose_kw: dict[str, Any] = dict(
                item_id=item.id, given_on=given, lot_number=f"LOT{rng.randint(10000, 99999)}",
                body_site="upper arm" if reg.route.startswith("sub") else "left forearm",
                observation_minutes=30 if reg.route.startswith("intra") else None)
            try:
                res = record_dose(clinic, **dose_kw)
            except OverrideRequired:  # a pre-dose lab out of bounds today: the demo's clinician corrected it first
                res = record_dose(clinic, **dose_kw, override_reason="corrected before the dose (demo)")
            summary.doses += 1
            if drug == "zoledronic_acid" and summary.doses % 5 == 0 and given + dt.timedelta(days=1) <= day:
                record_reaction(clinic, rid, kind="acute_phase_reaction", severity="mild", dose_id=res.dose.id,
                                onset_on=given + dt.timedelta(days=1), outcome="resolved",
                                resolved_on=min(given + dt.timedelta(days=4), day),
                                description="fever and muscle aches for three days")
                summary.reactions += 1
            if res.course_completed:
                break
        _follow_up(clinic, rng, rid, rec, day)
    return summary


def _follow_up(clinic: Clinic, rng: random.Random, rid: str, rec: PatientRecord, day: dt.date) -> None:
    """Most past reviews, DXA exams and labs were done, a little after they fell due; a few are overdue."""
    skipped: set[int] = set()
    for _ in range(40):
        with clinic.db.read() as s:
            p = s.scalars(select(m.Patient).where(m.Patient.record_id == rid)).one()
            item = s.scalars(select(m.ScheduleItem).where(
                m.ScheduleItem.patient_id == p.id, m.ScheduleItem.status == "open", m.ScheduleItem.kind != "dose",
                m.ScheduleItem.due_on < day - dt.timedelta(days=10), m.ScheduleItem.id.not_in(skipped or {0}))
                .order_by(m.ScheduleItem.due_on)).first()
        if item is None:
            return
        if rng.random() < 0.08:
            skipped.add(item.id)
            continue
        done = min(item.due_on + dt.timedelta(days=rng.randint(0, 20)), day)
        if item.kind == "dxa":
            drift = rng.uniform(-0.1, 0.3)
            add_dxa_exam(clinic, rid, DxaExamIn(
                exam_date=done, manufacturer="hologic", device_model="Horizon", reference="NHANES III",
                sites=[SiteResult(site=site, t_score=round(t + drift, 1))
                       for site, t in (("femoral_neck", rec.femoral_neck_t_score),
                                       ("total_hip", rec.total_hip_t_score),
                                       ("lumbar_spine", rec.lumbar_spine_t_score)) if t is not None]))
        elif item.kind == "lab":
            name = item.lab_name or "calcium"
            value, unit = {"calcium": (round(rng.uniform(2.15, 2.55), 2), "mmol/L"),
                           "creatinine": (float(rng.randint(55, 105)), "umol/L"),
                           "phosphate": (round(rng.uniform(0.8, 1.4), 2), "mmol/L"),
                           "magnesium": (round(rng.uniform(0.7, 1.0), 2), "mmol/L")}.get(name, (1.0, "unit"))
            add_lab(clinic, rid, name=name, value=value, unit=unit, date=done)
        else:
            complete_item(clinic, item.id, done_on=done, note="seen in clinic")
