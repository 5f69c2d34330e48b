"""Forms of the patient page for the record's entries: conditions, medication history, intolerances, falls,
measured vertebral heights (and fractures, added by the page's fracture form): add one, resolve a condition, end a
medication, delete one made in error (with a reason). After a change, what the active courses' contraindication
check now finds is shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from ..services import entries as se
from ..services.context import Clinic
from . import questions as qs
from .deps import STAFF, acting, cookie_user, may_see_patient
from .pages import RECHECK, _after_form, _date, _float, _form, _redirect, need

router = APIRouter(include_in_schema=False)


#: The kinds the patient page has an add form for (a fracture has its own form, with the DXA).
FORM_KINDS = ("condition", "medication", "intolerance", "fall", "vertebra")


def _data(kind: str, f: dict[str, str]) -> dict[str, Any]:
    """The form's fields as the record's fields of ``kind`` (dates checked here, the rest by the record)."""
    if kind == "condition":
        return {"code": f.get("code", ""), "onset": _date(f.get("onset", ""), "onset", required=False)}
    if kind == "medication":
        return {"drug": f.get("drug", ""), "start": _date(f.get("start", ""), "start", required=False),
                "end": _date(f.get("end", ""), "end", required=False),
                "last_dose": _date(f.get("last_dose", ""), "last_dose", required=False)}
    if kind == "intolerance":
        return {"drug": f.get("drug", ""),
                "reaction": qs.clean_text(f.get("reaction", ""), "reaction", max_len=500, required=False),
                "date": _date(f.get("date", ""), "date", required=False), "severity": f.get("severity") or None}
    if kind == "fall":
        return {"date": _date(f.get("date", ""), "date", required=False), "injurious": bool(f.get("injurious"))}
    if kind == "vertebra":
        return {"level": f.get("level", ""), "date": _date(f.get("date", ""), "date", required=False),
                "anterior_mm": _float(f.get("anterior_mm", ""), "anterior_mm"),
                "middle_mm": _float(f.get("middle_mm", ""), "middle_mm"),
                "posterior_mm": _float(f.get("posterior_mm", ""), "posterior_mm")}
    raise AssertionError(kind)  # post_entry serves only FORM_KINDS


def _after(record_id: str, which: str, response: Response, result: list[Any]) -> Response:
    """After the action: ``response`` (the redirect after a change, or the form shown again with its errors); if
    the contraindication check now finds something, the redirect to the page that shows it (worked out again
    there: reloading that page does not post the form again)."""
    if result and result[0].warnings:
        return _redirect(f"/patients/{quote(record_id)}?done={which}{RECHECK}#{which}")
    return response


def _change(request: Request, record_id: str, which: str, f: dict[str, str],
            action: Callable[[Clinic], se.EntryResult | se.Entry]) -> Response:
    """Run a change for a staff member (the form shown again with its errors if refused), then the page with what
    the contraindication check now finds, or the redirect."""
    u = need(cookie_user(request), *STAFF)
    may_see_patient(u, record_id)
    result: list[Any] = []

    def act() -> None:
        done = action(acting(request, u))
        if isinstance(done, se.EntryResult):
            result.append(done)

    return _after(record_id, which, _after_form(request, u, record_id, which, f, act), result)


@router.post("/patients/{record_id}/entries/{kind}")
async def post_entry(request: Request, record_id: str, kind: str) -> Response:
    if kind not in FORM_KINDS:  # no such form on the page
        raise HTTPException(404, f"no form to add a {kind[:40]!r} entry; the page has forms for {', '.join(FORM_KINDS)}")
    f = await _form(request)

    def add(c: Clinic) -> se.EntryResult:
        return se.add_entry(c, record_id, kind, _data(kind, f), confirm_duplicate=bool(f.get("confirm_duplicate")))

    return _change(request, record_id, f"entry-{kind}", f, add)


@router.post("/patients/{record_id}/entries/{kind}/{entry_id}/end")
async def post_end_entry(request: Request, record_id: str, kind: str, entry_id: int) -> Response:
    f = await _form(request)

    def end(c: Clinic) -> se.EntryResult:
        day = _date(f.get("on", ""), "on")
        assert day is not None
        return se.end_entry(c, kind, entry_id, day, record_id=record_id)

    return _change(request, record_id, f"entry-{kind}-{entry_id}", f, end)


@router.post("/patients/{record_id}/entries/{kind}/{entry_id}/delete")
async def post_delete_entry(request: Request, record_id: str, kind: str, entry_id: int) -> Response:
    f = await _form(request)
    reason = f.get("reason", "")
    return _change(request, record_id, f"entry-{kind}-{entry_id}", f, lambda c: se.delete_entry(
        c, kind, entry_id, record_id=record_id, reason=qs.clean_text(reason, "reason", max_len=500, required=False)))
