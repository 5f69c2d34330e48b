"""``osteocare import-fhir`` and the helper behind ``osteocare assess --fhir``: FHIR R4 bundles -> patient records.

Thin: read, call :mod:`osteocare.fhir`, store through :mod:`osteocare.services`, print the import report, set the
exit code. The owner of ``cli.py`` calls :func:`register` once.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .core.errors import OsteoCareError
from .core.records import PatientRecord
from .fhir import ImportReport, ImportResult, import_path
from .fhir import record_from_fhir as _record_from_fhir

out = Console()
err = Console(stderr=True)


def record_from_fhir(path: str | Path, *, as_of: dt.date | None = None) -> tuple[PatientRecord, ImportReport]:
    """The one patient of a FHIR bundle file and its import report (``osteocare assess --fhir BUNDLE``).

    Raises :class:`~osteocare.core.errors.InputError` naming the file and why when the bundle does not hold
    exactly one usable patient.
    """
    return _record_from_fhir(path, as_of=as_of)


def _identity(path: str) -> dict[str, dict[str, Any]]:
    """Patient id -> clinic identity (names, birth date) read from the bundle's Patient resources."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    found: dict[str, dict[str, Any]] = {}

    def walk(b: Any) -> None:
        if not isinstance(b, dict):
            return
        for e in b.get("entry") or []:
            r = e.get("resource") if isinstance(e, dict) else None
            if not isinstance(r, dict):
                continue
            if r.get("resourceType") == "Bundle":
                walk(r)
            elif r.get("resourceType") == "Patient":
                name = next((n for n in r.get("name") or [] if isinstance(n, dict)), {})
                ident: dict[str, Any] = {}
                if name.get("family"):
                    ident["family_name"] = str(name["family"])
                if name.get("given"):
                    ident["given_name"] = " ".join(str(g) for g in name["given"])
                birth = r.get("birthDate")
                if isinstance(birth, str) and len(birth) == 10:
                    ident["birth_date"] = birth
                found[str(r.get("id"))] = ident

    walk(data)
    return found


def _table(results: list[ImportResult]) -> Table:
    t = Table(title="FHIR import")
    for col in ("file", "patient", "record", "mapped", "flagged", "skipped", "errors", "status"):
        t.add_column(col, justify="right" if col in ("mapped", "flagged", "skipped", "errors") else "left")
    for r in results:
        c = r.report.counts
        style = {"verified": "green", "secondary": "yellow", "unverified": "red"}[r.report.status]
        t.add_row(Path(r.report.source).name, r.report.patient or "-",
                  r.record.id if r.record else "[red]not created[/red]", str(c["mapped"]), str(c["flagged"]),
                  str(c["skipped"]), str(c["error"]), f"[{style}]{r.report.status}[/{style}]")
    return t


def _store(results: list[ImportResult], update: bool) -> tuple[list[str], list[str], dict[str, str]]:
    from .services.context import Clinic
    from .services.patients import import_patients

    rows = []
    idents: dict[str, dict[str, dict[str, Any]]] = {}
    for r in results:
        if r.record is None:
            continue
        if r.report.source not in idents:
            idents[r.report.source] = _identity(r.report.source)
        row = r.record.model_dump(mode="json")
        row.update(idents[r.report.source].get(r.report.patient or "", {}))
        rows.append(row)
    clinic = Clinic.open()
    try:
        res = import_patients(clinic, rows, update_existing=update)
    finally:
        clinic.close()
    return res.created, res.updated, res.errors


def register(app: typer.Typer) -> None:
    """Add ``import-fhir`` to the ``osteocare`` command line."""

    @app.command("import-fhir")
    def import_fhir(
        paths: Annotated[list[Path], typer.Argument(help="FHIR R4 Bundle JSON file(s), or folder(s) of them")],
        as_of: Annotated[str | None, typer.Option(help="Date the ages and current facts refer to, YYYY-MM-DD "
                                                       "(default today)")] = None,
        store: Annotated[bool, typer.Option("--store/--no-store", help="Store the patients (default) or only "
                                                                      "print the records as JSON")] = True,
        update: Annotated[bool, typer.Option("--update", help="Replace the facts of patients already stored")] = False,
        report: Annotated[Path | None, typer.Option(help="Also write the full import reports to this JSON file")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print every report in full")] = False,
    ) -> None:
        """Import FHIR R4 bundles (transaction, collection, searchset): one patient record per Patient, with a
        report of what was read, mapped, flagged and skipped, and why."""
        day = None
        if as_of:
            try:
                day = dt.date.fromisoformat(as_of)
            except ValueError:
                err.print(f"[red]error:[/red] --as-of: {escape(repr(as_of))} is not a date; expected YYYY-MM-DD")
                raise typer.Exit(2) from None
        results: list[ImportResult] = []
        for p in paths:
            if not p.exists():
                err.print(f"[red]error:[/red] {escape(str(p))}: no such file or folder")
                raise typer.Exit(2)
            results.extend(import_path(p, as_of=day))
        if not results:
            err.print("[red]error:[/red] no JSON files found")
            raise typer.Exit(2)
        for r in results:
            if verbose or r.record is None:
                err.print(r.report.summary(), markup=False, highlight=False, soft_wrap=True)
            for w in r.report.warnings:
                if "(status:" in w:
                    err.print(f"warning: {r.report.patient}: {w}", markup=False, highlight=False, soft_wrap=True)
        err.print(_table(results))
        if report is not None:
            report.write_text(json.dumps([r.report.model_dump(mode="json") for r in results], indent=2) + "\n",
                              encoding="utf-8")
            err.print(f"import reports written to {report}", markup=False)
        made = [r for r in results if r.record is not None]
        failed = len(results) - len(made)
        if not store:
            payload = [r.record.model_dump(mode="json") for r in made if r.record is not None]
            sys.stdout.write(json.dumps(payload, indent=2) + "\n")
            raise typer.Exit(1 if failed else 0)
        try:
            created, updated, errors = _store(made, update)
        except OsteoCareError as exc:
            err.print(f"[red]error:[/red] storing the patients: {escape(str(exc))}")
            raise typer.Exit(2) from None
        for rid, why in errors.items():
            err.print(f"not stored: {rid}: {why}", markup=False, highlight=False, soft_wrap=True)
        err.print(f"stored: {len(created)} created, {len(updated)} updated"
                  + (f"; {len(errors)} refused (nothing written)" if errors else ""))
        raise typer.Exit(1 if failed or errors else 0)
