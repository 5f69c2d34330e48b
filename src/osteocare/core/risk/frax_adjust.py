"""An entered FRAX result: published arithmetic adjustments and guideline thresholds, on arrays.

OsteoCare never computes FRAX (the algorithm is not public). The clinician enters the 10-year MOF and hip
probabilities from an official FRAX tool, with the country model. This module then applies:

* the glucocorticoid dose adjustment (Kanis 2011) - only when FRAX was computed with glucocorticoids = yes;
  "all ages" column by default, age-specific column optional; 7.5 mg/day exactly is high (CONVENTION);
* the lumbar spine / femoral neck offset (Leslie 2011) - MOF only; offset = FN T - LS T rounded half away
  from zero in decimal arithmetic on one-decimal T-scores (CONVENTION);

as multipliers on the entered values, rounded once at the end to one decimal (CONVENTION), and reports each
guideline's FRAX threshold against the adjusted values, each with its own status. The thresholds are for
FRAX only: never apply them to QFracture output (:func:`thresholds_for` refuses it).
Facts: ``knowledge/calculators/frax-adjustments.yaml`` and ``frax-thresholds.yaml``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from ..densitometry import DecidingT, record_deciding_t_scores
from ..errors import InputError
from ..knowledge import load
from ..numeric import round_half_away
from ..parts import num, nums, part
from ..records import PatientRecord
from ..results import CalculatorResult, Citation, Quantity, RuleFired, cite, not_applicable
from ..status import Status, lowest, status_warning

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

CALCULATOR: Final = "frax-entered"
NAME: Final = "FRAX (entered from an official FRAX tool), with published adjustments"
ADJ_ID: Final = "frax-adjustments"
THR_ID: Final = "frax-thresholds"

#: Glucocorticoid dose bands of the array kernel (NOT_APPLIED: no adjustment).
GC_NOT_APPLIED, GC_LOW, GC_MEDIUM, GC_HIGH = 0, 1, 2, 3
GC_BAND_NAMES: Final = ("not applied", "low", "medium", "high")
_GC_BAND_KEYS: Final = ("low", "medium", "high")

Outcome = Literal["mof", "hip"]
_NOISE = 9  # decimals of binary noise stripped before comparing doses


# ---------------------------------------------------------------------------------------------------------
# Knowledge


@dataclass(frozen=True)
class _Adj:
    low_below: float
    high_from: float
    columns: IntArray  # age columns, ascending (40 ... 90)
    pct: dict[str, IntArray]  # outcome -> [band 0..3, column index + 1 ("all" at 0)]
    ls_fraction: float
    decimals: int


@cache
def _adj() -> _Adj:
    kf = load(ADJ_ID)
    table: dict[str, dict[str, dict[Any, int]]] = kf.value("gc_percent_change")
    columns = sorted(int(k) for k in table["mof"]["low"] if str(k) != "all")
    pct: dict[str, IntArray] = {}
    for outcome in ("mof", "hip"):
        grid = np.zeros((4, len(columns) + 1), dtype=np.int64)  # row 0 = not applied
        for b, band in enumerate(_GC_BAND_KEYS, start=1):
            row = {str(k): int(v) for k, v in table[outcome][band].items()}
            grid[b, 0] = row["all"]
            for j, c in enumerate(columns, start=1):
                grid[b, j] = row[str(c)]
        pct[outcome] = grid
    return _Adj(
        low_below=float(kf.value("gc_low_dose_below")),
        high_from=float(kf.value("gc_high_dose_from")),
        columns=np.array(columns, dtype=np.int64),
        pct=pct,
        ls_fraction=float(kf.value("ls_offset_fraction_per_t_unit")),
        decimals=int(kf.value("final_decimals")),
    )


# ---------------------------------------------------------------------------------------------------------
# Array kernel


def gc_dose_band(mg_per_day: npt.ArrayLike) -> IntArray:
    """LOW (< 2.5), MEDIUM (2.5 to < 7.5) or HIGH (>= 7.5 mg/day prednisolone equivalent); NaN -> NOT_APPLIED."""
    a = _adj()
    dose = round_half_away(mg_per_day, _NOISE)
    band = np.where(dose >= a.high_from, GC_HIGH, np.where(dose >= a.low_below, GC_MEDIUM, GC_LOW))
    out: IntArray = np.where(np.isnan(dose), GC_NOT_APPLIED, band).astype(np.int64)
    return out


def gc_age_column(age: npt.ArrayLike) -> IntArray:
    """The age-specific column (40, 50, ... 90) of each age: its decade, ages outside 40-90 at 40 or 90."""
    cols = _adj().columns
    idx = np.clip(np.searchsorted(cols, np.asarray(age, dtype=np.float64), side="right") - 1, 0, len(cols) - 1)
    out: IntArray = cols[idx]
    return out


def gc_percent(outcome: Outcome, band: npt.ArrayLike, age: npt.ArrayLike, *, age_specific: bool = False) -> IntArray:
    """Percentage change of ``outcome`` for each dose band (0 where NOT_APPLIED)."""
    a = _adj()
    b = np.asarray(band, dtype=np.int64)
    if age_specific:
        col = np.searchsorted(a.columns, gc_age_column(age)) + 1
    else:
        col = np.zeros(np.shape(b), dtype=np.int64)
    out: IntArray = a.pct[outcome][b, col]
    return out


def ls_fn_offset(fn_t: npt.ArrayLike, ls_t: npt.ArrayLike) -> IntArray:
    """round(FN T - LS T) half away from zero, in exact tenths of the one-decimal T-scores (0 where missing)."""
    fn10 = np.rint(round_half_away(fn_t, 1) * 10.0)
    ls10 = np.rint(round_half_away(ls_t, 1) * 10.0)
    diff = fn10 - ls10  # exact whole tenths
    off = np.sign(diff) * np.floor((np.abs(diff) + 5.0) / 10.0)
    out: IntArray = np.where(np.isnan(diff), 0, off).astype(np.int64)
    return out


@dataclass(frozen=True)
class FraxAdjusted:
    """Per-row adjusted FRAX and the adjustments that made it."""

    mof: FloatArray  # adjusted MOF %, one decimal
    hip: FloatArray  # adjusted hip %, one decimal
    gc_band: IntArray
    mof_gc_percent: IntArray
    hip_gc_percent: IntArray
    ls_offset: IntArray
    ls_applied: BoolArray


def adjust(
    *,
    mof: npt.ArrayLike,
    hip: npt.ArrayLike,
    age: npt.ArrayLike,
    gc_ticked: npt.ArrayLike = False,
    gc_mg_per_day: npt.ArrayLike = np.nan,
    fn_t: npt.ArrayLike = np.nan,
    ls_t: npt.ArrayLike = np.nan,
    with_bmd: npt.ArrayLike = True,
    age_specific: bool = False,
) -> FraxAdjusted:
    """Adjust entered FRAX values (%) for glucocorticoid dose and LS/FN discordance; one rounding at the end.

    The dose adjustment applies only where ``gc_ticked`` (FRAX computed with glucocorticoids = yes) and the
    dose is known; the LS/FN offset only where both T-scores are known and ``with_bmd`` (FRAX included FN BMD).
    """
    a = _adj()
    mof_a = np.atleast_1d(np.asarray(mof, dtype=np.float64))
    hip_a = np.asarray(hip, dtype=np.float64)
    ticked = np.asarray(gc_ticked, dtype=bool)
    dose = np.asarray(gc_mg_per_day, dtype=np.float64)
    band = np.where(ticked, gc_dose_band(dose), GC_NOT_APPLIED)
    band = np.broadcast_to(band, np.broadcast_shapes(mof_a.shape, band.shape, np.shape(age))).astype(np.int64)
    mof_pct = gc_percent("mof", band, age, age_specific=age_specific)
    hip_pct = gc_percent("hip", band, age, age_specific=age_specific)
    has_t = ~np.isnan(np.asarray(fn_t, dtype=np.float64)) & ~np.isnan(np.asarray(ls_t, dtype=np.float64))
    ls_applied = np.broadcast_to(has_t & np.asarray(with_bmd, dtype=bool), band.shape)
    offset = np.where(ls_applied, ls_fn_offset(fn_t, ls_t), 0).astype(np.int64)
    mof_adj = mof_a * (1.0 + mof_pct / 100.0) * (1.0 + a.ls_fraction * offset)
    hip_adj = hip_a * (1.0 + hip_pct / 100.0)
    return FraxAdjusted(
        mof=round_half_away(mof_adj, a.decimals),
        hip=round_half_away(np.broadcast_to(hip_adj, band.shape), a.decimals),
        gc_band=band,
        mof_gc_percent=mof_pct,
        hip_gc_percent=hip_pct,
        ls_offset=offset,
        ls_applied=np.asarray(ls_applied, dtype=bool),
    )


_OPS: Final[dict[str, Callable[[Any, Any], Any]]] = {">=": operator.ge, ">": operator.gt}


def _tenths(x: npt.ArrayLike) -> FloatArray:
    out: FloatArray = np.rint(round_half_away(x, 1) * 10.0)
    return out


def threshold_met(fact: str, *, mof: npt.ArrayLike, hip: npt.ArrayLike) -> BoolArray:
    """Whether the FRAX criterion of a threshold fact in ``frax-thresholds`` is met (values at one decimal)."""
    spec = load(THR_ID).value(fact)
    values = {"mof": _tenths(mof), "hip": _tenths(hip)}
    met = np.zeros(np.broadcast_shapes(np.shape(mof), np.shape(hip)), dtype=bool)
    for rule in spec["any_of"]:
        met = met | _OPS[rule["op"]](values[rule["outcome"]], _tenths(float(rule["limit"])))
    out: BoolArray = np.asarray(met, dtype=bool)
    return out


def low_bone_mass(lowest_t: npt.ArrayLike) -> BoolArray:
    """BHOF 2022 low bone mass: -2.5 < T < -1.0 on the lowest T-score (one decimal); NaN -> False."""
    band = load(THR_ID).value("bhof_2022_low_bone_mass")
    t10 = _tenths(lowest_t)
    out: BoolArray = (t10 > _tenths(float(band["above"]))) & (t10 < _tenths(float(band["below"])))
    return out


# ---------------------------------------------------------------------------------------------------------
# Single patient


class ThresholdOutcome(BaseModel):
    """One guideline's FRAX threshold applied to the adjusted values (``met`` None: cannot be applied)."""

    model_config = ConfigDict(frozen=True)
    guideline: str
    rule_id: str
    met: bool | None
    text: str
    status: Status
    warnings: tuple[str, ...] = ()
    citations: tuple[Citation, ...] = ()


