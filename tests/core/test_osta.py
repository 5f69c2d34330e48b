"""OSTA and OST against shared/knowledge/risk-calculators.md section 3 (Koh 2001; Adler 2003; Geusens 2002)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from osteocare.core.records import PatientRecord
from osteocare.core.risk.osta import (
    CATEGORY_NAMES,
    HIGH,
    LOW,
    MODERATE,
    OST_MEN,
    OST_US_WOMEN,
    OSTA,
    assess_osta,
    categorise,
    index,
    screen,
)

# risk-calculators.md 3, worked examples (OSTA): weight kg, age y, OSTA, category.
OSTA_TABLE = [
    (50, 70, -4, "moderate"),
    (60, 65, -1, "moderate"),
    (45, 75, -6, "high"),
    (70, 60, 2, "low"),
    (52, 69, -3, "moderate"),
    (58, 62, 0, "low"),
]


def _woman(weight: float, age: int, **kw: object) -> PatientRecord:
    return PatientRecord.model_validate(
        {"id": "w", "sex": "female", "age": age, "weight_kg": weight, "height_cm": 155.0, **kw}
    )


@pytest.mark.parametrize(("weight", "age", "expected", "category"), OSTA_TABLE)
def test_osta_matches_the_worked_examples_of_koh_2001_in_the_brief(
    weight: int, age: int, expected: int, category: str
) -> None:
    res = assess_osta(_woman(weight, age, ethnicity="other_asian"))
    assert res.values["index"].value == expected
    assert res.category == category


def test_osta_truncates_toward_zero_so_58_kg_at_62_is_0_low_not_minus_1() -> None:
    # risk-calculators.md 3: -0.8 -> 0 (flooring would wrongly give -1, moderate).
    assert float(index(58, 62)) == 0.0
    assert int(categorise(index(58, 62), OSTA)) == LOW


def test_osta_scores_the_whole_worked_table_in_one_vectorised_call() -> None:
    w, a, expected, cats = zip(*OSTA_TABLE, strict=True)
    idx, cat, tool = screen(female=np.ones(len(w), bool), age=np.array(a), weight_kg=np.array(w, float))
    np.testing.assert_array_equal(idx, expected)
    assert [CATEGORY_NAMES[c] for c in cat] == list(cats)
    assert (tool == OSTA).all()


def test_osta_categories_are_secondary_and_carry_a_visible_warning() -> None:
    res = assess_osta(_woman(50, 70, ethnicity="chinese"))
    assert res.status == "secondary"
    assert any("status: secondary" in w for w in res.warnings)


@pytest.mark.parametrize(("idx", "category"), [(-2, "high"), (-1, "moderate"), (3, "moderate"), (4, "low")])
def test_ost_for_men_follows_adler_2003_cut_offs(idx: int, category: str) -> None:
    # Adler 2003 (brief 3): high <= -2; moderate -1 to 3; low >= 4. VERIFIED.
    assert CATEGORY_NAMES[int(categorise(idx, OST_MEN))] == category


def test_ost_for_a_man_is_verified_and_uses_his_weight_and_age() -> None:
    man = PatientRecord(id="m", sex="male", age=70, weight_kg=60.0, height_cm=170.0)
    res = assess_osta(man)
    assert res.calculator == "ost-men"
    assert res.values["index"].value == -2
    assert res.category == "high"
    assert res.status == "verified"


@pytest.mark.parametrize(("idx", "category"), [(-4, "high"), (-3, "moderate"), (1, "moderate"), (2, "low")])
def test_ost_for_us_women_follows_the_third_party_cut_offs(idx: int, category: str) -> None:
    # Brief 3: high < -3; moderate -3 to 1; low > 1 (UNVERIFIED).
    assert CATEGORY_NAMES[int(categorise(idx, OST_US_WOMEN))] == category


def test_ost_for_a_white_woman_is_unverified_and_refers_for_dxa_below_2() -> None:
    res = assess_osta(_woman(60, 57, ethnicity="white"))  # 0.2 x 3 = 0.6 -> 0
    assert res.calculator == "ost-us-women"
    assert res.category == "moderate"
    assert res.status == "unverified"
    assert "OST-US-WOMEN-REFER-DXA" in {r.rule_id for r in res.rules_fired}


def test_it_is_not_applicable_without_weight_or_for_the_wrong_sex() -> None:
    res = assess_osta(PatientRecord(id="x", sex="female", age=60, bmi=22.0))
    assert not res.applicable and res.reason is not None and "weight" in res.reason
    man = PatientRecord(id="m", sex="male", age=70, weight_kg=60.0, height_cm=170.0)
    res = assess_osta(man, tool="osta")
    assert not res.applicable and res.reason is not None and "female" in res.reason


tenths = st.integers(min_value=200, max_value=3000)  # weight in tenths of a kg, 20.0-300.0
ages = st.integers(min_value=0, max_value=120)


@given(w10=tenths, age=ages)
def test_the_index_equals_decimal_truncation_for_one_decimal_weights(w10: int, age: int) -> None:
    weight = Decimal(w10) / 10
    expected = int(Decimal("0.2") * (weight - age))
    assert float(index(float(weight), age)) == expected


@given(w10=tenths, age=ages, more=st.integers(min_value=1, max_value=500), female=st.booleans())
def test_a_heavier_patient_of_the_same_age_is_never_in_a_higher_category(
    w10: int, age: int, more: int, female: bool
) -> None:
    tool = OSTA if female else OST_MEN
    light = int(categorise(index(w10 / 10, age), tool))
    heavy = int(categorise(index((w10 + more) / 10, age), tool))
    order = {LOW: 0, MODERATE: 1, HIGH: 2}
    assert order[heavy] <= order[light]


@given(w10=tenths, age=st.integers(min_value=0, max_value=119), female=st.booleans())
def test_an_older_patient_of_the_same_weight_is_never_in_a_lower_category(w10: int, age: int, female: bool) -> None:
    tool = OSTA if female else OST_MEN
    order = {LOW: 0, MODERATE: 1, HIGH: 2}
    young = order[int(categorise(index(w10 / 10, age), tool))]
    old = order[int(categorise(index(w10 / 10, age + 1), tool))]
    assert old >= young
