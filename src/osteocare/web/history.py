"""Pages to register a patient and to keep the clinical history (risk factors, body measures, the clinician's
FRAX result) up to date. The history form names the version it showed; a change someone else saved in between
is not overwritten: the form comes back with the stored values and the unsaved changes listed."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal, get_args, get_origin
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ..core.errors import InputError, OsteoCareError
from ..core.knowledge import load
from ..core.records import PatientRecord, RecordErrors, parse_record
from ..services import history as sh
from ..services import patients as sp
from ..services.errors import Conflict, NotFound
from ..services.views import HistoryView
from ..store.records import age_on
from .accounts import Principal
from .deps import STAFF, acting, cookie_user, lang_of, may_see_patient
from .i18n import Lang
from .pages import RECHECK, _date, _float, _form, _redirect, need, page_user, render

router = APIRouter(include_in_schema=False)

GROUPS = sh.GROUPS
#: Each field's label (English, the catalogue's message id). The risk flags' labels are QFracture's inputs as
#: docs/calculators.md gives them (from the reference code's variable names; status secondary).
LABELS: dict[str, str] = {
    "weight_kg": "Weight (kg)", "height_cm": "Height (cm)", "bmi": "BMI (kg/m²), if weight and height are not known",
    "ethnicity": "Ethnic group (QFracture)", "menopausal_status": "Menopausal status", "smoking": "Smoking",
    "alcohol": "Alcohol (UK units a day)", "dietary_calcium_mg_per_day": "Calcium from food (mg a day)",
    "prior_fracture": "Previous fracture at an osteoporotic site",
    "parental_osteoporosis": "Parental osteoporosis or hip fracture", "falls": "History of falls",
    "corticosteroids": "Corticosteroid use", "ra_sle": "Rheumatoid arthritis or SLE",
    "cvd": "Cardiovascular disease", "renal": "Chronic renal disease", "liver": "Chronic liver disease",
    "malabsorption": "Malabsorption", "endocrine": "Endocrine disorder", "type1_diabetes": "Type 1 diabetes",
    "type2_diabetes": "Type 2 diabetes", "asthma_copd": "Asthma or COPD", "cancer": "Any cancer",
    "dementia": "Dementia", "epilepsy": "Epilepsy or anticonvulsant use", "parkinsons": "Parkinson's disease",
    "antidepressant": "Antidepressant use", "hrt_oestrogen": "Oestrogen HRT",
    "care_home": "Lives in a care or nursing home",
    "glucocorticoid_mg_per_day": "Glucocorticoid dose (mg a day, prednisolone equivalent)",
    "glucocorticoid_months": "Glucocorticoid use (months)",
    "frax_mof_percent": "Major osteoporotic fracture, 10 years (%)", "frax_hip_percent": "Hip fracture, 10 years (%)",
    "frax_country": "FRAX country model", "frax_with_bmd": "Calculated with BMD",
    "frax_glucocorticoids_ticked": "Glucocorticoids ticked in FRAX",
}
assert set(LABELS) == set(sh.HISTORY_FIELDS)

#: How each choice of a categorical field is shown (English, the catalogue's message id). Alcohol's are its bands
#: from the knowledge (:func:`choice_labels`); smoking's bands are shown beside their names.
_CHOICES: dict[str, dict[str, str]] = {
    "ethnicity": {"white": "White", "indian": "Indian", "pakistani": "Pakistani", "bangladeshi": "Bangladeshi",
                  "other_asian": "Other Asian", "black_caribbean": "Black Caribbean",
                  "black_african": "Black African", "chinese": "Chinese", "other": "Other ethnic group"},
    "menopausal_status": {"premenopausal": "Premenopausal", "perimenopausal": "Perimenopausal",
                          "postmenopausal": "Postmenopausal"},
    "smoking": {"non_smoker": "Non-smoker", "ex_smoker": "Ex-smoker", "light": "Light smoker",
                "moderate": "Moderate smoker", "heavy": "Heavy smoker"},
}


def choice_labels() -> dict[str, dict[str, str]]:
    """Field -> value -> how it is shown."""
    return {**_CHOICES, "alcohol": {k: str(v) for k, v in _bands()["alcohol"]["values"].items()}}


#: The message of a history form refused because someone else saved in between.
CHANGED_SINCE = ("Someone else changed this history after you opened it. Nothing was saved. The form shows the "
                 "stored values now; your changes are listed below: enter them again if they still apply.")

Kind = Literal["flag", "yes_no", "number", "choice", "text"]


def kind_of(field: str) -> tuple[Kind, tuple[str, ...]]:
    """How a history field is entered (by its type in :class:`PatientRecord`) and its choices, if any."""
    t, _ = sh.field_type(field)
    if t is bool:
        return ("flag" if PatientRecord.model_fields[field].default is False else "yes_no"), ()
    if t is float or t is int:
        return "number", ()
    if get_origin(t) is Literal:
        return "choice", tuple(str(a) for a in get_args(t))
    return "text", ()


def parse_history_form(form: dict[str, str]) -> dict[str, Any]:
    """The form's values by field type. A flag is a checkbox (absent: no); yes/no/blank for a recorded-or-not
    answer; an empty number, choice or text clears an optional field."""
    out: dict[str, Any] = {}
    for f in sh.HISTORY_FIELDS:
        kind, _ = kind_of(f)
        raw = (form.get(f) or "").strip()
        if kind == "flag":
            out[f] = raw in ("1", "on", "yes", "true")
        elif kind == "yes_no":
            out[f] = {"": None, "yes": True, "no": False}.get(raw, raw)
        elif kind == "number":
            out[f] = _float(raw, f)
        else:
            out[f] = raw or None
    return out


def _bands() -> dict[str, dict[str, Any]]:
    """The help texts' bands for smoking and alcohol (knowledge ``qfracture-inputs``; with their status)."""
    kf = load("qfracture-inputs")
    out = {}
    for field, fact_id in (("smoking", "smoking_bands_cigarettes_per_day"),
                           ("alcohol", "alcohol_bands_uk_units_per_day")):
        fact = kf.fact(fact_id)
        out[field] = {"values": dict(fact.value), "status": fact.status}
    return out


