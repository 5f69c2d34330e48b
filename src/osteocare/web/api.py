"""The REST API (``/api/v1``): bearer tokens, the same services as the CLI, JSON problems, paged lists."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core.errors import InputError
from ..core.records import Fracture, PatientRecord
from ..services import appointments as sa_
from ..services import assessments as sa
from ..services import calendar as scal
from ..services import doses as sd
from ..services import entries as se
from ..services import facts as sf
from ..services import history as sh
from ..services import patients as sp
from ..services import reactions as sr
from ..services import views as v
from ..services import worklist as sw
from ..services._common import MAX_ROW_ID
from ..services.context import Clinic
from ..services.errors import Conflict, NotFound
from ..services.reads import cached_async
from . import accounts, queries
from . import questions as qs
from .accounts import Principal
from .deps import STAFF, HTTPProblem, acting, bearer_user, client_ip, may_see_patient, require
from .memo import assessment_bytes

router = APIRouter(prefix="/api/v1")
T = TypeVar("T")

Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip")]
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page (at most 100)")]
RecordId = Annotated[str, Field(min_length=1, max_length=64)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(default=None, description="Per field: field, value, allowed")


_PROBLEM_TEXT = {
    400: "The body could not be read (not UTF-8, or a form that cannot be parsed)",
    401: "Not signed in: no bearer token, or one that is no longer valid",
    403: "This account's role may not do this",
    404: "No such patient, appointment, entry... (or one of another patient through this patient's path)",
    409: "The request conflicts with what is stored (nothing was written); an override or a confirmation may be "
         "needed: the problem's errors name the field",
    413: "The request body is over the size limit (1 MiB); nothing was read",
    422: "A value is not allowed: the problem's errors name the field, the value and what is allowed",
    429: "Too many attempts: see Retry-After",
}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}, "description": text}
    for code, text in _PROBLEM_TEXT.items()
}


async def user_dep(request: Request) -> Principal | None:
    return bearer_user(request)  # a cached look-up (see accounts.principal_for): no worker thread needed


User = Annotated[Principal | None, Depends(user_dep)]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    role: str


class Me(BaseModel):
    username: str
    role: str
    record_id: str | None
    locale: str


@router.get("/ping", tags=["meta"], summary="Trivial endpoint (load-test baseline)")
def ping() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/auth/token", response_model=TokenOut, responses=PROBLEMS, tags=["auth"])
async def token(body: TokenIn, request: Request) -> TokenOut:
    """Exchange a username and password for a bearer token. Repeated failures are slowed, then refused (429)."""
    from .app import login_attempt

    user = await login_attempt(request, body.username, body.password)
    tok = await asyncio.to_thread(accounts.new_session, request.app.state.clinic, user, kind="bearer")
    return TokenOut(access_token=tok, expires_in=accounts.TOKEN_HOURS * 3600, role=user.role)


@router.post("/auth/logout", status_code=204, tags=["auth"], responses=PROBLEMS)
def logout(request: Request, user: User) -> Response:
    require(user)
    accounts.end_session(request.app.state.clinic, request.headers["authorization"][7:].strip())
    accounts.SESSIONS.drop("bearer:" + accounts.sha256(request.headers["authorization"][7:].strip()))
    return Response(status_code=204)


@router.get("/me", response_model=Me, responses=PROBLEMS, tags=["auth"])
def me(user: User) -> Me:
    u = require(user)
    return Me(username=u.username, role=u.role, record_id=u.record_id, locale=u.locale)


# --- patients --------------------------------------------------------------------------------------------------

class PatientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record: dict[str, Any] = Field(description="The patient's facts (PatientRecord fields)")
    given_name: str | None = Field(default=None, max_length=120)
    family_name: str | None = Field(default=None, max_length=120)
    birth_date: dt.date | None = None
    phone: str | None = Field(default=None, max_length=40)


@router.get("/patients", response_model=Page[v.PatientSummary], responses=PROBLEMS, tags=["patients"])
def list_patients(request: Request, user: User, offset: Offset = 0, limit: Limit = 50,
                  q: Annotated[str, Query(max_length=100, description="Id or name contains")] = "") -> Any:
    u = require(user, *STAFF)
    items, total = queries.patients_page(acting(request, u), q, offset=offset, limit=limit)
    return {"items": items, "total": total, "offset": offset, "limit": limit}


@router.post("/patients", status_code=201, response_model=v.PatientSummary, responses=PROBLEMS, tags=["patients"])
def create_patient(request: Request, user: User, body: PatientIn) -> Any:
    u = require(user, *STAFF)
    from ..core.records import parse_record

    rec = parse_record(body.record)
    return sp.add_patient(acting(request, u), rec, given_name=body.given_name, family_name=body.family_name,
                          birth_date=body.birth_date, phone=body.phone)


@router.get("/patients/{record_id}", response_model=v.PatientView, responses=PROBLEMS, tags=["patients"])
def get_patient(request: Request, user: User, record_id: str) -> Any:
    u = may_see_patient(user, record_id)
    return sp.show_patient(acting(request, u), record_id)


@router.get("/patients/{record_id}/assessment", tags=["assessments"], response_class=Response,
            summary="Assess the stored record now (not stored)",
            responses={**PROBLEMS, 200: {"description": "The assessment: results, not-applicable calculators with "
                                         "reasons, provenance and the recommendation (as `osteocare assess --json`)",
                                         "content": {"application/json": {"schema": {"type": "object"}}}}})
async def current_assessment(request: Request, user: User, record_id: str,
                             guideline: Annotated[str | None, Query(max_length=40)] = None,
                             as_of: dt.date | None = None) -> Response:
    u = may_see_patient(user, record_id)
    c = acting(request, u)
    day = as_of or c.today()
    try:
        plan = sp.record_plan(c, record_id, as_of=day, with_reactions=True)
        rec = await plan.run_async(c)
    except (OverflowError, ValueError) as exc:
        raise _as_of_error(exc, day) from None
    g = guideline or c.settings.guideline
    body = await cached_async(c, plan.revision, ("assessment-json", plan.patient_id, day, g),
                              lambda: assessment_bytes(rec, guideline=g, as_of=day))
    return Response(body, media_type="application/json")


class AssessIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    guideline: str | None = Field(default=None, max_length=40)
    as_of: dt.date | None = None


@router.post("/patients/{record_id}/assessments", status_code=201, response_model=v.StoredAssessmentView,
             responses=PROBLEMS, tags=["assessments"])
def store_assessment(request: Request, user: User, record_id: str, body: AssessIn) -> Any:
    u = require(user, "doctor")
    try:
        return sa.assess_and_store(acting(request, u), record_id, guideline=body.guideline, as_of=body.as_of)
    except (OverflowError, ValueError) as exc:
        raise _as_of_error(exc, body.as_of) from None


def _as_of_error(exc: Exception, as_of: dt.date | None) -> Exception:
    """A date error raised by date arithmetic on ``as_of`` (e.g. "year -120 is out of range" for 0001-01-01),
    told as an error of the field; the service's own input errors pass unchanged."""
    if isinstance(exc, InputError | ValidationError) or as_of is None:
        return exc
    return InputError("as_of", as_of.isoformat(), f"a date on which this patient's record can be assessed ({exc})")


