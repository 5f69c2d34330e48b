"""The app factory: ``create_app(settings=None)`` wires the services' clinic, the API, the pages, CDS Hooks,
static files, and the translation of every error into an HTTP response (the web layer alone does this)."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.errors import InputError, NotApplicable, OsteoCareError
from ..services.context import Clinic
from ..services.errors import Conflict, DoseAlreadyRecorded, InvalidState, NotFound, OverrideRequired
from ..settings import Settings, get_settings
from ..store import models as sm
from . import accounts
from .accounts import Principal, RateLimiter
from .deps import HTTPProblem, client_ip

HERE = Path(__file__).parent


@dataclass(frozen=True)
class WebOptions:
    """Limits of the web app (tests make them small or large)."""

    login_failures: int = 5  # failed sign-ins per (address, username) per window before 429
    login_window_s: float = 900.0
    login_delay_s: float = 0.25  # added per recent failure, up to login_max_delay_s
    login_max_delay_s: float = 2.0
    questions_per_window: int = 5  # questions per address per window
    questions_window_s: float = 600.0
    secure_cookies: bool = False  # True behind HTTPS
    today: dt.date | None = None


def create_app(settings: Settings | None = None, *, options: WebOptions | None = None,
               clinic: Clinic | None = None) -> FastAPI:
    """The OsteoCare web application over the store named by ``settings`` (default: the environment)."""
    opts = options or WebOptions()
    s = settings or get_settings()
    c = clinic or Clinic.open(s, actor="web")
    if opts.today is not None:
        c = c.on(opts.today)
    app = FastAPI(title="OsteoCare", version=_version(),
                  description="Osteoporosis decision support: patients, assessments, courses, doses, worklist, "
                  "questions to doctors. Decision support only: not a substitute for clinical judgement. "
                  "Errors are JSON problems (RFC 9457) naming the field, the value and what is allowed.")
    app.state.clinic = c
    app.state.options = opts
    app.state.csrf_signer = URLSafeTimedSerializer(accounts.web_secret(c), salt="osteocare-csrf")
    app.state.login_limiter = RateLimiter(opts.login_failures, opts.login_window_s)
    app.state.question_limiter = RateLimiter(opts.questions_per_window, opts.questions_window_s)

    from . import api, cds, pages

    app.include_router(api.router)
    app.include_router(cds.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _handlers(app)

    app.add_middleware(SecurityHeaders)
    return app


_CSP = (b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
        b"form-action 'self'")
_ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"), (b"referrer-policy", b"same-origin"))


class SecurityHeaders:
    """Adds the security headers to every response, and a Content-Security-Policy to HTML pages (a plain ASGI
    middleware: no per-request task or stream, unlike ``@app.middleware``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _ALWAYS if k not in present]
                is_html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                if is_html and b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", _CSP))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("osteocare")
    except Exception:
        return "0"


# --- errors -> responses ---------------------------------------------------------------------------------------

def _wants_json(request: Request) -> bool:
    p = request.url.path
    return p.startswith(("/api/", "/cds-services")) or p == "/openapi.json"


def _respond(request: Request, problem: HTTPProblem) -> Response:
    if _wants_json(request):
        return JSONResponse(problem.body(request.url.path), status_code=problem.status,
                            media_type="application/problem+json", headers=problem.headers)
    from .pages import error_page

    return error_page(request, problem)


