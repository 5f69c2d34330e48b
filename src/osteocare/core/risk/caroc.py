"""CAROC 2010 (Canadian Association of Radiologists and Osteoporosis Canada) risk category, on arrays.

Rules and evaluation order (``knowledge/calculators/caroc.yaml``; risk-calculators.md 4):

1. CAROC-SCOPE: age >= 50, treatment-naive (otherwise out of scope).
2. CAROC-HIGHFX: fragility fracture of hip or vertebra, or more than one fragility fracture -> high, stop.
3. CAROC-BASAL: basal category from the table by sex, age row and femoral neck T-score (SECONDARY table);
   "undefined" if the FN T-score is missing. Age row = the 5-year band the age falls in (CONVENTION).
4. CAROC-LSTH: basal low or undefined and T <= -2.5 at lumbar spine or total hip -> moderate.
5. CAROC-MOD2: fragility fracture after 40 and prolonged glucocorticoids -> high; else CAROC-MOD1: either
   factor -> one category up ("undefined" stays undefined).

T-scores are rounded half away from zero to one decimal and compared in integer tenths, so a boundary such
as -2.5 is never on the wrong side because of binary floating point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from numba import njit

from ..densitometry import ISCD_ID, DecidingT, record_deciding_t_scores
from ..knowledge import load
from ..numeric import round_half_away
from ..parts import TextPart, num, nums, part
from ..records import PatientRecord
from ..results import CalculatorResult, Quantity, RuleFired, cite, not_applicable
from ..status import Status, lowest

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

CALCULATOR: Final = "caroc-2010"
NAME: Final = "CAROC 2010 fracture risk category"
KNOWLEDGE_ID: Final = "caroc"

#: Category codes of the array kernel (ordered by risk; OUT_OF_SCOPE and UNDEFINED are not risks).
OUT_OF_SCOPE, UNDEFINED, LOW, MODERATE, HIGH = -1, 0, 1, 2, 3
CATEGORY_NAMES: Final[dict[int, str]] = {
    OUT_OF_SCOPE: "out_of_scope",
    UNDEFINED: "undefined",
    LOW: "low",
    MODERATE: "moderate",
    HIGH: "high",
}


@dataclass(frozen=True)
class _Table:
    rows: IntArray  # age rows, ascending
    low_cut: IntArray  # [sex (0 female, 1 male), row] in tenths of a T-score
    high_cut: IntArray
    min_age: int
    lsth: int  # tenths
    gc_mg: float
    gc_months: float
    decimals: int


@cache
def _table() -> _Table:
    kf = load(KNOWLEDGE_ID)
    raw = kf.value("basal_table")
    rows = sorted(int(r) for r in raw["female"])
    low = np.zeros((2, len(rows)), dtype=np.int64)
    high = np.zeros((2, len(rows)), dtype=np.int64)
    for s, sex in enumerate(("female", "male")):
        by_row = {int(k): v for k, v in raw[sex].items()}
        for i, r in enumerate(rows):
            first, second = by_row[r]
            low[s, i] = _tenths_scalar(first)
            high[s, i] = _tenths_scalar(second)
    return _Table(
        rows=np.array(rows, dtype=np.int64),
        low_cut=low,
        high_cut=high,
        min_age=int(kf.value("scope_min_age")),
        lsth=_tenths_scalar(kf.value("lsth_t_at_or_below")),
        gc_mg=float(kf.value("mod1_glucocorticoid_mg_per_day")),
        gc_months=float(kf.value("mod1_glucocorticoid_months")),
        decimals=int(kf.value("t_score_decimals")),
    )


def _tenths_scalar(x: float) -> int:
    return int(np.rint(float(round_half_away(x, 1)) * 10))


def _tenths(x: npt.ArrayLike, decimals: int) -> FloatArray:
    """T-scores rounded (half away from zero) to the reported precision, in tenths; NaN stays NaN."""
    out = np.asarray(round_half_away(x, decimals))
    if out.ndim == 0:
        return np.asarray(np.rint(out * 10.0))
    out *= 10.0
    np.rint(out, out=out)
    return out


@dataclass(frozen=True)
class CarocArrays:
    """Per-row CAROC output: category and basal codes, the age row used and which rules fired."""

    category: IntArray
    basal: IntArray
    age_row: IntArray  # 0 where out of scope
    highfx: BoolArray
    lsth: BoolArray
    mod2: BoolArray
    mod1: BoolArray


def prolonged_glucocorticoids(mg_per_day: npt.ArrayLike, months: npt.ArrayLike) -> BoolArray:
    """CAROC-MOD1's glucocorticoid factor: >= 7.5 mg/day prednisone equivalent for >= 3 months (NaN -> no)."""
    t = _table()
    dose = round_half_away(mg_per_day, 9)  # strip binary noise only
    dur = round_half_away(months, 9)
    out: BoolArray = (dose >= t.gc_mg) & (dur >= t.gc_months)
    return out