def _country_code(country: str | None) -> str | None:
    if not country:
        return None
    name = country.strip().casefold()
    aliases: dict[str, list[str]] = load(THR_ID).value("country_aliases")
    for code, names in aliases.items():
        for alias in sorted(names, key=len, reverse=True):
            a = alias.casefold()
            if name == a or name.startswith((a + " ", a + "(", a + ",", a + "-")):
                return code
    return None


def _limits_text(spec: dict[str, Any]) -> str:
    names = {"mof": "MOF", "hip": "hip"}
    return " or ".join(f"{names[r['outcome']]} {r['op']} {r['limit']:g}%" for r in spec["any_of"])


def frax_thresholds(
    mof: float, hip: float, *, lowest_t: float | None = None, country: str | None = None
) -> list[ThresholdOutcome]:
    """Each guideline's FRAX threshold against adjusted FRAX values (%), with its status. FRAX only."""
    kf = load(THR_ID)
    assumed: dict[str, str | None] = kf.value("country_model_assumed")
    code = _country_code(country)
    out: list[ThresholdOutcome] = []
    for fact_name in ("bhof_2022_frax", "es_2019_frax", "aace_2020_frax_very_high"):
        fact = kf.fact(fact_name)
        spec = fact.value
        status = lowest([fact.status])
        met_frax = bool(threshold_met(fact_name, mof=mof, hip=hip)[()])
        limits = _limits_text(spec)
        warns: list[str] = []
        cits = [cite(THR_ID, fact.source)]
        met: bool | None = met_frax
        meaning = str(spec["meaning"])
        text = f"{meaning[:1].upper()}{meaning[1:]}: {limits} -> {'met' if met_frax else 'not met'}"
        if spec.get("requires") == "low_bone_mass":
            band_fact = kf.fact("bhof_2022_low_bone_mass")
            status = lowest([status, band_fact.status])
            if lowest_t is None:
                met = None if met_frax else False
                text += "; low bone mass cannot be confirmed (no T-score recorded)"
            else:
                lbm = bool(low_bone_mass(lowest_t)[()])
                met = met_frax and lbm
                t_txt = f"{float(round_half_away(lowest_t, 1)):.1f}"
                text += f"; lowest T {t_txt} {'is' if lbm else 'is not'} low bone mass (-2.5 < T < -1.0)"
        want = assumed.get(spec["guideline"])
        if want and code != want:
            warns.append(
                f"{spec['guideline']} thresholds are set for the {want} FRAX model; this FRAX used "
                f"{country or 'an unrecorded country model'}."
            )
        w = status_warning(status, f"{spec['guideline']} FRAX threshold ({spec['rule_id']})")
        if w:
            warns.append(w)
        out.append(
            ThresholdOutcome(
                guideline=spec["guideline"],
                rule_id=spec["rule_id"],
                met=met,
                text=text + ".",
                status=status,
                warnings=tuple(warns),
                citations=tuple(cits),
            )
        )
    iof = kf.fact("iof_2020_very_high_multiplier")
    out.append(
        ThresholdOutcome(
            guideline="iof-esceo-2020",
            rule_id="IOF-VH-FRAX",
            met=None,
            text=f"Very high if FRAX (with BMD) exceeds {iof.value:g} x the intervention threshold: not available "
            "- no intervention-threshold table is available to OsteoCare.",
            status=lowest([iof.status]),
            warnings=(
                "IOF/ESCEO 2020 very-high FRAX threshold not applied: the intervention-threshold table is not "
                "available (status: unverified).",
            ),
            citations=(cite(THR_ID, "IOF2020"),),
        )
    )
    nogg = kf.fact("nogg_2022_threshold_table")
    out.append(
        ThresholdOutcome(
            guideline="nogg-2022",
            rule_id="NOGG-4.1",
            met=None,
            text="NOGG 2022 category: not available; enter the NOGG category from the NOGG tool.",
            status=lowest([nogg.status]),
            warnings=(
                "NOGG 2022 thresholds not available to OsteoCare: enter the NOGG category from the NOGG "
                "tool (status: unverified).",
            ),
            citations=(cite(THR_ID, "NOGG2022"),),
        )
    )
    return out


