"""Clinic commands: patients, entries (conditions, medications, intolerances, falls, fractures), exams, labs,
courses, doses, reactions, worklist, calendar, demo, database.

Thin: parse, call a service, print, set the exit code. Register on the main app with :func:`register`.
Exit codes: 0 done; 2 bad input or not found; 3 a contraindication needs a written override reason;
4 conflict (already exists, already recorded, wrong state).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .core.errors import OsteoCareError

out = Console()
err = Console(stderr=True)

patient_app = typer.Typer(no_args_is_help=True, help="Add, import and show patients; show and change the "
                          "clinical history.")
exam_app = typer.Typer(no_args_is_help=True, help="Record DXA exams.")
lab_app = typer.Typer(no_args_is_help=True, help="Record laboratory results.")
course_app = typer.Typer(no_args_is_help=True, help="Check, start and stop treatment courses.")
dose_app = typer.Typer(no_args_is_help=True, help="Pre-dose checks and recording doses.")
reaction_app = typer.Typer(no_args_is_help=True, help="Record reactions to a drug.")
appointment_app = typer.Typer(no_args_is_help=True, help="Book, complete or cancel appointments.")
db_app = typer.Typer(no_args_is_help=True, help="Database migrations, and a check of the stored records.")
entry_app = typer.Typer(no_args_is_help=True, help="A patient's conditions, medication history, intolerances, falls "
                        "and fractures: list, add, resolve or end, delete one made in error.")

STATUS_STYLE = {"verified": "green", "secondary": "yellow", "unverified": "red"}


def _fail(msg: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(msg)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _validation_message(exc: ValidationError) -> str:
    """pydantic's errors in OsteoCare's words: the field, the value given and what is allowed."""
    parts = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e["loc"])
        msg = str(e["msg"]).removeprefix("Value error, ")
        parts.append(msg if loc and msg.startswith(f"{loc.split('.')[-1]}:") else f"{loc}: {msg} (given "
                     f"{e.get('input')!r})")
    return "; ".join(parts)


def _e(text: object) -> str:
    """User text (names, reasons, notes) for rich output: markup such as ``[/red]`` is shown, not interpreted."""
    return escape(str(text))


def _check_day(field: str, day: dt.date | None, clinic: Any, *, earliest: dt.date | None = None,
               earliest_what: str = "the patient's birth date") -> None:
    """Refuse a date after the clinic's today or before ``earliest``, naming the option and the range."""
    from .services.appointments import check_date_range

    if day is not None:
        check_date_range(field, day, today=clinic.today(), earliest=earliest, earliest_what=earliest_what)


def _check_patient_day(field: str, day: dt.date | None, clinic: Any, record_id: str) -> None:
    """Refuse a lab / exam date after today or before the patient was born (from the birth date, or the age)."""
    from .services.patients import earliest_date_of

    if day is not None:
        earliest, what = earliest_date_of(clinic, record_id)
        _check_day(field, day, clinic, earliest=earliest, earliest_what=what)