def classify(
    *,
    female: npt.ArrayLike,
    age: npt.ArrayLike,
    fn_t: npt.ArrayLike,
    ls_t: npt.ArrayLike = np.nan,
    th_t: npt.ArrayLike = np.nan,
    fracture_after_40: npt.ArrayLike = False,
    hip_or_vertebral_fracture: npt.ArrayLike = False,
    multiple_fractures: npt.ArrayLike = False,
    glucocorticoids: npt.ArrayLike = False,
    on_treatment: npt.ArrayLike = False,
) -> CarocArrays:
    """CAROC category for every row (missing T-scores as NaN). ``glucocorticoids`` = prolonged use as in
    :func:`prolonged_glucocorticoids`.

    The inputs broadcast together (at least one row); the rules run in one compiled pass over the rows
    (:func:`_kernel`), with the table and thresholds of the knowledge file.
    """
    t = _table()
    floats = [np.asarray(x, dtype=np.float64) for x in (age, fn_t, ls_t, th_t)]
    flags = [
        np.asarray(x, dtype=bool)
        for x in (
            female,
            fracture_after_40,
            hip_or_vertebral_fracture,
            multiple_fractures,
            glucocorticoids,
            on_treatment,
        )
    ]
    shape = np.broadcast_shapes((1,), *(a.shape for a in (*floats, *flags)))
    n = int(np.prod(shape))
    age_a = _column(floats[0], shape, n)
    fn10, ls10, th10 = (_column(_tenths(a, t.decimals), shape, n) for a in floats[1:])
    fem, fx40, hipvert, multi, gc, treated = (_column(a, shape, n) for a in flags)
    category = np.empty(n, dtype=np.int64)
    basal = np.empty(n, dtype=np.int64)
    age_row = np.empty(n, dtype=np.int64)
    fired = np.empty((4, n), dtype=np.bool_)  # highfx, lsth, mod2, mod1
    _kernel(
        age_a, fn10, ls10, th10, fem, fx40, hipvert, multi, gc, treated,
        t.rows, t.low_cut, t.high_cut, float(t.min_age), float(t.lsth), category, basal, age_row, fired,
    )
    return CarocArrays(
        category=category.reshape(shape),
        basal=basal.reshape(shape),
        age_row=age_row.reshape(shape),
        highfx=fired[0].reshape(shape),
        lsth=fired[1].reshape(shape),
        mod2=fired[2].reshape(shape),
        mod1=fired[3].reshape(shape),
    )


def _column(a: npt.NDArray[Any], shape: tuple[int, ...], n: int) -> npt.NDArray[Any]:
    """``a`` as the kernel reads it: one contiguous row per value, or a single value for every row."""
    if a.size == 1:
        return np.ascontiguousarray(a.reshape(1))
    return np.ascontiguousarray(np.broadcast_to(a, shape).reshape(n))


