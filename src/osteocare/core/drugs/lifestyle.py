"""Lifestyle block: calcium against intake, vitamin D and 25(OH)D target, exercise, falls screening (STEADI)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..guidelines.facts import DerivedFacts, FactView
from ..guidelines.rulesets import guideline_file
from ..knowledge import KnowledgeFile, load
from ..numeric import round_half_away
from ..records import PatientRecord
from ..results import Citation, cite
from ..status import Status, lowest
from .models import Lifestyle, LifestyleItem, TextPart

VITAMIN_D_LAB_NAMES = ("vitamin_d_25oh",)


Parts = list[TextPart]


def _p(template: str, **params: Any) -> TextPart:
    return TextPart(template=template, params=params)


def _item(topic: str, parts: Parts, kf: KnowledgeFile, facts: list[str], values: dict[str, Any] | None = None,
          rule_ids: list[str] | None = None, extra: tuple[Status, ...] = ()) -> LifestyleItem:
    text = " ".join(p.render() for p in parts)
    cites: list[Citation] = []
    for f in facts:
        c = cite(kf.id, kf.fact(f).source)
        if c not in cites:
            cites.append(c)
    return LifestyleItem(topic=topic, text=text, parts=parts, rule_ids=rule_ids or [f for f in facts if f.upper() == f],
                         values=values or {}, status=lowest([*(kf.fact(f).status for f in facts), *extra]),
                         citations=cites)


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


def calcium_item(record: PatientRecord) -> LifestyleItem | None:
    kf = load("lifestyle-calcium")
    band = next((b for b in kf.data["bands"] if b["min_age"] <= record.age <= b["max_age"]
                 and record.sex in b["sex"]), None)
    if band is None:
        return None
    target, upper = int(kf.value(band["target"])), int(kf.value(band["upper"]))
    intake = record.dietary_calcium_mg_per_day
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
    else:
        gap = target - intake
        values["supplement_mg_per_day"] = gap
        parts = [_p("Calcium target {target} mg/day; diet provides {intake:g} mg/day: supplement {gap:g} mg/day "
                    "to close the gap (diet first).", target=target, intake=intake, gap=gap)]
        used.append("CA-SPLIT")
        parts.append(_p(str(kf.value("CA-SPLIT"))))
    return _item("calcium", parts, kf, used, values)


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
    supp = kf.data["supplements"].get(guideline)
    if supp and not (supp == "VD-SUPP-BHOF" and record.age < int(kf.value("supp_bhof_min_age"))):
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
            parts.append(_p("Latest 25(OH)D {ng:.1f} ng/mL" + when + " is BELOW target: replete.", ng=ng, date=date))
            values["below_target"] = True
        elif hi and ng > hi:
            parts.append(_p("Latest 25(OH)D {ng:.1f} ng/mL" + when + " is above {hi} ng/mL.", ng=ng, date=date, hi=hi))
        else:
            parts.append(_p("Latest 25(OH)D {ng:.1f} ng/mL" + when + " is within target.", ng=ng, date=date))
    return _item("vitamin_d", parts, kf, used, values, extra=extra)


def exercise_items(record: PatientRecord) -> list[LifestyleItem]:
    kf = load("lifestyle-exercise")
    out = [_item("exercise", [_p(str(kf.value(f)))], kf, [f]) for f in ("TF2F-STRENGTH", "TF2F-BALANCE", "TF2F-AEROBIC")]
    if any(f.site == "vertebra" for f in record.fractures):
        out.append(_item("exercise", [_p(str(kf.value("TF2F-VFX")))], kf, ["TF2F-VFX"]))
    return out


def falls_items(record: PatientRecord, facts: DerivedFacts, as_of: dt.date) -> tuple[list[LifestyleItem], str, int | None]:
    kf = load("steadi")
    screen, st = FactView(record, facts, as_of).get("falls_screen_positive")
    score: int | None = None
    items: list[LifestyleItem] = []
    fs = facts.falls_screen
    if fs is not None and fs.brochure_items is not None:
        score, at_risk = steadi_brochure_score(fs.brochure_items)
        words = "(may be at risk of falling)." if at_risk else "(below the at-risk score)."
        items.append(_item("falls", [_p("Stay Independent brochure score {score} " + words, score=score)], kf,
                           ["brochure_threshold", "brochure_points"], {"score": score}, rule_ids=["STEADI-BROCHURE"]))
        screen = screen or at_risk
    if screen is True:
        state = "positive"
        items.append(_item("falls", [_p("Falls screen positive: assess, then intervene."), _p(str(kf.value("ASSESS"))),
                                     _p(str(kf.value("BHOF-UNIV-FALLS")))], kf,
                           ["KEY-QUESTIONS", "ASSESS", "BHOF-UNIV-FALLS"], extra=(st,)))
    elif screen is False:
        state = "negative"
        items.append(_item("falls", [_p("Falls screen negative (key questions answered no).")], kf, ["KEY-QUESTIONS"]))
    else:
        state = "not_done"
        items.append(_item("falls", [_p("Falls screen not done: ask the three key questions."),
                                     _p(str(kf.value("KEY-QUESTIONS")))], kf, ["KEY-QUESTIONS"]))
    return items, state, score


def lifestyle_block(record: PatientRecord, facts: DerivedFacts, *, guideline: str, as_of: dt.date) -> Lifestyle:
    items: list[LifestyleItem] = []
    ca = calcium_item(record)
    if ca is not None:
        items.append(ca)
    items.append(vitamin_d_item(record, guideline, as_of))
    gkf = guideline_file(guideline)
    rule = gkf.data.get("supplements_rule")
    if rule:
        items.append(LifestyleItem(topic="supplements", text=str(gkf.value(rule)), parts=[_p(str(gkf.value(rule)))],
                                   rule_ids=[rule],
                                   status=lowest([gkf.fact(rule).status]), citations=[cite(gkf.id, gkf.fact(rule).source)]))
    items += exercise_items(record)
    falls, state, score = falls_items(record, facts, as_of)
    items += falls
    return Lifestyle(items=items, falls_screen=state, brochure_score=score,
                     status=lowest(i.status for i in items))
