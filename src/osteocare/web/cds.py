"""CDS Hooks 2.0 mounted on the app: discovery is public; a call needs a clinician's bearer token (the service
may fetch from the caller's FHIR server, so anonymous calls are refused).

A call's body is read here, not by FastAPI, so that its size is limited: over
:data:`~osteocare.fhir.cds_hooks.MAX_REQUEST_BYTES` (by the Content-Length header, or by the bytes actually read
when there is none) it is refused with 413 before being parsed. A body that is not a JSON object (empty, not JSON,
NaN/Infinity, nested too deep, an array...) gets 400, a non-JSON Content-Type 415. A call whose required data
cannot be obtained gets 412 (see :func:`~osteocare.fhir.cds_hooks.gather`). A card links to the patient's page
(``/patients/{record_id}``) only when the record id is a patient stored in the clinic."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ..fhir import cds_hooks
from .deps import STAFF, HTTPProblem, bearer_user, require
from .queries import patient_exists

router = APIRouter(tags=["cds-hooks"])

_BODY_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": "A CDS Hooks 2.0 request (hook, hookInstance, context, prefetch...)"}}}}}


@router.get("/cds-services")
def discovery() -> dict[str, Any]:
    return cds_hooks.discovery()


def _too_large(size: int | str) -> HTTPProblem:
    limit = cds_hooks.MAX_REQUEST_BYTES
    return HTTPProblem(413, "Request too large", f"request body: {size} bytes; a CDS Hooks request may have at most "
                       f"{limit} bytes")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


async def _json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, read at most up to the size limit."""
    limit = cds_hooks.MAX_REQUEST_BYTES
    ctype = request.headers.get("content-type", "")
    media = ctype.split(";")[0].strip().lower()
    if media and media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise HTTPProblem(415, "Unsupported media type", f"Content-Type {ctype[:80]!r}: expected application/json")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise HTTPProblem(400, "Bad request", f"Content-Length {declared[:40]!r}: expected a number of bytes")
        if int(declared) > limit:
            raise _too_large(int(declared))
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise _too_large(f"more than {limit}")
    if not raw.strip():
        raise HTTPProblem(400, "Invalid CDS Hooks request", "request body is empty; expected a JSON object (a CDS "
                          "Hooks request)")
    try:
        body = json.loads(bytes(raw), parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        why = str(exc) if not isinstance(exc, RecursionError) else "nested too deep"
        raise HTTPProblem(400, "Invalid CDS Hooks request", f"request body is not valid JSON: {why[:200]}") from None
    if not isinstance(body, dict):
        got = "an array" if isinstance(body, list) else f"a JSON {type(body).__name__}"
        raise HTTPProblem(400, "Invalid CDS Hooks request", f"request body: expected a JSON object (a CDS Hooks "
                          f"request), got {got}")
    return body


def _problem(description: str) -> dict[str, Any]:
    from .api import Problem

    return {"model": Problem, "content": {"application/problem+json": {}}, "description": description}


#: What a call answers, as the OpenAPI document declares it (the body is read and checked here: 400, not 422).
CALL_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The cards (CDS Hooks 2.0)"},
    400: _problem("The body is not a CDS Hooks request (empty, not a JSON object, a bad Content-Length, a field or "
                  "a prefetch resource the hook does not allow)"),
    401: _problem("No bearer token, or one that is no longer valid"),
    403: _problem("Not a clinician's account"),
    404: _problem("No CDS service of that id (see GET /cds-services)"),
    412: _problem("Data the hook requires can be obtained neither from the prefetch nor from the FHIR server"),
    413: _problem(f"The body is over {cds_hooks.MAX_REQUEST_BYTES} bytes; nothing was read"),
    415: _problem("Content-Type is not application/json"),
    502: _problem("The caller's FHIR server answered something that is not what was asked for"),
}


@router.post("/cds-services/{service_id}", openapi_extra=_BODY_DOC, responses=CALL_RESPONSES)
async def call(request: Request, service_id: str) -> dict[str, Any]:
    require(await run_in_threadpool(bearer_user, request), *STAFF)
    body = await _json_body(request)
    clinic = request.app.state.clinic

    def stored(record_id: str) -> bool:  # a card links to the patient page only when that page exists
        return patient_exists(clinic, record_id)

    try:
        return await run_in_threadpool(cds_hooks.handle, service_id, body, base_url=str(request.base_url).rstrip("/"),
                                       as_of=clinic.today(), stored=stored)
    except cds_hooks.CdsHooksError as exc:
        raise HTTPProblem(exc.http_status, "CDS Hooks request refused", str(exc)) from None
