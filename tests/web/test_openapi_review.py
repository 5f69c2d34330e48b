"""The OpenAPI document states what the API answers: a body that is not UTF-8 (400) or over the size limit (413) on
every operation with a body; the CDS Hooks call's own answers (400/401/403/404/412/413/415/502); and a JSON body that
does not parse is refused naming the field "body", not the parser's byte offset."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _spec(app) -> dict:  # type: ignore[no-untyped-def,type-arg]
    with TestClient(app) as c:
        r = c.get("/openapi.json")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def test_api_operations_declare_400_and_413(app, api, tokens, records) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(app)
    labs = spec["paths"]["/api/v1/patients/{record_id}/labs"]["post"]["responses"]
    assert {"400", "413", "401", "403", "404", "409", "422", "429"} <= set(labs)
    # and the API does answer them
    url = f"/api/v1/patients/{records['patient']}/labs"
    h = {**tokens["doctor"], "content-type": "application/json"}
    assert api.post(url, content=b'{"name": "\xff"}', headers=h).status_code == 400
    assert api.post(url, content=b"x" * (1024 * 1024 + 1), headers=h).status_code == 413


def test_the_cds_call_declares_what_it_answers(app) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(app)
    cds = spec["paths"]["/cds-services/{service_id}"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "412", "413", "415", "502"} <= set(cds), sorted(cds)
    for code in ("400", "401", "403", "404", "412", "413", "415", "502"):
        assert "application/problem+json" in cds[code]["content"], code


def test_the_cds_call_answers_the_declared_codes(app, api, tokens) -> None:  # type: ignore[no-untyped-def]
    url = "/cds-services/osteocare-patient-view"
    assert api.post(url, json={}).status_code == 401
    assert api.post(url, json={}, headers=tokens["patient"]).status_code == 403
    assert api.post(url, content=b"[1]", headers={**tokens["doctor"], "content-type": "application/json"}
                    ).status_code == 400
    assert api.post(url, content=b"x", headers={**tokens["doctor"], "content-type": "text/plain"}).status_code == 415
    assert api.post("/cds-services/no-such-service", json={"hook": "patient-view", "hookInstance": "x",
                                                           "context": {}}, headers=tokens["doctor"]).status_code == 404


def test_truncated_json_is_an_error_of_the_body(api, tokens, records) -> None:  # type: ignore[no-untyped-def]
    r = api.post(f"/api/v1/patients/{records['patient']}/labs", content=b'{"name": "calcium",',
                 headers={**tokens["doctor"], "content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body", r.json()
    assert r.json()["detail"].startswith("body: ")


# --- a retried fracture POST (the same site and date) is refused, naming the recorded one ---------------------------

def _new_patient(api, tokens) -> str:  # type: ignore[no-untyped-def]
    import uuid

    rid = "DUP-" + uuid.uuid4().hex[:8]
    rec = {"id": rid, "sex": "female", "age": 67, "weight_kg": 55, "height_cm": 155,
           "menopausal_status": "postmenopausal", "lumbar_spine_t_score": -2.6, "femoral_neck_t_score": -2.0}
    assert api.post("/api/v1/patients", json={"record": rec}, headers=tokens["doctor"]).status_code == 201
    return rid


def test_a_retried_fracture_post_is_refused_and_the_stratum_stays(api, tokens) -> None:  # type: ignore[no-untyped-def]
    rid = _new_patient(api, tokens)
    h = tokens["doctor"]
    fx = {"site": "hip", "date": "2019-03-02", "fragility": True}

    def stratum() -> object:
        a = api.get(f"/api/v1/patients/{rid}/assessment", params={"guideline": "aace-2020"}, headers=h).json()
        return a["recommendation"]["stratum"]

    first = api.post(f"/api/v1/patients/{rid}/fractures", json=fx, headers=h)
    assert first.status_code == 201
    before = stratum()
    for url in (f"/api/v1/patients/{rid}/fractures", f"/api/v1/patients/{rid}/entries/fracture"):
        r = api.post(url, json=fx, headers=h)
        assert r.status_code == 409, r.text
        err = r.json()["errors"][0]
        assert err["field"] == "confirm_duplicate" and err["existing"]["id"] == first.json()["fracture_id"]
        assert f"fracture {first.json()['fracture_id']}" in r.json()["detail"]
    assert len(api.get(f"/api/v1/patients/{rid}/entries", headers=h).json()["fracture"]) == 1
    assert stratum() == before
    # confirmed: a second fracture of the same site and day
    r = api.post(f"/api/v1/patients/{rid}/entries/fracture", json={**fx, "confirm_duplicate": True}, headers=h)
    assert r.status_code == 201
    r = api.post(f"/api/v1/patients/{rid}/fractures", json={**fx, "confirm_duplicate": True}, headers=h)
    assert r.status_code == 201
    assert len(api.get(f"/api/v1/patients/{rid}/entries", headers=h).json()["fracture"]) == 3
    bad = api.post(f"/api/v1/patients/{rid}/entries/fall", json={"date": "2024-01-01", "confirm_duplicate": "yes"},
                   headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "confirm_duplicate"


def test_the_openapi_document_offers_confirm_duplicate(app) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(app)
    op = spec["paths"]["/api/v1/patients/{record_id}/entries/{kind}"]["post"]
    schemas = op["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
    assert all("confirm_duplicate" in s["properties"] for s in schemas)


def test_the_fracture_form_refuses_the_same_fracture_and_offers_the_confirmation(app, api, tokens) -> None:  # type: ignore[no-untyped-def]
    from .conftest import browser_for, csrf_of

    rid = _new_patient(api, tokens)
    b = browser_for(app, "nurse")
    token = csrf_of(b.get(f"/patients/{rid}").text)
    form = {"csrf_token": token, "site": "hip", "date": "2019-03-02", "fragility": "1"}
    assert b.post(f"/patients/{rid}/fractures", data=form).status_code == 303
    r = b.post(f"/patients/{rid}/fractures", data=form)
    assert r.status_code == 409
    assert 'data-testid="confirm-duplicate"' in r.text and "This is already recorded: Fracture" in r.text
    assert len(api.get(f"/api/v1/patients/{rid}/entries", headers=tokens["doctor"]).json()["fracture"]) == 1
    assert b.post(f"/patients/{rid}/fractures", data={**form, "confirm_duplicate": "1"}).status_code == 303
    assert len(api.get(f"/api/v1/patients/{rid}/entries", headers=tokens["doctor"]).json()["fracture"]) == 2
