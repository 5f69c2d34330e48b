"""QFracture-2012 equations, evaluated on arrays.

An independent implementation of the published equations from the coefficient file
``knowledge/risk_models/qfracture-2012.json`` (Hippisley-Cox & Coupland, BMJ 2012;344:e3427). It does not
copy or link ClinRisk's code; the reference outputs are used as an external oracle in the tests.

``score = 100 * (1 - S0[surv] ** exp(a))``; ``a`` = conditional terms + centred continuous terms + booleans.
Age outside 30-100 or BMI outside 20-40 gives NaN with a reason ("not applicable"), never a clamped value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from numba import njit

from ..errors import KnowledgeError
from ..knowledge import load
from ..numeric import decimal_round
from ..parts import TextPart, num, nums, part
from ..records import PatientRecord
from ..results import CalculatorResult, Quantity, RuleFired, cite
from ..status import lowest
from ..vecmath import exp1, expm1_1, whole_to_int64

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MODEL_ID: Final = "qfracture-2012"
NAME: Final = "QFracture-2012 equations"
OUTCOMES: Final = ("major_osteoporotic_fracture", "hip_fracture")

DISCLAIMER: Final = (
    "Calculated by OsteoCare's independent implementation of the published QFracture-2012 equations "
    "(Hippisley-Cox & Coupland, BMJ 2012;344:e3427), checked against the reference outputs of the "
    "authors' original code. Not produced or endorsed by ClinRisk Ltd; the QFracture-2012 release asks "
    "every implementer to check that results match the original code, because an inaccurate "
    "implementation can lead to the wrong patients getting the wrong treatment. A cumulative risk "
    "without competing mortality, not a FRAX probability. Derived in UK primary care; not validated for "
    "Vietnam or outside the UK. Not a substitute for clinical judgement."
)

# Reason codes for rows that cannot be scored (0 = scored).
OK, AGE_LOW, AGE_HIGH, BMI_LOW, BMI_HIGH, BAD_HORIZON, MISSING, NOT_WHOLE_AGE = 0, 1, 2, 3, 4, 5, 6, 7

_TRANSFORMS: Final[dict[str, Callable[[FloatArray], FloatArray]]] = {
    "pow((age/10),2)": lambda x: x * x,
    "pow((age/10),3)": lambda x: x * x * x,
    "pow((age/10),0.5)": np.sqrt,
    "(age/10)": lambda x: x,
    "pow((age/10),3)*log((age/10))": lambda x: x * x * x * np.log(x),
    "pow((bmi/10),-1)": lambda x: 1.0 / x,
    "pow((bmi/10),-2)": lambda x: 1.0 / (x * x),
    "pow((bmi/10),-0.5)": lambda x: 1.0 / np.sqrt(x),
}


@dataclass(frozen=True)
class Equation:
    name: str
    sex: str
    outcome: str
    booleans: tuple[str, ...]
    boolean_betas: FloatArray
    alcohol: FloatArray
    ethrisk: FloatArray
    smoke: FloatArray
    age_terms: tuple[tuple[Callable[[FloatArray], FloatArray], float, float], ...]
    bmi_terms: tuple[tuple[Callable[[FloatArray], FloatArray], float, float], ...]
    bmi_exprs: tuple[tuple[str, float, float], ...]
    survivor: FloatArray  # index = years; survivor[0] unused (NaN)
    age_range: tuple[float, float]
    bmi_range: tuple[float, float]


def _equation(name: str, raw: Mapping[str, Any]) -> Equation:
    age_terms: list[tuple[Callable[[FloatArray], FloatArray], float, float]] = []
    bmi_terms: list[tuple[Callable[[FloatArray], FloatArray], float, float]] = []
    bmi_exprs: list[tuple[str, float, float]] = []
    for key, t in raw["continuous_transforms"].items():
        fn = _TRANSFORMS.get(t["expression"])
        if fn is None:
            raise KnowledgeError(f"{MODEL_ID}: unknown transform {t['expression']!r} in {name}.{key}")
        (age_terms if "age" in t["expression"] else bmi_terms).append(
            (fn, float(t["centre"]), float(t["beta"]))
        )
        if "bmi" in t["expression"]:
            bmi_exprs.append((str(t["expression"]), float(t["centre"]), float(t["beta"])))
    surv = raw["survivor_by_year"]
    survivor = np.full(max(int(k) for k in surv) + 1, np.nan)
    for k, v in surv.items():
        survivor[int(k)] = float(v)
    cond = raw["conditional_terms"]
    ranges = raw["valid_ranges_inclusive"]
    booleans = tuple(raw["boolean_inputs"])
    outcome = "hip_fracture" if name.startswith("nof") else "major_osteoporotic_fracture"
    return Equation(
        name=name,
        sex=raw["sex"],
        outcome=outcome,
        booleans=booleans,
        boolean_betas=np.array([raw["boolean_betas"][b] for b in booleans], dtype=np.float64),
        alcohol=np.asarray(cond["Ialcohol"]["values"], dtype=np.float64),
        ethrisk=np.asarray(cond["Iethrisk"]["values"], dtype=np.float64),
        smoke=np.asarray(cond["Ismoke"]["values"], dtype=np.float64),
        age_terms=tuple(age_terms),
        bmi_terms=tuple(bmi_terms),
        bmi_exprs=tuple(bmi_exprs),
        survivor=survivor,
        age_range=(float(ranges["age"][0]), float(ranges["age"][1])),
        bmi_range=(float(ranges["bmi"][0]), float(ranges["bmi"][1])),
    )


@cache
def equations() -> dict[tuple[str, str], Equation]:
    """(sex, outcome) -> Equation, from the knowledge file."""
    kf = load(MODEL_ID)
    out: dict[tuple[str, str], Equation] = {}
    for name, raw in kf.data["equations"].items():
        eq = _equation(name, raw)
        out[(eq.sex, eq.outcome)] = eq
    if len(out) != 4:
        raise KnowledgeError(f"{MODEL_ID}: expected 4 equations, found {sorted(out)}")
    return out


@cache
def horizon_range() -> tuple[int, int]:
    lo, hi = load(MODEL_ID).value("published_horizon_years")
    return int(lo), int(hi)


def ethnicity_default_note() -> str:
    return (
        f"Ethnicity not recorded: '{_input_codes()[4]}' used (OsteoCare's documented choice for Vietnamese "
        "patients; the model has no Vietnamese category)."
    )


def ethnicity_default_short() -> str:
    """The per-row form of :func:`ethnicity_default_note` (screening output; the long form goes in the summary)."""
    return f"ethnicity not recorded: {_input_codes()[4]} used"


def reason_summaries() -> dict[int, str]:
    """Reason code -> text without the patient's value (for columns of millions of rows)."""
    eq = next(iter(equations().values()))
    (alo, ahi), (blo, bhi) = eq.age_range, eq.bmi_range
    hlo, hhi = horizon_range()
    return {
        AGE_LOW: f"age below the model range {alo:g}-{ahi:g} years",
        AGE_HIGH: f"age above the model range {alo:g}-{ahi:g} years",
        BMI_LOW: f"BMI below the model range {blo:g}-{bhi:g} kg/m2",
        BMI_HIGH: f"BMI above the model range {blo:g}-{bhi:g} kg/m2",
        BAD_HORIZON: f"horizon outside the published range {hlo}-{hhi} years",
        MISSING: "age or BMI is missing",
        NOT_WHOLE_AGE: "age is not in whole years (the model takes completed years)",
    }