def _errors(exc: Exception, lang: Lang) -> dict[str, str]:
    errs = exc.errors if isinstance(exc, RecordErrors) else [exc] if isinstance(exc, InputError) else []
    out: dict[str, str] = {}
    for e in errs:
        field = e.field.split(".")[0].split("[")[0]
        field = "record_id" if field == "id" else field
        key = field if field in sh.HISTORY_FIELDS or field in REGISTER_FIELDS else "form"
        msg = lang.gettext("{value} is not allowed: expected {allowed}", value=e.value,
                           allowed=e.allowed + (f" ({e.unit})" if e.unit else ""))
        out[key] = (out[key] + " " if key in out else "") + (msg if key != "form" else f"{e.field}: {msg}")
    return out or {"form": str(exc)}


def _shown(values: dict[str, Any]) -> dict[str, str]:
    """Stored values as the form shows them."""
    out = {}
    for f, v in values.items():
        kind, _ = kind_of(f)
        if kind == "flag":
            out[f] = "1" if v else ""
        elif kind == "yes_no":
            out[f] = {None: "", True: "yes", False: "no"}[v]
        elif v is None:
            out[f] = ""
        else:
            out[f] = f"{v:g}" if isinstance(v, float) else str(v)
    return out


def _unsaved(form: dict[str, str]) -> list[tuple[str, str]]:
    """The fields this form changed (against the values it was shown with, sent back in ``shown``), as typed."""
    try:
        was = json.loads(form.get("shown") or "{}")
    except ValueError:
        was = {}
    if not isinstance(was, dict):
        was = {}
    out = []
    for f in sh.HISTORY_FIELDS:
        kind, _ = kind_of(f)
        now = (form.get(f) or "").strip()
        before = str(was.get(f) or "").strip()
        if (bool(now) != bool(before)) if kind == "flag" else now != before:
            out.append((f, now))
    return out


def _history_page(request: Request, u: Principal, record_id: str, view: HistoryView, *, status: int = 200,
                  form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                  unsaved: list[tuple[str, str]] | None = None, new: bool = False,
                  identity_form: dict[str, str] | None = None,
                  identity_errors: dict[str, str] | None = None) -> Response:
    summary = sp.get_patient(acting(request, u), record_id)
    identity_version = ((identity_form or {}).get("identity_version")
                        or sp.identity_version(acting(request, u), record_id))
    phone = sp.phone_of(acting(request, u), record_id)
    identity = identity_form if identity_form is not None else {
        "given_name": summary.given_name or "", "family_name": summary.family_name or "", "sex": summary.sex,
        "birth_date": summary.birth_date.isoformat() if summary.birth_date else "",
        "age": "" if summary.birth_date else str(summary.age), "phone": phone or ""}
    identity.setdefault("age_shown", identity.get("age", ""))
    fields = {f: kind_of(f) for f in sh.HISTORY_FIELDS}
    shown = _shown(view.values)
    return render(request, "history.html", u, status=status, s=summary, version=view.version,
                  shown=json.dumps(shown, sort_keys=True), form=form if form is not None else shown,
                  errors=errors or {}, groups=GROUPS,
                  labels=LABELS, fields=fields, bands=_bands(), choice_labels=choice_labels(), unsaved=unsaved or [],
                  new=new, default_ethnicity=str(load("qfracture-inputs").value("default_ethnicity_vietnam")),
                  identity=identity, identity_errors=identity_errors or {}, identity_version=identity_version,
                  today=acting(request, u).today())