def problem_of(exc: Exception) -> HTTPProblem:
    if isinstance(exc, HTTPProblem):
        return exc
    if isinstance(exc, InputError):
        unit = f" ({exc.unit})" if exc.unit else ""
        return HTTPProblem(422, "Invalid input", str(exc),
                           errors=[{"field": exc.field, "value": exc.value, "allowed": exc.allowed + unit}])
    if isinstance(exc, NotFound):
        return HTTPProblem(404, "Not found", str(exc))
    if isinstance(exc, OverrideRequired):
        return HTTPProblem(409, "Override required", str(exc), errors=[
            {"field": "override_reason", "value": None, "allowed": "a written reason", "finding": f} for f in exc.findings])
    if isinstance(exc, DoseAlreadyRecorded | Conflict | InvalidState):
        return HTTPProblem(409, "Conflict", str(exc))
    if isinstance(exc, NotApplicable):
        return HTTPProblem(422, "Not applicable", str(exc))
    return HTTPProblem(422, "Cannot do this", str(exc))


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPProblem)
    async def _p(request: Request, exc: HTTPProblem) -> Response:
        return _respond(request, exc)

    @app.exception_handler(OsteoCareError)
    async def _o(request: Request, exc: OsteoCareError) -> Response:
        return _respond(request, problem_of(exc))

    @app.exception_handler(RequestValidationError)
    async def _v(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path", "header", "cookie")]
            errors.append({"field": ".".join(loc) or "body", "value": _safe(e.get("input")),
                           "allowed": e.get("msg", "")})
        first = errors[0] if errors else {"field": "body", "allowed": ""}
        return _respond(request, HTTPProblem(422, "Invalid input", f"{first['field']}: {first['allowed']}",
                                             errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _h(request: Request, exc: StarletteHTTPException) -> Response:
        return _respond(request, HTTPProblem(exc.status_code, str(exc.detail), str(exc.detail),
                                             headers=dict(exc.headers or {})))

    @app.exception_handler(ValueError)
    async def _val(request: Request, exc: ValueError) -> Response:
        return _respond(request, HTTPProblem(422, "Invalid input", str(exc)))


def _safe(value: Any) -> Any:
    try:
        return jsonable_encoder(value)
    except Exception:
        return repr(value)[:200]


# --- shared checks used by the API and the pages ---------------------------------------------------------------

async def login_attempt(request: Request, username: str, password: str) -> Principal:
    """Check a password; recent failures slow the answer, and too many are refused with 429 (Retry-After)."""
    opts: WebOptions = request.app.state.options
    limiter: RateLimiter = request.app.state.login_limiter
    key = f"{client_ip(request)}|{username.strip().lower()}"
    wait = limiter.retry_after(key)
    if wait:
        raise HTTPProblem(429, "Too many failed sign-ins", f"too many failed sign-ins; try again in {wait} s",
                          headers={"Retry-After": str(wait)})
    user = await asyncio.to_thread(accounts.authenticate, request.app.state.clinic, username, password)
    if user is None:
        limiter.hit(key)
        await asyncio.sleep(min(opts.login_delay_s * limiter.failures(key), opts.login_max_delay_s))
        raise HTTPProblem(401, "Sign-in failed", "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    limiter.reset(key)
    return user


def question_allowed(request: Request, ip: str) -> None:
    limiter: RateLimiter = request.app.state.question_limiter
    wait = limiter.retry_after(ip)
    if wait:
        raise HTTPProblem(429, "Too many questions", f"too many questions from this address; try again in {wait} s",
                          headers={"Retry-After": str(wait)})
    limiter.hit(ip)


def check_owned(request: Request, record_id: str, *, course_id: int | None = None, item_id: int | None = None,
                dose_id: int | None = None) -> None:
    """Refuse ids of another patient's course, appointment or dose (404, as if they did not exist)."""
    c: Clinic = request.app.state.clinic
    with c.db.read() as s:
        pid = s.scalar(select(sm.Patient.id).where(sm.Patient.record_id == record_id))
        if pid is None:
            raise NotFound("patient", record_id)
        for model, key, what in ((sm.TreatmentCourse, course_id, "course"), (sm.ScheduleItem, item_id, "appointment"),
                                 (sm.AdministeredDose, dose_id, "dose")):
            if key is None:
                continue
            owner = s.scalar(select(model.patient_id).where(model.id == key))  # type: ignore[attr-defined]
            if owner != pid:
                raise NotFound(what, key)


def html(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status)


def factory() -> FastAPI:
    """``uvicorn --factory osteocare.web.app:factory``: the app from the environment (used for several workers)."""
    return create_app()
