"""Thin read helpers of the web layer over the store (what the services do not offer yet): paged patient lists,
the DXA series per site, the audit log, and an audit entry for reads the services do not audit themselves."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from typing import Any

from sqlalchemy import ColumnElement, String, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from ..services.context import Clinic
from ..services.errors import NotFound
from ..store import models as m
from ..store.records import age_on
from ..store.revision import patient_at


class fold(FunctionElement[str]):
    """A text column folded for a search regardless of case and of how a letter was typed (composed or decomposed,
    Unicode NFC): ``normalize(lower(x), NFC)`` on PostgreSQL 13+ (Unicode-aware under a UTF-8 database; ``lower()``
    alone before 13), on SQLite a Python function (SQLite's own ``lower()`` folds only ASCII: ``Đặng`` stayed
    ``Đặng``). Names are stored composed (services/patients.py, migration 0013); the column side is folded as well
    for text stored otherwise (questions, rows written before 0013). A session must call :func:`with_fold` before a
    statement that uses it."""

    type = String()
    name = "osteocare_fold"
    inherit_cache = True


@compiles(fold)
def _fold_sql(element: fold, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(fold, "postgresql")
def _fold_postgresql(element: fold, compiler: SQLCompiler, **kw: Any) -> str:
    version = compiler.dialect.server_version_info or (0,)
    lowered = f"lower({compiler.process(element.clauses, **kw)})"
    return f"normalize({lowered}, NFC)" if version >= (13,) else lowered


@compiles(fold, "sqlite")
def _fold_sqlite(element: fold, compiler: SQLCompiler, **kw: Any) -> str:
    return f"osteocare_fold({compiler.process(element.clauses, **kw)})"


def fold_text(value: str) -> str:
    """The folded form of a search text: what :class:`fold` makes of a column (NFC first: a decomposed letter
    typed on some keyboards is the same letter)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).lower())


def _fold_py(value: Any) -> Any:
    return fold_text(value) if isinstance(value, str) else value


def with_fold(s: Session) -> None:
    """Make :class:`fold` callable on this session's connection (SQLite: registered once per connection)."""
    if s.get_bind().dialect.name != "sqlite":
        return
    conn = s.connection().connection  # the pooled DB-API connection; its ``info`` lives as long as it does
    if not conn.info.get("osteocare_fold"):
        conn.driver_connection.create_function("osteocare_fold", 1, _fold_py, deterministic=True)  # type: ignore[union-attr]
        conn.info["osteocare_fold"] = True


def like_contains(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its ``%``, ``_`` and ``\\`` taken literally (``ESCAPE '\\'``)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """``column`` contains ``text`` (already folded with :func:`fold_text`), regardless of case."""
    return fold(column).like(like_contains(text), escape="\\")


def patients_page(clinic: Clinic, text: str = "", *, offset: int = 0, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    """Patients whose id or name contains ``text`` (regardless of case, also of Vietnamese capitals; ``%`` and ``_``
    are plain characters), by family name, with the total count."""
    from ..services._common import summary

    with clinic.db.read() as s:
        stmt = select(m.Patient)
        if text:
            with_fold(s)
            t = fold_text(text)
            stmt = stmt.where(or_(contains(m.Patient.record_id, t), contains(m.Patient.family_name, t),
                                  contains(m.Patient.given_name, t)))
        total = int(s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
        rows = s.scalars(stmt.order_by(m.Patient.family_name, m.Patient.given_name, m.Patient.record_id)
                         .offset(offset).limit(limit))
        today = clinic.today()
        return [summary(p, today).model_dump(mode="json") for p in rows], total


def audit_read(clinic: Clinic, record_id: str, what: str) -> None:
    """Audit a read of a patient's record that the service called does not audit itself."""
    found = patient_at(clinic.db, record_id)
    if found is None:
        raise NotFound("patient", record_id)
    clinic.db.audit_reads.append(actor=clinic.actor, action="read", entity="patient", entity_id=record_id,
                                 patient_id=found[0], detail={"what": what})


def patient_exists(clinic: Clinic, record_id: str) -> bool:
    with clinic.db.read() as s:
        return s.scalar(select(m.Patient.id).where(m.Patient.record_id == record_id)) is not None


def dxa_series(clinic: Clinic, record_id: str) -> dict[str, list[dict[str, Any]]]:
    """Per site, the exams in date order: date, T-score, BMD (g/cm2)."""
    with clinic.db.read() as s:
        pid = s.scalar(select(m.Patient.id).where(m.Patient.record_id == record_id))
        if pid is None:
            raise NotFound("patient", record_id)
        rows = s.execute(select(m.DxaExam.exam_date, m.DxaExam.manufacturer, m.DxaSite.site, m.DxaSite.t_score,
                                m.DxaSite.bmd_g_cm2)
                         .join(m.DxaSite, m.DxaSite.exam_id == m.DxaExam.id)
                         .where(m.DxaExam.patient_id == pid).order_by(m.DxaExam.exam_date, m.DxaExam.id)).all()
    out: dict[str, list[dict[str, Any]]] = {}
    for d, manu, site, t, bmd in rows:
        if d is None:
            continue
        out.setdefault(site, []).append({"date": d, "t_score": t, "bmd_g_cm2": bmd, "manufacturer": manu})
    return out


def fractures_of(clinic: Clinic, record_id: str) -> list[dict[str, Any]]:
    with clinic.db.read() as s:
        pid = s.scalar(select(m.Patient.id).where(m.Patient.record_id == record_id))
        if pid is None:
            raise NotFound("patient", record_id)
        rows = s.scalars(select(m.Fracture).where(m.Fracture.patient_id == pid))
        return [{c: getattr(f, c) for c in ("site", "date")} for f in rows]


def audit_page(clinic: Clinic, *, record_id: str | None = None, actor: str | None = None, offset: int = 0,
               limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    with clinic.db.read() as s:
        stmt = select(m.AuditEntry, m.Patient.record_id).outerjoin(m.Patient, m.Patient.id == m.AuditEntry.patient_id)
        if record_id:
            stmt = stmt.where(m.Patient.record_id == record_id)
        if actor:
            stmt = stmt.where(m.AuditEntry.actor == actor)
        total = int(s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
        rows = s.execute(stmt.order_by(m.AuditEntry.id.desc()).offset(offset).limit(limit)).all()
        items = []
        for a, rid in rows:
            detail: Any = a.detail
            if detail:
                try:
                    detail = json.loads(detail)
                except ValueError:
                    pass
            items.append({"id": a.id, "at": a.at, "actor": a.actor, "action": a.action, "entity": a.entity,
                          "entity_id": a.entity_id, "record_id": rid, "detail": detail})
        return items, total


def patient_age(birth: dt.date | None, today: dt.date) -> int | None:
    return age_on(birth, today) if birth else None