def _local_time(when: dt.datetime, zone: dt.tzinfo, zone_name: str) -> str:
    """A stored instant in the clinic's time zone, as the clinic reads it: ``YYYY-MM-DD HH:MM (zone)`` (a stored
    naive time is UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return f"{when.astimezone(zone):%Y-%m-%d %H:%M} ({zone_name})"


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(f"{option}: {value!r} is not a date; expected YYYY-MM-DD") from None


@contextmanager
def _clinic(*, create: bool = False) -> Iterator[Any]:
    """A clinic on the configured store; its errors become exit codes. Without ``create`` a configured SQLite file
    that does not exist is an error (a mistyped URL must not give an empty, all-clear clinic)."""
    from sqlalchemy.exc import DataError

    from .services.context import Clinic
    from .services.errors import Conflict, DoseAlreadyRecorded, InvalidState, OverrideRequired
    from .settings import get_settings, require_existing_database

    try:
        settings = get_settings()
        if not create:
            require_existing_database(settings)
        clinic = Clinic.open(settings)
    except OsteoCareError as exc:
        raise _fail(str(exc)) from None
    try:
        yield clinic
    except OverrideRequired as exc:
        err.print(f"[red]must not / needs override:[/red] {exc}", highlight=False, soft_wrap=True)
        for f in exc.findings:
            err.print(f"  - {f['kind']} {f['rule_id']}: {f['text']} (status: {f['status']})", highlight=False)
        err.print("A doctor may give --override-reason \"...\" to go ahead anyway; the reason is stored with the "
                  "course or dose and in the audit trail.", highlight=False)
        raise typer.Exit(3) from None
    except (Conflict, DoseAlreadyRecorded, InvalidState) as exc:
        raise _fail(str(exc), 4) from None
    except OsteoCareError as exc:
        raise _fail(str(exc)) from None
    except ValidationError as exc:  # a value checked where the service builds its models
        raise _fail(_validation_message(exc)) from None
    except (OverflowError, ValueError) as exc:  # date arithmetic past year 9999 from a far-off date or window
        if "out of range" not in str(exc):
            raise
        raise _fail(f"a date given is too far from today ({exc}); check the dates and the number of days or "
                    "months") from None
    except DataError as exc:  # a value the database cannot hold (e.g. past PostgreSQL's 32-bit integer)
        why = str(getattr(exc, "orig", None) or "").strip().splitlines()
        raise _fail("a value given is too large or not valid for the database"
                    + (f" ({why[0]})" if why else "") + "; nothing was saved; check the ids and numbers given") from None
    finally:
        clinic.close()


def _status(status: str) -> str:
    style = STATUS_STYLE.get(status, "white")
    return f"[{style}]{status}[/{style}]"


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str, ensure_ascii=False) + "\n")


# --- patients ----------------------------------------------------------------------------------------------


def _read_rows(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"{path}: cannot be read ({exc})") from None
    if path.suffix == ".jsonl":
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise _fail(f"{path}: not valid JSON ({exc.msg} at line {n}, column {exc.colno})") from None
        return rows
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return data if isinstance(data, list) else [data]


@patient_app.command("add")
def patient_add(
    record_id: Annotated[str | None, typer.Option("--id", help="Patient id (record id)")] = None,
    sex: Annotated[str | None, typer.Option(help="female or male")] = None,
    age: Annotated[int | None, typer.Option(help="Age in whole years (or give --birth-date)")] = None,
    birth_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    given_name: Annotated[str | None, typer.Option()] = None,
    family_name: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    from_json: Annotated[Path | None, typer.Option("--json", help="A patient record JSON file")] = None,
) -> None:
    """Add one patient (from options, or a record JSON file with optional name fields)."""
    from .core.records import parse_record
    from .services.patients import add_patient, split_import_row

    if from_json is not None:
        rows = _read_rows(from_json)
        if len(rows) != 1:
            raise _fail(f"{from_json}: expected one record; use `patient import` for several")
        try:
            data, ident = split_import_row(rows[0])
        except OsteoCareError as exc:
            raise _fail(str(exc)) from None
    else:
        bd = _date(birth_date, "--birth-date")
        if record_id is None or sex is None or (age is None and bd is None):
            raise _fail("give --id, --sex and --age or --birth-date (or --json FILE)")
        data = {"id": record_id, "sex": sex, "age": age}
        ident = {"given_name": given_name, "family_name": family_name, "birth_date": bd, "phone": phone}
    with _clinic() as clinic:
        from .services.patients import check_age_matches, check_birth_date
        from .store.records import age_on

        bd = ident.get("birth_date")
        check_birth_date(bd, clinic.today())
        if data.get("age") is None and bd is not None:
            data["age"] = age_on(bd, clinic.today())
        try:
            rec = parse_record(data)
        except OsteoCareError as exc:
            raise _fail(str(exc)) from None
        check_age_matches(rec.age, bd, clinic.today())
        s = add_patient(clinic, rec, **ident)
    out.print(f"added patient {_e(s.record_id)} ({_e(s.display_name)}, {s.sex}, {s.age} y)", highlight=False)


@patient_app.command("import")
def patient_import(
    path: Annotated[Path, typer.Argument(help="JSON list, JSON object or JSON Lines (.jsonl) of patient records")],
    update: Annotated[bool, typer.Option("--update", help="Replace the facts of patients that already exist; stored labs, "
                                                  "exams and entries entered in the clinic are kept")] = False,
) -> None:
    """Import patient records, all or nothing."""
    from .services.patients import import_patients

    rows = _read_rows(path)
    with _clinic() as clinic:
        res = import_patients(clinic, rows, update_existing=update)
    if res.errors:
        for key, msg in res.errors.items():
            err.print(f"[red]{_e(key)}[/red]: {_e(msg)}", highlight=False, soft_wrap=True)
        raise _fail(f"nothing imported: {len(res.errors)} record(s) refused")
    from .services.patients import kept_lines

    for line in kept_lines(res):
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    out.print(f"imported {len(res.created)} new, {len(res.updated)} updated patient(s)")


@patient_app.command("show")
def patient_show(
    record_id: Annotated[str, typer.Argument(help="Patient id")],
    as_json: Annotated[bool, typer.Option("--json", help="Everything as JSON")] = False,
) -> None:
    """Show a patient: courses, schedule, doses, reactions and alerts (the read is audited)."""
    from .services.patients import show_patient

    with _clinic() as clinic:
        v = show_patient(clinic, record_id)
        zone, zone_name = clinic.settings.zone, clinic.settings.timezone
    if as_json:
        _print_json(v.model_dump(mode="json"))
        return
    s = v.summary
    out.print(f"[bold]{_e(s.display_name)}[/bold] ({_e(s.record_id)}) {s.sex}, {s.age} y", highlight=False)
    for a in v.alerts:
        colour = {"urgent": "red", "warning": "yellow", "info": "cyan"}[a.severity]
        out.print(f"  [{colour}]{a.severity.upper()}[/{colour}] {_e(a.text)} (status: {a.status})", highlight=False)
    t = Table(title="Courses")
    for col in ("id", "drug", "where", "start", "status", "doses", "last dose", "next due", "review"):
        t.add_column(col)
    for c in v.courses:
        # the next dose's due date with the status of the facts it was computed from (as the schedule stored it)
        nxt = next((it for it in v.schedule if it.course_id == c.id and it.kind == "dose" and it.status == "open"
                    and it.due_on == c.next_due), None)
        due = str(c.next_due or "") + (f" ({_status(nxt.fact_status)})" if nxt and nxt.fact_status != "verified" else "")
        t.add_row(str(c.id), c.drug, c.setting, str(c.start_date), c.status, str(c.doses_given), str(c.last_dose or ""),
                  due, _e(f"{c.review_on or ''} {c.review_rule or ''}"))
    out.print(t)
    t = Table(title="Open schedule")
    for col in ("id", "kind", "drug", "due", "booked", "state", "why", "status"):
        t.add_column(col)
    for it in v.schedule:
        if it.status == "open":
            booked = _local_time(it.scheduled_at, zone, zone_name) if it.scheduled_at else ""
            t.add_row(str(it.id), it.kind + (f" {it.seq}" if it.seq else ""), it.drug or it.lab_name or "",
                      str(it.due_on), booked, it.timeliness or "", _e(it.reason[:70]), _status(it.fact_status))
    out.print(t)
    if v.reactions:
        t = Table(title="Reactions")
        for col in ("drug", "kind", "severity", "onset", "outcome", "intolerance"):
            t.add_column(col)
        for r in v.reactions:
            t.add_row(r.drug, r.kind, r.severity, str(r.onset_on or ""), r.outcome, "yes" if r.intolerance else "")
        out.print(t)


_TRUE, _FALSE = ("true", "yes"), ("false", "no")


def _history_groups() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """How ``patient history`` groups the history's fields (the web form's sections)."""
    from .services.history import GROUPS

    return GROUPS


def _shown_value(value: Any) -> str:
    """A value (of the history, of an entry) as the CLI prints it: yes/no, numbers without trailing zeros, "-" when
    not recorded."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _field_type(field: str, model: Any = None) -> tuple[Any, bool]:
    """The type of ``field`` in ``model`` (a record model; default :class:`PatientRecord`, whose fields the history
    has) without ``None`` (``bool``, ``int``, ``float``, ``dt.date``, a ``Literal`` of its choices, ``str``), and
    whether ``None`` is allowed (the field can be cleared). For the history: as ``services.history.field_type``."""
    import types
    from typing import Union, get_args, get_origin

    from .core.records import PatientRecord

    ann = (model or PatientRecord).model_fields[field].annotation
    args = get_args(ann) if get_origin(ann) in (Union, types.UnionType) else (ann,)
    inner = [a for a in args if a is not type(None)]
    return (inner[0] if len(inner) == 1 else str), len(inner) < len(args)


