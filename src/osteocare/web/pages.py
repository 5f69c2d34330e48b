"""Server-rendered pages (Jinja2, no JavaScript build): clinicians and nurses, the patient portal, questions to
doctors and the public Q&A, admin. Session cookie + CSRF token on every form."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import secrets
from typing import Annotated, Any, get_args
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from ..core.densitometry import who_grade
from ..core.errors import InputError, OsteoCareError
from ..core.knowledge import load
from ..core.records import FractureSite, Site, known_drugs
from ..core.text import bad_character
from ..core.vertebral import LEVELS
from ..services import appointments as sap
from ..services import assessments as sa
from ..services import calendar as scal
from ..services import courses as sc
from ..services import doses as sd
from ..services import facts as sf
from ..services import patients as sp
from ..services import reactions as sr
from ..services import worklist as sw
from ..services._common import MAX_ROW_ID
from ..services.context import Clinic
from ..services.drugs import course_drug_ids, regimen
from ..services.entries import DuplicateEntry, active_course_findings, add_entry
from ..services.errors import InvalidState, OverrideRequired
from ..services.reads import cached_async
from ..services.textparts import render as render_parts
from ..services.views import PatientView
from ..store.models import REACTION_KINDS, REACTION_OUTCOMES, SEVERITIES
from . import accounts, charts, queries
from . import questions as qs
from .accounts import Principal
from .app import (
    HERE,
    MAX_PASSWORD,
    MAX_USERNAME,
    bad_text_problem,
    check_owned,
    login_attempt,
    problem_of,
    question_slot,
)
from .deps import (
    ANON_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    STAFF,
    HTTPProblem,
    acting,
    check_csrf,
    client_ip,
    cookie_user,
    csrf_subject,
    csrf_token,
    forbidden,
    lang_of,
    may_see_patient,
)
from .i18n import LOCALES, Lang
from .memo import assessment_json

router = APIRouter(include_in_schema=False)
env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)
DXA_SITES = [s for s in get_args(Site) if s in ("femoral_neck", "total_hip", "lumbar_spine")]
FRACTURE_SITES = list(get_args(FractureSite))
LAB_NAMES = ("creatinine", "calcium", "vitamin_d_25oh", "phosphate", "magnesium", "albumin")


async def page_user(request: Request) -> Principal | None:
    return cookie_user(request)  # a cached look-up (see accounts.principal_for): no worker thread needed


def render(request: Request, name: str, user: Principal | None, status: int = 200, **ctx: Any) -> HTMLResponse:
    lang = lang_of(request, user)
    token = csrf_token(request)
    body = env.get_template(name).render(request=request, user=user, lang=lang, _=lang.gettext, csrf=token,
                                         path=request.url.path, qpath=quote(str(request.url.path)),
                                         locales=LOCALES, **ctx)
    resp = HTMLResponse(body, status_code=status)
    new_anon = getattr(request.state, "new_anon", None)
    if new_anon:
        resp.set_cookie(ANON_COOKIE, new_anon, httponly=True, samesite="lax",
                        secure=request.app.state.options.secure_cookies)
    return resp


def error_page(request: Request, problem: HTTPProblem) -> Response:
    if problem.status == 401:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    user = None
    try:
        user = cookie_user(request)
    except Exception:
        pass
    resp = render(request, "error.html", user, status=problem.status, problem=problem)
    for k, v in problem.headers.items():
        resp.headers[k] = v
    return resp


def need(user: Principal | None, *roles: str) -> Principal:
    if user is None:
        raise HTTPProblem(401, "Not signed in")
    if roles and user.role not in roles:
        raise forbidden(f"a {user.role} account may not open this page")
    return user


#: The query a change's redirect adds when the contraindication check of the active courses should be shown again
#: (a change to the record that the check reads): the patient page works it out afresh, so a reload re-posts nothing.
RECHECK = "&recheck=1"


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def field_errors(exc: Exception, lang: Lang) -> dict[str, str]:
    """Each field's error message in ``lang`` (HTML): the fixed sentence translated; the allowed range, the
    validator's message or the error's own text translated where the catalogue has it, else English, marked
    ``lang="en"`` on pages in another language (WCAG 3.1.2). The value is shown as it was typed."""
    if isinstance(exc, InputError):
        allowed = exc.allowed + (f" ({exc.unit})" if exc.unit else "")
        return {exc.field: _message(lang, "{value} is not allowed: expected {allowed}", value=exc.value,
                                    allowed=lang.sentence(allowed))}
    if isinstance(exc, ValidationError):
        out: dict[str, str] = {}
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ())]
            out[loc[-1] if loc else "form"] = _message(lang, "{value} is not allowed: {message}", value=e.get("input"),
                                                       message=lang.sentence(e.get("msg")))
        return out
    return {"form": lang.sentence(str(exc))}


def _message(lang: Lang, msgid: str, **values: Any) -> Markup:
    """``msgid`` translated and filled in as HTML: a value that is already HTML (``lang.sentence``) kept, any other
    escaped."""
    return Markup(escape(lang.gettext(msgid))).format(**values)


def _date(value: str, field: str, *, required: bool = True) -> dt.date | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise InputError(field, value, "a date YYYY-MM-DD")
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(field, value, "a date YYYY-MM-DD") from None


def _float(value: str, field: str, *, required: bool = False) -> float | None:
    value = (value or "").strip().replace(",", ".")
    if not value:
        if required:
            raise InputError(field, value, "a number")
        return None
    try:
        number = float(value)
    except ValueError:
        raise InputError(field, value, "a number") from None
    if not math.isfinite(number):  # float() reads "nan", "inf" and "1e999" too
        raise InputError(field, value, "a finite number")
    return number


def _int(value: str | None, field: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        raise InputError(field, value, "a whole number") from None
    if not 0 <= n <= MAX_ROW_ID:
        raise InputError(field, value, f"a whole number between 0 and {MAX_ROW_ID}")
    return n


# --- sign in, language, home ----------------------------------------------------------------------------------

@router.get("/")
def home(request: Request, user: Principal | None = Depends(page_user)) -> Response:
    if user is None:
        return render(request, "home.html", None)
    return _redirect({"doctor": "/patients", "nurse": "/worklist", "patient": "/me", "admin": "/admin"}[user.role])


def safe_next(target: str) -> str:
    """A path on this site to go to after signing in or choosing a language, else ``/``: not another host
    (``//host``, ``https://host``), nor what a browser may read as one (``/\\host``, a tab or line break that it
    drops, ``%5C``), nor a path with other control characters."""
    if (not target.startswith("/") or target.startswith("//") or "\\" in target or "%5c" in target.lower()
            or bad_character(target) or any(c in target for c in "\t\r\n")):
        return "/"
    return target


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", None, next=safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    await check_csrf(request)
    form = await request.form()
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    nxt = safe_next(str(form.get("next") or "/"))
    try:
        user = await login_attempt(request, username, password)
    except HTTPProblem as p:
        lang = lang_of(request)
        if p.status == 429:
            msg = lang.gettext("Too many failed sign-ins. Try again in {n} seconds.", n=p.headers.get("Retry-After", "?"))
        elif p.status == 422 and p.errors and p.errors[0]["field"] == "username":
            msg = lang.gettext("The username is too long: {n} characters; at most {most}.",
                               n=lang.num(len(username)), most=MAX_USERNAME)
        elif p.status == 422:
            msg = lang.gettext("The password is too long: {n} characters; at most {most}.",
                               n=lang.num(len(password)), most=MAX_PASSWORD)
        else:
            msg = lang.gettext("Wrong username or password.")
        resp = render(request, "login.html", None, status=p.status, next=nxt, error=msg,
                      username=username[:MAX_USERNAME])
        resp.headers.update(p.headers)
        return resp
    tok = await asyncio.to_thread(accounts.new_session, request.app.state.clinic, user, kind="cookie")
    resp = _redirect(nxt if nxt != "/" else "/")
    resp.set_cookie(SESSION_COOKIE, tok, httponly=True, samesite="lax", secure=request.app.state.options.secure_cookies,
                    max_age=accounts.SESSION_HOURS * 3600)
    if LANG_COOKIE not in request.cookies:
        resp.set_cookie(LANG_COOKIE, user.locale, samesite="lax")
    return resp


@router.post("/logout")
async def logout(request: Request) -> Response:
    await check_csrf(request)
    tok = request.cookies.get(SESSION_COOKIE)
    if tok:
        accounts.end_session(request.app.state.clinic, tok)
        accounts.SESSIONS.drop("cookie:" + accounts.sha256(tok))
    resp = _redirect("/")
    resp.delete_cookie(SESSION_COOKIE)
    return resp


def _lang_code(code: str) -> str:
    if code not in LOCALES:
        raise HTTPProblem(404, "No such language", f"{code!r}: expected one of {', '.join(LOCALES)}")
    return code


def _lang_redirect(code: str, target: str) -> Response:
    resp = _redirect(safe_next(target))
    resp.set_cookie(LANG_COOKIE, code, samesite="lax", max_age=365 * 24 * 3600)
    return resp


@router.get("/lang/{code}")
def show_lang(code: str, next: str = "/") -> Response:
    """Display only: the browser's language cookie, never the account's saved language. (A link on another site
    may follow it; it changes nothing stored.)"""
    return _lang_redirect(_lang_code(code), next)


@router.post("/lang/{code}")
async def set_lang(request: Request, code: str, user: Principal | None = Depends(page_user)) -> Response:
    """The language switcher's form (CSRF token): the browser's cookie and, signed in, the account's saved
    language (used on the next sign-in from another browser)."""
    code = _lang_code(code)
    await check_csrf(request)
    form = await request.form()
    if user is not None:
        await asyncio.to_thread(accounts.set_locale, request.app.state.clinic, user, code)
        tok = request.cookies.get(SESSION_COOKIE)
        if tok:
            accounts.SESSIONS.drop("cookie:" + accounts.sha256(tok))
    return _lang_redirect(code, str(form.get("next") or "/"))


# --- clinicians: patients, patient page, forms ----------------------------------------------------------------

@router.get("/patients")
def patients(request: Request, q: str = "", page: int = 1, user: Principal | None = Depends(page_user)) -> Response:
    u = need(user, *STAFF)
    page = max(1, min(page, 100_000))
    items, total = queries.patients_page(acting(request, u), q[:100], offset=(page - 1) * 50, limit=50)
    return render(request, "patients.html", u, items=items, total=total, q=q, page=page,
                  pages=max(1, (total + 49) // 50))


def _timeline(view: Any, series: dict[str, list[dict[str, Any]]], lang: Lang) -> list[dict[str, Any]]:
    ev: list[dict[str, Any]] = []
    exams: dict[dt.date, list[str]] = {}
    for site, pts in series.items():
        for p in pts:
            exams.setdefault(p["date"], []).append(f"{lang.gettext(site)} T {lang.num(p['t_score'], 1)}"
                                                   if p["t_score"] is not None else lang.gettext(site))
    for d, txt in exams.items():
        ev.append({"date": d, "kind": "dxa", "text": lang.gettext("DXA") + ": " + "; ".join(txt)})
    for lab in view.labs:
        if lab.date:
            ev.append({"date": lab.date, "kind": "lab",
                       "text": f"{lang.gettext(lab.name)}: {lang.num(lab.value)} {lab.unit}"})
    for c in view.courses:
        drug = lang.gettext(c.drug)
        ev.append({"date": c.start_date, "kind": "course", "text": lang.gettext("Started {drug}", drug=drug)})
        if c.stop_date:
            why = f" ({c.stop_reason})" if c.stop_reason else ""
            ev.append({"date": c.stop_date, "kind": "course", "text": lang.gettext("Stopped {drug}", drug=drug) + why})
    for d in view.doses:
        lot = f" ({d.lot_number})" if d.lot_number else ""
        ev.append({"date": d.given_on, "kind": "dose",
                   "text": lang.gettext("Dose of {drug} given", drug=lang.gettext(d.drug)) + lot})
    for r in view.reactions:
        ev.append({"date": r.onset_on or r.recorded_at.date(), "kind": "reaction",
                   "text": lang.gettext("Reaction") + f": {lang.gettext(r.kind)}, {lang.gettext(r.severity)}"
                   + (f" ({lang.gettext(r.drug)})" if r.drug else "")})
    for f in view.record.fractures:
        if f.date:
            ev.append({"date": f.date, "kind": "fracture", "text": lang.gettext("Fracture") + f": {lang.gettext(f.site)}"})
    for a in view.assessments:
        ev.append({"date": a["as_of"], "kind": "assessment", "text": lang.gettext("Assessment stored")})
    ev.sort(key=lambda e: e["date"], reverse=True)
    return ev


def _charts(series: dict[str, list[dict[str, Any]]], lang: Lang) -> list[dict[str, Any]]:
    labels = {"normal": lang.gettext("Normal"), "low": lang.gettext("Low bone mass"),
              "osteoporosis": lang.gettext("Osteoporosis"), "beyond_lsc": lang.gettext("beyond the LSC"),
              "lsc_mark": lang.gettext("> LSC")}
    out = []
    for site in ("lumbar_spine", "total_hip", "femoral_neck", "radius_33", "trochanter"):
        pts = series.get(site)
        if not pts:
            continue
        charts.mark_significant(pts, site)
        out.append({"site": site, "svg": charts.trend_svg(site, pts, labels={**labels, "title": lang.gettext(site)},
                                                          fmt_date=lang.date),
                    "lsc": charts.lsc_percent().get(site),
                    "has_bmd": sum(1 for p in pts if p.get("bmd_g_cm2")) >= 2,
                    # the chart's values as a table (its text alternative), with the WHO band each T-score falls in
                    "rows": [{**p, "band": _band(p["t_score"], labels)} for p in pts if p.get("t_score") is not None]})
    return out


def _band(t: float, labels: dict[str, str]) -> str:
    """The WHO band a T-score falls in, named as on the chart (core's grading: T rounded to one decimal)."""
    return (labels["normal"], labels["low"], labels["osteoporosis"])[min(2, int(who_grade([float(t)])[0]))]


def sp_patient_id(s: Any, record_id: str) -> int:
    from ..services._common import patient_row

    return patient_row(s, record_id).id


def patient_context(c: Clinic, view: PatientView, record_id: str, lang: Lang) -> dict[str, Any]:
    series = queries.dxa_series(c, record_id)
    result = assessment_json(view.record, guideline=c.settings.guideline, as_of=c.today())
    open_doses = [it for it in view.schedule if it.kind == "dose" and it.status == "open"]
    predose = {it.id: sd.predose_checks(c, it.id) for it in open_doses}
    active = [co for co in view.courses if co.status == "active"]
    from ..services.entries import condition_labels, entries_in
    from ..services.history import RISK_FLAGS
    from .history import LABELS, choice_labels

    with c.db.read() as s:
        entries = entries_in(s, sp_patient_id(s, record_id), c.today())

    return {"view": view, "timeline": _timeline(view, series, lang), "charts": _charts(series, lang),
            "history_labels": LABELS, "history_flags": RISK_FLAGS, "history_choices": choice_labels(),
            "entries": entries, "condition_labels": condition_labels(), "known_drugs": known_drugs(),
            "vertebral_levels": [lv for lv in LEVELS if lv[0] in "TL"],
            "falls_questions": {str(k): str(v) for k, v in load("steadi").data["key_questions"].items()},
            "a": result, "rec": result.get("recommendation") or {}, "open_doses": open_doses, "predose": predose,
            "active": active,
            "dxa_sites": DXA_SITES, "fracture_sites": FRACTURE_SITES, "lab_names": LAB_NAMES,
            "reaction_kinds": REACTION_KINDS, "severities": SEVERITIES, "outcomes": REACTION_OUTCOMES,
            "course_drugs": course_drug_ids(), "today": c.today()}


#: Stands for the CSRF token in a cached patient page body; replaced by the request's own token.
_CSRF_SLOT = "csrf-slot-" + secrets.token_hex(12)


def _patient_body(c: Clinic, u: Principal, lang: Lang, view: PatientView, record_id: str, csrf: str, *,
                  errors: dict[str, Any] | None = None, form: dict[str, str] | None = None,
                  which: str | None = None) -> str:
    return env.get_template("_patient_main.html").render(
        user=u, lang=lang, _=lang.gettext, csrf=csrf, errors=errors or {}, form=form, which=which,
        **patient_context(c, view, record_id, lang))


def patient_page_response(request: Request, u: Principal, record_id: str, *, status: int,
                          errors: dict[str, Any], form: dict[str, str] | None, which: str) -> HTMLResponse:
    """The patient page shown again with a form's errors. Rendered afresh; the read is audited."""
    c = acting(request, u)
    lang = lang_of(request, u)
    view = sp.overview_plan(c, record_id).run(c)
    main = _patient_body(c, u, lang, view, record_id, csrf_token(request), errors=errors, form=form, which=which)
    return render(request, "patient.html", u, status=status, record_id=record_id, main=Markup(main),
                  done=None, errors=errors, notices=[])


@router.get("/patients/{record_id}")
async def patient_page(request: Request, record_id: str, user: Principal | None = Depends(page_user)) -> Response:
    """The patient page. Its body (the record, assessment, charts and forms) is cached on the store's data
    revision per (patient, day, language, role, guideline) and rendered again when any data changes; the CSRF
    token is filled in per request. The read is audited every time, before the page is sent."""
    u = need(user)
    if u.role == "patient" and u.record_id == record_id:
        return _redirect("/me")
    may_see_patient(u, record_id)
    need(u, *STAFF)
    c = acting(request, u)
    lang = lang_of(request, u)
    plan = sp.overview_plan(c, record_id)
    view = await plan.run_async(c)
    key = ("patient-page", plan.patient_id, c.today(), lang.code, u.role, c.settings.guideline)
    main = await cached_async(c, plan.revision, key,
                              lambda: _patient_body(c, u, lang, view, record_id, _CSRF_SLOT))
    found = await run_in_threadpool(active_course_findings, c, record_id) if request.query_params.get("recheck") else []
    notices = [{"text": render_parts(p), "parts": [p]} for p in found]
    resp = render(request, "patient.html", u, record_id=record_id,
                  main=Markup(main.replace(_CSRF_SLOT, csrf_token(request))), done=request.query_params.get("done"),
                  notices=notices, said=_said(request, record_id))
    if _SAID_COOKIE in request.cookies:  # shown once
        resp.delete_cookie(_SAID_COOKIE, path=f"/patients/{quote(record_id)}")
    return resp


async def _form(request: Request) -> dict[str, str]:
    await check_csrf(request)
    f = await request.form()
    out = {k: str(v) for k, v in f.items()}
    for k, v in out.items():  # a NUL, another control or a bidi override in any field: 422 naming it
        for text in (k, v):
            ch = bad_character(text)
            if ch:
                raise bad_text_problem(k, "(hidden)" if "password" in k else text, ch)
    return out


def _after_form(request: Request, u: Principal, record_id: str, which: str, form: dict[str, str],
                action: Any) -> Response:
    lang = lang_of(request, u)
    try:
        action()
    except DuplicateEntry as exc:  # an InputError too, but a conflict with what is stored: 409, naming the entry
        msg = duplicate_message(lang, exc)
        return patient_page_response(request, u, record_id, status=409, form=form, which=which,
                                     errors={which: {"form": msg, "duplicate": True}})
    except (InputError, ValidationError) as exc:
        errs = field_errors(exc, lang)
        shown = set(form) | {"t_score", "bmd_g_cm2", "sites"}
        errs = {(k if k in shown else "form"): (v if k in shown else Markup("{}: {}").format(k, v))
                for k, v in errs.items()}
        return patient_page_response(request, u, record_id, status=422, errors={which: errs}, form=form,
                                     which=which)
    except OsteoCareError as exc:
        p = problem_of(exc)
        if p.status == 404:
            raise
        return patient_page_response(request, u, record_id, status=p.status,
                                     errors={which: {"form": lang.sentence(str(exc))}}, form=form, which=which)
    return _redirect(f"/patients/{quote(record_id)}?done={which}#{which}")


def duplicate_message(lang: Lang, exc: DuplicateEntry) -> Markup:
    """The refusal of an entry already recorded, in ``lang``: the recorded entry's id and key values."""
    details = []
    for k, v in exc.same.items():
        if v is None:
            details.append(lang.gettext("date not known") if k in ("date", "onset", "start") else "—")
        elif k in ("date", "onset", "start"):
            details.append(lang.date(str(v)))
        elif k == "code" and exc.existing.label:  # a condition by its knowledge label, not its id
            details.append(lang.knowledge(exc.existing.label))
        else:
            details.append(lang.gettext(str(v)))
    return _message(lang, "This is already recorded: {kind} {id} ({details}); nothing was saved.",
                    kind=lang.gettext(_KIND_LABELS.get(exc.kind, exc.kind)), id=exc.existing.id,
                    details=", ".join(details))


#: An entry's kind as the page names it.
_KIND_LABELS = {"fracture": "Fracture", "condition": "Condition", "medication": "Medicine",
                "intolerance": "Intolerance", "fall": "Fall"}


#: what a change said (a dose's, a course start's or stop's warnings), carried to the page the redirect shows in a
#: short-lived cookie of that page's path (not in the address: clinical text stays out of the browser's history and
#: the proxies' logs), signed, bound to this browser's session and this patient, and removed once shown
_SAID_SALT = "osteocare-said"
_SAID_COOKIE = "osteocare_said"
_SAID_MAX = 20
_SAID_CHARS = 2500  # the text kept under a cookie's 4 kB once signed


def _said_redirect(request: Request, record_id: str, which: str, resp: Response,
                   said: list[str] | list[str | dict[str, str]]) -> Response:
    """``resp`` (the redirect after a change), carrying what the change said, if anything: English text (a
    warning of the services), or a notice of the page's own (``{"t": msgid, ...values}``, shown translated)."""
    if not said or resp.status_code != 303:
        return resp
    kept: list[str | dict[str, str]] = []
    for w in said[:_SAID_MAX]:
        if sum(len(str(x)) for x in kept) + len(str(w)) > _SAID_CHARS:
            kept.append(f"({len(said) - len(kept)} more not shown: see the course's record)")
            break
        kept.append(w)
    token = request.app.state.csrf_signer.dumps({"r": record_id, "s": csrf_subject(request), "w": kept},
                                                 salt=_SAID_SALT)
    resp.set_cookie(_SAID_COOKIE, token, max_age=600, path=f"/patients/{quote(record_id)}", httponly=True,
                    samesite="lax", secure=request.app.state.options.secure_cookies)
    return resp


def _said(request: Request, record_id: str) -> list[str | dict[str, str]]:
    """What the change before this page said (see :func:`_said_redirect`); nothing for a cookie that is not this
    session's, not this patient's, older than ten minutes or altered."""
    token = request.cookies.get(_SAID_COOKIE)
    if not token:
        return []
    try:
        data = request.app.state.csrf_signer.loads(token, max_age=600, salt=_SAID_SALT)
    except BadSignature:
        return []
    if not isinstance(data, dict) or data.get("r") != record_id or data.get("s") != csrf_subject(request):
        return []
    return [{str(k): str(x) for k, x in w.items()} if isinstance(w, dict) else str(w)
            for w in data.get("w", [])][:_SAID_MAX + 1]


@router.post("/patients/{record_id}/dxa")
async def post_dxa(request: Request, record_id: str) -> Response:
    f = await _form(request)
    u = need(cookie_user(request), *STAFF)

    def act() -> None:
        sites = []
        for site in DXA_SITES:
            t = _float(f.get(f"{site}_t", ""), f"{site}_t")
            bmd = _float(f.get(f"{site}_bmd", ""), f"{site}_bmd")
            if t is not None or bmd is not None:
                sites.append(sf.SiteResult(site=site, t_score=t, bmd_g_cm2=bmd))
        if not sites:
            raise InputError("sites", "", "a T-score or BMD for at least one site")
        exam = sf.DxaExamIn(exam_date=_date(f.get("exam_date", ""), "exam_date"), sites=sites,
                            manufacturer=f.get("manufacturer") or None)
        sf.add_dxa_exam(acting(request, u), record_id, exam)
        if u.role == "doctor" and f.get("assess"):
            sa.assess_and_store(acting(request, u), record_id)

    return _after_form(request, u, record_id, "dxa", f, act)


@router.post("/patients/{record_id}/labs")
async def post_lab(request: Request, record_id: str) -> Response:
    f = await _form(request)
    u = need(cookie_user(request), *STAFF)

    def act() -> None:
        value = _float(f.get("value", ""), "value", required=True)
        assert value is not None
        sf.add_lab(acting(request, u), record_id, name=f.get("name", ""), value=value, unit=f.get("unit", ""),
                   date=_date(f.get("date", ""), "date"))  # type: ignore[arg-type]

    return _after_form(request, u, record_id, "lab", f, act)


@router.post("/patients/{record_id}/fractures")
async def post_fracture(request: Request, record_id: str) -> Response:
    f = await _form(request)
    u = need(cookie_user(request), *STAFF)

    def act() -> None:
        from ..core.records import Fracture

        fr = Fracture.model_validate({"site": f.get("site", ""), "date": _date(f.get("date", ""), "date"),
                                      "fragility": bool(f.get("fragility"))})
        # the box shown after a refusal as already recorded: another fracture of the same site and date
        add_entry(acting(request, u), record_id, "fracture", fr.model_dump(mode="json"),
                  confirm_duplicate=bool(f.get("confirm_duplicate")))

    return _after_form(request, u, record_id, "fracture", f, act)


@router.post("/patients/{record_id}/doses")
async def post_dose(request: Request, record_id: str) -> Response:
    f = await _form(request)
    u = need(cookie_user(request), *STAFF)
    said: list[str] = []

    def act() -> None:
        item = _int(f.get("item_id"), "item_id")
        if item is None:
            raise InputError("item_id", "", "the appointment of the dose")
        check_owned(request, record_id, item_id=item)
        said.extend(sd.record_dose(acting(request, u), item_id=item, given_on=_date(f.get("given_on", ""), "given_on"),
                       lot_number=f.get("lot_number") or None, body_site=f.get("body_site") or None,
                       given_by=u.username, observation_minutes=_int(f.get("observation_minutes"), "observation_minutes"),
                       observation_notes=qs.clean_text(f.get("observation_notes", ""), "observation_notes",
                                                       max_len=2000, required=False) or None,
                       # a contraindication is overridden by a doctor only (a nurse's dose waits for one)
                       override_reason=(qs.clean_text(f.get("override_reason", ""), "override_reason", max_len=2000,
                                                      required=False) or None) if u.role == "doctor" else None
                       ).warnings)

    return _said_redirect(request, record_id, "dose", _after_form(request, u, record_id, "dose", f, act), said)


def _reaction(request: Request, u: Principal, record_id: str, f: dict[str, str]) -> None:
    dose_id = _int(f.get("dose_id"), "dose_id")
    course_id = _int(f.get("course_id"), "course_id")
    check_owned(request, record_id, dose_id=dose_id, course_id=course_id)
    sr.record_reaction(acting(request, u), record_id, kind=f.get("kind", ""), severity=f.get("severity", ""),
                       onset_on=_date(f.get("onset_on", ""), "onset_on", required=False),
                       outcome=f.get("outcome") or "unknown", dose_id=dose_id, course_id=course_id,
                       resolved_on=_date(f.get("resolved_on", ""), "resolved_on", required=False),
                       description=qs.clean_text(f.get("description", ""), "description", max_len=2000,
                                                 required=False) or None,
                       intolerance=bool(f.get("intolerance")) and u.role in STAFF)


@router.post("/patients/{record_id}/reactions")
async def post_reaction(request: Request, record_id: str) -> Response:
    f = await _form(request)
    u = need(cookie_user(request), *STAFF)
    return _after_form(request, u, record_id, "reaction", f, lambda: _reaction(request, u, record_id, f))


@router.post("/patients/{record_id}/assess")
async def post_assess(request: Request, record_id: str) -> Response:
    f = await _form(request)
    u = need(cookie_user(request), "doctor")
    return _after_form(request, u, record_id, "assessment", f, lambda: sa.assess_and_store(acting(request, u), record_id))


@router.post("/patients/{record_id}/courses")
async def post_course_start(request: Request, record_id: str) -> Response:
    """Start a course (doctors). A finding that needs an override and no written reason: the page again (409)
    with the findings and a request for the reason; nothing is written."""
    f = await _form(request)
    u = need(cookie_user(request), "doctor")
    needs_reason: list[OverrideRequired] = []  # kept aside by act(); every other outcome is _after_form's
    said: list[str] = []

    def act() -> None:
        drug = f.get("drug", "").strip()
        if not drug:
            raise InputError("drug", drug, "one of " + ", ".join(course_drug_ids()))
        reason = qs.clean_text(f.get("override_reason", ""), "override_reason", max_len=2000, required=False)
        try:
            said.extend(sc.start_course(acting(request, u), record_id, drug, origin="clinician",
                                        override_reason=reason or None,
                                        start_date=_date(f.get("start_date", ""), "start_date")).warnings)
        except OverrideRequired as exc:
            needs_reason.append(exc)

    resp = _after_form(request, u, record_id, "course", f, act)
    if not needs_reason:
        return _said_redirect(request, record_id, "course", resp, said)
    exc, lang = needs_reason[0], lang_of(request, u)
    msg = lang.gettext("Write your reason for starting {drug} despite the findings above.", drug=lang.gettext(exc.drug))
    return patient_page_response(request, u, record_id, status=409, form=f, which="course",
                                 errors={"course": {"override_reason": msg, "findings": exc.findings}})


@router.post("/patients/{record_id}/courses/{course_id}/stop")
async def post_course_stop(request: Request, record_id: str,
                           course_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)]) -> Response:
    """Stop an active course of this patient (doctors), with a written reason."""
    f = await _form(request)
    u = need(cookie_user(request), "doctor")

    def act() -> None:
        check_owned(request, record_id, course_id=course_id)
        reason = qs.clean_text(f.get("reason", ""), "reason", max_len=2000)
        said.extend(sc.stop_course(acting(request, u), course_id, reason=reason,
                                   stop_date=_date(f.get("stop_date", ""), "stop_date")).warnings)

    said: list[str] = []
    return _said_redirect(request, record_id, f"course-{course_id}",
                          _after_form(request, u, record_id, f"course-{course_id}", f, act), said)


