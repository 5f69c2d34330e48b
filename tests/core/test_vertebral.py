"""Genant semiquantitative grade from vertebral heights (shared/knowledge/bone-density.md 6; Genant 1993)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from osteocare.core.errors import InputError
from osteocare.core.records import VertebraHeights
from osteocare.core.vertebral import genant_grade, grade_vertebrae, height_reductions

NAN = math.nan

# bone-density.md section 6, worked examples (CONVENTION thresholds; reductions rounded to 0.1%).
GENANT_EXAMPLES = [
    # Ha, Hm, Hp, largest reduction %, kind, grade
    (18.0, 24.0, 25.0, 28.0, "wedge", 2),
    (22.0, 19.0, 24.0, 20.8, "biconcave", 1),
    (14.0, NAN, 25.0, 44.0, "wedge", 3),
    (21.25, NAN, 25.0, 15.0, "wedge", 0),  # "any, largest reduction 15%"
    (15.0, NAN, 25.0, 40.0, "wedge", 2),  # boundary: 40.0% is still grade 2
    (18.75, NAN, 25.0, 25.0, "wedge", 2),  # boundary: 25.0% is already grade 2
]


@pytest.mark.parametrize(("ha", "hm", "hp", "reduction", "kind", "grade"), GENANT_EXAMPLES)
def test_genant_grade_matches_bone_density_md_section_6_worked_examples(
    ha: float, hm: float, hp: float, reduction: float, kind: str, grade: int
) -> None:
    g = genant_grade(ha, hp, hm)
    assert g.largest_reduction_percent[0] == reduction
    assert g.kind[0] == kind
    assert g.grade[0] == grade


def test_genant_grade_is_vectorised_over_the_worked_examples() -> None:
    ha, hm, hp, reduction, _, grade = (np.array(c) for c in zip(*GENANT_EXAMPLES, strict=True))
    g = genant_grade(ha.astype(float), hp.astype(float), hm.astype(float))
    assert list(g.grade) == list(grade)
    assert list(g.largest_reduction_percent) == list(reduction)


@pytest.mark.parametrize(
    ("ha", "grade"),
    [
        (20.025, 0),  # 19.9%
        (20.0, 1),  # 20.0%
        (18.775, 1),  # 24.9%
        (14.975, 3),  # 40.1%
    ],
)
def test_genant_grade_applies_the_convention_thresholds_at_one_decimal(ha: float, grade: int) -> None:
    # Hp 25 mm; reduction = 1 - Ha/Hp; < 20 -> 0; 20 to < 25 -> 1; 25 to <= 40 -> 2; > 40 -> 3.
    assert genant_grade(ha, 25.0).grade[0] == grade


def test_it_rounds_the_reduction_to_one_decimal_before_grading() -> None:
    # 1 - 20.0125/25 = 19.95% -> rounds half away from zero to 20.0% -> grade 1 (CONVENTION).
    assert genant_grade(20.0125, 25.0).largest_reduction_percent[0] == 20.0
    assert genant_grade(20.0125, 25.0).grade[0] == 1


def test_height_reductions_follow_the_wedge_biconcave_and_crush_definitions() -> None:
    wedge, biconcave, crush = height_reductions(18.0, 24.0, 21.0, 30.0)
    assert wedge[0] == 25.0  # 1 - 18/24
    assert biconcave[0] == 12.5  # 1 - 21/24
    assert crush[0] == 20.0  # 1 - 24/30


def v(level: str, ha: float, hp: float, hm: float | None = None) -> VertebraHeights:
    return VertebraHeights(level=level, anterior_mm=ha, middle_mm=hm, posterior_mm=hp)


def test_it_grades_a_crush_against_the_mean_of_the_unfractured_neighbours() -> None:
    # Hp_expected = (25 + 27) / 2 = 26; crush = 1 - 15/26 = 42.3% -> grade 3 (CONVENTION, bone-density.md 6).
    r = grade_vertebrae([v("T12", 25, 25), v("L1", 15, 15), v("L2", 27, 27)])
    assert r.values["L1_grade"].value == 3
    assert r.values["L1_largest_reduction_percent"].value == 42.3
    assert r.values["fractured_vertebrae"].value == 1
    assert r.category == "vertebral_fracture"


def test_it_uses_the_only_unfractured_neighbour_when_there_is_one() -> None:
    # L1 has no measured level above; Hp_expected = L2 posterior 24; crush = 1 - 18/24 = 25.0% -> grade 2.
    r = grade_vertebrae([v("L1", 18, 18), v("L2", 24, 24)])
    assert r.values["L1_grade"].value == 2


def test_it_skips_a_fractured_neighbour_for_the_expected_height() -> None:
    # L2 is wedge-fractured (1 - 12/24 = 50%); L1's nearest unfractured below is L3 (Hp 30): crush 1 - 24/30 = 20%.
    r = grade_vertebrae([v("L1", 24, 24), v("L2", 12, 24), v("L3", 30, 30)])
    assert r.values["L2_grade"].value == 3
    assert r.values["L1_largest_reduction_percent"].value == 20.0
    assert r.values["L1_grade"].value == 1


def test_grade_vertebrae_orders_levels_anatomically_whatever_the_input_order() -> None:
    a = grade_vertebrae([v("L2", 27, 27), v("T12", 25, 25), v("L1", 15, 15)])
    assert a.values["L1_grade"].value == 3


def test_it_carries_the_secondary_status_and_the_visual_method_warning() -> None:
    r = grade_vertebrae([v("L1", 25, 25), v("L2", 25, 25)])
    assert r.status == "secondary"
    assert any("(status: secondary)" in w for w in r.warnings)
    assert any("reader's grade" in w for w in r.warnings)
    assert r.category == "no_vertebral_fracture"


def test_it_refuses_an_unknown_or_repeated_level() -> None:
    with pytest.raises(InputError, match="level"):
        grade_vertebrae([v("L9", 25, 25)])
    with pytest.raises(InputError, match="each level once"):
        grade_vertebrae([v("L1", 25, 25), v("l1", 25, 25)])


def test_it_is_not_applicable_without_heights() -> None:
    r = grade_vertebrae([])
    assert not r.applicable and r.reason


heights = st.floats(min_value=3, max_value=60)


@given(hp=heights, a=heights, b=heights)
def test_a_shorter_anterior_height_never_lowers_the_grade(hp: float, a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    assert genant_grade(lo, hp).grade[0] >= genant_grade(hi, hp).grade[0]


@given(st.lists(st.tuples(heights, st.none() | heights, heights), min_size=1, max_size=17))
def test_grade_vertebrae_never_raises_on_valid_heights(rows: list[tuple[float, float | None, float]]) -> None:
    levels = [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)]
    r = grade_vertebrae([v(lvl, ha, hp, hm) for lvl, (ha, hm, hp) in zip(levels, rows, strict=False)])
    assert r.applicable
    assert all(0 <= int(str(q.value)) <= 3 for k, q in r.values.items() if k.endswith("_grade"))


def dated(level: str, ha: float, hp: float, day: str | None) -> VertebraHeights:
    return VertebraHeights(level=level, anterior_mm=ha, posterior_mm=hp,
                           date=None if day is None else dt.date.fromisoformat(day))


def test_a_level_measured_twice_is_graded_from_its_latest_measurement() -> None:
    # L1 2023: 1 - 24/25 = 4% (grade 0); L1 2025: 1 - 15/25 = 40.0% (grade 2, boundary of the convention)
    r = grade_vertebrae([dated("L1", 24, 25, "2023-05-01"), dated("L1", 15, 25, "2025-02-03"),
                         dated("L2", 25, 25, "2025-02-03")])
    assert r.values["L1_grade"].value == 2
    assert r.values["L1_largest_reduction_percent"].value == 40.0
    text = r.rules_fired[0].text
    assert "Heights read on: L1 2025-02-03; L2 2025-02-03." in text
    assert "not graded: L1 2023-05-01." in text


def test_a_dated_measurement_replaces_an_undated_one_of_the_same_level() -> None:
    r = grade_vertebrae([dated("T12", 15, 25, "2024-01-01"), dated("T12", 25, 25, None)])
    assert r.values["T12_grade"].value == 2
    assert "not graded: T12 (no date)." in r.rules_fired[0].text


def test_it_refuses_a_level_measured_twice_on_one_day_or_twice_undated() -> None:
    with pytest.raises(InputError, match="each level once per day"):
        grade_vertebrae([dated("L1", 25, 25, "2024-01-01"), dated("l1", 20, 25, "2024-01-01")])
    with pytest.raises(InputError, match="each level once without a date"):
        grade_vertebrae([dated("L1", 25, 25, None), dated("L1", 20, 25, None)])


def test_assess_leaves_out_heights_read_after_the_assessment_date() -> None:
    from osteocare.core.assessment import assess
    from osteocare.core.records import PatientRecord

    record = PatientRecord(id="V1", sex="female", age=70, vertebrae=[
        dated("L1", 24, 25, "2023-05-01"), dated("L1", 15, 25, "2025-02-03"), dated("L2", 25, 25, "2023-05-01")])
    before = assess(record, as_of=dt.date(2024, 6, 1))
    after = assess(record, as_of=dt.date(2025, 6, 1))
    grade = {a: x.results["genant-sq"].values["L1_grade"].value
             for a, x in (("before", before), ("after", after))}
    assert grade == {"before": 0, "after": 2}
    assert any("vertebrae[1] (date 2025-02-03)" in w for w in before.warnings)
