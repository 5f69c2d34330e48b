"""Checks: the contraindication check shown when a course starts, and the checks before each clinic dose.

The contraindication check is the treatment engine's (:func:`osteocare.core.drugs.check_drug`); this module
only runs it on the stored record and keeps what it found as JSON with the course.

Pre-dose checks come from the drug file's ``checks.items``. Lab items (calcium, creatinine, 25(OH)D ...) show
the latest result with its date and compare it with what the knowledge files give (drug kidney limits, the
guideline's 25(OH)D target, the laboratory's own reference range). How recent a result must be is a local
policy (``OSTEOCARE_PREDOSE_LAB_MAX_AGE_DAYS``); until a site sets it, a result that is otherwise fine is
``not_configured`` - shown for the clinician to judge, never passed silently. Other items (dental review,
pregnancy test, MI/stroke history ...) are confirmed by the clinician and stored with who and when.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..core.errors import OsteoCareError
from ..core.knowledge import load
from ..core.numeric import round_half_away
from ..core.records import Condition as RCondition
from ..core.records import Intolerance as RIntolerance
from ..core.records import Lab as RLab
from ..core.records import PatientRecord
from ..core.status import Status, lowest
from ..core.units import NG_ML, canonical_vitamin_d_unit, vitamin_d_factor, vitamin_d_factor_status
from ..settings import Settings
from ..store import models as m
from ..store.records import record_of
from .drugs import Regimen, check_item_text, check_lab_names
from .views import CheckFinding, ContraindicationReport, PreDoseCheckResult

ENGINE = "osteocare.core.drugs.check_drug"


def _derived_facts(record: PatientRecord, as_of: dt.date) -> tuple[Any, list[str]]:
    """The calculator outputs the engine reads, from the core's own calculators (``assess`` + ``derived_facts``)."""
    from ..core import assessment

    builder = getattr(assessment, "derived_facts", None)
    if builder is not None:
        result = assessment.assess(record, as_of=as_of)
        return builder(result.results), []
    from ..core.guidelines.facts import derived_facts_from_record
    from ..core.kidney import assess_kidney

    facts = derived_facts_from_record(record)
    notes = ["Derived facts taken from the record's own fields; kidney function from the kidney calculator "
             "(this core has no derived-facts builder)."]
    update: dict[str, Any] = {}
    try:
        k = assess_kidney(record)
        if k.applicable:
            if "crcl_cockcroft_gault" in k.values:
                update["crcl_ml_min"] = k.values["crcl_cockcroft_gault"].value
            if "egfr_ckd_epi_2021" in k.values:
                update["egfr_ml_min_1_73m2"] = k.values["egfr_ckd_epi_2021"].value
            update["statuses"] = {**facts.statuses, "crcl_ml_min": k.status, "egfr_ml_min_1_73m2": k.status}
    except OsteoCareError as exc:
        notes.append(f"Kidney function not calculated: {exc}")
    return facts.model_copy(update=update), notes


def contraindication_check(record: PatientRecord, drug: str, *, as_of: dt.date,
                           region: str | None = None) -> ContraindicationReport:
    """Run the engine's contraindication check of ``drug`` for this record on ``as_of``."""
    try:
        from ..core.drugs import check_drug
    except ImportError as exc:  # the engine is not installed in this build
        return ContraindicationReport(drug=drug, as_of=as_of, available=False,
                                      reason=f"the contraindication engine is not available ({exc})")
    try:
        facts, notes = _derived_facts(record, as_of)
        result = check_drug(record, facts, drug, as_of=as_of, region=region)
    except OsteoCareError as exc:
        return ContraindicationReport(drug=drug, as_of=as_of, available=False,
                                      reason=f"the contraindication check could not be run: {exc}")
    findings = [
        CheckFinding(kind=h.kind, rule_id=h.rule_id, text=h.text, status=h.status,
                     citation=getattr(h.citation, "text", None))
        for h in result.hits
    ]
    kinds = _rule_kinds(drug)
    undecided = []
    for u in result.undecided:
        row = u.model_dump(mode="json")
        row["kind"] = kinds.get(u.rule_id)
        row["needs"] = _missing_inputs(record, list(u.missing))
        undecided.append(row)
    return ContraindicationReport(drug=drug, as_of=as_of, available=True, findings=findings, undecided=undecided,
                                  notes=notes)


#: Reaction outcomes that end a reaction (a hypocalcaemia reaction no longer counts as present after it).
_RESOLVED = ("resolved", "resolved_with_sequelae")
#: Which record inputs a derived kidney fact is calculated from (the kidney calculator's inputs).
_KIDNEY_INPUTS = {
    "crcl_ml_min": ("creatinine", "weight_kg", "age", "sex"),
    "egfr_ml_min_1_73m2": ("creatinine", "age", "sex"),
}
_INPUT_WORDS = {"creatinine": "serum creatinine", "weight_kg": "body weight", "age": "age", "sex": "sex"}