def _typed_value(field: str, text: str, model: Any = None) -> Any:
    """``text`` typed on the command line as a value of ``field`` of ``model`` (default the patient record, as the
    history's fields), by the field's type: true/false (yes/no) for a flag, a number, a date YYYY-MM-DD, one of the
    allowed words, text; ``none`` or nothing clears an optional field. Raises :class:`InputError` naming the field,
    the value and what is allowed."""
    import math
    import re
    from typing import Literal, get_args, get_origin

    from .core.errors import InputError

    kind, optional = _field_type(field, model)
    word = text.strip()
    if model is None:  # a change of the history
        clear = " (or none to clear it)" if optional else " (it cannot be cleared)"
    else:  # a new entry
        clear = " (or none if not known)" if optional else ""
    if optional and word.lower() in ("", "none"):
        return None
    if kind is dt.date:
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", word):
                raise ValueError(word)
            return dt.date.fromisoformat(word)
        except ValueError:
            raise InputError(field, text, "a date YYYY-MM-DD" + clear) from None
    if get_origin(kind) is Literal:
        choices = [str(c) for c in get_args(kind)]
        if word not in choices:
            raise InputError(field, text, "one of " + ", ".join(choices) + clear)
        return word
    if kind is bool:
        if word.lower() in _TRUE + _FALSE:
            return word.lower() in _TRUE
        raise InputError(field, text, "true or false (yes or no)" + clear)
    if kind in (int, float):
        try:
            number = int(word) if kind is int else float(word)
        except ValueError:
            raise InputError(field, text, ("a whole number" if kind is int else "a number") + clear) from None
        if not math.isfinite(number):
            raise InputError(field, text, "a finite number" + clear)
        return number
    if not word:
        raise InputError(field, text, "some text" + clear)
    return word


def _assigned(assignments: list[str], *, fields: tuple[str, ...], what: str, example: str,
              model: Any = None) -> dict[str, Any]:
    """FIELD=VALUE arguments as values of ``fields`` of ``model`` (typed by :func:`_typed_value`); the first bad
    one stops the command (exit 2). ``what`` names the fields in the message ("the clinical history")."""
    from .core.errors import InputError

    values: dict[str, Any] = {}
    for a in assignments:
        field, eq, text = a.partition("=")
        field = field.strip()
        if not eq or not field:
            raise _fail(f"{a!r} is not FIELD=VALUE (e.g. {example})")
        if field not in fields:
            raise _fail(str(InputError(field, text, f"a field of {what}: " + ", ".join(fields))))
        if field in values:
            raise _fail(f"{field}: given twice; expected each field at most once")
        try:
            values[field] = _typed_value(field, text, model)
        except InputError as exc:
            raise _fail(str(exc)) from None
    return values


def _history_changes(assignments: list[str]) -> dict[str, Any]:
    """FIELD=VALUE arguments as the changes of the history; the first bad one stops the command (exit 2)."""
    from .services.history import HISTORY_FIELDS

    return _assigned(assignments, fields=HISTORY_FIELDS, what="the clinical history",
                     example="weight_kg=52.5, falls=yes, frax_hip_percent=none")


@patient_app.command("history")
def patient_history(
    record_id: Annotated[str, typer.Argument(help="Patient id")],
    as_json: Annotated[bool, typer.Option("--json", help="The history and its version as JSON")] = False,
) -> None:
    """Show the clinical history: body measures, background, risk flags, glucocorticoids, the FRAX result typed
    from an official FRAX tool, and its version (give it to `patient set --if-version`). The read is audited."""
    from .services.history import history_of

    with _clinic() as clinic:
        h = history_of(clinic, record_id)
    if as_json:
        _print_json(h.model_dump(mode="json"))
        return
    out.print(f"[bold]Clinical history of {_e(h.record_id)}[/bold] (version {h.version})", highlight=False)
    for title, fields in _history_groups():
        out.print(f"\n[bold]{title}[/bold]", highlight=False)
        t = Table(show_header=False, box=None, padding=(0, 2))
        t.add_column("field")
        t.add_column("value")
        for f in fields:
            value = h.values.get(f)
            shown = _e(_shown_value(value))
            t.add_row(f, f"[bold]{shown}[/bold]" if value is True else shown)
        out.print(t)


@patient_app.command("set")
def patient_set(
    record_id: Annotated[str, typer.Argument(help="Patient id")],
    assignments: Annotated[list[str], typer.Argument(
        metavar="FIELD=VALUE...", help="Fields of the clinical history (see `patient history`): true/false or "
        "yes/no for a flag, a number, a word such as smoking=ex_smoker; none (or nothing) clears an optional field")],
    if_version: Annotated[str | None, typer.Option(
        "--if-version", help="The version `patient history` showed: refused (exit 4, nothing saved) if the history "
        "has changed since")] = None,
) -> None:
    """Change fields of the clinical history, all or nothing; each value is checked against the whole record and
    the change is audited with the old and new values."""
    from .services.errors import Conflict
    from .services.history import history_of, update_history

    changes = _history_changes(assignments)
    with _clinic() as clinic:
        before = history_of(clinic, record_id)
        # the values shown as "old" are the ones replaced: without --if-version the version just read is named
        try:
            after = update_history(clinic, record_id, changes,
                                   expected_version=if_version if if_version is not None else before.version)
        except Conflict as exc:
            raise _fail(f"{exc} (`osteocare patient history {record_id}` shows it; it was at version "
                        f"{before.version} when read just now)", 4) from None
    changed = [f for f in after.values if before.values.get(f) != after.values[f]]
    for f in changed:
        out.print(f"  {f}: {_e(_shown_value(before.values.get(f)))} -> {_e(_shown_value(after.values[f]))}",
                  highlight=False)
    for f in changes:
        if f not in changed:
            out.print(f"  {f}: unchanged ({_e(_shown_value(after.values[f]))})", highlight=False)
    what = f"changed {len(changed)} field(s)" if changed else "nothing changed"
    out.print(f"{what}; the history of {_e(after.record_id)} is at version {after.version}", highlight=False)
    for w in after.warnings:
        out.print(f"[yellow]warning:[/yellow] {_e(w)}", highlight=False, soft_wrap=True)


