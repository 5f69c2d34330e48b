"""Result models of the treatment engine (pydantic, JSON-serialisable)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..guidelines.engine import StratumResult, UndecidedRule
from ..parts import TextPart as TextPart  # re-exported: lifestyle advice as parts
from ..results import Citation, RuleFired
from ..status import Status

HitKind = Literal["must_not", "caution", "fix_first"]
Urgency = Literal["urgent", "soon", "routine"]


class ContraindicationHit(BaseModel):
    """One contraindication rule that fired for one drug."""

    drug: str
    kind: HitKind = Field(description="must_not (absolute), caution (relative) or fix_first (correct, then start)")
    rule_id: str
    text: str
    citation: Citation
    status: Status


class DrugCheck(BaseModel):
    """The contraindication check of one drug: what fired and what could not be decided."""

    drug: str
    hits: list[ContraindicationHit] = Field(default_factory=list)
    undecided: list[UndecidedRule] = Field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(h.kind == "must_not" for h in self.hits)


class DrugFacts(BaseModel):
    """How the drug is given (from its knowledge file)."""

    name: str
    route: str
    setting: str
    regimen: str
    administration: str
    status: Status


class Option(BaseModel):
    """A ranked drug option."""

    rank: int
    drug: str
    name: str
    tier: Literal["first_line", "alternative"]
    reasons: list[RuleFired]
    cautions: list[ContraindicationHit] = Field(default_factory=list)
    fix_first: list[ContraindicationHit] = Field(default_factory=list)
    undecided: list[UndecidedRule] = Field(default_factory=list)
    how: DrugFacts
    status: Status
    citations: list[Citation]


class NotOffered(BaseModel):
    """A drug the guideline would offer at this stratum but that must not be given (or the guideline excludes)."""

    drug: str
    name: str
    reasons: list[str]
    hits: list[ContraindicationHit] = Field(default_factory=list)
    excluded_by: RuleFired | None = None
    citations: list[Citation]


class Action(BaseModel):
    """Something to do or check, with its rule, status and citations."""

    text: str
    rule_id: str
    status: Status = "verified"
    citations: list[Citation] = Field(default_factory=list)
    drug: str | None = None
    parts: list[TextPart] = Field(default_factory=list, description="``text`` as parts, for translation")


class FollowUp(BaseModel):
    item: str = Field(description="bmd, labs, review, reassess, dose ...")
    text: str
    due_from: dt.date | None = None
    due_by: dt.date | None = None
    rule_id: str
    status: Status = "verified"
    citations: list[Citation] = Field(default_factory=list)


class SequencingAdvice(BaseModel):
    action: Literal["continue", "give_dose", "start_follow_on", "drug_holiday", "reassess", "switch", "restart",
                    "review", "find_last_dose"]
    urgency: Urgency
    drug: str | None = None
    text: str
    rule_id: str
    due: dt.date | None = None
    alternatives: list[str] = Field(default_factory=list)
    status: Status = "verified"
    citations: list[Citation] = Field(default_factory=list)


class LifestyleItem(BaseModel):
    topic: Literal["calcium", "vitamin_d", "exercise", "falls", "supplements"]
    text: str
    parts: list[TextPart] = Field(default_factory=list, description="text, sentence by sentence, for translation")
    rule_ids: list[str]
    values: dict[str, Any] = Field(default_factory=dict)
    status: Status = "verified"
    citations: list[Citation] = Field(default_factory=list)


class Lifestyle(BaseModel):
    items: list[LifestyleItem] = Field(default_factory=list)
    falls_screen: Literal["positive", "negative", "not_done"] = "not_done"
    brochure_score: int | None = None
    status: Status = "verified"


class Recommendation(BaseModel):
    """Who to treat, with what, what must not be given, what to check first and what comes next."""

    patient_id: str
    guideline: str
    as_of: dt.date
    region: str
    stratum: StratumResult
    options: list[Option] = Field(default_factory=list)
    not_offered: list[NotOffered] = Field(default_factory=list)
    no_drug_reason: RuleFired | None = None
    before_first_dose: list[Action] = Field(default_factory=list)
    follow_up: list[FollowUp] = Field(default_factory=list)
    sequencing: list[SequencingAdvice] = Field(default_factory=list)
    lifestyle: Lifestyle = Field(default_factory=Lifestyle)
    notes: list[Action] = Field(default_factory=list)
    status: Status = "verified"
    warnings: list[str] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)

    def to_text(self) -> str:
        from .report import render

        return render(self)
