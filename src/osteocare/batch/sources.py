"""Database tables as a screening source: a PostgreSQL table or view, or a table in a DuckDB file.

Only the screening columns (:data:`~osteocare.batch.columns.INPUT_COLUMNS`) that the table has are read; other
columns are ignored, as in a file. The rows are read in chunks of ``chunk_rows`` and go through the same
validator as a file's, so a bad cell flags its row and the run goes on.

- **PostgreSQL** (``postgresql://user@host:port/database``): read with the ADBC PostgreSQL driver, which
  streams the query's rows in PostgreSQL's binary COPY format straight into Arrow columns (typed: booleans,
  integers, floats, text). Any other column type (``numeric``, ``uuid``, an enum, a date) is cast to text in
  the query and parsed by the validator (:func:`_select_list`). One query, so one snapshot: rows written
  during the run are not half-read. Synchronised sequential scans and parallel plans are off for the
  session, so the rows come in the table's stored order and in the same order on every run (a view keeps its
  own ``ORDER BY``, if any). The stored order is not always the insertion order. Passwords are kept out of
  every message (:func:`redact`).
- **DuckDB** (a ``.duckdb`` or ``.ddb`` file): opened read-only with one DuckDB thread (the cores are for
  scoring), read as Arrow batches in the table's insertion order.

Both are cut into batches of exactly ``chunk_rows`` rows (:func:`rechunk`), as the local and Dask engines
expect of a chunk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..core.errors import InputError
from .columns import INPUT_COLUMNS, check_columns

DUCKDB_SUFFIXES = (".duckdb", ".ddb")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def source_kind(src: str | Path) -> str | None:
    """"postgresql" or "duckdb" for a database source, None for a file. PostgreSQL: a URL whose scheme is
    ``postgresql`` or ``postgres``, in any case, with or without a driver (``postgresql+psycopg://``)."""
    text = str(src)
    m = _URL.match(text)
    if m and m.group(1).lower().split("+", 1)[0] in ("postgresql", "postgres"):
        return "postgresql"
    if not m and Path(text).suffix.lower() in DUCKDB_SUFFIXES:
        return "duckdb"
    return None


def _secrets(url: str) -> list[str]:
    """The password(s) in a URL, however it is written: ``user:password@``, ``?password=``, or an ``@`` left
    unencoded in the password (which a driver may then show as part of the host name)."""
    from urllib.parse import parse_qs, unquote

    rest = url.split("://", 1)[-1]
    found: set[str] = set()
    authority = rest.split("?", 1)[0]
    if "@" in authority:
        userinfo = authority.rsplit("@", 1)[0]
        if ":" in userinfo:
            found.add(userinfo.split(":", 1)[1])
    if "?" in rest:
        for key, values in parse_qs(rest.split("?", 1)[1], keep_blank_values=True).items():
            if key.lower() in ("password", "passfile", "sslpassword"):
                found.update(values)
    found |= {unquote(f) for f in found}
    pieces = {p for f in found for p in re.split(r"[@/:?#&=]", f) if len(p) >= 4}
    return sorted(found | pieces, key=len, reverse=True)


def redact(text: str, url: str) -> str:
    """``text`` with every password of ``url`` (and every longer piece of one) replaced by ``***``."""
    for secret in _secrets(url):
        if secret:
            text = text.replace(secret, "***")
    return text


def describe(src: str | Path) -> str:
    """``src`` as it may be shown or stored: a URL without its password (user:password@, ?password=)."""
    text = str(src)
    if not _URL.match(text):
        return text
    return redact(text, text)


def table_parts(table: str | None) -> tuple[str, ...]:
    """``name`` or ``schema.name`` -> its parts (each quoted as an identifier when the query is made, so no text
    of ``--table`` is ever read as SQL). A part is taken as written, upper and lower case kept (a quote in it is
    part of the name); a part that starts with a double quote ends with one, holds any other text, dots and
    spaces included, and ``""`` for a quote (``"my schema"."patients.2026"``)."""
    allowed = ('a table name, or schema.table, in the database given as the input (a name that holds a dot is '
               'written in double quotes: "schema"."name.with.dots")')
    if not table or any(ord(ch) < 32 or ord(ch) == 127 for ch in table):
        raise InputError("--table", table, allowed)
    parts: list[str] = []
    rest = table
    while True:
        rest = rest.strip()
        if rest.startswith('"'):
            m = re.match(r'"((?:[^"]|"")*)"', rest)
            if m is None:
                raise InputError("--table", table, allowed)
            part, rest = m.group(1).replace('""', '"'), rest[m.end():].strip()
        else:
            part, _, tail = rest.partition(".")
            part, rest = part.strip(), "." + tail if _ else ""
        if not part:
            raise InputError("--table", table, allowed)
        parts.append(part)
        if not rest:
            break
        if not rest.startswith("."):
            raise InputError("--table", table, allowed)
        rest = rest[1:]
    if len(parts) > 2:
        raise InputError("--table", table, allowed)
    return tuple(parts)


#: seconds to wait for a PostgreSQL server to answer a connection (libpq's ``connect_timeout``; its default is to
#: wait for ever, e.g. on a server that accepts the connection and never replies), unless the URL sets it
PG_CONNECT_TIMEOUT_S = 30
#: seconds a query waits for a lock on the table (another session altering it, say) before the run stops
#: (PostgreSQL's ``lock_timeout``; its default is to wait for ever)
PG_LOCK_TIMEOUT_S = 60


def _libpq_url(url: str) -> str:
    """The URL as libpq takes it: scheme ``postgresql``, no driver name, and a ``connect_timeout`` of
    :data:`PG_CONNECT_TIMEOUT_S` unless the URL has one."""
    m = _URL.match(url)
    url = "postgresql://" + url[m.end():] if m else url
    query = url.split("?", 1)[1] if "?" in url else ""
    if not any(p.split("=", 1)[0] == "connect_timeout" for p in query.split("&")):
        url += ("&" if query else "" if url.endswith("?") else "?") + f"connect_timeout={PG_CONNECT_TIMEOUT_S}"
    return url


def _screening_columns(names: list[str], table: str, notes: list[str] | None = None) -> list[str]:
    check_columns(names, f"--table {table}", notes)
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


def _first_line(exc: BaseException, url: str = "") -> str:
    """The first line of a driver's message, without the password of ``url`` (libpq repeats a bad URI)."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return redact(line, url) if url else line


def _plain(t: pa.DataType) -> bool:
    """A column type the validator reads as it is; any other (uuid, date, json, enum ...) is read as text."""
    return (pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
            or pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)
            or (pa.types.is_dictionary(t) and _plain(t.value_type)))


def _select_list(schema: pa.Schema, text: str, table: str, notes: list[str] | None = None) -> str:
    """The screening columns of ``schema`` (of ``table``), each as it is or cast to ``text`` (the database's text
    type); notes on the table's columns go to ``notes``."""
    out = []
    for c in _screening_columns(schema.names, table, notes):
        q = _quote((c,))
        out.append(q if _plain(schema.field(c).type) else f"CAST({q} AS {text}) AS {q}")
    return ", ".join(out)


def _pg_connect(url: str) -> Any:
    import adbc_driver_postgresql.dbapi as pg

    try:
        conn = pg.connect(_libpq_url(url))
    except pg.Error as exc:
        raise InputError("input", describe(url), f"a PostgreSQL database that accepts the connection "
                         f"({_first_line(exc, url)})") from None
    try:
        with conn.cursor() as cur:  # for the session (committed: a rollback would undo a SET)
            cur.execute(f"SET lock_timeout TO '{int(PG_LOCK_TIMEOUT_S * 1000)}ms'")
        conn.commit()
    except pg.Error as exc:
        conn.close()
        raise InputError("input", describe(url), f"a PostgreSQL database that accepts the connection "
                         f"({_first_line(exc, url)})") from None
    return conn


def _pg_error(exc: BaseException, table: str, url: str) -> InputError:
    return InputError("--table", table, f"a table or view that this connection can read "
                      f"({_first_line(exc, url).split(': ', 1)[-1]})")


def _pg_query(conn: Any, url: str, table: str, what: str | None = None, notes: list[str] | None = None) -> str:
    """``SELECT`` of the screening columns (or ``what``) of ``table``; a clear error if it is not there."""
    import adbc_driver_postgresql.dbapi as pg

    name = _quote(table_parts(table))
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM {name} LIMIT 0")
            schema = cur.fetch_arrow_table().schema
    except pg.Error as exc:
        raise _pg_error(exc, table, url) from None
    finally:
        conn.rollback()
    return f"SELECT {what or _select_list(schema, 'text', table, notes)} FROM {name}"


def _pg_rows(url: str, table: str) -> int:
    import adbc_driver_postgresql.dbapi as pg

    conn = _pg_connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(_pg_query(conn, url, table, "count(*)"))
            row = cur.fetchone()
        return int(row[0]) if row else 0
    except pg.Error as exc:
        raise _pg_error(exc, table, url) from None
    finally:
        conn.close()


def _pg_batches(url: str, table: str, chunk_rows: int, notes: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    import adbc_driver_postgresql.dbapi as pg

    conn = _pg_connect(url)
    reader = None
    try:
        query = _pg_query(conn, url, table, notes=notes)
        with conn.cursor() as cur:
            # rows in stored order, the same on every run: no synchronised scan (it may start mid-table) and no
            # parallel plan (a Gather returns its workers' rows in whatever order they come)
            cur.execute("SET synchronize_seqscans TO off")
            cur.execute("SET max_parallel_workers_per_gather TO 0")
            try:
                cur.execute(query)
                reader = cur.fetch_record_batch()
                yield from rechunk(reader, chunk_rows)
            except (pg.Error, OSError) as exc:  # e.g. a view that fails part-way, the server gone
                raise _pg_error(exc, table, url) from None
    finally:
        if reader is not None:
            reader.close()
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
        why = _first_line(exc)
        if "lock" in why.lower() or "different configuration" in why:
            # another program (or this one) has the file open for writing: DuckDB lets one writer in, no reader
            raise InputError("input", path, f"a DuckDB database file that no other program has open for writing; "
                             f"close that program, or screen a copy of the file ({why})") from None
        raise InputError("input", path, f"a DuckDB database file ({why})") from None


def _duck_error(exc: BaseException, table: str) -> InputError:
    return InputError("--table", table, f"a table or view in that DuckDB file ({_first_line(exc)})")


def _duck_query(con: Any, table: str, what: str | None = None, notes: list[str] | None = None) -> Any:
    import duckdb

    name = _quote(table_parts(table))
    try:
        schema = con.sql(f"SELECT * FROM {name} LIMIT 0").to_arrow_table().schema
        return con.sql(f"SELECT {what or _select_list(schema, 'VARCHAR', table, notes)} FROM {name}")
    except duckdb.Error as exc:
        raise _duck_error(exc, table) from None


def _duck_batches(path: str, table: str, chunk_rows: int, notes: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    import duckdb

    con = _duck_connect(path)
    reader = None
    try:
        reader = _duck_query(con, table, notes=notes).to_arrow_reader(chunk_rows)
        try:
            yield from rechunk(reader, chunk_rows)
        except duckdb.Error as exc:
            raise _duck_error(exc, table) from None
    finally:
        if reader is not None:
            reader.close()
        con.close()


def _duck_rows(path: str, table: str) -> int:
    con = _duck_connect(path)
    try:
        rows = _duck_query(con, table, "count(*)").fetchall()
        return int(rows[0][0]) if rows else 0
    finally:
        con.close()


# --- entry points -----------------------------------------------------------------------------------------


def table_batches(src: str | Path, table: str | None, chunk_rows: int,
                  notes: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The screening columns of ``table`` in the database ``src``, in chunks of ``chunk_rows`` rows (notes on the
    table's columns go to ``notes``)."""
    kind = source_kind(src)
    if kind is None:
        raise InputError("input", str(src), "a PostgreSQL URL (postgresql://...) or a DuckDB file (.duckdb)")
    if table is None:
        raise InputError("--table", "(none given)", f"the name of the table to screen in {describe(src)}")
    table_parts(table)
    if kind == "postgresql":
        return _pg_batches(str(src), table, chunk_rows, notes)
    return _duck_batches(str(src), table, chunk_rows, notes)


def table_rows(src: str | Path, table: str) -> int:
    """The number of rows in ``table`` (for the progress bar)."""
    if source_kind(src) == "postgresql":
        return _pg_rows(str(src), table)
    return _duck_rows(str(src), table)