# --- entries: conditions, medication history, intolerances, falls, fractures ------------------------------------

#: How ``entry list`` titles each kind, and the field that names an entry (shown first).
_ENTRY_TITLES = {"condition": "Conditions", "medication": "Medication history", "intolerance": "Intolerances",
                 "fall": "Falls", "fracture": "Fractures", "vertebra": "Vertebral heights"}
_ENTRY_HEAD = {"condition": "code", "medication": "drug", "intolerance": "drug", "fracture": "site", "vertebra": "level"}
_ENTRY_EXAMPLE = {"condition": "code=atrial_fibrillation onset=2020-05-01",
                  "medication": "drug=alendronate start=2020-01-01 end=none",
                  "intolerance": "drug=risedronate reaction=heartburn severity=moderate",
                  "fall": "date=2025-01-02 injurious=yes", "fracture": "site=wrist date=2024-11-20 fragility=yes",
                  "vertebra": "level=T12 anterior_mm=18.5 middle_mm=20 posterior_mm=25"}


def _entry_model(kind: str) -> Any:
    """The record's model of an entry of ``kind``; an unknown kind stops the command (exit 2)."""
    from .core.errors import InputError
    from .services.entries import KINDS, MODELS

    if kind not in KINDS:
        raise _fail(str(InputError("kind", kind, "one of " + ", ".join(KINDS))))
    return MODELS[kind]


def _entry_line(e: Any) -> str:
    """One entry as ``entry list`` and ``entry add`` show it: what it is (a condition with its label), its other
    recorded fields, and for a condition or a medication whether it is current."""
    head = _ENTRY_HEAD.get(e.kind)
    what = e.kind if head is None else str(e.fields[head])
    if e.label:
        what += f" ({e.label})"
    rest = [f"{k} {_shown_value(v)}" for k, v in e.fields.items() if k != head and v is not None]
    status = {"condition": "current" if e.current else "resolved",
              "medication": "current" if e.current else "ended"}.get(e.kind)
    return ", ".join([what, *rest, *([status] if status else [])])


def _print_entry_result(what: str, res: Any) -> None:
    """``what: <the entry>``, then each warning of the contraindication re-check (the exit code stays 0)."""
    out.print(f"{what}: {_e(_entry_line(res.entry))}", highlight=False, soft_wrap=True)
    for w in res.warnings:
        out.print(f"[yellow]warning:[/yellow] {_e(w)}", highlight=False, soft_wrap=True)


@entry_app.command("list")
def entry_list(
    record_id: Annotated[str, typer.Argument(help="Patient id")],
    as_json: Annotated[bool, typer.Option("--json", help="Every entry by kind as JSON")] = False,
) -> None:
    """List the patient's entries by kind, oldest first, each with its id; a condition with its label and whether it
    is current. The read is audited."""
    from .services.entries import entries_of

    with _clinic() as clinic:
        entries = entries_of(clinic, record_id)
    if as_json:
        _print_json({k: [e.model_dump(mode="json") for e in v] for k, v in entries.items()})
        return
    for kind, items in entries.items():
        out.print(f"[bold]{_ENTRY_TITLES[kind]}[/bold]", highlight=False)
        if not items:
            out.print("  none recorded", highlight=False)
        for e in items:
            out.print(f"  {e.id}  {_e(_entry_line(e))}", highlight=False, soft_wrap=True)


@entry_app.command("add")
def entry_add(
    record_id: Annotated[str, typer.Argument(help="Patient id")],
    kind: Annotated[str, typer.Argument(help="condition, medication, intolerance, fall or fracture")],
    assignments: Annotated[list[str] | None, typer.Argument(
        metavar="FIELD=VALUE...", help="The record's fields of that kind: condition code= onset= resolved=; "
        "medication drug= start= end= last_dose=; intolerance drug= reaction= date= severity=; fall date= "
        "injurious=; fracture site= date= fragility= on_treatment=. Dates YYYY-MM-DD, flags true/false or yes/no")]
    = None,
    confirm_duplicate: Annotated[bool, typer.Option(
        "--confirm-duplicate", help="Add it although an entry with the same key fields is recorded (another one, "
        "not the same one again); without it such an entry is refused (exit 4)")] = False,
) -> None:
    """Add an entry, checked as the record checks it (a known condition or drug id, dates in order, none after today
    or before the patient was born). Prints its id, and as warnings what the contraindication check now finds for
    the patient's active courses."""
    from .services.entries import add_entry

    model = _entry_model(kind)
    data = _assigned(assignments or [], fields=tuple(model.model_fields), model=model, example=_ENTRY_EXAMPLE[kind],
                     what=("an " if kind == "intolerance" else "a ") + kind)
    with _clinic() as clinic:
        res = add_entry(clinic, record_id, kind, data, confirm_duplicate=confirm_duplicate)
    _print_entry_result(f"added {kind} {res.entry.id} for {_e(record_id)}", res)


@entry_app.command("end")
def entry_end(
    kind: Annotated[str, typer.Argument(help="condition (resolved) or medication (ended)")],
    entry_id: Annotated[int, typer.Argument(help="The entry's id (`entry list` shows it)")],
    on: Annotated[str, typer.Option(help="The day it resolved or ended, YYYY-MM-DD")],
) -> None:
    """Resolve a condition or end a medication; prints as warnings what the contraindication check now finds for
    the patient's active courses."""
    from .services.entries import end_entry

    day = _date(on, "--on")
    if day is None:  # (--on is required: typer refuses the command without it)
        raise _fail("--on: give the day it resolved or ended, YYYY-MM-DD")
    _entry_model(kind)
    with _clinic() as clinic:
        res = end_entry(clinic, kind, entry_id, day)
    _print_entry_result(f"{'resolved' if kind == 'condition' else 'ended'} {kind} {res.entry.id}", res)


