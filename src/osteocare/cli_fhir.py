"""``osteocare import-fhir``, ``osteocare export-fhir`` and the helper behind ``osteocare assess --fhir``: FHIR R4
bundles <-> patient records.

Thin: read, call :mod:`osteocare.fhir`, store or read through :mod:`osteocare.services`, print the import report or
write the bundle, set the exit code (0 done; 2 bad input or not found). The owner of ``cli.py`` calls
:func:`register` once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .core.errors import InputError, OsteoCareError
from .core.records import PatientRecord
from .fhir import ImportReport, ImportResult, import_path
from .fhir import record_from_fhir as _record_from_fhir
from .fhir.importer import patient_identities

out = Console()
err = Console(stderr=True)


def record_from_fhir(path: str | Path, *, as_of: dt.date | None = None) -> tuple[PatientRecord, ImportReport]:
    """The one patient of a FHIR bundle file and its import report (``osteocare assess --fhir BUNDLE``).

    Raises :class:`~osteocare.core.errors.InputError` saying why when the file cannot be read or does not hold
    exactly one usable patient. The message leaves the file out (its field is "FHIR bundle"): the caller prints
    ``f"{file}: {error}"``, as plain text (the message quotes user values, e.g. a gender of ``[/red]``).
    """
    try:
        return _record_from_fhir(path, as_of=as_of)
    except InputError as exc:
        if exc.field != str(path):
            raise
        raise InputError("FHIR bundle", exc.value, exc.allowed, unit=exc.unit) from None


def _identity(path: str) -> dict[str, dict[str, Any]]:
    """Patient key -> clinic identity (names cleaned of control characters, birth date) from the bundle."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return patient_identities(data)
    except (OSError, ValueError, RecursionError):
        return {}


def _table(results: list[ImportResult]) -> Table:
    t = Table(title="FHIR import")
    for col in ("file", "patient", "record", "mapped", "flagged", "skipped", "errors", "status"):
        t.add_column(col, justify="right" if col in ("mapped", "flagged", "skipped", "errors") else "left")
    for r in results:
        c = r.report.counts
        style = {"verified": "green", "secondary": "yellow", "unverified": "red"}[r.report.status]
        t.add_row(escape(Path(r.report.source).name), escape(r.report.patient or "-"),
                  escape(r.record.id) if r.record else "[red]not created[/red]", str(c["mapped"]), str(c["flagged"]),
                  str(c["skipped"]), str(c["error"]), f"[{style}]{r.report.status}[/{style}]")
    return t


def _why_not(report: ImportReport) -> str:
    errors = [f"{e.resource}: {e.reason}" for e in report.entries if e.outcome == "error"]
    return "; ".join(errors) or "no record could be made"


def _store(results: list[ImportResult], update: bool) -> tuple[list[str], list[str], dict[str, str], list[str]]:
    """Store every record in one all-or-nothing transaction (:func:`~osteocare.services.patients.import_patients`)."""
    from .services.context import Clinic
    from .services.patients import RETRACTED_KEY, import_patients

    rows = []
    idents: dict[str, dict[str, dict[str, Any]]] = {}
    for r in results:
        if r.record is None:
            continue
        if r.report.source not in idents:
            idents[r.report.source] = _identity(r.report.source)
        row = r.record.model_dump(mode="json")
        row.update(idents[r.report.source].get(r.report.patient or "", {}))
        if r.report.retracted_labs:
            row[RETRACTED_KEY] = [{**x, "date": x["date"].isoformat() if x["date"] else None}
                                  for x in r.report.retracted_labs]
        rows.append(row)
    clinic = Clinic.open()
    try:
        res = import_patients(clinic, rows, update_existing=update)
    finally:
        clinic.close()
    from .services.patients import kept_lines

    return res.created, res.updated, res.errors, kept_lines(res)