def clinic_record(session: Session, patient: m.Patient, *, as_of: dt.date) -> PatientRecord:
    """The patient's record for a contraindication check, with the clinic's recorded reactions added.

    A reaction the clinician did not mark as an intolerance still matters to the drug rules: one whose text reads
    as a hypersensitivity reaction (``conditions#hypersensitivity_reaction_terms``; an ``allergy`` reaction
    always does) is added as an intolerance of that drug, and a ``hypocalcaemia`` reaction is added as the
    ``hypocalcaemia`` condition (ended by a resolved outcome on its date; one recorded as resolved without a date,
    on the day it was recorded) for the rules that name it.
    """
    from .reactions import REACTION_LABELS

    record = record_of(patient, as_of=as_of)
    rows = list(session.scalars(select(m.Reaction).where(m.Reaction.patient_id == patient.id)
                                .order_by(m.Reaction.id)))
    if not rows:
        return record
    terms = [str(t).lower() for t in load("conditions").fact("hypersensitivity_reaction_terms").value]
    intolerances = list(record.intolerances)
    conditions = list(record.conditions)
    for r in rows:
        text = REACTION_LABELS.get(r.kind, r.kind) + (f": {r.description}" if r.description else "")
        if not r.intolerance and any(t in text.lower() for t in terms):
            intolerances.append(RIntolerance(drug=r.drug, reaction=text, date=r.onset_on,
                                             severity=r.severity))  # type: ignore[arg-type]
        if r.kind == "hypocalcaemia":
            resolved = None
            if r.outcome in _RESOLVED:  # resolved with no date given: resolved by the day it was recorded so
                resolved = r.resolved_on or max(r.recorded_at.date(), r.onset_on or dt.date.min)
            conditions.append(RCondition(code="hypocalcaemia", onset=r.onset_on, resolved=resolved))
    return record.model_copy(update={"intolerances": intolerances, "conditions": conditions})


def recheck_day(session: Session, patient: m.Patient, day: dt.date, today: dt.date) -> dt.date | None:
    """For a start entered for a past date: the day of everything the clinic knows now (today, or the latest
    lab result if later), when that is after ``day``; else None."""
    latest = session.scalar(select(func.max(m.Lab.date)).where(m.Lab.patient_id == patient.id))
    now = max(today, latest) if latest is not None else today
    return now if now > day else None


def _rule_kinds(drug: str) -> dict[str, str]:
    from ..core.guidelines.rulesets import drug_file

    try:
        rules = drug_file(drug).data.get("contraindications", [])
    except OsteoCareError:
        return {}
    return {str(r["id"]): str(r["kind"]) for r in rules}


def _missing_inputs(record: PatientRecord, missing: list[str]) -> list[str]:
    """The record inputs behind each missing derived fact, in words (e.g. 'body weight' for CrCl)."""
    has = {
        "creatinine": record.creatinine_umol_l is not None or record.creatinine_mg_dl is not None
        or any(lab.name == "creatinine" for lab in record.labs),
        "weight_kg": record.weight_kg is not None,
        "age": record.age is not None,
        "sex": record.sex is not None,
    }
    out: list[str] = []
    for name in missing:
        inputs = _KIDNEY_INPUTS.get(name)
        if inputs is None:
            out.append(name.replace("_", " "))
            continue
        lacking = [_INPUT_WORDS[i] for i in inputs if not has[i]]
        out += [w for w in lacking if w not in out] or [f"{name} (could not be calculated from the record)"]
    return out


def blocking_findings(report: ContraindicationReport,
                      now: ContraindicationReport | None = None) -> list[dict[str, Any]]:
    """What needs a written clinician reason before the drug is started or given.

    Every ``must_not``, ``caution`` and ``fix_first`` finding (fix first = correct it, then start: going ahead
    without correcting it is the clinician's decision, with a reason), and every ``must_not`` rule left
    undecided because a fact it needs is missing - an unknown is never read as "no contraindication".

    ``now``: for a start or dose entered for a past date, the same check on today's record. A rule undecided on
    the past date blocks only if it is still undecided (or fires) today, e.g. a creatinine measured since the
    start date decides the kidney rule.
    """
    out = [f.model_dump(mode="json") for f in report.findings if f.kind in ("must_not", "caution", "fix_first")]
    undecided = _undecided_must_not(report)
    if now is not None:
        current = {str(f["rule_id"]): f for f in [f.model_dump(mode="json") for f in now.findings
                                                  if f.kind == "must_not"] + _undecided_must_not(now)}
        undecided = [current[str(u["rule_id"])] for u in undecided if str(u["rule_id"]) in current]
    return out + undecided