@entry_app.command("delete")
def entry_delete(
    kind: Annotated[str, typer.Argument(help="condition, medication, intolerance, fall or fracture")],
    entry_id: Annotated[int, typer.Argument(help="The entry's id (`entry list` shows it)")],
    reason: Annotated[str, typer.Option(help="Why it is deleted (kept in the audit log with what it said)")],
) -> None:
    """Delete an entry made in error; record the right one with `entry add`."""
    from .services.entries import delete_entry

    _entry_model(kind)
    with _clinic() as clinic:
        e = delete_entry(clinic, kind, entry_id, reason=reason)
    out.print(f"deleted {kind} {entry_id}: {_e(_entry_line(e))}", highlight=False, soft_wrap=True)


# --- exams and labs ----------------------------------------------------------------------------------------


def _site_values(pairs: list[str], option: str) -> dict[str, float]:
    outd: dict[str, float] = {}
    for p in pairs:
        site, _, value = p.partition("=")
        try:
            number = float(value)
        except ValueError:
            raise _fail(f"{option}: {p!r} is not SITE=NUMBER (e.g. femoral_neck=-2.7)") from None
        if site.strip() in outd:
            raise _fail(f"{option}: {site.strip()!r} is given twice; expected each site at most once per exam")
        outd[site.strip()] = number
    return outd


@exam_app.command("add")
def exam_add(
    record_id: Annotated[str, typer.Argument(help="Patient id")],
    date: Annotated[str, typer.Option(help="Exam date YYYY-MM-DD")],
    t: Annotated[list[str] | None, typer.Option("--t", help="SITE=T-score, repeatable")] = None,
    bmd: Annotated[list[str] | None, typer.Option("--bmd", help="SITE=BMD in g/cm2, repeatable")] = None,
    z: Annotated[list[str] | None, typer.Option("--z", help="SITE=Z-score, repeatable")] = None,
    manufacturer: Annotated[str | None, typer.Option(help="hologic, ge_lunar or norland")] = None,
    device: Annotated[str | None, typer.Option(help="Device model")] = None,
    reference: Annotated[str | None, typer.Option(help="Reference database of the T-scores")] = None,
) -> None:
    """Record a DXA exam, per site (sites: femoral_neck, total_hip, lumbar_spine, radius_33, trochanter)."""
    from .services.facts import DxaExamIn, add_dxa_exam

    ts, bs, zs = _site_values(t or [], "--t"), _site_values(bmd or [], "--bmd"), _site_values(z or [], "--z")
    sites = sorted(set(ts) | set(bs) | set(zs))
    if not sites:
        raise _fail("give at least one --t, --bmd or --z SITE=VALUE")
    try:
        exam = DxaExamIn(exam_date=_date(date, "--date"), manufacturer=manufacturer, device_model=device,
                         reference=reference,
                         sites=[{"site": s, "t_score": ts.get(s), "bmd_g_cm2": bs.get(s), "z_score": zs.get(s)}
                                for s in sites])
    except ValidationError as exc:
        raise _fail(_validation_message(exc)) from None
    except OsteoCareError as exc:
        raise _fail(str(exc)) from None
    with _clinic() as clinic:
        _check_patient_day("--date", exam.exam_date, clinic, record_id)
        exam_id = add_dxa_exam(clinic, record_id, exam)
    out.print(f"recorded DXA exam {exam_id} for {record_id}: {', '.join(sites)}")


@lab_app.command("add")
def lab_add(
    record_id: Annotated[str, typer.Argument(help="Patient id")],
    name: Annotated[str, typer.Argument(help="creatinine, calcium, vitamin_d_25oh, phosphate, ...")],
    value: Annotated[float, typer.Argument()],
    unit: Annotated[str, typer.Argument(help="Unit of the value, e.g. umol/L, mmol/L, ng/mL")],
    date: Annotated[str | None, typer.Option(help="Sample date YYYY-MM-DD (default today)")] = None,
    low: Annotated[float | None, typer.Option(help="Laboratory's lower reference limit")] = None,
    high: Annotated[float | None, typer.Option(help="Laboratory's upper reference limit")] = None,
) -> None:
    """Record a lab result with its unit."""
    from .services.facts import add_lab

    day = _date(date, "--date")
    with _clinic() as clinic:
        _check_patient_day("--date", day, clinic, record_id)
        lab = add_lab(clinic, record_id, name=name, value=value, unit=unit,
                      date=day or clinic.today(), reference_low=low, reference_high=high)
    out.print(f"recorded {_e(lab.name)} {lab.value:g} {_e(lab.unit)} on {lab.date} for {_e(record_id)}",
              highlight=False)


@lab_app.command("delete")
def lab_delete(
    lab_id: Annotated[int, typer.Argument(help="Lab result id (the row `osteocare db check` names)")],
    reason: Annotated[str, typer.Option(help="Why it is deleted (kept in the audit log with what it said)")],
) -> None:
    """Delete a lab result entered in error; record the right one with `lab add`."""
    from .services.facts import delete_lab

    with _clinic() as clinic:
        lab = delete_lab(clinic, lab_id, reason=reason)
    out.print(f"deleted lab {lab_id}: {_e(lab.name)} {lab.value:g} {_e(lab.unit)} of {lab.date}", highlight=False)


# --- courses -------------------------------------------------------------------------------------------------


def _print_check(report: Any) -> None:
    if not report.available:
        out.print(f"[yellow]Contraindication check not run:[/yellow] {report.reason}", highlight=False)
        return
    if not report.findings:
        out.print("Contraindication check: nothing found.")
    for f in report.findings:
        colour = {"must_not": "red", "caution": "yellow", "fix_first": "cyan"}.get(f.kind, "white")
        out.print(f"  [{colour}]{f.kind}[/{colour}] {f.rule_id}: {f.text} (status: {_status(f.status)})",
                  highlight=False)
    for u in report.undecided:
        out.print(f"  undecided {u.get('rule_id')}: {u.get('text')} - missing {', '.join(u.get('missing', []))}",
                  highlight=False)


