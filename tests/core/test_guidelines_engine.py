"""The guideline rule engine: the safe condition language, three-valued logic, dates and the public API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from osteocare.core.errors import InputError, KnowledgeError
from osteocare.core.guidelines import (
    DerivedFacts,
    available_guidelines,
    default_guideline,
    derived_facts_from_record,
    stratify,
)
from osteocare.core.guidelines.conditions import Context, evaluate, validate
from osteocare.core.guidelines.dates import add_months, whole_months_between, within_months
from osteocare.core.guidelines.facts import FactView
from osteocare.core.knowledge import load
from osteocare.core.records import parse_record

AS_OF = dt.date(2025, 3, 1)


def _ctx(file_id: str = "endocrine-society-2019", **record: Any) -> Context:
    rec = parse_record({"id": "t", "sex": "female", "age": 70, **record})
    return Context(FactView(rec, derived_facts_from_record(rec), AS_OF), load(file_id))


def test_it_offers_the_five_guidelines_and_a_default() -> None:
    assert set(available_guidelines()) == {"aace-2020", "bhof-2022", "endocrine-society-2019", "iof-esceo-2020",
                                           "nogg-2022"}
    assert default_guideline() == "endocrine-society-2019"


def test_it_refuses_an_unknown_guideline_with_the_allowed_ids() -> None:
    rec = parse_record({"id": "t", "sex": "female", "age": 70})
    with pytest.raises(InputError, match="nogg-2022"):
        stratify(rec, DerivedFacts(), guideline="who-1994", as_of=AS_OF)


def test_a_t_score_of_exactly_minus_2_5_meets_a_less_or_equal_threshold() -> None:
    cond = {"fact": "hip_spine_t_score", "op": "<=", "value_ref": "t_osteoporosis"}
    assert evaluate(cond, _ctx(femoral_neck_t_score=-2.5)).value is True
    assert evaluate(cond, _ctx(femoral_neck_t_score=-2.4)).value is False


def test_derived_t_scores_are_rounded_half_away_from_zero() -> None:
    rec = parse_record({"id": "t", "sex": "female", "age": 70, "femoral_neck_t_score": -2.45})
    assert derived_facts_from_record(rec).lowest_t_score == -2.5


def test_an_unknown_fact_leaves_the_condition_undecided_and_names_what_is_missing() -> None:
    out = evaluate({"fact": "frax_mof_percent", "op": ">=", "value_ref": "frax_mof_high"}, _ctx())
    assert out.value is None and out.missing == {"frax_mof_percent"}


def test_any_is_true_when_one_branch_is_true_even_if_another_is_unknown() -> None:
    cond = {"any": [{"fact": "frax_mof_percent", "op": ">=", "value_ref": "frax_mof_high"},
                    {"fact": "hip_spine_t_score", "op": "<=", "value_ref": "t_osteoporosis"}]}
    assert evaluate(cond, _ctx(lumbar_spine_t_score=-3.0)).value is True


def test_all_is_false_when_one_branch_is_false_even_if_another_is_unknown() -> None:
    cond = {"all": [{"fact": "frax_mof_percent", "op": ">=", "value_ref": "frax_mof_high"},
                    {"fact": "hip_spine_t_score", "op": "<=", "value_ref": "t_osteoporosis"}]}
    assert evaluate(cond, _ctx(lumbar_spine_t_score=-1.0)).value is False


def test_not_of_unknown_stays_unknown() -> None:
    assert evaluate({"not": {"fact": "frax_hip_percent", "op": "<", "value_ref": "frax_hip_high"}}, _ctx()).value is None


def test_a_resolved_condition_counts_only_when_asked_about_ever() -> None:
    ctx = _ctx(conditions=[{"code": "venous_thromboembolism", "onset": "2010-01-01", "resolved": "2010-06-01"}])
    assert evaluate({"condition": "venous_thromboembolism"}, ctx).value is False
    assert evaluate({"condition": "venous_thromboembolism", "ever": True}, ctx).value is True


def test_a_condition_window_needs_the_onset_date() -> None:
    cond = {"condition": "myocardial_infarction", "within_months_ref": "drug-romosozumab#mi_stroke_window_months"}
    assert evaluate(cond, _ctx(conditions=[{"code": "myocardial_infarction", "onset": "2024-04-01"}])).value is True
    assert evaluate(cond, _ctx(conditions=[{"code": "myocardial_infarction", "onset": "2024-02-29"}])).value is False
    assert evaluate(cond, _ctx(conditions=[{"code": "myocardial_infarction"}])).value is None


def test_non_fragility_fractures_do_not_count() -> None:
    ctx = _ctx(fractures=[{"site": "hip", "fragility": False}])
    assert evaluate({"fractures": {"sites": ["hip"]}}, ctx).value is False


def test_the_prior_fracture_flag_alone_counts_as_one_fracture_of_unknown_site() -> None:
    """QFracture's flag is a fracture at an osteoporotic site (risk-calculators.md 1, b_fracture4): it may be a hip
    or a spine fracture, so a site filter is undecided on it (missing: fracture site), never False."""
    ctx = _ctx(prior_fracture=True)
    assert evaluate({"fractures": {}}, ctx).value is True
    hip = evaluate({"fractures": {"sites": ["hip"]}}, ctx)
    assert hip.value is None and hip.missing == {"fracture site"}
    spine = evaluate({"not": {"fractures": {"sites": ["hip", "vertebra"]}}}, ctx)
    assert spine.value is None and "fracture site" in spine.missing


def test_the_prior_fracture_flag_alone_leaves_multiple_fractures_undecided() -> None:
    """The flag says a fracture, not how many: "at least 2" (AACE's multiple fractures) is undecided, with the
    number of fractures missing; a second recorded fracture decides it."""
    ctx = _ctx(prior_fracture=True)
    multiple = evaluate({"fractures": {"at_least_ref": "aace-2020#multiple_fractures_min"}}, ctx)
    assert multiple.value is None and multiple.missing == {"number of fractures"}
    two = _ctx(fractures=[{"site": "wrist", "date": "2020-01-01"}, {"site": "humerus", "date": "2022-01-01"}])
    assert evaluate({"fractures": {"at_least_ref": "aace-2020#multiple_fractures_min"}}, two).value is True


def test_a_recorded_fracture_decides_the_site_and_the_flag_adds_nothing() -> None:
    ctx = _ctx(prior_fracture=True, fractures=[{"site": "wrist", "date": "2024-01-01"}])
    assert evaluate({"fractures": {"sites": ["hip", "vertebra"]}}, ctx).value is False


@pytest.mark.parametrize("bad", [
    {"fact": "no_such_fact", "op": "==", "value": True},
    {"fact": "age", "op": "~", "value_ref": "t_osteoporosis"},
    {"fact": "lowest_t_score", "op": "<=", "value": -2.5},
    {"fact": "lowest_t_score", "op": "<=", "value_ref": "no_such_threshold"},
    {"condition": "no_such_condition"},
    {"taking": "no_such_drug"},
    {"fractures": {"sites": ["knee"]}},
    {"rule_fired": "ES-R-HIGH"},
    {"eval": "__import__('os')"},
    {"all": []},
])
def test_the_validator_refuses_rules_that_name_things_that_do_not_exist(bad: dict[str, Any]) -> None:
    assert validate(bad, load("endocrine-society-2019"), "probe")


def test_an_unknown_condition_key_is_an_error_not_code() -> None:
    with pytest.raises(KnowledgeError):
        evaluate({"eval": "1"}, _ctx())


def test_calendar_months_clip_to_the_end_of_the_month() -> None:
    assert add_months(dt.date(2024, 8, 31), 6) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2024, 3, 31), -1) == dt.date(2024, 2, 29)
    assert whole_months_between(dt.date(2024, 1, 31), dt.date(2024, 2, 29)) == 1  # Jan 31 + 1 month = Feb 29
    assert whole_months_between(dt.date(2024, 1, 31), dt.date(2024, 2, 28)) == 0
    assert whole_months_between(dt.date(2024, 1, 15), dt.date(2025, 1, 15)) == 12
    assert within_months(dt.date(2024, 3, 1), AS_OF, 12)
    assert not within_months(dt.date(2025, 3, 2), AS_OF, 12)


def test_the_stratum_result_carries_its_rules_citations_and_visible_warning() -> None:
    rec = parse_record({"id": "t", "sex": "female", "age": 72, "menopausal_status": "postmenopausal",
                        "lumbar_spine_t_score": -2.6, "frax_country": "US"})
    res = stratify(rec, derived_facts_from_record(rec), guideline="endocrine-society-2019", as_of=AS_OF)
    assert res.stratum == "high" and res.label == "high risk"
    assert [r.rule_id for r in res.rules_fired] == ["ES-R-HIGH"]
    assert res.status == "unverified"
    assert res.citations and "Eastell" in res.citations[0].text
    assert any("(status: unverified)" in w for w in res.warnings)


def test_a_verified_stratum_carries_no_status_warning() -> None:
    rec = parse_record({"id": "t", "sex": "female", "age": 72, "menopausal_status": "postmenopausal",
                        "femoral_neck_t_score": -1.8, "frax_mof_percent": 21, "frax_hip_percent": 2,
                        "frax_country": "US"})
    res = stratify(rec, derived_facts_from_record(rec), guideline="bhof-2022", as_of=AS_OF)
    assert res.status == "verified"
    assert not any("(status:" in w for w in res.warnings)


def test_the_status_of_a_derived_fact_is_carried_into_the_stratum() -> None:
    rec = parse_record({"id": "t", "sex": "female", "age": 72, "menopausal_status": "postmenopausal",
                        "femoral_neck_t_score": -1.8, "frax_mof_percent": 21, "frax_hip_percent": 2,
                        "frax_country": "US"})
    facts = derived_facts_from_record(rec).model_copy(update={"statuses": {"frax_mof_percent_adjusted": "secondary"}})
    res = stratify(rec, facts, guideline="bhof-2022", as_of=AS_OF)
    assert res.status == "secondary"


def test_it_warns_when_the_frax_country_is_not_the_one_the_guideline_assumes() -> None:
    rec = parse_record({"id": "t", "sex": "female", "age": 72, "menopausal_status": "postmenopausal",
                        "femoral_neck_t_score": -1.8, "frax_mof_percent": 21, "frax_hip_percent": 2,
                        "frax_country": "Thailand"})
    res = stratify(rec, derived_facts_from_record(rec), guideline="bhof-2022", as_of=AS_OF)
    assert any("Thailand" in w for w in res.warnings)
