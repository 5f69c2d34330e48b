"""Contraindication checks: every rule of a drug's knowledge file that fires for this patient."""

from __future__ import annotations

import datetime as dt

from ..guidelines.conditions import HYPERSENSITIVITY_TERMS, Context, evaluate, is_hypersensitivity
from ..guidelines.engine import UndecidedRule
from ..guidelines.facts import DerivedFacts, FactView
from ..guidelines.rulesets import default_region, drug_file, fact_text, rule_citations, rule_status
from ..knowledge import load
from ..records import PatientRecord
from ..status import lowest
from .models import ContraindicationHit, DrugCheck, DrugFacts

_KIND_ORDER = {"must_not": 0, "fix_first": 1, "caution": 2}


def check_drug(record: PatientRecord, facts: DerivedFacts, drug: str, *, as_of: dt.date,
               region: str | None = None) -> DrugCheck:
    """Every contraindication that fires (sorted must_not, fix_first, caution) and every one left undecided."""
    kf = drug_file(drug)
    reg = region or default_region()
    ctx = Context(FactView(record, facts, as_of), kf, drug=drug)
    hits: list[ContraindicationHit] = []
    undecided: list[UndecidedRule] = []
    for rule in kf.data.get("contraindications", []):
        if "regions" in rule and reg not in rule["regions"]:
            continue
        o = evaluate(rule["when"], ctx)
        rid = str(rule["id"])
        if o.value is True:
            hits.append(ContraindicationHit(
                drug=drug, kind=rule["kind"], rule_id=rid, text=fact_text(kf, rid),
                citation=rule_citations(kf, rid, o.refs)[0], status=rule_status(kf, rid, o.refs)))
        elif o.value is None:
            undecided.append(UndecidedRule(rule_id=rid, text=fact_text(kf, rid), missing=sorted(o.missing),
                                           status=rule_status(kf, rid, o.refs)))
    hits.extend(intolerance_hits(record, drug))
    hits.sort(key=lambda h: _KIND_ORDER[h.kind])
    return DrugCheck(drug=drug, hits=hits, undecided=undecided)


def intolerance_hits(record: PatientRecord, drug: str) -> list[ContraindicationHit]:
    """A recorded intolerance of ``drug`` that is not a hypersensitivity reaction (that one is each drug's
    ``must_not`` rule): a caution needing a clinician's override (``conditions#INTOLERANCE-RECORDED``)."""
    kf = load("conditions")  # OsteoCare's conventions
    terms = kf.value(HYPERSENSITIVITY_TERMS.split("#", 1)[1])
    if not any(i.drug == drug and not is_hypersensitivity(i.reaction, terms) for i in record.intolerances):
        return []
    rid = "INTOLERANCE-RECORDED"
    return [ContraindicationHit(drug=drug, kind="caution", rule_id=rid, text=fact_text(kf, rid),
                                citation=rule_citations(kf, rid)[0], status=lowest([kf.fact(rid).status]))]


def check_contraindications(record: PatientRecord, facts: DerivedFacts, drug: str, *, as_of: dt.date,
                            region: str | None = None) -> list[ContraindicationHit]:
    """The contraindications of ``drug`` that fire for this patient on ``as_of``, each with source and status.

    ``kind`` is ``must_not`` (absolute: the drug is not offered), ``caution`` (relative: needs a recorded
    clinician override) or ``fix_first`` (e.g. correct hypocalcaemia, then start). Rules that could not be
    decided for lack of data are not hits; :func:`check_drug` lists them.
    """
    return check_drug(record, facts, drug, as_of=as_of, region=region).hits


def drug_facts(drug: str) -> DrugFacts:
    kf = drug_file(drug)
    names = ("route", "setting", "regimen", "administration")
    return DrugFacts(name=str(kf.data["name"]), route=fact_text(kf, "route"), setting=fact_text(kf, "setting"),
                     regimen=fact_text(kf, "regimen"), administration=fact_text(kf, "administration"),
                     status=lowest(kf.fact(n).status for n in names))
