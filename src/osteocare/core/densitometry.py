"""Bone densitometry: T-scores, cross-manufacturer standardisation (sBMD), WHO categories, ISCD positions,
precision and least significant change (LSC).

Every clinical number comes from a knowledge file (shared/knowledge/bone-density.md):

* ``nhanes3-hip``, ``vietnam-hanoi-2009-lunar`` (``reference_populations/``) - young-adult references. A file
  declares a named reference with a ``reference_<id>`` fact (label, sexes, device scale, what to do with
  other devices) and its values as ``<id>_<site>_mean_g_cm2`` / ``_sd_g_cm2``.
* ``sbmd-cross-calibration`` - Hanson 1997 (total hip), Lu 2001 (femoral neck, trochanter), Hui 1997 (spine).
* ``who-bmd-categories``, ``iscd-adult-positions``, ``precision-lsc``.

The kernels work on numpy arrays (one patient or ten million). Computed scores are kept at full precision;
they are rounded to one decimal, half away from zero, only for classification and display (CONVENTION),
so that (0.558 - 0.858) / 0.120 = -2.4999999999999996 is classified as osteoporosis.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, Literal, NamedTuple, get_args

import numpy as np
import numpy.typing as npt

from .errors import InputError, NotApplicable
from .knowledge import all_files, load
from .limits import check_range
from .numeric import round_half_away
from .parts import PartKind, num, nums, part
from .records import DxaMeasurement, Manufacturer, PatientRecord, Site
from .results import CalculatorResult, Citation, Quantity, RuleFired, cite
from .status import Status, lowest

__all__ = [
    "LOW_BONE_MASS",
    "NORMAL",
    "OSTEOPOROSIS",
    "SEVERE_OSTEOPOROSIS",
    "WHO_CATEGORIES",
    "Z_BELOW_EXPECTED",
    "Z_WITHIN_EXPECTED",
    "DecidingT",
    "Reference",
    "TScores",
    "assess_bone_density",
    "bmd_change",
    "compare_scans",
    "convert_bmd",
    "deciding_t_scores",
    "least_significant_change",
    "lowest_score",
    "precision_study",
    "record_deciding_t_scores",
    "reference",
    "references",
    "rms_sd",
    "significant_change",
    "standardized_bmd_mg_cm2",
    "t_score",
    "who_category",
    "who_grade",
    "z_category",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]
ObjArray = npt.NDArray[np.object_]

CALCULATOR: Final = "bone-density"
NAME: Final = "Bone density diagnosis (WHO categories, ISCD positions)"

SBMD_ID: Final = "sbmd-cross-calibration"
WHO_ID: Final = "who-bmd-categories"
ISCD_ID: Final = "iscd-adult-positions"
LSC_ID: Final = "precision-lsc"
HCMC_ID: Final = "vietnam-hcmc-2011-hologic"

MANUFACTURERS: Final[tuple[str, ...]] = get_args(Manufacturer)
SITES: Final[tuple[str, ...]] = get_args(Site)
HIP_SITES: Final = ("femoral_neck", "trochanter", "total_hip")
SPINE: Final = "lumbar_spine"
_G_TO_MG: Final = 1000.0  # unit conversion g -> mg, not a clinical number

# WHO categories (ordinal grade 0..3) and ISCD Z-score categories, as codes.
NORMAL: Final = "normal"
LOW_BONE_MASS: Final = "low_bone_mass"
OSTEOPOROSIS: Final = "osteoporosis"
SEVERE_OSTEOPOROSIS: Final = "severe_osteoporosis"
WHO_CATEGORIES: Final = (NORMAL, LOW_BONE_MASS, OSTEOPOROSIS, SEVERE_OSTEOPOROSIS)
Z_BELOW_EXPECTED: Final = "below_expected_range_for_age"
Z_WITHIN_EXPECTED: Final = "within_expected_range_for_age"

# Row reason codes of :func:`t_score` (0 = computed).
OK, MISSING_BMD, MISSING_MANUFACTURER, DEVICE_NOT_ALLOWED, SEX_NOT_COVERED = 0, 1, 2, 3, 4
T_REASONS: Final[dict[int, str]] = {
    MISSING_BMD: "BMD is missing",
    MISSING_MANUFACTURER: (
        "the densitometer manufacturer is not recorded; a raw BMD cannot be referenced without it (each "
        "manufacturer has its own scale) and OsteoCare does not guess it"
    ),
    DEVICE_NOT_ALLOWED: (
        "the reference applies only to measurements from its own device scale; converting another "
        "manufacturer's BMD to use it is not validated (never mix references and devices)"
    ),
    SEX_NOT_COVERED: "the reference does not cover the patient's sex",
}


def _kcite(knowledge_id: str, source_id: str | None = None) -> Citation:
    return cite(knowledge_id, source_id)


def _fact_status(knowledge_id: str, *names: str) -> Status:
    kf = load(knowledge_id)
    return lowest(kf.fact(n).status for n in names)


def _labels(x: object) -> ObjArray:
    a: ObjArray = np.asarray(x, dtype=object)
    return a


def _broadcast(*arrays: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    if shape == ():
        shape = (1,)
    return [np.broadcast_to(a, shape) for a in arrays]


def _missing_label(a: ObjArray) -> BoolArray:
    out: BoolArray = np.asarray(np.frompyfunc(lambda v: v is None or v == "", 1, 1)(a), dtype=bool)
    return out


def _member(a: ObjArray, allowed: Sequence[str]) -> BoolArray:
    ok = frozenset(allowed)
    out: BoolArray = np.asarray(np.frompyfunc(lambda v: v in ok, 1, 1)(a), dtype=bool)
    return out


def _check_labels(field_name: str, a: ObjArray, allowed: Sequence[str]) -> None:
    bad = ~(_missing_label(a) | _member(a, allowed))
    if bad.any():
        raise InputError(field_name, a[bad].flat[0], "one of " + ", ".join(allowed))


# --- sBMD cross-calibration -------------------------------------------------------------------------


@cache
def _sbmd_coefficients(site: str) -> tuple[dict[str, tuple[float, float]], float | None, str]:
    """(manufacturer -> coefficients, spine offset or None for the hip, source id) for ``site``."""
    kf = load(SBMD_ID)
    if site in HIP_SITES:
        f = kf.fact(f"hip_{site}")
        offset = None
    elif site == SPINE:
        f = kf.fact("spine_lumbar_spine")
        offset = float(kf.value("spine_sbmd_offset_g_cm2"))
    else:
        raise InputError("site", site, "one of " + ", ".join((*HIP_SITES, SPINE)) + " (sBMD equations)")
    table = {str(m): (float(v[0]), float(v[1])) for m, v in f.value.items()}
    return table, offset, f.source


def _standard_g_cm2(bmd: FloatArray, site: str, manufacturer: ObjArray) -> FloatArray:
    table, offset, _ = _sbmd_coefficients(site)
    out = np.full(bmd.shape, np.nan)
    for m, (p, q) in table.items():
        sel = manufacturer == m
        if offset is None:  # hip: a + b x BMD
            out = np.where(sel, p + q * bmd, out)
        else:  # spine: k x (BMD - c) + offset
            out = np.where(sel, p * (bmd - q) + offset, out)
    return out


def _from_standard_g_cm2(sbmd: FloatArray, site: str, manufacturer: ObjArray) -> FloatArray:
    table, offset, _ = _sbmd_coefficients(site)
    out = np.full(sbmd.shape, np.nan)
    for m, (p, q) in table.items():
        sel = manufacturer == m
        if offset is None:  # hip: (sBMD - a) / b
            out = np.where(sel, (sbmd - p) / q, out)
        else:  # spine: (sBMD - offset) / k + c
            out = np.where(sel, (sbmd - offset) / p + q, out)
    return out


def standardized_bmd_mg_cm2(bmd_g_cm2: npt.ArrayLike, *, site: str, manufacturer: object) -> FloatArray:
    """Standardised BMD (sBMD, mg/cm2) of a manufacturer's BMD (g/cm2).

    Hip sites (Hanson 1997 total hip, Lu 2001 femoral neck/trochanter): 1000 x (a + b x BMD); lumbar spine
    (Hui 1997): 1000 x (k x (BMD - c) + 1.0436). ``manufacturer`` is one label or an array of labels
    (``hologic``, ``ge_lunar``, ``norland``); a missing label (None or "") gives NaN.
    """
    bmd = np.asarray(bmd_g_cm2, dtype=np.float64)
    man = _labels(manufacturer)
    _check_labels("manufacturer", man, MANUFACTURERS)
    bmd, man = _broadcast(bmd, man)
    out: FloatArray = _G_TO_MG * _standard_g_cm2(bmd, site, man)
    return out


def convert_bmd(
    bmd_g_cm2: npt.ArrayLike, *, site: str, from_manufacturer: object, to_manufacturer: object
) -> FloatArray:
    """BMD (g/cm2) on another manufacturer's scale: sBMD with the source equation, then the target's inverse.

    Same manufacturer -> the value unchanged. Missing labels give NaN.
    """
    bmd = np.asarray(bmd_g_cm2, dtype=np.float64)
    src, dst = _labels(from_manufacturer), _labels(to_manufacturer)
    _check_labels("from_manufacturer", src, MANUFACTURERS)
    _check_labels("to_manufacturer", dst, MANUFACTURERS)
    bmd, src, dst = _broadcast(bmd, src, dst)
    converted = _from_standard_g_cm2(_standard_g_cm2(bmd, site, src), site, dst)
    same = (src == dst) & ~_missing_label(src)
    out: FloatArray = np.where(same, bmd, converted)
    return out


# --- references and T-scores ------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteReference:
    mean_g_cm2: float
    sd_g_cm2: float
    status: Status


@dataclass(frozen=True)
class Reference:
    """A named young-adult reference read from a ``reference_populations`` knowledge file."""

    id: str
    label: str
    knowledge_id: str
    source_id: str
    sexes: tuple[str, ...]
    scale: str
    other_devices: Literal["convert_via_sbmd", "refuse"]
    status: Status
    sites: Mapping[str, SiteReference] = field(default_factory=dict)


@cache
def references() -> dict[str, Reference]:
    """Every named reference in the knowledge release, by id (e.g. ``nhanes3_white_female``)."""
    out: dict[str, Reference] = {}
    for kid, kf in all_files().items():
        if kf.kind != "reference_population":
            continue
        for name, fact in kf.facts.items():
            if not name.startswith("reference_") or not isinstance(fact.value, dict):
                continue
            rid = name.removeprefix("reference_")
            sites: dict[str, SiteReference] = {}
            for site in SITES:
                m, s = f"{rid}_{site}_mean_g_cm2", f"{rid}_{site}_sd_g_cm2"
                if m in kf.facts and s in kf.facts:
                    sites[site] = SiteReference(
                        mean_g_cm2=float(kf.value(m)),
                        sd_g_cm2=float(kf.value(s)),
                        status=lowest([kf.fact(m).status, kf.fact(s).status]),
                    )
            v = fact.value
            other = str(v["other_devices"])
            if other not in ("convert_via_sbmd", "refuse"):
                raise InputError(f"{kid}.{name}.other_devices", other, "convert_via_sbmd or refuse")
            out[rid] = Reference(
                id=rid,
                label=str(v["label"]),
                knowledge_id=kid,
                source_id=fact.source,
                sexes=tuple(str(x) for x in v["sexes"]),
                scale=str(v["scale"]),
                other_devices=other,  # type: ignore[arg-type]
                status=lowest([fact.status]),
                sites=sites,
            )
    return out


def reference(reference_id: str) -> Reference:
    refs = references()
    if reference_id not in refs:
        raise InputError("reference", reference_id, "one of " + ", ".join(sorted(refs)))
    return refs[reference_id]


class TScores(NamedTuple):
    """T-scores of many measurements against one reference, with where each came from."""

    t_score: FloatArray  # full precision; NaN where not computed (see ``reason``)
    reason: IntArray  # 0 = computed, else a key of T_REASONS
    reference: str  # reference id, e.g. "nhanes3_white_female"
    reference_label: str
    device: ObjArray  # manufacturer of each measurement
    reference_scale_bmd_g_cm2: FloatArray  # BMD on the reference's scale (converted through sBMD if needed)
    converted: BoolArray  # True where the BMD was converted through sBMD
    status: Status  # lowest status of the facts used (reference values; sBMD where converted)
    knowledge_ids: tuple[str, ...]  # knowledge files used


def t_score(
    bmd_g_cm2: npt.ArrayLike,
    *,
    site: str,
    manufacturer: object,
    sex: object,
    reference_id: str = "nhanes3_white_female",
    errors: Literal["raise", "flag"] = "raise",
) -> TScores:
    """T = (BMD - mean_young) / SD_young against a named reference, manufacturer-aware.

    A BMD from a manufacturer other than the reference's scale is converted through sBMD (hip: Hanson 1997 /
    Lu 2001) when the reference allows it (NHANES III), and refused when it does not (Vietnam Hanoi 2009 is
    GE-Lunar only). A site the reference has no values for (e.g. the spine in NHANES III) always raises
    :class:`NotApplicable`. Rows that cannot be scored raise :class:`NotApplicable` (``errors="raise"``,
    the single-patient default) or get NaN and a reason code (``errors="flag"``, for screening).
    """
    ref = reference(reference_id)
    if site not in ref.sites:
        extra = " (NHANES III has no spine data: use the densitometer's T-score)" if site == SPINE else ""
        raise NotApplicable(
            "t-score", f"the reference {ref.label!r} has no values for site {site!r}{extra}"
        )
    sref = ref.sites[site]
    bmd = np.asarray(bmd_g_cm2, dtype=np.float64)
    man, sx = _labels(manufacturer), _labels(sex)
    _check_labels("manufacturer", man, MANUFACTURERS)
    _check_labels("sex", sx, ("female", "male"))
    bmd, man, sx = _broadcast(bmd, man, sx)

    reason = np.zeros(bmd.shape, dtype=np.int64)
    on_scale = man == ref.scale
    reason = np.where(~on_scale & (ref.other_devices == "refuse"), DEVICE_NOT_ALLOWED, reason)
    reason = np.where(_missing_label(man), MISSING_MANUFACTURER, reason)
    reason = np.where(~_member(sx, ref.sexes), SEX_NOT_COVERED, reason)
    reason = np.where(np.isnan(bmd), MISSING_BMD, reason)
    if errors == "raise" and (reason != OK).any():
        first = int(reason[reason != OK].flat[0])
        raise NotApplicable("t-score", f"{ref.label}, {site}: {T_REASONS[first]}")

    converted = (reason == OK) & ~on_scale
    scale = np.full(bmd.shape, ref.scale, dtype=object)
    on_ref_scale = bmd.copy()
    if converted.any():
        on_ref_scale = np.where(converted, _from_standard_g_cm2(_standard_g_cm2(bmd, site, man), site, scale), bmd)
    t = (on_ref_scale - sref.mean_g_cm2) / sref.sd_g_cm2
    t = np.where(reason == OK, t, np.nan)
    statuses = [ref.status, sref.status]
    kids = [ref.knowledge_id]
    if converted.any():
        statuses.append(_fact_status(SBMD_ID, f"hip_{site}" if site in HIP_SITES else "spine_lumbar_spine"))
        kids.append(SBMD_ID)
    return TScores(
        t_score=t,
        reason=reason,
        reference=ref.id,
        reference_label=ref.label,
        device=np.asarray(man, dtype=object),
        reference_scale_bmd_g_cm2=np.where(reason == OK, on_ref_scale, np.nan),
        converted=converted,
        status=lowest(statuses),
        knowledge_ids=tuple(kids),
    )


# --- WHO categories and ISCD Z-score categories -----------------------------------------------------


@cache
def _who_thresholds() -> tuple[float, float, int, int]:
    kf = load(WHO_ID)
    return (
        float(kf.value("normal_t_score_min")),
        float(kf.value("osteoporosis_t_score_max")),
        int(kf.value("severe_min_fragility_fractures")),
        int(kf.value("classification_rounding_decimals")),
    )


def who_grade(lowest_t_score: npt.ArrayLike, fragility_fractures: npt.ArrayLike = 0) -> IntArray:
    """Ordinal WHO grade: 0 normal, 1 low bone mass, 2 osteoporosis, 3 severe; -1 where T is NaN.

    The T-score is rounded to one decimal, half away from zero, before the comparison (CONVENTION).
    ``fragility_fractures`` is a count or a bool (True = at least one).
    """
    normal_min, osteo_max, severe_n, ndigits = _who_thresholds()
    t = round_half_away(np.asarray(lowest_t_score, dtype=np.float64), ndigits)
    frac = np.asarray(fragility_fractures).astype(np.int64)
    t, frac = _broadcast(t, frac)
    grade = np.where(t >= normal_min, 0, np.where(t <= osteo_max, 2, 1))
    grade = np.where((grade == 2) & (frac >= severe_n), 3, grade)
    out: IntArray = np.where(np.isnan(t), -1, grade).astype(np.int64)
    return out


def who_category(lowest_t_score: npt.ArrayLike, fragility_fracture: npt.ArrayLike = False) -> StrArray:
    """WHO category code per row (``normal`` ... ``severe_osteoporosis``); "" where the T-score is missing.

    Use on the lowest T-score of the eligible sites, for postmenopausal women and men >= 50 (ISCD).
    """
    grade = who_grade(lowest_t_score, fragility_fracture)
    names = np.array([*WHO_CATEGORIES, ""], dtype=np.str_)  # index -1 -> ""
    out: StrArray = names[grade]
    return out


@cache
def _z_threshold() -> tuple[float, int]:
    kf = load(ISCD_ID)
    return float(kf.value("z_score_below_expected_max")), int(kf.value("z_score_rounding_decimals"))


def z_category(lowest_z_score: npt.ArrayLike) -> StrArray:
    """ISCD: Z <= -2.0 -> ``below_expected_range_for_age``, else ``within_expected_range_for_age``; "" if NaN."""
    zmax, ndigits = _z_threshold()
    z = np.atleast_1d(round_half_away(np.asarray(lowest_z_score, dtype=np.float64), ndigits))
    out: StrArray = np.where(
        np.isnan(z), "", np.where(z <= zmax, Z_BELOW_EXPECTED, Z_WITHIN_EXPECTED)
    ).astype(np.str_)
    return out


@cache
def diagnostic_sites() -> tuple[str, ...]:
    return tuple(str(s) for s in load(ISCD_ID).value("diagnostic_sites"))


def lowest_score(
    scores: Mapping[str, npt.ArrayLike], ndigits: int = 1, *, with_site: bool = True
) -> tuple[FloatArray, StrArray]:
    """Lowest score per row over the ISCD diagnostic sites, rounded half away from zero to ``ndigits``.

    Returns (lowest rounded score, site code); NaN and "" where no site has a value. Ties go to the first
    site in the ISCD order (lumbar spine, total hip, femoral neck, 33% radius). ``with_site=False`` skips
    the site codes (an empty array), for screening millions of rows.
    """
    order = diagnostic_sites()
    for s in scores:
        if s not in order:
            raise InputError("site", s, "one of the ISCD diagnostic sites " + ", ".join(order))
    sites = [s for s in order if s in scores]
    if not sites:
        raise InputError("scores", {}, "at least one of " + ", ".join(order))
    stacked = np.stack(
        _broadcast(*(round_half_away(np.asarray(scores[s], dtype=np.float64), ndigits) for s in sites))
    )
    if not with_site:
        low_only: FloatArray = np.fmin.reduce(stacked, axis=0)
        return low_only, np.array([], dtype=np.str_)
    filled = np.where(np.isnan(stacked), np.inf, stacked)
    idx = np.argmin(filled, axis=0)
    low = np.take_along_axis(stacked, idx[None, ...], axis=0)[0]
    none = np.isnan(stacked).all(axis=0)
    names = np.array(sites, dtype=np.str_)
    site_out: StrArray = np.where(none, "", names[idx]).astype(np.str_)
    low_out: FloatArray = np.where(none, np.nan, low)
    return low_out, site_out


# --- precision and least significant change ---------------------------------------------------------


@cache
def _lsc_facts() -> tuple[float, int, int]:
    kf = load(LSC_ID)
    return (
        float(kf.value("lsc_multiplier")),
        int(kf.value("comparison_decimals_g_cm2")),
        int(kf.value("comparison_decimals_percent")),
    )


def least_significant_change(precision_error: npt.ArrayLike) -> FloatArray:
    """LSC (95% confidence) = 2.77 x precision error, in the precision error's unit (g/cm2 or %)."""
    mult = _lsc_facts()[0]
    out: FloatArray = mult * np.asarray(precision_error, dtype=np.float64)
    return out