@router.get("/patients/{record_id}/history")
def history_page(request: Request, record_id: str, new: int = 0,
                 user: Principal | None = Depends(page_user)) -> Response:
    u = need(user, *STAFF)
    may_see_patient(u, record_id)
    view = sh.history_of(acting(request, u), record_id)
    return _history_page(request, u, record_id, view, new=bool(new))


@router.post("/patients/{record_id}/history")
async def post_history(request: Request, record_id: str) -> Response:
    f = await _form(request)
    u = need(cookie_user(request), *STAFF)
    may_see_patient(u, record_id)
    c = acting(request, u)
    lang = lang_of(request, u)
    try:
        changes = parse_history_form(f)
        saved = sh.update_history(c, record_id, changes, expected_version=f.get("version") or "")
    except Conflict:
        current = sh.history_of(c, record_id)
        unsaved = _unsaved(f)
        return _history_page(request, u, record_id, current, status=409, unsaved=unsaved,
                             errors={"form": lang.gettext(CHANGED_SINCE)})
    except NotFound:
        raise
    except (InputError, OsteoCareError) as exc:
        view = sh.history_of(c, record_id)
        return _history_page(request, u, record_id, view, status=422, form=f, errors=_errors(exc, lang))
    return _redirect(f"/patients/{quote(record_id)}?done=history{RECHECK if saved.warnings else ''}#history")


# --- registering a patient --------------------------------------------------------------------------------------

REGISTER_FIELDS = ("record_id", "given_name", "family_name", "birth_date", "age", "sex", "phone")


def _birth_and_age(f: dict[str, str], today: dt.date) -> tuple[dt.date | None, int]:
    """The birth date (checked) and the age from it; or, without a birth date, the age as typed (whole years)."""
    birth = _date(f.get("birth_date", ""), "birth_date", required=False)
    text = (f.get("age") or "").strip()
    if text and not (text.isascii() and text.isdigit()):  # "²".isdigit() is true, and int() refuses it
        raise InputError("age", text, "a whole number of years (digits 0-9)")
    if birth is not None:
        sp.check_birth_date(birth, today)
        if text:  # both typed: they must agree
            sp.check_age_matches(int(text), birth, today)
        return birth, age_on(birth, today)
    if not text:
        raise InputError("birth_date", "", "the birth date, or the age in whole years if it is not known")
    return None, int(text)


@router.get("/new-patient")
def new_patient_page(request: Request, user: Principal | None = Depends(page_user)) -> Response:
    u = need(user, *STAFF)
    return render(request, "new_patient.html", u, form={}, errors={}, today=acting(request, u).today())


@router.post("/new-patient")
async def post_new_patient(request: Request) -> Response:
    f = await _form(request)
    u = need(cookie_user(request), *STAFF)
    c = acting(request, u)
    lang = lang_of(request, u)
    try:
        birth, age = _birth_and_age(f, c.today())
        record = parse_record({"id": (f.get("record_id") or "").strip(), "sex": f.get("sex") or None, "age": age})
        sp.add_patient(c, record, given_name=f.get("given_name") or None, family_name=f.get("family_name") or None,
                       birth_date=birth, phone=f.get("phone") or None)
    except Conflict as exc:
        return render(request, "new_patient.html", u, status=409, form=f, today=c.today(),
                      errors={"record_id": str(exc)})
    except (InputError, OsteoCareError) as exc:
        return render(request, "new_patient.html", u, status=422, form=f, today=c.today(), errors=_errors(exc, lang))
    return _redirect(f"/patients/{quote(record.id)}/history?new=1")


# --- the falls screen ------------------------------------------------------------------------------------------

#: Shown when brochure statements are ticked without the box saying the patient filled in the brochure.
BROCHURE_NOT_TICKED = ("Brochure statements are ticked, but not the box \"The patient filled in the brochure\": tick "
                       "that box to record them, or untick the statements. Nothing was saved.")