# --- appointments: review, DXA and lab items of the schedule --------------------------------------------------

ItemPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def _datetime(value: str, field: str) -> dt.datetime:
    value = (value or "").strip()
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(field, value, "a date and time YYYY-MM-DDTHH:MM") from None


def _appointment(request: Request, record_id: str, item_id: int, f: dict[str, str],
                 act: Any) -> Response:
    """Run ``act(clinic)`` on an appointment of this patient (staff); what it scheduled next is said on the page
    the redirect shows. A follow-on review that needs an override: the page again (409) with the finding and, for a
    doctor, a request for the written reason; nothing changed."""
    u = need(cookie_user(request), *STAFF)
    may_see_patient(u, record_id)
    which = f"appt-{item_id}"
    needs_reason: list[OverrideRequired] = []
    said: list[str | dict[str, str]] = []

    def run() -> None:
        check_owned(request, record_id, item_id=item_id)
        c = acting(request, u)
        before = {it.id for it in sap.patient_schedule(c, record_id)}
        try:
            act(c)
        except OverrideRequired as exc:
            needs_reason.append(exc)
            return
        for it in sap.patient_schedule(c, record_id):
            if it.id not in before:
                said.append({"t": "The next {what} is due on {date}.", "what": it.kind, "date": it.due_on.isoformat()})

    resp = _after_form(request, u, record_id, which, f, run)
    if not needs_reason:
        return _said_redirect(request, record_id, which, resp, said)
    lang = lang_of(request, u)
    msg = (lang.gettext("Write your reason for cancelling this follow-on review despite the finding above.")
           if u.role == "doctor" else
           lang.gettext("Only a doctor may cancel this follow-on review, with a written override reason."))
    return patient_page_response(request, u, record_id, status=409, form=f, which=which,
                                 errors={which: {"override_reason": msg, "findings": needs_reason[0].findings}})


