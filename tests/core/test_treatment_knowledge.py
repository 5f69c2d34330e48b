"""The treatment knowledge files: every rule names drugs, conditions, facts and thresholds that exist."""

from __future__ import annotations

import pytest

from osteocare.core.guidelines import available_guidelines, default_guideline
from osteocare.core.guidelines.conditions import drug_ids
from osteocare.core.guidelines.rulesets import drug_files, guideline_file, problems
from osteocare.core.knowledge import all_files, load

REQUIRED_GUIDELINES = {"endocrine-society-2019", "aace-2020", "bhof-2022", "nogg-2022", "iof-esceo-2020"}
REQUIRED_DRUGS = {"alendronate", "risedronate", "ibandronate", "zoledronic_acid", "denosumab", "teriparatide",
                  "abaloparatide", "romosozumab", "raloxifene", "calcitriol", "calcium", "vitamin_d"}
REQUIRED_CONDITIONS = {"myocardial_infarction", "stroke", "oesophageal_stricture", "achalasia",
                       "cannot_sit_upright_30_min", "hypocalcaemia", "pagets_disease", "prior_skeletal_radiation",
                       "bone_metastases", "skeletal_malignancy", "open_epiphyses", "hypercalcaemia",
                       "venous_thromboembolism", "pregnancy", "breastfeeding", "planned_invasive_dental_work"}


def test_every_rule_names_facts_conditions_drugs_and_thresholds_that_exist() -> None:
    assert problems() == []


def test_it_ships_the_five_guidelines_of_the_issue() -> None:
    assert REQUIRED_GUIDELINES <= set(available_guidelines())


def test_the_deployment_default_is_one_of_the_guidelines() -> None:
    assert default_guideline() in available_guidelines()


def test_it_ships_one_file_per_drug() -> None:
    assert REQUIRED_DRUGS <= drug_ids()


def test_the_condition_list_holds_the_conditions_the_labels_name() -> None:
    assert REQUIRED_CONDITIONS <= set(load("conditions").data["conditions"])


@pytest.mark.parametrize("drug", sorted(REQUIRED_DRUGS))
def test_each_drug_file_says_route_setting_regimen_administration_and_checks(drug: str) -> None:
    kf = drug_files()[drug]
    for name in ("route", "setting", "regimen", "administration", "checks"):
        fact = kf.fact(name)
        assert fact.value and fact.source and fact.status


@pytest.mark.parametrize("drug", sorted(REQUIRED_DRUGS - {"calcium", "vitamin_d"}))
def test_each_osteoporosis_drug_has_at_least_one_contraindication_rule(drug: str) -> None:
    assert drug_files()[drug].data["contraindications"]


@pytest.mark.parametrize("gid", sorted(REQUIRED_GUIDELINES))
def test_each_guideline_has_ordered_strata_and_a_rule_for_each(gid: str) -> None:
    kf = guideline_file(gid)
    strata = kf.data["strata"]
    with_rules = {r["stratum"] for r in kf.data["rules"]}
    assert set(kf.data["order"]) == set(strata) == with_rules


def test_rule_statuses_are_never_higher_than_their_file() -> None:
    rank = {"unverified": 0, "secondary": 1, "verified": 2}
    for kf in all_files().values():
        if kf.kind in ("guideline", "drug", "sequencing", "lifestyle"):
            for name, fact in kf.facts.items():
                if fact.status != "convention":
                    assert rank[fact.status] >= rank[kf.status], (kf.id, name)


def test_no_rule_compares_a_number_written_in_the_rule_itself() -> None:
    """Numbers live in facts with unit and source; the validator refuses literals (checked on a bad rule)."""
    from osteocare.core.guidelines.conditions import validate

    bad = {"fact": "lowest_t_score", "op": "<=", "value": -2.5}
    assert validate(bad, load("endocrine-society-2019"), "probe")


def test_drug_file_kidney_limits_agree_with_the_kidney_limit_table_where_both_exist() -> None:
    files = all_files()
    if "kidney-drug-limits" not in files:
        pytest.skip("kidney-drug-limits not present")
    table = files["kidney-drug-limits"]
    pairs = {"alendronate": "alendronate", "risedronate": "risedronate", "ibandronate": "ibandronate_oral",
             "zoledronic_acid": "zoledronic_acid_5mg"}
    for drug, key in pairs.items():
        if key in table.facts:
            assert drug_files()[drug].value("crcl_min_ml_min") == table.value(key)["below"], drug
    if "denosumab_60mg" in table.facts:
        assert drug_files()["denosumab"].value("egfr_specialist_below") == table.value("denosumab_60mg")["below"]