def _fail(message: str) -> typer.Exit:
    err.print("[red]error:[/red] " + escape(message), highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _export(record_id: str, day: dt.date | None, guideline: str | None) -> dict[str, Any]:
    """The FHIR bundle of a stored patient (record, assessment, identity); the reads are audited."""
    from .fhir.export import export_record_assessment
    from .services.context import Clinic
    from .services.patients import get_patient, get_record, phone_of
    from .settings import get_settings, require_existing_database

    settings = get_settings()
    require_existing_database(settings)
    clinic = Clinic.open(settings)
    try:
        as_of = day or clinic.today()
        summary = get_patient(clinic, record_id)
        record = get_record(clinic, record_id, as_of=as_of)
        identity = {"given_name": summary.given_name, "family_name": summary.family_name,
                    "birth_date": summary.birth_date, "phone": phone_of(clinic, record_id)}
        return export_record_assessment(record, as_of=as_of, guideline=guideline, identity=identity)
    finally:
        clinic.close()


def export_fhir(
    record_id: Annotated[str, typer.Argument(help="Patient id (record id) in the clinic database")],
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the bundle to this JSON file (default "
                                                                "stdout)")] = None,
    as_of: Annotated[str | None, typer.Option(help="Assessment date, YYYY-MM-DD (default the clinic's today)")] = None,
    guideline: Annotated[str | None, typer.Option(
        help="Guideline rule set: endocrine-society-2019, aace-2020, bhof-2022, nogg-2022, iof-esceo-2020 "
        "(default: the deployment's)")] = None,
) -> None:
    """Export a stored patient as a FHIR R4 Bundle: the record's facts, the assessment (risks, derived T-scores),
    the treatment recommendation and its provenance; import-fhir reads it back."""
    from sqlalchemy.exc import SQLAlchemyError

    day = None
    if as_of is not None:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise _fail(f"--as-of: {as_of!r} is not a date; expected YYYY-MM-DD") from None
    if out_path is not None and (out_path.is_dir() or not out_path.parent.is_dir()):
        what = "a folder" if out_path.is_dir() else f"in a folder that does not exist ({out_path.parent})"
        raise _fail(f"--out: {str(out_path)!r} is not allowed ({what}); expected a file path in an existing folder")
    try:
        bundle = _export(record_id, day, guideline)
    except OsteoCareError as exc:
        raise _fail(str(exc)) from None
    except SQLAlchemyError as exc:
        raise _fail(f"reading the clinic database failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    if out_path is None:
        sys.stdout.write(text)
        return
    try:  # it names the patient: readable by its owner only, as the demo's sign-ins are
        fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        out_path.chmod(0o600)  # an existing file keeps its mode through O_TRUNC
    except OSError as exc:
        raise _fail(f"--out: {str(out_path)!r} cannot be written ({exc.strerror or type(exc).__name__}); expected a "
                    "file path in an existing folder") from None
    err.print(f"FHIR bundle of patient {record_id} written to {out_path}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``import-fhir`` and ``export-fhir`` to the ``osteocare`` command line."""
    app.command("export-fhir")(export_fhir)

    @app.command("import-fhir")
    def import_fhir(
        paths: Annotated[list[Path], typer.Argument(help="FHIR R4 Bundle JSON file(s), or folder(s) of them")],
        as_of: Annotated[str | None, typer.Option(help="Date the ages and current facts refer to, YYYY-MM-DD "
                                                       "(default today)")] = None,
        store: Annotated[bool, typer.Option("--store/--no-store", help="Store the patients (default) or only "
                                                                      "print the records as JSON")] = True,
        update: Annotated[bool, typer.Option("--update", help="Replace the facts of patients already stored; stored labs, "
                                                  "exams and entries entered in the clinic are kept, but an imported "
                                                  "lab the bundle marks entered-in-error is removed")] = False,
        report: Annotated[Path | None, typer.Option(help="Also write the full import reports to this JSON file")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print every report in full")] = False,
    ) -> None:
        """Import FHIR R4 bundles (transaction, collection, searchset): one patient record per Patient, with a
        report of what was read, mapped, flagged and skipped, and why."""
        def fail(message: str) -> typer.Exit:
            err.print("[red]error:[/red] " + escape(message), highlight=False, soft_wrap=True)
            return typer.Exit(2)

        day = None
        if as_of:
            try:
                day = dt.date.fromisoformat(as_of)
            except ValueError:
                raise fail(f"--as-of: {as_of!r} is not a date; expected YYYY-MM-DD") from None
        if report is not None and (report.is_dir() or not report.parent.is_dir()):
            raise fail(f"--report: {str(report)!r} is not allowed; expected a file path in an existing folder")
        results: list[ImportResult] = []
        for p in paths:
            if not p.exists():
                raise fail(f"{p}: no such file or folder")
            results.extend(import_path(p, as_of=day))
        if not results:
            raise fail("no JSON files found")
        for r in results:
            if verbose or r.record is None:
                err.print(r.report.summary(), markup=False, highlight=False, soft_wrap=True)
            for w in r.report.warnings:
                if "(status:" in w:
                    err.print(f"warning: {r.report.patient}: {w}", markup=False, highlight=False, soft_wrap=True)
        err.print(_table(results))
        if report is not None:
            try:
                report.write_text(json.dumps([r.report.model_dump(mode="json") for r in results], indent=2) + "\n",
                                  encoding="utf-8")
            except OSError as exc:
                raise fail(f"--report: cannot write {str(report)!r} ({exc.strerror or type(exc).__name__})") from None
            err.print(f"import reports written to {report}", markup=False)
        made = [r for r in results if r.record is not None]
        refused = [r for r in results if r.record is None]
        if refused:
            # All or nothing: one refused bundle (or patient) and nothing is stored or printed.
            for r in refused:
                err.print(f"refused: {r.report.source}: patient {r.report.patient or '(none)'}: {_why_not(r.report)}",
                          markup=False, highlight=False, soft_wrap=True)
            raise fail(f"nothing {'stored' if store else 'printed'}: {len(refused)} of {len(results)} patient(s) "
                       "could not be imported (see above); fix or leave out those files and run again")
        if not store:
            payload = [r.record.model_dump(mode="json") for r in made if r.record is not None]
            sys.stdout.write(json.dumps(payload, indent=2) + "\n")
            raise typer.Exit(0)
        from sqlalchemy.exc import SQLAlchemyError

        try:
            created, updated, errors, kept = _store(made, update)
        except OsteoCareError as exc:
            raise fail(f"storing the patients: {exc}") from None
        except SQLAlchemyError as exc:
            raise fail(f"storing the patients failed, nothing stored: {type(exc).__name__}: "
                       f"{str(exc).splitlines()[0]}") from None
        for rid, why in errors.items():
            err.print(f"not stored: {rid}: {why}", markup=False, highlight=False, soft_wrap=True)
        if errors:
            raise fail(f"nothing stored: {len(errors)} of {len(made)} patient(s) refused")
        for line in kept:
            err.print(line, markup=False, highlight=False, soft_wrap=True)
        err.print(f"stored: {len(created)} created, {len(updated)} updated")
        raise typer.Exit(0)
