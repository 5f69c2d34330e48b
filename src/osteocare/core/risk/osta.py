"""OSTA (Osteoporosis Self-assessment Tool for Asians) and OST (men; US women), on arrays.

Index = 0.2 x (weight_kg - age_years) with the decimals disregarded (truncated toward zero), computed
decimal-safe: binary noise is removed before truncation, so the result equals ``int(Decimal(...))`` for
decimal inputs (58 kg, 62 y -> -0.8 -> 0, never -1). After truncation the index is a whole number and each
tool's categories are whole-number limits read from ``knowledge/calculators/osta.yaml``:

* OSTA, Asian women (Koh 2001): low >= 0, moderate -1 to -4, high <= -5 (categories SECONDARY).
* OST, men (Adler 2003): low >= 4, moderate -1 to 3, high <= -2 (VERIFIED).
* OST, US women (Geusens 2002, third-party cut-offs): low >= 2, moderate -3 to 1, high <= -4 (UNVERIFIED).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from ..knowledge import load
from ..numeric import round_half_away
from ..parts import num, nums, part
from ..records import PatientRecord
from ..results import CalculatorResult, Quantity, RuleFired, cite, not_applicable
from ..status import Status, lowest

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

KNOWLEDGE_ID: Final = "osta"

Tool = Literal["osta", "ost_men", "ost_us_women"]
#: Tool codes used by the array kernel.
OSTA, OST_MEN, OST_US_WOMEN = 0, 1, 2
TOOLS: Final[tuple[Tool, ...]] = ("osta", "ost_men", "ost_us_women")
TOOL_NAMES: Final[dict[Tool, str]] = {
    "osta": "OSTA (Osteoporosis Self-assessment Tool for Asians, women)",
    "ost_men": "OST (Osteoporosis Self-assessment Tool, men)",
    "ost_us_women": "OST (Osteoporosis Self-assessment Tool, US women)",
}
_TOOL_SEX: Final[dict[Tool, str]] = {"osta": "female", "ost_men": "male", "ost_us_women": "female"}
_TOOL_FACT: Final[dict[Tool, str]] = {
    "osta": "osta_categories",
    "ost_men": "ost_men_categories",
    "ost_us_women": "ost_us_women_categories",
}
_TOOL_SOURCE: Final[dict[Tool, str]] = {"osta": "Koh2001", "ost_men": "Adler2003", "ost_us_women": "Geusens2002"}

#: Category codes of the array kernel.
UNDEFINED, LOW, MODERATE, HIGH = 0, 1, 2, 3
CATEGORY_NAMES: Final = ("undefined", "low", "moderate", "high")
#: The category rule's sentence per category (one sentence each, so that a translation can agree with its word).
_CATEGORY_RULE: Final = {
    c: f"{c} risk: low if index >= {{low_min}}, high if index <= {{high_max}}, moderate in between."
    for c in CATEGORY_NAMES
}

# Binary noise below this many decimals is removed before truncating (inputs carry a few decimals at most).
_NOISE_DECIMALS = 9


@dataclass(frozen=True)
class _Limits:
    low_min: IntArray  # by tool code
    high_max: IntArray


@cache
def _coefficient() -> float:
    return float(load(KNOWLEDGE_ID).value("index_coefficient"))


@cache
def _limits() -> _Limits:
    kf = load(KNOWLEDGE_ID)
    cats = [kf.value(_TOOL_FACT[t]) for t in TOOLS]
    return _Limits(
        low_min=np.array([int(c["low_min"]) for c in cats], dtype=np.int64),
        high_max=np.array([int(c["high_max"]) for c in cats], dtype=np.int64),
    )


def index(weight_kg: npt.ArrayLike, age: npt.ArrayLike) -> FloatArray:
    """OSTA/OST index: 0.2 x (weight - age), truncated toward zero; NaN where an input is missing."""
    w = np.asarray(weight_kg, dtype=np.float64)
    a = np.asarray(age, dtype=np.float64)
    raw = round_half_away(_coefficient() * (w - a), _NOISE_DECIMALS)
    out: FloatArray = np.trunc(raw) + 0.0  # + 0.0 turns -0.0 into 0.0
    return out


def categorise(idx: npt.ArrayLike, tool: npt.ArrayLike) -> IntArray:
    """Category code (LOW/MODERATE/HIGH, UNDEFINED for NaN) of a truncated index under each row's tool."""
    x = np.asarray(idx, dtype=np.float64)
    t = np.asarray(tool, dtype=np.int64)
    lim = _limits()
    low_min = lim.low_min[t]
    high_max = lim.high_max[t]
    out = np.where(x >= low_min, LOW, np.where(x <= high_max, HIGH, MODERATE))
    res: IntArray = np.where(np.isnan(x), UNDEFINED, out).astype(np.int64)
    return res


