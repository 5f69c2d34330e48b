"""Result types shared by every calculator: values with units, rules fired, citations, status, warnings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .knowledge import load
from .parts import TextPart, joined
from .status import Status, lowest, status_warning


class Citation(BaseModel):
    model_config = ConfigDict(frozen=True)
    knowledge_id: str
    source_id: str
    text: str


def cite(knowledge_id: str, source_id: str | None = None) -> Citation:
    """A citation of one source of a knowledge file (default: the file's data source or first source)."""
    kf = load(knowledge_id)
    sid = source_id or kf.data_source or kf.sources[0].id
    return Citation(knowledge_id=knowledge_id, source_id=sid, text=kf.citation(sid))


class Quantity(BaseModel):
    model_config = ConfigDict(frozen=True)
    value: float | int | str | None
    unit: str


class RuleFired(BaseModel):
    """One rule (or fact-driven step) that contributed to a result. Give ``text``, or ``parts`` (the text as
    translatable parts; ``text`` is then their English rendering), or both, when they must agree."""

    model_config = ConfigDict(frozen=True)
    rule_id: str
    text: str = ""
    parts: tuple[TextPart, ...] = Field(default=(), description="``text`` as parts, for translation")
    status: Status = "verified"
    citations: tuple[Citation, ...] = ()

    @model_validator(mode="after")
    def _text_of_parts(self) -> RuleFired:
        if self.parts:
            english = joined(self.parts)
            if not self.text:
                object.__setattr__(self, "text", english)
            elif self.text != english:
                raise ValueError(f"rule {self.rule_id}: text {self.text!r} is not its parts' {english!r}")
        elif not self.text:
            raise ValueError(f"rule {self.rule_id}: neither text nor parts")
        return self


class CalculatorResult(BaseModel):
    """The result of one calculator for one patient."""

    calculator: str = Field(description="Calculator id, e.g. 'qfracture-2012'")
    name: str
    applicable: bool = True
    reason: str | None = Field(default=None, description="Why the calculator did not apply")
    reason_parts: list[TextPart] = Field(default_factory=list, description="``reason`` as parts, for translation")
    values: dict[str, Quantity] = Field(default_factory=dict)
    category: str | None = None
    rules_fired: list[RuleFired] = Field(default_factory=list)
    status: Status = "verified"
    warnings: list[str] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)

    def finish(self, *extra_statuses: Status) -> CalculatorResult:
        """Set ``status`` to the lowest of the rules' and ``extra_statuses``; add the visible warning."""
        self.status = lowest([*(r.status for r in self.rules_fired), *extra_statuses])
        w = status_warning(self.status, self.name)
        if w and w not in self.warnings:
            self.warnings.append(w)
        return self


def not_applicable(calculator: str, name: str, reason: str | TextPart) -> CalculatorResult:
    """A result of a calculator that did not apply, with the reason (text, or one part: its English is the text)."""
    if isinstance(reason, TextPart):
        return CalculatorResult(calculator=calculator, name=name, applicable=False, reason=reason.render(),
                                reason_parts=[reason])
    return CalculatorResult(calculator=calculator, name=name, applicable=False, reason=reason)