def _screen_page(request: Request, u: Principal, record_id: str, view: Any, *, status: int = 200,
                 errors: dict[str, str] | None = None, sent: dict[str, Any] | None = None) -> Response:
    """The falls screen form showing ``view`` (what is stored), or, where given, what was ``sent``: its answers
    (``key_questions``), the statements it ticked (``ticked``) and whether the brochure box was (``brochure``)."""
    summary = sp.get_patient(acting(request, u), record_id)
    shown = {"key_questions": view.key_questions, "ticked": view.brochure_items or [],
             "brochure": view.brochure_items is not None, **(sent or {})}
    return render(request, "falls_screen.html", u, status=status, s=summary, screen=view, shown=shown,
                  errors=errors or {})


@router.get("/patients/{record_id}/falls-screen")
def falls_screen_page(request: Request, record_id: str, user: Principal | None = Depends(page_user)) -> Response:
    u = need(user, *STAFF)
    may_see_patient(u, record_id)
    return _screen_page(request, u, record_id, sh.falls_screen_of(acting(request, u), record_id))


@router.post("/patients/{record_id}/falls-screen")
async def post_falls_screen(request: Request, record_id: str) -> Response:
    f = await _form(request)
    u = need(cookie_user(request), *STAFF)
    may_see_patient(u, record_id)
    c = acting(request, u)
    try:
        if not any(k.startswith("q_") for k in f):  # the form always sends its questions, answered or not
            raise InputError("form", "", "the falls screen's questions, each answered yes, no or not asked")
        answers: dict[str, bool] = {}
        for key, value in f.items():
            if key.startswith("q_") and value:
                if value not in ("yes", "no"):
                    raise InputError(key, value, "yes, no, or not asked")
                answers[key[2:]] = value == "yes"
        ticked = [k[2:] for k, v in f.items() if k.startswith("b_") and v]
        if ticked and not f.get("brochure"):  # never thrown away silently: the clinician says which was meant
            view = sh.falls_screen_of(c, record_id)
            return _screen_page(request, u, record_id, view, status=422,
                                errors={"brochure": lang_of(request, u).gettext(BROCHURE_NOT_TICKED)},
                                sent={"key_questions": answers, "ticked": ticked, "brochure": False})
        items = ticked if f.get("brochure") else None
        sh.set_falls_screen(c, record_id, key_questions=answers, brochure_items=items)
    except NotFound:
        raise
    except (InputError, OsteoCareError) as exc:
        view = sh.falls_screen_of(c, record_id)
        return _screen_page(request, u, record_id, view, status=422, errors=_errors(exc, lang_of(request, u)))
    return _redirect(f"/patients/{quote(record_id)}?done=history#history")


# --- correcting the identity -----------------------------------------------------------------------------------

#: Shown when an identity correction meets one saved by someone else since the form was shown.
IDENTITY_CHANGED = ("Someone else corrected this identity after you opened the form; nothing was saved. The form "
                    "now shows what is stored: make your correction again.")


@router.post("/patients/{record_id}/identity")
async def post_identity(request: Request, record_id: str) -> Response:
    f = await _form(request)
    u = need(cookie_user(request), *STAFF)
    may_see_patient(u, record_id)
    c = acting(request, u)
    if (f.get("birth_date") or "").strip() and (f.get("age") or "").strip() == (f.get("age_shown") or "").strip():
        f = {**f, "age": ""}  # a birth date typed beside the age the form showed: the birth date replaces that age
    try:
        birth, age = _birth_and_age(f, c.today())
        sp.update_identity(c, record_id, sex=f.get("sex", ""), given_name=f.get("given_name") or None,
                           family_name=f.get("family_name") or None, birth_date=birth, phone=f.get("phone") or None,
                           age=age, expected_version=f.get("identity_version") or "")
    except NotFound:
        raise
    except Conflict:  # corrected by someone else since this form was shown: the stored identity, and why
        view = sh.history_of(c, record_id)
        return _history_page(request, u, record_id, view, status=409, identity_errors={
            "form": lang_of(request, u).gettext(IDENTITY_CHANGED)})
    except (InputError, OsteoCareError) as exc:
        view = sh.history_of(c, record_id)
        return _history_page(request, u, record_id, view, status=422, identity_form=f,
                             identity_errors=_errors(exc, lang_of(request, u)))
    return _redirect(f"/patients/{quote(record_id)}?done=identity{RECHECK}")  # sex and age are in the check
