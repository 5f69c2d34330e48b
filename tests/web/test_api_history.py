"""The clinical history over the API: GET gives it with its version as a strong ETag; PATCH needs that ETag back
as If-Match (none: 428; a stale one: 412, nothing written), changes only the fields given, answers 422 naming
the field, the value and what is allowed, and is audited with each field's old and new value.

A clinic of its own (the shared one stays as the other web tests expect it), with one new patient per test whose
history is known exactly."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from osteocare.core.records import PatientRecord
from osteocare.services.context import Clinic
from osteocare.services.history import HISTORY_FIELDS, history_of, version_of
from osteocare.services.patients import add_patient, audit_trail

from .conftest import USERS

_ids = itertools.count(1)

#: The history of every patient made by ``new_patient`` (the fields not named here are the record's defaults).
START = {"weight_kg": 55.0, "height_cm": 155.0, "smoking": "non_smoker", "falls": False, "ra_sle": False,
         "frax_mof_percent": None, "frax_hip_percent": None, "frax_country": "Vietnam"}


@pytest.fixture
def client(own_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(own_app) as c:
        yield c


@pytest.fixture
def new_patient(own_setup) -> str:  # type: ignore[no-untyped-def]
    """A new 70-year-old woman whose history is :data:`START`."""
    clinic, _ = own_setup
    rid = f"HIST-{next(_ids)}"
    add_patient(clinic, PatientRecord.model_validate({"id": rid, "sex": "female", "age": 70,
                                                      "menopausal_status": "postmenopausal", **START}),
                given_name="Lan", family_name="Nguyen")
    return rid


def _url(rid: str) -> str:
    return f"/api/v1/patients/{rid}/history"


def _updates(clinic: Clinic, rid: str) -> list[dict[str, Any]]:
    """The history's update entries of the audit trail, newest first, with their detail parsed."""
    return [{**e, "detail": json.loads(e["detail"])} for e in audit_trail(clinic, rid)
            if e["action"] == "update" and json.loads(e["detail"] or "{}").get("what") == "history"]


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status
    return body  # type: ignore[no-any-return]


