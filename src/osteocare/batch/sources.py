"""Database tables as a screening source: a PostgreSQL table or view, or a table in a DuckDB file.

Only the screening columns (:data:`~osteocare.batch.columns.INPUT_COLUMNS`) that the table has are read; other
columns are ignored, as in a file. The rows are read in chunks of ``chunk_rows`` and go through the same
validator as a file's, so a bad cell flags its row and the run goes on.

- **PostgreSQL** (``postgresql://user@host:port/database``): read with the ADBC PostgreSQL driver, which
  streams the query's rows in PostgreSQL's binary COPY format straight into Arrow columns (typed: booleans,
  integers, floats; ``numeric`` comes as text and is parsed by the validator). One query, so one snapshot:
  rows written during the run are not half-read. Synchronised sequential scans are off for the session, so
  the rows come in the table's stored order and in the same order on every run (a view keeps its own
  ``ORDER BY``, if any). The stored order is not always the insertion order.
- **DuckDB** (a ``.duckdb`` or ``.ddb`` file): opened read-only with one DuckDB thread (the cores are for
  scoring), read as Arrow batches in the table's insertion order.

Both are cut into batches of exactly ``chunk_rows`` rows (:func:`rechunk`), as the local and Dask engines
expect of a chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..core.errors import InputError
from .columns import INPUT_COLUMNS

POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://", "postgresql+psycopg2://")
DUCKDB_SUFFIXES = (".duckdb", ".ddb")


def source_kind(src: str | Path) -> str | None:
    """"postgresql" or "duckdb" for a database source, None for a file."""
    text = str(src)
    if text.startswith(POSTGRES_SCHEMES):
        return "postgresql"
    if Path(text).suffix.lower() in DUCKDB_SUFFIXES:
        return "duckdb"
    return None


def describe(src: str | Path) -> str:
    """``src`` as it may be shown or stored: a PostgreSQL URL without its password."""
    text = str(src)
    if source_kind(text) != "postgresql":
        return text
    from sqlalchemy.engine import make_url

    try:
        return make_url(_libpq_url(text)).render_as_string(hide_password=True)
    except Exception:  # not parseable as a URL: show the scheme only
        return text.split("://", 1)[0] + "://..."


def table_parts(table: str | None) -> tuple[str, ...]:
    """``name`` or ``schema.name`` -> its parts (each quoted as an identifier when the query is made)."""
    parts = tuple(p.strip() for p in (table or "").split("."))
    if not table or len(parts) > 2 or not all(parts):
        raise InputError("--table", table, "a table name, or schema.table, in the database given as the input")
    return parts


def _libpq_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def _screening_columns(names: list[str]) -> list[str]:
    present = set(names)
    cols = [c for c in INPUT_COLUMNS if c in present]
    if not cols:
        raise InputError("--table", ", ".join(names) or "(no columns)",
                         "a table with the screening columns (id, sex, age, ...; docs/screening.md)")
    return cols


# --- PostgreSQL -------------------------------------------------------------------------------------------


def _quote(parts: tuple[str, ...]) -> str:
    """A (schema-qualified) name as SQL identifiers (the same quoting in PostgreSQL and DuckDB)."""
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _pg_connect(url: str) -> Any:
    import adbc_driver_postgresql.dbapi as pg

    try:
        return pg.connect(_libpq_url(url))
    except pg.Error as exc:
        raise InputError("input", describe(url), f"a PostgreSQL database that accepts the connection "
                         f"({_first_line(exc)})") from None


def _pg_query(conn: Any, table: str, what: str | None = None) -> str:
    """``SELECT`` of the screening columns (or ``what``) of ``table``; a clear error if it is not there."""
    import adbc_driver_postgresql.dbapi as pg

    name = _quote(table_parts(table))
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM {name} LIMIT 0")
            names = [d[0] for d in cur.description or []]
    except pg.Error as exc:
        raise InputError("--table", table, f"a table or view that this connection can read "
                         f"({_first_line(exc).split(': ', 1)[-1]})") from None
    select = what or ", ".join(_quote((c,)) for c in _screening_columns(names))
    return f"SELECT {select} FROM {name}"


def _pg_rows(url: str, table: str) -> int:
    conn = _pg_connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(_pg_query(conn, table, "count(*)"))
            row = cur.fetchone()
        return int(row[0]) if row else 0
    finally:
        conn.close()


def _pg_batches(url: str, table: str, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    conn = _pg_connect(url)
    try:
        query = _pg_query(conn, table)
        with conn.cursor() as cur:
            # rows in stored order, the same on every run (a synchronised scan may start mid-table)
            cur.execute("SET synchronize_seqscans TO off")
            cur.execute(query)
            yield from rechunk(cur.fetch_record_batch(), chunk_rows)
    finally:
        conn.close()


def rechunk(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The rows of ``batches`` again, in batches of exactly ``rows`` rows (the last one may be shorter)."""
    pending: list[pa.RecordBatch] = []
    have = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - have, batch.num_rows)
            pending.append(batch.slice(0, take))
            have += take
            batch = batch.slice(take)
            if have == rows:
                yield _joined(pending)
                pending, have = [], 0
    if pending:
        yield _joined(pending)


def _joined(parts: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(parts) == 1:
        return parts[0]
    return pa.Table.from_batches(parts).combine_chunks().to_batches()[0]


# --- DuckDB -----------------------------------------------------------------------------------------------


def _duck_connect(path: str) -> Any:
    import duckdb

    if not Path(path).exists():
        raise InputError("input", path, "an existing DuckDB database file")
    try:
        return duckdb.connect(path, read_only=True, config={"threads": 1})
    except duckdb.Error as exc:
        raise InputError("input", path, f"a DuckDB database file ({_first_line(exc)})") from None


def _duck_query(con: Any, table: str, what: str | None = None) -> Any:
    import duckdb

    name = _quote(table_parts(table))
    try:
        names = [d[0] for d in con.sql(f"SELECT * FROM {name} LIMIT 0").description]
        select = what or ", ".join(_quote((c,)) for c in _screening_columns(names))
        return con.sql(f"SELECT {select} FROM {name}")
    except duckdb.Error as exc:
        raise InputError("--table", table, f"a table or view in that DuckDB file ({_first_line(exc)})") from None


def _duck_batches(path: str, table: str, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    con = _duck_connect(path)
    try:
        yield from rechunk(_duck_query(con, table).to_arrow_reader(chunk_rows), chunk_rows)
    finally:
        con.close()


def _duck_rows(path: str, table: str) -> int:
    con = _duck_connect(path)
    try:
        rows = _duck_query(con, table, "count(*)").fetchall()
        return int(rows[0][0]) if rows else 0
    finally:
        con.close()


# --- entry points -----------------------------------------------------------------------------------------


def table_batches(src: str | Path, table: str | None, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    """The screening columns of ``table`` in the database ``src``, in chunks of ``chunk_rows`` rows."""
    kind = source_kind(src)
    if kind is None:
        raise InputError("input", str(src), "a PostgreSQL URL (postgresql://...) or a DuckDB file (.duckdb)")
    if table is None:
        raise InputError("--table", "(none given)", f"the name of the table to screen in {describe(src)}")
    table_parts(table)
    if kind == "postgresql":
        return _pg_batches(str(src), table, chunk_rows)
    return _duck_batches(str(src), table, chunk_rows)


def table_rows(src: str | Path, table: str) -> int:
    """The number of rows in ``table`` (for the progress bar)."""
    if source_kind(src) == "postgresql":
        return _pg_rows(str(src), table)
    return _duck_rows(str(src), table)