def reason_text(code: int, age: float, bmi: float, surv: int) -> str:
    return reason_part(code, age, bmi, surv).render()


def _beyond(value: float, bound: float, *, below: bool) -> str:
    """``value`` with the fewest decimals (at least one, rounded half away from zero) that still reads on its side
    of ``bound``: BMI 19.99 is "19.99", not "20.0", against a range from 20."""
    limit = decimal_round(bound, 9)
    for ndigits in range(1, 10):
        shown = decimal_round(value, ndigits)
        if (shown < limit) if below else (shown > limit):
            return str(shown)
    return repr(float(value))


def reason_part(code: int, age: float, bmi: float, surv: int) -> TextPart:
    """Why the model does not apply (``code`` one of the kernel's refusal codes), as a translatable part."""
    eq = next(iter(equations().values()))
    (alo, ahi), (blo, bhi) = eq.age_range, eq.bmi_range
    hlo, hhi = horizon_range()
    ages = {"age": num(age, "g"), "low": num(alo, "g"), "high": num(ahi, "g")}
    bmi_text = _beyond(bmi, blo, below=True) if code == BMI_LOW else (
        _beyond(bmi, bhi, below=False) if code == BMI_HIGH else num(bmi, ".1f"))
    bmis = {"bmi": bmi_text, "low": num(blo, "g"), "high": num(bhi, "g")}
    parts = {
        AGE_LOW: lambda: nums("age {age} is below the model range {low}-{high} years", **ages),
        AGE_HIGH: lambda: nums("age {age} is above the model range {low}-{high} years", **ages),
        BMI_LOW: lambda: nums("BMI {bmi} is below the model range {low}-{high} kg/m2 (a clamped value would "
                              "under-estimate the risk)", **bmis),
        BMI_HIGH: lambda: nums("BMI {bmi} is above the model range {low}-{high} kg/m2", **bmis),
        BAD_HORIZON: lambda: nums("horizon {years} years is outside the published range {low}-{high} years",
                                  years=surv, low=hlo, high=hhi),
        MISSING: lambda: part("age or BMI is missing"),
        NOT_WHOLE_AGE: lambda: nums("age {age} is not in whole years (the model takes completed years)",
                                    age=num(age, "g")),
    }
    return parts[code]()


