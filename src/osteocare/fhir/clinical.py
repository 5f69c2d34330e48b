"""The clinical picture the FHIR adapters need: assessment, calculator results, derived facts, recommendation.

Glue over the core, no clinical logic of its own: ``osteocare.core.assessment.assess`` runs the calculators and
the treatment recommendation; ``derived_facts`` (also the core's) gives what the contraindication checks read.
"""

from __future__ import annotations

import datetime as dt
import inspect
from dataclasses import dataclass, field
from typing import Any

from ..core.assessment import Assessment, assess
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


def _derived_facts(results: dict[str, CalculatorResult], record: PatientRecord) -> DerivedFacts:
    """The core's own ``derived_facts`` (with the record where the core's version accepts it)."""
    from ..core.assessment import derived_facts

    if "record" in inspect.signature(derived_facts).parameters:
        return derived_facts(results, record)  # type: ignore[call-arg,unused-ignore]
    return derived_facts(results)


def not_applicable_reason(c: Clinical, calculator: str) -> str | None:
    return next((n.reason for n in c.assessment.not_applicable if n.calculator == calculator), None)


def clinical_picture(record: PatientRecord, *, as_of: dt.date, guideline: str | None = None,
                     with_recommendation: bool = True) -> Clinical:
    """Assess ``record`` on ``as_of`` and gather what the FHIR export and the CDS Hooks cards show."""
    problems: list[str] = []
    assessment = assess(record, guideline=guideline, as_of=as_of)
    results = dict(assessment.results)
    facts = _derived_facts(results, record)
    rec: Any = None
    if with_recommendation and assessment.recommendation is not None:
        from ..core.drugs import Recommendation

        try:
            rec = Recommendation.model_validate(assessment.recommendation)
        except ValueError as exc:
            problems.append(f"treatment recommendation not readable: {exc}")
    return Clinical(record, as_of, assessment, results, facts, rec, problems)
