"""CDS Hooks 2.0: discovery, patient-view cards, order-select / order-sign contraindication and overdue-dose
cards, prefetch alone and fetching from a stub FHIR server (http.server in a thread)."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest
import yaml

from osteocare.core.drugs import check_drug
from osteocare.core.guidelines import DerivedFacts, derived_facts_from_record
from osteocare.core.guidelines.rulesets import drug_files
from osteocare.core.records import parse_record
from osteocare.fhir.cds_hooks import CdsHooksError, discovery, handle, order_cards

AS_OF = dt.date(2024, 12, 31)
LOINC, RXN, ATC, UCUM = ("http://loinc.org", "http://www.nlm.nih.gov/research/umls/rxnorm", "http://www.whocc.no/atc",
                         "http://unitsofmeasure.org")
SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


# ------------------------------------------------------------------------------------------------ 2.0 shapes
def check_card(card: dict[str, Any]) -> None:
    """The CDS Hooks 2.0 card shape (cds-hooks.hl7.org/2.0, as summarised in codes.md 7.1)."""
    allowed = {"uuid", "summary", "detail", "indicator", "source", "suggestions", "selectionBehavior",
               "overrideReasons", "links"}
    assert set(card) <= allowed, set(card) - allowed
    assert isinstance(card["summary"], str) and 0 < len(card["summary"]) < 140
    assert card["indicator"] in ("info", "warning", "critical")
    assert isinstance(card["source"]["label"], str) and card["source"]["label"]
    if "uuid" in card:
        uuid.UUID(card["uuid"])
    if card.get("suggestions"):
        assert card["selectionBehavior"] in ("at-most-one", "any")
        for s in card["suggestions"]:
            assert isinstance(s["label"], str)
            for a in s.get("actions", []):
                assert a["type"] in ("create", "update", "delete") and isinstance(a["description"], str)
    for link in card.get("links", []):
        assert link["type"] in ("absolute", "smart") and isinstance(link["label"], str)
        assert link["url"].startswith(("http://", "https://"))
    for r in card.get("overrideReasons", []):
        assert isinstance(r["code"], str)


def check_response(resp: dict[str, Any]) -> list[dict[str, Any]]:
    assert set(resp) <= {"cards", "systemActions"}
    assert isinstance(resp["cards"], list)
    for c in resp["cards"]:
        check_card(c)
    json.dumps(resp)
    return resp["cards"]


# ------------------------------------------------------------------------------------------------ patient data
def _obs(oid: str, code: str, value: float, unit: str, date: str = "2024-11-01") -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": {"coding": [{"system": LOINC,
            "code": code}]}, "subject": {"reference": "Patient/p9"}, "effectiveDateTime": date,
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def patient_data(creatinine_umol_l: float = 200, dmab_last: str | None = "2024-01-01") -> dict[str, Any]:
    """A FHIR server's view of one patient: CrCl about 15 mL/min, osteoporosis, on denosumab."""
    meds: list[dict[str, Any]] = []
    admins: list[dict[str, Any]] = []
    if dmab_last:
        concept = {"coding": [{"system": RXN, "code": "993452"}]}
        meds.append({"resourceType": "MedicationRequest", "id": "dmab", "status": "active", "intent": "order",
                     "subject": {"reference": "Patient/p9"}, "authoredOn": "2023-01-01",
                     "medicationCodeableConcept": concept})
        admins.append({"resourceType": "MedicationAdministration", "id": "dmab-dose", "status": "completed",
                       "subject": {"reference": "Patient/p9"}, "effectiveDateTime": dmab_last,
                       "medicationCodeableConcept": concept})
    return {
        "patient": {"resourceType": "Patient", "id": "p9", "gender": "female", "birthDate": "1944-01-01"},
        "observations": [_obs("w", "29463-7", 50, "kg"), _obs("h", "8302-2", 155, "cm"),
                         _obs("cr", "2160-0", creatinine_umol_l, "umol/L"),
                         _obs("ls", "38267-1", -3.0, "{T-score}", "2024-01-01")],
        "conditions": [], "medicationRequests": meds, "medicationStatements": [],
        "medicationAdministrations": admins, "procedures": [], "allergies": [],
    }


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources]}