@router.post("/patients/{record_id}/appointments/{item_id}/complete")
async def post_appointment_complete(request: Request, record_id: str, item_id: ItemPath) -> Response:
    """Mark a review, DXA or lab appointment done (the annual review done schedules the next one)."""
    f = await _form(request)
    return _appointment(request, record_id, item_id, f, lambda c: sap.complete_item(
        c, item_id, done_on=_date(f.get("done_on", ""), "done_on", required=False),
        note=qs.clean_text(f.get("note", ""), "note", max_len=2000, required=False)))


@router.post("/patients/{record_id}/appointments/{item_id}/book")
async def post_appointment_book(request: Request, record_id: str, item_id: ItemPath) -> Response:
    """Book a time (and a place) for an open appointment."""
    f = await _form(request)
    return _appointment(request, record_id, item_id, f, lambda c: sap.book_appointment(
        c, item_id, at=_datetime(f.get("at", ""), "at"),
        location=qs.clean_text(f.get("location", ""), "location", max_len=120, required=False) or None))


@router.post("/patients/{record_id}/appointments/{item_id}/cancel")
async def post_appointment_cancel(request: Request, record_id: str, item_id: ItemPath) -> Response:
    """Cancel an open review, DXA or lab appointment, with a reason; the follow-on review after denosumab or an
    anabolic drug needs a doctor's written override reason while no course fulfils it."""
    f = await _form(request)
    u = cookie_user(request)
    doctor = u is not None and u.role == "doctor"
    return _appointment(request, record_id, item_id, f, lambda c: sap.cancel_item(
        c, item_id, reason=qs.clean_text(f.get("reason", ""), "reason", max_len=500),
        # a follow-on review's cancellation is overridden by a doctor only (as a dose's contraindication)
        override_reason=(qs.clean_text(f.get("override_reason", ""), "override_reason", max_len=2000,
                                       required=False) or None) if doctor else None))