def rms_sd(repeat_scans_g_cm2: npt.ArrayLike) -> float:
    """Root-mean-square SD (g/cm2) of a precision study: rows = patients, columns = repeat scans.

    RMS-SD = sqrt(sum_j SD_j^2 / m), SD_j the sample SD of patient j's scans (UNVERIFIED formula, see
    ``precision-lsc``). Every patient needs at least two scans and no missing value.
    """
    a = np.asarray(repeat_scans_g_cm2, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 2:
        raise InputError("repeat_scans_g_cm2", a.shape, "a table of patients x at least 2 scans each")
    if np.isnan(a).any():
        raise InputError("repeat_scans_g_cm2", "NaN", "a BMD for every scan (drop incomplete patients)")
    sd = np.std(a, axis=1, ddof=1)
    return float(np.sqrt(np.mean(sd * sd)))


def bmd_change(
    bmd_before: npt.ArrayLike, bmd_after: npt.ArrayLike, *, unit: Literal["g/cm2", "%"] = "g/cm2"
) -> FloatArray:
    """Change after - before, in g/cm2 or as % of the earlier value."""
    before = np.asarray(bmd_before, dtype=np.float64)
    after = np.asarray(bmd_after, dtype=np.float64)
    if unit == "g/cm2":
        out: FloatArray = after - before
    elif unit == "%":
        out = 100.0 * (after - before) / before
    else:
        raise InputError("unit", unit, "g/cm2 or %")
    return out


def significant_change(
    bmd_before: npt.ArrayLike,
    bmd_after: npt.ArrayLike,
    lsc: npt.ArrayLike,
    *,
    unit: Literal["g/cm2", "%"] = "g/cm2",
) -> BoolArray:
    """True where |change| >= LSC (ISCD: the change must equal or exceed the LSC); False where NaN.

    ``lsc`` is in ``unit`` (g/cm2, or % of the earlier BMD). Change and LSC are rounded half away from zero
    to 4 decimals (g/cm2) or 2 decimals (%) before the comparison (CONVENTION, ``precision-lsc``).
    """
    _, dec_g, dec_pct = _lsc_facts()
    nd = dec_g if unit == "g/cm2" else dec_pct
    change = round_half_away(np.abs(bmd_change(bmd_before, bmd_after, unit=unit)), nd)
    limit = round_half_away(np.asarray(lsc, dtype=np.float64), nd)
    with np.errstate(invalid="ignore"):
        out: BoolArray = np.atleast_1d(np.asarray(change >= limit, dtype=bool))
    return out


def precision_study(repeat_scans_g_cm2: npt.ArrayLike, *, site: str | None = None) -> CalculatorResult:
    """A facility precision study: RMS-SD and LSC (g/cm2), with the ISCD design check."""
    res = CalculatorResult(
        calculator="precision-lsc", name="DXA precision error and least significant change",
        citations=[_kcite(LSC_ID, "ISCD")],
    )
    a = np.asarray(repeat_scans_g_cm2, dtype=np.float64)
    sd = rms_sd(a)
    check_range("precision error (RMS-SD)", sd, "precision_error_g_cm2")
    lsc = float(least_significant_change(sd).item())
    kf = load(LSC_ID)
    m, k = a.shape
    designs = [(int(p), int(s)) for p, s in kf.value("precision_study_designs")]
    if not any(m >= p and k >= s for p, s in designs):
        res.warnings.append(
            f"Precision study of {m} patients x {k} scans is smaller than the ISCD designs ("
            + " or ".join(f"{p} patients x {s} scans" for p, s in designs) + "); the LSC is unreliable."
        )
    res.values = {
        "rms_sd_g_cm2": Quantity(value=sd, unit="g/cm2"),
        "lsc_g_cm2": Quantity(value=lsc, unit="g/cm2"),
        "patients": Quantity(value=m, unit="1"),
        "scans_per_patient": Quantity(value=k, unit="1"),
    }
    if site is not None:
        res.values["site"] = Quantity(value=site, unit="1")
    res.rules_fired = [
        RuleFired(rule_id="RMS-SD", text="RMS-SD = sqrt(sum of the patients' squared SDs / patients).",
                  status=_fact_status(LSC_ID, "rms_sd_formula"), citations=(_kcite(LSC_ID, "ISCD"),)),
        RuleFired(rule_id="LSC-95", parts=(nums("LSC = {multiplier} x precision error (95% confidence).",
                                               multiplier=num(_lsc_facts()[0], "g")),),
                  status=_fact_status(LSC_ID, "lsc_multiplier"), citations=(_kcite(LSC_ID, "ISCD"),)),
    ]
    res.warnings.append("LSC is site- and device-specific: recalculate after a new instrument or relocation.")
    return res.finish()


def compare_scans(
    before: DxaMeasurement,
    after: DxaMeasurement,
    *,
    precision_error: float,
    unit: Literal["g/cm2", "%"] = "g/cm2",
) -> CalculatorResult:
    """Is the BMD change between two scans of one site significant (|change| >= LSC)?

    Refuses (not applicable) scans of different sites, scans without a BMD, and scans from different
    manufacturers or device models (ISCD: compare only same-device scans; cross-calibrate otherwise).
    """
    name = "BMD change against the least significant change"
    res = CalculatorResult(calculator="bmd-change", name=name, citations=[_kcite(LSC_ID, "ISCD")])
    check_range("precision_error", precision_error,
                "precision_error_g_cm2" if unit == "g/cm2" else "precision_error_percent")
    problem = None
    if before.site != after.site:
        problem = f"the scans are of different sites ({before.site}, {after.site})"
    elif before.bmd_g_cm2 is None or after.bmd_g_cm2 is None:
        problem = "both scans need a BMD in g/cm2"
    elif before.manufacturer is None or after.manufacturer is None:
        problem = "the manufacturer of each scan must be recorded to know they come from the same device"
    elif before.manufacturer != after.manufacturer or (
        before.device_model and after.device_model and before.device_model != after.device_model
    ):
        problem = (
            "the scans come from different devices; ISCD: compare only scans from the same device "
            "(cross-calibrate the devices first)"
        )
    if problem:
        res.applicable = False
        res.reason = problem
        return res
    assert before.bmd_g_cm2 is not None and after.bmd_g_cm2 is not None
    lsc = float(least_significant_change(precision_error).item())
    change = float(bmd_change(before.bmd_g_cm2, after.bmd_g_cm2, unit=unit).item())
    sig = bool(significant_change(before.bmd_g_cm2, after.bmd_g_cm2, lsc, unit=unit).item())
    direction = "decrease" if change < 0 else "increase"
    res.category = f"significant_{direction}" if sig else "no_significant_change"
    res.values = {
        "change": Quantity(value=change, unit=unit),
        "lsc": Quantity(value=lsc, unit=unit),
        "precision_error": Quantity(value=precision_error, unit=unit),
    }
    res.rules_fired = [
        RuleFired(rule_id="LSC-95", parts=(part("LSC = {multiplier} x {precision} {unit} = {lsc} {unit}.",
                                                {"multiplier": "num", "precision": "num", "lsc": "num"},
                                                multiplier=num(_lsc_facts()[0], "g"), precision=num(precision_error, "g"),
                                                lsc=num(lsc, ".4g"), unit=unit),),
                  status=_fact_status(LSC_ID, "lsc_multiplier"), citations=(_kcite(LSC_ID, "ISCD"),)),
        RuleFired(
            rule_id="LSC-SIGNIFICANCE",
            parts=(part("|change| {change} {unit} >= LSC {lsc} {unit}." if sig else
                        "|change| {change} {unit} < LSC {lsc} {unit}.", {"change": "num", "lsc": "num"},
                        change=num(abs(change), ".4g"), lsc=num(lsc, ".4g"), unit=unit),),
            status=_fact_status(LSC_ID, "significance_rule"), citations=(_kcite(LSC_ID, "ISCD"),),
        ),
        RuleFired(rule_id="ISCD-SAME-DEVICE", text="Both scans come from the same device.",
                  status=_fact_status(ISCD_ID, "follow_up_same_device"),
                  citations=(_kcite(ISCD_ID, "Kendler2019"),)),
    ]
    if unit == "%":
        mins = load(LSC_ID).value("min_acceptable_precision_percent")
        if before.site in mins and precision_error > float(mins[before.site]):
            res.warnings.append(
                f"Precision error {precision_error:g}% is worse than the ISCD minimum acceptable precision "
                f"for {before.site} ({mins[before.site]}%; status: secondary)."
            )
    return res.finish()


# --- single-patient assessment ----------------------------------------------------------------------


@dataclass
class _SiteData:
    site: str
    date: dt.date | None
    origin: str  # "dxa" or "record"
    bmd: float | None = None
    manufacturer: str | None = None
    device_model: str | None = None
    reported_t: float | None = None
    reported_reference: str | None = None
    reported_z: float | None = None
    evaluable_vertebrae: int | None = None


@dataclass
class _TEntry:
    site: str
    t: float
    rounded: float
    reference: str  # reference id or "densitometer_report"
    reference_label: str
    origin: str  # "densitometer report" or "computed"
    status: Status
    device: str | None
    device_model: str | None = None
    bmd_g_cm2: float | None = None
    reference_scale_bmd_g_cm2: float | None = None
    converted: bool = False
    decides: bool = False
    eligible: bool = True
    knowledge_ids: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "knowledge_ids"}