def prefetch(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if k == "patient" else searchset(v)) for k, v in data.items()}


def draft(mid: str, concept: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": mid, "status": "draft", "intent": "order",
            "subject": {"reference": "Patient/p9"}, "medicationCodeableConcept": concept}


ZOL = draft("zol", {"coding": [{"system": ATC, "code": "M05BA08"}], "text": "zoledronic acid 5 mg/100 mL"})
ALN = draft("aln", {"text": "Alendronic acid 70 MG Oral Tablet"})
DMAB = draft("dmab-next", {"coding": [{"system": RXN, "code": "993452"}]})
AMOX = draft("amox", {"coding": [{"system": RXN, "code": "562251"}]})


def request(hook: str, data: dict[str, Any] | None, **context: Any) -> dict[str, Any]:
    req: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()),
                           "context": {"userId": "Practitioner/dr", "patientId": "p9", **context}}
    if data is not None:
        req["prefetch"] = prefetch(data)
    return req


def orders(*mrs: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": m} for m in mrs]}


def no_fetch(query: str) -> Any:
    raise AssertionError(f"fetched {query} although the prefetch was complete")


# ------------------------------------------------------------------------------------------------ discovery
def test_discovery_lists_the_three_services_with_prefetch_templates() -> None:
    d = discovery()
    assert set(d) == {"services"}
    hooks = {s["id"]: s["hook"] for s in d["services"]}
    assert hooks == {"osteocare-patient-view": "patient-view", "osteocare-order-select": "order-select",
                     "osteocare-order-sign": "order-sign"}
    for s in d["services"]:
        assert isinstance(s["description"], str) and s["description"]
        assert s["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert all("{{context.patientId}}" in t for t in s["prefetch"].values())
        assert "http://loinc.org|38267-1" in s["prefetch"]["observations"]
    json.dumps(d)


# ------------------------------------------------------------------------------------------------ patient-view
def test_patient_view_from_prefetch_alone_shows_category_risk_and_recommendation() -> None:
    resp = handle("osteocare-patient-view", request("patient-view", patient_data(creatinine_umol_l=70)),
                  fetch=no_fetch, as_of=AS_OF, base_url="https://osteocare.example", stored={"p9"}.__contains__)
    cards = check_response(resp)
    summaries = [c["summary"] for c in cards]
    assert summaries[0].startswith("WHO category: osteoporosis (lowest T-score -3 at lumbar spine)")
    assert summaries[1].startswith("Fracture risk: QFracture 10-y MOF")
    assert any("consider" in s or "denosumab" in s.lower() for s in summaries[2:])
    # the web patient page is /patients/{record_id}; its sections are #assessment and #recommendation
    assert [c["links"][0]["url"] for c in cards[:3]] == ["https://osteocare.example/patients/p9#assessment",
                                                        "https://osteocare.example/patients/p9#assessment",
                                                        "https://osteocare.example/patients/p9#recommendation"]
    assert any("(status:" in c.get("detail", "") for c in cards if c["indicator"] == "warning")


def test_patient_view_says_when_no_usable_t_score_exists_and_lists_the_site_unknown_one() -> None:
    data = patient_data(dmab_last=None)
    data["observations"] = [_obs("w", "29463-7", 60, "kg"), _obs("h", "8302-2", 160, "cm"),
                            {**_obs("syn", "38265-5", -2.7, "{T-score}"),
                             "code": {"coding": [{"system": LOINC, "code": "38265-5",
                                                  "display": "DXA [T-score] Bone density"}]}}]
    cards = check_response(handle("osteocare-patient-view", request("patient-view", data), as_of=AS_OF))
    assert cards[0]["summary"].startswith("WHO category not available")
    assert "-2.7" in cards[0]["detail"] and "site unknown" in cards[0]["detail"]


def test_patient_view_shows_an_overdue_denosumab_dose() -> None:
    cards = check_response(handle("osteocare-patient-view", request("patient-view", patient_data()), as_of=AS_OF))
    overdue = [c for c in cards if "overdue" in c["summary"].lower()]
    assert overdue and overdue[0]["indicator"] == "critical"


def test_without_a_patient_and_no_fhir_server_it_answers_412() -> None:
    """CDS Hooks 2.0: a service that cannot obtain the data it needs SHALL answer 412 Precondition Failed."""
    data = patient_data()
    data.pop("patient")
    with pytest.raises(CdsHooksError) as exc:
        handle("osteocare-patient-view", request("patient-view", data), as_of=AS_OF)
    assert exc.value.http_status == 412 and "'patient'" in str(exc.value) and "no fhirServer" in str(exc.value)


def test_a_patient_without_birth_date_answers_with_one_info_card() -> None:
    data = patient_data()
    del data["patient"]["birthDate"]
    cards = check_response(handle("osteocare-patient-view", request("patient-view", data), as_of=AS_OF))
    assert len(cards) == 1 and cards[0]["indicator"] == "info" and "could not assess" in cards[0]["summary"]


# ------------------------------------------------------------------------------------------------ orders
def test_order_select_warns_that_zoledronic_acid_is_contraindicated_below_crcl_35() -> None:
    req = request("order-select", patient_data(), selections=["MedicationRequest/zol"], draftOrders=orders(ZOL, ALN))
    cards = check_response(handle("osteocare-order-select", req, fetch=no_fetch, as_of=AS_OF))
    zol = [c for c in cards if c["summary"].startswith("Zoledronic acid")]
    assert len(zol) == 1 and zol[0]["indicator"] == "critical"
    assert "CrCl < 35" in zol[0]["detail"] and "ZOL-KIDNEY" in zol[0]["detail"]
    [sug] = zol[0]["suggestions"]
    assert sug["actions"][0] == {"type": "delete", "description": "Remove the draft Zoledronic acid order",
                                 "resourceId": ["MedicationRequest/zol"]}
    assert not [c for c in cards if c["summary"].startswith("Alendronate")]  # not selected


def test_an_allergy_to_the_drug_ordered_gets_a_critical_card() -> None:
    """Found by an adversarial review: AllergyIntolerance was not read, and an order for the drug the patient
    had anaphylaxis to got no card at all."""
    data = patient_data(creatinine_umol_l=70, dmab_last=None)
    req = request("order-sign", data, draftOrders=orders(ALN))
    names = {c["summary"].split(":")[0] for c in check_response(handle("osteocare-order-sign", req, as_of=AS_OF))}
    assert "Alendronate" not in names  # the check below can fail: without the allergy the order gets no card
    data["allergies"] = [{"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "Patient/p9"},
                          "clinicalStatus": {"coding": [{"code": "active"}]},
                          "code": {"coding": [{"system": RXN, "code": "46041", "display": "alendronate"}]},
                          "reaction": [{"manifestation": [{"text": "anaphylaxis"}], "severity": "severe"}]}]
    cards = check_response(handle("osteocare-order-sign", request("order-sign", data, draftOrders=orders(ALN)),
                                  as_of=AS_OF))
    aln = [c for c in cards if c["summary"].startswith("Alendronate")]
    assert len(aln) == 1 and aln[0]["indicator"] == "critical", cards
    other = {**data, "allergies": [{**data["allergies"][0], "patient": {"reference": "Patient/someone-else"}}]}
    with pytest.raises(CdsHooksError, match="someone-else"):  # another patient's allergy is refused, not used
        handle("osteocare-order-sign", request("order-sign", other, draftOrders=orders(ALN)), as_of=AS_OF)


def test_order_sign_checks_every_draft_order_and_ignores_other_drugs() -> None:
    req = request("order-sign", patient_data(), draftOrders=orders(ZOL, ALN, AMOX))
    cards = check_response(handle("osteocare-order-sign", req, as_of=AS_OF))
    names = {c["summary"].split(":")[0] for c in cards}
    assert {"Zoledronic acid", "Alendronate"} <= names
    assert not any("moxicillin" in c["summary"] for c in cards)


def test_order_sign_warns_when_a_denosumab_dose_is_overdue() -> None:
    req = request("order-sign", patient_data(creatinine_umol_l=70), draftOrders=orders(DMAB))
    cards = check_response(handle("osteocare-order-sign", req, as_of=AS_OF))
    overdue = [c for c in cards if "OVERDUE" in c["summary"] or "overdue" in c["summary"]]
    assert len(overdue) == 1 and overdue[0]["indicator"] == "critical"
    assert "2024-07-01" in overdue[0]["summary"]


def test_no_card_when_the_drug_ordered_is_fine() -> None:
    req = request("order-sign", patient_data(creatinine_umol_l=70, dmab_last=None), draftOrders=orders(ZOL))
    cards = check_response(handle("osteocare-order-sign", req, as_of=AS_OF))
    assert not [c for c in cards if c["indicator"] == "critical"]


def _scenarios() -> list[Any]:
    out = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        for sc in yaml.safe_load(path.read_text(encoding="utf-8"))["scenarios"]:
            out.append(pytest.param(sc, id=f"{path.stem}: {sc['name'][:60]}"))
    return out


def _cards_and_hits(sc: dict[str, Any]) -> Iterator[tuple[str, list[Any], list[Any]]]:
    record = parse_record(sc["patient"])
    base = derived_facts_from_record(record).model_dump()
    base.update(sc.get("derived", {}))
    facts = DerivedFacts.model_validate(base)
    as_of = sc["as_of"] if isinstance(sc["as_of"], dt.date) else dt.date.fromisoformat(sc["as_of"])
    clinical = SimpleNamespace(record=record, facts=facts, as_of=as_of, recommendation=None)
    for drug in drug_files():
        concept = {"coding": [{"system": "urn:osteocare:codesystem:record", "code": f"drug:{drug}"}]}
        cards = order_cards(clinical, [draft("x", concept)], region=sc.get("region"))
        hits = check_drug(record, facts, drug, as_of=as_of, region=sc.get("region")).hits
        yield drug, [c for c in cards if c.indicator != "info"], hits


def _rule(card: Any) -> str:
    m = re.search(r"Rule (\S+)\.", card.detail or "")
    assert m, card
    return m.group(1)


@pytest.mark.parametrize("sc", _scenarios())
def test_a_card_appears_for_each_contraindication_the_engine_finds(sc: dict[str, Any]) -> None:
    for drug, cards, hits in _cards_and_hits(sc):
        for c in cards:
            check_card(c.model_dump(mode="json", exclude_none=True))
        assert [_rule(c) for c in cards] == [h.rule_id for h in hits], drug
        for c, h in zip(cards, hits, strict=True):
            assert c.indicator == ("critical" if h.kind == "must_not" else "warning")


def test_every_contraindication_rule_of_the_engine_gives_a_card_in_some_scenario() -> None:
    carded = {_rule(c) for p in _scenarios() for _, cards, _ in _cards_and_hits(p.values[0]) for c in cards}
    rules = {r["id"] for kf in drug_files().values() for r in kf.data.get("contraindications", [])}
    assert rules - carded == set(), "contraindication rules no scenario turns into a card"


# ------------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("hook_id", "req", "status"),
    [
        ("nope", {}, 404),
        ("osteocare-patient-view", {"hook": "patient-view"}, 400),
        ("osteocare-patient-view", {"hook": "patient-view", "hookInstance": "not-a-uuid",
                                    "context": {"userId": "u", "patientId": "p"}}, 400),
        ("osteocare-patient-view", {"hook": "order-sign", "hookInstance": str(uuid.uuid4()),
                                    "context": {"userId": "u", "patientId": "p", "draftOrders": {}}}, 400),
        ("osteocare-order-select", {"hook": "order-select", "hookInstance": str(uuid.uuid4()),
                                    "context": {"userId": "u", "patientId": "p"}}, 400),
    ],
)
def test_it_refuses_bad_requests_with_an_http_status(hook_id: str, req: dict[str, Any], status: int) -> None:
    with pytest.raises(CdsHooksError) as exc:
        handle(hook_id, req)
    assert exc.value.http_status == status


# ------------------------------------------------------------------------------------------------ stub server
class _Stub:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.requests: list[tuple[str, str | None]] = []


@pytest.fixture()
def fhir_server() -> Iterator[tuple[str, _Stub]]:
    stub = _Stub(patient_data())
    routes = {"MedicationRequest": "medicationRequests", "MedicationStatement": "medicationStatements",
              "MedicationAdministration": "medicationAdministrations", "Procedure": "procedures",
              "AllergyIntolerance": "allergies",
              "Condition": "conditions", "Observation": "observations"}

    class H(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            url = urlparse(self.path)
            stub.requests.append((unquote(self.path), self.headers.get("Authorization")))
            parts = url.path.strip("/").split("/")[1:]  # drop the 'fhir' base
            q = parse_qs(url.query)
            if parts == ["Patient", "p9"]:
                body: Any = stub.data["patient"]
            elif len(parts) == 1 and parts[0] in routes and q.get("patient") == ["p9"]:
                res = stub.data[routes[parts[0]]]
                if "code" in q:
                    wanted = set(q["code"][0].split(","))
                    res = [r for r in res if any(f"{c['system']}|{c['code']}" in wanted
                                                 for c in r["code"]["coding"])]
                body = searchset(res)
            else:
                self.send_response(404)
                self.end_headers()
                return
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = HTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fhir", stub
    finally:
        server.shutdown()
        server.server_close()


def test_without_prefetch_it_fetches_everything_from_the_fhir_server_with_the_token(
        fhir_server: tuple[str, _Stub]) -> None:
    base, stub = fhir_server
    req = request("order-select", None, selections=["MedicationRequest/zol"], draftOrders=orders(ZOL))
    req["fhirServer"] = base
    req["fhirAuthorization"] = {"access_token": "secret-token", "token_type": "Bearer", "expires_in": 300,
                                "scope": "patient/*.read", "subject": "osteocare"}
    cards = check_response(handle("osteocare-order-select", req, as_of=AS_OF))
    assert any(c["summary"].startswith("Zoledronic acid") and c["indicator"] == "critical" for c in cards)
    assert len(stub.requests) == 8  # the patient and each of the 7 searches
    assert all(auth == "Bearer secret-token" for _, auth in stub.requests)
    assert any(p.startswith("/fhir/Observation?patient=p9&code=http://loinc.org|") for p, _ in stub.requests)


def test_with_partial_prefetch_it_fetches_only_what_is_missing(fhir_server: tuple[str, _Stub]) -> None:
    base, stub = fhir_server
    req = request("patient-view", patient_data())
    for key in ("observations", "medicationAdministrations"):
        req["prefetch"].pop(key)
    req["prefetch"]["conditions"] = None
    req["fhirServer"] = base
    cards = check_response(handle("osteocare-patient-view", req, as_of=AS_OF))
    # conditions: null is "no data" (CDS Hooks), not a key to fetch
    assert sorted(p.split("?")[0] for p, _ in stub.requests) == ["/fhir/MedicationAdministration", "/fhir/Observation"]
    assert cards[0]["summary"].startswith("WHO category: osteoporosis")


def test_a_fetch_callable_replaces_http(fhir_server: tuple[str, _Stub]) -> None:
    _, stub = fhir_server
    asked: list[str] = []

    def fetch(query: str) -> Any:
        asked.append(query)
        data = patient_data()
        if query.startswith("Patient/"):
            return data["patient"]
        key = {"Observation": "observations", "Condition": "conditions", "Procedure": "procedures",
               "MedicationRequest": "medicationRequests", "MedicationStatement": "medicationStatements",
               "MedicationAdministration": "medicationAdministrations",
               "AllergyIntolerance": "allergies"}[query.split("?")[0]]
        return searchset(data[key])

    cards = check_response(handle("osteocare-patient-view", request("patient-view", None), fetch=fetch, as_of=AS_OF))
    assert asked[0] == "Patient/p9" and len(asked) == 8
    assert cards[0]["summary"].startswith("WHO category: osteoporosis")
    assert stub.requests == []


def test_an_unreachable_fhir_server_answers_412_naming_what_could_not_be_fetched() -> None:
    req = request("patient-view", None)
    req["fhirServer"] = "http://127.0.0.1:9/fhir"
    with pytest.raises(CdsHooksError) as exc:
        handle("osteocare-patient-view", req, as_of=AS_OF)
    assert exc.value.http_status == 412
    assert "'patient'" in str(exc.value) and "'allergies'" in str(exc.value) and "FHIR server failed" in str(exc.value)