def _undecided_must_not(report: ContraindicationReport) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kinds = _rule_kinds(report.drug)
    for u in report.undecided:
        rid = str(u.get("rule_id"))
        if (u.get("kind") or kinds.get(rid)) != "must_not":
            continue
        needs = u.get("needs") or u.get("missing") or []
        out.append({"kind": "must_not", "rule_id": rid, "status": u.get("status", "verified"), "citation": None,
                    "undecided": True, "missing": list(needs),
                    "text": f"Undecided - not recorded: {', '.join(needs) or 'a needed fact'}. {u.get('text')}"})
    return out


# --- pre-dose checks -----------------------------------------------------------------------------------------


def _vitamin_d_target(guideline: str | None) -> tuple[float, str, Status]:
    kf = load("lifestyle-vitamin-d")
    targets = kf.data.get("targets") or {}
    name = str(targets.get(guideline or "", targets.get("default")))
    fact = kf.fact(name)
    lo = fact.value[0]
    return float(lo), name, lowest([fact.status])


def _range_text(lab: m.Lab) -> str:
    if lab.reference_low is None and lab.reference_high is None:
        return "laboratory reference range not recorded"
    lo = "" if lab.reference_low is None else f"{lab.reference_low:g}"
    hi = "" if lab.reference_high is None else f"{lab.reference_high:g}"
    return f"laboratory range {lo}-{hi} {lab.unit}"


def _outside(lab: m.Lab) -> str | None:
    if lab.reference_low is not None and lab.value < lab.reference_low:
        return "low"
    if lab.reference_high is not None and lab.value > lab.reference_high:
        return "high"
    return None


def _kidney(record: PatientRecord, lab: m.Lab) -> tuple[float | None, float | None, str | None]:
    """(CrCl, eGFR, problem) from this creatinine result with the record's age, sex and weight."""
    from ..core.kidney import assess_kidney

    mini = record.model_copy(update={
        "creatinine_umol_l": None, "creatinine_mg_dl": None,
        "labs": [RLab(name="creatinine", value=lab.value, unit=lab.unit, date=lab.date)],
    })
    try:
        k = assess_kidney(mini)
    except OsteoCareError as exc:
        return None, None, str(exc)
    crcl = k.values.get("crcl_cockcroft_gault")
    egfr = k.values.get("egfr_ckd_epi_2021")
    problem = None if crcl is not None else "CrCl not calculated (body weight not recorded)"
    return (float(crcl.value) if crcl is not None and crcl.value is not None else None,
            float(egfr.value) if egfr is not None and egfr.value is not None else None, problem)


def _drug_fact(reg: Regimen, name: str) -> tuple[float, Status] | None:
    kf = load(reg.knowledge_id)
    if name not in kf.facts:
        return None
    f = kf.fact(name)
    return float(f.value), lowest([f.status])


def _below(value: float, limit: float) -> bool:
    return Decimal(str(value)) < Decimal(str(limit))


