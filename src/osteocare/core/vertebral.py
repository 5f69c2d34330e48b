"""Genant semiquantitative vertebral fracture grade from measured vertebral heights.

Genant HK et al., J Bone Miner Res 1993;8:1137-1148 (definitions, status SECONDARY); the numeric thresholds,
rounding and expected posterior height are project conventions (knowledge file ``genant-sq-grading``),
because the method is visual and has no sharp edges:

* reductions (%): wedge = 1 - Ha/Hp; biconcave = 1 - Hm/Hp; crush = 1 - Hp/Hp_expected, each rounded to one
  decimal half away from zero; the grade uses the largest;
* < 20% -> 0; 20% to < 25% -> 1; 25% to <= 40% -> 2; > 40% -> 3. Grade 0.5 is never produced numerically.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cache
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

from .errors import InputError
from .knowledge import load
from .numeric import round_half_away
from .parts import TextPart, num, nums, part
from .records import VertebraHeights
from .results import CalculatorResult, Quantity, RuleFired, cite
from .status import lowest

__all__ = ["LEVELS", "GenantGrades", "genant_grade", "grade_vertebrae", "height_reductions"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]

GENANT_ID: Final = "genant-sq-grading"
CALCULATOR: Final = "genant-sq"
NAME: Final = "Genant semiquantitative vertebral fracture grade (from measured heights)"

#: Anatomical order of the vertebral levels (not a clinical number).
LEVELS: Final[tuple[str, ...]] = (
    *(f"C{i}" for i in range(1, 8)), *(f"T{i}" for i in range(1, 13)), *(f"L{i}" for i in range(1, 6))
)
REDUCTION_KINDS: Final = ("wedge", "biconcave", "crush")


@cache
def _thresholds() -> tuple[float, float, float, int]:
    kf = load(GENANT_ID)
    return (
        float(kf.value("grade1_min_reduction_percent")),
        float(kf.value("grade2_min_reduction_percent")),
        float(kf.value("grade3_above_reduction_percent")),
        int(kf.value("reduction_rounding_decimals")),
    )


def _reduction(num: FloatArray, den: FloatArray, ndigits: int) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = round_half_away(100.0 * (1.0 - num / den), ndigits)
    return out


def height_reductions(
    anterior_mm: npt.ArrayLike,
    posterior_mm: npt.ArrayLike,
    middle_mm: npt.ArrayLike | None = None,
    expected_posterior_mm: npt.ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(wedge, biconcave, crush) reductions in %, rounded to one decimal; NaN where a height is missing."""
    *_, ndigits = _thresholds()
    ha = np.asarray(anterior_mm, dtype=np.float64)
    hp = np.asarray(posterior_mm, dtype=np.float64)
    hm = np.asarray(np.nan if middle_mm is None else middle_mm, dtype=np.float64)
    he = np.asarray(np.nan if expected_posterior_mm is None else expected_posterior_mm, dtype=np.float64)
    shape = np.broadcast_shapes(ha.shape, hp.shape, hm.shape, he.shape) or (1,)
    ha, hp, hm, he = (np.broadcast_to(x, shape) for x in (ha, hp, hm, he))
    return _reduction(ha, hp, ndigits), _reduction(hm, hp, ndigits), _reduction(hp, he, ndigits)


def _grade_from_reduction(r: FloatArray) -> IntArray:
    g1, g2, g3, _ = _thresholds()
    grade = np.where(r > g3, 3, np.where(r >= g2, 2, np.where(r >= g1, 1, 0)))
    out: IntArray = np.where(np.isnan(r), 0, grade).astype(np.int64)
    return out


class GenantGrades(NamedTuple):
    grade: IntArray  # 0-3
    largest_reduction_percent: FloatArray  # rounded to one decimal
    kind: StrArray  # "wedge", "biconcave" or "crush" (the largest reduction)


def genant_grade(
    anterior_mm: npt.ArrayLike,
    posterior_mm: npt.ArrayLike,
    middle_mm: npt.ArrayLike | None = None,
    expected_posterior_mm: npt.ArrayLike | None = None,
) -> GenantGrades:
    """Genant grade per vertebra from its heights (NaN middle / expected height = not measured).

    Ties between reduction kinds go to the first of wedge, biconcave, crush.
    """
    red = np.stack(height_reductions(anterior_mm, posterior_mm, middle_mm, expected_posterior_mm))
    filled = np.where(np.isnan(red), -np.inf, red)
    idx = np.argmax(filled, axis=0)
    largest = np.take_along_axis(red, idx[None, ...], axis=0)[0]
    kinds = np.array(REDUCTION_KINDS, dtype=np.str_)
    return GenantGrades(grade=_grade_from_reduction(largest), largest_reduction_percent=largest, kind=kinds[idx])


def _expected_posterior(hp: FloatArray, unfractured: npt.NDArray[np.bool_]) -> FloatArray:
    """Mean posterior height of the nearest unfractured measured vertebra above and below (CONVENTION)."""
    n = hp.shape[0]
    out = np.full(n, np.nan)
    for i in range(n):
        above = next((hp[j] for j in range(i - 1, -1, -1) if unfractured[j]), None)
        below = next((hp[j] for j in range(i + 1, n) if unfractured[j]), None)
        found = [h for h in (above, below) if h is not None]
        if found:
            out[i] = float(np.mean(found))
    return out


