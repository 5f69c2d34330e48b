"""CDS Hooks 2.0 mounted on the app: discovery is public; a call needs a clinician's bearer token (the service
may fetch from the caller's FHIR server, so anonymous calls are refused)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request

from ..fhir import cds_hooks
from .deps import STAFF, HTTPProblem, bearer_user, require

router = APIRouter(tags=["cds-hooks"])


@router.get("/cds-services")
def discovery() -> dict[str, Any]:
    return cds_hooks.discovery()


@router.post("/cds-services/{service_id}")
def call(request: Request, service_id: str, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    require(bearer_user(request), *STAFF)
    try:
        return cds_hooks.handle(service_id, body, base_url=str(request.base_url).rstrip("/"),
                                as_of=request.app.state.clinic.today())
    except cds_hooks.CdsHooksError as exc:
        raise HTTPProblem(exc.http_status, "CDS Hooks request refused", str(exc)) from None
