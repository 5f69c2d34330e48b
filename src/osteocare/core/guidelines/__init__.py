"""Guideline rule sets on one engine: risk strata, the rules that fired, and why."""

from __future__ import annotations

from .engine import StratumResult, UndecidedRule, stratify
from .facts import DerivedFacts, FallsScreen, derived_facts_from_record
from .rulesets import available_guidelines, default_guideline

__all__ = [
    "DerivedFacts",
    "FallsScreen",
    "StratumResult",
    "UndecidedRule",
    "available_guidelines",
    "default_guideline",
    "derived_facts_from_record",
    "stratify",
]
