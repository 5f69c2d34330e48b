"""Kidney function for drug decisions: Cockcroft-Gault creatinine clearance and CKD-EPI 2021 eGFR.

Both formulas take serum creatinine in mg/dL (umol/L is converted first: / 88.4, knowledge file ``units``)
and are vectorised. Coefficients live in ``knowledge/calculators/kidney.yaml``.

* Cockcroft-Gault (Nephron 1976): CrCl, mL/min, actual body weight, not normalised to body surface area.
  This is the measure drug labels use (except the denosumab boxed warning, which uses eGFR).
* CKD-EPI 2021 race-free creatinine equation (Inker, NEJM 2021): eGFR, mL/min/1.73 m2; intermediates
  are not rounded.

Reported values are rounded half away from zero to one decimal (CONVENTION, risk-calculators.md 5.3).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt

from .errors import InputError
from .knowledge import load
from .limits import check_range
from .numeric import round_half_away
from .parts import num, nums, part
from .records import PatientRecord
from .results import CalculatorResult, Quantity, RuleFired, cite, not_applicable
from .status import lowest
from .units import MG_DL, UMOL_L, canonical_creatinine_unit, creatinine_factor, creatinine_factor_status

FloatArray = npt.NDArray[np.float64]

CALCULATOR: Final = "kidney-function"
NAME: Final = "Kidney function (Cockcroft-Gault CrCl, CKD-EPI 2021 eGFR)"
KNOWLEDGE_ID: Final = "kidney"
CRCL_UNIT: Final = "mL/min"
EGFR_UNIT: Final = "mL/min/{1.73_m2}"


@dataclass(frozen=True)
class _Coefficients:
    cg_age: float
    cg_divisor: float
    cg_female: float
    epi_constant: float
    epi_kappa_f: float
    epi_kappa_m: float
    epi_alpha_f: float
    epi_alpha_m: float
    epi_upper: float
    epi_age_base: float
    epi_female: float
    decimals: int


@cache
def _coef() -> _Coefficients:
    kf = load(KNOWLEDGE_ID)
    kappa = kf.value("ckd_epi_2021_kappa")
    alpha = kf.value("ckd_epi_2021_alpha")
    return _Coefficients(
        cg_age=float(kf.value("cg_age_constant")),
        cg_divisor=float(kf.value("cg_divisor")),
        cg_female=float(kf.value("cg_female_factor")),
        epi_constant=float(kf.value("ckd_epi_2021_constant")),
        epi_kappa_f=float(kappa["female"]),
        epi_kappa_m=float(kappa["male"]),
        epi_alpha_f=float(alpha["female"]),
        epi_alpha_m=float(alpha["male"]),
        epi_upper=float(kf.value("ckd_epi_2021_upper_exponent")),
        epi_age_base=float(kf.value("ckd_epi_2021_age_base")),
        epi_female=float(kf.value("ckd_epi_2021_female_factor")),
        decimals=int(kf.value("reported_decimals")),
    )


def reported_decimals() -> int:
    """Decimals to which CrCl and eGFR are reported and compared (CONVENTION)."""
    return _coef().decimals


def cockcroft_gault(
    *, age: npt.ArrayLike, weight_kg: npt.ArrayLike, creatinine_mg_dl: npt.ArrayLike, female: npt.ArrayLike
) -> FloatArray:
    """Creatinine clearance, mL/min, unrounded: (140 - age) x weight / (72 x SCr), x 0.85 if female."""
    c = _coef()
    age_a = np.asarray(age, dtype=np.float64)
    w = np.asarray(weight_kg, dtype=np.float64)
    scr = np.asarray(creatinine_mg_dl, dtype=np.float64)
    fem = np.asarray(female, dtype=bool)
    crcl = (c.cg_age - age_a) * w / (c.cg_divisor * scr)
    out: FloatArray = np.asarray(np.where(fem, crcl * c.cg_female, crcl), dtype=np.float64)
    return out


def ckd_epi_2021(*, age: npt.ArrayLike, creatinine_mg_dl: npt.ArrayLike, female: npt.ArrayLike) -> FloatArray:
    """eGFR, mL/min/1.73 m2, unrounded (CKD-EPI 2021 race-free creatinine equation)."""
    c = _coef()
    age_a = np.asarray(age, dtype=np.float64)
    scr = np.asarray(creatinine_mg_dl, dtype=np.float64)
    fem = np.asarray(female, dtype=bool)
    kappa = np.where(fem, c.epi_kappa_f, c.epi_kappa_m)
    alpha = np.where(fem, c.epi_alpha_f, c.epi_alpha_m)
    ratio = scr / kappa
    egfr = (
        c.epi_constant
        * np.power(np.minimum(ratio, 1.0), alpha)
        * np.power(np.maximum(ratio, 1.0), c.epi_upper)
        * np.power(c.epi_age_base, age_a)
    )
    out: FloatArray = np.asarray(np.where(fem, egfr * c.epi_female, egfr), dtype=np.float64)
    return out


@dataclass(frozen=True)
class Creatinine:
    """The serum creatinine a kidney calculation used, in the unit it was entered and in mg/dL."""

    value: float
    unit: str
    mg_dl: float
    field: str
    date: dt.date | None = None


def record_creatinine(record: PatientRecord, as_of: dt.date | None = None) -> Creatinine | None:
    """The creatinine to use: the flat field if entered, else the most recent ``labs`` entry named
    'creatinine' (dated entries preferred; among undated ones the last listed). With ``as_of``, a lab dated
    after it is not used (it was not known on that day).

    A lab unit OsteoCare does not know raises :class:`InputError` naming the field, the value and the
    allowed units; a value outside the plausibility limits raises :class:`InputError` too.
    """
    factor = creatinine_factor()
    if record.creatinine_umol_l is not None:
        v = record.creatinine_umol_l
        return Creatinine(v, UMOL_L, v / factor, "creatinine_umol_l")
    if record.creatinine_mg_dl is not None:
        v = record.creatinine_mg_dl
        return Creatinine(v, MG_DL, v, "creatinine_mg_dl")
    found: list[tuple[int, Creatinine]] = []
    for i, lab in enumerate(record.labs):
        if lab.name.strip().casefold() != "creatinine" or (as_of and lab.date and lab.date > as_of):
            continue
        unit = canonical_creatinine_unit(lab.unit, f"labs[{i}].unit")
        limit_name = "creatinine_umol_l" if unit == UMOL_L else "creatinine_mg_dl"
        check_range(f"labs[{i}].value", lab.value, limit_name)
        mg_dl = lab.value / factor if unit == UMOL_L else lab.value
        found.append((i, Creatinine(lab.value, unit, mg_dl, f"labs[{i}]", lab.date)))
    if not found:
        return None
    dated = [(c.date, i, c) for i, c in found if c.date is not None]
    if dated:
        return max(dated, key=lambda t: (t[0], t[1]))[2]
    return found[-1][1]


def assess_kidney(record: PatientRecord, as_of: dt.date | None = None) -> CalculatorResult:
    """Cockcroft-Gault CrCl and CKD-EPI 2021 eGFR for one patient, with the creatinine used (with ``as_of``,
    none dated after it)."""
    scr = record_creatinine(record, as_of)
    if scr is None:
        later = [lab for lab in record.labs if lab.name.strip().casefold() == "creatinine"]
        if later:
            return not_applicable(CALCULATOR, NAME, part(
                "the only creatinine results are dated after the assessment date ({as_of}); results from later days "
                "are not used", {"as_of": "date"}, as_of=str(as_of)))
        return not_applicable(
            CALCULATOR,
            NAME,
            "no serum creatinine recorded (creatinine_umol_l, creatinine_mg_dl or a 'creatinine' lab)",
        )
    if scr.mg_dl <= 0:
        raise InputError(scr.field, scr.value, "a positive serum creatinine", unit=scr.unit)
    d = reported_decimals()
    female = record.sex == "female"
    res = CalculatorResult(calculator=CALCULATOR, name=NAME)
    res.values["creatinine_mg_dl"] = Quantity(value=float(round_half_away(scr.mg_dl, 2)), unit=MG_DL)
    res.values["creatinine_entered"] = Quantity(value=scr.value, unit=scr.unit)
    res.details["creatinine_source"] = scr.field
    if scr.date is not None:
        res.details["creatinine_date"] = scr.date.isoformat()
    conv = []
    if scr.unit == UMOL_L:
        conv = [cite("units", "CG1976")]
        res.rules_fired.append(
            RuleFired(
                rule_id="UNITS-CREATININE",
                parts=(nums("Creatinine {creatinine} umol/L converted to mg/dL by dividing by {factor}.",
                            creatinine=num(scr.value, "g"), factor=num(creatinine_factor(), "g")),),
                status=lowest([creatinine_factor_status()]),
                citations=tuple(conv),
            )
        )
    egfr = float(round_half_away(ckd_epi_2021(age=record.age, creatinine_mg_dl=scr.mg_dl, female=female), d))
    res.values["egfr_ckd_epi_2021"] = Quantity(value=egfr, unit=EGFR_UNIT)
    res.rules_fired.append(
        RuleFired(
            rule_id="KIDNEY-CKD-EPI-2021",
            parts=(nums("CKD-EPI 2021 race-free eGFR = {egfr} mL/min/1.73 m2 (normalised to body surface area; used "
                        "by guidelines and the denosumab boxed warning).", egfr=num(egfr, f".{d}f")),),
            citations=(cite(KNOWLEDGE_ID, "Inker2021"),),
        )
    )
    if record.weight_kg is None:
        res.warnings.append(
            "Cockcroft-Gault CrCl not calculated: actual body weight (weight_kg) is not recorded. Drug "
            "labels use CrCl, so enter the weight before a bisphosphonate decision."
        )
    else:
        crcl = float(
            round_half_away(
                cockcroft_gault(age=record.age, weight_kg=record.weight_kg, creatinine_mg_dl=scr.mg_dl, female=female),
                d,
            )
        )
        res.values["crcl_cockcroft_gault"] = Quantity(value=crcl, unit=CRCL_UNIT)
        res.rules_fired.append(
            RuleFired(
                rule_id="KIDNEY-COCKCROFT-GAULT",
                parts=(nums("Cockcroft-Gault CrCl = {crcl} mL/min (actual body weight {weight} kg, not normalised "
                            "to body surface area).", crcl=num(crcl, f".{d}f"), weight=num(record.weight_kg, "g")),
                       part("Drug labels use this measure.")),
                citations=(cite(KNOWLEDGE_ID, "CG1976"),),
            )
        )
    res.details["drug_label_measure"] = "crcl_cockcroft_gault"
    res.details["note"] = (
        "Drug labels use Cockcroft-Gault CrCl (mL/min); the denosumab boxed warning uses eGFR (mL/min/1.73 m2)."
    )
    res.citations = [cite(KNOWLEDGE_ID, "CG1976"), cite(KNOWLEDGE_ID, "Inker2021"), *conv]
    return res.finish()