def _select_measurements(record: PatientRecord, as_of: dt.date, res: CalculatorResult) -> dict[str, _SiteData]:
    """Most recent dxa entry per site up to ``as_of``; flat record fields fill sites with no entry."""
    chosen: dict[str, DxaMeasurement] = {}
    for m in record.dxa:
        if m.date is not None and m.date > as_of:
            res.warnings.append(f"{m.site}: the DXA measurement of {m.date} is after the assessment date ({as_of}) "
                                "and is not used.")
            continue
        cur = chosen.get(m.site)
        if cur is None or (m.date is not None and (cur.date is None or m.date > cur.date)):
            chosen[m.site] = m
    out: dict[str, _SiteData] = {}
    for site, m in chosen.items():
        if m.date is None:
            res.warnings.append(f"{site}: the DXA measurement has no date; it is used as the most recent one.")
        out[site] = _SiteData(
            site=site, date=m.date, origin="dxa", bmd=m.bmd_g_cm2, manufacturer=m.manufacturer,
            device_model=m.device_model, reported_t=m.t_score, reported_reference=m.reference,
            reported_z=m.z_score, evaluable_vertebrae=m.evaluable_vertebrae,
        )
    flat_t = {
        "femoral_neck": record.femoral_neck_t_score,
        "total_hip": record.total_hip_t_score,
        "lumbar_spine": record.lumbar_spine_t_score,
    }
    for site, t in flat_t.items():
        bmd = record.femoral_neck_bmd_g_cm2 if site == "femoral_neck" else None
        if t is None and bmd is None:
            continue
        if site in out:
            d = out[site]
            if (t is not None and t != d.reported_t) or (bmd is not None and bmd != d.bmd):
                res.warnings.append(
                    f"{site}: the record's summary field differs from the DXA exam of {d.date or 'unknown date'}; "
                    "the DXA exam is used."
                )
            continue
        out[site] = _SiteData(
            site=site, date=None, origin="record", bmd=bmd,
            manufacturer=record.densitometer_manufacturer if bmd is not None else None, reported_t=t,
        )
    return out