def thresholds_for(result: CalculatorResult, *, lowest_t: float | None = None) -> list[ThresholdOutcome]:
    """Guideline FRAX thresholds for an :func:`assess_frax` result; refuses anything else (e.g. QFracture)."""
    if result.calculator != CALCULATOR or not result.applicable:
        raise InputError(
            "calculator",
            result.calculator,
            f"an applicable '{CALCULATOR}' result: FRAX intervention thresholds "
            "are never applied to QFracture or other calculators",
        )
    mof = result.values["mof_adjusted"].value
    hip = result.values["hip_adjusted"].value
    assert isinstance(mof, float) and isinstance(hip, float)
    return frax_thresholds(mof, hip, lowest_t=lowest_t, country=result.details.get("country_model"))


def _t(deciding: dict[str, DecidingT], site: str) -> float | None:
    return deciding[site].t if site in deciding else None


def _lowest_t(deciding: dict[str, DecidingT]) -> float | None:
    ts = [_t(deciding, s) for s in ("femoral_neck", "total_hip", "lumbar_spine")]
    known = [t for t in ts if t is not None]
    return min(known) if known else None


def assess_frax(record: PatientRecord, *, age_specific: bool = False,
                bone_density: CalculatorResult | None = None) -> CalculatorResult:
    """The entered FRAX result with every published adjustment listed, and each guideline's threshold.

    The T-scores (LS/FN offset, BHOF's low bone mass) are those that decide in ``bone_density`` (the assessment's
    bone-density result; computed from the record's latest measurements when not given): one T-score per site.
    """
    missing = [f for f in ("frax_mof_percent", "frax_hip_percent") if getattr(record, f) is None]
    if missing:
        return not_applicable(
            CALCULATOR,
            NAME,
            part("no FRAX result entered ({fields}); OsteoCare never computes FRAX - enter MOF % and hip % from an "
                 "official FRAX tool", {"fields": "en"}, fields=", ".join(missing)),
        )
    assert record.frax_mof_percent is not None and record.frax_hip_percent is not None
    kadj = load(ADJ_ID)
    mof_in, hip_in = record.frax_mof_percent, record.frax_hip_percent
    deciding = record_deciding_t_scores(record, bone_density)
    fn, ls = _t(deciding, "femoral_neck"), _t(deciding, "lumbar_spine")
    ticked = record.frax_glucocorticoids_ticked is True
    dose = record.glucocorticoid_mg_per_day
    with_bmd = record.frax_with_bmd is not False
    out = adjust(
        mof=mof_in,
        hip=hip_in,
        age=record.age,
        gc_ticked=ticked,
        gc_mg_per_day=np.nan if dose is None else dose,
        fn_t=np.nan if fn is None else fn,
        ls_t=np.nan if ls is None else ls,
        with_bmd=with_bmd,
        age_specific=age_specific,
    )
    mof_adj, hip_adj = float(out.mof[0]), float(out.hip[0])
    res = CalculatorResult(calculator=CALCULATOR, name=NAME)
    country = record.frax_country
    res.values.update(
        mof_entered=Quantity(value=mof_in, unit="%"),
        hip_entered=Quantity(value=hip_in, unit="%"),
        mof_adjusted=Quantity(value=mof_adj, unit="%"),
        hip_adjusted=Quantity(value=hip_adj, unit="%"),
    )
    res.details["country_model"] = country
    res.details["with_bmd"] = record.frax_with_bmd
    bmd_txt = {True: "with BMD", False: "without BMD", None: "BMD use not recorded"}[record.frax_with_bmd]
    res.rules_fired.append(
        RuleFired(
            rule_id="FRAX-ENTERED",
            parts=(part("FRAX entered from an official FRAX tool: country model {country}, {bmd}; 10-year MOF {mof}%, "
                        "hip {hip}%.", {"country": "en" if country else "term", "bmd": "term", "mof": "num",
                                        "hip": "num"},
                        country=country or "NOT RECORDED", bmd=bmd_txt, mof=num(mof_in, "g"), hip=num(hip_in, "g")),
                   part("OsteoCare does not compute FRAX.")),
        )
    )
    code = _country_code(country)
    if country is None:
        res.warnings.append("FRAX country model not recorded: record the country model used with every FRAX result.")
    if code == "VN":
        res.warnings.append(load(THR_ID).fact("vietnam_country_model").note or "")
    elif code == "TH":
        res.warnings.append(
            "Thailand FRAX model: if used as a surrogate for a Vietnamese patient, note that no "
            "Vietnam country model is confirmed."
        )

    adjustments: list[dict[str, Any]] = []
    band = int(out.gc_band[0])
    if band != GC_NOT_APPLIED:
        mode = "age-specific" if age_specific else "all ages"
        mp, hp = int(out.mof_gc_percent[0]), int(out.hip_gc_percent[0])
        res.rules_fired.append(
            RuleFired(
                rule_id="FRAX-ADJ-GC-DOSE",
                parts=(part("Glucocorticoid dose {dose} mg/day prednisolone equivalent = {band} dose (age-specific "
                            "mode, {age_column} column): MOF {mof}%, hip {hip}%." if age_specific else
                            "Glucocorticoid dose {dose} mg/day prednisolone equivalent = {band} dose (all ages mode, "
                            "all-ages column): MOF {mof}%, hip {hip}%.",
                            {"dose": "num", "band": "term", "age_column": "num", "mof": "num", "hip": "num"},
                            dose=num(dose, "g"), band=GC_BAND_NAMES[band], mof=num(mp, "+d"), hip=num(hp, "+d"),
                            **({"age_column": num(int(gc_age_column(record.age)))} if age_specific else {})),),
                status=lowest([kadj.fact("gc_percent_change").status]),
                citations=(cite(ADJ_ID, "Kanis2011"),),
            )
        )
        adjustments.append(
            {"id": "gc_dose", "band": GC_BAND_NAMES[band], "mode": mode, "mof_percent": mp, "hip_percent": hp}
        )
    elif ticked and dose is None:
        res.warnings.append(
            "FRAX computed with glucocorticoids = yes but no daily dose recorded: the "
            "glucocorticoid dose adjustment (Kanis 2011) was not applied."
        )
    elif not ticked and dose is not None and dose > 0:
        why = (
            "without glucocorticoids"
            if record.frax_glucocorticoids_ticked is False
            else ("with glucocorticoids not recorded")
        )
        res.warnings.append(
            f"FRAX entered {why}: the dose adjustment applies only to a FRAX computed with "
            "glucocorticoids = yes, so it was not applied."
        )
    if bool(out.ls_applied[0]):
        off = int(out.ls_offset[0])
        assert fn is not None and ls is not None
        fn_r, ls_r = float(round_half_away(fn, 1)), float(round_half_away(ls, 1))
        diff = float(round_half_away(fn_r - ls_r, 1))
        factor = 1 + kadj.value("ls_offset_fraction_per_t_unit") * off
        res.rules_fired.append(
            RuleFired(
                rule_id="FRAX-ADJ-LS-FN",
                parts=(nums("FN T {fn} - LS T {ls} = {difference}, offset {offset} (rounded half away from zero): "
                            "MOF x {factor}; hip unchanged.", fn=num(fn_r, ".1f"), ls=num(ls_r, ".1f"),
                            difference=num(diff, ".1f"), offset=num(off, "+d"), factor=num(factor, ".1f")),),
                status=lowest([kadj.fact("ls_offset_fraction_per_t_unit").status]),
                citations=(cite(ADJ_ID, "Leslie2011"),),
            )
        )
        adjustments.append({"id": "ls_fn_offset", "offset": off, "mof_factor": float(round_half_away(factor, 1))})
        if record.frax_with_bmd is None:
            res.warnings.append(
                "The LS/FN offset assumes the FRAX was computed with femoral neck BMD (frax_with_bmd not recorded)."
            )
    elif fn is not None and ls is not None and not with_bmd:
        res.warnings.append("LS/FN offset not applied: the FRAX was computed without femoral neck BMD.")
    if adjustments:
        res.rules_fired.append(
            RuleFired(
                rule_id="FRAX-ADJ-COMBINE",
                parts=(nums("Adjustments applied as multipliers to the entered values and rounded once to one "
                            "decimal: MOF {mof_in}% -> {mof}%, hip {hip_in}% -> {hip}%.", mof_in=num(mof_in, "g"),
                            mof=num(mof_adj, ".1f"), hip_in=num(hip_in, "g"), hip=num(hip_adj, ".1f")),),
            )
        )
    res.details["adjustments"] = adjustments
    thresholds = frax_thresholds(mof_adj, hip_adj, lowest_t=_lowest_t(deciding), country=country)
    res.details["thresholds"] = [t.model_dump() for t in thresholds]
    for t in thresholds:
        for w in t.warnings:
            if w not in res.warnings:
                res.warnings.append(w)
    res.details["note"] = "FRAX thresholds apply to FRAX only; never to QFracture output."
    res.citations = [cite(ADJ_ID, "Kanis2011"), cite(ADJ_ID, "Leslie2011")]
    return res.finish()
