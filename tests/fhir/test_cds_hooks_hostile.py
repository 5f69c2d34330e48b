"""CDS Hooks under hostile or malformed input: another patient's data, malformed request parts, non-HTTP FHIR
servers and oversized bodies are refused with a 4xx naming the field, the value and what is allowed; never an
empty card list, never a 500, never the wrong patient."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_cds_hooks import AS_OF, ZOL, check_response, draft, orders, patient_data, request

from osteocare.fhir import cds_hooks
from osteocare.fhir.cds_hooks import CdsHooksError, handle, http_fetcher

PV, OS, OSG = "osteocare-patient-view", "osteocare-order-select", "osteocare-order-sign"


def refused(hook_id: str, req: dict[str, Any], *, status: int = 400, **kw: Any) -> str:
    """The message of the CdsHooksError ``handle`` raises (it must raise one, with ``status``)."""
    with pytest.raises(CdsHooksError) as exc:
        handle(hook_id, req, as_of=AS_OF, **kw)
    assert exc.value.http_status == status, str(exc.value)
    return str(exc.value)


def zol_select(**context: Any) -> dict[str, Any]:
    ctx = {"selections": ["MedicationRequest/zol"], "draftOrders": orders(ZOL), **context}
    return request("order-select", patient_data(), **ctx)


# ------------------------------------------------------------------------------------------------ wrong patient
def test_a_prefetched_patient_with_another_id_is_refused() -> None:
    req = request("patient-view", patient_data())
    req["prefetch"]["patient"]["id"] = "OTHER"
    msg = refused(PV, req)
    assert "prefetch.patient" in msg and "'OTHER'" in msg and "context.patientId 'p9'" in msg


def test_a_prefetched_patient_without_id_is_refused() -> None:
    req = request("patient-view", patient_data())
    del req["prefetch"]["patient"]["id"]
    msg = refused(PV, req)
    assert "prefetch.patient" in msg and "no id" in msg


def test_an_observation_of_another_patient_is_refused() -> None:
    req = request("order-select", patient_data(creatinine_umol_l=70), selections=["MedicationRequest/zol"],
                  draftOrders=orders(ZOL))
    entries = req["prefetch"]["observations"]["entry"]
    cr = next(e["resource"] for e in entries if e["resource"]["id"] == "cr")
    cr["subject"] = {"reference": "Patient/SOMEONE_ELSE"}
    msg = refused(OS, req)
    assert "prefetch.observations" in msg and "Observation/cr" in msg and "Patient/SOMEONE_ELSE" in msg
    assert "context.patientId 'p9'" in msg and "another patient" in msg


@pytest.mark.parametrize("subject", [None, {}, {"reference": "Group/p9"}, {"display": "Mrs Smith"}, "Patient/p9"])
def test_a_clinical_fact_without_a_reference_to_the_patient_is_refused(subject: Any) -> None:
    req = request("patient-view", patient_data())
    res = req["prefetch"]["observations"]["entry"][0]["resource"]
    if subject is None:
        del res["subject"]
    else:
        res["subject"] = subject
    msg = refused(PV, req)
    assert "prefetch.observations" in msg and "Observation/w" in msg and "subject" in msg


@pytest.mark.parametrize("ref", ["Patient/p9", "https://ehr.example/fhir/Patient/p9",
                                 "https://ehr.example/fhir/Patient/p9/_history/3"])
def test_references_to_the_patient_in_any_fhir_form_are_accepted(ref: str) -> None:
    req = request("patient-view", patient_data())
    for e in req["prefetch"]["observations"]["entry"]:
        e["resource"]["subject"] = {"reference": ref}
    cards = check_response(handle(PV, req, as_of=AS_OF))
    assert cards[0]["summary"].startswith("WHO category: osteoporosis")


def test_a_draft_order_for_another_patient_is_refused() -> None:
    other = copy.deepcopy(ZOL)
    other["subject"] = {"reference": "Patient/OTHER"}
    msg = refused(OSG, request("order-sign", patient_data(), draftOrders=orders(other)))
    assert "context.draftOrders" in msg and "MedicationRequest/zol" in msg and "Patient/OTHER" in msg


def test_a_fhir_server_answering_with_another_patient_is_refused() -> None:
    data = patient_data()

    def fetch(query: str) -> Any:
        return {**data["patient"], "id": "OTHER"} if query.startswith("Patient/") else {
            "resourceType": "Bundle", "type": "searchset", "entry": []}

    msg = refused(PV, request("patient-view", None), fetch=fetch, status=502)
    assert "FHIR server" in msg and "'OTHER'" in msg and "context.patientId 'p9'" in msg


@pytest.mark.parametrize(("pid", "got"), [(None, "null"), (5, "number"), ("", "empty string"), (["p9"], "array"),
                                         ("../Patient/x", "'../Patient/x'"), ("p9?_count=1", "'p9?_count=1'")])
def test_context_patient_id_must_be_a_fhir_id(pid: Any, got: str) -> None:
    req = request("patient-view", patient_data())
    req["context"]["patientId"] = pid
    msg = refused(PV, req)
    assert "context.patientId" in msg and "expected" in msg and got in msg


# ------------------------------------------------------------------------------------------------ malformed parts
@pytest.mark.parametrize(("selections", "got"), [("MedicationRequest/zol", "string"), (5, "number"),
                                                  (None, "null"), ({"a": 1}, "object"), ([5], "number")])
def test_selections_must_be_an_array_of_strings(selections: Any, got: str) -> None:
    msg = refused(OS, zol_select(selections=selections))
    assert "context.selections" in msg and "array" in msg and got in msg


def test_a_selection_not_among_the_draft_orders_is_refused() -> None:
    msg = refused(OS, zol_select(selections=["MedicationRequest/nope"]))
    assert "context.selections[0]" in msg and "'MedicationRequest/nope'" in msg and "draftOrders" in msg


@pytest.mark.parametrize(("draft_orders", "got"), [
    ([ZOL], "array"), ("x", "string"), (None, "null"), (ZOL, "MedicationRequest"),
    ({"resourceType": "Bundle", "entry": 5}, "number"), ({"resourceType": "Bundle", "entry": [5]}, "number"),
    ({"resourceType": "Bundle", "entry": [{"resource": "x"}]}, "string"),
])
@pytest.mark.parametrize("hook_id", [OS, OSG])
def test_draft_orders_must_be_a_fhir_bundle(hook_id: str, draft_orders: Any, got: str) -> None:
    req = zol_select(draftOrders=draft_orders)
    if hook_id == OSG:
        req["hook"] = "order-sign"
        del req["context"]["selections"]
    msg = refused(hook_id, req)
    assert "context.draftOrders" in msg and "Bundle" in msg and got in msg


@pytest.mark.parametrize(("field", "value"), [("medicationCodeableConcept", "zoledronic acid"),
                                              ("medicationReference", {"display": 5})])
def test_a_draft_order_whose_drug_cannot_be_read_is_refused(field: str, value: Any) -> None:
    mr = draft("zol", {})
    del mr["medicationCodeableConcept"]
    mr[field] = value
    msg = refused(OSG, request("order-sign", patient_data(), draftOrders=orders(mr)))
    assert "context.draftOrders" in msg and field in msg


@pytest.mark.parametrize(("key", "value", "got"), [
    ("observations", "garbage", "string"), ("observations", [{"resourceType": "Observation"}], "array"),
    ("observations", 5, "number"), ("observations", {"entry": []}, "no resourceType"),
    ("observations", {"resourceType": "Bundle", "entry": 5}, "number"),
    ("observations", {"resourceType": "Bundle", "entry": ["x"]}, "string"),
    ("observations", {"resourceType": "Bundle", "entry": [{"resource": {"id": "x"}}]}, "no resourceType"),
    ("patient", "garbage", "string"), ("patient", {"resourceType": "Observation", "id": "p9"}, "Observation"),
])
def test_prefetch_values_must_be_fhir_resources_or_null(key: str, value: Any, got: str) -> None:
    req = request("patient-view", patient_data())
    req["prefetch"][key] = value
    msg = refused(PV, req)
    assert f"prefetch.{key}" in msg and "expected" in msg and got in msg


@pytest.mark.parametrize("server", ["file:///etc/", "ftp://ehr.example/fhir", "ehr.example/fhir", "http://", 5])
def test_only_http_and_https_fhir_servers_are_used(server: Any) -> None:
    req = request("patient-view", None)
    req["fhirServer"] = server
    msg = refused(PV, req)
    assert "fhirServer" in msg and "http:// or https://" in msg


def test_a_file_url_fhir_server_is_never_read(tmp_path: Path) -> None:
    (tmp_path / "Patient").mkdir()
    (tmp_path / "Patient" / "p9").write_text(json.dumps(patient_data()["patient"]), encoding="utf-8")
    req = request("patient-view", None)
    req["fhirServer"] = tmp_path.as_uri() + "/"
    assert "fhirServer" in refused(PV, req)
    with pytest.raises(CdsHooksError, match="fhirServer"):
        http_fetcher(tmp_path.as_uri(), None)


@pytest.fixture()
def redirecting_server() -> Iterator[tuple[str, list[str]]]:
    """A FHIR server whose Patient read redirects to another host and whose searches page to another host."""
    seen: list[str] = []

    class H(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(self.path)
            if self.path.startswith("/fhir/Patient/"):
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.2:9/fhir/Patient/p9")
                self.end_headers()
                return
            body = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": [],
                               "link": [{"relation": "next", "url": "http://127.0.0.2:9/fhir/x"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fhir", seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_fhir_client_follows_no_redirect_or_next_link_off_the_fhir_server(
        redirecting_server: tuple[str, list[str]]) -> None:
    base, _ = redirecting_server
    fetch = http_fetcher(base, None)
    with pytest.raises(OSError, match="not on the FHIR server"):
        fetch("Patient/p9")
    with pytest.raises(ValueError, match="not on the FHIR server"):
        fetch("Observation?patient=p9")


# ------------------------------------------------------------------------------------------------ over HTTP
@pytest.fixture(scope="module")
def cds_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    from osteocare.services.context import Clinic
    from osteocare.settings import get_settings
    from osteocare.web import accounts
    from osteocare.web.app import WebOptions, create_app

    db = tmp_path_factory.mktemp("cds") / "clinic.sqlite3"
    clinic = Clinic.open(get_settings({"OSTEOCARE_DATABASE_URL": f"sqlite:///{db}"}), actor="test-setup")
    user = accounts.create_user(clinic, username="dr_cds", password="correct horse battery", role="doctor")
    token = accounts.new_session(clinic, user, kind="bearer")
    app = create_app(clinic.settings, clinic=clinic, options=WebOptions(login_delay_s=0.0, today=AS_OF))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {token}"}


def post(cds_client: tuple[TestClient, dict[str, str]], hook_id: str, **kw: Any) -> Any:
    client, auth = cds_client
    return client.post(f"/cds-services/{hook_id}", headers={**auth, **kw.pop("headers", {})}, **kw)


def test_over_http_a_valid_order_select_gets_its_critical_card(cds_client: Any) -> None:
    r = post(cds_client, OS, json=zol_select())
    assert r.status_code == 200, r.text
    assert any(c["indicator"] == "critical" and c["summary"].startswith("Zoledronic acid") for c in r.json()["cards"])


@pytest.mark.parametrize(("hook_id", "req", "field"), [
    (OS, zol_select(selections=5), "context.selections"),
    (OS, zol_select(selections="MedicationRequest/zol"), "context.selections"),
    (OSG, request("order-sign", patient_data(), draftOrders=[ZOL]), "context.draftOrders"),
    (PV, {**request("patient-view", patient_data()), "prefetch": {
        **request("patient-view", patient_data())["prefetch"], "observations": {"resourceType": "Bundle", "entry": 5}}},
     "prefetch.observations"),
    (PV, {**request("patient-view", patient_data()), "fhirServer": "file:///etc/"}, "fhirServer"),
])
def test_over_http_malformed_parts_get_a_400_naming_the_field(cds_client: Any, hook_id: str, req: dict[str, Any],
                                                               field: str) -> None:
    r = post(cds_client, hook_id, json=req)
    assert r.status_code == 400, r.text
    assert field in r.json()["detail"]


def test_over_http_another_patients_data_gets_a_400(cds_client: Any) -> None:
    req = request("patient-view", patient_data())
    req["prefetch"]["patient"]["id"] = "OTHER"
    r = post(cds_client, PV, json=req)
    assert r.status_code == 400 and "OTHER" in r.json()["detail"] and "/patients/OTHER" not in r.text


@pytest.mark.parametrize(("raw", "what"), [(b"", "empty"), (b"not json", "not valid JSON"), (b"[1, 2]", "array"),
                                           (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "not valid JSON")])
def test_over_http_a_body_that_is_not_a_json_object_gets_a_400(cds_client: Any, raw: bytes, what: str) -> None:
    r = post(cds_client, PV, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert what in r.json()["detail"]


def test_over_http_nan_is_not_json(cds_client: Any) -> None:
    req = request("patient-view", patient_data())
    req["prefetch"]["observations"]["entry"][2]["resource"]["valueQuantity"]["value"] = float("nan")
    r = post(cds_client, PV, content=json.dumps(req).encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert "NaN" in r.json()["detail"]


def test_over_http_a_body_over_the_limit_by_its_content_length_gets_a_413(cds_client: Any) -> None:
    limit = cds_hooks.MAX_REQUEST_BYTES
    assert 1_000_000 <= limit <= 16_000_000
    req = request("patient-view", patient_data())
    req["padding"] = "x" * limit
    r = post(cds_client, PV, content=json.dumps(req).encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:300]
    assert str(limit) in r.json()["detail"]


def test_over_http_a_streamed_body_over_the_limit_gets_a_413(cds_client: Any) -> None:
    limit = cds_hooks.MAX_REQUEST_BYTES
    head = json.dumps(request("patient-view", patient_data()))[:-1].encode() + b', "padding": "'

    def chunks() -> Iterator[bytes]:  # no Content-Length: only the bytes read can tell
        yield head
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    r = post(cds_client, PV, content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:300]
    assert str(limit) in r.json()["detail"]


def test_over_http_a_body_under_the_limit_is_answered(cds_client: Any) -> None:
    req = request("patient-view", patient_data())
    req["padding"] = "x" * 100_000
    r = post(cds_client, PV, content=json.dumps(req).encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["cards"]


def test_over_http_a_non_json_content_type_is_refused(cds_client: Any) -> None:
    r = post(cds_client, PV, content=json.dumps(request("patient-view", patient_data())).encode(),
             headers={"Content-Type": "text/plain"})
    assert r.status_code == 415, r.text
    assert "text/plain" in r.json()["detail"] and "application/json" in r.json()["detail"]


@pytest.mark.parametrize(("cc", "field"), [
    ({"coding": [{"system": {}, "code": "M05BA08"}]}, "coding[0].system"),
    ({"coding": [{"system": "http://www.whocc.no/atc", "code": 5}]}, "coding[0].code"),
    ({"coding": {"system": "http://www.whocc.no/atc", "code": "M05BA08"}}, "coding"),
    ({"coding": ["M05BA08"]}, "coding[0]"),
    ({"text": ["zoledronic acid"]}, "text"),
])
def test_a_draft_orders_drug_code_of_the_wrong_shape_is_refused_naming_it(cc: dict[str, Any], field: str) -> None:
    """A review's fuzzer: a number as the code or an object as the system gave a 500; a coding object instead of an
    array gave 200 with no card and no 'not checked' card (the order passed unchecked)."""
    mr = draft("zol", cc)
    msg = refused(OSG, request("order-sign", patient_data(), draftOrders=orders(mr)))
    assert f"medicationCodeableConcept.{field}" in msg and "expected" in msg