@router.get("/worklist")
def worklist_page(request: Request, user: Principal | None = Depends(page_user)) -> Response:
    u = need(user, *STAFF)
    wl = sw.worklist(acting(request, u))
    overdue = wl.overdue  # the service's order: late doses first (urgent ones on top), then other late items
    injections = [it for it in wl.appointments_today if it.kind == "dose"]
    return render(request, "worklist.html", u, wl=wl, overdue=overdue, injections=injections)


# --- patient portal --------------------------------------------------------------------------------------------

def _how_to_take(drugs: list[str]) -> list[dict[str, Any]]:
    """How to take each drug: its ``administration`` text from its knowledge file, with that fact's status (nothing
    written here: the label text is the one source of how a drug is taken)."""
    out = []
    for d in drugs:
        try:
            kf = load(f"drug-{d}")
        except Exception:
            continue
        fact = kf.facts.get("administration")
        out.append({"drug": d, "administration": fact.value if fact else None, "status": fact.status if fact else None})
    return out


def patient_advice(lifestyle: dict[str, Any]) -> list[dict[str, Any]]:
    """The lifestyle items of the recommendation that are addressed to the patient, for the patient's own page.

    Left out, as they are the clinician's to-do or a rule for the prescriber (the staff page's printable summary
    has them all): the calcium item when the dietary intake is not recorded (it asks the clinician to ask about it)
    or the knowledge has no target for the patient's age (a note on the knowledge base); the guideline's
    supplements rule (``supplements_rule``, e.g. ES-8.1 "for all women on therapies other than anabolic therapy",
    which is not worked out against the patient's own treatment; the calcium and vitamin D items give her own
    amounts); and the falls-screen items but a negative screen and the brochure's score (a screen not done or
    incomplete tells the clinician to ask the key questions; a positive one, STEADI's ASSESS, to assess and
    intervene). Kept: the patient's own amounts and results (calcium against her diet, vitamin D, a negative
    screen, her brochure score) and the exercise advice. No text is added or reworded."""
    out = []
    for item in lifestyle.get("items") or []:
        topic = item.get("topic")
        if topic == "supplements":
            continue
        values, rules = item.get("values") or {}, item.get("rule_ids") or []
        if topic == "calcium" and (values.get("dietary_intake_mg_per_day") is None
                                   or values.get("target_mg_per_day") is None):
            continue
        if topic == "falls" and ("ASSESS" in rules or (rules != ["STEADI-BROCHURE"]
                                                        and lifestyle.get("falls_screen") != "negative")):
            continue
        out.append(item)
    return out