@course_app.command("check")
def course_check(
    record_id: Annotated[str, typer.Argument(help="Patient id")],
    drug: Annotated[str, typer.Argument(help="Drug id, e.g. denosumab")],
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
) -> None:
    """Show the contraindication check for a drug."""
    from .services.courses import check_course

    with _clinic() as clinic:
        report = check_course(clinic, record_id, drug, as_of=_date(as_of, "--as-of"))
    _print_check(report)


@course_app.command("start")
def course_start(
    record_id: Annotated[str, typer.Argument(help="Patient id")],
    drug: Annotated[str, typer.Argument(help="Drug id, e.g. alendronate, denosumab, zoledronic_acid")],
    start: Annotated[str | None, typer.Option(help="Start date YYYY-MM-DD (default today)")] = None,
    from_assessment: Annotated[int | None, typer.Option(help="Stored assessment id it was recommended in")] = None,
    override_reason: Annotated[str | None, typer.Option(help="Written reason to go ahead despite a finding")] = None,
    weekday: Annotated[int | None, typer.Option(help="Weekly pills: 0=Monday .. 6=Sunday")] = None,
    day: Annotated[int | None, typer.Option(help="Monthly pills: day of the month")] = None,
    first_due: Annotated[str | None, typer.Option(help="Clinic drugs: first dose due date")] = None,
) -> None:
    """Start a course; the contraindication check is shown, and a 'must not' needs --override-reason."""
    from .services.courses import start_course

    start_date = _date(start, "--start")
    with _clinic() as clinic:
        from .services.patients import earliest_date_of

        earliest, what = earliest_date_of(clinic, record_id)  # also: a stored record that cannot be right
        if start_date is not None and earliest is not None and start_date < earliest:
            raise _fail(f"--start: {start_date.isoformat()!r} is not allowed; expected a date from "
                        f"{earliest.isoformat()} ({what})")
        v = start_course(clinic, record_id, drug, start_date=start_date,
                         origin="recommendation" if from_assessment is not None else "clinician",
                         assessment_id=from_assessment, override_reason=override_reason, anchor_weekday=weekday,
                         anchor_day=day, first_dose_due=_date(first_due, "--first-due"))
    _print_check(v.check)
    for w in v.warnings:
        out.print(f"[yellow]note:[/yellow] {w}", highlight=False)
    out.print(f"started course {v.id}: {v.regimen}; next due {v.next_due or '-'}; review {v.review_on or '-'} "
              f"{v.review_rule or ''}", highlight=False)


@course_app.command("stop")
def course_stop(
    course_id: Annotated[int, typer.Argument(help="Course id")],
    reason: Annotated[str, typer.Option(help="Why the course stops")],
    date: Annotated[str | None, typer.Option(help="Stop date YYYY-MM-DD (default today)")] = None,
) -> None:
    """Stop a course (pending appointments are cancelled)."""
    from .services.courses import get_course, stop_course

    day = _date(date, "--date")
    with _clinic() as clinic:
        if day is not None:
            _check_day("--date", day, clinic, earliest=get_course(clinic, course_id).start_date,
                       earliest_what="the course's start")
        v = stop_course(clinic, course_id, reason=reason, stop_date=day)
    for w in v.warnings:
        out.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    out.print(f"stopped course {v.id} ({v.drug}) on {v.stop_date}")


# --- doses, appointments, reactions ---------------------------------------------------------------------------


@dose_app.command("checks")
def dose_checks(appointment: Annotated[int, typer.Argument(help="Appointment (schedule item) id")]) -> None:
    """The checks due before a clinic dose."""
    from .services.doses import predose_checks

    with _clinic() as clinic:
        checks = predose_checks(clinic, appointment)
    for c in checks:
        colour = {"ok": "green", "not_ok": "red", "missing": "red"}.get(c.outcome, "yellow")
        out.print(f"[{colour}]{c.outcome:>14}[/{colour}] {c.check_id}: {c.detail}", highlight=False)


@dose_app.command("record")
def dose_record(
    appointment: Annotated[int | None, typer.Option(help="Appointment (schedule item) id")] = None,
    course: Annotated[int | None, typer.Option(help="Course id (clinic drugs: its open appointment)")] = None,
    date: Annotated[str | None, typer.Option(help="Date given YYYY-MM-DD (default today)")] = None,
    lot: Annotated[str | None, typer.Option(help="Lot (batch) number; required for clinic doses")] = None,
    site: Annotated[str | None, typer.Option(help="Injection or infusion site")] = None,
    given_by: Annotated[str | None, typer.Option(help="Who gave it (default: you)")] = None,
    observation_minutes: Annotated[int | None, typer.Option(help="Observation after the dose, minutes")] = None,
    notes: Annotated[str | None, typer.Option(help="Observation notes")] = None,
    override_reason: Annotated[str | None, typer.Option(
        help="A doctor's written reason to give the dose despite a finding of the pre-dose check")] = None,
) -> None:
    """Record a dose actually given; the next dose falls due from this one. The drug's contraindications are
    checked again against the record as it is now; a finding needs --override-reason (exit 3 without it)."""
    from .services.doses import record_dose

    given_on = _date(date, "--date")
    with _clinic() as clinic:
        _check_day("--date", given_on, clinic)
        res = record_dose(clinic, item_id=appointment, course_id=course, given_on=given_on,
                          lot_number=lot, body_site=site, given_by=given_by,
                          observation_minutes=observation_minutes, observation_notes=notes,
                          override_reason=override_reason)
    for w in res.warnings:
        out.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    d = res.dose
    out.print(f"recorded dose {d.id}: {d.drug} {d.dose_value or ''} {d.dose_unit or ''} on {d.given_on}"
              + (f", lot {d.lot_number}" if d.lot_number else ""), highlight=False)
    if res.course_completed:
        out.print("course completed (maximum number of doses given); plan the follow-on treatment")
    elif res.next_item is not None:
        out.print(f"next dose due {res.next_item.due_on} (appointment {res.next_item.id})")