@njit(cache=True, nogil=True)
def _kernel(
    age: Any, fn10: Any, ls10: Any, th10: Any, fem: Any, fx40: Any, hipvert: Any, multi: Any, gc: Any,
    treated: Any, rows: Any, low_cut: Any, high_cut: Any, min_age: float, lsth_cut: float,
    category: Any, basal: Any, age_row: Any, fired: Any,
) -> None:  # pragma: no cover - compiled; exercised by every CAROC test
    """The rules of the module docstring for each row ``i`` (an input of length 1 holds for every row).

    T-scores come in tenths (NaN = missing; every comparison with NaN is false). Age row = the last table
    row <= age, clipped to the table (NaN counts as past the last row, as numpy's ``searchsorted`` sorts
    it). The table's rows are whole years, so that row is the same for ``age`` and ``floor(age)``: a
    lookup by whole year replaces the search.
    """
    n = category.shape[0]
    n_rows = rows.shape[0]
    first, last = rows[0], rows[n_rows - 1]
    row_of = np.empty(last - first + 1, dtype=np.int64)  # whole year - first -> table row
    r = 0
    for y in range(first, last + 1):
        while r + 1 < n_rows and rows[r + 1] <= y:
            r += 1
        row_of[y - first] = r
    s_age, s_fn, s_ls, s_th = age.shape[0] > 1, fn10.shape[0] > 1, ls10.shape[0] > 1, th10.shape[0] > 1
    s_fem, s_fx, s_hv, s_mu = fem.shape[0] > 1, fx40.shape[0] > 1, hipvert.shape[0] > 1, multi.shape[0] > 1
    s_gc, s_tr = gc.shape[0] > 1, treated.shape[0] > 1
    for i in range(n):
        ag = age[i * s_age]
        fn = fn10[i * s_fn]
        in_scope = (ag >= min_age) & (not treated[i * s_tr])
        if ag >= last or np.isnan(ag):
            r = n_rows - 1
        elif ag < first:
            r = 0
        else:
            r = row_of[int(np.floor(ag)) - first]
        sx = 0 if fem[i * s_fem] else 1
        b = MODERATE
        if fn < high_cut[sx, r]:
            b = HIGH
        if fn > low_cut[sx, r]:
            b = LOW
        if np.isnan(fn):
            b = UNDEFINED
        highfx = in_scope & (hipvert[i * s_hv] | multi[i * s_mu])
        rest = in_scope & (not highfx)
        t_low = (ls10[i * s_ls] <= lsth_cut) | (th10[i * s_th] <= lsth_cut)
        lsth = rest & ((b == LOW) | (b == UNDEFINED)) & t_low
        f40 = fx40[i * s_fx]
        g = gc[i * s_gc]
        mod2 = rest & f40 & g
        mod1 = rest & (not mod2) & (f40 | g)
        cat = MODERATE if lsth else b
        if mod1 and cat != UNDEFINED and cat < HIGH:
            cat += 1
        if mod2 | highfx:
            cat = HIGH
        category[i] = cat if in_scope else OUT_OF_SCOPE
        basal[i] = b if in_scope else OUT_OF_SCOPE
        age_row[i] = rows[r] if in_scope else 0
        fired[0, i] = highfx
        fired[1, i] = lsth
        fired[2, i] = mod2
        fired[3, i] = mod1


# ---------------------------------------------------------------------------------------------------------
# Single patient


#: Words of a recorded reference that name a male reference (CAROC uses the white-women one for men too).
_MALE_WORDS: Final = frozenset({"male", "males", "man", "men"})


def caroc_reference_ok(entry: DecidingT) -> bool:
    """Whether a deciding femoral neck T-score is one CAROC may use (CAROC-TSCORE: NHANES III white women, for
    women and men).

    Computed: only against ISCD's uniform hip reference, which is that reference (NHANES III white female values
    for women and men of all ethnicities, ``nhanes3-hip``). Reported by the densitometer: its own hip reference
    when none is recorded, or a recorded one naming NHANES or the manufacturer and no male reference (the
    densitometer's NHANES-referenced hip T-score, bone-density.md 1); any other recorded reference is not.
    """
    if entry.reference != "densitometer_report":
        return entry.reference == str(load(ISCD_ID).value("uniform_hip_reference"))
    if not entry.reference_recorded:
        return True
    words = re.findall(r"[a-z]+", entry.reference_label.casefold())
    return not _MALE_WORDS & set(words) and any(w in ("nhanes", "manufacturer") for w in words)


def _status(fact: str) -> Status:
    return lowest([load(KNOWLEDGE_ID).fact(fact).status])


def _rule(rule_id: str, text: str | TextPart, fact: str, source: str = "CMAJ2010") -> RuleFired:
    """A rule with its text, or its text as one part (for translation)."""
    words = {"text": text} if isinstance(text, str) else {"parts": (text,)}
    return RuleFired(rule_id=rule_id, status=_status(fact), citations=(cite(KNOWLEDGE_ID, source),), **words)


def _fmt(x: float) -> str:
    return f"{x:+.1f}".replace("+", "+" if x > 0 else "")