def portal_context(request: Request, u: Principal) -> dict[str, Any]:
    assert u.record_id
    c = acting(request, u)
    view = sp.show_patient(c, u.record_id)
    active = [co for co in view.courses if co.status == "active"]
    nxt = [it for it in view.schedule if it.status == "open" and it.kind == "dose"]
    result = assessment_json(view.record, guideline=c.settings.guideline, as_of=c.today())
    lifestyle = patient_advice((result.get("recommendation") or {}).get("lifestyle") or {})
    return {"view": view, "active": active, "next_doses": nxt[:3], "how": _how_to_take([co.drug for co in active]),
            "lifestyle": lifestyle, "reaction_kinds": REACTION_KINDS, "severities": SEVERITIES,
            "questions": qs.mine(c, u), "today": c.today()}


@router.get("/me")
def portal(request: Request, user: Principal | None = Depends(page_user)) -> Response:
    u = need(user, "patient")
    return render(request, "me.html", u, **portal_context(request, u), errors={}, form=None,
                  done=request.query_params.get("done"))


@router.post("/me/reactions")
async def portal_reaction(request: Request) -> Response:
    f = await _form(request)
    u = need(cookie_user(request), "patient")
    assert u.record_id
    try:
        _reaction(request, u, u.record_id, f)
    except (InputError, ValidationError) as exc:
        return render(request, "me.html", u, status=422, **portal_context(request, u),
                      errors=field_errors(exc, lang_of(request, u)), form=f, done=None)
    return _redirect("/me?done=reaction#reaction")


