"""CDS Hooks 2.0 service, framework-free: :func:`discovery` and :func:`handle`.

The web app mounts them (``GET /cds-services`` -> :func:`discovery`; ``POST /cds-services/{id}`` ->
:func:`handle`) and turns :class:`CdsHooksError` into its ``http_status``.

Services:

* ``osteocare-patient-view`` (hook ``patient-view``): cards with the WHO bone density category, the fracture
  risk (QFracture-2012, FRAX as entered) and the treatment recommendation.
* ``osteocare-order-select`` / ``osteocare-order-sign`` (hooks ``order-select`` / ``order-sign``): a card for
  every contraindication the treatment engine finds for an osteoporosis drug in the draft orders (e.g.
  zoledronic acid with creatinine clearance under 35 mL/min), a card listing what could not be checked for lack
  of data, a card when a denosumab dose is overdue, and a card for a draft order whose medication could not be
  read. An order's drug is its ``medicationCodeableConcept`` or the Medication its ``medicationReference`` names
  (contained in the order, in ``draftOrders``, or read from the FHIR server).

A card links to the patient's OsteoCare page (``/patients/{record_id}#assessment`` or ``#recommendation``) only
when the caller of :func:`handle` says the record id is a stored patient (``stored``); otherwise it has no link.

Data come from the request's prefetch (a null value: no data); a prefetch key that is missing, whose value is an
OperationOutcome (CDS Hooks 2.0: the prefetch failed) or that is one page of a search (a ``next`` link) is fetched
from the FHIR server with the rendered template (or the ``next`` link), through ``fetch`` (a callable taking the
relative query, e.g. ``"Patient/123"``, or an absolute URL on the server, and returning the JSON) or, without one,
over HTTP from ``fhirServer`` with the bearer token of ``fhirAuthorization``. When the data a hook requires
(:data:`REQUIRED`) cannot be obtained that way, the answer is 412 Precondition Failed, as CDS Hooks requires, never
cards computed as if the data were complete (:func:`gather`). A record value the core refuses gives a card naming
it, not an error (:func:`handle`). A non-verified result shows ``indicator: warning`` and its status sentence in the
detail (knowledge README rule 3). CDS Hooks facts used here are UNVERIFIED in codes.md 7.1 (not checked against
the 2.0 specification text).

What the service refuses (:class:`CdsHooksError`, 400 unless said otherwise), naming the field, the value and what
is allowed, rather than answering with fewer (or no) cards:

* ``context.patientId`` that is not a FHIR id; ``context.selections`` that is not an array of strings naming draft
  orders; ``context.draftOrders`` that is not a FHIR Bundle, or a draft MedicationRequest whose medication is not
  a CodeableConcept / Reference object;
* a prefetch value that is neither null nor a FHIR resource (a Bundle for the searches, a Patient for
  ``patient``), or a Bundle whose ``entry`` is not an array of objects holding resources;
* data of another patient: a Patient whose id is not ``context.patientId``, and a clinical fact (Observation,
  Condition, Procedure, MedicationRequest/Statement/Administration) or draft MedicationRequest whose
  ``subject`` does not reference ``Patient/{context.patientId}``. A fact WITHOUT a subject reference is refused
  too: a clinical fact must name the patient it belongs to, and guessing would risk assessing the wrong patient.
  The same checks apply to what the FHIR server answers (then 502: the server's answer is at fault);
* a ``fhirServer`` that is not an ``http://`` or ``https://`` URL (no ``file://``, ``ftp://``...). The FHIR client
  follows no redirect and no ``next`` link off the FHIR server (the bearer token must not travel elsewhere),
  reads at most :data:`MAX_REQUEST_BYTES` per answer and refuses a search with more than ``max_pages`` pages
  rather than use part of it;
* (412) data a hook requires that cannot be obtained from the prefetch or the FHIR server (:func:`gather`).

:data:`MAX_REQUEST_BYTES` is the limit of a request body; the web layer answers 413 above it.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..core.errors import InputError
from ..core.guidelines.facts import DerivedFacts
from ..core.status import Status, status_warning
from . import codes
from .importer import (
    FACT_TYPES,
    PATIENT_FACT_TYPES,
    ImportResult,
    identify_drug,
    import_bundle,
    medication_concept,
    resource_index,
)

Fetch = Callable[[str], Any]
DEFAULT_BASE_URL = "http://localhost:8000"
SOURCE_LABEL = "OsteoCare"
MAX_SUMMARY = 140
MAX_REQUEST_BYTES = 4 * 1024 * 1024  # a CDS Hooks request body, and one FHIR server answer (a size, not clinical)
MAX_BUNDLE_DEPTH = 4  # Bundles nested in Bundles
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([^/]+)(?:/_history/[^/]+)?$")
_MEDICATION_REF = re.compile(r"(?:^|/)Medication/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


class CdsHooksError(Exception):
    """A request OsteoCare cannot answer; ``http_status`` is what the web layer returns."""

    def __init__(self, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.http_status = http_status


# ============================================================================ CDS Hooks 2.0 shapes
class FhirAuthorization(BaseModel):
    model_config = ConfigDict(extra="allow")
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str
    subject: str


class CdsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    hook: str
    hookInstance: str
    fhirServer: Any = None  # checked by _check_server (an http:// or https:// URL), for a message naming the value
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @field_validator("hookInstance")
    @classmethod
    def _uuid(cls, v: str) -> str:
        uuid.UUID(v)
        return v

    @model_validator(mode="after")
    def _context(self) -> CdsRequest:
        need = {"patient-view": ("userId", "patientId"), "order-select": ("userId", "patientId", "selections",
                                                                          "draftOrders"),
                "order-sign": ("userId", "patientId", "draftOrders")}.get(self.hook, ())
        missing = [k for k in need if k not in self.context]
        if missing:
            raise ValueError(f"context of hook {self.hook} needs {', '.join(missing)}")
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirAuthorization is given without fhirServer")
        return self


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    url: str | None = None
    icon: str | None = None
    topic: dict[str, Any] | None = None


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: list[str] | None = None


class Suggestion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] = Field(default_factory=list)


class OverrideReason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    system: str | None = None
    display: str | None = None


class Card(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uuid: str | None = None
    summary: str = Field(max_length=MAX_SUMMARY - 1)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[OverrideReason] | None = None
    links: list[Link] | None = None

    @model_validator(mode="after")
    def _selection(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("selectionBehavior is required when there are suggestions")
        return self


class CdsResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cards: list[Card]
    systemActions: list[Action] | None = None


# ============================================================================ discovery
def _loinc_query() -> str:
    loinc = codes.table("loinc")
    wanted = [e for e in loinc.entries.values()
              if e.get("concept") in ("dxa_bmd", "dxa_t_score", "dxa_z_score", "lab", "body_weight", "body_height", "bmi")]
    return ",".join(f"{loinc.uri}|{e.code}" for e in wanted)


def prefetch_templates() -> dict[str, str]:
    """The prefetch templates every OsteoCare service declares (FHIR R4 search URLs)."""
    p = "{{context.patientId}}"
    return {
        "patient": f"Patient/{p}",
        "observations": f"Observation?patient={p}&code={_loinc_query()}",
        "conditions": f"Condition?patient={p}",
        "medicationRequests": f"MedicationRequest?patient={p}",
        "medicationStatements": f"MedicationStatement?patient={p}",
        "medicationAdministrations": f"MedicationAdministration?patient={p}",
        "procedures": f"Procedure?patient={p}",
        "allergies": f"AllergyIntolerance?patient={p}",
    }


SERVICES: dict[str, dict[str, str]] = {
    "osteocare-patient-view": {
        "hook": "patient-view",
        "title": "OsteoCare bone health",
        "description": "WHO bone density category, 10-year fracture risk (QFracture-2012; FRAX as entered) and the "
                       "osteoporosis treatment recommendation, with links to the explanation. Decision support only.",
    },
    "osteocare-order-select": {
        "hook": "order-select",
        "title": "OsteoCare osteoporosis drug check",
        "description": "Warns when a selected osteoporosis drug is contraindicated for the patient (drug-label and "
                       "guideline rules, e.g. kidney function) or when a denosumab dose is overdue.",
    },
    "osteocare-order-sign": {
        "hook": "order-sign",
        "title": "OsteoCare osteoporosis drug check at signing",
        "description": "Before signing: contraindications of the osteoporosis drugs in the draft orders and overdue "
                       "denosumab doses.",
    },
}


def discovery() -> dict[str, Any]:
    """The CDS Hooks discovery document (``GET /cds-services``)."""
    prefetch = prefetch_templates()
    return {"services": [{"hook": s["hook"], "id": sid, "title": s["title"], "description": s["description"],
                          "prefetch": dict(prefetch)} for sid, s in SERVICES.items()]}


# ============================================================================ data
def render(template: str, context: dict[str, Any]) -> str:
    """Replace ``{{context.x}}`` tokens with the request context's values."""
    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        v = context.get(key)
        if v is None:
            raise CdsHooksError(f"prefetch template needs context.{key}")
        return str(v)

    return re.sub(r"\{\{\s*context\.(\w+)\s*\}\}", sub, template)


