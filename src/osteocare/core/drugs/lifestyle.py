"""Lifestyle block: calcium against intake, vitamin D and 25(OH)D target, exercise, falls screening (STEADI)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ..guidelines.facts import DerivedFacts, FactView, FallsScreen
from ..guidelines.rulesets import drug_file, guideline_file
from ..knowledge import KnowledgeFile, load
from ..numeric import round_half_away
from ..parts import PartKind
from ..records import PatientRecord
from ..results import Citation, cite
from ..status import Status, lowest
from .models import Lifestyle, LifestyleItem, TextPart

VITAMIN_D_LAB_NAMES = ("vitamin_d_25oh",)


Parts = list[TextPart]


#: A fact of another knowledge file than the item's own: (file, fact id).
Other = tuple[KnowledgeFile, str]


def _p(template: str, kinds: dict[str, PartKind] | None = None, **params: Any) -> TextPart:
    return TextPart(template=template, params=params, kinds=kinds or {})


def _item(topic: str, parts: Parts, kf: KnowledgeFile, facts: list[str], values: dict[str, Any] | None = None,
          rule_ids: list[str] | None = None, extra: tuple[Status, ...] = (), other: Sequence[Other] = ()) -> LifestyleItem:
    """An item built from ``facts`` of ``kf`` and the ``other`` files' facts: their lowest status and citations;
    its rule ids the upper-case fact ids unless ``rule_ids`` is given (an empty list: none)."""
    used = [(kf, f) for f in facts] + list(other)
    text = " ".join(p.render() for p in parts)
    cites: list[Citation] = []
    for file, f in used:
        c = cite(file.id, file.fact(f).source)
        if c not in cites:
            cites.append(c)
    ids = rule_ids if rule_ids is not None else [f for _, f in used if f.upper() == f]
    return LifestyleItem(topic=topic, text=text, parts=parts, rule_ids=ids, values=values or {},
                         status=lowest([*(file.fact(f).status for file, f in used), *extra]), citations=cites)


def _active(record: PatientRecord, drug: str, as_of: dt.date) -> bool:
    """``drug`` is taken on ``as_of``: a medication or clinic course of it started by then (or with no start) and not
    ended before it."""
    return any(m.drug == drug and (m.start is None or m.start <= as_of) and (m.end is None or m.end >= as_of)
               for m in record.medications)


def supplement_cautions(supplement: str, record: PatientRecord, as_of: dt.date) -> list[Other]:
    """The supplement's caution rules (knowledge drugs/<supplement>.yaml ``contraindications`` of kind ``caution``
    with ``when: {taking: ...}``, e.g. calcium CA-CTR, vitamin D VD-CTR) whose drug the patient takes on ``as_of``."""
    kf = drug_file(supplement)
    out: list[Other] = []
    for ci in kf.data.get("contraindications") or []:
        taking = (ci.get("when") or {}).get("taking")
        if ci.get("kind") != "caution" or not taking:
            continue
        drugs = [taking] if isinstance(taking, str) else list(taking)
        if any(_active(record, str(d), as_of) for d in drugs):
            out.append((kf, str(ci["id"])))
    return out


def _caution_parts(cautions: list[Other]) -> Parts:
    return [_p(str(file.value(f))) for file, f in cautions]


def steadi_brochure_score(items_yes: list[str]) -> tuple[int, bool]:
    """Stay Independent brochure: (total points, may be at risk). Unknown item ids raise KeyError."""
    kf = load("steadi")
    known = kf.data["brochure_items"]
    points = kf.value("brochure_points")
    total = 0
    for i in set(items_yes):
        if i not in known:
            raise KeyError(i)
        total += int(points.get(i, points["other"]))
    return total, total >= int(kf.value("brochure_threshold"))


def calcium_item(record: PatientRecord, as_of: dt.date | None = None) -> LifestyleItem:
    """Calcium against the intake target for the patient's age and sex (knowledge lifestyle-calcium). Where the
    patient takes a drug a calcium supplement must not be combined with unmonitored (drugs/calcium.yaml cautions:
    calcitriol, CA-CTR), the caution replaces the supplement dose. With no target for the age (under 19), says so."""
    kf = load("lifestyle-calcium")
    day = as_of or dt.date.today()
    band = next((b for b in kf.data["bands"] if b["min_age"] <= record.age <= b["max_age"]
                 and record.sex in b["sex"]), None)
    if band is None:
        youngest = min((b for b in kf.data["bands"] if record.sex in b["sex"]), key=lambda b: int(b["min_age"]))
        return _item("calcium", [_p("No calcium intake target for age {age} in the knowledge base (its targets start "
                                    "at age {start}).", age=record.age, start=int(youngest["min_age"]))],
                     kf, [youngest["target"]], {"target_mg_per_day": None}, rule_ids=[])
    target, upper = int(kf.value(band["target"])), int(kf.value(band["upper"]))
    intake = record.dietary_calcium_mg_per_day
    cautions = supplement_cautions("calcium", record, day)
    used = [band["target"], "CA-DIET-FIRST"]
    values: dict[str, Any] = {"target_mg_per_day": target, "upper_limit_mg_per_day": upper,
                              "dietary_intake_mg_per_day": intake}
    parts: Parts
    if intake is None:
        parts = [_p("Calcium target {target} mg/day in total (diet plus supplements). Dietary intake not recorded: "
                    "ask about it; diet first, supplement only to close the gap.", target=target)]
    elif intake >= target:
        parts = [_p("Calcium target {target} mg/day; diet provides {intake:g} mg/day: no supplement needed.",
                    target=target, intake=intake)]
        values["supplement_mg_per_day"] = 0
        if intake > upper:
            parts.append(_p("Intake is above the upper limit of {upper} mg/day.", upper=upper))
            used.append(band["upper"])
    elif cautions:
        gap = target - intake
        values["gap_mg_per_day"] = gap
        parts = [_p("Calcium target {target} mg/day; diet provides {intake:g} mg/day ({gap:g} mg/day below the "
                    "target).", target=target, intake=intake, gap=gap)]
    else:
        gap = target - intake
        values["supplement_mg_per_day"] = gap
        parts = [_p("Calcium target {target} mg/day; diet provides {intake:g} mg/day: supplement {gap:g} mg/day "
                    "to close the gap (diet first).", target=target, intake=intake, gap=gap)]
        used.append("CA-SPLIT")
        parts.append(_p(str(kf.value("CA-SPLIT"))))
    parts += _caution_parts(cautions)
    return _item("calcium", parts, kf, used, values, other=cautions)


def _latest_25ohd(record: PatientRecord, as_of: dt.date) -> tuple[float, bool, dt.date | None] | None:
    labs = [lab for lab in record.labs if lab.name in VITAMIN_D_LAB_NAMES and (lab.date is None or lab.date <= as_of)]
    if not labs:
        return None
    lab = max(labs, key=lambda x: x.date or dt.date.min)
    unit = lab.unit.replace(" ", "").lower()
    if unit == "ng/ml":
        return lab.value, False, lab.date
    if unit == "nmol/l":
        return lab.value / float(load("lifestyle-vitamin-d").value("nmol_per_ng")), True, lab.date
    return None


def vitamin_d_item(record: PatientRecord, guideline: str, as_of: dt.date) -> LifestyleItem:
    kf = load("lifestyle-vitamin-d")
    rda = "VD-RDA-71" if record.age >= int(kf.value("rda_age_from_71")) else "VD-RDA-1-70"
    target_id = kf.data["targets"].get(guideline, kf.data["targets"]["default"])
    lo, hi = kf.value(target_id)
    used = [rda, "VD-UL", target_id]
    values: dict[str, Any] = {"intake_iu_per_day": kf.value(rda), "upper_limit_iu_per_day": kf.value("VD-UL"),
                              "target_ng_ml": [lo, hi]}
    head = "Vitamin D intake {rda} IU/day (upper limit {ul} IU/day). 25(OH)D target >= {lo} ng/mL"
    head += " and <= {hi} ng/mL" if hi else ""
    head += " (general population)." if target_id == "VD-TARGET-IOM" else " ({guideline})."
    parts = [_p(head, rda=kf.value(rda), ul=kf.value("VD-UL"), lo=lo, hi=hi, guideline=guideline)]
    cautions = supplement_cautions("vitamin_d", record, as_of)
    supp = kf.data["supplements"].get(guideline)
    # on a drug vitamin D must not be combined with unmonitored (VD-CTR), its caution replaces the supplement dose
    if not cautions and supp and not (supp == "VD-SUPP-BHOF" and record.age < int(kf.value("supp_bhof_min_age"))):
        a, b = kf.value(supp)
        parts.append(_p("Supplement {a}-{b} IU/day as needed.", a=a, b=b))
        used.append(supp)
    extra: tuple[Status, ...] = ()
    level = _latest_25ohd(record, as_of)
    if level is None:
        parts.append(_p("No 25(OH)D result on the record."))
    else:
        raw, converted, day = level
        # compared as shown: rounded to the reported one decimal, half away from zero (knowledge README conventions)
        ng = float(round_half_away(raw, 1))
        values["latest_25ohd_ng_ml"] = ng
        if converted:
            used.append("nmol_per_ng")
        when = " on {date}" if day else ""
        date = day.isoformat() if day else None
        if ng < lo:
            end = " is BELOW target." if cautions else " is BELOW target: replete."
            parts.append(_p("Latest 25(OH)D {ng:.1f} ng/mL" + when + end, ng=ng, date=date))
            values["below_target"] = True
        elif hi and ng > hi:
            parts.append(_p("Latest 25(OH)D {ng:.1f} ng/mL" + when + " is above {hi} ng/mL.", ng=ng, date=date, hi=hi))
        else:
            parts.append(_p("Latest 25(OH)D {ng:.1f} ng/mL" + when + " is within target.", ng=ng, date=date))
    parts += _caution_parts(cautions)
    return _item("vitamin_d", parts, kf, used, values, extra=extra, other=cautions)


def exercise_items(record: PatientRecord) -> list[LifestyleItem]:
    kf = load("lifestyle-exercise")
    out = [_item("exercise", [_p(str(kf.value(f)))], kf, [f]) for f in ("TF2F-STRENGTH", "TF2F-BALANCE", "TF2F-AEROBIC")]
    if any(f.site == "vertebra" for f in record.fractures):
        out.append(_item("exercise", [_p(str(kf.value("TF2F-VFX")))], kf, ["TF2F-VFX"]))
    return out


def _screen_date(fs: FallsScreen | None, as_of: dt.date) -> Parts:
    """When the screen was recorded and how long ago (no re-screen interval: the knowledge gives none)."""
    if fs is None or fs.answered_on is None:
        return []
    if fs.answered_on > as_of:
        return [_p("Screen recorded on {date}.", {"date": "date"}, date=fs.answered_on.isoformat())]
    return [_p("Screen recorded on {date} ({days} ago).", {"date": "date", "days": "days"},
               date=fs.answered_on.isoformat(), days=(as_of - fs.answered_on).days)]


def falls_items(record: PatientRecord, facts: DerivedFacts, as_of: dt.date) -> tuple[list[LifestyleItem], str, int | None]:
    """The STEADI falls screen (knowledge steadi): the brochure's score where it was filled in, then the screen's
    result - positive (any yes, a recent fall on the record, or the brochure at risk), negative (all three key
    questions answered no), incomplete (some asked, none yes: the questions not asked named) or not done - with
    the date it was recorded where known."""
    kf = load("steadi")
    view = FactView(record, facts, as_of)
    screen, st = view.get("falls_screen_positive")
    answers = view.falls_key_answers()
    fs = facts.falls_screen
    stored = dict(fs.key_questions) if fs is not None else {}
    fall_q = str(kf.data["fall_question"])
    score: int | None = None
    items: list[LifestyleItem] = []
    at_risk = False
    brochure_used = ["brochure_threshold", "brochure_points"]
    if fs is not None and fs.brochure_items is not None:
        score, at_risk = steadi_brochure_score(fs.brochure_items)
        two_point = set(kf.value("brochure_points")) - {"other"}
        if set(fs.brochure_items) - two_point:  # a 1-point statement counted: its wording is unverified
            brochure_used.append("brochure_other_items_wording")
        words = "(may be at risk of falling)." if at_risk else "(below the at-risk score)."
        items.append(_item("falls", [_p("Stay Independent brochure score {score} " + words, score=score)], kf,
                           brochure_used, {"score": score}, rule_ids=["STEADI-BROCHURE"]))
    why: Parts = []
    why_facts: list[str] = []
    fall = view.recent_fall()
    if fall is not None and fall.date is not None:
        months = int(kf.value("key_question_lookback_months"))
        tpl = ("A fall on {date} is on the record (within the past {months}), although the first key question was "
               "answered no: it counts as a yes." if stored.get(fall_q) is False else
               "A fall on {date} is on the record (within the past {months}): it counts as a yes to the first key "
               "question.")
        if stored.get(fall_q) is not True:
            why.append(_p(tpl, {"date": "date", "months": "months"}, date=fall.date.isoformat(), months=months))
            why_facts.append("key_question_lookback_months")
    elif answers.get(fall_q) and fall_q not in stored:
        why.append(_p("The record's falls flag counts as a yes to the first key question (not asked)."))
    dated = _screen_date(fs, as_of)
    if screen is True or at_risk:
        state = "positive"
        key = ["KEY-QUESTIONS", *why_facts] if screen is True else brochure_used
        items.append(_item("falls", [_p("Falls screen positive: assess, then intervene."), *why, *dated,
                                     _p(str(kf.value("ASSESS"))), _p(str(kf.value("BHOF-UNIV-FALLS")))], kf,
                           [*key, "ASSESS", "BHOF-UNIV-FALLS"], extra=(st,),
                           rule_ids=["KEY-QUESTIONS" if screen is True else "STEADI-BROCHURE", "ASSESS",
                                     "BHOF-UNIV-FALLS"]))
    elif screen is False:
        state = "negative"
        items.append(_item("falls", [_p("Falls screen negative (all three key questions answered no)."), *dated], kf,
                           ["KEY-QUESTIONS"], extra=(st,)))
    elif answers:
        state = "not_done"  # the result model has no "incomplete" yet: not finished is not done, never negative
        missing = [q for q in kf.data["key_questions"] if q not in answers]
        not_asked = [_p(str(kf.data["key_questions"][q])) for q in missing]  # each a knowledge sentence
        items.append(_item("falls", [_p("Falls screen incomplete (no key question answered yes). Not asked yet:"),
                                     *not_asked, *why, *dated, _p(str(kf.value("KEY-QUESTIONS")))], kf,
                           ["KEY-QUESTIONS"], {"not_asked": missing}, extra=(st,)))
    else:
        state = "not_done"
        items.append(_item("falls", [_p("Falls screen not done: ask the three key questions."), *dated,
                                     _p(str(kf.value("KEY-QUESTIONS")))], kf, ["KEY-QUESTIONS"]))
    return items, state, score


def lifestyle_block(record: PatientRecord, facts: DerivedFacts, *, guideline: str, as_of: dt.date) -> Lifestyle:
    items: list[LifestyleItem] = []
    items.append(calcium_item(record, as_of))
    items.append(vitamin_d_item(record, guideline, as_of))
    gkf = guideline_file(guideline)
    rule = gkf.data.get("supplements_rule")
    if rule:
        cautions = supplement_cautions("calcium", record, as_of) + supplement_cautions("vitamin_d", record, as_of)
        items.append(_item("supplements", [_p(str(gkf.value(rule))), *_caution_parts(cautions)], gkf, [rule],
                           rule_ids=[rule, *(f for _, f in cautions)], other=cautions))
    items += exercise_items(record)
    falls, state, score = falls_items(record, facts, as_of)
    items += falls
    return Lifestyle(items=items, falls_screen=state, brochure_score=score,
                     status=lowest(i.status for i in items))
