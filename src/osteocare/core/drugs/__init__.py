"""Drugs: contraindication checks, recommendation, sequencing and lifestyle advice."""

from __future__ import annotations

from .contraindications import check_contraindications, check_drug
from .lifestyle import steadi_brochure_score
from .models import (
    Action,
    ContraindicationHit,
    DrugCheck,
    FollowUp,
    Lifestyle,
    LifestyleItem,
    NotOffered,
    Option,
    Recommendation,
    SequencingAdvice,
)
from .recommend import recommend

__all__ = [
    "Action",
    "ContraindicationHit",
    "DrugCheck",
    "FollowUp",
    "Lifestyle",
    "LifestyleItem",
    "NotOffered",
    "Option",
    "Recommendation",
    "SequencingAdvice",
    "check_contraindications",
    "check_drug",
    "recommend",
    "steadi_brochure_score",
]