def test_get_gives_the_history_with_its_version_as_a_strong_etag(client, own_tokens, own_setup,
                                                                 new_patient) -> None:  # type: ignore[no-untyped-def]
    clinic, _ = own_setup
    r = client.get(_url(new_patient), headers=own_tokens["nurse"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["record_id"] == new_patient
    assert set(body["values"]) == set(HISTORY_FIELDS)
    assert {k: body["values"][k] for k in START} == START
    assert body["values"]["prior_fracture"] is False and body["values"]["alcohol"] == "none"
    assert body["version"] == version_of(body["values"]) == history_of(clinic, new_patient).version
    assert r.headers["etag"] == f'"{body["version"]}"'  # quoted, not W/"...": a strong tag


def test_a_read_of_the_history_is_audited_with_the_reader(client, own_tokens, own_setup,
                                                          new_patient) -> None:  # type: ignore[no-untyped-def]
    clinic, _ = own_setup
    assert client.get(_url(new_patient), headers=own_tokens["nurse"]).status_code == 200
    reads = [e for e in audit_trail(clinic, new_patient) if e["action"] == "read"]
    assert [(e["actor"], json.loads(e["detail"])) for e in reads] == [(f"nurse:{USERS['nurse']}", {"what": "history"})]


def test_patch_with_the_etag_changes_the_fields_given_and_gives_a_new_etag(client, own_tokens, own_setup,
                                                                          new_patient) -> None:  # type: ignore[no-untyped-def]
    clinic, _ = own_setup
    first = client.get(_url(new_patient), headers=own_tokens["doctor"])
    etag = first.headers["etag"]
    r = client.patch(_url(new_patient), headers={**own_tokens["doctor"], "If-Match": etag},
                     json={"weight_kg": 52.5, "falls": True, "smoking": "ex_smoker", "frax_mof_percent": 21.0,
                           "frax_hip_percent": 6.5, "frax_country": None})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = {**first.json()["values"], "weight_kg": 52.5, "falls": True, "smoking": "ex_smoker",
                "frax_mof_percent": 21.0, "frax_hip_percent": 6.5, "frax_country": None}
    assert body["values"] == expected
    assert body["version"] == version_of(expected) != first.json()["version"]
    assert r.headers["etag"] == f'"{body["version"]}"' != etag
    again = client.get(_url(new_patient), headers=own_tokens["nurse"])
    assert again.json() == body and again.headers["etag"] == r.headers["etag"]
    # the whole record shows it too (the read caches follow the write)
    record = client.get(f"/api/v1/patients/{new_patient}", headers=own_tokens["nurse"]).json()["record"]
    assert (record["weight_kg"], record["falls"], record["frax_mof_percent"]) == (52.5, True, 21.0)
    # audited once, by the doctor, with each changed field's old and new value (and only those)
    [entry] = _updates(clinic, new_patient)
    assert entry["actor"] == f"doctor:{USERS['doctor']}"
    assert entry["detail"]["changed"] == {
        "weight_kg": {"from": 55.0, "to": 52.5}, "falls": {"from": False, "to": True},
        "smoking": {"from": "non_smoker", "to": "ex_smoker"}, "frax_mof_percent": {"from": None, "to": 21.0},
        "frax_hip_percent": {"from": None, "to": 6.5}, "frax_country": {"from": "Vietnam", "to": None}}
    # the new ETag allows the next change (a nurse may make it too)
    r2 = client.patch(_url(new_patient), headers={**own_tokens["nurse"], "If-Match": r.headers["etag"]},
                      json={"falls": False})
    assert r2.status_code == 200 and r2.json()["values"]["falls"] is False
    assert _updates(clinic, new_patient)[0]["detail"]["changed"] == {"falls": {"from": True, "to": False}}


def test_without_if_match_428_explains_to_read_first_and_nothing_is_written(client, own_tokens, own_setup,
                                                                           new_patient) -> None:  # type: ignore[no-untyped-def]
    clinic, _ = own_setup
    before = history_of(clinic, new_patient)
    for extra in ({}, {"If-Match": ""}, {"If-Match": "*"}):
        r = client.patch(_url(new_patient), headers={**own_tokens["doctor"], **extra}, json={"weight_kg": 60.0})
        body = _problem(r, 428)
        assert body["title"] == "Precondition required"
        assert f"GET /api/v1/patients/{new_patient}/history first" in body["detail"] and "If-Match" in body["detail"]
    assert history_of(clinic, new_patient) == before and _updates(clinic, new_patient) == []


def test_a_stale_etag_is_refused_with_412_and_nothing_is_written(client, own_tokens, own_setup,
                                                                new_patient) -> None:  # type: ignore[no-untyped-def]
    clinic, _ = own_setup
    read_by_nurse = client.get(_url(new_patient), headers=own_tokens["nurse"]).headers["etag"]
    read_by_doctor = client.get(_url(new_patient), headers=own_tokens["doctor"]).headers["etag"]
    assert read_by_nurse == read_by_doctor
    saved = client.patch(_url(new_patient), headers={**own_tokens["doctor"], "If-Match": read_by_doctor},
                         json={"smoking": "heavy"})
    assert saved.status_code == 200, saved.text
    r = client.patch(_url(new_patient), headers={**own_tokens["nurse"], "If-Match": read_by_nurse},
                     json={"weight_kg": 60.0, "smoking": "non_smoker"})
    body = _problem(r, 412)
    assert body["title"] == "Precondition failed"
    assert "changed by someone else" in body["detail"] and "nothing was saved" in body["detail"]
    now = client.get(_url(new_patient), headers=own_tokens["nurse"])
    assert now.json()["values"]["smoking"] == "heavy" and now.json()["values"]["weight_kg"] == 55.0
    assert now.headers["etag"] == saved.headers["etag"]
    assert len(_updates(clinic, new_patient)) == 1
    # a weak tag never matches (strong comparison), even with the current version in it
    current = saved.headers["etag"]
    _problem(client.patch(_url(new_patient), headers={**own_tokens["nurse"], "If-Match": f"W/{current}"},
                          json={"weight_kg": 60.0}), 412)
    assert history_of(clinic, new_patient).values["weight_kg"] == 55.0
    # several tags: written if one of them is the stored version
    r = client.patch(_url(new_patient), headers={**own_tokens["nurse"], "If-Match": f"{read_by_nurse}, {current}"},
                     json={"weight_kg": 60.0})
    assert r.status_code == 200 and r.json()["values"]["weight_kg"] == 60.0
    assert len(_updates(clinic, new_patient)) == 2


@pytest.mark.parametrize(("changes", "field", "value", "allowed"), [
    ({"id": "OTHER"}, "id", "OTHER", "a field of the clinical history: weight_kg, height_cm"),
    ({"falls": True, "labs": []}, "labs", [], "a field of the clinical history"),
    ({"smoking": "sometimes"}, "smoking", "sometimes", "heavy"),
    ({"weight_kg": 900}, "weight_kg", 900, "20 to 300"),
    ({"falls": None}, "falls", None, "true or false"),
    ({"frax_mof_percent": 5.0, "frax_hip_percent": 9.0}, "frax_hip_percent", 9.0, "frax_mof_percent"),
])
def test_an_unknown_field_or_a_bad_value_is_422_naming_it_and_nothing_is_written(
        client, own_tokens, own_setup, new_patient, changes, field, value, allowed) -> None:  # type: ignore[no-untyped-def]
    clinic, _ = own_setup
    before = history_of(clinic, new_patient)
    r = client.patch(_url(new_patient), headers={**own_tokens["doctor"], "If-Match": f'"{before.version}"'},
                     json={"weight_kg": 50.0, **changes})  # with a valid change, which is not written either
    body = _problem(r, 422)
    assert body["errors"][0]["field"] == field and body["errors"][0]["value"] == value, body
    assert allowed in body["errors"][0]["allowed"], body
    assert body["detail"].startswith(f"{field}: ")
    assert history_of(clinic, new_patient) == before and _updates(clinic, new_patient) == []


@pytest.mark.parametrize("payload", [[{"weight_kg": 50.0}], "weight_kg=50", 50])
def test_a_body_that_is_not_a_json_object_is_422(client, own_tokens, own_setup, new_patient,
                                                 payload) -> None:  # type: ignore[no-untyped-def]
    clinic, _ = own_setup
    before = history_of(clinic, new_patient)
    r = client.patch(_url(new_patient), headers={**own_tokens["doctor"], "If-Match": f'"{before.version}"'},
                     json=payload)
    body = _problem(r, 422)
    assert body["errors"][0]["field"] == "body" and body["errors"][0]["value"] == payload
    assert history_of(clinic, new_patient) == before


def test_only_doctors_and_nurses_may_read_or_change_it(client, own_tokens, own_setup) -> None:  # type: ignore[no-untyped-def]
    clinic, records = own_setup
    own = records["patient"]  # patient_one's own record: still not through this endpoint
    before = history_of(clinic, own)
    good = {"If-Match": f'"{before.version}"'}
    for role in ("patient", "patient2", "admin"):
        r = client.get(_url(own), headers=own_tokens[role])
        assert "may not" in _problem(r, 403)["detail"], role
        r = client.patch(_url(own), headers={**own_tokens[role], **good}, json={"falls": not before.values["falls"]})
        assert "allowed: doctor, nurse" in _problem(r, 403)["detail"], role
    _problem(client.get(_url(own)), 401)
    _problem(client.patch(_url(own), headers=good, json={"falls": True}), 401)
    assert history_of(clinic, own) == before and _updates(clinic, own) == []


def test_an_unknown_patient_is_404(client, own_tokens) -> None:  # type: ignore[no-untyped-def]
    assert "no patient 'NOBODY'" in _problem(client.get(_url("NOBODY"), headers=own_tokens["nurse"]), 404)["detail"]
    r = client.patch(_url("NOBODY"), headers={**own_tokens["nurse"], "If-Match": '"0123456789abcdef"'},
                     json={"falls": True})
    assert "no patient 'NOBODY'" in _problem(r, 404)["detail"]


def test_the_openapi_document_describes_both_operations(client) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/openapi.json").json()
    ops = doc["paths"]["/api/v1/patients/{record_id}/history"]
    assert set(ops) == {"get", "patch"}
    assert "ETag" in ops["get"]["responses"]["200"]["headers"] and "ETag" in ops["patch"]["responses"]["200"]["headers"]
    assert {"401", "403", "404", "412", "422", "428"} <= set(ops["patch"]["responses"])
    assert any(p["in"] == "header" and p["name"] == "if-match" for p in ops["patch"]["parameters"])
    schema = ops["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert list(schema["properties"]) == list(HISTORY_FIELDS) and schema["additionalProperties"] is False
