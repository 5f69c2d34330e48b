"""The ``osteocare`` command line. Thin: parse, call the core or a service, print, set the exit code."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .core.errors import OsteoCareError
from .core.records import PatientRecord, parse_record

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
out = Console(width=120) if not sys.stdout.isatty() else Console()
err = Console(stderr=True)


def _fail(msg: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {msg}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise _fail(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None


@app.command()
def assess(
    patients: Annotated[list[Path], typer.Argument(help="Patient record JSON file(s)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result as JSON")] = False,
    guideline: Annotated[str | None, typer.Option(help="Guideline rule set id")] = None,
    as_of: Annotated[str | None, typer.Option(help="Assessment date, YYYY-MM-DD (default today)")] = None,
) -> None:
    """Assess patients: bone density, fracture risk, kidney function (and treatment, where available)."""
    from .core.assessment import assess as run

    day = None
    if as_of:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise _fail(f"--as-of: {as_of!r} is not a date; expected YYYY-MM-DD") from None
    records: list[tuple[Path, PatientRecord]] = []
    for p in patients:
        try:
            records.append((p, parse_record(_read_json(p))))
        except OsteoCareError as exc:
            raise _fail(f"{p}: {exc}") from None
    results = []
    for p, rec in records:
        try:
            results.append(run(rec, guideline=guideline, as_of=day))
        except OsteoCareError as exc:
            raise _fail(f"{p}: {exc}") from None
    if as_json:
        payload = [r.model_dump(mode="json") for r in results]
        out.print_json(json.dumps(payload[0] if len(payload) == 1 else payload))
        return
    from .report import render

    for r in results:
        render(r, out)


@app.command()
def screen(
    input: Annotated[Path, typer.Argument(help="Patients, one row each (.csv or .parquet)")],
    out_path: Annotated[Path, typer.Option("--out", help="Output file (.csv or .parquet)")],
    chunk_rows: Annotated[int, typer.Option(help="Rows per chunk (bounds memory)")] = 250_000,
) -> None:
    """Score a file of patients with the calculators, flagging bad rows and carrying on."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .batch.screen import count_rows, screen_file

    try:
        total = count_rows(input) if input.exists() else None
        with Progress(TextColumn("screening"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as progress:
            task = progress.add_task("rows", total=total)
            summary = screen_file(input, out_path, chunk_rows=chunk_rows,
                                  on_chunk=lambda n: progress.advance(task, n))
    except OsteoCareError as exc:
        raise _fail(str(exc)) from None
    t = Table(title=f"Screened {summary.rows} rows -> {out_path}")
    t.add_column("what")
    t.add_column("count", justify="right")
    t.add_row("scored", str(summary.scored))
    t.add_row("flagged (not scored)", str(summary.flagged))
    for reason, n in summary.flag_reasons.most_common():
        t.add_row(f"  flagged: {reason}", str(n))
    for name, ctr in summary.counts.items():
        for k, v in sorted(ctr.items()):
            t.add_row(f"{name} = {k}", str(v))
    err.print(t)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the patient record."""
    sys.stdout.write(json.dumps(PatientRecord.model_json_schema(), indent=2) + "\n")


@app.command()
def knowledge() -> None:
    """List the knowledge files with their version and status."""
    from .core.knowledge import all_files, paths, release

    rel = release()
    t = Table(title=f"Knowledge release {rel.version} (sha256 {rel.sha256[:12]})")
    for col in ("id", "version", "status", "kind", "file", "title"):
        t.add_column(col)
    where = paths()
    for kid, kf in sorted(all_files().items()):
        style = {"verified": "green", "secondary": "yellow", "unverified": "red"}[kf.status]
        t.add_row(kid, kf.version, f"[{style}]{kf.status}[/{style}]", kf.kind, where[kid], kf.title)
    out.print(t)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
