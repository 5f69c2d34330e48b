"""Unit conversions for laboratory values, vectorised (one value or ten million).

Factors live in ``knowledge/calculators/units.yaml``: creatinine mg/dL = umol/L / 88.4 (VERIFIED);
25-hydroxyvitamin D nmol/L = ng/mL x 2.496 (UNVERIFIED - a result that uses it must carry that status, see
:func:`vitamin_d_factor_status`). :func:`canonical_creatinine_unit` turns a typed unit into ``"umol/L"`` or
``"mg/dL"``, or raises :class:`~osteocare.core.errors.InputError` naming the field, the value and the
allowed units.
"""

from __future__ import annotations

from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt

from .errors import InputError
from .knowledge import load
from .status import FactStatus

FloatArray = npt.NDArray[np.float64]

KNOWLEDGE_ID: Final = "units"
UMOL_L: Final = "umol/L"
MG_DL: Final = "mg/dL"
NMOL_L: Final = "nmol/L"
NG_ML: Final = "ng/mL"


@cache
def creatinine_factor() -> float:
    """umol/L per mg/dL (88.4)."""
    return float(load(KNOWLEDGE_ID).value("creatinine_umol_l_per_mg_dl"))


@cache
def vitamin_d_factor() -> float:
    """nmol/L per ng/mL for 25-hydroxyvitamin D."""
    return float(load(KNOWLEDGE_ID).value("vitamin_d_25oh_nmol_l_per_ng_ml"))


def creatinine_factor_status() -> FactStatus:
    return load(KNOWLEDGE_ID).fact("creatinine_umol_l_per_mg_dl").status


def vitamin_d_factor_status() -> FactStatus:
    return load(KNOWLEDGE_ID).fact("vitamin_d_25oh_nmol_l_per_ng_ml").status


def creatinine_umol_l_to_mg_dl(x: npt.ArrayLike) -> FloatArray:
    out: FloatArray = np.asarray(x, dtype=np.float64) / creatinine_factor()
    return out


def creatinine_mg_dl_to_umol_l(x: npt.ArrayLike) -> FloatArray:
    out: FloatArray = np.asarray(x, dtype=np.float64) * creatinine_factor()
    return out


def vitamin_d_ng_ml_to_nmol_l(x: npt.ArrayLike) -> FloatArray:
    """25(OH)D ng/mL -> nmol/L. The factor is UNVERIFIED: carry that status with the result."""
    out: FloatArray = np.asarray(x, dtype=np.float64) * vitamin_d_factor()
    return out


def vitamin_d_nmol_l_to_ng_ml(x: npt.ArrayLike) -> FloatArray:
    """25(OH)D nmol/L -> ng/mL. The factor is UNVERIFIED: carry that status with the result."""
    out: FloatArray = np.asarray(x, dtype=np.float64) / vitamin_d_factor()
    return out


def _norm(unit: str) -> str:
    return "".join(unit.split()).casefold()


@cache
def _spellings(fact: str) -> dict[str, str]:
    table: dict[str, list[str]] = load(KNOWLEDGE_ID).value(fact)
    return {_norm(s): canonical for canonical, spellings in table.items() for s in [canonical, *spellings]}


def _canonical(fact: str, unit: object, field: str) -> str:
    spellings = _spellings(fact)
    if isinstance(unit, str) and _norm(unit) in spellings:
        return spellings[_norm(unit)]
    allowed = " or ".join(sorted(set(spellings.values())))
    raise InputError(field, unit, f"a unit of {allowed}")


def canonical_creatinine_unit(unit: object, field: str = "creatinine unit") -> str:
    """``"umol/L"`` or ``"mg/dL"`` for an accepted spelling; otherwise :class:`InputError`."""
    return _canonical("creatinine_unit_spellings", unit, field)


def canonical_vitamin_d_unit(unit: object, field: str = "vitamin D unit") -> str:
    """``"nmol/L"`` or ``"ng/mL"`` for an accepted spelling; otherwise :class:`InputError`."""
    return _canonical("vitamin_d_unit_spellings", unit, field)


def creatinine_to_mg_dl(value: npt.ArrayLike, unit: str, field: str = "creatinine unit") -> FloatArray:
    """Creatinine in any accepted unit -> mg/dL."""
    if canonical_creatinine_unit(unit, field) == UMOL_L:
        return creatinine_umol_l_to_mg_dl(value)
    out: FloatArray = np.asarray(value, dtype=np.float64)
    return out


#: lab names read with the 25-hydroxyvitamin D unit spellings (as the FHIR importer reads them)
VITAMIN_D_LABS: Final = ("vitamin_d_25oh", "vitamin_d2_25oh")


@cache
def _lab_unit_table() -> dict[str, dict[str, str]]:
    """Lab name -> {normalised spelling: canonical unit} for every lab whose units a knowledge file lists:
    creatinine and 25-OH vitamin D from this file's spellings; the others from the LOINC code map's
    ``lab_units`` (codes.md 2.3) with its ``unit_spellings``. A lab not in the table has no unit list in the
    knowledge, so its unit is not checked."""
    loinc = load("codes-loinc")
    spellings: dict[str, list[str]] = loinc.value("unit_spellings")
    table: dict[str, dict[str, str]] = {}
    for lab, units in loinc.value("lab_units").items():
        table[str(lab)] = {_norm(s): str(u) for u in units for s in [u, *spellings.get(u, [])]}
    table["creatinine"] = _spellings("creatinine_unit_spellings")
    for lab in VITAMIN_D_LABS:
        table[lab] = _spellings("vitamin_d_unit_spellings")
    return table


def lab_units(name: str) -> tuple[str, ...] | None:
    """The canonical units the knowledge lists for lab ``name``, or ``None`` when it lists none."""
    table = _lab_unit_table().get(name)
    return None if table is None else tuple(sorted(set(table.values())))


def canonical_lab_unit(name: str, unit: object, field: str = "unit") -> str | None:
    """The canonical unit of ``unit`` for lab ``name`` (``None`` when the knowledge lists no units for it,
    so any unit is kept as written); a unit the knowledge does not list for the lab raises
    :class:`InputError` naming the field, the value and the allowed units."""
    table = _lab_unit_table().get(name)
    if table is None:
        return None
    if isinstance(unit, str) and _norm(unit) in table:
        return table[_norm(unit)]
    allowed = " or ".join(sorted(set(table.values())))
    raise InputError(field, unit, f"a unit of {allowed} for {name} (the units the knowledge lists for it)")