@router.get("/me/calendar.ics")
def portal_calendar(request: Request, user: Principal | None = Depends(page_user)) -> Response:
    u = need(user, "patient")
    assert u.record_id
    data = scal.patient_calendar(acting(request, u), u.record_id, lang=lang_of(request, u).code)
    return Response(data, media_type="text/calendar",
                    headers={"Content-Disposition": 'attachment; filename="osteocare-my-plan.ics"'})


# --- questions, public Q&A, doctors' queue ----------------------------------------------------------------------

@router.get("/ask")
def ask_form(request: Request, user: Principal | None = Depends(page_user)) -> Response:
    return render(request, "ask.html", user, errors={}, form={})


@router.post("/ask")
async def ask_post(request: Request) -> Response:
    f = await _form(request)
    user = cookie_user(request)
    lang = lang_of(request, user)
    try:
        with question_slot(request, client_ip(request)):  # a refused question (422) does not use up the quota
            _, token = qs.ask(acting(request, user), topic=f.get("topic", ""), body=f.get("body", ""), asker=user,
                              name=f.get("name") or None, locale=lang.code)
    except InputError as exc:
        return render(request, "ask.html", user, status=422, errors=field_errors(exc, lang), form=f)
    except HTTPProblem as p:
        if p.status != 429:
            raise
        resp = render(request, "ask.html", user, status=429, form=f,
                      errors={"form": lang.gettext(
                          "You have sent several questions just now. Please wait a few minutes before sending another.")})
        resp.headers.update(p.headers)
        return resp
    return _redirect(f"/follow/{token}?new=1")


