"""Plain-text report of a :class:`~.models.Recommendation`, leading with what the clinician must act on."""

from __future__ import annotations

from collections.abc import Sequence

from ..guidelines.rulesets import drug_name
from .models import NotOffered, Recommendation
from .sequencing import missing_words


def _status(s: str) -> str:
    return "" if s == "verified" else f" [status: {s}]"


def _names(drugs: Sequence[str]) -> str:
    return ", ".join(drug_name(d) for d in drugs)


def _why_not(n: NotOffered) -> str:
    """Why a drug is not offered: each contraindication hit (or the excluding rule) with its rule id and status."""
    if n.hits:
        return "; ".join(f"{h.text} [{h.rule_id}]{_status(h.status)}" for h in n.hits)
    by = f" [{n.excluded_by.rule_id}]{_status(n.excluded_by.status)}" if n.excluded_by else ""
    return "; ".join(n.reasons) + by


def render(rec: Recommendation) -> str:
    lines: list[str] = [
        f"OsteoCare treatment recommendation - patient {rec.patient_id}, as of {rec.as_of.isoformat()}",
        f"Guideline: {rec.stratum.guideline_name} ({rec.guideline}); regulatory region {rec.region}"
        f"{_status(rec.status)}",
        "Decision support only: not a substitute for clinical judgement.",
    ]
    if rec.warnings:
        lines += ["", "WARNINGS"] + [f"  ! {w}" for w in rec.warnings]

    act = [a for a in rec.sequencing if a.urgency in ("urgent", "soon")]
    fix = [a for a in rec.before_first_dose if a.text.startswith("Fix first")]
    if act or fix or rec.not_offered:
        lines += ["", "ACT ON THIS FIRST"]
        for adv in act:
            due = f" (due {adv.due.isoformat()})" if adv.due else ""
            alts = f" Options: {_names(adv.alternatives)}." if adv.alternatives else ""
            lines.append(f"  * {adv.urgency.upper()}: {adv.text}{due}{alts} [{adv.rule_id}]{_status(adv.status)}")
        for a in fix:
            lines.append(f"  * {a.text} [{a.rule_id}]{_status(a.status)}")
        for n in rec.not_offered:
            lines.append(f"  * MUST NOT GIVE {n.name}: {_why_not(n)}")

    s = rec.stratum
    fired = ", ".join(r.rule_id for r in s.rules_fired) or "none"
    lines += ["", f"RISK STRATUM: {s.label} (rules fired: {fired}){_status(s.status)}"]
    for r in s.rules_fired:
        lines.append(f"  - {r.rule_id}: {r.text}")
    if s.missing:
        lines.append(f"  Missing facts: {missing_words(s.missing)}")
    for a in rec.notes:
        lines.append(f"  > {a.text} [{a.rule_id}]{_status(a.status)}")

    lines += ["", "TREATMENT OPTIONS"]
    if rec.options:
        for o in rec.options:
            lines.append(f"  {o.rank}. {o.name} ({o.tier.replace('_', ' ')}) - {o.how.route}, {o.how.setting}; "
                         f"{o.how.regimen}{_status(o.status)}")
            for r in o.reasons:
                lines.append(f"     why: {r.text} [{r.rule_id}]")
            for h in o.cautions:
                lines.append(f"     CAUTION: {h.text} [{h.rule_id}] (needs a recorded clinician override)")
            for h in o.fix_first:
                lines.append(f"     FIX FIRST: {h.text} [{h.rule_id}]")
            for u in o.undecided:
                lines.append(f"     check: {u.text} (missing: {missing_words(u.missing)}) [{u.rule_id}]")
    elif rec.no_drug_reason:
        lines.append(f"  No drug: {rec.no_drug_reason.text} [{rec.no_drug_reason.rule_id}]")
    else:
        lines.append("  No ranked drug option.")
    for n in rec.not_offered:
        lines.append(f"  not offered: {n.name} - {_why_not(n)}")

    if rec.before_first_dose:
        lines += ["", "BEFORE THE FIRST DOSE"] + [f"  - {a.text} [{a.rule_id}]{_status(a.status)}"
                                                for a in rec.before_first_dose]
    routine = [a for a in rec.sequencing if a.urgency == "routine"]
    if routine:
        lines += ["", "CURRENT TREATMENT"]
        for r_adv in routine:
            due = f" (due {r_adv.due.isoformat()})" if r_adv.due else ""
            lines.append(f"  - {r_adv.text}{due} [{r_adv.rule_id}]{_status(r_adv.status)}")
    if rec.follow_up:
        lines += ["", "FOLLOW-UP"]
        for f in rec.follow_up:
            when = ""
            if f.due_from and f.due_by:
                when = f" between {f.due_from.isoformat()} and {f.due_by.isoformat()}"
            elif f.due_by:
                when = f" by {f.due_by.isoformat()}"
            elif f.due_from:
                when = f" not before {f.due_from.isoformat()}"
            lines.append(f"  - {f.item}{when}: {f.text} [{f.rule_id}]{_status(f.status)}")
    lines += ["", f"LIFESTYLE (falls screen: {rec.lifestyle.falls_screen.replace('_', ' ')})"]
    lines += [f"  - {i.topic}: {i.text}{_status(i.status)}" for i in rec.lifestyle.items]
    lines += ["", "SOURCES"] + [f"  [{c.knowledge_id}/{c.source_id}] {c.text}" for c in rec.citations]
    return "\n".join(lines) + "\n"
