"""Database tables as a screening source: a PostgreSQL table or view, or a table in a DuckDB file.

Only the screening columns (:data:`~osteocare.batch.columns.INPUT_COLUMNS`) that the table has are read; other
columns are ignored, as in a file. The rows are read in chunks of about ``chunk_rows`` and go through the same
validator as a file's, so a bad cell flags its row and the run goes on.

- **PostgreSQL** (``postgresql://user@host:port/database``): the columns are streamed with
  ``COPY (SELECT ...) TO STDOUT (FORMAT csv)`` into Arrow's CSV reader, the reader of CSV files. Boolean columns
  are sent as 0/1. Everything is read in one read-only ``REPEATABLE READ`` transaction (one snapshot: rows
  written during the run are not half-read), with synchronised sequential scans off, so the rows come in the
  table's stored order and in the same order on every run (a view keeps its own ``ORDER BY``, if any).
- **DuckDB** (a ``.duckdb`` or ``.ddb`` file): opened read-only with one DuckDB thread (the cores are for
  scoring), read as Arrow batches in the table's insertion order.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..core.errors import InputError
from .columns import INPUT_COLUMNS

POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://", "postgresql+psycopg2://")
DUCKDB_SUFFIXES = (".duckdb", ".ddb")
PG_BOOL_OID = 16  # pg_type.oid of boolean
CONNECT_TIMEOUT_S = 10
MIN_BLOCK_BYTES = 1 << 20  # Arrow's CSV blocks from PostgreSQL: at least this, as for CSV files


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


def _pg_connect(url: str) -> Any:
    import psycopg

    try:
        conn = psycopg.connect(_libpq_url(url), connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError("input", describe(url), f"a PostgreSQL database that accepts the connection ({first})") from None
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def _pg_table(conn: Any, table: str) -> tuple[Any, list[tuple[str, int]]]:
    """(the table as a composed identifier, [(column, type oid)]); a clear error if it is not there."""
    import psycopg
    from psycopg import sql

    ident = sql.Identifier(*table_parts(table))
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(ident))
            cols = [(d.name, d.type_code) for d in cur.description or []]
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError("--table", table, f"a table or view that this connection can read ({first})") from None
    return ident, cols


def _pg_rows(url: str, table: str) -> int:
    from psycopg import sql

    conn = _pg_connect(url)
    try:
        ident, _ = _pg_table(conn, table)
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(ident))
            row = cur.fetchone()
        return int(row[0]) if row else 0
    finally:
        conn.close()


class _CopyStream(io.RawIOBase):
    """A readable byte stream over the data of a ``COPY ... TO STDOUT`` (psycopg gives it a row at a time)."""

    def __init__(self, head: bytes, rows: Iterator[Any]) -> None:
        self._pending = memoryview(head)
        self._rows = rows

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        out = memoryview(buf).cast("B")
        n = 0
        while n < len(out):
            if not len(self._pending):
                try:
                    self._pending = memoryview(next(self._rows)).cast("B")
                except StopIteration:
                    break
                continue
            k = min(len(out) - n, len(self._pending))
            out[n:n + k] = self._pending[:k]
            self._pending = self._pending[k:]
            n += k
        return n


def _pg_batches(url: str, table: str, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    from psycopg import sql

    from .screen import csv_stream_batches

    conn = _pg_connect(url)
    try:
        ident, cols = _pg_table(conn, table)
        types = dict(cols)
        names = _screening_columns([c for c, _ in cols])
        select = sql.SQL(", ").join(
            sql.SQL("{}::int AS {}").format(sql.Identifier(c), sql.Identifier(c)) if types[c] == PG_BOOL_OID
            else sql.Identifier(c) for c in names)
        with conn.cursor() as cur:
            cur.execute("SET LOCAL synchronize_seqscans TO off")
            query = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT (FORMAT csv, HEADER true)").format(select, ident)
            with cur.copy(query) as copy:
                rows = iter(copy)
                head, size = bytearray(), 0
                for row in rows:  # about 1 MB first, to size Arrow's blocks to chunk_rows rows
                    head += row
                    size += 1
                    if len(head) >= 1 << 20:
                        break
                per_row = len(head) / max(size, 1)
                block = int(min(max(chunk_rows * per_row * 1.02, MIN_BLOCK_BYTES), 1 << 30))
                stream = io.BufferedReader(_CopyStream(bytes(head), rows), buffer_size=1 << 20)
                yield from csv_stream_batches(stream, block, f"table {table}")
    finally:
        conn.close()


# --- DuckDB -----------------------------------------------------------------------------------------------


def _duck_quote(parts: tuple[str, ...]) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


def _duck_connect(path: str) -> Any:
    import duckdb

    if not Path(path).exists():
        raise InputError("input", path, "an existing DuckDB database file")
    try:
        return duckdb.connect(path, read_only=True, config={"threads": 1})
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError("input", path, f"a DuckDB database file ({first})") from None


def _duck_query(con: Any, table: str, what: str | None = None) -> Any:
    import duckdb

    name = _duck_quote(table_parts(table))
    try:
        names = [d[0] for d in con.sql(f"SELECT * FROM {name} LIMIT 0").description]
        select = what or ", ".join(_duck_quote((c,)) for c in _screening_columns(names))
        return con.sql(f"SELECT {select} FROM {name}")
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError("--table", table, f"a table or view in that DuckDB file ({first})") from None


def _duck_batches(path: str, table: str, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    con = _duck_connect(path)
    try:
        reader = _duck_query(con, table).to_arrow_reader(chunk_rows)
        yield from reader
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
    """The screening columns of ``table`` in the database ``src``, in chunks of about ``chunk_rows`` rows."""
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