@router.get("/follow/{token}")
def follow_page(request: Request, token: str, new: int = 0, user: Principal | None = Depends(page_user)) -> Response:
    q = qs.follow(request.app.state.clinic, token)
    return render(request, "follow.html", user, q=q, new=bool(new), link=str(request.url).split("?")[0])


@router.get("/qa")
def qa_page(request: Request, q: str = "", page: int = 1, user: Principal | None = Depends(page_user)) -> Response:
    page = max(1, min(page, 100_000))
    items, total = qs.search_public(request.app.state.clinic, q[:200], offset=(page - 1) * 20, limit=20)
    return render(request, "qa.html", user, items=items, total=total, q=q, page=page, pages=max(1, (total + 19) // 20))


@router.get("/qa/{question_id}")
def qa_one(request: Request, question_id: int, user: Principal | None = Depends(page_user)) -> Response:
    if not 0 < question_id <= MAX_ROW_ID:
        raise HTTPProblem(404, "Not found")
    return render(request, "qa_one.html", user, item=qs.public_one(request.app.state.clinic, question_id))


QUEUE_PAGE = 50  # questions per page of the doctors' queue


def _queue_page(request: Request, u: Principal, *, qstatus: str, page: int, status: int = 200,
                errors: dict[str, dict[str, str]] | None = None, form: dict[str, dict[str, str]] | None = None,
                only: int | None = None) -> Response:
    """The doctors' queue (a page of it), or with ``only`` that one question (shown again with a form's errors,
    keyed ``"<id>-<form>"``, and what was typed)."""
    c = request.app.state.clinic
    if only is not None:
        one = qs.get(c, only)
        items, total, page, pages, qstatus = [one], 1, 1, 1, one.status
    else:
        page = max(1, min(page, 100_000))
        items, total = qs.queue(c, status=qstatus, offset=(page - 1) * QUEUE_PAGE, limit=QUEUE_PAGE)
        pages = max(1, (total + QUEUE_PAGE - 1) // QUEUE_PAGE)
    return render(request, "doctor_questions.html", u, status=status, items=items, total=total, qstatus=qstatus,
                  page=page, pages=pages, only=only, errors=errors or {}, form=form or {})


@router.get("/doctor/questions")
def doctor_queue(request: Request, status: str = "open", page: int = 1,
                 user: Principal | None = Depends(page_user)) -> Response:
    u = need(user, "doctor")
    return _queue_page(request, u, qstatus=status if status in ("open", "answered") else "open", page=page)


def _question_form(request: Request, u: Principal, question_id: int, which: str, f: dict[str, str], action: Any,
                   done: str) -> Response:
    """Run a question form's ``action``; refused, the question is shown again alone with the reason on that form
    (422 a value, 409 changed by someone else or not in a state for it) and what was typed, nothing written."""
    lang = lang_of(request, u)
    try:
        action()
    except InputError as exc:
        return _queue_page(request, u, qstatus="open", page=1, status=422, only=question_id,
                           errors={f"{question_id}-{which}": field_errors(exc, lang)}, form={f"{question_id}-{which}": f})
    except qs.StaleVersion:
        msg = lang.gettext(
            "Another doctor changed this question since you opened the page; nothing was saved. Check it and send again.")
        return _queue_page(request, u, qstatus="open", page=1, status=409, only=question_id,
                           errors={f"{question_id}-{which}": {"form": msg}}, form={f"{question_id}-{which}": f})
    except InvalidState:
        if which == "answer":
            msg = lang.gettext(
                "This question is already answered; nothing was saved. To change the answer, use “Edit the answer”.")
        else:
            msg = lang.gettext("This question is not answered yet; nothing was saved.")
        return _queue_page(request, u, qstatus="open", page=1, status=409, only=question_id,
                           errors={f"{question_id}-{which}": {"form": msg}}, form={f"{question_id}-{which}": f})
    return _redirect(done)


def _version(f: dict[str, str], *, required: bool) -> int | None:
    v = _int(f.get("version"), "version")
    if v is None and required:
        raise InputError("version", "", "the version of the question shown on the page (open the page again)")
    return v


@router.post("/doctor/questions/{question_id}/answer")
async def doctor_answer(request: Request, question_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)]) -> Response:
    """Answer an open question (an answered one: 409, its answer changes only through the edit form)."""
    f = await _form(request)
    u = need(cookie_user(request), "doctor")

    def act() -> None:
        qs.answer(acting(request, u), question_id, text=f.get("answer", ""), doctor=u,
                  expected_version=_version(f, required=False))

    return _question_form(request, u, question_id, "answer", f, act, f"/doctor/questions?status=answered#q{question_id}")


@router.post("/doctor/questions/{question_id}/edit")
async def doctor_edit(request: Request, question_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)]) -> Response:
    """Edit an answer, made from the version the page showed; a published answer goes off the public page until it
    is published again."""
    f = await _form(request)
    u = need(cookie_user(request), "doctor")

    def act() -> None:
        version = _version(f, required=True)
        assert version is not None
        qs.edit_answer(acting(request, u), question_id, text=f.get("answer", ""), expected_version=version)

    return _question_form(request, u, question_id, "edit", f, act, f"/doctor/questions?status=answered#q{question_id}")


