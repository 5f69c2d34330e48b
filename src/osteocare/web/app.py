"""The app factory: ``create_app(settings=None)`` wires the services' clinic, the API, the pages, CDS Hooks,
static files, and the translation of every error into an HTTP response (the web layer alone does this)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from itsdangerous import URLSafeTimedSerializer
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.errors import InputError, NotApplicable, OsteoCareError
from ..core.text import BAD_CHARACTER_RULE, bad_character
from ..services.context import Clinic
from ..services.entries import DuplicateEntry
from ..services.errors import Conflict, DoseAlreadyRecorded, InvalidState, NotFound, OverrideRequired
from ..settings import Settings, get_settings
from ..store import models as sm
from . import accounts
from .accounts import Principal, RateLimiter
from .deps import HTTPProblem, client_ip
from .models import username_key

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
    max_body_bytes: int = 1024 * 1024  # a request body (form or JSON) above this: 413 (CDS Hooks has its own limit)
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

    from . import api, cds, entries, history, pages

    app.include_router(api.router)
    app.include_router(cds.router)
    app.include_router(history.router)
    app.include_router(entries.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _handlers(app)

    app.add_middleware(BodyLimits, max_bytes=opts.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    return app


def _shown(value: str) -> str:
    """A value quoted in an error, with each refused character written as its escape (a lone surrogate
    cannot even be encoded into the answer)."""
    value = value if len(value) <= 80 else value[:80] + "…"
    return "".join(f"\\u{ord(c):04x}" if bad_character(c) else c for c in value)


def bad_text_problem(field: str, value: str, ch: str) -> HTTPProblem:
    field, shown = _shown(field), _shown(value)
    return HTTPProblem(422, "Invalid input", f"{field}: '{shown}' contains the character U+{ord(ch):04X}; expected "
                       + BAD_CHARACTER_RULE, errors=[{"field": field, "value": shown, "allowed": BAD_CHARACTER_RULE}])


class _NonFinite(str):
    """NaN, Infinity or -Infinity in a JSON body (Python's json accepts them; JSON does not)."""


# a control, surrogate or bidi character in JSON text, escaped (a C0 control can only be) or as UTF-8, or a
# NaN/Infinity; a hit is confirmed by parsing (it may be an escaped backslash followed by "u0000", or text)
_JSON_SUSPECT = re.compile(rb"\\u(00[01][0-9a-fA-F]|007[fF]|008[0-9a-fA-F]|009[0-9a-fA-F]|[dD][89a-fA-F][0-9a-fA-F]{2}"
                           rb"|202[a-eA-E]|206[6-9])|\\[bf]|NaN|Infinity"
                           rb"|\x7f|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")


def _json_problem(value: Any, where: str = "") -> HTTPProblem | None:
    """The first text with a refused character, or number that is not finite, in a parsed JSON body."""
    if isinstance(value, _NonFinite):
        field = where or "body"
        return HTTPProblem(422, "Invalid input", f"{field}: {value} is not allowed; expected a finite number",
                           errors=[{"field": field, "value": str(value), "allowed": "a finite number"}])
    if isinstance(value, str):
        ch = bad_character(value)
        if ch is None:
            return None
        return bad_text_problem(where or "body", "(hidden)" if "password" in where else value, ch)
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        here = f"{where}.{k}" if where else str(k)
        hit = _json_problem(str(k), here) if isinstance(k, str) else None
        hit = hit or _json_problem(v, here)
        if hit:
            return hit
    return None


def is_json(content_type: str) -> bool:
    """A JSON media type, as FastAPI decides to parse a body as JSON: ``application/json`` or
    ``application/<anything>+json``, in any case, with any parameters (``application/JSON; charset=utf-8``)."""
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


class BodyLimits:
    """Request bodies of the pages and the API, of every method but GET, HEAD and OPTIONS (a DELETE's too): at most
    ``max_bytes`` (else 413, by the Content-Length or by the bytes actually sent), and an API JSON body (any JSON
    media type, in any case) with a control character in any text is refused (422, naming the field). Forms are
    checked for the same characters by the pages (``pages._form``)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS")
                or scope["path"].startswith("/cds-services")):  # CDS Hooks reads and limits its own body
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        declared = request.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send, self._too_large(int(declared)))
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, self._too_large(f"more than {self.max_bytes}"))
                return
            if not message.get("more_body", False):
                break
        if scope["path"].startswith("/api/") and is_json(request.headers.get("content-type", "")):
            body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
            if _JSON_SUSPECT.search(body):
                try:
                    problem = _json_problem(json.loads(body, parse_constant=_NonFinite))
                except (ValueError, RecursionError):
                    problem = None  # not JSON: FastAPI's own parsing answers it
                if problem:
                    await self._refuse(scope, receive, send, problem)
                    return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    def _too_large(self, size: int | str) -> HTTPProblem:
        return HTTPProblem(413, "Request too large", f"request body: {size} bytes; at most {self.max_bytes} bytes")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, problem: HTTPProblem) -> None:
        await _respond(Request(scope, receive), problem)(scope, receive, send)


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
    if isinstance(exc, DuplicateEntry):  # before InputError: a conflict with what is stored, not a bad value
        return HTTPProblem(409, "Conflict", str(exc), errors=[
            {"field": "confirm_duplicate", "value": False, "allowed": exc.allowed,
             "existing": exc.existing.model_dump(mode="json")}])
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
            if e.get("type") == "json_invalid":  # its loc is the parser's byte offset, not a field
                why = (e.get("ctx") or {}).get("error") or e.get("msg", "")
                errors.append({"field": "body", "value": None, "allowed": f"a JSON document ({why} at character "
                               f"{_offset(e.get('loc', ()))} of the body)"})
                continue
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

    @app.exception_handler(PydanticValidationError)
    async def _pv(request: Request, exc: PydanticValidationError) -> Response:
        # a model checked inside a service (e.g. the record as of a date): per field, not pydantic's raw text
        errors = [{"field": ".".join(str(x) for x in e.get("loc", ())) or "body", "value": _safe(e.get("input")),
                   "allowed": e.get("msg", "")} for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "allowed": str(exc)}
        return _respond(request, HTTPProblem(422, "Invalid input", f"{first['field']}: {first['allowed']}",
                                             errors=errors))

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> Response:
        # a row changed by another writer between this one's read and its write (the patients' version column):
        # nothing was saved; a conflict to retry, not a server error
        return _respond(request, HTTPProblem(409, "Conflict", "the record was changed by someone else at the same "
                                             "moment; nothing was saved: read it again, then make the change"))

    @app.exception_handler(ValueError)
    async def _val(request: Request, exc: ValueError) -> Response:
        return _respond(request, HTTPProblem(422, "Invalid input", str(exc)))


def _offset(loc: Any) -> str:
    """The parser's position in a ``json_invalid`` error's ``loc`` (``("body", 19)``), or ``?``."""
    return next((str(x) for x in loc if isinstance(x, int)), "?")


def _safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or Infinity: an error body quoting one must still be valid JSON
    try:
        return jsonable_encoder(value)
    except Exception:
        return repr(value)[:200]


# --- shared checks used by the API and the pages ---------------------------------------------------------------

MAX_USERNAME = accounts.MAX_USERNAME
MAX_PASSWORD = 1024


async def login_attempt(request: Request, username: str, password: str) -> Principal:
    """Check a password; recent failures slow the answer, and too many are refused with 429 (Retry-After). A
    username or a password longer than an account can have characters is refused (422 naming the field) before any work."""
    opts: WebOptions = request.app.state.options
    limiter: RateLimiter = request.app.state.login_limiter
    for field, value, most in (("username", username, MAX_USERNAME), ("password", password, MAX_PASSWORD)):
        if len(value) > most:  # before any work on it (normalising, hashing, a rate-limit key)
            raise HTTPProblem(422, "Invalid input", f"{field}: {len(value)} characters; expected at most {most}",
                              errors=[{"field": field, "value": f"{len(value)} characters",
                                       "allowed": f"at most {most} characters"}])
    # ADMIN and admin share one count; the key is a fixed-size digest, whatever was typed
    key = accounts.sha256(f"{client_ip(request)}|{username_key(username)}")
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


@contextmanager
def question_slot(request: Request, ip: str) -> Iterator[None]:
    """One question of this address's quota, taken at once (429 if none is left; concurrent requests cannot take
    the same last one) and given back if the question is refused (a 422 does not use up the quota)."""
    limiter: RateLimiter = request.app.state.question_limiter
    wait, at = limiter.take(ip)
    if at is None:
        raise HTTPProblem(429, "Too many questions", f"too many questions from this address; try again in {wait} s",
                          headers={"Retry-After": str(wait)})
    try:
        yield
    except BaseException:
        limiter.give_back(ip, at)
        raise


def check_owned(request: Request, record_id: str, *, course_id: int | None = None, item_id: int | None = None,
                dose_id: int | None = None, reaction_id: int | None = None) -> None:
    """Refuse ids of another patient's course, appointment, dose or reaction (404, as if they did not exist)."""
    c: Clinic = request.app.state.clinic
    with c.db.read() as s:
        pid = s.scalar(select(sm.Patient.id).where(sm.Patient.record_id == record_id))
        if pid is None:
            raise NotFound("patient", record_id)
        for model, key, what in ((sm.TreatmentCourse, course_id, "course"), (sm.ScheduleItem, item_id, "appointment"),
                                 (sm.AdministeredDose, dose_id, "dose"), (sm.Reaction, reaction_id, "reaction")):
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