def _population(record: PatientRecord, res: CalculatorResult) -> tuple[str, RuleFired]:
    """'t' (T-scores, WHO categories) or 'z' (Z-scores), with the rule that decided it."""
    iscd = load(ISCD_ID)
    men_age = int(iscd.value("t_score_men_min_age"))
    cites = (_kcite(ISCD_ID, "ISCD"),)
    pop_status = _fact_status(ISCD_ID, "t_score_men_min_age")
    if record.sex == "male":
        if record.age >= men_age:
            return "t", RuleFired(rule_id="ISCD-T-SCORE-GROUP", status=pop_status, citations=cites, parts=(
                nums("Man aged {age} (>= {min_age}): T-scores with WHO categories.", age=num(record.age),
                     min_age=num(men_age)),))
        return "z", RuleFired(
            rule_id="ISCD-Z-SCORE-GROUP", status=pop_status, citations=cites,
            parts=(nums("Man aged {age} (< {min_age}): Z-scores; osteoporosis cannot be diagnosed on BMD alone.",
                        age=num(record.age), min_age=num(men_age)),),
        )
    status: str | None = record.menopausal_status
    if status is None:
        age_cut = int(iscd.value("unknown_menopause_postmenopausal_from_age"))
        status = "postmenopausal" if record.age >= age_cut else "premenopausal"
        res.warnings.append(
            f"Menopausal status not recorded: treated as {status} from age {record.age} "
            f"(OsteoCare convention: postmenopausal from age {age_cut}). Record it to confirm."
        )
    elif status == "perimenopausal":
        status = str(iscd.value("perimenopausal_treated_as"))
        res.warnings.append(
            f"Perimenopausal: assessed as {status} with Z-scores (OsteoCare convention; ISCD positions name "
            "pre- and postmenopausal women only)."
        )
    if status == "postmenopausal":
        return "t", RuleFired(rule_id="ISCD-T-SCORE-GROUP", status=pop_status, citations=cites,
                              text="Postmenopausal woman: T-scores with WHO categories.")
    return "z", RuleFired(rule_id="ISCD-Z-SCORE-GROUP", status=pop_status, citations=cites,
                          text="Premenopausal woman: Z-scores, not T-scores.")