@router.get("/patients/{record_id}/assessments", response_model=Page[v.StoredAssessmentView], responses=PROBLEMS,
            tags=["assessments"])
def list_assessments(request: Request, user: User, record_id: str, offset: Offset = 0, limit: Limit = 20) -> Any:
    u = may_see_patient(user, record_id)
    c = acting(request, u)
    items = sa.assessments_of(c, record_id)
    queries.audit_read(c, record_id, "assessments")
    return {"items": items[offset:offset + limit], "total": len(items), "offset": offset, "limit": limit}


@router.post("/patients/{record_id}/dxa", status_code=201, responses=PROBLEMS, tags=["facts"])
def add_dxa(request: Request, user: User, record_id: str, body: sf.DxaExamIn) -> dict[str, int]:
    u = require(user, *STAFF)
    return {"exam_id": sf.add_dxa_exam(acting(request, u), record_id, body)}


class LabIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=40)
    value: float
    unit: str = Field(min_length=1, max_length=20)
    date: dt.date
    reference_low: float | None = None
    reference_high: float | None = None


@router.post("/patients/{record_id}/labs", status_code=201, response_model=v.LabView, responses=PROBLEMS, tags=["facts"])
def add_lab(request: Request, user: User, record_id: str, body: LabIn) -> Any:
    u = require(user, *STAFF)
    return sf.add_lab(acting(request, u), record_id, **body.model_dump())


CONFIRM_DUPLICATE_DOC = ("true to add an entry with the same key fields as one already recorded (a fracture of the "
                         "same site and date, also undated): it is another one, not the same one sent again "
                         "(without it: 409 naming the recorded entry, nothing written)")


class FractureIn(Fracture):
    confirm_duplicate: bool = Field(default=False, description=CONFIRM_DUPLICATE_DOC)


@router.post("/patients/{record_id}/fractures", status_code=201, responses=PROBLEMS, tags=["facts"])
def add_fracture(request: Request, user: User, record_id: str, body: FractureIn) -> dict[str, int]:
    """A fracture. The same site and date as a recorded fracture (a retried request) is 409 naming it, unless
    ``confirm_duplicate`` is true."""
    u = require(user, *STAFF)
    data = body.model_dump(mode="json", exclude={"confirm_duplicate"})
    return {"fracture_id": se.add_entry(acting(request, u), record_id, "fracture", data,
                                        confirm_duplicate=body.confirm_duplicate).entry.id}


