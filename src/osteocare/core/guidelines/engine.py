"""One rule engine for every guideline: ``stratify(record, facts, guideline=..., as_of=...)``.

A guideline is a knowledge file (``knowledge/guidelines/<id>.yaml``) with its strata, the order in which they
are tried (the first stratum with a rule that fires wins), the rules as conditions in the safe condition
language (:mod:`.conditions`), and its treatment options. There is no ``if guideline == ...`` anywhere.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from ..knowledge import KnowledgeFile
from ..records import PatientRecord
from ..results import Citation, RuleFired, cite
from ..status import Status, lowest, status_warning
from .conditions import Context, Outcome, evaluate
from .facts import DerivedFacts, FactView
from .rulesets import fact_text, guideline_file, rule_citations, rule_status


class UndecidedRule(BaseModel):
    """A rule that could not be decided because facts were missing."""

    rule_id: str
    text: str
    stratum: str | None = None
    missing: list[str]
    status: Status = "verified"


class StratumResult(BaseModel):
    """The risk stratum in the guideline's own words, the rules that fired and what was missing."""

    guideline: str
    guideline_name: str
    as_of: dt.date
    stratum: str | None = Field(description="Stratum key (very_high, high, ...) or None if not determined")
    label: str = Field(description="The stratum in the guideline's own words")
    treat: bool | None = Field(description="Does the guideline recommend drug treatment at this stratum?")
    rules_fired: list[RuleFired] = Field(default_factory=list)
    also_fired: list[str] = Field(default_factory=list, description="Ids of rules of lower strata that also fired")
    undecided: list[UndecidedRule] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    action: list[RuleFired] = Field(default_factory=list, description="What the guideline says to do at this stratum")
    status: Status = "verified"
    warnings: list[str] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)


def context(record: PatientRecord, facts: DerivedFacts, kf: KnowledgeFile, as_of: dt.date,
            guideline: str | None = None, drug: str | None = None,
            fired: frozenset[str] = frozenset()) -> Context:
    return Context(FactView(record, facts, as_of, guideline), kf, drug=drug, fired=fired)


def fired_rule(kf: KnowledgeFile, rule_id: str, refs: set[str] | None = None) -> RuleFired:
    refs = refs or set()
    return RuleFired(rule_id=rule_id, text=fact_text(kf, rule_id), status=rule_status(kf, rule_id, refs),
                     citations=rule_citations(kf, rule_id, refs))


def _uniq(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for i in items:
        if i not in out:
            out.append(i)
    return out


def evaluate_rules(record: PatientRecord, facts: DerivedFacts, *, guideline: str,
                   as_of: dt.date) -> tuple[StratumResult, frozenset[str]]:
    """Stratify and also return the ids of every rule that fired (for the guideline's option conditions)."""
    kf = guideline_file(guideline)
    d = kf.data
    ctx = context(record, facts, kf, as_of, guideline)
    outcomes: list[tuple[dict[str, Any], Outcome]] = [(r, evaluate(r["when"], ctx)) for r in d["rules"]]
    fired_ids = frozenset(r["id"] for r, o in outcomes if o.value is True)
    strata: dict[str, Any] = d["strata"]
    chosen: str | None = None
    undecided_above: list[UndecidedRule] = []
    undecided_all: list[UndecidedRule] = []
    for key in d["order"]:
        mine = [(r, o) for r, o in outcomes if r["stratum"] == key]
        if any(o.value is True for _, o in mine):
            chosen = key
            break
        und = [UndecidedRule(rule_id=r["id"], text=fact_text(kf, r["id"]), stratum=key, missing=sorted(o.missing),
                             status=rule_status(kf, r["id"], o.refs)) for r, o in mine if o.value is None]
        undecided_above += und
        undecided_all += und
    warnings: list[str] = []
    name = str(d["name"])
    if chosen is None:
        label, treat = "not determined", None
        rules: list[RuleFired] = []
        status = lowest(u.status for u in undecided_all) if undecided_all else "verified"
        missing = sorted({m for u in undecided_all for m in u.missing})
        warnings.append(f"{name}: the risk stratum could not be determined; missing: "
                        f"{', '.join(missing) or 'facts the rules need'}.")
        citations = [cite(kf.id, kf.sources[0].id)]
        action: list[RuleFired] = []
    else:
        s = strata[chosen]
        label, treat = str(s["label"]), bool(s["treat"])
        rules = _uniq([fired_rule(kf, r["id"], o.refs) for r, o in outcomes
                       if r["stratum"] == chosen and o.value is True])
        action = [fired_rule(kf, a) for a in [s.get("action"), *s.get("also", [])] if a]
        status = lowest([*(r.status for r in rules), *(a.status for a in action)])
        missing = sorted({m for u in undecided_above for m in u.missing})
        for u in undecided_above:
            higher = strata[u.stratum]["label"] if u.stratum else "a higher stratum"
            warnings.append(f"{name}: could not rule out '{higher}' ({u.rule_id}); missing: "
                            f"{', '.join(u.missing) or 'facts'}.")
        citations = _uniq([c for r in rules + action for c in r.citations])
    if chosen is not None and d.get("stratum_status_rule"):  # every stratum of the guideline rests on this fact
        floor = fired_rule(kf, str(d["stratum_status_rule"]))
        status = lowest([status, floor.status])
        if floor.status != "verified":
            action = [*action, floor]
    warnings += _scope_warnings(ctx, kf, name)
    warnings += _frax_country_warnings(record, facts, kf, name)
    sw = status_warning(status, f"{name} risk stratum")
    if sw:
        warnings.insert(0, sw)
    also = sorted(i for i in fired_ids if i not in {r.rule_id for r in rules})
    result = StratumResult(
        guideline=guideline, guideline_name=name, as_of=as_of, stratum=chosen, label=label, treat=treat,
        rules_fired=rules, also_fired=also, undecided=_uniq(undecided_all if chosen is None else undecided_above),
        missing=missing, action=action, status=status, warnings=_uniq(warnings), citations=citations,
    )
    return result, fired_ids


def stratify(record: PatientRecord, facts: DerivedFacts, *, guideline: str, as_of: dt.date) -> StratumResult:
    """The patient's risk stratum under ``guideline`` on ``as_of``, with the rules that fired."""
    return evaluate_rules(record, facts, guideline=guideline, as_of=as_of)[0]


def _scope_warnings(ctx: Context, kf: KnowledgeFile, name: str) -> list[str]:
    scope = kf.data.get("scope")
    if not scope:
        return []
    o = evaluate(scope["when"], ctx)
    text = fact_text(kf, scope["rule"])
    if o.value is False:
        return [f"{name}: the patient is outside the guideline's population ({text})"]
    if o.value is None:
        return [f"{name}: could not confirm the patient is in the guideline's population ({text}); missing: "
                f"{', '.join(sorted(o.missing))}."]
    return []


def _frax_country_warnings(record: PatientRecord, facts: DerivedFacts, kf: KnowledgeFile, name: str) -> list[str]:
    ref = kf.data.get("frax_country_ref")
    if not ref or (facts.frax_mof_percent_adjusted is None and facts.frax_hip_percent_adjusted is None):
        return []
    models = [str(m).lower() for m in kf.value(ref)]
    if record.frax_country is None:
        return [f"{name} assumes the {kf.value(ref)[0]} FRAX model; the FRAX country model used is not recorded."]
    if record.frax_country.strip().lower() not in models:
        return [f"{name} assumes the {kf.value(ref)[0]} FRAX model; the FRAX result entered used "
                f"'{record.frax_country}'."]
    return []
