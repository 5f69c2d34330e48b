"""assess(record) -> Assessment: every calculator that applies, why the others do not, and provenance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from .. import __version__
from .densitometry import WHO_CATEGORIES, assess_bone_density
from .drugs import recommend
from .errors import InputError
from .guidelines import available_guidelines, default_guideline
from .guidelines.facts import DerivedFacts, FallsScreen
from .kidney import assess_kidney
from .knowledge import load, release
from .parts import TextPart
from .records import PatientRecord, known_on
from .results import CalculatorResult
from .risk import qfracture
from .risk.caroc import assess_caroc
from .risk.frax_adjust import assess_frax
from .risk.osta import assess_osta
from .status import Status, lowest
from .vertebral import grade_vertebrae

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
    reason_parts: list[TextPart] = Field(default_factory=list, description="``reason`` as parts, for translation")


class Assessment(BaseModel):
    patient_id: str
    as_of: dt.date
    results: dict[str, CalculatorResult]
    not_applicable: list[NotApplicableEntry]
    warnings: list[str]
    status: Status
    provenance: Provenance
    recommendation: dict[str, Any] | None = Field(
        default=None, description="The treatment recommendation (options, contraindications, follow-up) and its text"
    )


def _calculators(as_of: dt.date) -> list[Calculator]:
    """The calculators in ``assess``'s order. Bone density runs first; CAROC and FRAX read the T-score that decides
    at each site in its result (one T-score per site for the whole assessment)."""
    bone: dict[str, CalculatorResult] = {}

    def bone_density(r: PatientRecord) -> CalculatorResult:
        bone["result"] = assess_bone_density(r, as_of=as_of)
        return bone["result"]

    return [
        bone_density,
        lambda r: grade_vertebrae(r.vertebrae),
        qfracture.assess_qfracture,
        lambda r: assess_frax(r, bone_density=bone["result"]),
        assess_osta,
        lambda r: assess_caroc(r, bone_density=bone["result"]),
        lambda r: assess_kidney(r, as_of=as_of),
    ]


def run_calculators(
    record: PatientRecord, *, as_of: dt.date
) -> tuple[dict[str, CalculatorResult], list[NotApplicableEntry]]:
    """Run every calculator on ``record`` as ``assess`` does: (results of those that apply, by calculator id;
    the others, with why they do not apply), in ``assess``'s order."""
    results: dict[str, CalculatorResult] = {}
    not_applicable: list[NotApplicableEntry] = []
    for calc in _calculators(as_of):
        r = calc(record)
        if r.applicable:
            results[r.calculator] = r
        else:
            not_applicable.append(
                NotApplicableEntry(calculator=r.calculator, name=r.name, reason=r.reason or "not applicable",
                                   reason_parts=r.reason_parts)
            )
    return results, not_applicable


def _value(results: dict[str, CalculatorResult], calc: str, key: str) -> Any:
    r = results.get(calc)
    q = r.values.get(key) if r else None
    return None if q is None else q.value


def derived_facts(results: dict[str, CalculatorResult], record: PatientRecord | None = None) -> DerivedFacts:
    """What the treatment rules read, taken from the calculators' results, each with its calculator's status."""
    bd = results.get("bone-density")
    t_scores: dict[str, float] = {}
    if bd is not None:
        for site in ("lumbar_spine", "total_hip", "femoral_neck", "radius_33"):
            v = _value(results, "bone-density", f"{site}_t_score")
            if isinstance(v, float | int):
                t_scores[site] = float(v)
    statuses: dict[str, Any] = {}
    for fact, calc in (("lowest_t_score", "bone-density"), ("lowest_t_site", "bone-density"),
                       ("t_scores", "bone-density"), ("who_category", "bone-density"),
                       ("frax_mof_percent_adjusted", "frax-entered"), ("frax_hip_percent_adjusted", "frax-entered"),
                       ("qfracture_mof_percent", "qfracture-2012"), ("qfracture_hip_percent", "qfracture-2012"),
                       ("crcl_ml_min", "kidney-function"), ("egfr_ml_min_1_73m2", "kidney-function"),
                       ("caroc_category", "caroc-2010")):
        if calc in results:
            statuses[fact] = results[calc].status
    who = bd.category if bd is not None and bd.category in WHO_CATEGORIES else None
    return DerivedFacts(
        lowest_t_score=_value(results, "bone-density", "lowest_t_score"),
        lowest_t_site=_value(results, "bone-density", "lowest_t_score_site"),
        t_scores=t_scores,
        who_category=who,
        frax_mof_percent_adjusted=_value(results, "frax-entered", "mof_adjusted"),
        frax_hip_percent_adjusted=_value(results, "frax-entered", "hip_adjusted"),
        qfracture_mof_percent=_value(results, "qfracture-2012", "major_osteoporotic_fracture_percent"),
        qfracture_hip_percent=_value(results, "qfracture-2012", "hip_fracture_percent"),
        crcl_ml_min=_value(results, "kidney-function", "crcl_cockcroft_gault"),
        egfr_ml_min_1_73m2=_value(results, "kidney-function", "egfr_ckd_epi_2021"),
        caroc_category=results["caroc-2010"].category if "caroc-2010" in results else None,
        guideline_categories=dict(record.guideline_categories) if record else {},
        falls_screen=(
            FallsScreen(key_questions=dict(record.falls_screen_answers),
                        brochure_items=record.falls_screen_brochure_items, answered_on=record.falls_screen_date)
            if record and (record.falls_screen_answers or record.falls_screen_brochure_items is not None) else None
        ),
        statuses=statuses,
    )


def assess(record: PatientRecord, *, guideline: str | None = None, as_of: dt.date | None = None) -> Assessment:
    """Assess one patient. ``as_of`` defaults to today; it decides which exams and labs are current.

    ``guideline`` selects the rule set for the treatment recommendation (default: the deployment's).
    """
    day = as_of or dt.date.today()
    gid = guideline or default_guideline()
    if gid not in available_guidelines():
        raise InputError("guideline", gid, "one of " + ", ".join(available_guidelines()))
    record, later = known_on(record, day)  # nothing dated after the assessment date is used
    results, not_applicable = run_calculators(record, as_of=day)
    used = sorted({c.knowledge_id for r in results.values() for c in r.citations}
                  | {c.knowledge_id for r in results.values() for f in r.rules_fired for c in f.citations})
    rec = recommend(record, derived_facts(results, record), guideline=gid, as_of=day)
    rel = release()
    warnings = [*later, *(w for r in results.values() for w in r.warnings if "(status:" in w)]
    warnings += [w for w in rec.warnings if w not in warnings]
    used = sorted({*used, *(c.knowledge_id for c in rec.citations)})
    return Assessment(
        patient_id=record.id,
        as_of=day,
        results=results,
        not_applicable=not_applicable,
        warnings=warnings,
        status=lowest([*(r.status for r in results.values()), rec.status]),
        provenance=Provenance(
            osteocare_version=__version__,
            knowledge_version=rel.version,
            knowledge_sha256=rel.sha256,
            knowledge_files={k: load(k).version for k in used},
            guideline=gid,
            as_of=day,
        ),
        recommendation={"text": rec.to_text(), **rec.model_dump(mode="json")},
    )
