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


def _as_of(value: str | None) -> dt.date | None:
    """The --as-of option: a date (YYYY-MM-DD), or None for today."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(f"--as-of: {value!r} is not a date; expected YYYY-MM-DD") from None


def _fail(msg: str, code: int = 2) -> typer.Exit:
    from rich.text import Text

    # the message quotes what the user gave: printed as it is, never read as rich markup ("[/red]")
    err.print(Text.assemble(("error:", "red"), " ", msg), highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(f"{path}: no such file") from None
    except IsADirectoryError:
        raise _fail(f"{path}: a folder; expected a JSON file") from None
    except UnicodeDecodeError as exc:
        raise _fail(f"{path}: not UTF-8 text (byte {exc.start}); expected a JSON file in UTF-8") from None
    except json.JSONDecodeError as exc:
        raise _fail(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise _fail(f"{path}: JSON nested too deeply to read; expected a patient record") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise _fail(f"{path}: not a usable JSON file ({exc})") from None
    except OSError as exc:
        raise _fail(f"{path}: cannot be read ({exc.strerror})") from None


@app.command()
def assess(
    patients: Annotated[list[Path] | None, typer.Argument(help="Patient record JSON file(s)")] = None,
    fhir: Annotated[list[Path] | None, typer.Option("--fhir", help="A FHIR R4 bundle with one patient")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result as JSON")] = False,
    guideline: Annotated[str | None, typer.Option(
        help="Guideline rule set: endocrine-society-2019, aace-2020, bhof-2022, nogg-2022, iof-esceo-2020 "
        "(default: the deployment's)")] = None,
    as_of: Annotated[str | None, typer.Option(help="Assessment date, YYYY-MM-DD (default today)")] = None,
) -> None:
    """Assess patients: bone density, fracture risk, kidney function (and treatment, where available)."""
    from .core.assessment import assess as run

    day = _as_of(as_of)
    records: list[tuple[Path, PatientRecord]] = []
    if not patients and not fhir:
        raise _fail("give patient record JSON file(s) or --fhir BUNDLE")
    for p in patients or []:
        try:
            records.append((p, parse_record(_read_json(p))))
        except OsteoCareError as exc:
            raise _fail(f"{p}: {exc}") from None
    for b in fhir or []:
        from .cli_fhir import record_from_fhir

        try:
            rec, report = record_from_fhir(b, as_of=day)
        except OsteoCareError as exc:
            raise _fail(f"{b}: {exc}") from None
        if not as_json:
            err.print(f"{b}: FHIR import: {report.summary(brief=True)}", markup=False, highlight=False, soft_wrap=True)
        records.append((b, rec))
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
    input: Annotated[str, typer.Argument(
        help="Patients, one row each: a .csv or .parquet file, or a database with --table: a PostgreSQL URL "
        "(postgresql://user@host:5432/db) or a DuckDB file (.duckdb)")],
    out_path: Annotated[Path, typer.Option("--out", help="Output file (.csv or .parquet)")],
    table: Annotated[str | None, typer.Option(
        help="Table or view to screen (name or schema.name) in a database input")] = None,
    chunk_rows: Annotated[int | None, typer.Option(help="Rows per chunk (bounds memory; default 50,000)")] = None,
    engine: Annotated[str, typer.Option(help="local, or dask (run the chunks on a Dask cluster)")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://host:8786")] = None,
    plot: Annotated[bool, typer.Option(help="Write OUT.summary.png and OUT.summary.html")] = True,
    guideline: Annotated[str | None, typer.Option(
        help="Guideline rule set for the stratum column: endocrine-society-2019, aace-2020, bhof-2022, nogg-2022, "
        "iof-esceo-2020 (default: the deployment's)")] = None,
    as_of: Annotated[str | None, typer.Option(help="Assessment date for every row, YYYY-MM-DD (default today)")] = None,
    threads: Annotated[int | None, typer.Option(
        help="Chunks scored at once (local engine; default one per core but one, at least 1, at most 4); fewer "
        "leaves more cores free and holds fewer chunks in memory")] = None,
) -> None:
    """Score patients (a file, or a PostgreSQL or DuckDB table) with the calculators; bad rows are flagged."""
    import pyarrow as pa
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.text import Text

    from .batch.screen import count_rows, screen_file
    from .batch.sources import describe
    from .core.risk.qfracture import DISCLAIMER

    day = _as_of(as_of)
    try:
        total = count_rows(input, table)
        with Progress(TextColumn("screening"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as progress:
            task = progress.add_task("rows", total=total)
            chunking = {} if chunk_rows is None else {"chunk_rows": chunk_rows}  # else the library's default
            summary = screen_file(input, out_path, **chunking, engine=engine, scheduler=scheduler, table=table,
                                  guideline=guideline, as_of=day, threads=threads,
                                  on_chunk=lambda n: progress.advance(task, n))
    except OsteoCareError as exc:
        raise _fail(str(exc)) from None
    except (OSError, pa.ArrowException) as exc:  # read or written part-way (screen_file names most cases itself)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise _fail(f"{describe(input)} -> {out_path}: {first}; nothing was written") from None
    from .core.risk.qfracture import ethnicity_default_note

    warnings = [*summary.input_notes, *([summary.repeated_text()] if summary.repeated_ids else [])]
    for w in warnings:  # before the table, where they are seen: a column not read, ids on more than one row
        err.print(Text.assemble(("warning:", "bold yellow"), " ", str(w)), highlight=False, soft_wrap=True)
    notes = [
        *warnings,
        "QFracture-2012 columns: " + DISCLAIMER,
        ethnicity_default_note(),
        "Decision support for clinicians; screening output is not a diagnosis.",
        *summary.notes,
    ]
    about = out_path.with_name(out_path.name + ".about.json")
    from .core.knowledge import release

    rel = release()
    about.write_text(json.dumps({"input": describe(input), "table": table, "output": str(out_path), "engine": engine,
                                 "guideline": summary.guideline,
                                 "as_of": summary.as_of.isoformat() if summary.as_of else None,
                                 "knowledge_version": rel.version, "knowledge_sha256": rel.sha256,
                                 "summary": summary.as_dict(), "notes": notes}, indent=2) + "\n")
    t = Table(title=f"Screened {summary.rows} rows -> {out_path}")
    t.add_column("what")
    t.add_column("count", justify="right")
    t.add_row("scored", str(summary.scored))
    t.add_row("flagged (not scored)", str(summary.flagged))
    for reason, n in summary.flag_reasons.most_common():
        t.add_row(f"  flagged: {reason}", str(n))
    if summary.repeated_ids:
        t.add_row("id of an earlier row (scored)", str(summary.repeated_ids))
    if summary.input_notes:
        t.add_row("columns not read (see warnings)", str(len(summary.input_notes)))
    for name, ctr in summary.counts.items():
        for k, v in sorted(ctr.items()):
            t.add_row(f"{name} = {k}", str(v))
    err.print(t)
    for n in summary.status_notes:  # what each calculator's columns rest on, as `assess` says it per patient
        err.print(Text.assemble(("status:", "bold yellow"), " ", n), highlight=False, soft_wrap=True)
    if plot and summary.rows:
        from .batch.plots import write

        png, page = write(summary, out_path, notes=notes)
        err.print(f"summary plot: {png}  page: {page}")
    err.print(f"[dim]QFracture-2012 columns: {DISCLAIMER}[/dim]")


@app.command("generate-population")
def generate_population(
    n: Annotated[int, typer.Argument(help="Number of patients")],
    out_path: Annotated[Path, typer.Option("--out", help="Output file (.csv or .parquet)")],
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same population)")] = 1,
) -> None:
    """Make a synthetic population (illustrative distributions) for demos and benchmarks."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .batch.population import check_generate, generate

    if n < 1:
        raise _fail(f"N: {n} is not allowed; expected a whole number of at least 1")
    try:
        check_generate(out_path, seed)  # before anything is generated or written
        with Progress(TextColumn("generating"), BarColumn(), MofNCompleteColumn(), console=err,
                      transient=True) as progress:
            task = progress.add_task("rows", total=n)
            generate(n, out_path, seed=seed, on_chunk=lambda k: progress.advance(task, k))
    except OsteoCareError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:  # e.g. the disk full part-way: nothing is left at --out
        raise _fail(f"--out: {out_path}: {exc.strerror or exc}; nothing was written") from None
    err.print(f"wrote {n} synthetic patients to {out_path}")


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


def _register_adapters() -> None:
    from . import cli_fhir

    cli_fhir.register(app)
    for name in ("cli_clinic", "cli_web"):
        try:
            mod = __import__(f"osteocare.{name}", fromlist=["register"])
        except ModuleNotFoundError as exc:  # an adapter not installed in this build
            if exc.name != f"osteocare.{name}":
                raise
            continue
        mod.register(app)


_register_adapters()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
