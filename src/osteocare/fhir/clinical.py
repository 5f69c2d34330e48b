"""The clinical picture the FHIR adapters need: assessment, calculator results, derived facts, recommendation.

Glue over the core, no clinical logic of its own. It uses ``osteocare.core.assessment.assess`` and takes each
calculator result from the assessment when the assessment carries it; a calculator the assessment does not run
yet (bone density, kidney function, FRAX entered) is called directly. ``DerivedFacts`` for the treatment engine
are read off those results. When the core offers its own way to build them, this module should call it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..core.assessment import Assessment, assess
from ..core.errors import OsteoCareError
from ..core.guidelines.facts import DerivedFacts
from ..core.records import PatientRecord
from ..core.results import CalculatorResult


@dataclass
class Clinical:
    record: PatientRecord
    as_of: dt.date
    assessment: Assessment
    results: dict[str, CalculatorResult]
    facts: DerivedFacts
    recommendation: Any | None = None  # core.drugs.Recommendation
    problems: list[str] = field(default_factory=list)

    def result(self, calculator: str) -> CalculatorResult | None:
        r = self.results.get(calculator)
        return r if r is not None and r.applicable else None


def _value(r: CalculatorResult | None, key: str) -> Any:
    if r is None or not r.applicable or key not in r.values:
        return None
    return r.values[key].value


def _extra_results(record: PatientRecord, as_of: dt.date, have: dict[str, CalculatorResult],
                   problems: list[str]) -> dict[str, CalculatorResult]:
    out: dict[str, CalculatorResult] = {}

    def run(cid: str, fn: Any) -> None:
        if cid in have:
            return
        try:
            out[cid] = fn()
        except OsteoCareError as exc:
            problems.append(f"{cid}: {exc}")

    from ..core import densitometry, kidney
    from ..core.risk import frax_adjust

    run(densitometry.CALCULATOR, lambda: densitometry.assess_bone_density(record, as_of=as_of))
    run(kidney.CALCULATOR, lambda: kidney.assess_kidney(record))
    run(frax_adjust.CALCULATOR, lambda: frax_adjust.assess_frax(record))
    return out


def derived_facts(results: dict[str, CalculatorResult]) -> DerivedFacts:
    """DerivedFacts read off the calculator results (each fact carries its result's status)."""
    bd = results.get("bone-density")
    kid = results.get("kidney-function")
    frax = results.get("frax-entered")
    qf = results.get("qfracture-2012")
    caroc = results.get("caroc-2010")
    statuses: dict[str, Any] = {}
    t_scores: dict[str, float] = {}
    if bd is not None and bd.applicable:
        for e in bd.details.get("t_scores", []):
            if e.get("decides") and e.get("eligible", True):
                t_scores[str(e["site"])] = float(e["rounded"])
        for name in ("lowest_t_score", "who_category", "t_scores"):
            statuses[name] = bd.status
    if kid is not None and kid.applicable:
        statuses["crcl_ml_min"] = statuses["egfr_ml_min_1_73m2"] = kid.status
    if frax is not None and frax.applicable:
        statuses["frax_mof_percent_adjusted"] = statuses["frax_hip_percent_adjusted"] = frax.status
    if qf is not None and qf.applicable:
        statuses["qfracture_mof_percent"] = statuses["qfracture_hip_percent"] = qf.status
    if caroc is not None and caroc.applicable:
        statuses["caroc_category"] = caroc.status
    cat = bd.category if bd is not None and bd.applicable else None
    return DerivedFacts(
        lowest_t_score=_value(bd, "lowest_t_score"),
        lowest_t_site=_value(bd, "lowest_t_score_site"),
        t_scores=t_scores,
        who_category=cat if cat in ("normal", "low_bone_mass", "osteoporosis", "severe_osteoporosis") else None,
        frax_mof_percent_adjusted=_value(frax, "mof_adjusted"),
        frax_hip_percent_adjusted=_value(frax, "hip_adjusted"),
        qfracture_mof_percent=_value(qf, "major_osteoporotic_fracture_percent"),
        qfracture_hip_percent=_value(qf, "hip_fracture_percent"),
        crcl_ml_min=_value(kid, "crcl_cockcroft_gault"),
        egfr_ml_min_1_73m2=_value(kid, "egfr_ckd_epi_2021"),
        caroc_category=caroc.category if caroc is not None and caroc.applicable else None,
        statuses=statuses,
    )


def clinical_picture(record: PatientRecord, *, as_of: dt.date, guideline: str | None = None,
                     with_recommendation: bool = True) -> Clinical:
    """Assess ``record`` on ``as_of`` and gather what the FHIR export and the CDS Hooks cards show."""
    problems: list[str] = []
    assessment = assess(record, guideline=guideline, as_of=as_of)
    results = dict(assessment.results)
    results.update(_extra_results(record, as_of, results, problems))
    facts = derived_facts(results)
    rec: Any = None
    if with_recommendation:
        rec = assessment.recommendation
        if rec is None:
            try:
                from ..core.drugs import recommend
                from ..core.guidelines.rulesets import default_guideline

                rec = recommend(record, facts, guideline=guideline or default_guideline(), as_of=as_of)
            except OsteoCareError as exc:
                problems.append(f"treatment recommendation: {exc}")
        elif isinstance(rec, dict):
            try:
                from ..core.drugs import Recommendation

                rec = Recommendation.model_validate(rec)
            except Exception:  # a recommendation in another shape: shown as it is
                pass
    return Clinical(record, as_of, assessment, results, facts, rec, problems)
