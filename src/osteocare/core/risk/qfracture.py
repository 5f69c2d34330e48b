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

from ..errors import KnowledgeError
from ..knowledge import load
from ..records import PatientRecord
from ..results import CalculatorResult, Quantity, RuleFired, cite
from ..status import lowest

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
OK, AGE_LOW, AGE_HIGH, BMI_LOW, BMI_HIGH, BAD_HORIZON, MISSING = 0, 1, 2, 3, 4, 5, 6

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
    survivor: FloatArray  # index = years; survivor[0] unused (NaN)
    age_range: tuple[float, float]
    bmi_range: tuple[float, float]


def _equation(name: str, raw: Mapping[str, Any]) -> Equation:
    age_terms: list[tuple[Callable[[FloatArray], FloatArray], float, float]] = []
    bmi_terms: list[tuple[Callable[[FloatArray], FloatArray], float, float]] = []
    for key, t in raw["continuous_transforms"].items():
        fn = _TRANSFORMS.get(t["expression"])
        if fn is None:
            raise KnowledgeError(f"{MODEL_ID}: unknown transform {t['expression']!r} in {name}.{key}")
        (age_terms if "age" in t["expression"] else bmi_terms).append(
            (fn, float(t["centre"]), float(t["beta"]))
        )
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


def linear_predictor(
    eq: Equation,
    *,
    age: FloatArray,
    bmi: FloatArray,
    ethrisk: IntArray,
    smoke_cat: IntArray,
    alcohol_cat6: IntArray,
    flags: Mapping[str, npt.ArrayLike],
) -> FloatArray:
    """The linear predictor ``a`` of one equation (no range checks; see :func:`score`)."""
    a = eq.alcohol[alcohol_cat6] + eq.ethrisk[ethrisk] + eq.smoke[smoke_cat]
    x_age = age / 10.0
    for fn, centre, beta in eq.age_terms:
        a = a + beta * (fn(x_age) - centre)
    x_bmi = bmi / 10.0
    for fn, centre, beta in eq.bmi_terms:
        a = a + beta * (fn(x_bmi) - centre)
    for name, beta in zip(eq.booleans, eq.boolean_betas, strict=True):
        f = flags.get(name)
        if f is not None:
            a = a + beta * np.asarray(f, dtype=np.float64)
    out: FloatArray = np.asarray(a, dtype=np.float64)
    return out


def reason_codes(age: FloatArray, bmi: FloatArray, surv: IntArray) -> IntArray:
    """Per row: 0 if QFracture applies, else the first reason code that stops it."""
    eq = next(iter(equations().values()))
    (alo, ahi), (blo, bhi) = eq.age_range, eq.bmi_range
    hlo, hhi = horizon_range()
    code = np.zeros(np.shape(age), dtype=np.int64)
    code = np.where((surv < hlo) | (surv > hhi), BAD_HORIZON, code)
    code = np.where(bmi > bhi, BMI_HIGH, code)
    code = np.where(bmi < blo, BMI_LOW, code)
    code = np.where(age > ahi, AGE_HIGH, code)
    code = np.where(age < alo, AGE_LOW, code)
    code = np.where(np.isnan(age) | np.isnan(bmi), MISSING, code)
    return code


def ethnicity_default_note() -> str:
    return (
        f"Ethnicity not recorded: '{_input_codes()[4]}' used (OsteoCare's documented choice for Vietnamese "
        "patients; the model has no Vietnamese category)."
    )


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
    }


def reason_text(code: int, age: float, bmi: float, surv: int) -> str:
    eq = next(iter(equations().values()))
    (alo, ahi), (blo, bhi) = eq.age_range, eq.bmi_range
    hlo, hhi = horizon_range()
    texts = {
        AGE_LOW: f"age {age:g} is below the model range {alo:g}-{ahi:g} years",
        AGE_HIGH: f"age {age:g} is above the model range {alo:g}-{ahi:g} years",
        BMI_LOW: f"BMI {bmi:.1f} is below the model range {blo:g}-{bhi:g} kg/m2 (a clamped value would "
        "under-estimate the risk)",
        BMI_HIGH: f"BMI {bmi:.1f} is above the model range {blo:g}-{bhi:g} kg/m2",
        BAD_HORIZON: f"horizon {surv} years is outside the published range {hlo}-{hhi} years",
        MISSING: "age or BMI is missing",
    }
    return texts[code]


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
    equation does not use is ignored by it. Categorical codes must already be valid (the record layer
    validates them); age/BMI/horizon outside the model range give a reason code instead of a score.
    """
    fem = np.asarray(female, dtype=bool)
    age_a = np.asarray(age, dtype=np.float64)
    bmi_a = np.asarray(bmi, dtype=np.float64)
    surv_a = np.asarray(surv, dtype=np.int64)
    eth = np.asarray(ethrisk, dtype=np.int64)
    smk = np.asarray(smoke_cat, dtype=np.int64)
    alc = np.asarray(alcohol_cat6, dtype=np.int64)
    n = fem.shape[0] if fem.ndim else 1
    fem, age_a, bmi_a, surv_a, eth, smk, alc = (
        np.broadcast_to(x, (n,)) for x in (fem, age_a, bmi_a, surv_a, eth, smk, alc)
    )
    code = reason_codes(age_a, bmi_a, surv_a)
    ok = code == OK
    mof = np.full(n, np.nan)
    hip = np.full(n, np.nan)
    fl = {k: np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for k, v in flags.items()}
    for sex, is_sex in (("female", fem), ("male", ~fem)):
        idx = np.flatnonzero(ok & is_sex)
        if idx.size == 0:
            continue
        sub_flags = {k: v[idx] for k, v in fl.items()}
        for outcome, out in (("major_osteoporotic_fracture", mof), ("hip_fracture", hip)):
            eq = equations()[(sex, outcome)]
            a = linear_predictor(
                eq,
                age=age_a[idx],
                bmi=bmi_a[idx],
                ethrisk=eth[idx],
                smoke_cat=smk[idx],
                alcohol_cat6=alc[idx],
                flags=sub_flags,
            )
            s0 = eq.survivor[surv_a[idx]]
            out[idx] = 100.0 * (1.0 - np.power(s0, np.exp(a)))
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
        res.reason = reason_text(int(code[0]), float(record.age), bmi, record.years)
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
            text=(
                f"Equations {', '.join(eq_names)}; {record.years}-year horizon; ethnicity {ethnicity}, "
                f"smoking {record.smoking}, alcohol {record.alcohol}; risk factors present: "
                f"{', '.join(used) if used else 'none'}."
            ),
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