#: The label of a T-score the densitometer reported without naming its reference: OsteoCare's own words.
REPORTED_REFERENCE_LABEL: Final = "densitometer report (manufacturer reference)"


def _site_t_kinds(reference_label: str) -> dict[str, PartKind]:
    """How the values of a site's T-score sentence are shown: the site by its name; the reference by its name
    where it is OsteoCare's own label, else as recorded (a label typed from a report stays as typed)."""
    return {"site": "term", "t": "num", "reference": "term" if reference_label == REPORTED_REFERENCE_LABEL else "en"}


def _fragility_fracture(record: PatientRecord, as_of: dt.date, res: CalculatorResult) -> bool:
    dated = [f for f in record.fractures if f.fragility and (f.date is None or f.date <= as_of)]
    if dated:
        return True
    if record.prior_fracture and bool(load(ISCD_ID).value("prior_fracture_flag_is_fragility")):
        res.warnings.append(
            "prior_fracture is counted as a fragility fracture (OsteoCare convention; the flag does not "
            "record the mechanism)."
        )
        return True
    return False


def _t_entries(
    record: PatientRecord, data: dict[str, _SiteData], res: CalculatorResult, notes: list[str]
) -> list[_TEntry]:
    iscd = load(ISCD_ID)
    uniform = str(iscd.value("uniform_hip_reference"))
    min_vert = int(iscd.value("min_evaluable_vertebrae"))
    entries: list[_TEntry] = []
    local = [r for r in references().values() if r.other_devices == "refuse"]
    for site in diagnostic_sites():
        d = data.get(site)
        if d is None:
            continue
        site_entries: list[_TEntry] = []
        if d.reported_t is not None:
            label = d.reported_reference or REPORTED_REFERENCE_LABEL
            site_entries.append(_TEntry(
                site=site, t=d.reported_t, rounded=float(round_half_away(d.reported_t, 1)),
                reference="densitometer_report", reference_label=label, origin="densitometer report",
                status="verified", device=d.manufacturer, device_model=d.device_model, bmd_g_cm2=d.bmd,
            ))
        if d.bmd is not None and site in reference(uniform).sites:
            if d.manufacturer is None:
                notes.append(f"{site} BMD {d.bmd:g} g/cm2 not referenced: {T_REASONS[MISSING_MANUFACTURER]}.")
            else:
                site_entries.append(_computed(d, uniform, record.sex))
        if d.bmd is not None:
            for ref in local:
                if site not in ref.sites or record.sex not in ref.sexes:
                    continue
                if d.manufacturer != ref.scale:
                    notes.append(
                        f"{ref.label} T-score not computed for {site}: the measurement is "
                        f"{d.manufacturer or 'of unknown manufacturer'}, the reference is {ref.scale} only."
                    )
                    continue
                site_entries.append(_computed(d, ref.id, record.sex))
        decider = next((e for e in site_entries if e.reference == "densitometer_report"), None) or next(
            (e for e in site_entries if e.reference == uniform), None
        )
        if decider is not None:
            decider.decides = True
        if site == SPINE and d.evaluable_vertebrae is not None and d.evaluable_vertebrae < min_vert:
            for e in site_entries:
                e.eligible = e.decides = False
            res.rules_fired.append(RuleFired(
                rule_id="ISCD-SPINE-VERTEBRAE",
                parts=(nums("Lumbar spine excluded: {n} evaluable vertebrae (at least {min} needed).",
                            n=num(d.evaluable_vertebrae), min=num(min_vert)),),
                status=_fact_status(ISCD_ID, "min_evaluable_vertebrae"), citations=(_kcite(ISCD_ID, "ISCD"),),
            ))
        entries.extend(site_entries)
    return entries


