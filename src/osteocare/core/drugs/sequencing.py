"""What comes next for a patient already treated: continue, switch, holiday, follow-on, overdue doses.

All intervals come from ``knowledge/drugs/sequencing.yaml`` and the drug files; dates are calendar dates
(months are calendar months).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..guidelines.dates import add_months, add_years, whole_months_between
from ..guidelines.engine import StratumResult
from ..guidelines.facts import HIP_SITES, SPINE_SITES, DerivedFacts, FactView
from ..guidelines.rulesets import drug_files, fact_text, rule_citations, sequencing_file
from ..knowledge import KnowledgeFile
from ..records import Medication, PatientRecord
from ..schedule import timeliness
from ..status import Status, lowest
from .contraindications import check_drug
from .models import SequencingAdvice, Urgency

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


class _Seq:
    def __init__(self, record: PatientRecord, facts: DerivedFacts, stratum: StratumResult,
                 option_drugs: list[str], as_of: dt.date, region: str | None) -> None:
        self.record, self.facts, self.stratum, self.as_of = record, facts, stratum, as_of
        self.options, self.region = option_drugs, region
        self.kf: KnowledgeFile = sequencing_file()
        self.classes = _classes()
        self.anabolic_classes = _anabolic_classes()
        self.out: list[SequencingAdvice] = []

    def v(self, name: str) -> Any:
        return self.kf.value(name)

    def drugs(self, name: str) -> list[str]:
        """A drug list of the sequencing file, in its order."""
        return [str(d) for d in self.v(name)]

    def add(self, action: str, urgency: Urgency, rules: list[str], text: str, *, drug: str | None = None,
            due: dt.date | None = None, alternatives: list[str] | None = None,
            extra: tuple[Status, ...] = (), facts: tuple[str, ...] = ()) -> None:
        status = lowest([*(self.kf.fact(r).status for r in rules), *(self.kf.fact(f).status for f in facts),
                         *extra])
        cites = []
        for r in [*rules, *facts]:
            for c in rule_citations(self.kf, r):
                if c not in cites:
                    cites.append(c)
        body = text + " " + " ".join(fact_text(self.kf, r) for r in rules)
        self.out.append(SequencingAdvice(action=action, urgency=urgency, drug=drug, text=body.strip(),
                                         rule_id=rules[0], due=due, alternatives=alternatives or [],
                                         status=status, citations=cites))

    def allowed(self, drugs: tuple[str, ...] | list[str]) -> list[str]:
        return [d for d in drugs if not check_drug(self.record, self.facts, d, as_of=self.as_of,
                                                   region=self.region).blocked]

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
            self.intolerance(m)
            if cls == "denosumab":
                self.denosumab_current(m)
            elif cls in BISPHOSPHONATES:
                self.bisphosphonate_current(m, cls)
            elif cls in self.anabolic_classes:
                self.anabolic_current(m, cls)
            if not any(a.action in ("switch", "drug_holiday") for a in self.out[before:]):
                self.add("continue", "routine", ["CONTINUE"], f"{self._name(m.drug)}:", drug=m.drug)
        if ended:
            self.after_stopping(ended, current)
        if not current:
            self.fracture_on_therapy_flag_only()
        return self.out

    def _name(self, drug: str) -> str:
        return str(drug_files()[drug].data["name"])

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
            self.add("restart", "soon", ["BP-HOLIDAY-4"],
                     f"New fragility fracture on {new_fx[-1].date} after {name} stopped on {stop.isoformat()}: "
                     "end the holiday.", drug=m.drug)
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
        fx = [f for f in self.record.fractures if f.fragility and (
            f.on_treatment or (f.date is not None and m.start is not None and m.start <= f.date <= self.as_of))]
        if not fx:
            return
        name = self._name(m.drug)
        self.add("review", "soon", ["TF-FRACTURE-ON-TX"], f"{len(fx)} fragility fracture(s) on {name}.", drug=m.drug)
        months = whole_months_between(m.start, self.as_of) if m.start else None
        if months is None or months < int(self.v("failure_min_months")):
            return
        loss = self.bmd_loss(m)
        failing = len(fx) >= int(self.v("failure_fractures_min")) or (len(fx) >= 1 and loss is True)
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

    def bmd_loss(self, m: Medication) -> bool | None:
        if m.start is None:
            return None
        start: dt.date = m.start
        seen: bool | None = None
        for sites, fact in ((SPINE_SITES, "failure_bmd_loss_spine_percent"), (HIP_SITES, "failure_bmd_loss_hip_percent")):
            for site in sites:
                scans = sorted((d for d in self.record.dxa if d.site == site and d.bmd_g_cm2 and d.date),
                               key=lambda d: d.date or dt.date.min)
                before = [d for d in scans if d.date and d.date <= start]
                base = before[-1] if before else (scans[0] if scans else None)
                later = [d for d in scans if base is not None and d.date and base.date and d.date > base.date]
                if base is None or not later or not base.bmd_g_cm2 or not later[-1].bmd_g_cm2:
                    continue
                pct = (base.bmd_g_cm2 - later[-1].bmd_g_cm2) / base.bmd_g_cm2 * 100
                seen = bool(seen) or pct >= float(self.v(fact))
        return seen

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
