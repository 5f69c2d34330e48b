"""What the clinic needs to know about each drug, read from the drug knowledge files (never typed in code).

:func:`regimen` turns ``knowledge/drugs/<drug>.yaml`` (and ``treatment-sequencing`` for review points and the
denosumab urgency threshold) into a :class:`Regimen`: route, where it is given (home or hospital), dose,
interval, maximum number of doses, pre-dose check items and review points, each with the status of the facts
it came from.

The mapping *drug class -> which sequencing fact sets its review point* below names knowledge facts; it holds
no clinical number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from ..core.errors import InputError, KnowledgeError
from ..core.knowledge import KnowledgeFile, all_files, load
from ..core.parts import TextPart, part
from ..core.schedule import Interval, add_months
from ..core.status import Status, lowest

SEQUENCING = "treatment-sequencing"
MONITORING = "course-monitoring"
Setting = Literal["home", "hospital"]


@dataclass(frozen=True)
class ReviewPoint:
    """A point in a course where the clinician must decide (holiday, re-evaluation, end of an anabolic course)."""

    rule_id: str
    text: str
    months: int | None  # after the course start; None = decided by doses (romosozumab) or lifetime days
    status: Status
    knowledge: str


@dataclass(frozen=True)
class Regimen:
    drug: str
    name: str
    drug_class: str
    action: str
    route: str
    setting: Setting
    dose_value: float | None
    dose_unit: str | None
    interval: Interval | None
    doses_per_day: int
    max_doses: int | None
    check_items: tuple[str, ...]
    urgent_after_days: int | None
    urgent_rule: str | None
    overdue_rule: str | None
    reviews: tuple[ReviewPoint, ...]
    lifetime_days: int | None
    lifetime_group: tuple[str, ...]
    status: Status
    knowledge_id: str
    knowledge_version: str
    interval_status: Status = "verified"
    urgent_status: Status = "verified"
    statuses: dict[str, Status] = field(default_factory=dict)

    @property
    def given_in_clinic(self) -> bool:
        return self.setting == "hospital"

    def describe(self) -> str:
        """``Denosumab 60 mg subcutaneous injection, every 6 months, at the clinic`` (a course keeps it as started)."""
        from .textparts import render  # (textparts names a drug through this module)

        return render(self.describe_part())

    def describe_part(self) -> TextPart:
        """:meth:`describe` as a part, for translation (its English rendering is :meth:`describe`)."""
        if self.dose_value is not None:
            dose = part("{amount} {unit}", {"amount": "num"}, amount=format(self.dose_value, "g"), unit=self.dose_unit)
        else:
            dose = part("dose per label")
        if self.doses_per_day > 1:
            how = part("{n} times a day", {"n": "num"}, n=str(self.doses_per_day))
        elif self.interval is None:
            how = part("as directed")
        elif self.interval.count == 1:
            how = part(str(self.interval))  # every day, every week, every month, every year
        else:
            how = part(f"every {{n}} {self.interval.unit}s", {"n": "num"}, n=str(self.interval.count))
        return part("{drug} {dose} {route}, {how}, {where}",
                    {"drug": "drug", "dose": "part", "route": "term", "how": "part", "where": "term"},
                    drug=self.drug, dose=dose, route=self.route, how=how,
                    where="at the clinic" if self.given_in_clinic else "at home")


def _drug_files() -> dict[str, KnowledgeFile]:
    return {str(f.data["drug"]): f for f in all_files().values() if f.kind == "drug" and "drug" in f.data}


def drug_ids() -> list[str]:
    """Every drug with a knowledge file."""
    return sorted(_drug_files())


def course_drug_ids() -> list[str]:
    """Drugs a course can be run with: those whose knowledge file gives a dosing interval."""
    return [d for d in drug_ids() if regimen(d).interval is not None]


def _fact(kf: KnowledgeFile, name: str, statuses: dict[str, Status]) -> Any:
    f = kf.fact(name)
    statuses[f"{kf.id}#{name}"] = lowest([f.status])
    return f.value


def _seq_rule(name: str) -> tuple[str, Status]:
    kf = load(SEQUENCING)
    f = kf.fact(name)
    return str(f.value), lowest([f.status])


@cache
def regimen(drug: str) -> Regimen:
    """The regimen of ``drug`` from its knowledge file (raises :class:`InputError` for an unknown drug)."""
    files = _drug_files()
    if drug not in files:
        raise InputError("drug", drug, "one of " + ", ".join(sorted(files)))
    kf = files[drug]
    st: dict[str, Status] = {}
    route = str(_fact(kf, "route", st))
    raw_setting = str(_fact(kf, "setting", st))
    setting: Setting = "home" if raw_setting == "home" else "hospital"
    dose_value: float | None = None
    dose_unit: str | None = None
    for name in ("dose_mg", "dose_micrograms"):
        if name in kf.facts:
            dose_value = float(_fact(kf, name, st))
            dose_unit = kf.fact(name).unit
            break
    interval: Interval | None = None
    interval_status: Status = "verified"
    for name, unit in (("interval_days", "day"), ("interval_months", "month"), ("doses_per_day", "day")):
        if name in kf.facts:
            value = int(_fact(kf, name, st))
            interval = Interval(value if name != "doses_per_day" else 1, unit)  # type: ignore[arg-type]
            interval_status = st[f"{kf.id}#{name}"]
            break
    doses_per_day = int(_fact(kf, "doses_per_day", st)) if "doses_per_day" in kf.facts else 1
    max_doses = int(_fact(kf, "max_doses", st)) if "max_doses" in kf.facts else None
    checks = kf.data.get("checks") or {}
    check_items = tuple(str(x) for x in (checks.get("items") or ()))
    cls = str(kf.data.get("class", ""))
    seq = load(SEQUENCING)

    def seqv(name: str) -> Any:
        return _fact(seq, name, st)

    urgent_after: int | None = None
    urgent_rule = overdue_rule = None
    urgent_status: Status = "verified"
    reviews: list[ReviewPoint] = []
    lifetime_days: int | None = None
    lifetime_group: tuple[str, ...] = ()
    if cls == "oral_bisphosphonate":
        text, status = _seq_rule("BP-HOLIDAY-1")
        reviews.append(ReviewPoint("BP-HOLIDAY-1", text, 12 * int(seqv("oral_bp_review_years")),
                                   lowest([status, st[f"{SEQUENCING}#oral_bp_review_years"]]), SEQUENCING))
    elif cls == "iv_bisphosphonate":
        text, status = _seq_rule("BP-HOLIDAY-1")
        reviews.append(ReviewPoint("BP-HOLIDAY-1", text, 12 * int(seqv("iv_bp_review_years")),
                                   lowest([status, st[f"{SEQUENCING}#iv_bp_review_years"]]), SEQUENCING))
    elif cls == "denosumab":
        text, status = _seq_rule("DMAB-REEVAL")
        reviews.append(ReviewPoint("DMAB-REEVAL", text, 12 * int(seqv("dmab_reeval_years")),
                                   lowest([status, st[f"{SEQUENCING}#dmab_reeval_years"]]), SEQUENCING))
        urgent_after = int(seqv("dmab_urgent_days_after_due"))
        urgent_rule, overdue_rule = "DMAB-URGENT", "DMAB-LATE"
        urgent_status = lowest([st[f"{SEQUENCING}#dmab_urgent_days_after_due"], _seq_rule("DMAB-URGENT")[1]])
    elif cls == "pth_analogue":
        lifetime_days = int(seqv("pth_course_days"))
        lifetime_group = tuple(sorted(d for d, f in files.items() if f.data.get("class") == "pth_analogue"))
        text, status = _seq_rule("ANAB-COURSE-END")
        then, then_status = _seq_rule("ANAB-THEN-AR-PTH")
        reviews.append(ReviewPoint("ANAB-COURSE-END", f"{text} {then}", None,
                                   lowest([status, then_status, st[f"{SEQUENCING}#pth_course_days"]]), SEQUENCING))
    elif cls == "romosozumab":
        text, status = _seq_rule("ANAB-THEN-AR-ROMO")
        reviews.append(ReviewPoint("ANAB-THEN-AR-ROMO", text, None, status, SEQUENCING))
    return Regimen(
        drug=drug,
        name=str(kf.data.get("name", drug)),
        drug_class=cls,
        action=str(kf.data.get("action", "")),
        route=route,
        setting=setting,
        dose_value=dose_value,
        dose_unit=dose_unit,
        interval=interval,
        doses_per_day=doses_per_day,
        max_doses=max_doses,
        check_items=check_items,
        urgent_after_days=urgent_after,
        urgent_rule=urgent_rule,
        overdue_rule=overdue_rule,
        reviews=tuple(reviews),
        lifetime_days=lifetime_days,
        lifetime_group=lifetime_group,
        status=lowest(st.values()),
        knowledge_id=kf.id,
        knowledge_version=kf.version,
        interval_status=interval_status,
        urgent_status=urgent_status,
        statuses=st,
    )


def sequencing_rule(rule_id: str) -> tuple[str, Status]:
    """The text and status of a rule of the treatment-sequencing knowledge (e.g. DMAB-LATE, DMAB-URGENT)."""
    return _seq_rule(rule_id)


def annual_review() -> tuple[int, str, Status]:
    """Months between annual reviews (MON-ANNUAL), the rule text and its status."""
    seq = load(SEQUENCING)
    f = seq.fact("annual_review_months")
    text, status = _seq_rule("MON-ANNUAL")
    return int(f.value), text, lowest([f.status, status])


def dmab_switch() -> tuple[int, str, Status]:
    """Months after the final denosumab injection to start the follow-on drug (DMAB-SWITCH)."""
    seq = load(SEQUENCING)
    f = seq.fact("dmab_switch_after_months")
    text, status = _seq_rule("DMAB-SWITCH")
    return int(f.value), text, lowest([f.status, status])


def followon_classes() -> tuple[dict[str, frozenset[str]], Status]:
    """Follow-on review rule id -> the drug classes whose course start fulfils it (``followon_classes``)."""
    f = load(SEQUENCING).fact("followon_classes")
    return {str(k): frozenset(str(c) for c in v) for k, v in dict(f.value).items()}, lowest([f.status])


def followup_dxa() -> tuple[int, int, str, Status]:
    """Months after starting or changing therapy when the follow-up DXA falls due (lower, upper bound)."""
    f = load(MONITORING).fact("followup_dxa_months")
    rule = load("bhof-2022").fact(str(f.locator))  # the guideline's own sentence, not a copy of its numbers
    lo, hi = (int(x) for x in f.value)
    return lo, hi, str(rule.value), lowest([f.status, rule.status])


def calcitriol_labs() -> tuple[list[int], int, list[str], Status]:
    """Calcitriol monitoring: first checks (months after start), repeat interval (months), lab names, status."""
    drug = _drug_files().get("calcitriol")
    mon = load(MONITORING)
    if drug is None:
        raise KnowledgeError("no calcitriol drug file")
    first = drug.fact("monitoring_months")
    rep = mon.fact("calcitriol_lab_repeat_months")
    labs = mon.fact("calcitriol_labs")
    return ([int(x) for x in first.value], int(rep.value), [str(x) for x in labs.value],
            lowest([first.status, rep.status, labs.status]))


def dmab_predisposed_labs() -> tuple[int, int, list[str], Status]:
    mon = load(MONITORING)
    days = mon.fact("dmab_predisposed_lab_days")
    labs = mon.fact("dmab_predisposed_labs")
    lo, hi = (int(x) for x in days.value)
    return lo, hi, [str(x) for x in labs.value], lowest([days.status, labs.status])


def check_lab_names() -> dict[str, str]:
    return {str(k): str(v) for k, v in load(MONITORING).value("check_lab_names").items()}


def check_item_text(item: str) -> str:
    items = load(SEQUENCING).data.get("check_items") or {}
    return str(items.get(item, item.replace("_", " ")))


def review_due(start: dt.date, point: ReviewPoint) -> dt.date | None:
    return None if point.months is None else add_months(start, point.months)