# --- conditions, medication history, intolerances, falls, fractures (entries) ----------------------------------

class EntriesOut(BaseModel):
    """Every entry of the patient by kind, oldest first (undated first)."""

    condition: list[se.Entry]
    medication: list[se.Entry]
    intolerance: list[se.Entry]
    fall: list[se.Entry]
    fracture: list[se.Entry]
    vertebra: list[se.Entry]


assert tuple(EntriesOut.model_fields) == se.KINDS, "EntriesOut must have one list per kind"

KindPath = Annotated[se.EntryKind, Path(description="condition, medication, intolerance, fall, fracture or vertebra")]
EndKindPath = Annotated[Literal["condition", "medication"], Path(
    description="condition (sets resolved) or medication (sets end); the other kinds have nothing to end")]
EntryId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="The entry's id (GET .../entries gives it)")]
#: The POST body as documented: the record's fields of the kind named in the path (the service checks the values).
ENTRY_BODY_SCHEMA: dict[str, Any] = {
    "description": "The record's fields of the kind named in the path (condition: code, onset, resolved; "
                   "medication: drug, start, end, last_dose; intolerance: drug, reaction, date, severity; fall: "
                   "date, injurious; fracture: site, date, fragility, on_treatment; vertebra: level, anterior_mm, "
                   "middle_mm, posterior_mm)",
    "anyOf": [{**schema, "properties": {**schema.get("properties", {}), "confirm_duplicate": {
        "type": "boolean", "default": False, "description": CONFIRM_DUPLICATE_DOC}}}
        for schema in (model.model_json_schema() for model in se.MODELS.values())],
}


class EndEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: dt.date = Field(description="The day the condition resolved or the medication ended: not after today, "
                                    "nor before its onset or start")


class DeleteEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, description="Why the entry is deleted (made in error); kept "
                                                                  "in the audit log with what the entry said")


@router.get("/patients/{record_id}/entries", response_model=EntriesOut, responses=PROBLEMS, tags=["facts"],
            summary="The patient's conditions, medication history, intolerances, falls and fractures")
def list_entries(request: Request, user: User, record_id: str) -> Any:
    """Every entry by kind, oldest first (undated first); a condition with its label, and whether a condition or a
    medication is current (not resolved, not ended). The read is audited."""
    u = require(user, *STAFF)
    return se.entries_of(acting(request, u), record_id)


@router.post("/patients/{record_id}/entries/{kind}", status_code=201, response_model=se.EntryResult,
             responses=PROBLEMS, tags=["facts"], summary="Add a condition, medication, intolerance, fall or fracture",
             openapi_extra={"requestBody": {"content": {"application/json": {"schema": ENTRY_BODY_SCHEMA}}}})
def add_entry(request: Request, user: User, record_id: str, kind: KindPath,
              body: Annotated[dict[str, Any], Body(description="The record's fields of that kind")]) -> Any:
    """Checked as the record checks it (a known condition or drug id, dates in order, none after today or before the
    patient was born): 422 naming the field, the value and what is allowed, and nothing written. The answer has the
    entry and ``warnings``: what the contraindication check now finds for the patient's active courses. An entry
    with the same key fields as a recorded one (a fracture's site and date, a fall's date, a condition's code and
    onset, a medication's drug and start, an intolerance's drug, reaction and date; undated too) is 409 naming it,
    unless the body has ``"confirm_duplicate": true``."""
    u = require(user, *STAFF)
    data = dict(body)
    confirm = data.pop("confirm_duplicate", False)
    if not isinstance(confirm, bool):
        raise InputError("confirm_duplicate", confirm, "true or false")
    return se.add_entry(acting(request, u), record_id, kind, data, confirm_duplicate=confirm)


@router.post("/patients/{record_id}/entries/{kind}/{entry_id}/end", response_model=se.EntryResult,
             responses=PROBLEMS, tags=["facts"], summary="Resolve a condition or end a medication")
def end_entry(request: Request, user: User, record_id: str, kind: EndKindPath, entry_id: EntryId,
              body: EndEntryIn) -> Any:
    """Sets a condition's ``resolved`` or a medication's ``end`` to ``on`` (audited with the old and new date). An
    entry of another patient is 404 through this patient's path."""
    u = require(user, *STAFF)
    return se.end_entry(acting(request, u), kind, entry_id, body.on, record_id=record_id)


@router.delete("/patients/{record_id}/entries/{kind}/{entry_id}", response_model=se.Entry, responses=PROBLEMS,
               tags=["facts"], summary="Delete an entry made in error (JSON body with the reason)")
def delete_entry(request: Request, user: User, record_id: str, kind: KindPath, entry_id: EntryId,
                 body: DeleteEntryIn) -> Any:
    """The reason goes in a JSON body (``{"reason": "..."}``), not the URL, so that it stays out of access logs.
    The answer is the entry as it was; the audit log keeps what it said and the reason. An entry of another patient
    is 404 through this patient's path; an intolerance that comes from a recorded reaction is 422 (change the
    reaction instead)."""
    u = require(user, *STAFF)
    return se.delete_entry(acting(request, u), kind, entry_id, reason=body.reason, record_id=record_id)