def _computed(d: _SiteData, reference_id: str, sex: str) -> _TEntry:
    assert d.bmd is not None
    ts = t_score(np.array([d.bmd]), site=d.site, manufacturer=d.manufacturer, sex=sex, reference_id=reference_id)
    t = float(ts.t_score[0])
    return _TEntry(
        site=d.site, t=t, rounded=float(round_half_away(t, 1)), reference=ts.reference,
        reference_label=ts.reference_label, origin="computed", status=ts.status, device=d.manufacturer,
        device_model=d.device_model, bmd_g_cm2=d.bmd,
        reference_scale_bmd_g_cm2=float(ts.reference_scale_bmd_g_cm2[0]), converted=bool(ts.converted[0]),
        knowledge_ids=ts.knowledge_ids,
    )


def _entry_rule(e: _TEntry) -> RuleFired:
    if e.origin == "densitometer report":
        reported = part("{site}: T {t} as reported by the densitometer ({reference}).",
                        _site_t_kinds(e.reference_label), site=e.site,
                        t=num(e.t, "g"), reference=e.reference_label)
        return RuleFired(rule_id="T-SCORE-REPORTED", parts=(reported,), status="verified",
                         citations=(_kcite(ISCD_ID, "ISCD"),))
    cites: list[Citation] = [_kcite(e.knowledge_ids[0])]
    values: dict[str, Any] = {"site": e.site, "t": num(e.rounded, ".1f"), "reference": e.reference_label,
                              "role": "decides" if e.decides else "shown, does not decide"}
    if e.converted:
        assert e.bmd_g_cm2 is not None and e.reference_scale_bmd_g_cm2 is not None
        template = ("{site}: T {t} computed against {reference}, {device} BMD {bmd} converted through sBMD to "
                    "{scaled} g/cm2 on the reference's scale ({role}).")
        values |= {"device": e.device, "bmd": num(e.bmd_g_cm2, "g"), "scaled": num(e.reference_scale_bmd_g_cm2, ".3f")}
        _, _, src = _sbmd_coefficients(e.site)
        cites.append(_kcite(SBMD_ID, src))
    else:
        template = "{site}: T {t} computed against {reference} ({role})."
    kinds: dict[str, PartKind] = {**_site_t_kinds(e.reference_label), "role": "term", "device": "en", "bmd": "num",
                                  "scaled": "num"}
    computed = part(template, kinds, **values)
    return RuleFired(rule_id=f"T-SCORE-{e.reference.upper()}", parts=(computed,), status=e.status,
                     citations=tuple(cites))


