"""Properties of the treatment engine over random valid records (hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osteocare.core.drugs import check_contraindications, recommend
from osteocare.core.guidelines import DerivedFacts, available_guidelines, derived_facts_from_record
from osteocare.core.guidelines.conditions import drug_ids
from osteocare.core.knowledge import load
from osteocare.core.records import parse_record

AS_OF = dt.date(2025, 3, 1)
CONDITIONS = sorted(load("conditions").data["conditions"])
DRUGS = sorted(drug_ids())
SITES = ["hip", "vertebra", "wrist", "humerus", "pelvis", "rib", "other"]

dates = st.one_of(st.none(), st.dates(min_value=dt.date(2005, 1, 1), max_value=dt.date(2026, 1, 1)))
tscore = st.one_of(st.none(), st.integers(-50, 30).map(lambda x: x / 10))


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    sex = draw(st.sampled_from(["female", "male"]))
    rec: dict[str, Any] = {"id": "p", "sex": sex, "age": draw(st.integers(18, 100))}
    if sex == "female":
        rec["menopausal_status"] = draw(st.sampled_from([None, "premenopausal", "perimenopausal", "postmenopausal"]))
    for f in ("femoral_neck_t_score", "total_hip_t_score", "lumbar_spine_t_score"):
        rec[f] = draw(tscore)
    rec["frax_mof_percent"] = draw(st.one_of(st.none(), st.integers(0, 600).map(lambda x: x / 10)))
    rec["frax_hip_percent"] = draw(st.one_of(st.none(), st.integers(0, 300).map(lambda x: x / 10)))
    if rec["frax_mof_percent"] is not None and rec["frax_hip_percent"] is not None:  # a MOF includes the hip
        rec["frax_hip_percent"] = min(rec["frax_hip_percent"], rec["frax_mof_percent"])
    rec["frax_country"] = draw(st.sampled_from([None, "US", "UK", "Thailand"]))
    rec["corticosteroids"] = draw(st.booleans())
    rec["glucocorticoid_mg_per_day"] = draw(st.one_of(st.none(), st.integers(0, 40).map(float)))
    rec["glucocorticoid_months"] = draw(st.one_of(st.none(), st.integers(0, 60).map(float)))
    rec["dietary_calcium_mg_per_day"] = draw(st.one_of(st.none(), st.integers(0, 3000).map(float)))
    rec["malabsorption"] = draw(st.booleans())
    rec["cvd"] = draw(st.booleans())
    rec["falls"] = draw(st.booleans())
    rec["prior_fracture"] = draw(st.booleans())
    rec["smoking"] = draw(st.sampled_from(["non_smoker", "light", "heavy"]))
    rec["fractures"] = draw(st.lists(st.fixed_dictionaries({
        "site": st.sampled_from(SITES), "date": dates, "fragility": st.booleans(), "on_treatment": st.booleans()}),
        max_size=4))
    rec["falls_history"] = draw(st.lists(st.fixed_dictionaries({"date": dates, "injurious": st.booleans()}),
                                         max_size=2))
    rec["conditions"] = draw(st.lists(st.fixed_dictionaries({
        "code": st.sampled_from(CONDITIONS), "onset": dates, "resolved": dates}), max_size=5))
    rec["medications"] = draw(st.lists(st.fixed_dictionaries({
        "drug": st.sampled_from([*DRUGS, "digoxin"]), "start": dates, "end": dates, "last_dose": dates}),
        max_size=3))
    for entry, first, later in ([(c, "onset", "resolved") for c in rec["conditions"]]
                                + [(m, "start", k) for m in rec["medications"] for k in ("end", "last_dose")]):
        if entry[first] is not None and entry[later] is not None and entry[later] < entry[first]:
            entry[later] = entry[first]  # a record's dates in order (a later date before the first is refused)
    rec["intolerances"] = draw(st.lists(st.fixed_dictionaries({
        "drug": st.sampled_from(DRUGS),
        "reaction": st.sampled_from(["nausea", "anaphylaxis", "allergic rash", "severe oesophagitis", "urticaria",
                                     "erythema multiforme"]),
        "severity": st.sampled_from([None, "mild", "moderate", "severe"])}), max_size=2))
    rec["labs"] = draw(st.lists(st.fixed_dictionaries({
        "name": st.just("vitamin_d_25oh"), "value": st.integers(2, 200).map(float),
        "unit": st.sampled_from(["ng/mL", "nmol/L"]), "date": dates}), max_size=2))
    return rec


@st.composite
def derived(draw: st.DrawFn, record: Any) -> DerivedFacts:
    base = derived_facts_from_record(record)
    base.crcl_ml_min = draw(st.one_of(st.none(), st.integers(50, 1500).map(lambda x: x / 10)))
    base.egfr_ml_min_1_73m2 = draw(st.one_of(st.none(), st.integers(50, 1500).map(lambda x: x / 10)))
    cat = st.sampled_from(["low", "intermediate", "high", "very_high"])
    base.guideline_categories = draw(st.dictionaries(st.sampled_from(["nogg-2022", "iof-esceo-2020"]), cat))
    return base


settings.register_profile("treatment", max_examples=120, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])


@settings(settings.get_profile("treatment"))
@given(data=st.data(), raw=records(), guideline=st.sampled_from(available_guidelines()),
       region=st.sampled_from(["US", "AU", "EU"]))
def test_it_always_cites_shows_its_status_and_never_raises(
        data: st.DataObject, raw: dict[str, Any], guideline: str, region: str) -> None:
    """Whether anything offered is contraindicated is checked against an independent oracle typed from the brief
    (tests/core/test_treatment_review.py), not against the check that chose the options."""
    record = parse_record(raw)
    facts = data.draw(derived(record))
    rec = recommend(record, facts, guideline=guideline, as_of=AS_OF, region=region)

    assert rec.citations
    for option in rec.options:
        assert option.citations
    for advice in rec.sequencing:
        assert advice.citations, advice.rule_id
    if rec.status != "verified":
        assert any("(status:" in w for w in rec.warnings)
    assert rec.to_text().strip()
    assert type(rec).model_validate_json(rec.model_dump_json()) == rec


@settings(settings.get_profile("treatment"))
@given(data=st.data(), raw=records(), drug=st.sampled_from(DRUGS))
def test_every_contraindication_hit_has_a_kind_a_source_and_a_status(
        data: st.DataObject, raw: dict[str, Any], drug: str) -> None:
    record = parse_record(raw)
    facts = data.draw(derived(record))
    for hit in check_contraindications(record, facts, drug, as_of=AS_OF):
        assert hit.kind in ("must_not", "caution", "fix_first")
        assert hit.citation.text and hit.rule_id and hit.text