@appointment_app.command("book")
def appointment_book(
    appointment: Annotated[int, typer.Argument(help="Appointment (schedule item) id")],
    at: Annotated[str, typer.Option(help="Local date and time, YYYY-MM-DDTHH:MM")],
    location: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Book a time for an item."""
    from .services.appointments import book_appointment

    try:
        when = dt.datetime.fromisoformat(at)
    except ValueError:
        raise _fail(f"--at: {at!r} is not YYYY-MM-DDTHH:MM") from None
    with _clinic() as clinic:
        it = book_appointment(clinic, appointment, at=when, location=location)
        zone, zone_name = clinic.settings.zone, clinic.settings.timezone
    at_text = _local_time(it.scheduled_at, zone, zone_name) if it.scheduled_at is not None else "?"
    out.print(f"booked appointment {it.id} at {at_text}", highlight=False)


@appointment_app.command("complete")
def appointment_complete(
    appointment: Annotated[int, typer.Argument(help="Appointment (schedule item) id")],
    date: Annotated[str | None, typer.Option(help="Done on YYYY-MM-DD (default today)")] = None,
    note: Annotated[str, typer.Option()] = "",
) -> None:
    """Mark a review, DXA or lab item done."""
    from .services.appointments import complete_item

    with _clinic() as clinic:
        it = complete_item(clinic, appointment, done_on=_date(date, "--date"), note=note)
    out.print(f"appointment {it.id} done")


@appointment_app.command("cancel")
def appointment_cancel(
    appointment: Annotated[int, typer.Argument(help="Appointment (schedule item) id")],
    reason: Annotated[str, typer.Option(help="Why it is cancelled")],
    override_reason: Annotated[str | None, typer.Option(
        help="A doctor's written reason to cancel the follow-on review after denosumab or an anabolic drug while "
             "no course fulfils it")] = None,
) -> None:
    """Cancel an open review, DXA or lab item (a dose appointment moves with its course). A recurring review (the
    annual one) is booked again from its due date; the follow-on after denosumab or an anabolic drug needs
    --override-reason while no course fulfils it (exit 3)."""
    from .services.appointments import cancel_item

    with _clinic() as clinic:
        it = cancel_item(clinic, appointment, reason=reason, override_reason=override_reason)
    out.print(f"appointment {it.id} cancelled")


@reaction_app.command("record")
def reaction_record(
    record_id: Annotated[str, typer.Argument(help="Patient id")],
    kind: Annotated[str, typer.Option(help="fever, muscle_aches, joint_pain, acute_phase_reaction, allergy, "
                                           "injection_site_reaction, digestive_irritation, hypocalcaemia, headache, "
                                           "orthostatic_hypotension, other")],
    severity: Annotated[str, typer.Option(help="mild, moderate or severe")],
    drug: Annotated[str | None, typer.Option(help="Drug id (or give --course / --dose)")] = None,
    course: Annotated[int | None, typer.Option(help="Course id")] = None,
    dose: Annotated[int | None, typer.Option(help="Dose id")] = None,
    onset: Annotated[str | None, typer.Option(help="Onset date YYYY-MM-DD")] = None,
    outcome: Annotated[str, typer.Option(help="ongoing, resolving, resolved, resolved_with_sequelae, unknown")] = "unknown",
    resolved: Annotated[str | None, typer.Option(help="Resolved on YYYY-MM-DD")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    intolerance: Annotated[bool, typer.Option("--intolerance", help="Record as an intolerance (the engine sees "
                                                                    "it in later recommendations)")] = False,
) -> None:
    """Record a reaction with severity, onset and outcome."""
    from .services.reactions import record_reaction

    with _clinic() as clinic:
        r = record_reaction(clinic, record_id, kind=kind, severity=severity, drug=drug, course_id=course,
                            dose_id=dose, onset_on=_date(onset, "--onset"), outcome=outcome,
                            resolved_on=_date(resolved, "--resolved"), description=description,
                            intolerance=intolerance)
    out.print(f"recorded reaction {r.id}: {r.kind} ({r.severity}) to {r.drug}"
              + (" - recorded as an intolerance" if r.intolerance else ""))



@reaction_app.command("outcome")
def reaction_outcome(
    reaction_id: Annotated[int, typer.Argument(help="Reaction id (osteocare patient show lists them)")],
    outcome: Annotated[str, typer.Option(help="ongoing, resolving, resolved, resolved_with_sequelae, unknown")],
    resolved: Annotated[str | None, typer.Option(help="Resolved on YYYY-MM-DD (a resolved outcome without it is "
                                                      "dated today)")] = None,
) -> None:
    """Change a reaction's outcome (a resolved hypocalcaemia stops holding back the drug from its date)."""
    from .services.reactions import update_reaction_outcome

    with _clinic() as clinic:
        r = update_reaction_outcome(clinic, reaction_id, outcome=outcome, resolved_on=_date(resolved, "--resolved"))
    out.print(f"reaction {r.id}: {r.kind} to {r.drug} is {r.outcome}"
              + (f" (resolved {r.resolved_on.isoformat()})" if r.resolved_on else ""))

# --- worklist, calendar, demo, db -------------------------------------------------------------------------


def worklist_cmd(
    date: Annotated[str | None, typer.Option(help="The day, YYYY-MM-DD (default today)")] = None,
    days: Annotated[int, typer.Option(help="'This week' = the next N days")] = 7,
    limit: Annotated[int, typer.Option(help="Rows per section")] = 200,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The clinic's worklist: today's appointments, due today, due this week, overdue (urgent first)."""
    from .core.errors import InputError
    from .services.worklist import worklist

    with _clinic() as clinic:
        try:
            w = worklist(clinic, today=_date(date, "--date"), days=days, limit=limit)
        except InputError as exc:  # the service's "today" is this command's --date
            if exc.field != "today":
                raise
            raise _fail(str(InputError("--date", exc.value, exc.allowed))) from None
    if as_json:
        _print_json(w.model_dump(mode="json"))
        return
    c = w.counts
    out.print(f"[bold]Worklist {w.today}[/bold]: {c['appointments_today']} appointments, {c['due_today']} due "
              f"today, {c['due_this_week']} due by {w.week_end}, {c['overdue']} overdue ({c['overdue_doses']} doses)",
              highlight=False)
    if w.overdue:
        t = Table(title="Overdue")
        for col in ("severity", "patient", "item", "due", "late", "what", "status"):
            t.add_column(col)
        for a in w.overdue:
            colour = {"urgent": "red", "warning": "yellow", "info": "cyan"}[a.severity]
            t.add_row(f"[{colour}]{a.severity}[/{colour}]", _e(f"{a.patient_name} ({a.record_id})"), str(a.item_id),
                      str(a.due_on), f"{a.days_late} d", _e(a.text[:90]), _status(a.status))
        out.print(t)
    for title, items in (("Appointments today", w.appointments_today), ("Due today", w.due_today),
                         ("Due this week", w.due_this_week)):
        if not items:
            continue
        t = Table(title=title)
        for col in ("id", "patient", "kind", "drug", "due", "time", "why", "status"):
            t.add_column(col)
        for it in items:
            when = it.scheduled_at.astimezone(clinic.settings.zone).strftime("%H:%M") if it.scheduled_at else ""
            t.add_row(str(it.id), _e(f"{it.patient_name} ({it.record_id})"), it.kind, it.drug or it.lab_name or "",
                      str(it.due_on), when, _e(it.reason[:60]), _status(it.fact_status))
        out.print(t)
    if w.truncated:
        out.print(f"[yellow]Only the first {limit} rows per section are shown.[/yellow]")


def calendar_cmd(
    record_id: Annotated[str, typer.Argument(help="Patient id")],
    out_path: Annotated[Path | None, typer.Option("--out", help="Write to this .ics file (default stdout)")] = None,
    months: Annotated[int, typer.Option(help="How far ahead")] = 12,
    lang: Annotated[str, typer.Option(help="Language of the texts: en or vi")] = "en",
) -> None:
    """Export a patient's schedule as iCalendar (.ics) with reminders; no drug names in titles."""
    from .services.calendar import patient_calendar

    if out_path is not None and not out_path.parent.is_dir():
        raise _fail(f"--out: {str(out_path)!r} is not allowed; expected a file in an existing folder "
                    f"({out_path.parent} does not exist)")
    with _clinic() as clinic:
        data = patient_calendar(clinic, record_id, horizon_months=months, lang=lang)
    if out_path is None:
        sys.stdout.buffer.write(data)
    else:
        try:
            out_path.write_bytes(data)
        except OSError as exc:
            raise _fail(f"--out: {str(out_path)!r} cannot be written ({exc.strerror or exc}); expected a file in an "
                        "existing folder") from None
        out.print(f"wrote {_e(out_path)}", highlight=False)


def demo_cmd(
    patients: Annotated[int, typer.Option(help="How many demo patients")] = 300,
    seed: Annotated[int, typer.Option()] = 2024,
    prefix: Annotated[str, typer.Option(help="Patient id prefix")] = "DEMO",
) -> None:
    """Load a realistic demo clinic (invented patients on various courses, some overdue)."""
    from .services.demo import load_demo

    with _clinic(create=True) as clinic:
        s = load_demo(clinic, patients=patients, seed=seed, prefix=prefix)
    out.print(f"demo clinic: {s.patients} patients, {sum(s.courses.values())} courses "
              f"({', '.join(f'{k} {v}' for k, v in sorted(s.courses.items()))}), {s.doses} doses, "
              f"{s.reactions} reactions, {s.appointments_today} appointments today", highlight=False)


def _migrate(revision: str, down: bool) -> None:
    """Migrate the configured database to ``revision`` (up creates it on first use; down needs it to exist)."""
    from alembic.util import CommandError

    from .settings import get_settings, require_existing_database
    from .store.db import Database
    from .store.migrate import current_revision, downgrade, upgrade

    try:
        settings = get_settings()
        if down:
            require_existing_database(settings)
        db = Database(settings.database_url)
        try:
            (downgrade if down else upgrade)(db, revision)
            out.print(f"database at revision {current_revision(db) or 'base'}")
        finally:
            db.dispose()
    except CommandError as exc:
        first = "'base'" if down else "'head'"
        raise _fail(f"--revision: {revision!r} is not allowed ({exc}); expected {first} or a revision id") from None
    except OsteoCareError as exc:
        raise _fail(str(exc)) from None


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Option(help="Target revision")] = "head") -> None:
    """Migrate the database up (creates it on first use)."""
    _migrate(revision, down=False)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Option(help="Target revision ('base' = empty)")]) -> None:
    """Migrate the database down."""
    _migrate(revision, down=True)


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision."""
    from .settings import get_settings, require_existing_database
    from .store.db import Database
    from .store.migrate import current_revision, head_revision

    try:
        settings = get_settings()
        require_existing_database(settings)
    except OsteoCareError as exc:
        raise _fail(str(exc)) from None
    db = Database(settings.database_url)
    out.print(f"current {current_revision(db) or 'base'}, latest {head_revision()}")
    db.dispose()


@db_app.command("check")
def db_check() -> None:
    """Check every stored patient against the current rules of the record (exit 1 if any is refused): a patient
    stored before a rule was added cannot be opened or assessed until corrected. Run it after an upgrade."""
    from rich.progress import Progress

    from .services.patients import check_stored_records

    with _clinic() as clinic, Progress(console=err, transient=True) as bar:
        task = bar.add_task("checking stored records", total=None)
        problems = check_stored_records(clinic, progress=lambda done, total: bar.update(task, completed=done,
                                                                                        total=total))
    if not problems:
        out.print("every stored record is accepted by the current rules")
        return
    t = Table("record id", "first problem", title=f"{len(problems)} stored record(s) the current rules refuse")
    for rid, problem in problems:
        t.add_row(_e(rid), _e(problem))
    out.print(t)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the clinic commands to the main ``osteocare`` app."""
    app.add_typer(patient_app, name="patient")
    app.add_typer(exam_app, name="exam")
    app.add_typer(lab_app, name="lab")
    app.add_typer(course_app, name="course")
    app.add_typer(dose_app, name="dose")
    app.add_typer(appointment_app, name="appointment")
    app.add_typer(reaction_app, name="reaction")
    app.add_typer(entry_app, name="entry")
    app.add_typer(db_app, name="db")
    app.command("worklist")(worklist_cmd)
    app.command("calendar")(calendar_cmd)
    app.command("demo")(demo_cmd)
