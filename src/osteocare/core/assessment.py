"""assess(record) -> Assessment: every calculator that applies, why the others do not, and provenance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from .. import __version__
from .knowledge import load, release
from .records import PatientRecord
from .results import CalculatorResult
from .densitometry import assess_bone_density
from .kidney import assess_kidney
from .risk import qfracture
from .risk.caroc import assess_caroc
from .risk.frax_adjust import assess_frax
from .risk.osta import assess_osta
from .vertebral import grade_vertebrae
from .status import Status, lowest

Calculator = Callable[[PatientRecord], CalculatorResult]


class Provenance(BaseModel):
    osteocare_version: str
    knowledge_version: str
    knowledge_sha256: str
    knowledge_files: dict[str, str] = Field(description="id -> version of each knowledge file used")
    guideline: str | None
    as_of: dt.date


class NotApplicableEntry(BaseModel):
    calculator: str
    name: str
    reason: str


class Assessment(BaseModel):
    patient_id: str
    as_of: dt.date
    results: dict[str, CalculatorResult]
    not_applicable: list[NotApplicableEntry]
    warnings: list[str]
    status: Status
    provenance: Provenance
    recommendation: dict[str, Any] | None = None


def _calculators(as_of: dt.date) -> list[Calculator]:
    return [
        lambda r: assess_bone_density(r, as_of=as_of),
        lambda r: grade_vertebrae(r.vertebrae),
        qfracture.assess_qfracture,
        assess_frax,
        assess_osta,
        assess_caroc,
        assess_kidney,
    ]


def assess(record: PatientRecord, *, guideline: str | None = None, as_of: dt.date | None = None) -> Assessment:
    """Assess one patient. ``as_of`` defaults to today; it decides which exams and labs are current."""
    day = as_of or dt.date.today()
    results: dict[str, CalculatorResult] = {}
    not_applicable: list[NotApplicableEntry] = []
    for calc in _calculators(day):
        r = calc(record)
        if r.applicable:
            results[r.calculator] = r
        else:
            not_applicable.append(
                NotApplicableEntry(calculator=r.calculator, name=r.name, reason=r.reason or "not applicable")
            )
    used = sorted({c.knowledge_id for r in results.values() for c in r.citations}
                  | {c.knowledge_id for r in results.values() for f in r.rules_fired for c in f.citations})
    rel = release()
    warnings = [w for r in results.values() for w in r.warnings if "(status:" in w]
    return Assessment(
        patient_id=record.id,
        as_of=day,
        results=results,
        not_applicable=not_applicable,
        warnings=warnings,
        status=lowest(r.status for r in results.values()),
        provenance=Provenance(
            osteocare_version=__version__,
            knowledge_version=rel.version,
            knowledge_sha256=rel.sha256,
            knowledge_files={k: load(k).version for k in used},
            guideline=guideline,
            as_of=day,
        ),
    )
