"""A patient's conditions, medication history, intolerances, falls and fractures over the API: listed by kind, added
(201, with what the contraindication check now finds for the active courses), a condition resolved or a medication
ended, an entry made in error deleted with a reason (the audit log keeps what it said). A refused value is 422
naming the field, and nothing is written; another patient's entry is 404 through this patient's path; only doctors
and nurses may read or change them.

A clinic of its own (the shared one stays as the other web tests expect it), with one new patient per test whose
entries are known exactly."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from osteocare.core.records import PatientRecord
from osteocare.services.context import Clinic
from osteocare.services.courses import start_course
from osteocare.services.entries import KINDS, add_entry, entries_of
from osteocare.services.facts import add_lab
from osteocare.services.patients import add_patient, audit_trail

from .conftest import USERS

_ids = itertools.count(1)
#: The finding of alendronate's drug file for an oesophageal stricture, as the warning says it.
OESOPH_WARNING = ("Active course of Alendronate: the contraindication check now finds ALN-CI-OESOPH (must not): "
                  "Oesophageal abnormalities that delay emptying (stricture, achalasia): absolute contraindication.")


@pytest.fixture
def client(own_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(own_app) as c:
        yield c


@pytest.fixture
def clinic(own_setup) -> Clinic:  # type: ignore[no-untyped-def]
    return own_setup[0]  # type: ignore[no-any-return]


def _new_patient(clinic: Clinic) -> str:
    """A new 70-year-old woman (55 kg, 155 cm) with no entries."""
    rid = f"ENT-{next(_ids)}"
    add_patient(clinic, PatientRecord.model_validate({"id": rid, "sex": "female", "age": 70, "weight_kg": 55.0,
                                                      "height_cm": 155.0, "menopausal_status": "postmenopausal"}),
                given_name="Lan", family_name="Nguyen")
    return rid


@pytest.fixture
def new_patient(clinic: Clinic) -> str:
    return _new_patient(clinic)


def _url(rid: str, *rest: object) -> str:
    return "/".join([f"/api/v1/patients/{rid}/entries", *(str(r) for r in rest)])


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status
    return body  # type: ignore[no-any-return]


def _changes(clinic: Clinic, rid: str) -> list[tuple[str, str, Any]]:
    """The entries' writes in the audit trail (not the reads, not the patient's), newest first:
    (action, kind, detail)."""
    return [(a["action"], a["entity"], json.loads(a["detail"] or "null")) for a in audit_trail(clinic, rid)
            if a["action"] != "read" and a["entity"] in KINDS]


#: The entries of a patient who has none.
NONE: dict[str, list[Any]] = {k: [] for k in KINDS}


def test_the_list_gives_every_kind_oldest_first_a_condition_with_its_label(client, own_tokens, clinic,
                                                                           new_patient) -> None:  # type: ignore[no-untyped-def]
    rid = new_patient
    r = client.get(_url(rid), headers=own_tokens["nurse"])
    assert r.status_code == 200, r.text
    assert r.json() == {"condition": [], "medication": [], "intolerance": [], "fall": [], "fracture": [],
                        "vertebra": []}
    late = add_entry(clinic, rid, "condition", {"code": "stroke", "onset": "2023-04-01"}).entry.id
    early = add_entry(clinic, rid, "condition", {"code": "dialysis", "onset": "2019-01-01",
                                                 "resolved": "2020-06-30"}).entry.id
    undated = add_entry(clinic, rid, "condition", {"code": "atrial_fibrillation"}).entry.id
    med = add_entry(clinic, rid, "medication", {"drug": "alendronate", "start": "2018-01-01",
                                                "end": "2023-01-01"}).entry.id
    fall = add_entry(clinic, rid, "fall", {"date": "2024-02-02", "injurious": True}).entry.id
    r = client.get(_url(rid), headers=own_tokens["doctor"])
    assert r.status_code == 200, r.text
    assert r.json() == {
        "condition": [
            {"kind": "condition", "id": undated, "label": "Atrial fibrillation", "current": True,
             "fields": {"code": "atrial_fibrillation", "onset": None, "resolved": None}},
            {"kind": "condition", "id": early, "label": "On dialysis", "current": False,
             "fields": {"code": "dialysis", "onset": "2019-01-01", "resolved": "2020-06-30"}},
            {"kind": "condition", "id": late, "label": "Stroke", "current": True,
             "fields": {"code": "stroke", "onset": "2023-04-01", "resolved": None}},
        ],
        "medication": [{"kind": "medication", "id": med, "label": None, "current": False,
                        "fields": {"drug": "alendronate", "start": "2018-01-01", "end": "2023-01-01",
                                   "last_dose": None}}],
        "intolerance": [],
        "fall": [{"kind": "fall", "id": fall, "label": None, "current": True,
                  "fields": {"date": "2024-02-02", "injurious": True}}],
        "fracture": [],
        "vertebra": [],
    }
    reads = [(a["actor"], json.loads(a["detail"])) for a in audit_trail(clinic, rid) if a["action"] == "read"]
    assert reads[:2] == [(f"doctor:{USERS['doctor']}", {"what": "entries"}),
                         (f"nurse:{USERS['nurse']}", {"what": "entries"})]


@pytest.mark.parametrize(("kind", "body", "fields", "label"), [
    ("condition", {"code": "Atrial fibrillation", "onset": "2020-05-01"},
     {"code": "atrial_fibrillation", "onset": "2020-05-01", "resolved": None}, "Atrial fibrillation"),
    ("medication", {"drug": "Zoledronic acid", "start": "2021-03-01", "last_dose": "2021-03-01"},
     {"drug": "zoledronic_acid", "start": "2021-03-01", "end": None, "last_dose": "2021-03-01"}, None),
    ("intolerance", {"drug": "risedronate", "reaction": "heartburn", "severity": "moderate", "date": "2023-06-01"},
     {"drug": "risedronate", "reaction": "heartburn", "date": "2023-06-01", "severity": "moderate"}, None),
    ("fall", {"date": "2025-01-02"}, {"date": "2025-01-02", "injurious": False}, None),
    ("fracture", {"site": "wrist", "date": "2024-11-20", "fragility": False},
     {"site": "wrist", "date": "2024-11-20", "fragility": False, "on_treatment": False}, None),
])
def test_each_kind_is_added_with_201_as_the_record_has_it_and_audited(
        client, own_tokens, clinic, new_patient, kind, body, fields, label) -> None:  # type: ignore[no-untyped-def]
    rid = new_patient
    r = client.post(_url(rid, kind), headers=own_tokens["nurse"], json=body)
    assert r.status_code == 201, r.text
    got = r.json()
    entry_id = got["entry"]["id"]
    assert got == {"entry": {"kind": kind, "id": entry_id, "fields": fields, "label": label, "current": True},
                   "warnings": []}
    listed = entries_of(clinic, rid)
    assert [e.model_dump(mode="json") for e in listed[kind]] == [got["entry"]]
    assert all(listed[k] == [] for k in KINDS if k != kind)
    [(action, entity, detail)] = _changes(clinic, rid)
    assert (action, entity, detail) == ("create", kind, fields)
    creates = [a for a in audit_trail(clinic, rid) if a["action"] == "create"]
    assert creates[0]["actor"] == f"nurse:{USERS['nurse']}" and creates[0]["entity_id"] == str(entry_id)


@pytest.mark.parametrize(("kind", "body", "field", "value"), [
    ("condition", {"code": "broken heart"}, "code", "broken heart"),
    ("condition", {"code": "stroke", "onset": "2024-01-01", "resolved": "2023-01-01"}, "resolved", "2023-01-01"),
    ("condition", {"code": "stroke", "severity": "mild"}, "severity", "mild"),
    ("medication", {"drug": "aspirin"}, "drug", "aspirin"),
    ("medication", {"drug": "alendronate", "start": "1900-01-01"}, "start", "1900-01-01"),
    ("intolerance", {"drug": "alendronate"}, "reaction", None),
    ("fall", {"injurious": "often"}, "injurious", "often"),
    ("fracture", {"site": "nose", "date": "2020-01-01"}, "site", "nose"),
])
def test_a_refused_value_is_422_naming_the_field_and_nothing_is_written(
        client, own_tokens, clinic, new_patient, kind, body, field, value) -> None:  # type: ignore[no-untyped-def]
    rid = new_patient
    r = client.post(_url(rid, kind), headers=own_tokens["doctor"], json=body)
    problem = _problem(r, 422)
    assert problem["errors"][0]["field"] == field, problem
    assert problem["errors"][0]["value"] == value, problem
    assert problem["detail"].startswith(f"{field}: "), problem
    assert entries_of(clinic, rid) == NONE
    assert _changes(clinic, rid) == []


def test_a_date_after_today_is_422_naming_it(client, own_tokens, clinic, new_patient) -> None:  # type: ignore[no-untyped-def]
    tomorrow = (clinic.today() + dt.timedelta(days=1)).isoformat()
    problem = _problem(client.post(_url(new_patient, "fall"), headers=own_tokens["doctor"], json={"date": tomorrow}),
                       422)
    assert (problem["errors"][0]["field"], problem["errors"][0]["value"]) == ("date", tomorrow)
    assert entries_of(clinic, new_patient) == NONE


def test_an_unknown_kind_is_422_naming_kind(client, own_tokens, clinic, new_patient) -> None:  # type: ignore[no-untyped-def]
    rid = new_patient
    for r in (client.post(_url(rid, "spine"), headers=own_tokens["doctor"], json={"level": "L1"}),
              client.request("DELETE", _url(rid, "spine", 1), headers=own_tokens["doctor"], json={"reason": "x"}),
              client.post(_url(rid, "fall", 1, "end"), headers=own_tokens["doctor"], json={"on": "2025-01-01"})):
        problem = _problem(r, 422)
        assert problem["errors"][0]["field"] == "kind", problem
    assert entries_of(clinic, rid) == NONE and _changes(clinic, rid) == []


@pytest.mark.parametrize("payload", [[{"code": "stroke"}], "code=stroke", 5])
def test_a_body_that_is_not_a_json_object_is_422(client, own_tokens, clinic, new_patient,
                                                 payload) -> None:  # type: ignore[no-untyped-def]
    problem = _problem(client.post(_url(new_patient, "condition"), headers=own_tokens["doctor"], json=payload), 422)
    assert problem["errors"][0]["field"] == "body" and problem["errors"][0]["value"] == payload
    assert entries_of(clinic, new_patient) == NONE


def test_a_condition_is_resolved_and_a_medication_ended(client, own_tokens, clinic,
                                                       new_patient) -> None:  # type: ignore[no-untyped-def]
    rid = new_patient
    cid = add_entry(clinic, rid, "condition", {"code": "stroke", "onset": "2022-01-01"}).entry.id
    mid = add_entry(clinic, rid, "medication", {"drug": "alendronate", "start": "2020-01-01"}).entry.id
    r = client.post(_url(rid, "condition", cid, "end"), headers=own_tokens["doctor"], json={"on": "2024-01-10"})
    assert r.status_code == 200, r.text
    assert r.json() == {"entry": {"kind": "condition", "id": cid, "label": "Stroke", "current": False,
                                  "fields": {"code": "stroke", "onset": "2022-01-01", "resolved": "2024-01-10"}},
                        "warnings": []}
    r = client.post(_url(rid, "medication", mid, "end"), headers=own_tokens["nurse"], json={"on": "2023-05-31"})
    assert r.status_code == 200, r.text
    assert r.json()["entry"] == {"kind": "medication", "id": mid, "label": None, "current": False,
                                 "fields": {"drug": "alendronate", "start": "2020-01-01", "end": "2023-05-31",
                                            "last_dose": None}}
    assert _changes(clinic, rid)[:2] == [("update", "medication", {"end": {"from": None, "to": "2023-05-31"}}),
                                         ("update", "condition", {"resolved": {"from": None, "to": "2024-01-10"}})]
    listed = client.get(_url(rid), headers=own_tokens["nurse"]).json()
    assert [(e["id"], e["current"]) for e in listed["condition"] + listed["medication"]] == [(cid, False),
                                                                                           (mid, False)]


def test_ending_before_the_onset_or_ending_a_fall_is_422_and_nothing_changes(
        client, own_tokens, clinic, new_patient) -> None:  # type: ignore[no-untyped-def]
    rid = new_patient
    cid = add_entry(clinic, rid, "condition", {"code": "stroke", "onset": "2022-01-01"}).entry.id
    fid = add_entry(clinic, rid, "fall", {"date": "2024-02-02"}).entry.id
    before = entries_of(clinic, rid)
    problem = _problem(client.post(_url(rid, "condition", cid, "end"), headers=own_tokens["doctor"],
                                   json={"on": "2021-12-31"}), 422)
    assert (problem["errors"][0]["field"], problem["errors"][0]["value"]) == ("resolved", "2021-12-31")
    problem = _problem(client.post(_url(rid, "fall", fid, "end"), headers=own_tokens["doctor"],
                                   json={"on": "2024-03-01"}), 422)
    assert problem["errors"][0]["field"] == "kind" and problem["errors"][0]["value"] == "fall"
    problem = _problem(client.post(_url(rid, "condition", cid, "end"), headers=own_tokens["doctor"], json={}), 422)
    assert problem["errors"][0]["field"] == "on"
    assert entries_of(clinic, rid) == before
    assert [a for a, _, _ in _changes(clinic, rid)] == ["create", "create"]


def test_an_entry_made_in_error_is_deleted_with_a_reason_the_audit_keeps_what_it_said(
        client, own_tokens, clinic, new_patient) -> None:  # type: ignore[no-untyped-def]
    rid = new_patient
    iid = add_entry(clinic, rid, "intolerance", {"drug": "risedronate", "reaction": "heartburn",
                                                 "severity": "moderate", "date": "2023-06-01"}).entry.id
    r = client.request("DELETE", _url(rid, "intolerance", iid), headers=own_tokens["doctor"],
                       json={"reason": "entered for the wrong patient"})
    assert r.status_code == 200, r.text
    assert r.json() == {"kind": "intolerance", "id": iid, "label": None, "current": True,
                        "fields": {"drug": "risedronate", "reaction": "heartburn", "date": "2023-06-01",
                                   "severity": "moderate"}}
    assert client.get(_url(rid), headers=own_tokens["doctor"]).json()["intolerance"] == []
    gone = next(a for a in audit_trail(clinic, rid) if a["action"] == "delete")
    assert (gone["actor"], gone["entity"], gone["entity_id"]) == (f"doctor:{USERS['doctor']}", "intolerance",
                                                                  str(iid))
    assert json.loads(gone["detail"]) == {"drug": "risedronate", "reaction": "heartburn", "date": "2023-06-01",
                                          "severity": "moderate", "reason": "entered for the wrong patient"}
    # gone: a second delete is 404
    _problem(client.request("DELETE", _url(rid, "intolerance", iid), headers=own_tokens["doctor"],
                            json={"reason": "again"}), 404)


@pytest.mark.parametrize(("body", "field"), [
    (None, "body"), ({}, "reason"), ({"reason": ""}, "reason"), ({"reason": "   "}, "reason"),
    ({"reason": "typo", "why": "x"}, "why"),
])
def test_a_delete_without_a_reason_is_422_and_nothing_is_deleted(
        client, own_tokens, clinic, new_patient, body, field) -> None:  # type: ignore[no-untyped-def]
    rid = new_patient
    fid = add_entry(clinic, rid, "fall", {"date": "2024-02-02"}).entry.id
    problem = _problem(client.request("DELETE", _url(rid, "fall", fid), headers=own_tokens["doctor"], json=body), 422)
    assert problem["errors"][0]["field"] == field, problem
    assert [e.id for e in entries_of(clinic, rid)["fall"]] == [fid]
    assert [a for a, _, _ in _changes(clinic, rid)] == ["create"]


def test_another_patients_entry_through_this_patients_path_is_404(client, own_tokens, clinic,
                                                                   new_patient) -> None:  # type: ignore[no-untyped-def]
    rid, other = new_patient, _new_patient(clinic)
    theirs = add_entry(clinic, other, "condition", {"code": "stroke", "onset": "2022-01-01"}).entry.id
    before = entries_of(clinic, other)
    problem = _problem(client.post(_url(rid, "condition", theirs, "end"), headers=own_tokens["doctor"],
                                   json={"on": "2024-01-10"}), 404)
    assert problem["detail"] == f"no condition {theirs}"
    problem = _problem(client.request("DELETE", _url(rid, "condition", theirs), headers=own_tokens["doctor"],
                                      json={"reason": "typo"}), 404)
    assert problem["detail"] == f"no condition {theirs}"
    # and not under another kind either
    _problem(client.request("DELETE", _url(other, "fall", theirs), headers=own_tokens["doctor"],
                            json={"reason": "typo"}), 404)
    assert entries_of(clinic, other) == before
    assert [a for a, _, _ in _changes(clinic, other)] == ["create"] and _changes(clinic, rid) == []


def test_an_unknown_patient_is_404(client, own_tokens) -> None:  # type: ignore[no-untyped-def]
    assert _problem(client.get(_url("NOBODY"), headers=own_tokens["nurse"]), 404)["detail"] == "no patient 'NOBODY'"
    r = client.post(_url("NOBODY", "fall"), headers=own_tokens["nurse"], json={"date": "2024-02-02"})
    assert _problem(r, 404)["detail"] == "no patient 'NOBODY'"
    r = client.post(_url("NOBODY", "condition", 1, "end"), headers=own_tokens["nurse"], json={"on": "2024-02-02"})
    assert _problem(r, 404)["detail"] == "no patient 'NOBODY'"


def test_only_doctors_and_nurses_may_read_or_change_entries(client, own_tokens, own_setup) -> None:  # type: ignore[no-untyped-def]
    clinic, records = own_setup
    own = records["patient"]  # patient_one's own record: still not through these endpoints
    cid = add_entry(clinic, own, "condition", {"code": "stroke", "onset": "2022-01-01"}).entry.id
    before = entries_of(clinic, own)
    writes = len(_changes(clinic, own))
    calls = [("GET", _url(own), None), ("POST", _url(own, "fall"), {"date": "2024-02-02"}),
             ("POST", _url(own, "condition", cid, "end"), {"on": "2024-01-10"}),
             ("DELETE", _url(own, "condition", cid), {"reason": "typo"})]
    for role in ("patient", "patient2", "admin"):
        for method, url, body in calls:
            problem = _problem(client.request(method, url, headers=own_tokens[role], json=body), 403)
            assert problem["detail"] == f"a {'patient' if role.startswith('patient') else role} account may not do " \
                                        "this; allowed: doctor, nurse", (role, method, url)
    for method, url, body in calls:
        _problem(client.request(method, url, json=body), 401)
    assert entries_of(clinic, own) == before and len(_changes(clinic, own)) == writes


def test_a_condition_that_contraindicates_an_active_course_is_warned_at_once(
        client, own_tokens, clinic, new_patient) -> None:  # type: ignore[no-untyped-def]
    """Alendronate must not be given with an oesophageal stricture (its drug file): adding one while the course
    runs says so at once, naming the rule; resolving it ends the warning."""
    rid = new_patient
    day = clinic.today() - dt.timedelta(days=20)
    add_lab(clinic, rid, name="creatinine", value=70, unit="umol/L", date=day)
    add_lab(clinic, rid, name="calcium", value=2.35, unit="mmol/L", date=day)
    add_lab(clinic, rid, name="vitamin_d_25oh", value=35, unit="ng/mL", date=day)
    start_course(clinic, rid, "alendronate", start_date=clinic.today() - dt.timedelta(days=30))
    quiet = client.post(_url(rid, "fall"), headers=own_tokens["nurse"], json={"date": "2024-02-02"})
    assert quiet.status_code == 201 and quiet.json()["warnings"] == []
    onset = (clinic.today() - dt.timedelta(days=10)).isoformat()
    r = client.post(_url(rid, "condition"), headers=own_tokens["nurse"],
                    json={"code": "oesophageal_stricture", "onset": onset})
    assert r.status_code == 201, r.text
    assert r.json()["warnings"] == [OESOPH_WARNING]
    cid = r.json()["entry"]["id"]
    r = client.post(_url(rid, "condition", cid, "end"), headers=own_tokens["doctor"],
                    json={"on": clinic.today().isoformat()})
    assert r.status_code == 200 and r.json()["entry"]["current"] is False
    assert r.json()["warnings"] == []


def test_the_fractures_endpoint_still_adds_a_fracture_the_list_shows(client, own_tokens, clinic,
                                                                     new_patient) -> None:  # type: ignore[no-untyped-def]
    r = client.post(f"/api/v1/patients/{new_patient}/fractures", headers=own_tokens["nurse"],
                    json={"site": "hip", "date": "2024-08-01"})
    assert r.status_code == 201, r.text
    fid = r.json()["fracture_id"]
    assert r.json() == {"fracture_id": fid}
    assert client.get(_url(new_patient), headers=own_tokens["nurse"]).json()["fracture"] == [
        {"kind": "fracture", "id": fid, "label": None, "current": True,
         "fields": {"site": "hip", "date": "2024-08-01", "fragility": True, "on_treatment": False}}]


def test_the_openapi_document_lists_the_kinds(client) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/openapi.json").json()["paths"]
    kind_of = {p: next(x["schema"]["enum"] for x in ops[m]["parameters"] if x["name"] == "kind")
               for p, ops in paths.items() if "/entries/{kind}" in p for m in ops}
    assert kind_of == {
        "/api/v1/patients/{record_id}/entries/{kind}": list(KINDS),
        "/api/v1/patients/{record_id}/entries/{kind}/{entry_id}": list(KINDS),
        "/api/v1/patients/{record_id}/entries/{kind}/{entry_id}/end": ["condition", "medication"],
    }
    assert set(paths["/api/v1/patients/{record_id}/entries"]) == {"get"}
    assert set(paths["/api/v1/patients/{record_id}/entries/{kind}/{entry_id}"]) == {"delete"}
    body = paths["/api/v1/patients/{record_id}/entries/{kind}"]["post"]["requestBody"]["content"]["application/json"]
    assert [s["title"] for s in body["schema"]["anyOf"]] == ["Condition", "Medication", "Intolerance", "Fall",
                                                             "Fracture", "VertebraHeights"]