def evaluate_predose_checks(session: Session, *, patient: m.Patient, record: PatientRecord, reg: Regimen,
                            item: m.ScheduleItem | None, as_of: dt.date, settings: Settings,
                            previous_dose: dt.date | None) -> list[PreDoseCheckResult]:
    """Every check of the drug's ``checks.items`` for the dose of ``item`` on ``as_of``."""
    lab_names = check_lab_names()
    wanted = sorted({lab_names[c] for c in reg.check_items if c in lab_names})
    latest: dict[str, m.Lab] = {}
    if wanted:
        for r in session.scalars(select(m.Lab).where(m.Lab.patient_id == patient.id, m.Lab.name.in_(wanted),
                                                     m.Lab.date.is_not(None), m.Lab.date <= as_of)
                                 .order_by(m.Lab.date, m.Lab.id)):
            latest[r.name] = r
    confirmed: dict[str, m.PreDoseCheck] = {}
    if item is not None:
        for row in session.scalars(select(m.PreDoseCheck).where(m.PreDoseCheck.item_id == item.id)
                                   .order_by(m.PreDoseCheck.checked_at, m.PreDoseCheck.id)):
            confirmed[row.check_id] = row
    max_age = settings.predose_lab_max_age_days
    out: list[PreDoseCheckResult] = []
    for check in reg.check_items:
        text = check_item_text(check)
        if check not in lab_names:
            c = confirmed.get(check)
            if c is not None:
                out.append(PreDoseCheckResult(check_id=check, text=text, outcome=c.outcome,
                                              detail=c.detail, confirmed_by=c.checked_by))
            else:
                out.append(PreDoseCheckResult(check_id=check, text=text, outcome="to_review",
                                              detail="to be confirmed by the clinician before the dose"))
            continue
        lab = latest.get(lab_names[check])
        if lab is None or lab.date is None:
            out.append(PreDoseCheckResult(check_id=check, text=text, outcome="missing",
                                          detail=f"no {lab_names[check].replace('_', ' ')} result recorded"))
            continue
        when = lab.date
        base = dict(check_id=check, text=text, value=lab.value, unit=lab.unit, measured_on=when, lab_id=lab.id)
        age = (as_of - when).days
        since = "" if previous_dose is None else (
            " (measured since the last dose)" if when > previous_dose else " (measured before the last dose)")
        seen = f"{lab.name.replace('_', ' ')} {lab.value:g} {lab.unit} on {when.isoformat()}, {age} days ago{since}"
        problem: str | None = None
        status: Status = "verified"
        ok_detail = seen
        if check == "serum_calcium" or check in ("alkaline_phosphatase", "pth", "pth_if_calcium_high_normal"):
            side = _outside(lab)
            if side == "low" and check == "serum_calcium":  # the labels: correct hypocalcaemia before the dose
                problem = f"{seen}: {side} ({_range_text(lab)}) - correct it before the dose"
            elif side is not None:
                out.append(PreDoseCheckResult(**base, outcome="to_review",
                                              detail=f"{seen}: {side} ({_range_text(lab)})"))
                continue
            else:
                ok_detail = f"{seen}; {_range_text(lab)}"
                if lab.reference_low is None and lab.reference_high is None:
                    out.append(PreDoseCheckResult(**base, outcome="to_review",
                                                  detail=ok_detail))
                    continue
        elif check == "vitamin_d_25oh":
            target, fact_name, status = _vitamin_d_target(settings.guideline)
            value_ng = lab.value
            try:
                unit = canonical_vitamin_d_unit(lab.unit)
            except OsteoCareError:
                unit = lab.unit
            if unit != NG_ML:
                value_ng = lab.value / vitamin_d_factor()
                status = lowest([status, vitamin_d_factor_status()])
            if _below(round_half_away(value_ng, 1), target):  # as the assessment rounds it (lifestyle)
                problem = (f"{seen}: below the 25(OH)D target of {target:g} ng/mL ({fact_name}) - correct the "
                           "deficiency first")
            else:
                ok_detail = f"{seen}; at or above the {target:g} ng/mL target ({fact_name})"
        elif check in ("creatinine_crcl", "creatinine_egfr"):
            crcl, egfr, why = _kidney(record, lab)
            if check == "creatinine_crcl":
                limit = _drug_fact(reg, "crcl_min_ml_min")
                if crcl is None:
                    out.append(PreDoseCheckResult(**base, outcome="to_review",
                                                  detail=f"{seen}; {why}"))
                    continue
                if limit is not None:
                    status = limit[1]
                    if _below(crcl, limit[0]):
                        problem = f"{seen}: CrCl {crcl:g} mL/min is below {limit[0]:g} mL/min for {reg.name}"
                    else:
                        ok_detail = f"{seen}; CrCl {crcl:g} mL/min (limit {limit[0]:g} mL/min)"
                else:
                    ok_detail = f"{seen}; CrCl {crcl:g} mL/min"
            else:
                limit = _drug_fact(reg, "egfr_specialist_below")
                if egfr is None:
                    out.append(PreDoseCheckResult(**base, outcome="to_review",
                                                  detail=f"{seen}; {why}"))
                    continue
                if limit is not None:
                    status = limit[1]
                    if _below(egfr, limit[0]):
                        problem = (f"{seen}: eGFR {egfr:g} mL/min/1.73 m2 is below {limit[0]:g} - specialist "
                                   "(CKD-MBD) pathway")
                    else:
                        ok_detail = f"{seen}; eGFR {egfr:g} mL/min/1.73 m2"
                else:
                    ok_detail = f"{seen}; eGFR {egfr:g} mL/min/1.73 m2"
        if problem is not None:
            out.append(PreDoseCheckResult(**base, outcome="not_ok", detail=problem, status=status))
        elif max_age is None:
            out.append(PreDoseCheckResult(
                **base, outcome="not_configured", status=status,
                detail=f"{ok_detail}. How recent it must be is not configured (local policy): the clinician judges.",
            ))
        elif age > max_age:
            out.append(PreDoseCheckResult(
                **base, outcome="missing", status=status,
                detail=f"{ok_detail}; older than the {max_age} days of local policy - repeat the test",
            ))
        else:
            out.append(PreDoseCheckResult(**base, outcome="ok", detail=ok_detail, status=status))
    return out