@dataclass(frozen=True)
class DecidingT:
    """The T-score that decides at one site, as :func:`assess_bone_density` chose it."""

    site: str
    t: float  # full precision (a computed T) or as reported
    rounded: float  # half away from zero to one decimal, as shown
    reference: str  # a reference id (e.g. the ISCD uniform hip reference) or "densitometer_report"
    reference_label: str
    reference_recorded: bool  # False: a reported T-score whose reference was not recorded


def deciding_t_scores(result: CalculatorResult) -> dict[str, DecidingT]:
    """Site -> the T-score that decides there in a :func:`assess_bone_density` result (the one source of a site's
    T-score for the other calculators). A site the ISCD positions exclude (e.g. a spine with too few evaluable
    vertebrae) has none. Empty for any other result."""
    if result.calculator != CALCULATOR:
        return {}
    out: dict[str, DecidingT] = {}
    for e in result.details.get("t_scores") or []:
        if not (e.get("decides") and e.get("eligible")):
            continue
        label = str(e["reference_label"])
        recorded = not (e["reference"] == "densitometer_report" and label == REPORTED_REFERENCE_LABEL)
        out[str(e["site"])] = DecidingT(site=str(e["site"]), t=float(e["t"]), rounded=float(e["rounded"]),
                                        reference=str(e["reference"]), reference_label=label,
                                        reference_recorded=recorded)
    return out


def record_deciding_t_scores(
    record: PatientRecord, bone_density: CalculatorResult | None = None
) -> dict[str, DecidingT]:
    """:func:`deciding_t_scores` of ``bone_density`` (the assessment's own bone-density result), or, for a
    calculator called on its own, of :func:`assess_bone_density` on the record's latest measurements."""
    if bone_density is None:
        bone_density = assess_bone_density(record, as_of=dt.date.max)
    return deciding_t_scores(bone_density)


def assess_bone_density(record: PatientRecord, *, as_of: dt.date) -> CalculatorResult:
    """WHO category (or ISCD Z-score category) of one patient from the DXA results recorded up to ``as_of``.

    Per site the densitometer's reported T-score decides, else a T-score computed from raw BMD against
    NHANES III (hip, manufacturer-aware). A Vietnamese (Hanoi 2009, GE-Lunar, women) T-score is shown beside
    it, labelled, and never decides. A raw BMD without its manufacturer is not used (the reason is given).
    """
    res = CalculatorResult(calculator=CALCULATOR, name=NAME,
                           citations=[_kcite(WHO_ID, "WHO1994"), _kcite(ISCD_ID, "ISCD")])
    notes: list[str] = []
    group, group_rule = _population(record, res)
    res.rules_fired.append(group_rule)
    data = _select_measurements(record, as_of, res)
    entries = _t_entries(record, data, res, notes)
    for e in entries:
        res.rules_fired.append(_entry_rule(e))
    res.details = {"t_scores": [e.as_dict() for e in entries], "notes": notes, "group": group}
    for site in diagnostic_sites():
        for e in entries:
            if e.site != site:
                continue
            key = f"{site}_t_score" if e.decides else f"{site}_t_score_{e.reference}"
            if e.decides or e.origin == "computed":
                res.values[key] = Quantity(value=e.rounded, unit="{T-score}")
                res.values[key + "_reference"] = Quantity(value=e.reference_label, unit="1")
                res.values[key + "_device"] = Quantity(value=e.device or "not recorded", unit="1")
            if e.converted and e.reference_scale_bmd_g_cm2 is not None:
                res.values[f"{site}_bmd_{e.reference}_scale_g_cm2"] = Quantity(
                    value=float(round_half_away(e.reference_scale_bmd_g_cm2, 3)), unit="g/cm2")
    res.warnings.extend(notes)
    out = _finish_z(record, data, res) if group == "z" else _finish_t(record, as_of, entries, res)
    for rule in out.rules_fired:
        for c in rule.citations:
            if c not in out.citations:
                out.citations.append(c)
    return out