_BMI_BASIS: Final = ("pow((bmi/10),-1)", "pow((bmi/10),-2)", "pow((bmi/10),-0.5)")
_MAX_AGE: Final = 101  # table rows for integer ages 0..100; only the valid range is ever read


_KERNEL_BLOCK: Final = 2048  # rows per block inside the kernel (cache-resident work arrays)
_GROUP_BITS: Final = 10  # risk-factor flags are summed through tables of 2^10 precomputed sums


#: error_model="numpy": a float division by zero gives inf instead of raising (numba's default tests the
#: divisor, a branch that keeps the loop scalar); the divisor here is a BMI already range-checked or the
#: stand-in 25.0
@njit(cache=True, nogil=True, error_model="numpy")
def _kernel(
    fem: Any, age: Any, bmi: Any, eth: Any, smk: Any, alc: Any, surv: Any, limits: Any, code: Any, flags: Any,
    cat: Any, age_tab: Any, bmi_beta: Any, bmi_const: Any, flag_tab: Any, log_s0: Any, n_years: int,
    max_age: int, mof: Any, hip: Any,
) -> None:  # pragma: no cover - compiled; exercised by every QFracture test
    """score = 100 * (1 - S0^exp(a)) = -100 * expm1(exp(a) * ln S0); the same summation order for any n.

    Per block of rows: (1a) range checks and the BMI terms, arithmetic only (selects instead of branches,
    int32 table indices, the per-sex coefficients as scalars) so that it vectorises on AVX2 as on AVX-512;
    (1b) the table terms, one scalar load per table and row (x86's vector gathers are slower); (2) one pass
    per risk-factor flag building the table index (sex bit above the flag bits), then one table look-up
    per group of flags; (3) the survival transform with the vectorisable exp/expm1 of ``core.vecmath``;
    (4) the block is copied out. Every loop reads block slices (``x[lo:hi][k]``: an index numba knows is
    not negative, so no wrap-around test per element) and all work stays in block-sized arrays until step
    (4): the speed does not depend on where in memory the caller's arrays lie.
    ``flags`` is a tuple of uint8 columns (one per ``_Tables.flags`` entry).
    """
    n = fem.shape[0]
    n_flags = len(flags)
    n_groups = flag_tab.shape[1]
    group_bits = _GROUP_BITS
    block = _KERNEL_BLOCK
    bits = np.empty(block, dtype=np.int32)
    ci = np.empty(block, dtype=np.int32)
    ai = np.empty(block, dtype=np.int32)
    yi = np.empty(block, dtype=np.int32)
    a0 = np.empty(block)
    a1 = np.empty(block)
    l0 = np.empty(block)
    l1 = np.empty(block)
    cb = np.empty(block, dtype=np.int64)
    age_lo, age_hi, bmi_lo, bmi_hi, yrs_lo, yrs_hi = limits[0], limits[1], limits[2], limits[3], limits[4], limits[5]
    cat0, cat1, age0, age1, ls0, ls1 = cat[0], cat[1], age_tab[0], age_tab[1], log_s0[0], log_s0[1]
    # the per-sex BMI coefficients as scalars (female, male), so that step (1) selects instead of indexing
    c0f, c0m, c1f, c1m = bmi_const[0, 0], bmi_const[0, 1], bmi_const[1, 0], bmi_const[1, 1]
    b00f, b01f, b02f = bmi_beta[0, 0, 0], bmi_beta[0, 0, 1], bmi_beta[0, 0, 2]
    b00m, b01m, b02m = bmi_beta[0, 1, 0], bmi_beta[0, 1, 1], bmi_beta[0, 1, 2]
    b10f, b11f, b12f = bmi_beta[1, 0, 0], bmi_beta[1, 0, 1], bmi_beta[1, 0, 2]
    b10m, b11m, b12m = bmi_beta[1, 1, 0], bmi_beta[1, 1, 1], bmi_beta[1, 1, 2]
    n_years32, max_age32 = np.int32(n_years), np.int32(max_age)
    # the horizon is an integer column: integer bounds (an int64 -> float64 conversion has no vector
    # instruction before AVX-512 either)
    ylo, yhi = np.int64(np.ceil(yrs_lo)), np.int64(np.floor(yrs_hi))
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        m = hi - lo
        fem_b, age_b, bmi_b, surv_b = fem[lo:hi], age[lo:hi], bmi[lo:hi], surv[lo:hi]
        eth_b, smk_b, alc_b = eth[lo:hi], smk[lo:hi], alc[lo:hi]
        # (1a) arithmetic only, no table look-ups, so that it vectorises on any SIMD width: int32 indices
        # (a float64 -> int64 conversion has no vector instruction before AVX-512)
        for k in range(m):
            ag = age_b[k]
            bm = bmi_b[k]
            sv = surv_b[k]
            # the first failing check wins, in this order: missing, age, BMI, horizon, whole years
            c = NOT_WHOLE_AGE if ag != np.floor(ag) else OK
            c = BAD_HORIZON if (sv < ylo) | (sv > yhi) else c
            c = BMI_HIGH if bm > bmi_hi else c
            c = BMI_LOW if bm < bmi_lo else c
            c = AGE_HIGH if ag > age_hi else c
            c = AGE_LOW if ag < age_lo else c
            c = MISSING if np.isnan(ag) | np.isnan(bm) else c
            cb[k] = c
            ok = c == OK
            sx = np.int32(1) - np.int32(fem_b[k])
            # harmless stand-ins where the row is not scored; its result is replaced by NaN below
            ag = ag if ok else 50.0
            bm = bm if ok else 25.0
            sv = sv if ok else np.int64(1)
            ci[k] = sx * np.int32(300) + ((np.int32(eth_b[k]) * np.int32(5) + np.int32(smk_b[k])) * np.int32(6)
                                          + np.int32(alc_b[k]) if ok else np.int32(0))
            yi[k] = sx * n_years32 + np.int32(sv)
            ai[k] = sx * max_age32 + np.int32(whole_to_int64(ag))  # a whole number here: see the checks
            bits[k] = sx << group_bits  # the sex picks the half of each flag table (step 2)
            u = 10.0 / bm
            u2 = u * u
            r = np.sqrt(u)
            male = sx == 1
            a0[k] = ((c0m if male else c0f) + (b00m if male else b00f) * u + (b01m if male else b01f) * u2
                     + (b02m if male else b02f) * r)
            a1[k] = ((c1m if male else c1f) + (b10m if male else b10f) * u + (b11m if male else b11f) * u2
                     + (b12m if male else b12f) * r)
        # (1b) the table terms (look-ups by row: scalar loads, which are faster than x86's vector gathers)
        for k in range(m):
            l0[k] = ls0[yi[k]]
            l1[k] = ls1[yi[k]]
            a0[k] = (cat0[ci[k]] + age0[ai[k]]) + a0[k]
            a1[k] = (cat1[ci[k]] + age1[ai[k]]) + a1[k]
        # (2) per group of flags: the table index (sex bit above the flag bits), then one look-up per outcome
        for g in range(n_groups):
            if g > 0:
                for k in range(m):
                    bits[k] &= np.int32(1) << group_bits
            for jj in range(group_bits):
                j = g * group_bits + jj
                if j >= n_flags:
                    break
                f = flags[j][lo:hi]
                for k in range(m):
                    bits[k] |= np.int32(f[k]) << jj
            t0, t1 = flag_tab[0, g], flag_tab[1, g]
            for k in range(m):
                b = bits[k]
                a0[k] += t0[b]
                a1[k] += t1[b]
        for k in range(m):
            ok = cb[k] == OK
            v0 = -100.0 * expm1_1(exp1(a0[k]) * l0[k])
            v1 = -100.0 * expm1_1(exp1(a1[k]) * l1[k])
            a0[k] = v0 if ok else np.nan
            a1[k] = v1 if ok else np.nan
        code_b, mof_b, hip_b = code[lo:hi], mof[lo:hi], hip[lo:hi]
        for k in range(m):
            code_b[k] = cb[k]
        for k in range(m):
            mof_b[k] = a0[k]
        for k in range(m):
            hip_b[k] = a1[k]


