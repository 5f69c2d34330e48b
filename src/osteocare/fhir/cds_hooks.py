"""CDS Hooks 2.0 service, framework-free: :func:`discovery` and :func:`handle`.

The web app mounts them (``GET /cds-services`` -> :func:`discovery`; ``POST /cds-services/{id}`` ->
:func:`handle`) and turns :class:`CdsHooksError` into its ``http_status``.

Services:

* ``osteocare-patient-view`` (hook ``patient-view``): cards with the WHO bone density category, the fracture
  risk (QFracture-2012, FRAX as entered) and the treatment recommendation, each linking to the explanation.
* ``osteocare-order-select`` / ``osteocare-order-sign`` (hooks ``order-select`` / ``order-sign``): a card for
  every contraindication the treatment engine finds for an osteoporosis drug in the draft orders (e.g.
  zoledronic acid with creatinine clearance under 35 mL/min), a card listing what could not be checked for lack
  of data, and a card when a denosumab dose is overdue.

Data come from the request's prefetch; a prefetch key that is missing (or null) is fetched from the FHIR
server with the rendered template, through ``fetch`` (a callable taking the relative query, e.g.
``"Patient/123"``, and returning the JSON) or, without one, over HTTP from ``fhirServer`` with the bearer token
of ``fhirAuthorization``. A non-verified result shows ``indicator: warning`` and its status sentence in the
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
  rather than use part of it.

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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..core.status import Status, status_warning
from . import codes
from .importer import FACT_TYPES, PATIENT_FACT_TYPES, ImportResult, identify_drug, import_bundle

Fetch = Callable[[str], Any]
DEFAULT_BASE_URL = "http://localhost:8000"
SOURCE_LABEL = "OsteoCare"
MAX_SUMMARY = 140
MAX_REQUEST_BYTES = 4 * 1024 * 1024  # a CDS Hooks request body, and one FHIR server answer (a size, not clinical)
MAX_BUNDLE_DEPTH = 4  # Bundles nested in Bundles
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([^/]+)(?:/_history/[^/]+)?$")


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
    found = _bundle_resources(field, value, status)
    for path, res in found:
        _check_belongs(path, res, pid, status)
    return [r for _, r in found]


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
        if cc is not None and not isinstance(cc, dict):
            raise _bad(f"{path}.medicationCodeableConcept", cc, "a CodeableConcept (an object with coding and/or text)")
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
    """A fetch over HTTP(S) from ``server`` (FHIR JSON), following searchset ``next`` links on that server.

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
        url = base + urllib.parse.quote(query, safe="/?=&,:-._~")
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
        return {**data, "entry": entries}

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


def gather(req: CdsRequest, fetch: Fetch | None) -> tuple[dict[str, Any], list[str]]:
    """A collection Bundle of everything the templates ask for, from prefetch or the FHIR server; and notes.

    Every prefetch value is checked first (400), what the server answers as it comes (502): each must be a FHIR
    resource of the patient ``context.patientId`` (see the module docstring)."""
    notes: list[str] = []
    pid = str(req.context.get("patientId"))
    given = req.prefetch or {}
    templates = prefetch_templates()
    found: dict[str, list[dict[str, Any]]] = {}
    for key in templates:
        if given.get(key) is not None:
            found[key] = _checked(f"prefetch.{key}", key, given[key], pid, 400)
    if fetch is None and req.fhirServer:
        fetch = http_fetcher(req.fhirServer, req.fhirAuthorization)
    resources: list[dict[str, Any]] = []
    for key, template in templates.items():
        if key in found:
            resources.extend(found[key])
            continue
        if fetch is None:
            notes.append(f"prefetch '{key}' missing and no FHIR server to fetch it from")
            continue
        query = render(template, req.context)
        what = query.split("?")[0]
        try:
            value = fetch(query)
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            notes.append(f"could not fetch {what}: {exc}")
            continue
        resources.extend(_checked(f"FHIR server answer to {what} (prefetch '{key}')", key, value, pid, 502))
        notes.append(f"fetched '{key}' from the FHIR server")
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


def _links(base_url: str, record_id: str, anchor: str) -> list[Link]:
    rid = urllib.parse.quote(record_id, safe="")
    return [Link(label="OsteoCare explanation", url=f"{base_url.rstrip('/')}/patients/{rid}/assessment#{anchor}",
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


def order_cards(c: Any, orders: list[dict[str, Any]], links: list[Link] | None = None, *,
                region: str | None = None) -> list[Card]:
    """Cards for draft MedicationRequests ``orders`` given the patient's clinical picture ``c``
    (:class:`~osteocare.fhir.clinical.Clinical`, or any object with record, facts, as_of, recommendation):
    one card per contraindication the treatment engine finds, one listing the checks it could not make, and
    one when a denosumab dose is overdue."""
    from ..core.drugs import check_drug
    from ..core.guidelines.rulesets import drug_files

    cards: list[Card] = []
    known = drug_files()
    drugs_ordered: list[str] = []
    for mr in orders:
        cc = mr.get("medicationCodeableConcept")
        if cc is None and isinstance(mr.get("medicationReference"), dict):
            cc = {"text": mr["medicationReference"].get("display") or ""}
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
           as_of: dt.date | None = None, guideline: str | None = None) -> dict[str, Any]:
    """Answer one CDS Hooks call (``POST /cds-services/{hook_id}``) with a CDS Hooks 2.0 response dict.

    Raises :class:`CdsHooksError` (404 unknown service; 400 invalid request, hook mismatch or data of another
    patient; 502 when the FHIR server answers with something unreadable or another patient's data).
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
    bundle, notes = gather(req, fetch)
    results = import_bundle(bundle, as_of=day, source=f"cds-hooks {req.hookInstance}", single_patient=True)
    result = _patient_result(req, results)
    if result is None or result.record is None:
        why = "; ".join([*(e.reason for e in (result.report.entries if result else []) if e.outcome == "error"),
                         *notes]) or "no Patient resource"
        card = _card("OsteoCare could not assess this patient: patient data missing", why, "info", None)
        return CdsResponse(cards=[card]).model_dump(mode="json", exclude_none=True)
    from .clinical import clinical_picture

    c = clinical_picture(result.record, as_of=day, guideline=guideline)
    rid = result.record.id
    if req.hook == "patient-view":
        cards = [_who_card(c, result, _links(base_url, rid, "bone-density"), notes),
                 _risk_card(c, _links(base_url, rid, "fracture-risk")),
                 *_recommendation_cards(c, _links(base_url, rid, "treatment"))]
    else:
        cards = order_cards(c, _order_meds(req), _links(base_url, rid, "contraindications"))
    return CdsResponse(cards=cards).model_dump(mode="json", exclude_none=True)


__all__ = ["MAX_REQUEST_BYTES", "SERVICES", "Card", "CdsHooksError", "CdsRequest", "CdsResponse", "discovery", "handle",
           "http_fetcher", "order_cards", "prefetch_templates"]
