"""Precision error and least significant change (shared/knowledge/bone-density.md 5.1; ISCD 2019, Gani 2024)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from osteocare.core.densitometry import (
    bmd_change,
    compare_scans,
    least_significant_change,
    precision_study,
    rms_sd,
    significant_change,
)
from osteocare.core.errors import InputError
from osteocare.core.numeric import round_half_away
from osteocare.core.records import DxaMeasurement


def test_least_significant_change_matches_bone_density_md_rms_sd_example() -> None:
    # RMS-SD 0.010 g/cm2 -> LSC 0.0277 g/cm2.
    assert least_significant_change(0.010) == pytest.approx(0.0277, abs=1e-12)


@pytest.mark.parametrize(("cv", "lsc"), [(1.9, 5.26), (1.8, 4.99), (2.5, 6.93)])
def test_least_significant_change_matches_bone_density_md_percent_cv_examples(cv: float, lsc: float) -> None:
    # %CV 1.9 / 1.8 / 2.5 -> LSC 5.26% / 4.99% / 6.93% (stated to 0.01%).
    assert round_half_away(least_significant_change(cv), 2) == lsc


@pytest.mark.parametrize(
    ("before", "after", "significant"),
    [(0.850, 0.820, True), (0.850, 0.830, False)],
)
def test_significant_change_matches_bone_density_md_spine_examples(before: float, after: float, significant: bool) -> None:
    # LSC 0.0277 g/cm2: spine 0.850 -> 0.820 is a significant decrease, 0.850 -> 0.830 is not.
    assert bool(significant_change(before, after, 0.0277)[0]) is significant


def test_a_change_equal_to_the_lsc_is_significant_per_iscd() -> None:
    # ISCD: the change "must equal or exceed the LSC". 0.850 - 0.820 is 0.030000000000000027 in floating point.
    assert significant_change(0.850, 0.820, 0.030)[0]
    assert significant_change(0.820, 0.850, 0.030)[0]
    assert not significant_change(0.850, 0.821, 0.030)[0]


def test_significant_change_is_vectorised_and_false_where_a_value_is_missing() -> None:
    out = significant_change([0.850, 0.850, np.nan], [0.820, 0.830, 0.800], 0.0277)
    assert list(out) == [True, False, False]


def test_significant_change_works_in_percent_of_the_earlier_bmd() -> None:
    # 1.000 -> 0.947 is -5.3%; ISCD minimum acceptable spine LSC 5.3% (bone-density.md 5.1).
    assert bmd_change(1.000, 0.947, unit="%") == pytest.approx(-5.3)
    assert significant_change(1.000, 0.947, 5.3, unit="%")[0]
    assert not significant_change(1.000, 0.948, 5.3, unit="%")[0]


def test_rms_sd_follows_the_root_mean_square_of_the_patient_sds() -> None:
    # Patient SDs (n-1): sd(1.000, 1.020) = 0.0141421, sd(0.900, 0.900) = 0.
    # RMS-SD = sqrt((0.0002 + 0) / 2) = 0.01.
    assert rms_sd([[1.000, 1.020], [0.900, 0.900]]) == pytest.approx(0.010, abs=1e-12)


def test_rms_sd_refuses_a_study_with_a_single_scan_per_patient() -> None:
    with pytest.raises(InputError, match="at least 2 scans"):
        rms_sd([[1.0], [0.9]])


def test_precision_study_warns_when_smaller_than_the_iscd_designs() -> None:
    rng = np.random.default_rng(1)
    small = 1.0 + 0.01 * rng.standard_normal((10, 2))
    r = precision_study(small)
    assert any("smaller than the ISCD designs" in w for w in r.warnings)
    ok = precision_study(1.0 + 0.01 * rng.standard_normal((15, 3)))
    assert not any("smaller than the ISCD designs" in w for w in ok.warnings)
    assert ok.values["lsc_g_cm2"].value == pytest.approx(2.77 * ok.values["rms_sd_g_cm2"].value)  # type: ignore[operator]
    assert ok.status == "unverified"  # the RMS-SD formula is not confirmed from the primary source
    assert any("(status: unverified)" in w for w in ok.warnings)


def scan(bmd: float, maker: str | None = "hologic", model: str | None = None, site: str = "lumbar_spine") -> DxaMeasurement:
    return DxaMeasurement(site=site, bmd_g_cm2=bmd, manufacturer=maker, device_model=model)  # type: ignore[arg-type]


def test_compare_scans_matches_bone_density_md_spine_example() -> None:
    r = compare_scans(scan(0.850), scan(0.820), precision_error=0.010)
    assert r.category == "significant_decrease"
    assert r.values["lsc"].value == pytest.approx(0.0277)
    assert compare_scans(scan(0.850), scan(0.830), precision_error=0.010).category == "no_significant_change"


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        (scan(0.85, "hologic"), scan(0.82, "ge_lunar"), "same device"),
        (scan(0.85, "hologic", "A"), scan(0.82, "hologic", "B"), "same device"),
        (scan(0.85, None), scan(0.82, "hologic"), "manufacturer"),
        (scan(0.85), scan(0.82, site="total_hip"), "different sites"),
    ],
)
def test_compare_scans_refuses_scans_that_iscd_says_not_to_compare(
    before: DxaMeasurement, after: DxaMeasurement, reason: str
) -> None:
    r = compare_scans(before, after, precision_error=0.010)
    assert not r.applicable
    assert reason in (r.reason or "")


def test_compare_scans_warns_when_precision_is_worse_than_the_iscd_minimum() -> None:
    r = compare_scans(scan(1.0), scan(0.9), precision_error=2.0, unit="%")
    assert any("minimum acceptable precision" in w for w in r.warnings)


def test_compare_scans_rejects_an_implausible_precision_error() -> None:
    with pytest.raises(InputError):
        compare_scans(scan(1.0), scan(0.9), precision_error=5.0)


bmd = st.floats(min_value=0.2, max_value=2.5)


@given(before=bmd, after=bmd, lsc=st.floats(min_value=0.001, max_value=0.5), extra=st.floats(min_value=0, max_value=0.5))
def test_a_larger_lsc_never_makes_a_change_significant(before: float, after: float, lsc: float, extra: float) -> None:
    if significant_change(before, after, lsc + extra)[0]:
        assert significant_change(before, after, lsc)[0]


@given(before=bmd, after=bmd, lsc=st.floats(min_value=0.001, max_value=0.5))
def test_significance_does_not_depend_on_the_direction_of_change(before: float, after: float, lsc: float) -> None:
    assert significant_change(before, after, lsc)[0] == significant_change(after, before, lsc)[0]