# ============================================================================ checking what comes in
def _clip(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _got(value: Any) -> str:
    """A JSON value as an error message shows it: its JSON type and a short preview."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({json.dumps(value)})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({_clip(value)!r})" if value else "an empty string"
    if isinstance(value, list):
        return f"an array of {len(value)} item(s)"
    if isinstance(value, dict):
        rt = value.get("resourceType")
        return f"a FHIR {_clip(rt, 40)} resource" if isinstance(rt, str) else "an object with no resourceType"
    return type(value).__name__


def _bad(field: str, value: Any, expected: str, status: int = 400) -> CdsHooksError:
    return CdsHooksError(f"{field}: expected {expected}, got {_got(value)}", status)


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _check_server(server: Any, field: str = "fhirServer") -> tuple[str, str]:
    """The (scheme, host) of an http:// or https:// FHIR server URL; anything else is refused."""
    expected = "an http:// or https:// URL of the FHIR server (e.g. 'https://ehr.example/fhir')"
    try:
        parts = urllib.parse.urlsplit(server) if isinstance(server, str) else None
        ok = parts is not None and parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        if parts is not None:
            _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        ok = False
    if not ok:
        raise _bad(field, server, expected)
    return _origin(server)


def _label(res: dict[str, Any]) -> str:
    rid = res.get("id")
    return f"{res['resourceType']}/{rid}" if isinstance(rid, str) and rid else f"{res['resourceType']} (no id)"


def _bundle_resources(field: str, value: dict[str, Any], status: int, depth: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """(path, resource) of a FHIR resource, or of every resource in a Bundle (nested Bundles opened). ``value`` has
    a string resourceType; a Bundle's ``entry`` must be an array of objects whose ``resource`` is a FHIR resource."""
    if value.get("resourceType") != "Bundle":
        return [(field, value)]
    if depth > MAX_BUNDLE_DEPTH:
        raise CdsHooksError(f"{field}: Bundles nested more than {MAX_BUNDLE_DEPTH} deep", status)
    entries = value.get("entry")
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise _bad(f"{field}.entry", entries, "an array of Bundle entries", status)
    out: list[tuple[str, dict[str, Any]]] = []
    for i, e in enumerate(entries):
        where = f"{field}.entry[{i}]"
        if not isinstance(e, dict):
            raise _bad(where, e, "an object (a Bundle entry)", status)
        res = e.get("resource")
        if res is None:  # e.g. a response entry: nothing to read
            continue
        if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
            raise _bad(f"{where}.resource", res, "a FHIR resource (an object with a resourceType) in the Bundle entry",
                       status)
        out.extend(_bundle_resources(f"{where}.resource", res, status, depth + 1))
    return out


def _check_belongs(path: str, res: dict[str, Any], pid: str, status: int) -> None:
    """Refuse a Patient other than ``pid``, and a clinical fact whose subject is not ``Patient/{pid}``.

    A fact with no subject reference to a Patient is refused too: it must name the patient it belongs to."""
    rt = res["resourceType"]
    if rt == "Patient":
        rid = res.get("id")
        if rid is None or rid == "":
            raise CdsHooksError(f"{path}: the Patient has no id; expected the Patient with id {pid!r} "
                                "(context.patientId)", status)
        if rid != pid:
            raise CdsHooksError(f"{path}: Patient id {_clip(str(rid))!r} is not context.patientId {pid!r}; "
                                "OsteoCare assesses only the patient the request names", status)
    elif rt in FACT_TYPES + PATIENT_FACT_TYPES:
        # an AllergyIntolerance names its patient in ``patient``, the other facts in ``subject``
        subject = res.get("patient" if rt in PATIENT_FACT_TYPES else "subject")
        ref = subject.get("reference") if isinstance(subject, dict) else None
        m = _PATIENT_REF.search(ref) if isinstance(ref, str) else None
        if m is None:
            shown = f"subject reference {_clip(ref)!r}" if isinstance(ref, str) else f"subject {_got(subject)}"
            raise CdsHooksError(f"{path}: {_label(res)} has {shown}; expected a reference to Patient/{pid} "
                                f"(context.patientId {pid!r}): a clinical fact must name the patient it belongs to",
                                status)
        if m.group(1) != pid:
            raise CdsHooksError(f"{path}: {_label(res)} has subject {_clip(ref)!r}, not Patient/{pid} "
                                f"(context.patientId {pid!r}): data of another patient are not used", status)


def _checked(field: str, key: str, value: Any, pid: str, status: int) -> list[dict[str, Any]]:
    """The resources of one prefetch (or fetched) value, refused unless it is a FHIR resource of this patient."""
    want = ("a Patient resource" if key == "patient" else
            "a FHIR resource (the searchset Bundle of the prefetch template)")
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise _bad(field, value, want if status != 400 else f"null or {want}", status)
    if key == "patient" and value["resourceType"] not in ("Patient", "Bundle"):
        raise _bad(field, value, want if status != 400 else f"null or {want}", status)
    if key != "patient" and value["resourceType"] != "Bundle":  # the template is a search: a lone resource is not
        want = "a searchset Bundle (the prefetch template is a search)"  # its answer (a Patient for the allergies)
        raise _bad(field, value, want if status != 400 else f"null or {want}", status)
    found = _bundle_resources(field, value, status)
    for path, res in found:
        _check_belongs(path, res, pid, status)
    return [r for _, r in found]


def _check_codeable_concept(path: str, cc: Any) -> None:
    """A draft order's drug is read from these; a shape the reader cannot read would leave the order unchecked (a
    ``coding`` object instead of an array) or fail (a number as the code): refused, naming the field."""
    if not isinstance(cc, dict):
        raise _bad(path, cc, "a CodeableConcept (an object with coding and/or text)")
    if cc.get("text") is not None and not isinstance(cc["text"], str):
        raise _bad(f"{path}.text", cc["text"], "a string")
    coding = cc.get("coding")
    if coding is None:
        return
    if not isinstance(coding, list):
        raise _bad(f"{path}.coding", coding, "an array of Codings (objects with system and code)")
    for i, c in enumerate(coding):
        if not isinstance(c, dict):
            raise _bad(f"{path}.coding[{i}]", c, "a Coding (an object with system and code)")
        for k in ("system", "code", "display"):
            if c.get(k) is not None and not isinstance(c[k], str):
                raise _bad(f"{path}.coding[{i}].{k}", c[k], "a string")


def _check_orders(req: CdsRequest, pid: str) -> None:
    """``context.draftOrders`` is a Bundle of this patient's orders whose medications can be read; ``selections``
    (order-select) is an array of strings naming some of them."""
    draft = req.context.get("draftOrders")
    if not isinstance(draft, dict) or draft.get("resourceType") != "Bundle":
        raise _bad("context.draftOrders", draft, "a FHIR Bundle of the draft orders")
    names: set[str] = set()
    for path, res in _bundle_resources("context.draftOrders", draft, 400):
        if isinstance(res.get("id"), str):
            names.add(f"{res['resourceType']}/{res['id']}")
        if res["resourceType"] != "MedicationRequest":
            continue
        _check_belongs(path, res, pid, 400)
        cc = res.get("medicationCodeableConcept")
        if cc is not None:
            _check_codeable_concept(f"{path}.medicationCodeableConcept", cc)
        ref = res.get("medicationReference")
        if ref is not None and not isinstance(ref, dict):
            raise _bad(f"{path}.medicationReference", ref, "a Reference (an object with reference and/or display)")
        if isinstance(ref, dict) and ref.get("display") is not None and not isinstance(ref["display"], str):
            raise _bad(f"{path}.medicationReference.display", ref["display"], "a string naming the medication")
    if req.hook != "order-select":
        return
    selections = req.context.get("selections")
    if not isinstance(selections, list):
        raise _bad("context.selections", selections,
                   "an array of strings naming draft orders (e.g. ['MedicationRequest/123'])")
    for i, sel in enumerate(selections):
        if not isinstance(sel, str):
            raise _bad(f"context.selections[{i}]", sel,
                       "a string (selections is an array of strings naming draft orders, e.g. 'MedicationRequest/123')")
        if sel not in names:
            there = ", ".join(sorted(names)[:10]) or "none with an id"
            raise CdsHooksError(f"context.selections[{i}]: {_clip(sel)!r} is not an order in context.draftOrders "
                                f"(there: {there})")


def _check_request(req: CdsRequest) -> str:
    """Refuse what cannot be read (see the module docstring); the patient id."""
    pid = req.context.get("patientId")
    if not isinstance(pid, str) or not FHIR_ID.fullmatch(pid):
        raise _bad("context.patientId", pid, "the patient's FHIR id (1-64 letters, digits, '-' or '.')")
    user = req.context.get("userId")
    if not isinstance(user, str) or not user:
        raise _bad("context.userId", user, "a string naming the user (e.g. 'Practitioner/123')")
    if req.fhirServer is not None:
        _check_server(req.fhirServer)
    if req.hook in ("order-select", "order-sign"):
        _check_orders(req, pid)
    return pid


# ============================================================================ data
class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only on the FHIR server itself (no file://, no other host to send the token to)."""

    def __init__(self, origin: tuple[str, str]) -> None:
        self.origin = origin

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        if _origin(newurl) != self.origin:
            fp.close()
            raise urllib.error.URLError(f"redirect to {_clip(newurl)!r} refused: not on the FHIR server")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def http_fetcher(server: str, authorization: FhirAuthorization | None, *, timeout: float = 10.0,
                 max_pages: int = 20, max_bytes: int = MAX_REQUEST_BYTES) -> Fetch:
    """A fetch over HTTP(S) from ``server`` (FHIR JSON), following searchset ``next`` links on that server. The
    fetch takes a relative query (a rendered prefetch template) or an absolute URL on the server (the ``next`` link
    of a prefetched search, used as given); the Bundle it returns holds every page and no ``next`` link.

    Only http:// and https:// servers (:class:`CdsHooksError` otherwise); no redirect or ``next`` link off the
    server; an answer over ``max_bytes`` or a search over ``max_pages`` pages is an error (ValueError), never
    used in part."""
    origin = _check_server(server)
    base = server.rstrip("/") + "/"
    opener = urllib.request.build_opener(_SameOriginRedirects(origin))

    def get(url: str) -> Any:
        if _origin(url) != origin:
            raise ValueError(f"link {_clip(url)!r} is not on the FHIR server {_clip(server)}")
        req = urllib.request.Request(url, headers={"Accept": "application/fhir+json"})
        if authorization is not None:
            req.add_header("Authorization", f"Bearer {authorization.access_token}")
        with opener.open(req, timeout=timeout) as resp:
            raw = resp.read(max_bytes + 1)
        if len(raw) > max_bytes:
            raise ValueError(f"the answer is larger than {max_bytes} bytes")
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)

    def next_link(page: Any) -> str | None:
        links = page.get("link") if isinstance(page, dict) else None
        for lk in links if isinstance(links, list) else []:
            if isinstance(lk, dict) and lk.get("relation") == "next" and isinstance(lk.get("url"), str):
                return urllib.parse.urljoin(base, lk["url"])
        return None

    def fetch(query: str) -> Any:
        absolute = query.startswith(("http://", "https://"))  # a next link of a prefetched search, used as given
        url = query if absolute else base + urllib.parse.quote(query, safe="/?=&,:-._~")
        data = get(url)
        if not (isinstance(data, dict) and data.get("resourceType") == "Bundle"
                and isinstance(data.get("entry") or [], list)):
            return data  # not a Bundle (or a malformed one: refused by the checks)
        entries = list(data.get("entry") or [])
        page, pages = data, 1
        while (nxt := next_link(page)) is not None:
            if pages >= max_pages:
                raise ValueError(f"more than {max_pages} pages of search results; not using part of them")
            page = get(nxt)
            pages += 1
            more = page.get("entry") if isinstance(page, dict) else None
            if not isinstance(more or [], list):
                raise ValueError(f"page {pages} of the search results is not a Bundle with an entry array")
            entries += more or []
        raw_links: Any = data.get("link")
        links = [lk for lk in (raw_links if isinstance(raw_links, list) else [])
                 if not (isinstance(lk, dict) and lk.get("relation") == "next")]
        return {**data, "entry": entries, "link": links} if "link" in data else {**data, "entry": entries}

    return fetch


def _resources_of(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "Bundle":
        out: list[dict[str, Any]] = []
        entries = value.get("entry")
        for e in entries if isinstance(entries, list) else []:
            r = e.get("resource") if isinstance(e, dict) else None
            if isinstance(r, dict):
                out.extend(_resources_of(r) if r.get("resourceType") == "Bundle" else [r])
        return out
    return [value] if value.get("resourceType") else []


#: Why each prefetch key matters; a required key OsteoCare cannot obtain is answered 412 (see :data:`REQUIRED`).
NEEDED_FOR: dict[str, str] = {
    "patient": "the age and sex every calculator and contraindication check reads",
    "observations": "DXA scores, weight, height and the laboratory results (creatinine for the kidney checks)",
    "conditions": "the conditions the contraindication rules name, fractures and diagnoses",
    "medicationRequests": "treatment history (lifetime limits, switches, the denosumab schedule)",
    "medicationStatements": "treatment history (lifetime limits, switches, the denosumab schedule)",
    "medicationAdministrations": "the doses given (the denosumab schedule)",
    "procedures": "fractures named as a procedure's reason and DXA scans",
    "allergies": "allergies and intolerances (the hypersensitivity contraindications)",
}

#: The prefetch keys each hook cannot answer without. ``patient-view`` shows the category, the risk and a treatment
#: recommendation, which read every key (a missing allergy list would offer a drug the patient reacted to; missing
#: procedures would miss a fracture). The order hooks check contraindications and the denosumab schedule, which
#: read all but ``procedures`` (no contraindication rule reads fractures or DXA scans): a missing ``procedures``
#: is fetched when a FHIR server is given and otherwise left out with a note.
REQUIRED: dict[str, tuple[str, ...]] = {
    "patient-view": tuple(NEEDED_FOR),
    "order-select": tuple(k for k in NEEDED_FOR if k != "procedures"),
    "order-sign": tuple(k for k in NEEDED_FOR if k != "procedures"),
}
#: At most this many pages of one search are read (a technical guard, not a clinical number).
MAX_PAGES = 20


class _Unobtainable(Exception):
    """Why one prefetch key's data could not be obtained (prefetch and FHIR server both failed)."""


def _failed_outcome(value: Any) -> str | None:
    """What a prefetch or fetched value says about a failure, or None when it is data.

    An OperationOutcome in place of the data is how CDS Hooks 2.0 reports a prefetch that failed, whatever the
    severity of its issues (a warning in place of the allergies is no allergy list); a search Bundle holding an
    OperationOutcome with an ``error`` or ``fatal`` issue is a search that failed (a warning beside the results, as
    a server adds for an ignored search parameter, leaves them data)."""
    if not isinstance(value, dict):
        return None
    if value.get("resourceType") == "OperationOutcome":
        outcomes = [value]
    elif value.get("resourceType") == "Bundle":
        outcomes = [r for r in _resources_of(value) if r.get("resourceType") == "OperationOutcome"]
    else:
        return None
    for oo in outcomes:
        raw: Any = oo.get("issue")
        issues = [i for i in (raw if isinstance(raw, list) else []) if isinstance(i, dict)]
        bad = [i for i in issues if i.get("severity") in ("error", "fatal")]
        if bad or oo is value:
            said = "; ".join(_clip(str(i.get("diagnostics") or _cc_text(i.get("details")) or i.get("code") or ""))
                             for i in bad or issues) or "no issue given"
            return f"an OperationOutcome ({said})"
    return None


def _cc_text(cc: Any) -> str:
    if not isinstance(cc, dict):
        return ""
    texts = [cc.get("text")] + [c.get("display") for c in cc.get("coding") or [] if isinstance(c, dict)]
    return next((str(t) for t in texts if t), "")


def _next_link(value: Any) -> str | None:
    links = value.get("link") if isinstance(value, dict) and value.get("resourceType") == "Bundle" else None
    for lk in links if isinstance(links, list) else []:
        if isinstance(lk, dict) and lk.get("relation") == "next":
            url = lk.get("url")
            return url if isinstance(url, str) else ""
    return None


def _on_server(url: str, server: Any) -> str | None:
    """``url`` (a ``next`` link, absolute or relative) as an absolute URL under the FHIR server ``server``; None
    when it points elsewhere (the bearer token must not travel there) or there is no server."""
    if not isinstance(server, str) or not server:
        return None
    base = server.rstrip("/") + "/"
    full = urllib.parse.urljoin(base, url)
    return full if full.startswith(base) and _origin(full) == _origin(base) else None


def _all_pages(value: Any, fetch: Fetch | None, server: Any) -> Any:
    """``value`` with the entries of every further page of its search (``next`` links on the FHIR server).

    CDS Hooks forbids ``next`` links in prefetch data; a client that sends one has sent part of a search. Without a
    FHIR server to read the rest from, the value is unusable (:class:`_Unobtainable`)."""
    nxt = _next_link(value)
    if nxt is None:
        return value
    entries = list(value.get("entry") or []) if isinstance(value.get("entry"), list) else []
    page, pages = value, 1
    while nxt is not None:
        url = _on_server(nxt, server) if nxt else None
        if fetch is None or url is None:
            why = ("no fhirServer to read the other pages from" if not server else
                   f"its next link {_clip(nxt)!r} is not on the FHIR server")
            raise _Unobtainable(f"a search Bundle with a next link (part of the results only) and {why}")
        if pages >= MAX_PAGES:
            raise _Unobtainable(f"more than {MAX_PAGES} pages of search results; not using part of them")
        try:
            page = fetch(url)
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            raise _Unobtainable(f"page {pages + 1} of the search could not be fetched: {exc}") from None
        pages += 1
        failed = _failed_outcome(page)
        if failed:
            raise _Unobtainable(f"page {pages} of the search answered {failed}")
        if not isinstance(page, dict) or page.get("resourceType") != "Bundle" or not isinstance(
                page.get("entry") or [], list):
            raise _Unobtainable(f"page {pages} of the search is not a Bundle with an entry array")
        entries += page.get("entry") or []
        nxt = _next_link(page)
    out = {k: v for k, v in value.items() if k != "link"}
    return {**out, "entry": entries}


def _fetcher(req: CdsRequest, fetch: Fetch | None) -> Fetch | None:
    """``fetch`` if given, else an HTTP fetch from the request's ``fhirServer`` (None without one)."""
    if fetch is None and req.fhirServer:
        return http_fetcher(req.fhirServer, req.fhirAuthorization)
    return fetch


def _server_medications(orders: list[dict[str, Any]], known: dict[str, dict[str, Any]],
                        fetch: Fetch | None) -> dict[str, dict[str, Any]]:
    """``known`` with the Medications the orders reference as ``Medication/{id}`` that are not in it, read from the
    FHIR server (one that cannot be read is left out: its order gets a 'not checked' card)."""
    out = dict(known)
    for mr in orders:
        cc, _ = medication_concept(mr, out)
        ref = mr.get("medicationReference")
        m = _MEDICATION_REF.search(ref["reference"]) if cc is None and isinstance(ref, dict) and isinstance(
            ref.get("reference"), str) else None
        if m is None or fetch is None:
            continue
        try:
            value = fetch(f"Medication/{m.group(1)}")
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
            continue
        if isinstance(value, dict) and value.get("resourceType") == "Medication":
            out[f"Medication/{m.group(1)}"] = value
    return out


def gather(req: CdsRequest, fetch: Fetch | None) -> tuple[dict[str, Any], list[str]]:
    """A collection Bundle of everything the templates ask for, from prefetch or the FHIR server; and notes.

    Every prefetch value is checked first (400), what the server answers as it comes (502): each must be a FHIR
    resource of the patient ``context.patientId`` (see the module docstring).

    A prefetch key whose value is null holds no data (CDS Hooks: "If the CDS Client has no data to populate a
    template prefetch key, the prefetch template key MUST have a value of null"); it is not fetched.

    A key's data are *unobtainable* when the key is missing from the prefetch and cannot be fetched (no
    ``fhirServer``, or the fetch fails or times out), when its value is an OperationOutcome (CDS Hooks 2.0's way to
    say the prefetch failed; fetched again when there is a FHIR server), or when it is one page of a search whose
    ``next`` page cannot be read. For a key the hook requires (:data:`REQUIRED`) that is answered
    ``CdsHooksError(412)`` (CDS Hooks: a service that cannot obtain the data it needs SHALL answer 412
    Precondition Failed) - never cards computed as if the data were complete. Any other key is left out with a note.
    """
    notes: list[str] = []
    pid = str(req.context.get("patientId"))
    given = req.prefetch or {}
    templates = prefetch_templates()
    required = REQUIRED.get(req.hook, tuple(templates))
    found: dict[str, list[dict[str, Any]]] = {}
    prefetch_failed: dict[str, str] = {}
    fetch = _fetcher(req, fetch)
    for key in templates:
        value = given.get(key)
        if value is None:
            if key in given:  # null: "the CDS Client has no data to populate" the key - none, not missing
                found[key] = []
            continue
        failed = _failed_outcome(value)
        if failed:
            prefetch_failed[key] = f"the prefetch value is {failed}"
            continue
        first = _checked(f"prefetch.{key}", key, value, pid, 400)  # another patient's data: refused first
        try:
            paged = _all_pages(value, fetch, req.fhirServer)
        except _Unobtainable as exc:
            prefetch_failed[key] = f"the prefetch value is {exc}"
            continue
        found[key] = first if paged is value else _checked(f"prefetch.{key}", key, paged, pid, 400)
    resources: list[dict[str, Any]] = []
    missing: dict[str, list[str]] = {}  # why -> the required keys it kept out
    for key, template in templates.items():
        if key in found:
            resources.extend(found[key])
            continue
        query = render(template, req.context)
        what = query.split("?")[0]
        try:
            if fetch is None:
                raise _Unobtainable(prefetch_failed.get(key, "not in the prefetch")
                                    + " and there is no fhirServer to fetch it from")
            try:
                value = fetch(query)
            except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
                raise _Unobtainable(f"{prefetch_failed.get(key, 'not in the prefetch')}; fetching it from the "
                                    f"FHIR server failed: {exc}") from None
            failed = _failed_outcome(value)
            if failed:
                raise _Unobtainable(f"{prefetch_failed.get(key, 'not in the prefetch')}; the FHIR server answered "
                                    f"with {failed}")
            where = f"FHIR server answer to {what} (prefetch '{key}')"
            first = _checked(where, key, value, pid, 502)
            paged = _all_pages(value, fetch, req.fhirServer)
            resources.extend(first if paged is value else _checked(where, key, paged, pid, 502))
            notes.append(f"fetched '{key}' from the FHIR server")
        except _Unobtainable as exc:
            if key in required:
                missing.setdefault(str(exc), []).append(key)
            else:
                notes.append(f"could not obtain '{key}': {exc}; left out")
    if missing:
        keys = [k for ks in missing.values() for k in ks]
        raise CdsHooksError(
            f"{req.hook}: OsteoCare could not obtain the data it needs, so it gives no cards rather than cards that "
            "look complete: " + "; ".join(
                "prefetch " + ", ".join(f"'{k}' ({templates[k].split('?')[0]})" for k in ks) + f": {why}"
                for why, ks in missing.items())
            + ". Needed for " + "; ".join(f"{k}: {NEEDED_FOR[k]}" for k in keys), 412)
    seen: set[tuple[str, str]] = set()
    entries = []
    for r in resources:
        k = (str(r.get("resourceType")), str(r.get("id")))
        if r.get("id") and k in seen:
            continue
        seen.add(k)
        full = f"{r['resourceType']}/{r['id']}" if r.get("id") else None
        entries.append({"fullUrl": full, "resource": r} if full else {"resource": r})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}, notes


def _patient_result(req: CdsRequest, results: list[ImportResult]) -> ImportResult | None:
    """The import result of the patient ``context.patientId``; None if there is none (never another patient's)."""
    pid = str(req.context.get("patientId"))
    return next((r for r in results if r.report.patient == pid), None)


# ============================================================================ cards
def _indicator(status: Status, base: Literal["info", "warning", "critical"] = "info") -> Literal[
        "info", "warning", "critical"]:
    if base == "critical":
        return base
    return "warning" if status != "verified" else base


def _summary(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) < MAX_SUMMARY else text[: MAX_SUMMARY - 2].rstrip() + "…"


def _status_line(status: Status, what: str) -> str:
    w = status_warning(status, what)
    return f"\n\n**{w}**" if w else ""


def _card(summary: str, detail: str, indicator: Literal["info", "warning", "critical"], links: list[Link] | None,
          **kw: Any) -> Card:
    return Card(uuid=str(uuid.uuid4()), summary=_summary(summary), detail=detail.strip(), indicator=indicator,
                source=Source(label=SOURCE_LABEL, topic={"code": "osteoporosis", "display": "Osteoporosis"}),
                links=links or None, **kw)


#: Where each card's link points on the web patient page ``/patients/{record_id}``: the ids of its sections in
#: ``web/templates/_patient_main.html`` that every patient page has (its ``#contraindications`` heading is there only
#: when a drug is not offered, so the order cards point to the recommendation section that holds it).
PAGE_ANCHORS = {"bone-density": "assessment", "fracture-risk": "assessment", "treatment": "recommendation",
                "contraindications": "recommendation"}


def _links(base_url: str, record_id: str | None, card: str) -> list[Link]:
    """The link of a card to the patient's OsteoCare page, or none when ``record_id`` is None (not a stored
    patient: the page would not exist)."""
    if record_id is None:
        return []
    rid = urllib.parse.quote(record_id, safe="")
    return [Link(label="OsteoCare patient page", url=f"{base_url.rstrip('/')}/patients/{rid}#{PAGE_ANCHORS[card]}",
                 type="absolute")]


def _import_note(result: ImportResult, notes: list[str]) -> str:
    rep = result.report
    c = rep.counts
    parts = [f"Data read from the EHR: {c['mapped']} facts mapped, {c['flagged']} flagged, {c['skipped']} skipped."]
    parts += [f"- {w}" for w in rep.warnings if "(status:" in w]
    parts += [f"- {n}" for n in notes if "could not" in n or "missing" in n]
    return "\n\n" + "\n".join(parts)


def _who_card(c: Any, result: ImportResult, links: list[Link], notes: list[str]) -> Card:
    bd = c.results.get("bone-density")
    if bd is not None and bd.applicable and bd.category:
        low = bd.values.get("lowest_t_score")
        site = bd.values.get("lowest_t_score_site")
        label = bd.category.replace("_", " ")
        summary = f"WHO category: {label}" + (
            f" (lowest T-score {low.value:g} at {str(site.value).replace('_', ' ')})" if low and site else "")
        detail = "; ".join(w for w in bd.warnings[:5])
        return _card(summary, (detail or "") + _status_line(bd.status, "WHO category") + _import_note(result, notes),
                     _indicator(bd.status), links)
    from .clinical import not_applicable_reason

    why = not_applicable_reason(c, "bone-density") or (bd.reason if bd is not None and bd.reason else
                                                         "no bone density result")
    unk = result.report.site_unknown_scores
    extra = ""
    if unk:
        extra = "\n\nRecorded but not usable for the category: " + "; ".join(
            f"{s.kind.replace('_', '-')} {s.value:g} ({s.date or 'no date'}), site {s.region}" for s in unk[:5])
    return _card("WHO category not available: no usable DXA T-score", f"{why}{extra}" + _import_note(result, notes),
                 "info", links)


def _risk_card(c: Any, links: list[Link]) -> Card:
    parts = []
    detail = []
    status: Status = "verified"
    q = c.result("qfracture-2012")
    if q is not None:
        mof = q.values["major_osteoporotic_fracture_percent"].value
        hip = q.values["hip_fracture_percent"].value
        yrs = q.values["horizon_years"].value
        parts.append(f"QFracture {yrs}-y MOF {mof:.1f}%, hip {hip:.1f}%")
        detail += q.warnings[:4]
        status = q.status if q.status != "verified" else status
    else:
        na = next((n for n in c.assessment.not_applicable if n.calculator == "qfracture-2012"), None)
        if na is not None:
            detail.append(f"QFracture not applicable: {na.reason}")
    f = c.result("frax-entered")
    if f is not None:
        parts.append(f"FRAX (entered, adjusted) MOF {f.values['mof_adjusted'].value:g}%, "
                     f"hip {f.values['hip_adjusted'].value:g}%")
        detail += f.warnings[:3]
        if f.status != "verified":
            status = "unverified" if "unverified" in (status, f.status) else "secondary"
    if not parts:
        return _card("Fracture risk not calculated", "\n".join(detail) or "No risk calculator applied.", "info", links)
    body = "\n".join(f"- {d}" for d in detail) + _status_line(status, "Fracture risk")
    return _card("Fracture risk: " + "; ".join(parts), body, _indicator(status), links)


def _recommendation_cards(c: Any, links: list[Link]) -> list[Card]:
    rec = c.recommendation
    if rec is None:
        return [_card("Treatment recommendation not available", "\n".join(c.problems) or "No recommendation.",
                      "info", links)]
    stratum = rec.stratum
    if rec.options:
        first = ", ".join(o.name for o in rec.options[:3])
        summary = f"{stratum.label}: consider {first}"
    elif rec.no_drug_reason is not None:
        summary = f"{stratum.label}: no drug treatment recommended"
    else:
        summary = f"{stratum.label}: treatment not decided" if stratum.stratum else "Risk stratum not determined"
    lines = [f"Guideline: {stratum.guideline_name} ({stratum.guideline})."]
    lines += [f"- {r.text}" for r in stratum.rules_fired[:3]]
    if stratum.missing:
        lines.append("Missing to decide: " + ", ".join(stratum.missing))
    lines += [f"{o.rank}. {o.name} ({o.tier.replace('_', ' ')})" for o in rec.options[:6]]
    lines += [f"Not offered: {n.name if hasattr(n, 'name') else n}" for n in rec.not_offered[:5]]
    cards = [_card(summary, "\n".join(lines) + _status_line(rec.status, "Treatment recommendation"),
                   _indicator(rec.status), links)]
    for s in rec.sequencing:
        if s.urgency in ("urgent", "soon") and s.action in ("give_dose", "find_last_dose", "start_follow_on"):
            cards.append(_card(s.text.split(". ")[0], s.text + _status_line(s.status, "Sequencing advice"),
                               "critical" if s.urgency == "urgent" else "warning", links))
    return cards


def _order_meds(req: CdsRequest) -> list[dict[str, Any]]:
    draft = req.context.get("draftOrders")
    orders = [r for r in _resources_of(draft) if r.get("resourceType") == "MedicationRequest"]
    if req.hook == "order-select":
        sel = {str(s) for s in req.context.get("selections") or []}
        orders = [r for r in orders if f"MedicationRequest/{r.get('id')}" in sel]
    return orders


def _draft_index(draft: Any, depth: int = 0) -> dict[str, dict[str, Any]]:
    """Reference key -> resource of every resource in ``context.draftOrders`` (a Medication an order references)."""
    pairs: list[tuple[str | None, dict[str, Any]]] = []

    def walk(bundle: Any, depth: int) -> None:
        entries = bundle.get("entry") if isinstance(bundle, dict) else None
        for e in entries if isinstance(entries, list) and depth <= MAX_BUNDLE_DEPTH else []:
            res = e.get("resource") if isinstance(e, dict) else None
            if not isinstance(res, dict):
                continue
            if res.get("resourceType") == "Bundle":
                walk(res, depth + 1)
                continue
            full = e.get("fullUrl")
            pairs.append((full if isinstance(full, str) else None, res))

    walk(draft, depth)
    return resource_index(pairs)


def order_cards(c: Any, orders: list[dict[str, Any]], links: list[Link] | None = None, *,
                region: str | None = None, medications: dict[str, dict[str, Any]] | None = None) -> list[Card]:
    """Cards for draft MedicationRequests ``orders`` given the patient's clinical picture ``c``
    (:class:`~osteocare.fhir.clinical.Clinical`, or any object with record, facts, as_of, recommendation):
    one card per contraindication the treatment engine finds, one listing the checks it could not make, and
    one when a denosumab dose is overdue.

    An order's drug is read as the importer reads a medication (:func:`~osteocare.fhir.importer.medication_concept`):
    its ``medicationCodeableConcept``, else the Medication its ``medicationReference`` points to - contained in the
    order (``#id``) or among ``medications`` (reference key -> resource, e.g. the other resources of
    ``context.draftOrders``) - else the reference's display text."""
    from ..core.drugs import check_drug
    from ..core.guidelines.rulesets import drug_files

    cards: list[Card] = []
    known = drug_files()
    drugs_ordered: list[str] = []
    for mr in orders:
        cc, _how = medication_concept(mr, medications or {})
        if cc is None:
            ref = mr.get("medicationReference")
            shown = _clip(str(ref.get("reference"))) if isinstance(ref, dict) and ref.get("reference") else "none"
            label = f"MedicationRequest/{mr.get('id')}" if mr.get("id") else "a draft MedicationRequest"
            cards.append(_card(f"Draft order not checked: its medication could not be read ({label})",
                               f"{label} names its medication by a reference ({shown}) to a Medication that is neither "
                               "contained in the order nor in the draft orders, nor readable from the FHIR server. "
                               "OsteoCare could not tell which drug it is, so it did not check it for "
                               "contraindications.", "warning", links))
            continue
        drug, _entry, _coding, _flags, _why = identify_drug(cc)
        if drug is None or drug not in known:
            continue
        drugs_ordered.append(drug)
        name = str(known[drug].data.get("name", drug))
        check = check_drug(c.record, c.facts, drug, as_of=c.as_of, region=region)
        rid = f"MedicationRequest/{mr.get('id')}" if mr.get("id") else None
        for h in check.hits:
            critical = h.kind == "must_not"
            kind_txt = {"must_not": "contraindicated", "caution": "caution", "fix_first": "correct first"}[h.kind]
            summary = f"{name}: {kind_txt} - {h.text}"
            detail = f"{h.text}\n\nRule {h.rule_id}. Source: {h.citation.text}" + _status_line(h.status, name)
            kw: dict[str, Any] = {}
            if rid and critical:
                kw["suggestions"] = [Suggestion(label=f"Remove the {name} order", uuid=str(uuid.uuid4()),
                                                isRecommended=True,
                                                actions=[Action(type="delete", description=f"Remove the draft "
                                                                f"{name} order", resourceId=[rid])])]
                kw["selectionBehavior"] = "at-most-one"
            if not critical:
                kw["overrideReasons"] = [OverrideReason(code="benefit-outweighs-risk",
                                                        display="Benefit outweighs the risk (clinician's judgement)")]
            cards.append(_card(summary, detail, "critical" if critical else "warning", links, **kw))
        if check.undecided:
            missing = sorted({m for u in check.undecided for m in u.missing})
            cards.append(_card(f"{name}: {len(check.undecided)} check(s) could not be made - missing "
                               + ", ".join(missing[:4]),
                               "\n".join(f"- {u.rule_id}: {u.text} (missing: {', '.join(u.missing)})"
                                         for u in check.undecided), "info", links))
    if drugs_ordered and c.recommendation is not None:
        for s in c.recommendation.sequencing:
            if s.drug == "denosumab" and s.action == "give_dose" and s.urgency in ("urgent", "soon"):
                cards.append(_card(s.text.split(". ")[0], s.text + _status_line(s.status, "Denosumab schedule"),
                                   "critical" if s.urgency == "urgent" else "warning", links))
            elif s.drug == "denosumab" and s.action == "find_last_dose":
                cards.append(_card("Denosumab: date of the last injection unknown", s.text, "warning", links))
    return cards


# ============================================================================ handle
def handle(hook_id: str, request: dict[str, Any], *, fetch: Fetch | None = None, base_url: str = DEFAULT_BASE_URL,
           as_of: dt.date | None = None, guideline: str | None = None,
           stored: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """Answer one CDS Hooks call (``POST /cds-services/{hook_id}``) with a CDS Hooks 2.0 response dict.

    ``stored`` tells whether a record id is a patient stored in OsteoCare: a card links to that patient's page
    (``{base_url}/patients/{record_id}#section``) only when it is; without ``stored`` no card has a link.

    A record the core refuses (an :class:`~osteocare.core.errors.InputError`, e.g. a value out of its allowed range)
    gives a card naming the field, the value and the range, not an error: the order hooks still check the
    contraindications that do not need the assessment (the others are listed as checks not made).

    Raises :class:`CdsHooksError` (404 unknown service; 400 invalid request, hook mismatch or data of another
    patient; 412 when data the hook requires cannot be obtained, see :func:`gather`; 502 when the FHIR server
    answers with something unreadable or another patient's data).
    """
    if hook_id not in SERVICES:
        raise CdsHooksError(f"no CDS service {hook_id!r}; see /cds-services", 404)
    try:
        req = CdsRequest.model_validate(request)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "request"
        msg = str(first.get("msg")).removeprefix("Value error, ")
        got = f", got {_got(first.get('input'))}" if first.get("type") not in ("missing", "value_error") else ""
        raise CdsHooksError(f"invalid CDS Hooks request: {where}: {msg}{got}") from None
    if req.hook != SERVICES[hook_id]["hook"]:
        raise CdsHooksError(f"service {hook_id} answers hook {SERVICES[hook_id]['hook']!r}, not {req.hook!r}")
    _check_request(req)
    day = as_of or dt.date.today()
    fetch = _fetcher(req, fetch)
    bundle, notes = gather(req, fetch)
    results = import_bundle(bundle, as_of=day, source=f"cds-hooks {req.hookInstance}", single_patient=True)
    result = _patient_result(req, results)
    if result is None or result.record is None:
        why = "; ".join([*(e.reason for e in (result.report.entries if result else []) if e.outcome == "error"),
                         *notes]) or "no Patient resource"
        card = _card("OsteoCare could not assess this patient: patient data missing", why, "info", None)
        return CdsResponse(cards=[card]).model_dump(mode="json", exclude_none=True)
    from .clinical import clinical_picture

    rid = result.record.id
    page = rid if stored is not None and stored(rid) else None
    refused: InputError | None = None
    try:
        c: Any = clinical_picture(result.record, as_of=day, guideline=guideline)
    except InputError as exc:
        refused = exc
        c = SimpleNamespace(record=result.record, facts=DerivedFacts(), as_of=day, recommendation=None)
    cards: list[Card] = []
    if refused is not None:
        cards.append(_card(f"OsteoCare could not assess this patient: {refused.field} not allowed",
                           f"{refused}. The assessment (category, fracture risk, treatment recommendation and the "
                           "facts computed from it, such as kidney function) was not made; correct the value in the "
                           "EHR." + ("" if req.hook == "patient-view" else " Contraindication checks that need those "
                                     "facts are listed below as checks not made.") + _import_note(result, notes),
                           "warning", _links(base_url, page, "bone-density")))
    if req.hook == "patient-view":
        if refused is None:
            cards += [_who_card(c, result, _links(base_url, page, "bone-density"), notes),
                      _risk_card(c, _links(base_url, page, "fracture-risk")),
                      *_recommendation_cards(c, _links(base_url, page, "treatment"))]
    else:
        orders = _order_meds(req)
        meds = _server_medications(orders, _draft_index(req.context.get("draftOrders")), fetch)
        cards += order_cards(c, orders, _links(base_url, page, "contraindications"), medications=meds)
    return CdsResponse(cards=cards).model_dump(mode="json", exclude_none=True)


__all__ = ["MAX_REQUEST_BYTES", "SERVICES", "Card", "CdsHooksError", "CdsRequest", "CdsResponse", "discovery", "handle",
           "http_fetcher", "order_cards", "prefetch_templates"]
