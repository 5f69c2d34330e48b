"""What comes next for a patient already treated: continue, switch, holiday, follow-on, overdue doses.

All intervals come from ``knowledge/drugs/sequencing.yaml`` and the drug files; dates are calendar dates
(months are calendar months).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ..guidelines.conditions import Outcome, evaluate
from ..guidelines.dates import add_months, add_years, whole_months_between
from ..guidelines.engine import StratumResult, context
from ..guidelines.facts import FACTS, HIP_SITES, SPINE_SITES, DerivedFacts, FactView
from ..guidelines.rulesets import (
    drug_file,
    drug_files,
    drug_name,
    fact_text,
    guideline_file,
    rule_citations,
    sequencing_file,
)
from ..knowledge import KnowledgeFile, load
from ..records import Fracture, Medication, PatientRecord
from ..results import Citation
from ..schedule import timeliness
from ..status import Status, lowest
from .contraindications import check_drug, intolerance_hits
from .models import ContraindicationHit, DrugCheck, SequencingAdvice, Urgency

BISPHOSPHONATES = ("oral_bisphosphonate", "iv_bisphosphonate")  # drug classes (drugs/*.yaml regimen.class)


def _classes() -> dict[str, str]:
    return {d: str(kf.data["class"]) for d, kf in drug_files().items() if kf.data["action"] != "supplement"}


def _anabolic_classes() -> frozenset[str]:
    """The drug classes whose drugs are anabolic (drugs/*.yaml ``action``)."""
    return frozenset(str(kf.data["class"]) for kf in drug_files().values() if kf.data["action"] == "anabolic")


def _active(m: Medication, as_of: dt.date) -> bool:
    return (m.start is None or m.start <= as_of) and (m.end is None or m.end > as_of)


def _ended(m: Medication, as_of: dt.date) -> bool:
    return m.end is not None and m.end <= as_of


def _conventions() -> KnowledgeFile:
    """OsteoCare's conventions for advice about a drug already taken (knowledge ``conditions``)."""
    return load("conditions")


def missing_words(missing: Sequence[str]) -> str:
    """What is missing, in words: a fact id becomes its description (``crcl_ml_min`` -> Cockcroft-Gault ...)."""
    return ", ".join(FACTS[m].description if m in FACTS else m for m in missing)


def guideline_entries(record: PatientRecord, facts: DerivedFacts, kf: KnowledgeFile, stratum_key: str | None,
                      fired: frozenset[str], as_of: dt.date) -> list[tuple[int, dict[str, Any], Outcome | None]]:
    """The guideline's option entries that apply at ``stratum_key``: (position, entry, its ``unless`` outcome or
    None), the first applicable entry of each drug only (its ``when`` holds)."""
    ctx = context(record, facts, kf, as_of, kf.id, fired=fired)
    out: list[tuple[int, dict[str, Any], Outcome | None]] = []
    seen: set[str] = set()
    for idx, o in enumerate(kf.data.get("options", {}).get(stratum_key, []) if stratum_key else []):
        drug = str(o["drug"])
        if drug in seen or ("when" in o and evaluate(o["when"], ctx).value is not True):
            continue
        seen.add(drug)
        out.append((idx, o, evaluate(o["unless"], ctx) if "unless" in o else None))
    return out


def _fracture_on(f: Fracture, m: Medication, as_of: dt.date) -> bool:
    """A fragility fracture on ``m``: by its date where the fracture and the course have one (a fracture before the
    course started is not one on it); the record's on-treatment flag only for an undated fracture."""
    if not f.fragility or (f.date is not None and f.date > as_of):
        return False
    if f.date is not None and m.start is not None:
        return m.start <= f.date and (m.end is None or f.date <= m.end)
    return f.on_treatment


def bmd_loss(record: PatientRecord, m: Medication) -> bool | None:
    """A significant BMD decrease since ``m`` started (IOF-TF2012 percentages), None if not measurable."""
    if m.start is None:
        return None
    kf = sequencing_file()
    start: dt.date = m.start
    seen: bool | None = None
    for sites, fact in ((SPINE_SITES, "failure_bmd_loss_spine_percent"), (HIP_SITES, "failure_bmd_loss_hip_percent")):
        for site in sites:
            scans = sorted((d for d in record.dxa if d.site == site and d.bmd_g_cm2 and d.date),
                           key=lambda d: d.date or dt.date.min)
            before = [d for d in scans if d.date and d.date <= start]
            base = before[-1] if before else (scans[0] if scans else None)
            later = [d for d in scans if base is not None and d.date and base.date and d.date > base.date]
            if base is None or not later or not base.bmd_g_cm2 or not later[-1].bmd_g_cm2:
                continue
            pct = (base.bmd_g_cm2 - later[-1].bmd_g_cm2) / base.bmd_g_cm2 * 100
            seen = bool(seen) or pct >= float(kf.value(fact))
    return seen


def treatment_failure(record: PatientRecord, m: Medication, as_of: dt.date) -> tuple[list[Fracture], bool]:
    """(the fragility fractures on ``m``, whether they meet TF-FAILURE after the minimum time on it)."""
    kf = sequencing_file()
    fx = [f for f in record.fractures if _fracture_on(f, m, as_of)]
    months = whole_months_between(m.start, as_of) if m.start else None
    if not fx or months is None or months < int(kf.value("failure_min_months")):
        return fx, False
    return fx, len(fx) >= int(kf.value("failure_fractures_min")) or bmd_loss(record, m) is True


def failing_drugs(record: PatientRecord, as_of: dt.date) -> list[str]:
    """The drugs taken on ``as_of`` on which the patient meets the treatment-failure rule (TF-FAILURE)."""
    return [m.drug for m in record.medications if m.drug in drug_files() and _active(m, as_of)
            and treatment_failure(record, m, as_of)[1]]


class _Seq:
    def __init__(self, record: PatientRecord, facts: DerivedFacts, stratum: StratumResult,
                 option_drugs: list[str], as_of: dt.date, region: str | None) -> None:
        self.record, self.facts, self.stratum, self.as_of = record, facts, stratum, as_of
        self.options, self.region = option_drugs, region
        self.kf: KnowledgeFile = sequencing_file()
        self.conv: KnowledgeFile = _conventions()
        self.classes = _classes()
        self.anabolic_classes = _anabolic_classes()
        self.out: list[SequencingAdvice] = []
        self._checks: dict[str, DrugCheck] = {}
        self.entries = self._entries()
        # what the guideline's stratum excludes (its 'unless'): never suggested as an alternative either
        self.excluded = {str(o["drug"]) for _, o, u in self.entries if u is not None and u.value is True}

    def _entries(self) -> list[tuple[int, dict[str, Any], Outcome | None]]:
        s = self.stratum
        key = s.stratum if s.treat else None
        if key is None:
            return []
        fired = frozenset([*(r.rule_id for r in s.rules_fired), *s.also_fired])
        return guideline_entries(self.record, self.facts, guideline_file(s.guideline), key, fired, self.as_of)

    def v(self, name: str) -> Any:
        return self.kf.value(name)

    def _file(self, rule: str) -> KnowledgeFile:
        """The sequencing knowledge, or OsteoCare's conventions (knowledge ``conditions``) for the rules kept there."""
        return self.kf if rule in self.kf.facts else self.conv

    def check(self, drug: str) -> DrugCheck:
        if drug not in self._checks:
            self._checks[drug] = check_drug(self.record, self.facts, drug, as_of=self.as_of, region=self.region)
        return self._checks[drug]

    def drugs(self, name: str) -> list[str]:
        """A drug list of the sequencing file, in its order."""
        return [str(d) for d in self.v(name)]

    def add(self, action: str, urgency: Urgency, rules: list[str], text: str, *, drug: str | None = None,
            due: dt.date | None = None, alternatives: list[str] | None = None,
            extra: tuple[Status, ...] = (), facts: tuple[str, ...] = (),
            hits: Sequence[ContraindicationHit] = ()) -> None:
        """One advice: ``text``, then the texts of ``rules`` (sequencing knowledge or OsteoCare's conventions), then
        the contraindication ``hits`` it rests on, each with its rule id; status and citations of all of them."""
        if alternatives is not None and not alternatives and action in ("switch", "start_follow_on"):
            rules = [*rules, "NO-ALTERNATIVE-LEFT"]
        status = lowest([*(self._file(r).fact(r).status for r in rules), *(self.kf.fact(f).status for f in facts),
                         *(h.status for h in hits), *extra])
        cites: list[Citation] = []
        for c in [*(c for r in [*rules, *facts] for c in rule_citations(self._file(r), r)),
                  *(h.citation for h in hits)]:
            if c not in cites:
                cites.append(c)
        body = " ".join([text, *(fact_text(self._file(r), r) for r in rules),
                         *(f"{h.text} [{h.rule_id}]" for h in hits)])
        self.out.append(SequencingAdvice(action=action, urgency=urgency, drug=drug, text=body.strip(),
                                         rule_id=rules[0], due=due, alternatives=alternatives or [],
                                         status=status, citations=cites))

    def allowed(self, drugs: tuple[str, ...] | list[str]) -> list[str]:
        """``drugs`` less those contraindicated (must not) and those the guideline's stratum excludes."""
        out: list[str] = []
        for d in drugs:
            if d not in out and d not in self.excluded and not self.check(d).blocked:
                out.append(d)
        return out

    def must_not_give(self, drug: str) -> bool:
        """Blocked: say so (urgent) with the rules that fired instead of any advice to give it."""
        return self.check(drug).blocked

    def undecided(self, drug: str) -> None:
        """An absolute contraindication of ``drug`` left undecided: say what is missing before the next dose."""
        kinds = {str(r["id"]): str(r["kind"]) for r in drug_file(drug).data.get("contraindications", [])}
        und = [u for u in self.check(drug).undecided if kinds.get(u.rule_id) == "must_not"]
        if not und:
            return
        missing = sorted({m for u in und for m in u.missing})
        self.add("reassess", "soon", ["CURRENT-UNDECIDED"],
                 f"{self._name(drug)} ({', '.join(u.rule_id for u in und)}; missing: {missing_words(missing)}):",
                 drug=drug, extra=tuple(u.status for u in und))

    def stop_blocked(self, m: Medication, cls: str) -> None:
        """The drug taken is now absolutely contraindicated: stop / switch (urgent), never a bare denosumab stop."""
        hits = [h for h in self.check(m.drug).hits if h.kind == "must_not"]
        name = self._name(m.drug)
        if cls == "denosumab":  # the follow-on is the advice (DMAB-NOSTOP), with how late the injection is
            final = m.last_dose
            due = add_months(final, int(self.v("dmab_switch_after_months"))) if final else None
            alts = self.allowed(self.drugs("dmab_switch_drugs"))
            if final is None or due is None:
                when = f"{name}: date of the last injection not recorded."
            elif self.as_of > due:
                when = f"{name} OVERDUE since {due.isoformat()} (last injection {final.isoformat()})."
            else:
                when = f"{name}: last injection {final.isoformat()}."
            self.add("start_follow_on", "urgent", ["DMAB-MUST-NOT", "DMAB-NOSTOP", "DMAB-SWITCH"], when,
                     drug=alts[0] if alts else None, due=due, alternatives=alts, hits=hits,
                     facts=("dmab_switch_drugs",))
        elif cls in self.anabolic_classes:
            alts = self.allowed(self.drugs("anabolic_followon_drugs"))
            rule = "ANAB-THEN-AR-ROMO" if cls == "romosozumab" else "ANAB-THEN-AR-PTH"
            self.add("switch", "urgent", ["CURRENT-MUST-NOT", rule], f"{name}:", drug=m.drug, alternatives=alts,
                     hits=hits, facts=("anabolic_followon_drugs",))
        elif self.stratum.treat is True:
            alts = self.allowed([d for d in self.options if d != m.drug])
            self.add("switch", "urgent", ["CURRENT-MUST-NOT"], f"{name}:", drug=m.drug, alternatives=alts, hits=hits)
        else:  # the stratum calls for no drug (or is not determined): stop it, no other drug to suggest
            why = "CURRENT-NOT-INDICATED" if self.stratum.treat is False else "CURRENT-STRATUM-UNKNOWN"
            self.add("switch", "urgent", ["CURRENT-MUST-NOT", why], f"{name}:", drug=m.drug, hits=hits,
                     extra=(self.stratum.status,))

    def keep_going(self, m: Medication) -> None:
        """No switch or holiday: CONTINUE only where the stratum calls for treatment (it says 'fits the stratum')."""
        name = f"{self._name(m.drug)}:"
        nostop = ["DMAB-NOSTOP"] if self.classes[m.drug] == "denosumab" else []
        if self.stratum.treat is True:
            self.add("continue", "routine", ["CONTINUE"], name, drug=m.drug)
        elif self.stratum.treat is False:
            self.add("review", "routine", ["CURRENT-NOT-INDICATED", *nostop], f"{self.stratum.label}. {name}",
                     drug=m.drug, extra=(self.stratum.status,))
        else:
            missing = missing_words(self.stratum.missing)
            self.add("reassess", "routine", ["CURRENT-STRATUM-UNKNOWN", *nostop],
                     f"{name}" + (f" (missing: {missing})" if missing else ""), drug=m.drug,
                     extra=(self.stratum.status,))

    def no_option_left(self) -> None:
        """The stratum treats, the guideline names drugs for it, and none of them is offered: say so."""
        if self.stratum.treat is True and self.entries and not self.options:
            names = ", ".join(self._name(str(o["drug"])) for _, o, _ in self.entries)
            self.add("review", "soon", ["NO-OPTION-LEFT"], f"{self.stratum.label} ({names}):",
                     extra=(self.stratum.status,))

    # ------------------------------------------------------------------------------------------------------------
    def run(self) -> list[SequencingAdvice]:
        meds = [m for m in self.record.medications if m.drug in self.classes
                and (m.start is None or m.start <= self.as_of)]
        current = [m for m in meds if _active(m, self.as_of)]
        ended = sorted((m for m in meds if _ended(m, self.as_of)), key=lambda m: m.end or dt.date.min)
        for m in current:
            before = len(self.out)
            cls = self.classes[m.drug]
            self.fracture_on_therapy(m, cls)
            if self.must_not_give(m.drug):  # checked as a new option would be, before any advice to give it
                self.stop_blocked(m, cls)
                continue
            self.intolerance(m)
            if cls == "denosumab":
                self.denosumab_current(m)
            elif cls in BISPHOSPHONATES:
                self.bisphosphonate_current(m, cls)
            elif cls in self.anabolic_classes:
                self.anabolic_current(m, cls)
            if not any(a.action in ("switch", "drug_holiday", "continue") for a in self.out[before:]):
                self.keep_going(m)
            self.undecided(m.drug)
        if ended:
            self.after_stopping(ended, current)
        if not current:
            self.fracture_on_therapy_flag_only()
        self.no_option_left()
        return self.out

    def _name(self, drug: str) -> str:
        return drug_name(drug)

    # --- denosumab ------------------------------------------------------------------------------------------------
    def denosumab_current(self, m: Medication) -> None:
        interval = int(self.v("dmab_interval_months"))
        if m.last_dose is None:
            self.add("find_last_dose", "urgent", ["DMAB-LASTDOSE-UNKNOWN"], "Denosumab:", drug="denosumab")
        else:
            due = add_months(m.last_dose, interval)
            # the clinic worklist's reading (core.schedule.timeliness): urgent FROM due + the day count, inclusive
            when = timeliness(due, self.as_of, urgent_after_days=int(self.v("dmab_urgent_days_after_due")))
            if when == "urgent":
                self.add("give_dose", "urgent", ["DMAB-URGENT", "DMAB-LATE"],
                         f"Denosumab OVERDUE since {due.isoformat()} (last injection {m.last_dose.isoformat()}).",
                         drug="denosumab", due=due, facts=("dmab_urgent_days_after_due",))
            elif when == "overdue":
                self.add("give_dose", "soon", ["DMAB-LATE"],
                         f"Denosumab overdue since {due.isoformat()} (last injection {m.last_dose.isoformat()}).",
                         drug="denosumab", due=due)
            else:
                self.add("give_dose", "routine", ["DMAB-LATE"], f"Next denosumab injection due {due.isoformat()}.",
                         drug="denosumab", due=due)
        if m.start is not None:
            reeval = add_years(m.start, float(self.v("dmab_reeval_years")))
            urgency: Urgency = "soon" if self.as_of >= reeval else "routine"
            self.add("review", urgency, ["DMAB-REEVAL", "DMAB-NOSTOP"],
                     f"Denosumab since {m.start.isoformat()}: re-evaluate on {reeval.isoformat()}.",
                     drug="denosumab", due=reeval)

    # --- bisphosphonates -------------------------------------------------------------------------------------------
    def still_high(self) -> tuple[bool | None, Status, list[str]]:
        """BP-HOLIDAY-2: (still high risk, or None if undecided; its status; what is missing to decide)."""
        view = FactView(self.record, self.facts, self.as_of)
        hip_t, st = view.get("hip_t_score")
        sites = {str(x) for x in self.v("bp_continue_fracture_sites")}
        at_least = int(self.v("bp_continue_fractures_min"))
        fragile = [f for f in self.record.fractures if f.fragility]
        # the prior_fracture flag alone: one fracture or more, site not recorded (as the rule engine reads it)
        flag_only = not self.record.fractures and self.record.prior_fracture
        reasons: list[bool | None] = [
            self.stratum.treat,
            None if hip_t is None else hip_t <= float(self.v("hip_t_continue")),
            None if flag_only else any(f.site in sites for f in fragile),
            (True if at_least <= 1 else None) if flag_only else len(fragile) >= at_least,
            any(f.on_treatment for f in self.record.fractures),
        ]
        status = lowest([self.stratum.status, st, *(self.kf.fact(n).status for n in (
            "hip_t_continue", "bp_continue_fracture_sites", "bp_continue_fractures_min"))])
        if any(r is True for r in reasons):
            return True, status, []
        if any(r is None for r in reasons):
            missing = list(self.stratum.missing)
            if flag_only and "fracture site" not in missing:
                missing.append("fracture site")
            return None, status, missing
        return False, status, []

    def bisphosphonate_current(self, m: Medication, cls: str) -> None:
        oral = cls == "oral_bisphosphonate"
        review = float(self.v("oral_bp_review_years" if oral else "iv_bp_review_years"))
        maximum = float(self.v("oral_bp_max_years" if oral else "iv_bp_max_years"))
        name = self._name(m.drug)
        if m.start is None:
            self.add("reassess", "soon", ["BP-HOLIDAY-1"], f"{name}: start date not recorded;", drug=m.drug)
            return
        months = whole_months_between(m.start, self.as_of)
        review_at, max_at = add_years(m.start, review), add_years(m.start, maximum)
        if self.as_of >= max_at:
            self.add("review", "soon", ["BP-MAX"], f"{name} since {m.start.isoformat()} ({months} months).",
                     drug=m.drug, due=max_at)
        elif self.as_of >= review_at:
            high, st, missing = self.still_high()
            if high is True:
                self.add("continue", "routine", ["BP-HOLIDAY-2"],
                         f"{name} for {months} months and still at high risk: continue until {max_at.isoformat()} "
                         "at most, with periodic evaluation.", drug=m.drug, due=max_at, extra=(st,))
            elif high is False:
                lo, _ = self.v("holiday_reassess_years")
                back = add_years(self.as_of, float(lo))
                self.add("drug_holiday", "routine", ["BP-HOLIDAY-3", "BP-HOLIDAY-4"],
                         f"{name} for {months} months and no longer at high risk: consider a drug holiday; reassess "
                         f"by {back.isoformat()}.", drug=m.drug, due=back, extra=(st,),
                         facts=("holiday_years", "holiday_reassess_years"))
            else:
                self.add("reassess", "soon", ["BP-HOLIDAY-1"],
                         f"{name} for {months} months: reassess fracture risk now (missing: "
                         f"{', '.join(missing) or 'hip T-score or risk stratum'}).", drug=m.drug,
                         extra=(st,))
        else:
            self.add("review", "routine", ["BP-HOLIDAY-1"], f"{name}: review the course on {review_at.isoformat()}.",
                     drug=m.drug, due=review_at)

    # --- anabolic ----------------------------------------------------------------------------------------------------
    def anabolic_current(self, m: Medication, cls: str) -> None:
        view = FactView(self.record, self.facts, self.as_of)
        if cls == "pth_analogue":
            used = view.medication_days(tuple(d for d, c in self.classes.items() if c == cls))
            if used is None:
                return
            end = self.as_of + dt.timedelta(days=max(int(self.v("pth_course_days")) - used, 0))
            self.add("start_follow_on", "routine", ["ANAB-COURSE-END", "ANAB-THEN-AR-PTH"],
                     f"{self._name(m.drug)}: {used} days used of the lifetime limit; the course ends about "
                     f"{end.isoformat()}.", drug=m.drug, due=end, facts=("pth_course_days",))
        elif m.start is not None:
            doses = int(drug_files()["romosozumab"].value("max_doses"))
            end = add_months(m.start, doses)
            self.add("start_follow_on", "routine", ["ANAB-COURSE-END", "ANAB-THEN-AR-ROMO"],
                     f"Romosozumab: {doses} monthly doses end about {end.isoformat()}.", drug=m.drug, due=end)

    # --- stopped therapy -------------------------------------------------------------------------------------------
    def after_stopping(self, ended: list[Medication], current: list[Medication]) -> None:
        last = ended[-1]
        cls = self.classes[last.drug]
        stop = last.end or self.as_of
        later_ar = [m for m in current + ended if m is not last and self.classes[m.drug] not in self.anabolic_classes
                    and m.start is not None and m.start >= (last.last_dose or stop)]
        if cls == "denosumab" and not later_ar:
            final = last.last_dose or stop
            switch_due = add_months(final, int(self.v("dmab_switch_after_months")))
            late = timeliness(switch_due, self.as_of,
                              urgent_after_days=int(self.v("dmab_urgent_days_after_due"))) == "urgent"
            alts = self.allowed(self.drugs("dmab_switch_drugs"))
            rules = ["DMAB-NOSTOP", "DMAB-SWITCH", "DMAB-SWITCH-DETAIL"] + (["DMAB-URGENT"] if late else [])
            self.add("start_follow_on", "urgent" if late or self.as_of >= switch_due else "soon", rules,
                     f"Denosumab stopped (final injection {final.isoformat()}"
                     f"{'' if last.last_dose else ', taken as the stop date'}) with no follow-on antiresorptive: "
                     f"start one by {switch_due.isoformat()}.", drug=alts[0] if alts else None, due=switch_due,
                     alternatives=alts,
                     facts=("dmab_switch_drugs", *(("dmab_urgent_days_after_due",) if late else ())))
        elif cls in self.anabolic_classes and not later_ar and not current:
            alts = self.allowed(self.drugs("anabolic_followon_drugs"))
            rule = "ANAB-THEN-AR-ROMO" if cls == "romosozumab" else "ANAB-THEN-AR-PTH"
            self.add("start_follow_on", "soon", [rule],
                     f"{self._name(last.drug)} course ended {stop.isoformat()} with no antiresorptive since:",
                     drug=alts[0] if alts else None, due=stop, alternatives=alts, facts=("anabolic_followon_drugs",))
        elif cls in BISPHOSPHONATES and not current:
            self.holiday(last, cls, stop)

    def holiday(self, m: Medication, cls: str, stop: dt.date) -> None:
        oral = cls == "oral_bisphosphonate"
        review = float(self.v("oral_bp_review_years" if oral else "iv_bp_review_years"))
        name = self._name(m.drug)
        new_fx = [f for f in self.record.fractures if f.fragility and f.date is not None and stop <= f.date <= self.as_of]
        if new_fx:
            said = (f"New fragility fracture on {new_fx[-1].date} after {name} stopped on {stop.isoformat()}: "
                    "end the holiday.")
            if self.must_not_give(m.drug):  # restarting it is not possible: another drug ends the holiday
                hits = [h for h in self.check(m.drug).hits if h.kind == "must_not"]
                self.add("switch", "urgent", ["BP-HOLIDAY-4", "CURRENT-MUST-NOT"], f"{said} {name}:", drug=m.drug,
                         alternatives=self.allowed([d for d in self.options if d != m.drug]), hits=hits)
                return
            self.add("restart", "soon", ["BP-HOLIDAY-4"], said, drug=m.drug,
                     hits=intolerance_hits(self.record, m.drug))
            self.undecided(m.drug)
            return
        course = whole_months_between(m.start, stop) if m.start else None
        lo, _ = self.v("holiday_reassess_years")
        back = add_years(stop, float(lo))
        if course is not None and course < review * 12:
            self.add("reassess", "soon", ["BP-HOLIDAY-1"],
                     f"{name} stopped after {course} months, before the planned review point:", drug=m.drug)
            return
        urgency: Urgency = "soon" if self.as_of >= back else "routine"
        self.add("drug_holiday", urgency, ["BP-HOLIDAY-3", "BP-HOLIDAY-4"],
                 f"On a bisphosphonate holiday since {stop.isoformat()} ({name}); reassess by {back.isoformat()}.",
                 drug=m.drug, due=back, facts=("holiday_reassess_years",))

    # --- fractures on therapy, failure, intolerance ------------------------------------------------------------------
    def fracture_on_therapy(self, m: Medication, cls: str) -> None:
        fx, failing = treatment_failure(self.record, m, self.as_of)
        if not fx:
            return
        name = self._name(m.drug)
        self.add("review", "soon", ["TF-FRACTURE-ON-TX"], f"{len(fx)} fragility fracture(s) on {name}.", drug=m.drug)
        if not failing:
            return
        lists: tuple[str, ...] = ()
        if cls == "oral_bisphosphonate":
            lists = ("switch_fail_after_oral_drugs", "anabolic_drugs")
            alts = self.allowed([d for n in lists for d in self.drugs(n)])
        elif self.stratum.stratum == "very_high" and cls not in self.anabolic_classes:
            lists = ("anabolic_drugs",)
            alts = self.allowed(self.drugs("anabolic_drugs"))
        else:
            alts = self.allowed([d for d in self.options if d != m.drug])
        self.add("switch", "soon", ["TF-FAILURE", "SWITCH-FAIL"], f"Treatment failure on {name}:", drug=m.drug,
                 alternatives=alts, facts=("failure_min_months", "failure_bmd_loss_spine_percent", *lists))

    def fracture_on_therapy_flag_only(self) -> None:
        if any(f.fragility and f.on_treatment for f in self.record.fractures):
            self.add("review", "soon", ["TF-FRACTURE-ON-TX"], "A fragility fracture on treatment is recorded.")

    def intolerance(self, m: Medication) -> None:
        bad = [i for i in self.record.intolerances if i.drug == m.drug]
        if not bad:
            return
        alts = self.allowed([d for d in self.options if d != m.drug])
        self.add("switch", "soon", ["SWITCH-INTOLERANCE"],
                 f"Intolerance of {self._name(m.drug)} recorded ({bad[-1].reaction}).", drug=m.drug, alternatives=alts)


def advise(record: PatientRecord, facts: DerivedFacts, stratum: StratumResult, option_drugs: list[str], *,
           as_of: dt.date, region: str | None = None) -> list[SequencingAdvice]:
    """Sequencing advice for the patient's treatment history, most urgent first."""
    out = _Seq(record, facts, stratum, option_drugs, as_of, region).run()
    order = {"urgent": 0, "soon": 1, "routine": 2}
    return sorted(out, key=lambda a: order[a.urgency])