def _latest_per_level(
    vertebrae: Sequence[VertebraHeights],
) -> tuple[list[VertebraHeights], list[VertebraHeights]]:
    """Each level's latest measurement (a dated one before an undated one), and the earlier ones it replaces.
    A level measured twice on one day, or twice without a date, is refused: which to grade would be a guess."""
    by_level: dict[str, list[VertebraHeights]] = {}
    for v in vertebrae:
        level = v.level.upper()
        if level not in LEVELS:
            raise InputError("vertebrae.level", v.level, "a level C1-C7, T1-T12 or L1-L5")
        same = by_level.setdefault(level, [])
        if any(o.date == v.date for o in same):
            raise InputError("vertebrae.level", v.level,
                             "each level once per day" if v.date is not None else "each level once without a date")
        same.append(v)
    chosen: list[VertebraHeights] = []
    earlier: list[VertebraHeights] = []
    for level in LEVELS:
        ms = sorted(by_level.get(level, []), key=lambda v: (v.date is not None, v.date or dt.date.min))
        if ms:
            chosen.append(ms[-1])
            earlier.extend(ms[:-1])
    return chosen, earlier


def _reading(v: VertebraHeights) -> TextPart:
    """"L1 2025-02-03", or "L1 (no date)"."""
    if v.date is None:
        return part("{level} (no date)", level=v.level.upper())
    return part("{level} {date}", {"date": "date"}, level=v.level.upper(), date=v.date.isoformat())


def grade_vertebrae(vertebrae: Sequence[VertebraHeights]) -> CalculatorResult:
    """Genant grade of every measured vertebra (``record.vertebrae``), with the crush reduction.

    First pass: wedge and biconcave reductions (no neighbour needed); vertebrae graded 0 count as unfractured.
    Second pass: Hp_expected from the nearest unfractured measured level above and below; crush reduction.
    A level measured more than once is graded from its latest measurement (``record.known_on`` has already left
    out those after the assessment date); the rule names the day each level was read and what was replaced.
    """
    res = CalculatorResult(calculator=CALCULATOR, name=NAME, citations=[cite(GENANT_ID, "Genant1993")])
    if not vertebrae:
        res.applicable = False
        res.reason = "no vertebral heights are recorded"
        return res
    chosen, earlier = _latest_per_level(vertebrae)
    ordered = sorted(chosen, key=lambda v: LEVELS.index(v.level.upper()))
    ha = np.array([v.anterior_mm for v in ordered], dtype=np.float64)
    hp = np.array([v.posterior_mm for v in ordered], dtype=np.float64)
    hm = np.array([np.nan if v.middle_mm is None else v.middle_mm for v in ordered], dtype=np.float64)
    first = genant_grade(ha, hp, hm)
    expected = _expected_posterior(hp, first.grade == 0)
    final = genant_grade(ha, hp, hm, expected)

    kf = load(GENANT_ID)
    per_level = []
    for i, v in enumerate(ordered):
        level = v.level.upper()
        g = int(final.grade[i])
        r = float(final.largest_reduction_percent[i])
        res.values[f"{level}_grade"] = Quantity(value=g, unit="1")
        res.values[f"{level}_largest_reduction_percent"] = Quantity(value=r, unit="%")
        per_level.append({
            "level": level, "grade": g, "largest_reduction_percent": r, "kind": str(final.kind[i]),
            "expected_posterior_mm": None if np.isnan(expected[i]) else float(expected[i]),
        })
        if np.isnan(expected[i]):
            res.warnings.append(f"{level}: no unfractured neighbour measured; the crush reduction is not assessed.")
    fractured = [p for p, g in zip(per_level, final.grade, strict=True) if g >= 1]
    highest = int(final.grade.max())
    res.values["fractured_vertebrae"] = Quantity(value=len(fractured), unit="{vertebra}")
    res.values["highest_grade"] = Quantity(value=highest, unit="1")
    res.category = "vertebral_fracture" if fractured else "no_vertebral_fracture"
    res.details = {"vertebrae": per_level}
    g1, g2, g3, nd = _thresholds()
    fractured_parts = [
        part("{level} grade {grade} ({kind} {reduction}%)", {"grade": "num", "kind": "term",
                                                             "reduction": "num"},
             level=p["level"], grade=num(p["grade"]), kind=p["kind"], reduction=num(p["largest_reduction_percent"]))
        for p in fractured]
    parts = [
        nums("Largest of the wedge, biconcave and crush reductions, rounded to {nd} decimal: < {g1}% grade 0; "
             "{g1}% to < {g2}% grade 1; {g2}% to <= {g3}% grade 2; > {g3}% grade 3 (OsteoCare convention for a "
             "visual method).", nd=nd, g1=num(g1, "g"), g2=num(g2, "g"), g3=num(g3, "g")),
        part("Fractured: {levels}.", {"levels": "list"}, levels=fractured_parts) if fractured_parts
        else part("Fractured: none."),
    ]
    dated = [v for v in ordered if v.date is not None]
    if dated:
        parts.append(part("Heights read on: {levels}.", {"levels": "list"}, levels=[_reading(v) for v in ordered]))
    if earlier:
        parts.append(part("Earlier measurements, replaced by a later one of the same level and not graded: "
                          "{levels}.", {"levels": "list"}, levels=[_reading(v) for v in earlier]))
    res.rules_fired.append(RuleFired(
        rule_id="GENANT-SQ-GRADE",
        parts=tuple(parts),
        status=lowest(kf.fact(n).status for n in ("grade_definitions", "grade1_min_reduction_percent")),
        citations=(cite(GENANT_ID, "Genant1993"), cite(GENANT_ID, "OsteoCare")),
    ))
    res.warnings.append(
        "Genant grading is visual; the numeric cut-offs are a project convention and a reader's grade "
        "(including 0.5, borderline) takes precedence."
    )
    return res.finish()