@router.post("/doctor/questions/{question_id}/publish")
async def doctor_publish(request: Request, question_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)]) -> Response:
    """Publish anonymised: the public topic, question and answer as edited on the form."""
    f = await _form(request)
    u = need(cookie_user(request), "doctor")

    def act() -> None:
        qs.publish(acting(request, u), question_id, topic=f.get("topic") or None, body=f.get("body") or None,
                   answer=f.get("answer") or None, expected_version=_version(f, required=False))

    return _question_form(request, u, question_id, "publish", f, act, f"/qa/{question_id}")


@router.post("/doctor/questions/{question_id}/unpublish")
async def doctor_unpublish(request: Request, question_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)]) -> Response:
    """Take a published question off the public Q&A."""
    f = await _form(request)
    u = need(cookie_user(request), "doctor")

    def act() -> None:
        qs.unpublish(acting(request, u), question_id, expected_version=_version(f, required=False))

    return _question_form(request, u, question_id, "unpublish", f, act,
                          f"/doctor/questions?status=answered#q{question_id}")


# --- admin -----------------------------------------------------------------------------------------------------

USERS_PAGE = 50  # accounts per page of the admin page


def _users(request: Request, upage: int) -> dict[str, Any]:
    upage = max(1, min(upage, 100_000))
    users, total = accounts.list_users(request.app.state.clinic, offset=(upage - 1) * USERS_PAGE, limit=USERS_PAGE)
    return {"users": users, "users_total": total, "upage": upage,
            "upages": max(1, (total + USERS_PAGE - 1) // USERS_PAGE)}


@router.get("/admin")
def admin_page(request: Request, page: int = 1, upage: int = 1, record_id: str = "",
               user: Principal | None = Depends(page_user)) -> Response:
    u = need(user, "admin")
    page = max(1, min(page, 100_000))
    entries, total = queries.audit_page(acting(request, u), record_id=record_id or None, offset=(page - 1) * 50, limit=50)
    return render(request, "admin.html", u, entries=entries, total=total, page=page, pages=max(1, (total + 49) // 50),
                  **_users(request, upage), record_id=record_id, errors={}, form={})


@router.post("/admin/users")
async def admin_add_user(request: Request) -> Response:
    f = await _form(request)
    u = need(cookie_user(request), "admin")
    try:
        accounts.create_user(acting(request, u), username=f.get("username", ""), password=f.get("password", ""),
                             role=f.get("role", ""), record_id=f.get("record_id") or None,
                             display_name=f.get("display_name") or None, locale=f.get("locale") or "en")
    except OsteoCareError as exc:
        lang = lang_of(request, u)
        entries, total = queries.audit_page(acting(request, u), limit=50)
        errs = field_errors(exc, lang)
        return render(request, "admin.html", u, status=422 if isinstance(exc, InputError) else problem_of(exc).status,
                      entries=entries, total=total, page=1, pages=max(1, (total + 49) // 50), **_users(request, 1),
                      record_id="", errors=errs, form=f)
    return _redirect("/admin")


def regimen_text(drug: str) -> str:
    try:
        return regimen(drug).name  # type: ignore[attr-defined,no-any-return]
    except Exception:
        return drug
