"""FHIR import: every mapping and every messy case, on hand-made bundles (./bundles)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fhir_helpers import AS_OF, BUNDLES, entries, load, one

from osteocare.core.records import PatientRecord
from osteocare.fhir import import_bundle, import_json, import_path, record_from_fhir
from osteocare.fhir.codes import lookup, table
from osteocare.fhir.importer import parse_fhir_date
from osteocare.fhir.local import LOCAL_SYSTEM, _file_system


def _dxa(record: PatientRecord, site: str, date: dt.date | None) -> dict[str, object]:
    found = [m.model_dump(exclude_none=True) for m in record.dxa if m.site == site and m.date == date]
    assert len(found) == 1, found
    return found[0]


# ------------------------------------------------------------------------------------------------ code maps
def test_every_code_map_loads_with_a_status_per_code() -> None:
    for name in ("loinc", "snomed", "icd10cm", "icd10who", "rxnorm", "atc"):
        t = table(name)
        assert t.entries, name
        assert all(e.status in ("verified", "secondary", "unverified") for e in t.entries.values())


def test_the_two_icd_10_editions_are_kept_apart() -> None:
    cm = lookup("http://hl7.org/fhir/sid/icd-10-cm", "M81.0")
    who = lookup("http://hl7.org/fhir/sid/icd-10", "M81.0")
    assert cm is not None and who is not None
    assert cm.status == "verified" and who.status == "unverified"
    assert cm.display != who.display
    assert who.get("implies") == {"menopausal_status": "postmenopausal"} and cm.get("implies") is None
    assert lookup(None, "M81.0") is None


def test_an_unknown_code_is_unknown_never_guessed() -> None:
    assert lookup("http://loinc.org", "14635-7") is None  # "avoid" in codes.md
    assert lookup("http://loinc.org", "99999-9") is None
    assert lookup("http://example.org/codes", "38265-5") is None


def test_the_local_code_system_matches_its_knowledge_file() -> None:
    assert _file_system() == LOCAL_SYSTEM


@pytest.mark.parametrize(
    ("value", "day", "problem"),
    [
        ("2012-08-16T05:26:09+00:00", dt.date(2012, 8, 16), None),
        ("2019-05", dt.date(2019, 5, 1), "partial"),
        ("1950", dt.date(1950, 1, 1), "partial"),
        ("yesterday", None, "unreadable"),
        (None, None, "no date"),
    ],
)
def test_it_reads_fhir_dates_and_says_what_it_assumed(value: str | None, day: dt.date | None, problem: str | None) -> None:
    got, why = parse_fhir_date(value)
    assert got == day
    assert (why is None) if problem is None else (problem in (why or ""))


# ------------------------------------------------------------------------------------------------ DXA
def test_it_maps_dxa_bmd_t_and_z_scores_by_loinc_code_and_body_site() -> None:
    rec, rep = load("dxa.json")
    assert rec is not None
    day = dt.date(2024, 5, 2)
    assert _dxa(rec, "total_hip", day) == {"site": "total_hip", "date": day, "bmd_g_cm2": 0.712, "t_score": -2.1,
                                           "z_score": -0.9}
    assert _dxa(rec, "femoral_neck", day) == {"site": "femoral_neck", "date": day, "bmd_g_cm2": 0.601, "t_score": -2.6}
    assert _dxa(rec, "trochanter", day)["t_score"] == -1.8
    assert _dxa(rec, "lumbar_spine", day) == {"site": "lumbar_spine", "date": day, "bmd_g_cm2": 0.845, "t_score": -2.4,
                                              "z_score": -1.1}
    assert _dxa(rec, "radius_33", day)["t_score"] == -2.9
    assert "codes.md 2.1" in one(rep, "fn-bmd-nobody").reason
    assert one(rep, "ls-bmd-mg").outcome == "flagged"  # converted mg/cm2 -> g/cm2


def test_it_keeps_a_forearm_score_without_its_sub_region_out_of_the_record() -> None:
    rec, rep = load("dxa.json")
    assert rec is not None
    assert one(rep, "forearm-t-nobody").outcome == "flagged"
    unk = {(s.kind, s.value, s.region) for s in rep.site_unknown_scores}
    assert ("t_score", -3.1, "forearm (sub-region unknown)") in unk
    assert ("bmd_g_cm2", 0.9, "unspecified bone") in unk
    assert all(m.t_score != -3.1 for m in rec.dxa)


def test_it_skips_calcaneus_bad_units_and_implausible_scores_with_the_reason() -> None:
    _, rep = load("dxa.json")
    assert "not a diagnostic site" in one(rep, "calc-t").reason
    assert one(rep, "t-bad-unit").outcome == "skipped" and "'%'" in one(rep, "t-bad-unit").reason
    assert one(rep, "t-implausible").outcome == "skipped"
    wrong = one(rep, "bmd-wrong-unit")
    assert wrong.outcome == "flagged" and "g/cm-2" in wrong.reason
    assert one(rep, "t-no-unit").outcome == "flagged"


def test_it_flags_left_and_right_sides_because_the_record_has_no_laterality() -> None:
    rec, rep = load("dxa.json")
    assert rec is not None
    assert "left side" in one(rep, "hip-left-t").reason and "right side" in one(rep, "hip-right-t").reason
    assert sorted(m.t_score for m in rec.dxa if m.date == dt.date(2024, 6, 1)) == [-2.2, -2.0]


def test_it_reads_dxa_reports_panels_and_scans_as_such() -> None:
    _, rep = load("dxa.json")
    assert "grouping" in one(rep, "dxa-panel").reason
    assert one(rep, "dxa-scan").target == "report.dxa_exams"
    assert rep.dxa_exams == [dt.date(2024, 5, 2)]


def test_it_reads_synthea_38265_5_as_a_t_score_with_site_unknown() -> None:
    rec, rep = load("synthea-quirk.json")
    assert rec is not None and rec.dxa == []
    assert [(s.value, s.region) for s in rep.site_unknown_scores] == [(-2.8, "unknown"), (-2.6, "unknown")]
    for rid in ("synthea-display", "synthea-tagged"):
        e = one(rep, rid)
        assert e.outcome == "flagged" and "Synthea" in e.reason and e.target == "report.site_unknown_scores"


# ------------------------------------------------------------------------------------------------ labs, body
def test_it_maps_labs_keeping_their_units() -> None:
    rec, rep = load("labs-and-units.json")
    assert rec is not None
    labs = {(lab.name, lab.value, lab.unit) for lab in rec.labs}
    assert labs == {
        ("creatinine", 95.0, "umol/L"), ("creatinine", 1.1, "mg/dL"), ("calcium", 2.35, "mmol/L"),
        ("calcium", 9.4, "mg/dL"), ("vitamin_d_25oh", 48.0, "nmol/L"), ("vitamin_d_25oh", 21.0, "ng/mL"),
        ("vitamin_d2_25oh", 3.0, "ng/mL"), ("egfr_ckd_epi_2021", 62.0, "mL/min/{1.73_m2}"),
        ("egfr_ckd_epi_2009", 60.0, "mL/min/{1.73_m2}"), ("egfr_mdrd", 58.0, "mL/min/{1.73_m2}"),
    }
    assert one(rep, "vitd3-ngml").outcome == "flagged"
    assert one(rep, "ca-blood").status == "secondary" and one(rep, "creat-blood-mgdl").status == "unverified"


def test_it_skips_unknown_units_implausible_values_comparators_and_absent_values() -> None:
    _, rep = load("labs-and-units.json")
    for rid, words in [("creat-bad-unit", "mg/L"), ("creat-implausible", "20 to 2000"), ("weight-lb", "[lb_av]"),
                       ("comparator", "comparator"), ("absent", "absent"), ("vitd-avoid", "14635-7"),
                       ("smoking-unknown-code", "72166-2"), ("bp-components", "55284-4")]:
        e = one(rep, rid)
        assert e.outcome == "skipped" and words in e.reason, (rid, e)


def test_it_converts_weight_and_height_and_prefers_them_to_an_older_bmi() -> None:
    rec, rep = load("labs-and-units.json")
    assert rec is not None
    assert (rec.weight_kg, rec.height_cm, rec.bmi) == (61.5, 162.0, None)
    assert rec.bmi_kg_m2 == pytest.approx(61.5 / 1.62**2)
    assert any("BMI computed from weight" in n for n in rep.notes)


def test_it_ignores_a_searchset_outcome_entry() -> None:
    _, rep = load("labs-and-units.json")
    assert rep.bundle_type == "searchset"
    assert any("search outcome" in n for n in rep.notes)


# ------------------------------------------------------------------------------------------------ conditions
def test_it_maps_snomed_diagnoses_fractures_and_falls() -> None:
    rec, rep = load("conditions.json")
    assert rec is not None
    diagnoses = {(d.diagnosis, d.code) for d in rep.diagnoses}
    assert ("osteoporosis", "http://snomed.info/sct|64859006") in diagnoses
    assert ("osteopenia", "http://snomed.info/sct|312894000") in diagnoses
    assert ("vertebral_osteoporosis", "http://snomed.info/sct|203438009") in diagnoses
    assert ("at_risk_of_osteoporotic_fracture", "http://snomed.info/sct|391040000") in diagnoses
    fx = {(f.site, f.date) for f in rec.fractures}
    assert ("hip", dt.date(2017, 1, 1)) in fx and ("vertebra", dt.date(2018, 2, 2)) in fx
    assert ("wrist", dt.date(2014, 1, 1)) in fx and ("other", dt.date(2015, 1, 1)) in fx  # forearm -> other
    # two Conditions are two fractures, even of one site on one day (two vertebrae in one fall); the second says so
    assert [(f.site, f.date) for f in rec.fractures].count(("hip", dt.date(2017, 1, 1))) == 2
    assert "another fracture at this site on this day from Condition/sct-hip" in one(rep, "sct-hip-synthea").reason
    assert [f.date for f in rec.falls_history] == [dt.date(2024, 2, 1), dt.date(2024, 3, 1)]
    assert rec.falls and rec.prior_fracture


def test_it_flags_fractures_whose_code_does_not_state_the_cause() -> None:
    _, rep = load("conditions.json")
    assert one(rep, "sct-fragility").outcome == "mapped"  # 443165006 says osteoporotic
    assert "confirm" in one(rep, "sct-hip").reason and one(rep, "sct-hip").outcome == "flagged"


def test_it_reads_icd_10_cm_and_who_with_their_own_tables() -> None:
    rec, rep = load("conditions.json")
    assert rec is not None
    codes = {d.code for d in rep.diagnoses}
    assert {"http://hl7.org/fhir/sid/icd-10-cm|M81.0", "http://hl7.org/fhir/sid/icd-10-cm|M80.08XA",
            "http://hl7.org/fhir/sid/icd-10-cm|M8000XA", "http://hl7.org/fhir/sid/icd-10|M81.0",
            "http://hl7.org/fhir/sid/icd-10|M81.9"} <= codes
    assert one(rep, "cm-m858").reason.startswith("diagnosis other_bone_density_disorder")
    assert one(rep, "cm-m80-vertebra", target="fractures").outcome == "mapped"
    assert one(rep, "who-m810").status == "unverified" and one(rep, "cm-m810").status == "verified"
    # WHO M81.0 is postmenopausal osteoporosis: the female patient's menopausal status follows, flagged
    assert rec.menopausal_status == "postmenopausal"
    assert any(e.target == "menopausal_status" and e.outcome == "flagged" for e in rep.entries)


def test_it_never_guesses_the_edition_of_an_icd_code() -> None:
    _, rep = load("conditions.json")
    assert "not guessed" in one(rep, "icd-no-system").reason
    assert one(rep, "icd-other-edition").outcome == "skipped"


def test_it_honours_verification_status_and_finds_onset_dates() -> None:
    rec, rep = load("conditions.json")
    assert rec is not None
    assert one(rep, "refuted").outcome == "skipped"
    assert "provisional" in one(rep, "provisional").reason
    assert ("wrist", dt.date(2013, 3, 3)) in {(f.site, f.date) for f in rec.fractures}
    assert "no date" in one(rep, "no-date").reason
    assert "recordedDate" in one(rep, "recorded-only").reason


def test_it_reads_a_fracture_from_a_procedure_reason_and_skips_a_procedure_not_done() -> None:
    rec, rep = load("conditions.json")
    assert rec is not None
    assert ("hip", dt.date(2010, 10, 10)) in {(f.site, f.date) for f in rec.fractures}
    assert one(rep, "proc-not-done").outcome == "skipped"


# ------------------------------------------------------------------------------------------------ medications
def test_it_maps_medication_requests_statements_and_administrations() -> None:
    rec, rep = load("medications.json")
    assert rec is not None
    meds = {m.drug: m for m in rec.medications}
    assert set(meds) == {"denosumab", "zoledronic_acid", "teriparatide", "raloxifene", "risedronate", "ibandronate",
                         "vitamin_d", "calcium"}
    d = meds["denosumab"]
    assert (d.start, d.end, d.last_dose) == (dt.date(2022, 1, 10), None, dt.date(2022, 7, 12))
    assert (meds["zoledronic_acid"].start, meds["zoledronic_acid"].end) == (dt.date(2019, 3, 1), dt.date(2019, 3, 1))
    assert meds["teriparatide"].end == dt.date(2016, 1, 1) and one(rep, "rx-teriparatide").outcome == "flagged"
    assert "ingredient name" in one(rep, "st-raloxifene-text").reason
    assert one(rep, "rx-by-reference").outcome == "mapped" and one(rep, "rx-contained").outcome == "mapped"


def test_it_excludes_oncology_products_proposals_and_orders_never_given() -> None:
    _, rep = load("medications.json")
    assert "oncology" in one(rep, "rx-xgeva").reason
    assert "4 mg oncology" in one(rep, "rx-zol-oncology").reason
    assert "proposal" in one(rep, "rx-proposal").reason
    assert "cancelled" in one(rep, "rx-cancelled").reason
    assert "not-done" in one(rep, "adm-dmab-not-done").reason
    assert "intended" in one(rep, "st-dmab-atc-only").reason
    assert one(rep, "rx-amoxicillin").outcome == "skipped"


def test_synthea_alendronate_is_recognised_by_name_not_by_its_conflicting_rxcui() -> None:
    concept = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "904419",
                           "display": "Alendronic acid 10 MG Oral Tablet"}], "text": "Alendronic acid 10 MG Oral Tablet"}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "id": "p", "gender": "female",
                                               "birthDate": "1950-01-01"}},
        {"resource": {"resourceType": "MedicationRequest", "id": "m", "status": "active", "intent": "order",
                      "subject": {"reference": "urn:uuid:p"}, "authoredOn": "2017-08-03",
                      "medicationCodeableConcept": concept}}]}
    [(rec, rep)] = import_bundle(bundle, as_of=AS_OF)
    assert rec is not None and [m.drug for m in rec.medications] == ["alendronate"]
    e = one(rep, "m")
    assert e.outcome == "flagged" and "conflicting" in e.reason and "ingredient name" in e.reason


# ------------------------------------------------------------------------------------------------ messy input
def test_it_copes_with_missing_partial_and_future_dates() -> None:
    rec, rep = load("messy.json")
    assert rec is not None
    assert "no date" in one(rep, "no-date").reason
    assert _dxa(rec, "lumbar_spine", None)["t_score"] == -2.0
    assert _dxa(rec, "total_hip", dt.date(2019, 5, 1))["t_score"] == -1.9
    assert "issued" in one(rep, "issued-only").reason
    assert "after the as-of date" in one(rep, "future").reason
    assert all(m.t_score != -3.0 for m in rec.dxa)


def test_it_reads_a_patient_with_unknown_gender_and_a_partial_birth_date_with_flags() -> None:
    rec, rep = load("messy.json")
    assert rec is not None and rec.sex == "female" and rec.age == 74
    assert one(rep, "p1", target="sex").outcome == "flagged"
    assert "partial date" in one(rep, "p1", target="age").reason


def test_it_reads_invalid_resources_leniently_and_says_so() -> None:
    rec, rep = load("messy.json")
    assert rec is not None
    bad = entries(rep, "bad-date")
    assert any("does not validate under FHIR R4B" in e.reason for e in bad)
    assert rec.height_cm == 160.0
    assert any("does not validate" in e.reason for e in entries(rep, "no-code"))
    assert one(rep, "entered-in-error").outcome == "skipped"
    assert "not a patient of this bundle" in one(rep, "other-patient").reason
    assert "no subject" in entries(rep, "no-subject")[0].reason
    assert any("Basic" in e.resource for e in rep.entries)
    assert any("no resource" in n for n in rep.notes)


def test_it_reads_dxa_components_and_nested_bundles() -> None:
    rec, _ = load("messy.json")
    assert rec is not None
    assert _dxa(rec, "lumbar_spine", dt.date(2016, 6, 6)) == {
        "site": "lumbar_spine", "date": dt.date(2016, 6, 6), "bmd_g_cm2": 0.88, "t_score": -1.7, "z_score": -0.4}
    assert _dxa(rec, "femoral_neck", dt.date(2015, 5, 5))["t_score"] == -2.2
    assert _dxa(rec, "lumbar_spine", dt.date(2014, 4, 4))["t_score"] == -2.3  # value written as text


def test_it_makes_one_record_per_patient_and_resolves_absolute_references() -> None:
    results = import_json(BUNDLES / "two-patients.json", as_of=AS_OF)
    assert [r.record.id for r in results if r.record] == ["p1", "p2"]
    assert [m.t_score for m in results[0].record.dxa] == [-2.7]  # type: ignore[union-attr]
    assert [m.t_score for m in results[1].record.dxa] == [-1.2]  # type: ignore[union-attr]


def test_it_makes_no_record_without_a_patient_or_a_birth_date_and_says_why() -> None:
    rec, rep = load("no-patient.json")
    assert rec is None and not rep.record_created and "no Patient" in rep.entries[0].reason
    rec, rep = load("no-birthdate.json")
    assert rec is None and any(e.outcome == "error" and "birthDate" in e.reason for e in rep.entries)


@pytest.mark.parametrize("junk", ["not json", "[1, 2]", '{"foo": 1}', '{"resourceType": "Bundle", "entry": [7]}'])
def test_it_never_crashes_on_junk(junk: str) -> None:
    results = import_bundle(junk, as_of=AS_OF)
    assert results and all(r.record is None for r in results)
    assert all(r.report.entries or r.report.notes for r in results)


def test_a_single_resource_file_is_read_as_a_bundle_of_one() -> None:
    [(rec, rep)] = import_bundle({"resourceType": "Patient", "id": "x", "gender": "male", "birthDate": "1960-06-01"},
                                 as_of=AS_OF)
    assert rec is not None and rec.age == 64
    assert any("single Patient" in n for n in rep.notes)


def test_the_report_counts_and_summarises_what_happened() -> None:
    _, rep = load("dxa.json")
    c = rep.counts
    assert c["mapped"] > 5 and c["flagged"] >= 3 and c["skipped"] >= 2 and c["error"] == 0
    text = rep.summary()
    assert "record created" in text and "skipped" in text and "calcaneus" in text
    json.dumps(rep.model_dump(mode="json"))  # serialisable


def test_a_non_verified_mapping_lowers_the_report_status_and_warns_visibly() -> None:
    _, rep = load("labs-and-units.json")
    assert rep.status == "unverified"
    assert any("(status: unverified)" in w and "38483-4" in w for w in rep.warnings)


def test_import_path_reads_every_json_file_of_a_directory() -> None:
    results = import_path(BUNDLES, as_of=AS_OF)
    assert len(results) == len(list(BUNDLES.glob("*.json"))) + 1  # two-patients gives two


def test_record_from_fhir_returns_the_one_patient_or_refuses_with_the_reason() -> None:
    rec, rep = record_from_fhir(BUNDLES / "dxa.json", as_of=AS_OF)
    assert rec.id == "p1" and rep.record_created
    from osteocare.core.errors import InputError

    with pytest.raises(InputError, match="exactly one patient"):
        record_from_fhir(BUNDLES / "two-patients.json", as_of=AS_OF)
    with pytest.raises(InputError, match="birth"):
        record_from_fhir(BUNDLES / "no-birthdate.json", as_of=AS_OF)


def test_the_brief_summary_leaves_out_the_skipped_details() -> None:
    _, rep = load("dxa.json")
    brief = rep.summary(brief=True)
    assert "calcaneus" not in brief and "skipped" in brief and "flagged" in brief
    assert len(brief) < len(rep.summary())