# --- clinical history -----------------------------------------------------------------------------------------

HISTORY_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    412: {"model": Problem, "content": {"application/problem+json": {}},
          "description": "If-Match names a version that is no longer the stored one: nothing was written"},
    428: {"model": Problem, "content": {"application/problem+json": {}},
          "description": "No If-Match: GET the history first and send its ETag back"},
}
MAX_IF_MATCH_TAGS = 10
_RECORD_FIELDS = PatientRecord.model_json_schema()["properties"]
#: The PATCH body as documented: the history's fields with the record's types (the service checks the values).
HISTORY_CHANGES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Only the fields to change (field -> new value); null clears an optional field",
    "properties": {f: _RECORD_FIELDS[f] for f in sh.HISTORY_FIELDS},
    "additionalProperties": False,
}
_ETAG_HEADER = {"ETag": {"description": 'The history\'s version as a strong entity tag ("..."): send it back as '
                                        "If-Match to change the history", "schema": {"type": "string"}}}


def _etag(version: str) -> str:
    """The strong entity tag of a history version (RFC 9110: quoted)."""
    return f'"{version}"'


def _if_match_versions(if_match: str | None, record_id: str) -> list[str]:
    """The versions named by an ``If-Match`` header (strong entity tags; a weak one never matches, RFC 9110 13.1.1).
    Missing, empty or ``*`` (which would overwrite whatever is stored): 428."""
    how = f"GET /api/v1/patients/{record_id}/history first and send its ETag back as If-Match"
    if if_match is None or not if_match.strip():
        raise HTTPProblem(428, "Precondition required", f"a change of the clinical history needs If-Match: {how}, "
                          "so that a change someone else made after you read it is not overwritten")
    if if_match.strip() == "*":
        raise HTTPProblem(428, "Precondition required", f"If-Match: * would overwrite any change made by someone "
                          f"else; {how}")
    versions: list[str] = []
    for tag in (t.strip() for t in if_match.split(",")):
        if tag.startswith("W/") or not tag:
            continue
        version = tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else tag
        if version not in versions:
            versions.append(version)
    if not versions:
        raise HTTPProblem(412, "Precondition failed", f"If-Match {if_match.strip()!r} names no strong entity tag "
                          f"(a weak one, W/\"...\", never matches); {how}")
    if len(versions) > MAX_IF_MATCH_TAGS:
        raise HTTPProblem(422, "Invalid input", f"If-Match: {len(versions)} entity tags; expected at most "
                          f"{MAX_IF_MATCH_TAGS}", errors=[{"field": "If-Match", "value": if_match[:200],
                                                        "allowed": f"at most {MAX_IF_MATCH_TAGS} entity tags"}])
    return versions


def _update_if_match(c: Clinic, record_id: str, changes: dict[str, Any], versions: list[str],
                     if_match: str) -> v.HistoryView:
    """The change, if the stored version is one of ``versions`` (checked in the service's transaction), else 412."""
    for version in versions[:-1]:  # several entity tags: any of them may be the stored version
        with contextlib.suppress(Conflict):
            return sh.update_history(c, record_id, changes, expected_version=version)
    try:
        return sh.update_history(c, record_id, changes, expected_version=versions[-1])
    except Conflict as exc:
        raise HTTPProblem(412, "Precondition failed", f"If-Match {if_match.strip()}: {exc}") from None


@router.get("/patients/{record_id}/history", response_model=v.HistoryView, tags=["facts"],
            responses={**PROBLEMS, 200: {"headers": _ETAG_HEADER}},
            summary="The patient's clinical history (risk factors, body measures, FRAX), with its ETag")
def get_history(request: Request, response: Response, user: User, record_id: str) -> Any:
    """The history's fields as stored, and ``version``, also sent as the strong ``ETag``: send it back as
    ``If-Match`` to change the history (the read is audited)."""
    u = require(user, *STAFF)
    view = sh.history_of(acting(request, u), record_id)
    response.headers["ETag"] = _etag(view.version)
    return view


@router.patch("/patients/{record_id}/history", response_model=v.HistoryView,
              responses={**HISTORY_PROBLEMS, 200: {"headers": _ETAG_HEADER}},
              tags=["facts"], summary="Change some fields of the clinical history (needs If-Match)",
              openapi_extra={"requestBody": {"content": {"application/json": {"schema": HISTORY_CHANGES_SCHEMA}}}})
