"""Request plumbing shared by the API and the pages: who is asking, what they may do, CSRF, errors as problems."""

from __future__ import annotations

import math
import secrets
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..services.context import Clinic
from .accounts import Principal, principal_for, sha256
from .i18n import Lang, pick_locale

SESSION_COOKIE = "oc_session"
ANON_COOKIE = "oc_anon"
LANG_COOKIE = "oc_lang"
STAFF = ("doctor", "nurse")


class HTTPProblem(Exception):
    """An error the web layer answers with ``status`` (JSON problem for the API, an error page for the pages)."""

    def __init__(self, status: int, title: str, detail: str = "", *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}

    def body(self, instance: str) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "about:blank", "title": self.title, "status": self.status,
                               "detail": self.detail or self.title, "instance": instance}
        if self.errors:
            out["errors"] = [{k: _jsonable(v) for k, v in e.items()} for e in self.errors]
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or Infinity: the problem quoting one must still be valid JSON
    try:
        return jsonable_encoder(value)
    except Exception:
        return repr(value)[:200]


def unauthorized(detail: str = "sign in first") -> HTTPProblem:
    return HTTPProblem(401, "Not signed in", detail, headers={"WWW-Authenticate": "Bearer"})


def forbidden(detail: str) -> HTTPProblem:
    return HTTPProblem(403, "Forbidden", detail)


def clinic_of(request: Request) -> Clinic:
    return request.app.state.clinic  # type: ignore[no-any-return]


def acting(request: Request, user: Principal | None) -> Clinic:
    c = clinic_of(request)
    return c.as_actor(user.actor if user else "anonymous")


def bearer_user(request: Request) -> Principal | None:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        return None
    return principal_for(clinic_of(request), auth[7:].strip(), kind="bearer")


def cookie_user(request: Request) -> Principal | None:
    tok = request.cookies.get(SESSION_COOKIE)
    if not tok:
        return None
    return principal_for(clinic_of(request), tok, kind="cookie")


def require(user: Principal | None, *roles: str) -> Principal:
    if user is None:
        raise unauthorized()
    if roles and user.role not in roles:
        raise forbidden(f"a {user.role} account may not do this; allowed: {', '.join(roles)}")
    return user


def may_see_patient(user: Principal | None, record_id: str, *, write: bool = False,
                    patient_may_write: bool = False) -> Principal:
    """Doctors and nurses see the clinic's patients; a patient sees (and reports on) only their own record."""
    if user is None:
        raise unauthorized()
    if user.role in STAFF:
        return user
    if user.role == "patient" and user.record_id == record_id and (not write or patient_may_write):
        return user
    if user.role == "patient" and user.record_id == record_id:
        raise forbidden("a patient account may not change this part of the record")
    raise forbidden("this account may not open this patient's record")


# --- CSRF (pages) -------------------------------------------------------------------------------------------

def _serializer(request: Request) -> URLSafeTimedSerializer:
    return request.app.state.csrf_signer  # type: ignore[no-any-return]


def csrf_subject(request: Request) -> str:
    tok = request.cookies.get(SESSION_COOKIE)
    if tok:
        return "s:" + sha256(tok)
    anon = request.cookies.get(ANON_COOKIE) or getattr(request.state, "new_anon", None)
    if not anon:
        anon = secrets.token_urlsafe(16)
        request.state.new_anon = anon
    return "a:" + anon


def csrf_token(request: Request) -> str:
    return str(_serializer(request).dumps(csrf_subject(request)))


async def check_csrf(request: Request) -> None:
    """Refuse a form post without a valid token bound to this browser's session (or anonymous cookie)."""
    form = await request.form()
    token = str(form.get("csrf_token") or "")
    try:
        subject = _serializer(request).loads(token, max_age=12 * 3600)
    except BadSignature:
        raise HTTPProblem(403, "CSRF check failed", "the form has no valid CSRF token; reload the page and "
                          "submit again") from None
    if subject != csrf_subject(request):
        raise HTTPProblem(403, "CSRF check failed", "the form's CSRF token belongs to another session; reload "
                          "the page and submit again")


def lang_of(request: Request, user: Principal | None = None) -> Lang:
    code = pick_locale(request.cookies.get(LANG_COOKIE), user.locale if user else None,
                       request.headers.get("accept-language"))
    return Lang(code, clinic_of(request).settings.zone)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
