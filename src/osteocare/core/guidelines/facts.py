"""The facts the treatment rules read: calculator outputs (:class:`DerivedFacts`) and the patient record.

The assessment module computes :class:`DerivedFacts` with the real calculators and passes them in. The rules
in the knowledge files name facts by the ids in :data:`FACTS`; :class:`FactView` answers them for one patient
on one date. ``None`` means *unknown*: a rule that needs an unknown fact is undecided, never silently false.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..numeric import round_half_away
from ..records import Fall, Medication, PatientRecord
from ..status import Status
from .dates import whole_months_between

WhoCategory = Literal["normal", "low_bone_mass", "osteoporosis", "severe_osteoporosis"]
EnteredCategory = Literal["low", "intermediate", "high", "very_high"]

HIP_SITES = ("femoral_neck", "total_hip")
SPINE_SITES = ("lumbar_spine",)
#: The drug class (``data.class`` of knowledge/drugs/*.yaml) whose lifetime days count together (PTH-LIFETIME).
PTH_ANALOGUE_CLASS = "pth_analogue"


def pth_analogues() -> tuple[str, ...]:
    """The drugs whose knowledge file has ``class: pth_analogue`` (teriparatide, abaloparatide), sorted."""
    from ..knowledge import all_files

    return tuple(sorted(str(f.data["drug"]) for f in all_files().values()
                        if f.kind == "drug" and f.data.get("class") == PTH_ANALOGUE_CLASS))


class FallsScreen(BaseModel):
    """Answers to the STEADI screen, where the clinician asked them (lifestyle/steadi.yaml)."""

    model_config = ConfigDict(extra="forbid")
    key_questions: dict[str, bool] = Field(
        default_factory=dict, description="STEADI key question id -> answer (fallen_past_year, unsteady, worries)"
    )
    brochure_items: list[str] | None = Field(
        default=None, description="Ids of the Stay Independent items answered 'yes' (None: not asked)"
    )
    answered_on: dt.date | None = Field(
        default=None, description="The day the screen was recorded (None: not known); shown, never used as a "
                                  "re-screen interval (the knowledge gives none)"
    )


class DerivedFacts(BaseModel):
    """What the calculators computed for this patient, each with its own status in ``statuses``."""

    model_config = ConfigDict(extra="forbid")
    lowest_t_score: float | None = Field(default=None, description="Lowest valid T-score, rounded to 0.1")
    lowest_t_site: str | None = None
    t_scores: dict[str, float] = Field(default_factory=dict, description="Site -> T-score, rounded to 0.1")
    who_category: WhoCategory | None = None
    frax_mof_percent_adjusted: float | None = None
    frax_hip_percent_adjusted: float | None = None
    qfracture_mof_percent: float | None = Field(
        default=None, description="Shown for context only; never compared with FRAX thresholds"
    )
    qfracture_hip_percent: float | None = None
    crcl_ml_min: float | None = Field(default=None, description="Cockcroft-Gault creatinine clearance")
    egfr_ml_min_1_73m2: float | None = Field(default=None, description="CKD-EPI 2021 eGFR")
    caroc_category: str | None = None
    guideline_categories: dict[str, EnteredCategory] = Field(
        default_factory=dict,
        description="Guideline id -> category read from that guideline's own tool (e.g. the NOGG tool)",
    )
    falls_screen: FallsScreen | None = None
    statuses: dict[str, Status] = Field(
        default_factory=dict, description="Derived fact name -> status of the facts that produced it"
    )

    def status_of(self, name: str) -> Status:
        return self.statuses.get(name, "verified")


def derived_facts_from_record(record: PatientRecord) -> DerivedFacts:
    """FOR TESTS ONLY: take the numbers straight from the record's own fields where present.

    T-scores come from the three flat fields and the DXA list (latest per site), rounded half away from zero
    to 0.1; FRAX is taken as entered (no adjustment). No calculator is re-implemented here: CrCl and eGFR
    stay unknown unless a test sets them.
    """
    scores: dict[str, tuple[dt.date, float]] = {}
    for m in record.dxa:
        if m.t_score is None:
            continue
        day = m.date or dt.date.min
        if m.site not in scores or day >= scores[m.site][0]:
            scores[m.site] = (day, m.t_score)
    flat = {
        "femoral_neck": record.femoral_neck_t_score,
        "total_hip": record.total_hip_t_score,
        "lumbar_spine": record.lumbar_spine_t_score,
    }
    t: dict[str, float] = {s: v for s, (_, v) in scores.items()}
    t.update({s: v for s, v in flat.items() if v is not None})
    t = {s: float(round_half_away(v, 1)) for s, v in t.items()}
    lowest_site = min(t, key=lambda s: t[s]) if t else None
    return DerivedFacts(
        lowest_t_score=t[lowest_site] if lowest_site else None,
        lowest_t_site=lowest_site,
        t_scores=t,
        frax_mof_percent_adjusted=record.frax_mof_percent,
        frax_hip_percent_adjusted=record.frax_hip_percent,
    )


@dataclass(frozen=True)
class FactSpec:
    unit: str
    description: str
    get: Callable[[FactView], Any]
    derived: tuple[str, ...] = ()  # DerivedFacts fields whose status the fact carries


def _min(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _round1(v: float | None) -> float | None:
    return None if v is None else float(round_half_away(v, 1))


class FactView:
    """One patient's facts on one date, answered by fact id (see :data:`FACTS`)."""

    def __init__(self, record: PatientRecord, facts: DerivedFacts, as_of: dt.date, guideline: str | None = None):
        self.record = record
        self.derived = facts
        self.as_of = as_of
        self.guideline = guideline

    def get(self, name: str) -> tuple[Any, Status]:
        spec = FACTS[name]
        value = spec.get(self)
        from ..status import lowest

        return value, lowest(self.derived.status_of(d) for d in spec.derived)

    # --- helpers used by the fact table and the rule atoms ---------------------------------------------------
    def site_t(self, sites: tuple[str, ...]) -> float | None:
        d = self.derived
        vals: list[float | None] = [d.t_scores.get(s) for s in sites]
        if not d.t_scores and d.lowest_t_site in sites:
            vals.append(d.lowest_t_score)
        return _min(vals)

    def _intervals(self, drug: str, last: Callable[[Medication], dt.date | None]) -> list[tuple[dt.date, dt.date]] | None:
        """The courses of ``drug`` up to the as-of date as (start, last day), overlapping ones merged into one; None
        when a course has no start. The same therapy is often recorded twice (a MedicationRequest and the
        MedicationStatement based on it, or repeat prescriptions): counting each course alone would count its
        days twice."""
        spans: list[tuple[dt.date, dt.date]] = []
        for m in self.record.medications:
            if m.drug != drug:
                continue
            if m.start is None:
                return None
            end = min(last(m) or self.as_of, self.as_of)
            if end >= m.start:
                spans.append((m.start, end))
        merged: list[tuple[dt.date, dt.date]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def medication_days(self, drugs: tuple[str, ...]) -> int | None:
        """Days on ``drugs`` up to the as-of date: per drug, the days of the union of its courses (a day two
        overlapping courses of one drug share counts once), summed over the drugs."""
        total = 0
        for drug in drugs:
            spans = self._intervals(drug, lambda m: m.end)
            if spans is None:
                return None
            total += sum((end - start).days + 1 for start, end in spans)
        return total

    def monthly_doses(self, drug: str) -> int | None:
        """Monthly doses of ``drug`` up to the as-of date, over the union of its courses (as
        :meth:`medication_days`), each course counted to its last dose where the record has one (a course stopped
        months after its last dose gave no doses in between), else to its end."""
        spans = self._intervals(drug, lambda m: m.last_dose or m.end)
        if spans is None:
            return None
        return sum(whole_months_between(start, end) + 1 for start, end in spans)

    def recent_fall(self) -> Fall | None:
        """The latest fall on the record dated within the STEADI look-back (``key_question_lookback_months`` of
        knowledge steadi) up to the as-of date; None when there is none."""
        from ..knowledge import load
        from .dates import within_months

        months = int(load("steadi").value("key_question_lookback_months"))
        recent = [f for f in self.record.falls_history if f.date is not None and within_months(f.date, self.as_of, months)]
        return max(recent, key=lambda f: f.date or dt.date.min) if recent else None

    def falls_key_answers(self) -> dict[str, bool]:
        """The STEADI key questions' answers as the screen reads them (knowledge steadi, CONVENTION in its notes):
        the recorded answers, but the fall question (``data.fall_question``) is a yes when a fall within the
        look-back is on the record, whatever was answered, and, when it was not asked, when the record's falls flag
        is set. A question absent from the result was not asked."""
        from ..knowledge import load

        fs = self.derived.falls_screen
        answers = dict(fs.key_questions) if fs is not None else {}
        fall_question = str(load("steadi").data["fall_question"])
        if self.recent_fall() is not None or (fall_question not in answers and self.record.falls):
            answers[fall_question] = True
        return answers

    def falls_screen_positive(self) -> bool | None:
        """STEADI (KEY-QUESTIONS): any yes - positive; all the key questions answered no - negative; otherwise
        (none or only some asked, none yes) unknown: the screen is not finished."""
        from ..knowledge import load

        answers = self.falls_key_answers()
        if any(answers.values()):
            return True
        if all(q in answers for q in load("steadi").data["key_questions"]):
            return False
        return None


def _gc_dose(v: FactView) -> float | None:
    r = v.record
    if r.glucocorticoid_mg_per_day is not None:
        return r.glucocorticoid_mg_per_day
    return None if r.corticosteroids else 0.0


def _gc_months(v: FactView) -> float | None:
    r = v.record
    if r.glucocorticoid_months is not None:
        return r.glucocorticoid_months
    if not r.corticosteroids and not r.glucocorticoid_mg_per_day:
        return 0.0
    return None


FACTS: dict[str, FactSpec] = {
    "age": FactSpec("a", "Age in whole years", lambda v: v.record.age),
    "sex": FactSpec("{text}", "female or male", lambda v: v.record.sex),
    "menopausal_status": FactSpec("{text}", "premenopausal, perimenopausal, postmenopausal or unknown",
                                  lambda v: v.record.menopausal_status),
    "lowest_t_score": FactSpec("{T-score}", "Lowest T-score of all valid sites (incl. 33% radius)",
                               lambda v: v.derived.lowest_t_score, ("lowest_t_score",)),
    "hip_spine_t_score": FactSpec("{T-score}", "Lowest T-score of femoral neck, total hip and lumbar spine",
                                  lambda v: v.site_t(HIP_SITES + SPINE_SITES), ("lowest_t_score", "t_scores")),
    "hip_t_score": FactSpec("{T-score}", "Lower of femoral neck and total hip T-score (CONVENTION)",
                            lambda v: v.site_t(HIP_SITES), ("lowest_t_score", "t_scores")),
    "spine_t_score": FactSpec("{T-score}", "Lumbar spine T-score", lambda v: v.site_t(SPINE_SITES),
                              ("lowest_t_score", "t_scores")),
    "who_category": FactSpec("{text}", "WHO densitometric category", lambda v: v.derived.who_category,
                             ("who_category",)),
    "frax_mof_percent": FactSpec("%", "FRAX 10-year MOF probability (after published adjustments)",
                                 lambda v: v.derived.frax_mof_percent_adjusted, ("frax_mof_percent_adjusted",)),
    "frax_hip_percent": FactSpec("%", "FRAX 10-year hip fracture probability (after published adjustments)",
                                 lambda v: v.derived.frax_hip_percent_adjusted, ("frax_hip_percent_adjusted",)),
    "frax_with_bmd": FactSpec("{bool}", "FRAX was calculated with BMD", lambda v: v.record.frax_with_bmd),
    "guideline_category": FactSpec(
        "{text}", "Category read from the selected guideline's own tool (e.g. the NOGG tool)",
        lambda v: v.derived.guideline_categories.get(v.guideline or ""), ("guideline_categories",)),
    "glucocorticoid_mg_per_day": FactSpec("mg/d", "Oral glucocorticoid dose, prednisolone equivalent", _gc_dose),
    "glucocorticoid_months": FactSpec("mo", "Duration of glucocorticoid use", _gc_months),
    "on_glucocorticoids": FactSpec(
        "{bool}", "Takes oral glucocorticoids",
        lambda v: bool(v.record.corticosteroids or (v.record.glucocorticoid_mg_per_day or 0) > 0)),
    "crcl_ml_min": FactSpec("mL/min", "Cockcroft-Gault creatinine clearance, rounded to 0.1 (CONVENTION)",
                            lambda v: _round1(v.derived.crcl_ml_min), ("crcl_ml_min",)),
    "egfr_ml_min_1_73m2": FactSpec("mL/min/{1.73_m2}", "CKD-EPI 2021 eGFR, rounded to 0.1 (CONVENTION)",
                                   lambda v: _round1(v.derived.egfr_ml_min_1_73m2), ("egfr_ml_min_1_73m2",)),
    "cvd": FactSpec("{bool}", "Cardiovascular disease recorded (record flag)", lambda v: v.record.cvd),
    "malabsorption": FactSpec("{bool}", "Malabsorption recorded (record flag)", lambda v: v.record.malabsorption),
    "current_smoker": FactSpec("{bool}", "Smokes now", lambda v: v.record.smoking in ("light", "moderate", "heavy")),
    "systemic_oestrogen": FactSpec("{bool}", "Takes HRT / oestrogen (record flag)", lambda v: v.record.hrt_oestrogen),
    "falls_screen_positive": FactSpec(
        "{bool}", "STEADI key-question screen: any yes, or a fall in the past year on the record (positive); all "
                  "three answered no (negative); else unknown",
        lambda v: v.falls_screen_positive(), ("falls_screen",)),
    "pth_analogue_days": FactSpec("d", "Days of the PTH analogues (drug class pth_analogue) together (lifetime)",
                                  lambda v: v.medication_days(pth_analogues())),
    "romosozumab_doses": FactSpec("{dose}", "Monthly romosozumab doses received (lifetime)",
                                  lambda v: v.monthly_doses("romosozumab")),
}