def patch_history(
    request: Request, response: Response, user: User, record_id: str,
    body: Annotated[dict[str, Any], Body(description="field -> new value; null clears an optional field")],
    if_match: Annotated[str | None, Header(max_length=1000, description=(
        'The ETag of the history as read (GET), e.g. "3f2a9c0d1e4b5a6f"; required (else 428), and a version that '
        "is no longer the stored one is refused with 412 (nothing written)"))] = None,
) -> Any:
    """Change the fields given, all or nothing: each value is checked against the whole record (422 naming the
    field, the value and what is allowed). The change is audited with each field's old and new value; the answer
    is the history as now stored, with its new ETag."""
    u = require(user, *STAFF)
    versions = _if_match_versions(if_match, record_id)
    view = _update_if_match(acting(request, u), record_id, body, versions, if_match or "")
    response.headers["ETag"] = _etag(view.version)
    return view


class ReactionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=40)
    severity: str = Field(max_length=20)
    drug: str | None = Field(default=None, max_length=40)
    onset_on: dt.date | None = None
    outcome: str = Field(default="unknown", max_length=40)
    resolved_on: dt.date | None = Field(default=None, description="With a resolved outcome; without it, today")
    description: str | None = Field(default=None, max_length=2000)
    intolerance: bool = False
    course_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    dose_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)


class ReactionOutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: str = Field(max_length=40, description="ongoing, resolving, resolved, resolved_with_sequelae, unknown")
    resolved_on: dt.date | None = Field(default=None, description="With a resolved outcome; without it, today")


@router.post("/patients/{record_id}/reactions", status_code=201, response_model=v.ReactionView, responses=PROBLEMS,
             tags=["doses"])
def add_reaction(request: Request, user: User, record_id: str, body: ReactionIn) -> Any:
    u = may_see_patient(user, record_id, write=True, patient_may_write=True)
    data = body.model_dump()
    if u.role == "patient":
        data["intolerance"] = False  # a clinician decides whether a reaction is an intolerance
    from .app import check_owned

    check_owned(request, record_id, course_id=data.get("course_id"), dose_id=data.get("dose_id"))
    data["description"] = qs.clean_text(data["description"] or "", "description", max_len=2000, required=False) or None
    return sr.record_reaction(acting(request, u), record_id, **data)


@router.post("/patients/{record_id}/reactions/{reaction_id}/outcome", response_model=v.ReactionView,
             responses=PROBLEMS, tags=["doses"],
             summary="Change a reaction's outcome (a resolved hypocalcaemia stops holding back the drug from its date)")
def change_reaction_outcome(request: Request, user: User, record_id: str,
                            reaction_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)], body: ReactionOutcomeIn) -> Any:
    u = may_see_patient(user, record_id, write=True)
    from .app import check_owned

    check_owned(request, record_id, reaction_id=reaction_id)
    return sr.update_reaction_outcome(acting(request, u), reaction_id, outcome=body.outcome,
                                      resolved_on=body.resolved_on)


class DoseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID, description="The appointment (schedule item)")
    course_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    given_on: dt.date | None = None
    lot_number: str | None = Field(default=None, max_length=40)
    body_site: str | None = Field(default=None, max_length=40)
    observation_minutes: int | None = Field(default=None, ge=0, le=1440)
    observation_notes: str | None = Field(default=None, max_length=2000)
    override_reason: str | None = Field(default=None, max_length=2000, description=(
        "Written reason to give the dose despite a finding of the pre-dose contraindication check (else 409)"))


@router.post("/patients/{record_id}/doses", status_code=201, response_model=v.DoseResult, responses=PROBLEMS,
             tags=["doses"])
def add_dose(request: Request, user: User, record_id: str, body: DoseIn) -> Any:
    u = require(user, *STAFF)
    if body.item_id is None and body.course_id is None:
        raise HTTPProblem(422, "Invalid input", "give item_id (the appointment) or course_id",
                          errors=[{"field": "item_id", "value": None, "allowed": "an appointment id, or course_id"}])
    from .app import check_owned

    check_owned(request, record_id, course_id=body.course_id, item_id=body.item_id)
    if body.override_reason is not None and u.role != "doctor":
        raise HTTPProblem(403, "Forbidden", "only a doctor may override the pre-dose contraindication check",
                          errors=[{"field": "override_reason", "value": "(given)", "allowed": "a doctor's account"}])
    return sd.record_dose(acting(request, u), **body.model_dump(), given_by=u.username)


# --- appointments (review, DXA and lab items) -------------------------------------------------------------------

ItemId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="The appointment (schedule item) id "
                                                             "(GET /api/v1/patients/{record_id} lists the schedule)")]


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    done_on: dt.date | None = Field(default=None, description="The day it was done (default today): not after today, "
                                                               "nor before the course's start")
    note: str = Field(default="", max_length=2000)


class BookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: dt.datetime = Field(description="The time booked; without an offset, in the clinic's time zone. From today "
                                        "to the booking horizon")
    location: str | None = Field(default=None, max_length=120)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, description="Why it is cancelled (audited)")
    override_reason: str | None = Field(default=None, max_length=2000, description=(
        "A doctor's written reason to cancel the follow-on review after denosumab or an anabolic drug "
        "(DMAB-SWITCH, ANAB-THEN-AR-*) while no course fulfils it (else 409, nothing changed)"))


@router.post("/patients/{record_id}/appointments/{item_id}/complete", response_model=v.ItemView, responses=PROBLEMS,
             tags=["appointments"], summary="Mark a review, DXA or lab appointment done")
def complete_appointment(request: Request, user: User, record_id: str, item_id: ItemId, body: CompleteIn) -> Any:
    """As ``osteocare appointment complete``: the annual review (MON-ANNUAL) done schedules the next one from the
    day it was done. A dose appointment is completed by recording the dose (409); a closed one is 409."""
    u = require(user, *STAFF)
    from .app import check_owned

    check_owned(request, record_id, item_id=item_id)
    note = qs.clean_text(body.note, "note", max_len=2000, required=False)
    return sa_.complete_item(acting(request, u), item_id, done_on=body.done_on, note=note)


@router.post("/patients/{record_id}/appointments/{item_id}/book", response_model=v.ItemView, responses=PROBLEMS,
             tags=["appointments"], summary="Book a time for an open appointment")
def book_appointment(request: Request, user: User, record_id: str, item_id: ItemId, body: BookIn) -> Any:
    """As ``osteocare appointment book``: a time from today to the booking horizon (422 naming ``at`` otherwise)."""
    u = require(user, *STAFF)
    from .app import check_owned

    check_owned(request, record_id, item_id=item_id)
    return sa_.book_appointment(acting(request, u), item_id, at=body.at, location=body.location)


@router.post("/patients/{record_id}/appointments/{item_id}/cancel", response_model=v.ItemView, responses=PROBLEMS,
             tags=["appointments"], summary="Cancel an open review, DXA or lab appointment")
def cancel_appointment(request: Request, user: User, record_id: str, item_id: ItemId, body: CancelIn) -> Any:
    """As ``osteocare appointment cancel``: a recurring review falls due again one interval after the cancelled
    one's due date. The follow-on review after denosumab or an anabolic drug, while no active course fulfils it,
    needs a doctor's ``override_reason``: without one 409 (as a dose's override), from another role 403."""
    u = require(user, *STAFF)
    from .app import check_owned

    check_owned(request, record_id, item_id=item_id)
    if body.override_reason is not None and u.role != "doctor":
        raise HTTPProblem(403, "Forbidden", "only a doctor may give an override reason to cancel a follow-on review",
                          errors=[{"field": "override_reason", "value": "(given)", "allowed": "a doctor's account"}])
    reason = qs.clean_text(body.reason, "reason", max_len=500)
    return sa_.cancel_item(acting(request, u), item_id, reason=reason, override_reason=body.override_reason)


@router.get("/patients/{record_id}/calendar.ics", responses={200: {"content": {"text/calendar": {}}}, **PROBLEMS},
            tags=["patients"], response_class=Response)
def calendar(request: Request, user: User, record_id: str,
             lang: Annotated[Literal["en", "vi"] | None, Query(description="Language of the texts (default: the "
                                                                  "account's)")] = None) -> Response:
    u = may_see_patient(user, record_id)
    data = scal.patient_calendar(acting(request, u), record_id, lang=lang or u.locale)
    return Response(data, media_type="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="osteocare-{record_id}.ics"'})


@router.get("/patients/{record_id}/audit", responses=PROBLEMS, tags=["admin"])
def patient_audit(request: Request, user: User, record_id: str, offset: Offset = 0, limit: Limit = 50) -> Any:
    u = require(user, "admin")
    if not queries.patient_exists(acting(request, u), record_id):
        raise NotFound("patient", record_id)
    items, total = queries.audit_page(acting(request, u), record_id=record_id, offset=offset, limit=limit)
    return {"items": items, "total": total, "offset": offset, "limit": limit}


@router.get("/worklist", response_model=v.Worklist, responses=PROBLEMS, tags=["worklist"])
async def worklist(request: Request, user: User, days: Annotated[int, Query(ge=0, le=60)] = 7,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> Any:
    u = require(user, *STAFF)
    c = acting(request, u)
    plan = sw.worklist_plan(c, days=days, limit=limit)
    wl = await plan.run_async(c)
    body = await cached_async(c, plan.revision, ("worklist-json", plan.key), lambda: wl.model_dump_json().encode())
    return Response(body, media_type="application/json")


# --- admin -----------------------------------------------------------------------------------------------------

@router.get("/audit", responses=PROBLEMS, tags=["admin"])
def audit_log(request: Request, user: User, offset: Offset = 0, limit: Limit = 50,
              actor: Annotated[str | None, Query(max_length=120)] = None) -> Any:
    u = require(user, "admin")
    items, total = queries.audit_page(acting(request, u), actor=actor, offset=offset, limit=limit)
    return {"items": items, "total": total, "offset": offset, "limit": limit}


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1024)
    role: Literal["doctor", "nurse", "patient", "admin"]
    record_id: str | None = Field(default=None, max_length=64)
    display_name: str | None = Field(default=None, max_length=120)
    locale: Literal["en", "vi"] = "en"


class UserOut(BaseModel):
    user_id: int
    username: str
    role: str
    record_id: str | None
    locale: str


@router.get("/users", response_model=Page[UserOut], responses=PROBLEMS, tags=["admin"])
def users(request: Request, user: User, offset: Offset = 0, limit: Limit = 50) -> Any:
    require(user, "admin")
    items, total = accounts.list_users(request.app.state.clinic, offset=offset, limit=limit)
    return {"items": [i.__dict__ for i in items], "total": total, "offset": offset, "limit": limit}


@router.post("/users", status_code=201, response_model=UserOut, responses=PROBLEMS, tags=["admin"])
def add_user(request: Request, user: User, body: UserIn) -> Any:
    u = require(user, "admin")
    return accounts.create_user(acting(request, u), **body.model_dump()).__dict__


# --- questions -------------------------------------------------------------------------------------------------

class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=5000)
    name: str | None = Field(default=None, max_length=120)
    locale: Literal["en", "vi"] = "en"