def tool_for(female: npt.ArrayLike, asian: npt.ArrayLike = True) -> IntArray:
    """Tool code per row: men OST; Asian women OSTA; other women OST for US women."""
    fem = np.asarray(female, dtype=bool)
    asi = np.asarray(asian, dtype=bool)
    out: IntArray = np.where(~fem, OST_MEN, np.where(asi, OSTA, OST_US_WOMEN)).astype(np.int64)
    return out


def screen(
    *, female: npt.ArrayLike, age: npt.ArrayLike, weight_kg: npt.ArrayLike, asian: npt.ArrayLike = True
) -> tuple[FloatArray, IntArray, IntArray]:
    """Score every row: (index, category code, tool code)."""
    tool = tool_for(female, asian)
    idx = index(weight_kg, age)
    return idx, categorise(idx, tool), tool


@cache
def asian_ethnicities() -> frozenset[str]:
    return frozenset(load(KNOWLEDGE_ID).value("asian_ethnicities"))


@cache
def _default_ethnicity() -> str:
    return str(load("qfracture-inputs").value("default_ethnicity_vietnam"))


def default_tool(record: PatientRecord) -> Tool:
    """OST for men; OSTA for women of an Asian ethnicity (or none recorded); else OST for US women."""
    if record.sex == "male":
        return "ost_men"
    ethnicity = record.ethnicity or _default_ethnicity()
    return "osta" if ethnicity in asian_ethnicities() else "ost_us_women"


def assess_osta(record: PatientRecord, *, tool: Tool | None = None) -> CalculatorResult:
    """OSTA or OST for one patient (the tool follows sex and ethnicity unless given)."""
    chosen: Tool = tool or default_tool(record)
    calc = chosen.replace("_", "-")
    name = TOOL_NAMES[chosen]
    if record.sex != _TOOL_SEX[chosen]:
        return not_applicable(calc, name, part("{tool} is for {sex} patients", {"tool": "term", "sex": "term"},
                                               tool=name, sex=_TOOL_SEX[chosen]))
    if record.weight_kg is None:
        return not_applicable(calc, name, "weight_kg is not recorded (the index needs weight and age)")
    kf = load(KNOWLEDGE_ID)
    code = TOOLS.index(chosen)
    idx = float(index(record.weight_kg, record.age))
    cat = CATEGORY_NAMES[int(categorise(idx, code))]
    coef = _coefficient()
    src = _TOOL_SOURCE[chosen]
    res = CalculatorResult(calculator=calc, name=name, category=cat)
    res.values["index"] = Quantity(value=int(idx), unit="{index}")
    res.rules_fired.append(
        RuleFired(
            rule_id="OSTA-INDEX",
            parts=(nums("Index = {coefficient} x (weight {weight} kg - age {age} years), decimals disregarded "
                        "(truncated toward zero, project convention) = {index}.", coefficient=num(coef, "g"),
                        weight=num(record.weight_kg, "g"), age=num(record.age), index=num(int(idx))),),
            status=lowest([kf.fact("index_coefficient").status]),
            citations=(cite(KNOWLEDGE_ID, "Koh2001"),),
        )
    )
    fact = kf.fact(_TOOL_FACT[chosen])
    cat_status: Status = lowest([fact.status])
    lo, hi = fact.value["low_min"], fact.value["high_max"]
    res.rules_fired.append(
        RuleFired(
            rule_id=f"{chosen.upper()}-CATEGORY",
            parts=(part(_CATEGORY_RULE[cat], {"low_min": "num", "high_max": "num"}, low_min=num(lo), high_max=num(hi)),),
            status=cat_status,
            citations=(cite(KNOWLEDGE_ID, src),),
        )
    )
    if chosen == "ost_us_women":
        refer = kf.fact("ost_us_women_refer_for_dxa_below")
        if idx < float(refer.value):
            res.rules_fired.append(
                RuleFired(
                    rule_id="OST-US-WOMEN-REFER-DXA",
                    parts=(nums("Index {index} < {refer_below}: refer for DXA.", index=num(int(idx)),
                                refer_below=num(refer.value)),),
                    status=lowest([refer.status]),
                    citations=(cite(KNOWLEDGE_ID, src),),
                )
            )
    if chosen == "osta" and record.ethnicity is None:
        res.warnings.append(
            f"Ethnicity not recorded: OSTA (derived in Asian women) used by the deployment default ({_default_ethnicity()})."
        )
    res.details["tool"] = chosen
    res.details["truncation"] = kf.value("index_truncation")
    res.citations = [cite(KNOWLEDGE_ID, "Koh2001"), *([cite(KNOWLEDGE_ID, src)] if src != "Koh2001" else [])]
    return res.finish()
