"""``recommend(record, facts, guideline=..., as_of=...)``: who to treat, with what, what must not be given, what
to fix or check before the first dose, the follow-up, sequencing for a patient already treated, and lifestyle."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..guidelines.conditions import evaluate
from ..guidelines.dates import add_months, add_years
from ..guidelines.engine import UndecidedRule, context, evaluate_rules, fired_rule
from ..guidelines.facts import DerivedFacts
from ..guidelines.rulesets import (
    TIERS,
    default_region,
    drug_file,
    fact_text,
    guideline_file,
    rule_citations,
    sequencing_file,
)
from ..knowledge import KnowledgeFile
from ..parts import joined, part
from ..records import PatientRecord
from ..results import Citation, RuleFired, cite
from ..status import Status, lowest, status_warning
from .contraindications import check_drug, drug_facts
from .lifestyle import lifestyle_block
from .models import Action, ContraindicationHit, FollowUp, NotOffered, Option, Recommendation, SequencingAdvice
from .sequencing import _active, advise, failing_drugs, guideline_entries, missing_words


def _uniq(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for i in items:
        if i not in out:
            out.append(i)
    return out


def _action(kf: KnowledgeFile, rule: str, text: str | None = None, drug: str | None = None,
            extra: tuple[Status, ...] = ()) -> Action:
    return Action(text=text or fact_text(kf, rule), rule_id=rule, drug=drug,
                  status=lowest([kf.fact(rule).status, *extra]), citations=list(rule_citations(kf, rule)))


def _options(record: PatientRecord, facts: DerivedFacts, kf: KnowledgeFile, stratum_key: str | None,
             stratum_status: Status, fired: frozenset[str], as_of: dt.date,
             region: str) -> tuple[list[Option], list[NotOffered]]:
    ranked: list[tuple[tuple[int, int, int, int], Option]] = []
    not_offered: list[NotOffered] = []
    seq = sequencing_file()
    failing = failing_drugs(record, as_of)  # the drug the patient is failing on: ranked last, with a caution
    for idx, o, u in guideline_entries(record, facts, kf, stratum_key, fired, as_of):
        drug = str(o["drug"])
        name = str(drug_file(drug).data["name"])
        reason = fired_rule(kf, o["rule"])
        undecided: list[UndecidedRule] = []
        if u is not None:
            rid = str(o.get("unless_rule", o["rule"]))
            if u.value is True:
                ex = fired_rule(kf, rid, u.refs)
                not_offered.append(NotOffered(drug=drug, name=name, reasons=[str(o["unless_reason"])], excluded_by=ex,
                                              citations=list(ex.citations)))
                continue
            if u.value is None:
                undecided.append(UndecidedRule(rule_id=rid, text=str(o["unless_reason"]), missing=sorted(u.missing),
                                               status=reason.status))
        check = check_drug(record, facts, drug, as_of=as_of, region=region)
        if check.blocked:
            hits = [h for h in check.hits if h.kind == "must_not"]
            not_offered.append(NotOffered(drug=drug, name=name, reasons=[h.text for h in hits], hits=hits,
                                          citations=_uniq([h.citation for h in hits])))
            continue
        fails = drug in failing
        extra = [*([ContraindicationHit(
            drug=drug, kind="caution", rule_id="TF-FAILURE", text=fact_text(seq, "TF-FAILURE"),
            citation=rule_citations(seq, "TF-FAILURE")[0], status=seq.fact("TF-FAILURE").status)] if fails else [])]
        hits = [*check.hits, *extra]
        cautions = [h for h in hits if h.kind == "caution"]
        fix = [h for h in hits if h.kind == "fix_first"]
        how = drug_facts(drug)
        status = lowest([reason.status, stratum_status, how.status, *(h.status for h in hits)])
        cites = _uniq([*reason.citations, *(h.citation for h in hits)])
        opt = Option(rank=0, drug=drug, name=name, tier=o["tier"], reasons=[reason], cautions=cautions, fix_first=fix,
                     undecided=undecided + check.undecided, how=how, status=status, citations=cites)
        ranked.append(((1 if fails else 0, TIERS.index(o["tier"]), 1 if cautions else 0, idx), opt))
    ranked.sort(key=lambda x: x[0])
    options = [opt.model_copy(update={"rank": i + 1}) for i, (_, opt) in enumerate(ranked)]
    return options, not_offered


def _before_first_dose(record: PatientRecord, facts: DerivedFacts, drug: str, as_of: dt.date,
                       region: str) -> list[Action]:
    kf = drug_file(drug)
    seq = sequencing_file()
    check = check_drug(record, facts, drug, as_of=as_of, region=region)
    out: list[Action] = []
    for h in check.hits:
        if h.kind == "fix_first":
            parts = [part("Fix first: {finding}", {"finding": "part"}, finding=part(h.text))]
            out.append(Action(text=joined(parts), parts=parts, rule_id=h.rule_id, drug=drug, status=h.status,
                              citations=[h.citation]))
    for u in check.undecided:
        parts = [part("Check before starting: {rule} (missing: {missing})", {"rule": "part", "missing": "en"},
                      rule=part(u.text), missing=missing_words(u.missing))]
        out.append(Action(text=joined(parts), parts=parts, rule_id=u.rule_id, drug=drug, status=u.status,
                          citations=list(rule_citations(kf, u.rule_id))))
    items = [seq.data["check_items"][i] for i in kf.data.get("checks", {}).get("items", [])]
    checks = [part("Checks: {items}.", {"items": "list"}, items=[part(x) for x in items]), part(fact_text(kf, "checks"))]
    out.append(_action(kf, kf.data["checks"]["fact"], joined(checks), drug=drug).model_copy(update={"parts": checks}))
    for n in kf.data.get("start_notes", []):
        out.append(_action(kf, n, drug=drug))
    out.append(_action(seq, "PANEL"))
    ctx = context(record, facts, seq, as_of)
    if evaluate(seq.data["vertebral_imaging_when"], ctx).value is True:
        out.append(_action(seq, "VERT-IMAGING"))
    return out


def _interval(kf: KnowledgeFile, ref: str) -> tuple[float, float]:
    lo, hi = kf.value(ref)
    return float(lo), float(hi)


def _follow_up(record: PatientRecord, kf: KnowledgeFile, stratum_key: str | None, treated_drug: str | None,
               as_of: dt.date) -> list[FollowUp]:
    seq = sequencing_file()
    out: list[FollowUp] = []
    group = "treated" if treated_drug else "untreated"
    for f in kf.data.get("follow_up", {}).get(group, []):
        if "strata" in f and stratum_key not in f["strata"]:
            continue
        lo, hi = _interval(kf, f["interval_ref"])
        rule = str(f["rule"])
        out.append(FollowUp(item=f["item"], text=fact_text(kf, rule), due_from=add_years(as_of, lo) if lo else None,
                            due_by=add_years(as_of, hi), rule_id=rule,
                            status=lowest([kf.fact(rule).status, kf.fact(f["interval_ref"]).status]),
                            citations=list(rule_citations(kf, rule))))
    if treated_drug:
        dkf = drug_file(treated_drug)
        if "monitoring" in dkf.facts:
            out.append(FollowUp(item="labs", text=f"{dkf.data['name']}: {fact_text(dkf, 'monitoring')}",
                                rule_id=f"{dkf.id}#monitoring", status=lowest([dkf.fact("monitoring").status]),
                                citations=[cite(dkf.id, dkf.fact("monitoring").source)]))
        months = int(seq.value("annual_review_months"))
        out.append(FollowUp(item="review", text=fact_text(seq, "MON-ANNUAL"), due_by=add_months(as_of, months),
                            rule_id="MON-ANNUAL", status=lowest([seq.fact("MON-ANNUAL").status]),
                            citations=list(rule_citations(seq, "MON-ANNUAL"))))
    else:
        dated = [d.date for d in record.dxa if d.date is not None and d.date <= as_of]
        last = max(dated) if dated else None
        years = float(seq.value("screening_dxa_min_years"))
        text = fact_text(seq, "MON-BMD-NOREPEAT")
        if last is None:
            text += " Date of the last DXA not recorded."
        out.append(FollowUp(item="bmd", text=text, due_from=add_years(last, years) if last else None,
                            rule_id="MON-BMD-NOREPEAT", status=lowest([seq.fact("MON-BMD-NOREPEAT").status]),
                            citations=list(rule_citations(seq, "MON-BMD-NOREPEAT"))))
    return out


def _next_drug(record: PatientRecord, options: list[Option], sequencing: list[SequencingAdvice],
               as_of: dt.date) -> str | None:
    """The drug the patient would start next: a switch or follow-on, else the top option if untreated."""
    for a in sequencing:
        if a.action in ("switch", "start_follow_on") and a.alternatives:
            return a.alternatives[0]
    on_therapy = any(_active(m, as_of) and drug_file_exists(m.drug) for m in record.medications)
    if not on_therapy and options:
        return options[0].drug
    return None


def _not_offered_status(n: NotOffered) -> Status:
    """The lowest status of what keeps a drug off the list: its contraindication hits and the excluding rule."""
    return lowest([*(h.status for h in n.hits), *([n.excluded_by.status] if n.excluded_by else [])])


def drug_file_exists(drug: str) -> bool:
    from ..guidelines.rulesets import drug_files

    f = drug_files().get(drug)
    return f is not None and f.data["action"] != "supplement"


def recommend(record: PatientRecord, facts: DerivedFacts, *, guideline: str, as_of: dt.date,
              region: str | None = None) -> Recommendation:
    """The treatment recommendation for ``record`` under ``guideline`` on ``as_of``."""
    reg = region or default_region()
    stratum, fired = evaluate_rules(record, facts, guideline=guideline, as_of=as_of)
    kf = guideline_file(guideline)
    options, not_offered = _options(record, facts, kf, stratum.stratum if stratum.treat else None, stratum.status,
                                    fired, as_of, reg)
    notes: list[Action] = []
    no_drug: RuleFired | None = None
    if stratum.treat is False and kf.data.get("no_drug_rule"):
        no_drug = fired_rule(kf, kf.data["no_drug_rule"])
    if stratum.treat and kf.data.get("unranked_rule"):
        notes.append(_action(kf, kf.data["unranked_rule"]))
    for a in stratum.action:
        notes.append(Action(text=a.text, rule_id=a.rule_id, status=a.status, citations=list(a.citations)))
    sequencing = advise(record, facts, stratum, [o.drug for o in options], as_of=as_of, region=reg)
    next_drug = _next_drug(record, options, sequencing, as_of)
    before = _before_first_dose(record, facts, next_drug, as_of, reg) if next_drug else []
    current = [m.drug for m in record.medications if _active(m, as_of) and drug_file_exists(m.drug)]
    treated = next_drug or (current[0] if current else None)
    follow = _follow_up(record, kf, stratum.stratum, treated, as_of)
    life = lifestyle_block(record, facts, guideline=guideline, as_of=as_of)

    parts: list[tuple[str, Status]] = [
        ("Treatment options", lowest(o.status for o in options)),
        ("Checks before the first dose", lowest(a.status for a in before)),
        ("Follow-up", lowest(f.status for f in follow)),
        ("Sequencing advice", lowest(s.status for s in sequencing)),
        ("Lifestyle advice", life.status),
        ("Drugs not offered", lowest(_not_offered_status(n) for n in not_offered)),
    ]
    warnings = list(stratum.warnings)
    for what, st in parts:
        w = status_warning(st, what)
        if w:
            warnings.append(w)
    status = lowest([stratum.status, *(st for _, st in parts), *(a.status for a in notes),
                     *([no_drug.status] if no_drug else [])])
    cites: list[Citation] = _uniq([
        *stratum.citations, *(c for o in options for c in o.citations), *(c for n in not_offered for c in n.citations),
        *(no_drug.citations if no_drug else ()), *(c for a in before + notes for c in a.citations),
        *(c for f in follow for c in f.citations), *(c for s in sequencing for c in s.citations),
        *(c for i in life.items for c in i.citations),
    ])
    return Recommendation(
        patient_id=record.id, guideline=guideline, as_of=as_of, region=reg, stratum=stratum, options=options,
        not_offered=not_offered, no_drug_reason=no_drug, before_first_dose=before, follow_up=follow,
        sequencing=sequencing, lifestyle=life, notes=notes, status=status, warnings=_uniq(warnings), citations=cites,
    )