@dataclass(frozen=True)
class _Tables:
    """The equations folded into lookup tables, per outcome; row 0 = female, row 1 = male.

    Each entry is computed once from the coefficient file with the same transforms as the model form;
    the kernel then adds table entries instead of re-evaluating terms for every patient.
    """

    flags: tuple[str, ...]
    cat: FloatArray  # (outcome, sex*300 + (ethrisk*5 + smoke)*6 + alcohol)
    age: FloatArray  # (outcome, sex*101 + age): centred age terms
    bmi: FloatArray  # (outcome, sex, basis): betas on [10/bmi, (10/bmi)^2, sqrt(10/bmi)]
    bmi_const: FloatArray  # (outcome, sex): -sum(beta * centre) of the BMI terms
    flag_betas: FloatArray  # (flag, outcome*2 + sex); 0 where an equation does not use the flag
    flag_tab: FloatArray  # (outcome, group, sex * 2^_GROUP_BITS + bitmask): sum of the betas of the flags in the mask
    log_s0: FloatArray  # (outcome, sex*n_years + years)
    n_years: int
    limits: FloatArray  # age low/high, BMI low/high, horizon low/high (inclusive)


@cache
def _tables() -> _Tables:
    eqs = equations()
    flags = tuple(sorted({b for eq in eqs.values() for b in eq.booleans}))
    n_years = max(len(eq.survivor) for eq in eqs.values())
    cat = np.zeros((2, 600))
    age = np.zeros((2, 2 * _MAX_AGE))
    bmi = np.zeros((2, 2, len(_BMI_BASIS)))
    bmi_const = np.zeros((2, 2))
    flag_betas = np.zeros((len(flags), 4))  # (flag, outcome*2 + sex)
    log_s0 = np.full((2, 2 * n_years), np.nan)
    ages = np.arange(_MAX_AGE, dtype=np.float64)
    for (sex, outcome), eq in eqs.items():
        o = OUTCOMES.index(outcome)
        sx = 0 if sex == "female" else 1
        e, sm, al = np.meshgrid(np.arange(10), np.arange(5), np.arange(6), indexing="ij")
        cat[o, sx * 300 : (sx + 1) * 300] = (eq.ethrisk[e] + eq.smoke[sm] + eq.alcohol[al]).ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = sum((beta * (fn(ages / 10.0) - centre) for fn, centre, beta in eq.age_terms), np.zeros(_MAX_AGE))
        age[o, sx * _MAX_AGE : (sx + 1) * _MAX_AGE] = np.where(np.isfinite(terms), terms, np.nan)
        for expr, centre, beta in eq.bmi_exprs:
            bmi[o, sx, _BMI_BASIS.index(expr)] += beta
            bmi_const[o, sx] -= beta * centre
        for j, name in enumerate(flags):
            if name in eq.booleans:
                flag_betas[j, o * 2 + sx] = eq.boolean_betas[eq.booleans.index(name)]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_s0[o, sx * n_years : sx * n_years + len(eq.survivor)] = np.log(eq.survivor)
    eq = next(iter(eqs.values()))
    if any(e.age_range != eq.age_range or e.bmi_range != eq.bmi_range for e in eqs.values()):
        raise KnowledgeError(f"{MODEL_ID}: the four equations must share one valid range")
    limits = np.array([*eq.age_range, *eq.bmi_range, *horizon_range()], dtype=np.float64)
    if limits[1] >= _MAX_AGE:
        raise KnowledgeError(f"{MODEL_ID}: age range beyond the kernel's table")
    n_groups = -(-len(flags) // _GROUP_BITS)
    flag_tab = np.zeros((2, n_groups, 2 << _GROUP_BITS))
    masks = np.arange(1 << _GROUP_BITS)
    for g in range(n_groups):
        idx = list(range(g * _GROUP_BITS, min((g + 1) * _GROUP_BITS, len(flags))))
        bits = ((masks[:, None] >> np.arange(len(idx))[None, :]) & 1).astype(np.float64)
        for o in range(2):
            for sx in range(2):
                flag_tab[o, g, sx << _GROUP_BITS : (sx + 1) << _GROUP_BITS] = bits @ flag_betas[idx, o * 2 + sx]
    return _Tables(flags, cat, age, bmi, bmi_const, flag_betas, flag_tab, log_s0, n_years, limits)


def score(
    *,
    female: npt.ArrayLike,
    age: npt.ArrayLike,
    bmi: npt.ArrayLike,
    ethrisk: npt.ArrayLike,
    smoke_cat: npt.ArrayLike,
    alcohol_cat6: npt.ArrayLike,
    surv: npt.ArrayLike,
    flags: Mapping[str, npt.ArrayLike],
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Score every row. Returns (MOF %, hip %, reason code); rows with a non-zero code get NaN.

    ``flags`` maps QFracture input names (``b_falls``, ``fh_osteoporosis`` ...) to 0/1 arrays; an input an
    equation does not use is ignored by it (its beta is 0 in that equation's column). Categorical codes must
    be valid (the record layer validates them); age (integer years), BMI and horizon outside the model range
    give a reason code instead of a score - never a clamped value.
    """
    fem = np.asarray(female, dtype=bool)
    n = fem.shape[0] if fem.ndim else 1

    def col(x: npt.ArrayLike, dtype: type) -> npt.NDArray[Any]:
        return np.broadcast_to(np.asarray(x, dtype=dtype), (n,))

    fem = col(fem, bool)
    age_a, bmi_a = col(age, np.float64), col(bmi, np.float64)
    surv_a, eth, smk, alc = (col(x, np.int64) for x in (surv, ethrisk, smoke_cat, alcohol_cat6))
    t = _tables()
    code = np.empty(n, dtype=np.int64)
    zero: npt.NDArray[np.uint8] | None = None
    flag_cols: list[npt.NDArray[np.uint8]] = []
    for k in t.flags:
        if k not in flags:  # an input no equation of this call uses: all zero
            zero = np.zeros(n, dtype=np.uint8) if zero is None else zero
            zero.flags.writeable = False
            flag_cols.append(zero)
            continue
        v = np.asarray(flags[k])
        if v.dtype != np.bool_:
            v = v != 0
        # numpy booleans are stored as 0/1 bytes: a boolean column is passed as it is, without a copy
        col_k = np.ascontiguousarray(np.broadcast_to(v, (n,))).view(np.uint8)
        # every column read-only, so that the tuple has one numba type (a view of a column is read-only, a
        # copy of a scalar or the zero column is not; a mixed tuple cannot be indexed by the loop)
        col_k.flags.writeable = False
        flag_cols.append(col_k)
    mof = np.empty(n)
    hip = np.empty(n)
    _kernel(
        np.ascontiguousarray(fem), np.ascontiguousarray(age_a), np.ascontiguousarray(bmi_a),
        np.ascontiguousarray(eth), np.ascontiguousarray(smk), np.ascontiguousarray(alc),
        np.ascontiguousarray(surv_a), t.limits, code, tuple(flag_cols),
        t.cat, t.age, t.bmi, t.bmi_const, t.flag_tab, t.log_s0, t.n_years, _MAX_AGE, mof, hip,
    )
    return mof, hip, code


# --- single patient -------------------------------------------------------------------------------


@cache
def _input_codes() -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, str], str]:
    kf = load("qfracture-inputs")
    return (
        dict(kf.value("ethrisk_codes")),
        dict(kf.value("smoke_cat_codes")),
        dict(kf.value("alcohol_cat6_codes")),
        dict(kf.value("boolean_inputs")),
        str(kf.value("default_ethnicity_vietnam")),
    )


def input_codes() -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, str], str]:
    """(ethnicity->ethrisk, smoking->smoke_cat, alcohol->alcohol_cat6, flag->QFracture input, default ethnicity)."""
    return _input_codes()


def assess_qfracture(record: PatientRecord) -> CalculatorResult:
    """QFracture-2012 MOF and hip risk for one patient, with its explanation and the authors' disclaimer."""
    eth_codes, smoke_codes, alc_codes, flag_map, default_eth = _input_codes()
    res = CalculatorResult(calculator=MODEL_ID, name=NAME, citations=[cite(MODEL_ID, "BMJ2012")])
    bmi = record.bmi_kg_m2
    if bmi is None:
        res.applicable = False
        res.reason = "BMI (or weight_kg and height_cm) is not recorded"
        return res
    ethnicity: str = record.ethnicity or default_eth
    if record.ethnicity is None:
        res.warnings.append(ethnicity_default_note())
    if ethnicity in ("other_asian", "chinese", "other"):
        res.warnings.append("QFracture-2012 was derived in UK primary care and is not validated for this population.")
    flags = {q: np.array([float(getattr(record, name))]) for name, q in flag_map.items()}
    mof, hip, code = score(
        female=np.array([record.sex == "female"]),
        age=np.array([float(record.age)]),
        bmi=np.array([bmi]),
        ethrisk=np.array([eth_codes[ethnicity]]),
        smoke_cat=np.array([smoke_codes[record.smoking]]),
        alcohol_cat6=np.array([alc_codes[record.alcohol]]),
        surv=np.array([record.years]),
        flags=flags,
    )
    if code[0] != OK:
        res.applicable = False
        why = reason_part(int(code[0]), float(record.age), bmi, record.years)
        res.reason, res.reason_parts = why.render(), [why]
        return res
    res.values = {
        "major_osteoporotic_fracture_percent": Quantity(value=float(mof[0]), unit="%"),
        "hip_fracture_percent": Quantity(value=float(hip[0]), unit="%"),
        "horizon_years": Quantity(value=record.years, unit="years"),
        "bmi_kg_m2": Quantity(value=bmi, unit="kg/m2"),
    }
    used = [name for name, q in flag_map.items() if getattr(record, name)]
    eq_names = [equations()[(record.sex, o)].name for o in OUTCOMES]
    res.rules_fired.append(
        RuleFired(
            rule_id="QFRACTURE-2012-EQUATIONS",
            parts=(part("Equations {equations}; {years}-year horizon; ethnicity {ethnicity}, smoking {smoking}, "
                        "alcohol {alcohol}; risk factors present: " + ("{factors}." if used else "none."),
                        {"equations": "en", "years": "num", "ethnicity": "en", "smoking": "en", "alcohol": "en",
                         "factors": "en"},
                        equations=", ".join(eq_names), years=num(record.years), ethnicity=ethnicity,
                        smoking=record.smoking, alcohol=record.alcohol, **({"factors": ", ".join(used)} if used else {})),),
            status="verified",
            citations=(cite(MODEL_ID, "ClinRisk2012"),),
        )
    )
    res.rules_fired.append(
        RuleFired(
            rule_id="QFRACTURE-INPUT-CODES",
            text="Input categories and risk-factor labels follow the reference code's variable names.",
            status=lowest([load("qfracture-inputs").fact("boolean_inputs").status]),
            citations=(cite("qfracture-inputs", "ClinRisk2012"),),
        )
    )
    unused = [
        name
        for name, q in flag_map.items()
        if getattr(record, name) and all(q not in equations()[(record.sex, o)].booleans for o in OUTCOMES)
    ]
    if unused:
        res.warnings.append(f"Not used by the {record.sex} equations: {', '.join(unused)}.")
    if float(hip[0]) > float(mof[0]):
        res.warnings.append(
            "Hip fracture risk is above the major osteoporotic fracture risk; both raw equation values are "
            "shown, as the 2012 reference code returns them."
        )
    res.warnings.append(DISCLAIMER)
    return res.finish()