def assess_caroc(record: PatientRecord, *, bone_density: CalculatorResult | None = None) -> CalculatorResult:
    """CAROC 2010 category for one treatment-naive patient aged 50 or over, with the rules that fired.

    The T-scores are those that decide in ``bone_density`` (the assessment's bone-density result; computed from
    the record's latest measurements when not given), so CAROC reads the same T-score per site as the WHO
    category. A femoral neck T-score against a reference other than CAROC's is not used (CAROC-TSCORE).
    """
    kf = load(KNOWLEDGE_ID)
    t = _table()
    if record.age < t.min_age:
        return not_applicable(
            CALCULATOR, NAME, nums("age {age} is below {min_age}: CAROC applies from age {min_age} (CAROC-SCOPE)",
                                   age=record.age, min_age=t.min_age)
        )
    if record.medications:
        drugs = ", ".join(sorted({m.drug for m in record.medications}))
        return not_applicable(
            CALCULATOR,
            NAME,
            part("CAROC applies to treatment-naive patients only and cannot show risk reduction on therapy; "
                 "medications recorded: {drugs} (CAROC-SCOPE)", {"drugs": "en"}, drugs=drugs),
        )
    deciding = record_deciding_t_scores(record, bone_density)
    fn_entry = deciding.get("femoral_neck")
    fn_refused = fn_entry is not None and not caroc_reference_ok(fn_entry)
    fn = None if fn_entry is None or fn_refused else fn_entry.t
    ls = deciding["lumbar_spine"].t if "lumbar_spine" in deciding else None
    th = deciding["total_hip"].t if "total_hip" in deciding else None
    fragile = [f for f in record.fractures if f.fragility]
    sites = set(kf.value("high_fracture_sites"))
    hipvert = [f.site for f in fragile if f.site in sites]
    n_fx = max(len(fragile), 1 if record.prior_fracture else 0)
    multi = n_fx > int(kf.value("high_fracture_count_above"))
    fx40 = n_fx > 0
    dose = record.glucocorticoid_mg_per_day
    months = record.glucocorticoid_months
    gc = bool(prolonged_glucocorticoids(np.nan if dose is None else dose, np.nan if months is None else months))
    out = classify(
        female=record.sex == "female",
        age=record.age,
        fn_t=np.nan if fn is None else fn,
        ls_t=np.nan if ls is None else ls,
        th_t=np.nan if th is None else th,
        fracture_after_40=fx40,
        hip_or_vertebral_fracture=bool(hipvert),
        multiple_fractures=multi,
        glucocorticoids=gc,
    )
    cat = CATEGORY_NAMES[int(out.category[0])]
    basal = CATEGORY_NAMES[int(out.basal[0])]
    row = int(out.age_row[0])
    res = CalculatorResult(calculator=CALCULATOR, name=NAME, category=cat)
    res.rules_fired.append(
        _rule(
            "CAROC-SCOPE",
            nums("Age {age} >= {min_age} and no osteoporosis medication recorded (treatment-naive).",
                 age=num(record.age), min_age=num(t.min_age)),
            "treatment_naive_only",
        )
    )
    warnings: list[str] = []
    if bool(out.highfx[0]):
        why = (
            f"fragility fracture of the {' and '.join(sorted(set(hipvert)))}"
            if hipvert
            else f"{n_fx} fragility fractures"
        )
        res.rules_fired.append(_rule("CAROC-HIGHFX", f"{why[0].upper()}{why[1:]} -> high.", "high_fracture_sites"))
    else:
        if fn_refused:
            assert fn_entry is not None
            why = (f"The femoral neck T-score ({_fmt(fn_entry.rounded)}) is against {fn_entry.reference_label}, not "
                   "the NHANES III white-women reference CAROC requires for women and men: it is not used.")
            res.rules_fired.append(_rule("CAROC-TSCORE", why, "t_score_reference"))
            res.rules_fired.append(
                _rule("CAROC-BASAL", "No femoral neck T-score against that reference: basal risk undefined.",
                      "t_score_reference")
            )
            warnings.append(f"CAROC: {why}")
        elif fn is None:
            res.rules_fired.append(
                _rule("CAROC-BASAL", "No femoral neck T-score: basal risk undefined.", "t_score_reference")
            )
        else:
            sex_i = 0 if record.sex == "female" else 1
            i = int(np.searchsorted(t.rows, row))
            first, second = t.low_cut[sex_i, i] / 10, t.high_cut[sex_i, i] / 10
            fn_r = float(round_half_away(fn, t.decimals))
            band = f"{row}-{int(t.rows[i + 1]) - 1}" if i < len(t.rows) - 1 else f"{row}+"
            res.rules_fired.append(
                _rule(
                    "CAROC-TSCORE",
                    "The femoral neck T-score must use the NHANES III white-women reference, for women and men.",
                    "t_score_reference",
                )
            )
            res.rules_fired.append(
                _rule(
                    "CAROC-BASAL",
                    part(f"{record.sex.capitalize()}, age row {{row}} (5-year band {{band}}), femoral neck T {{t}}: "
                         "low if T > {first}, moderate if {second} <= T <= {first}, high if T < {second} -> basal "
                         "{basal}.", {"row": "num", "t": "num", "first": "num", "second": "num",
                                      "basal": "term"},
                         row=num(row), band=band, t=_fmt(fn_r), first=_fmt(first), second=_fmt(second), basal=basal),
                    "basal_table",
                    "BoneFit",
                )
            )
        if bool(out.lsth[0]):
            where = [
                f"{name} T {_fmt(float(round_half_away(v, 1)))}"
                for name, v in (("lumbar spine", ls), ("total hip", th))
                if v is not None and _tenths_scalar(v) <= t.lsth
            ]
            res.rules_fired.append(
                _rule(
                    "CAROC-LSTH",
                    f"Basal risk {basal} and {' and '.join(where)} <= {_fmt(t.lsth / 10)} -> moderate.",
                    "lsth_t_at_or_below",
                )
            )
        factors = []
        if fx40:
            factors.append("a fragility fracture after age 40")
        if gc:
            factors.append(f"glucocorticoids >= {t.gc_mg:g} mg/day for >= {t.gc_months:g} months")
        if bool(out.mod2[0]):
            res.rules_fired.append(_rule("CAROC-MOD2", f"Both {factors[0]} and {factors[1]} -> high.", "mod2_both_factors"))
        elif bool(out.mod1[0]):
            if basal == "undefined" and not bool(out.lsth[0]):
                text = f"{factors[0].capitalize()}: one category up, but an undefined category stays undefined."
            else:
                text = f"{factors[0].capitalize()} -> one category up, to {cat}."
            res.rules_fired.append(_rule("CAROC-MOD1", text, "mod1_fracture_after_age"))
        if fx40:
            warnings.append(
                "CAROC counts a prior fragility fracture as one after age 40 (the record does not carry the age "
                "at fracture); confirm it occurred after 40."
            )
    if not gc and (record.corticosteroids or (dose is not None and dose >= t.gc_mg)) and months is None:
        warnings.append(
            "Glucocorticoid duration (glucocorticoid_months) or dose not recorded: the CAROC glucocorticoid "
            f"factor (>= {t.gc_mg:g} mg/day for >= {t.gc_months:g} months in the prior year) was not applied."
        )
    if cat == "undefined":
        warnings.append("CAROC category undefined: enter the femoral neck T-score (NHANES III white-women reference).")
    res.warnings.extend(warnings)
    res.values["age_row"] = Quantity(value=row, unit="years")
    if fn is not None and fn_entry is not None:
        res.values["femoral_neck_t_score"] = Quantity(value=float(round_half_away(fn, 1)), unit="{T-score}")
        res.values["femoral_neck_t_score_reference"] = Quantity(value=fn_entry.reference_label, unit="1")
    res.details.update(
        basal_category=basal,
        age_row=row,
        evaluation_order=list(kf.value("evaluation_order")),
        inputs={
            "fragility_fracture_after_40": fx40,
            "hip_or_vertebral_fracture": bool(hipvert),
            "multiple_fractures": multi,
            "prolonged_glucocorticoids": gc,
            "lumbar_spine_t_score": ls,
            "total_hip_t_score": th,
        },
    )
    res.citations = [cite(KNOWLEDGE_ID, "CMAJ2010"), cite(KNOWLEDGE_ID, "Leslie2011")]
    if any(r.rule_id == "CAROC-BASAL" and r.status != "verified" for r in res.rules_fired):
        res.citations.append(cite(KNOWLEDGE_ID, "BoneFit"))
    return res.finish()