def _finish_t(record: PatientRecord, as_of: dt.date, entries: list[_TEntry], res: CalculatorResult) -> CalculatorResult:
    deciding = [e for e in entries if e.decides and e.eligible]
    if not deciding:
        res.applicable = False
        notes = res.details.get("notes") or []
        later = [w for w in res.warnings if "after the assessment date" in w]
        why = "; ".join(notes + later) if notes or later else "no T-score or BMD is recorded"
        res.reason = f"no usable T-score at the diagnostic sites (lumbar spine, total hip, femoral neck, 33% radius): {why}"
        return res
    low, site = lowest_score({e.site: e.rounded for e in deciding})
    lowest_t, lowest_site = float(low[0]), str(site[0])
    fracture = _fragility_fracture(record, as_of, res)
    cat = str(who_category(lowest_t, fracture)[0])
    res.category = cat
    res.values["lowest_t_score"] = Quantity(value=lowest_t, unit="{T-score}")
    res.values["lowest_t_score_site"] = Quantity(value=lowest_site, unit="1")
    dec = next(e for e in deciding if e.site == lowest_site)
    res.values["lowest_t_score_reference"] = Quantity(value=dec.reference_label, unit="1")
    res.rules_fired.append(RuleFired(
        rule_id="ISCD-LOWEST-T",
        parts=(part("Lowest T-score of the diagnostic sites: {t} at {site} ({reference}).",
                    _site_t_kinds(dec.reference_label),
                    t=num(lowest_t, ".1f"), site=lowest_site, reference=dec.reference_label),),
        status=_fact_status(ISCD_ID, "diagnostic_sites"), citations=(_kcite(ISCD_ID, "ISCD"),),
    ))
    normal_min, osteo_max, _, _ = _who_thresholds()
    rule = {
        NORMAL: "T {t} >= {normal_min}: normal.",
        LOW_BONE_MASS: "{osteoporosis_max} < T {t} < {normal_min}: low bone mass (osteopenia).",
        OSTEOPOROSIS: "T {t} <= {osteoporosis_max}: osteoporosis.",
        SEVERE_OSTEOPOROSIS: "T {t} <= {osteoporosis_max} with a fragility fracture: severe (established) osteoporosis.",
    }[cat]
    values = {"t": num(lowest_t, ".1f"), "normal_min": num(normal_min, ".1f"), "osteoporosis_max": num(osteo_max, ".1f")}
    res.rules_fired.append(RuleFired(
        rule_id="WHO-CATEGORY",
        parts=(nums(rule, **values),
               part("(T rounded to one decimal, half away from zero.)")),
        status=_fact_status(WHO_ID, "normal_t_score_min", "osteoporosis_t_score_max", "severe_min_fragility_fractures"),
        citations=(_kcite(WHO_ID, "WHO1994"),),
    ))
    _compare_local(entries, lowest_t, fracture, res)
    return res.finish()


def _compare_local(entries: list[_TEntry], lowest_t: float, fracture: bool, res: CalculatorResult) -> None:
    """Show a local-reference (e.g. Vietnamese) T-score and category beside the deciding one."""
    local_ids = {r.id for r in references().values() if r.other_devices == "refuse"}
    for rid in sorted({e.reference for e in entries if e.reference in local_ids}):
        ref = reference(rid)
        mine = [e for e in entries if e.reference == rid and e.eligible]
        if not mine:
            continue
        low, site = lowest_score({e.site: e.t for e in mine})
        cat = str(who_category(low[0], fracture)[0])
        res.values[f"lowest_t_score_{rid}"] = Quantity(value=float(low[0]), unit="{T-score}")
        res.values[f"lowest_t_score_{rid}_site"] = Quantity(value=str(site[0]), unit="1")
        res.values[f"category_{rid}"] = Quantity(value=cat, unit="1")
        hcmc = load(HCMC_ID)
        res.rules_fired.append(RuleFired(
            rule_id="REFERENCE-COMPARISON",
            parts=(
                part("Against {reference}: lowest T {t} at {site} -> {category}.",
                     {**_site_t_kinds(ref.label), "category": "term"}, reference=ref.label, t=num(float(low[0]), ".1f"),
                     site=str(site[0]), category=cat),
                part("The decision uses the NHANES/manufacturer T-score ({t} -> {category}), as ISCD and "
                     "international guidelines do.", {"t": "num", "category": "term"}, t=num(lowest_t, ".1f"),
                     category=res.category),
                nums("NHANES-based T-scores classify more Vietnamese patients as osteoporotic (postmenopausal women "
                     "{nhanes_percent}% vs {vietnamese_percent}% with a Vietnamese reference, Ho-Pham 2011).",
                     nhanes_percent=num(hcmc.value("osteoporosis_prevalence_postmenopausal_women_t_dxa_percent")),
                     vietnamese_percent=num(hcmc.value("osteoporosis_prevalence_postmenopausal_women_t_vn_percent"))),
            ),
            status=lowest([ref.status, *(e.status for e in mine), _fact_status(ISCD_ID, "decision_reference"),
                           _fact_status(HCMC_ID, "osteoporosis_prevalence_postmenopausal_women_t_dxa_percent")]),
            citations=(_kcite(ref.knowledge_id, ref.source_id), _kcite(ISCD_ID, "ISCD"), _kcite(HCMC_ID)),
        ))


def _finish_z(record: PatientRecord, data: dict[str, _SiteData], res: CalculatorResult) -> CalculatorResult:
    iscd = load(ISCD_ID)
    min_vert = int(iscd.value("min_evaluable_vertebrae"))
    z = {
        s: d.reported_z for s, d in data.items()
        if s in diagnostic_sites() and d.reported_z is not None
        and not (s == SPINE and d.evaluable_vertebrae is not None and d.evaluable_vertebrae < min_vert)
    }
    if record.sex == "male":
        res.rules_fired.append(RuleFired(
            rule_id="ISCD-MEN-UNDER-50",
            text="Men under 50: osteoporosis cannot be diagnosed on BMD alone.",
            status=_fact_status(ISCD_ID, "men_under_50_no_osteoporosis_on_bmd_alone"),
            citations=(_kcite(ISCD_ID, "ISCD"),),
        ))
    if not z:
        res.applicable = False
        res.reason = (
            "ISCD uses Z-scores for this patient and no Z-score is recorded at the diagnostic sites; OsteoCare "
            "has no age-matched reference to compute one, and T-scores must not be used for this group"
        )
        return res
    low, site = lowest_score({s: v for s, v in z.items() if v is not None})
    cat = str(z_category(low[0])[0])
    res.category = cat
    res.values["lowest_z_score"] = Quantity(value=float(low[0]), unit="{Z-score}")
    res.values["lowest_z_score_site"] = Quantity(value=str(site[0]), unit="1")
    zmax, _ = _z_threshold()
    res.rules_fired.append(RuleFired(
        rule_id="ISCD-Z-CATEGORY",
        parts=(part("Lowest Z-score {z} at {site} <= {z_max}: below the expected range for age."
                    if cat == Z_BELOW_EXPECTED else
                    "Lowest Z-score {z} at {site} > {z_max}: within the expected range for age.",
                    {"z": "num", "site": "term", "z_max": "num"}, z=num(float(low[0]), ".1f"), site=str(site[0]),
                    z_max=num(zmax, ".1f")),),
        status=_fact_status(ISCD_ID, "z_score_below_expected_max"), citations=(_kcite(ISCD_ID, "ISCD"),),
    ))
    if any(k.endswith("_t_score") for k in res.values):
        res.warnings.append("T-scores are shown for information only; ISCD uses Z-scores for this patient.")
    return res.finish()
