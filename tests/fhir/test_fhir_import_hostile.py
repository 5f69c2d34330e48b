"""FHIR import against hostile and contradictory bundles (adversarial review, round 2).

Each test was written to fail on the importer as it was: conflicting same-day values picked silently, tracebacks
on malformed JSON, a half-stored multi-file import, facts dated before birth, control characters in names, and
AllergyIntolerance resources not read.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from fhir_helpers import cli_app, entries
from typer.testing import CliRunner

from osteocare.cli_fhir import record_from_fhir
from osteocare.core.errors import InputError
from osteocare.fhir import ImportResult, import_bundle, import_json
from osteocare.fhir.local import LOCAL_SYSTEM

AS_OF = dt.date(2025, 1, 1)
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


# ------------------------------------------------------------------------------------------------ builders
def patient(pid: str = "p1", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1950-01-01", **extra}


def obs(oid: str, code: str, value: float, unit: str, day: str = "2024-06-01", *, system: str = LOINC) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": {"coding": [{"system": system,
            "code": code}]}, "effectiveDateTime": day, "subject": {"reference": "Patient/p1"},
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def local_obs(oid: str, field: str, value: str, day: str = "2024-06-01") -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": LOCAL_SYSTEM, "code": field}]}, "effectiveDateTime": day,
            "subject": {"reference": "Patient/p1"}, "valueString": value}


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}


def weight(oid: str, kg: float, day: str = "2024-06-01") -> dict[str, Any]:
    return obs(oid, "29463-7", kg, "kg", day)


def height(oid: str, cm: float, day: str = "2024-06-01") -> dict[str, Any]:
    return obs(oid, "8302-2", cm, "cm", day)


def creat(oid: str, value: float, unit: str = "mg/dL", day: str = "2024-06-01") -> dict[str, Any]:
    return obs(oid, "2160-0", value, unit, day)


def one_result(b: Any) -> ImportResult:
    results = import_bundle(b, as_of=AS_OF)
    assert len(results) == 1
    return results[0]


def _app() -> typer.Typer:
    return cli_app()


def write(tmp_path: Path, name: str, content: Any) -> Path:
    p = tmp_path / name
    p.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return p


@pytest.fixture()
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "clinic.db"
    monkeypatch.setenv("OSTEOCARE_DATABASE_URL", f"sqlite:///{path}")
    return path


def stored_ids() -> list[str]:
    from osteocare.services.context import Clinic
    from osteocare.services.patients import find_patients

    clinic = Clinic.open()
    try:
        return sorted(p.record_id for p in find_patients(clinic))
    finally:
        clinic.close()


# ------------------------------------------------------------------------------------------------ 1 conflicts
def test_same_day_creatinine_results_that_disagree_are_left_out_and_flagged_with_both_values() -> None:
    rec, rep = one_result(bundle(patient(), creat("old", 0.9, day="2023-01-01"), creat("c1", 4.5), creat("c2", 0.8)))
    assert rec is not None
    assert [lab for lab in rec.labs if lab.name == "creatinine"] == []  # neither value, nor the older one as "latest"
    for rid in ("c1", "c2"):
        [e] = entries(rep, rid)
        assert e.outcome == "flagged" and "4.5" in e.reason and "0.8" in e.reason and "2024-06-01" in e.reason
    assert any("creatinine" in w and "disagree" in w for w in rep.warnings)


def test_same_day_results_that_agree_are_kept_even_in_two_units() -> None:
    rec, rep = one_result(bundle(patient(), creat("c1", 0.9), creat("c2", 80, "umol/L"), weight("w1", 60),
                                 weight("w2", 60), height("h", 160)))
    assert rec is not None and sorted(lab.value for lab in rec.labs) == [0.9, 80.0]
    assert rec.weight_kg == 60 and rec.height_cm == 160
    assert not any("disagree" in e.reason for e in rep.entries)
    rec, rep = one_result(bundle(patient(), creat("c1", 0.9), creat("c2", 200, "umol/L")))
    assert rec is not None and rec.labs == [] and "disagree" in entries(rep, "c2")[0].reason


def test_same_day_weights_that_disagree_are_left_out_and_flagged() -> None:
    rec, rep = one_result(bundle(patient(), weight("w0", 70, "2020-01-01"), weight("w1", 60), weight("w2", 120),
                                 height("h", 160)))
    assert rec is not None and rec.weight_kg is None and rec.bmi is None and rec.bmi_kg_m2 is None
    reasons = [e.reason for e in entries(rep, "w1") + entries(rep, "w2") if e.outcome == "flagged"]
    assert reasons and all("60" in r and "120" in r and "weight_kg" in r for r in reasons)


def test_a_local_sex_that_contradicts_patient_gender_is_refused() -> None:
    rec, rep = one_result(bundle(patient(), local_obs("s", "sex", "male")))
    assert rec is None
    assert any(e.outcome == "error" and "female" in e.reason and "male" in e.reason and "conflict" in e.reason
               for e in rep.entries)
    rec, _ = one_result(bundle(patient(), local_obs("s", "sex", "female")))
    assert rec is not None and rec.sex == "female"


def test_local_values_that_disagree_on_the_same_day_are_left_out_and_the_latest_date_wins() -> None:
    rec, rep = one_result(bundle(patient(), local_obs("a", "smoking", "heavy"), local_obs("b", "smoking", "ex_smoker")))
    assert rec is not None and rec.smoking == "non_smoker" and "smoking" in rep.defaults
    assert entries(rep, "a")[0].outcome == "flagged" and "heavy" in entries(rep, "b")[0].reason
    rec, _ = one_result(bundle(patient(), local_obs("a", "smoking", "heavy", "2024-06-01"),
                               local_obs("b", "smoking", "ex_smoker", "2020-01-01")))
    assert rec is not None and rec.smoking == "heavy"


# ------------------------------------------------------------------------------------------------ 2 no tracebacks
@pytest.mark.parametrize("junk", [
    {"resourceType": "Bundle", "type": "collection", "entry": 5},
    {"resourceType": "Bundle", "entry": [{"fullUrl": ["x"], "resource": patient()}]},
    {"resourceType": "Bundle", "entry": [{"resource": patient(extension=5, name=7, identifier="x")}]},
    {"resourceType": "Bundle", "entry": [{"resource": patient()}, {"resource": {
        "resourceType": "Observation", "id": "o", "code": {"coding": 5}, "component": 3, "subject": "Patient/p1"}}]},
    "[" * 100_000,
    '{"resourceType": "Bundle", "entry": [' * 5_000,
])
def test_malformed_bundles_give_a_report_never_a_traceback(junk: Any) -> None:
    results = import_bundle(junk, as_of=AS_OF)
    assert results and all(r.report.entries or r.report.notes for r in results)


def test_a_bundle_entry_that_is_not_a_list_is_named_in_the_report() -> None:
    [r] = import_bundle({"resourceType": "Bundle", "entry": 5}, as_of=AS_OF)
    assert r.record is None and any("entry" in n and "not a list" in n for n in r.report.notes)
    rec, rep = one_result(bundle(patient(extension=5)))
    assert rec is not None and any("extension" in e.reason for e in rep.entries)


def test_assess_fhir_prints_values_with_markup_characters_as_text_and_names_the_file_once(tmp_path: Path) -> None:
    from osteocare.cli import app

    f = write(tmp_path, "gender.json", bundle(patient(gender="[/red]")))
    r = CliRunner().invoke(app, ["assess", "--fhir", str(f), "--as-of", AS_OF.isoformat()])
    assert r.exit_code == 2, r.output  # an uncaught exception exits 1
    text = " ".join(r.output.split())
    assert "'[/red]'" in text and text.count("gender.json") == 1, text
    with pytest.raises(InputError, match=r"'\[/red\]'") as info:
        record_from_fhir(f, as_of=AS_OF)
    assert str(f) not in str(info.value)  # the caller names the file


@pytest.mark.parametrize("kind", ["not-utf8", "folder"])
def test_unreadable_bundle_files_are_refused_with_the_file_and_the_reason(tmp_path: Path, kind: str) -> None:
    from osteocare.cli import app

    if kind == "folder":
        f = tmp_path / "bundle.json"
        f.mkdir()
        why = "folder"
    else:
        f = tmp_path / "latin1.json"
        f.write_bytes(json.dumps(bundle(patient(name=[{"family": "X"}]))).replace('"X"', '"M\xfcller"').encode("latin-1"))
        why = "UTF-8"
    r = CliRunner().invoke(app, ["assess", "--fhir", str(f), "--as-of", AS_OF.isoformat()])
    assert r.exit_code == 2 and why in r.output and " ".join(r.output.split()).count(f.name) == 1, r.output
    r = CliRunner().invoke(_app(), ["import-fhir", str(f if kind != "folder" else tmp_path), "--no-store"])
    assert r.exit_code == 2 and why in r.output and f.name in r.output, r.output


def test_import_fhir_refuses_a_report_path_it_cannot_write(tmp_path: Path) -> None:
    f = write(tmp_path, "ok.json", bundle(patient()))
    r = CliRunner().invoke(_app(), ["import-fhir", str(f), "--no-store", "--report", str(tmp_path / "no/such/r.json")])
    assert r.exit_code == 2, r.output
    assert "--report" in r.output and "r.json" in r.output


def test_import_fhir_with_a_markup_patient_id_does_not_crash(tmp_path: Path) -> None:
    f = write(tmp_path, "id.json", bundle({**patient(), "id": "[red]"}))
    r = CliRunner().invoke(_app(), ["import-fhir", str(f), "--no-store"])
    assert r.exit_code == 0, r.output
    assert "[red]" in r.output
    f = write(tmp_path, "slash.json", bundle({**patient(), "id": "[/red]"}))  # '/' cannot be in a record id
    r = CliRunner().invoke(_app(), ["import-fhir", str(f), "--no-store"])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "[/red]" in r.output


# ------------------------------------------------------------------------------------------------ 3 all or nothing
def test_import_fhir_stores_nothing_when_any_file_is_refused(tmp_path: Path, db: Path) -> None:
    ok = write(tmp_path, "ok.json", bundle(patient("p1")))
    bad = write(tmp_path, "nobirth.json", bundle({"resourceType": "Patient", "id": "p2", "gender": "female"}))
    r = CliRunner().invoke(_app(), ["import-fhir", str(ok), str(bad), "--as-of", AS_OF.isoformat()])
    assert r.exit_code == 2, r.output
    assert "nobirth.json" in r.output and "nothing stored" in r.output
    assert stored_ids() == []
    r = CliRunner().invoke(_app(), ["import-fhir", str(ok), str(bad), "--no-store"])
    assert r.exit_code == 2 and "[" not in r.stdout
    r = CliRunner().invoke(_app(), ["import-fhir", str(ok), "--as-of", AS_OF.isoformat()])
    assert r.exit_code == 0 and stored_ids() == ["p1"]
    r = CliRunner().invoke(_app(), ["import-fhir", str(ok), "--as-of", AS_OF.isoformat()])
    assert r.exit_code == 2 and "already exists" in r.output


# ------------------------------------------------------------------------------------------------ 4 dates
def test_facts_dated_before_birth_are_skipped_with_the_reason() -> None:
    cond = {"resourceType": "Condition", "id": "fx", "code": {"coding": [{"system": "http://snomed.info/sct",
            "code": "5913000"}]}, "subject": {"reference": "Patient/p1"}, "onsetDateTime": "1900-01-01"}
    rec, rep = one_result(bundle(patient(), creat("c", 4.5, day="1900-01-01"), cond))
    assert rec is not None and rec.labs == [] and rec.fractures == []
    for rid in ("c", "fx"):
        [e] = entries(rep, rid)
        assert e.outcome == "skipped" and "before the birth date" in e.reason


def test_local_coded_observations_get_the_future_date_check() -> None:
    rec, rep = one_result(bundle(patient(), local_obs("s", "smoking", "heavy", "2099-01-01")))
    assert rec is not None and rec.smoking == "non_smoker"
    [e] = entries(rep, "s")
    assert e.outcome == "skipped" and "after the as-of date" in e.reason


# ------------------------------------------------------------------------------------------------ 5 message once
def test_the_no_usable_patient_message_names_the_file_once(tmp_path: Path) -> None:
    f = write(tmp_path, "nobirth.json", bundle({"resourceType": "Patient", "id": "p1", "gender": "female"}))
    with pytest.raises(InputError) as info:
        record_from_fhir(f, as_of=AS_OF)
    message = f"{f}: {info.value}"  # how `osteocare assess --fhir` prints it
    assert message.count(str(f)) == 1 and "birth" in message


# ------------------------------------------------------------------------------------------------ 6 names
def test_control_and_bidi_characters_are_removed_from_names_with_a_report_line(tmp_path: Path, db: Path) -> None:
    b = bundle(patient(name=[{"family": "\u202eÖğ\x00", "given": ["\x00Jane", "A\u2066nn"]}]))
    rec, rep = one_result(b)
    assert rec is not None
    assert any(e.outcome == "flagged" and "U+202E" in e.reason and "U+0000" in e.reason for e in rep.entries)
    f = write(tmp_path, "names.json", b)
    r = CliRunner().invoke(_app(), ["import-fhir", str(f), "--as-of", AS_OF.isoformat()])
    assert r.exit_code == 0, r.output
    from osteocare.services.context import Clinic
    from osteocare.services.patients import show_patient

    clinic = Clinic.open()
    try:
        s = show_patient(clinic, "p1").summary
    finally:
        clinic.close()
    assert (s.family_name, s.given_name) == ("Öğ", "Jane Ann")


# ------------------------------------------------------------------------------------------------ 7 allergies
def allergy(aid: str, code: str, system: str = RXNORM, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "AllergyIntolerance", "id": aid, "patient": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": system, "code": code}]}, **extra}


def _status(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": f"http://terminology.hl7.org/CodeSystem/{system}", "code": code}]}


def test_an_active_drug_allergy_becomes_an_intolerance_of_the_record() -> None:
    a1 = allergy("a1", "46041", type="allergy", clinicalStatus=_status("allergyintolerance-clinical", "active"),
                 recordedDate="2020-03-04",
                 reaction=[{"manifestation": [{"text": "anaphylaxis"}], "severity": "severe"}])
    rec, rep = one_result(bundle(patient(), a1))
    assert rec is not None and len(rec.intolerances) == 1
    i = rec.intolerances[0]
    assert (i.drug, i.severity, i.date) == ("alendronate", "severe", dt.date(2020, 3, 4))
    assert "anaphylaxis" in i.reaction
    assert entries(rep, "a1")[0].target == "intolerances[alendronate]"


def test_allergies_that_are_refuted_resolved_or_unmapped_are_not_used_and_say_why() -> None:
    refuted = allergy("r", "46041", verificationStatus=_status("allergyintolerance-verification", "refuted"))
    resolved = allergy("i", "73056", clinicalStatus=_status("allergyintolerance-clinical", "resolved"))
    penicillin = allergy("pen", "7980")
    no_status = allergy("ns", "M05BA07", system="http://www.whocc.no/atc",
                        reaction=[{"manifestation": [{"text": "nausea"}]}], type="intolerance")
    rec, rep = one_result(bundle(patient(), refuted, resolved, penicillin, no_status))
    assert rec is not None and [(i.drug, i.severity) for i in rec.intolerances] == [("risedronate", None)]
    assert "refuted" in entries(rep, "r")[0].reason and "resolved" in entries(rep, "i")[0].reason
    [pen] = entries(rep, "pen")
    assert pen.outcome == "skipped" and "not mapped" in pen.reason and "7980" in pen.reason
    [ns] = entries(rep, "ns")
    assert ns.outcome == "flagged" and "clinicalStatus" in ns.reason
    assert "allergy" not in rec.intolerances[0].reaction.lower()  # an intolerance is not read as hypersensitivity


def test_assess_does_not_offer_a_drug_the_patient_is_allergic_to(tmp_path: Path) -> None:
    from osteocare.core.assessment import assess

    tscore = obs("t", "38267-1", -3.0, "{T-score}")
    base = [patient(), weight("w", 60), height("h", 160), tscore, tscore | {"id": "t2"}, creat("c", 0.9)]
    rec, _ = one_result(bundle(*base))
    assert rec is not None
    offered = [o["drug"] for o in (assess(rec, as_of=AS_OF).recommendation or {})["options"]]
    assert "alendronate" in offered
    a1 = allergy("a1", "46041", reaction=[{"manifestation": [{"text": "anaphylaxis"}]}])
    rec, _ = one_result(bundle(*base, a1))
    assert rec is not None
    offered = [o["drug"] for o in (assess(rec, as_of=AS_OF).recommendation or {})["options"]]
    assert "alendronate" not in offered


def test_import_json_names_a_non_utf8_file_in_its_report(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_bytes(b'{"resourceType": "Bundle", "id": "\xff"}')
    [r] = import_json(f, as_of=AS_OF)
    assert r.record is None and "UTF-8" in r.report.entries[0].reason