class Asked(BaseModel):
    id: int
    follow_token: str
    follow_url: str


@router.post("/questions", status_code=201, response_model=Asked, responses=PROBLEMS, tags=["questions"])
def ask(request: Request, user: User, body: QuestionIn) -> Any:
    """Ask the clinic's doctors (no account needed; rate-limited). Keep ``follow_url``: it shows the answer."""
    from .app import question_slot

    with question_slot(request, client_ip(request)):  # a question refused (422) does not use up the quota
        qv, tok = qs.ask(acting(request, user), topic=body.topic, body=body.body, asker=user, name=body.name,
                         locale=body.locale)
    return {"id": qv.id, "follow_token": tok, "follow_url": f"/follow/{tok}"}


@router.get("/questions/follow/{token}", response_model=qs.QuestionView, responses=PROBLEMS, tags=["questions"])
def follow(request: Request, token: str) -> Any:
    return qs.follow(request.app.state.clinic, token)


@router.get("/questions", response_model=Page[qs.QuestionView], responses=PROBLEMS, tags=["questions"])
def question_queue(request: Request, user: User, status: Literal["open", "answered"] = "open", offset: Offset = 0,
                   limit: Limit = 50) -> Any:
    require(user, "doctor")
    items, total = qs.queue(request.app.state.clinic, status=status, offset=offset, limit=limit)
    return {"items": items, "total": total, "offset": offset, "limit": limit}


QuestionId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
QUESTION_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    412: {"model": Problem, "content": {"application/problem+json": {}},
          "description": "If-Match names a version that is no longer the question's: nothing was written"},
    428: {"model": Problem, "content": {"application/problem+json": {}},
          "description": "No If-Match: GET the question first and send its ETag back"},
}
_QUESTION_ETAG = {"ETag": {"description": 'The question\'s version as a strong entity tag ("3"): send it back as '
                                          "If-Match to change the answer or its publication",
                           "schema": {"type": "string"}}}
IfMatch = Annotated[str | None, Header(max_length=200, description=(
    'The ETag of the question as read (GET /api/v1/questions/{id}), e.g. "3"; a version that is no longer the '
    "question's is refused with 412 (nothing written)"))]


def _question_version(if_match: str | None, question_id: int, *, required: bool) -> int | None:
    """The version named by ``If-Match`` (one strong entity tag). Missing or ``*``: 428 where required, else any."""
    how = f"GET /api/v1/questions/{question_id} first and send its ETag back as If-Match"
    tag = (if_match or "").strip()
    if not tag or tag == "*":
        if not required:
            return None
        raise HTTPProblem(428, "Precondition required", f"a change of an answer needs If-Match: {how}, so that a "
                          "change another doctor made after you read it is not overwritten")
    if tag.startswith("W/"):
        raise HTTPProblem(412, "Precondition failed", f"If-Match {tag!r} is a weak entity tag, which never matches; "
                          f"{how}")
    version = tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else tag
    if not version.isdigit() or len(version) > 10:
        raise HTTPProblem(412, "Precondition failed", f"If-Match {tag!r} names no version of question {question_id} "
                          f"(one entity tag such as \"3\"); {how}")
    return int(version)


def _stale(exc: qs.StaleVersion) -> HTTPProblem:
    return HTTPProblem(412, "Precondition failed", f"If-Match: {exc}")


@router.get("/questions/{question_id}", response_model=qs.QuestionView, tags=["questions"],
            responses={**PROBLEMS, 200: {"headers": _QUESTION_ETAG}})
def get_question(request: Request, response: Response, user: User, question_id: QuestionId) -> Any:
    """One question as the doctors' queue shows it, with its ``version`` also as the strong ``ETag``."""
    require(user, "doctor")
    view = qs.get(request.app.state.clinic, question_id)
    response.headers["ETag"] = f'"{view.version}"'
    return view


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = Field(min_length=1, max_length=10000)


@router.post("/questions/{question_id}/answer", response_model=qs.QuestionView, tags=["questions"],
             responses={**QUESTION_PROBLEMS, 200: {"headers": _QUESTION_ETAG}})
def answer(request: Request, response: Response, user: User, question_id: QuestionId, body: AnswerIn,
           if_match: IfMatch = None) -> Any:
    """Answer an open question. An answered one is 409: change its answer with ``PUT`` on the same path."""
    u = require(user, "doctor")
    expected = _question_version(if_match, question_id, required=False)
    try:
        view = qs.answer(acting(request, u), question_id, text=body.answer, doctor=u, expected_version=expected)
    except qs.StaleVersion as exc:
        raise _stale(exc) from None
    response.headers["ETag"] = f'"{view.version}"'
    return view


@router.put("/questions/{question_id}/answer", response_model=qs.QuestionView, tags=["questions"],
            summary="Edit the answer of an answered question (needs If-Match)",
            responses={**QUESTION_PROBLEMS, 200: {"headers": _QUESTION_ETAG}})
def edit_answer(request: Request, response: Response, user: User, question_id: QuestionId, body: AnswerIn,
                if_match: IfMatch = None) -> Any:
    """Replace the answer; ``If-Match`` must name the question's version as read (none: 428; stale: 412, nothing
    written). The audit log keeps the old and the new text. A published answer is taken off the public page until
    it is published again (``POST .../publish``); an unchanged text changes nothing."""
    u = require(user, "doctor")
    expected = _question_version(if_match, question_id, required=True)
    assert expected is not None
    try:
        view = qs.edit_answer(acting(request, u), question_id, text=body.answer, expected_version=expected)
    except qs.StaleVersion as exc:
        raise _stale(exc) from None
    response.headers["ETag"] = f'"{view.version}"'
    return view


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str | None = Field(default=None, max_length=200)
    body: str | None = Field(default=None, max_length=5000)
    answer: str | None = Field(default=None, max_length=10000, description=(
        "The answer as published (default: as published before, else as sent to the asker); anonymised too"))


@router.post("/questions/{question_id}/publish", response_model=qs.PublicQuestion, tags=["questions"],
             responses={**QUESTION_PROBLEMS, 200: {"headers": _QUESTION_ETAG}})
def publish(request: Request, response: Response, user: User, question_id: QuestionId, body: PublishIn,
            if_match: IfMatch = None) -> Any:
    """Publish an answered question anonymised: e-mail addresses and phone numbers are removed from the topic, the
    question and the answer, each of which may be reworded here. With ``If-Match``, refused (412) if the question
    changed since it was read."""
    u = require(user, "doctor")
    expected = _question_version(if_match, question_id, required=False)
    try:
        pub, version = qs.publish_versioned(acting(request, u), question_id, topic=body.topic, body=body.body,
                                            answer=body.answer, expected_version=expected)
    except qs.StaleVersion as exc:
        raise _stale(exc) from None
    response.headers["ETag"] = f'"{version}"'
    return pub


@router.post("/questions/{question_id}/unpublish", response_model=qs.QuestionView, tags=["questions"],
             responses={**QUESTION_PROBLEMS, 200: {"headers": _QUESTION_ETAG}})
def unpublish(request: Request, response: Response, user: User, question_id: QuestionId,
              if_match: IfMatch = None) -> Any:
    """Take a published question off the public Q&A (its public wording is kept for publishing again). With
    ``If-Match``, refused (412) if the question changed since it was read."""
    u = require(user, "doctor")
    expected = _question_version(if_match, question_id, required=False)
    try:
        view = qs.unpublish(acting(request, u), question_id, expected_version=expected)
    except qs.StaleVersion as exc:
        raise _stale(exc) from None
    response.headers["ETag"] = f'"{view.version}"'
    return view


@router.get("/qa", response_model=Page[qs.PublicQuestion], tags=["questions"], responses=PROBLEMS)
def public_qa(request: Request, q: Annotated[str, Query(max_length=200)] = "", offset: Offset = 0,
              limit: Limit = 20) -> Any:
    items, total = qs.search_public(request.app.state.clinic, q, offset=offset, limit=limit)
    return {"items": items, "total": total, "offset": offset, "limit": limit}


@router.get("/qa/{question_id}", response_model=qs.PublicQuestion, tags=["questions"], responses=PROBLEMS)
def public_one(request: Request, question_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)]) -> Any:
    return qs.public_one(request.app.state.clinic, question_id)
