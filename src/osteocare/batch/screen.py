"""``osteocare screen``: score a file of patients, one row each, in bounded memory.

Input CSV or Parquet is read in chunks; each chunk is validated (bad rows flagged, never fatal), scored
with the core's vectorised kernels, and appended to the output (CSV or Parquet). A summary counts rows,
rows flagged, and categories.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import itertools
import os
import queue
import sys
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from numba import njit

from ..core.errors import InputError
from . import csv_out
from .columns import CATEGORY_INPUTS, INPUT_COLUMNS, ROW_ERROR, check_columns, check_types, read_columns
from .duplicates import ChunkIds, IdTally, id_hashes, ids_at
from .parquet_parts import PartedParquetWriter
from .scoring import StatusTally, score_chunk, status_notes

DEFAULT_CHUNK_ROWS = 50_000
#: the most rows per chunk a user may ask for (``chunk_rows``, ``--chunk-rows``): a chunk is held in memory
#: whole (about 110 bytes of input and 300 of working arrays per row), so this bounds a run at a few GB
CHUNK_ROWS_LIMIT = 5_000_000
PIPELINE_DEPTH = 2
MAX_SCORING_THREADS = 4
#: the most scoring threads a user may ask for (``threads`` of :func:`screen_file`, ``--threads``)
THREADS_LIMIT = 64
#: glibc malloc settings of a process that screens (see :func:`tune_malloc`); None = glibc's default
MALLOC_ARENAS = 2
MALLOC_MMAP_THRESHOLD: int | None = None
MALLOC_TRIM_THRESHOLD: int | None = None
#: Arrow's memory pool for screening (see :func:`tune_malloc`): "jemalloc" (glibc's malloc where this
#: pyarrow has no jemalloc), "system", or None for Arrow's default (mimalloc)
ARROW_POOL: str | None = "jemalloc"
COUNTED = ("who_category", "osta_category", "caroc_category", "stratum", "stratum_status", "action")


def file_format(path: Path, what: str = "input") -> str:
    """``csv`` or ``parquet``, by the name's extension; ``what`` names the file in the error (``--out``)."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InputError(what, str(path), "a file name ending in .csv or .parquet")


def csv_block_size(path: Path, chunk_rows: int, sample_bytes: int = 1 << 20) -> int:
    """Bytes per CSV block for about ``chunk_rows`` rows per batch, from the line length in the file's first
    MB (Arrow's CSV reader makes one batch per block); at least 1 MB, at most 1 GB."""
    with open(path, "rb") as f:
        head = f.read(sample_bytes)
    lines = head.count(b"\n")
    per_row = len(head) / lines if lines > 1 else 200.0
    return int(min(max(chunk_rows * per_row * 1.02, 1 << 20), 1 << 30))


def _csv_batches(path: Path, chunk_rows: int, block: int | None = None,
                 notes: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The CSV file in batches of about ``chunk_rows`` rows: the file is read here a block at a time, cut after
    the block's last line break outside quotes (:func:`_csv_pieces`), and each piece parsed by Arrow on its
    own with the header's column names.

    Not ``pyarrow.csv.open_csv``: its reader reads ahead up to 32 blocks on a background thread, so with
    blocks of ``chunk_rows`` rows (5.4 MB for 50,000 generated rows) it held ~170 MB of raw text ahead of the
    parser, and a file smaller than that was held whole: reading alone peaked at 292 MB for 1 M rows and 394 MB
    for 10 M (a whole screening run 451-469 -> 578-596 MB). Here one block is read while the previous one is
    parsed by its caller's pipeline, which bounds what is in flight (docs/screening-memory.md, "CSV input: one
    block at a time").

    Every contract column is read as text and converted by the validator, so that one bad cell flags one
    row instead of stopping the run; ids stay text (leading zeros are kept); other columns are not read.
    ``block``: bytes per read (default: from :func:`csv_block_size`); notes on the columns go to ``notes``. A
    file that cannot be read (a folder, no permission, a disk error) is an :class:`InputError` naming it.
    """
    try:
        yield from _csv_file_batches(path, chunk_rows, block, notes)
    except OSError as exc:
        raise InputError(str(path), "unreadable file", f"a CSV file that can be read ({exc.strerror or exc})") from None


def _csv_file_batches(path: Path, chunk_rows: int, block: int | None,
                      notes: list[str] | None) -> Iterator[pa.RecordBatch]:
    block = block or csv_block_size(path, chunk_rows)
    with open(path, "rb") as f:
        pieces = _csv_pieces(f, block, str(path))
        first = next(pieces, memoryview(b""))
        end = _header_end(first)
        while end == len(first):  # the header may go on into the next piece (or only empty lines came first)
            more = next(pieces, None)
            if more is None:
                break
            first = memoryview(bytes(first) + bytes(more))
            end = _header_end(first)
        try:
            names = pacsv.read_csv(pa.py_buffer(first[:end]),
                                   read_options=pacsv.ReadOptions(use_threads=False)).column_names
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise InputError(str(path), "malformed CSV", f"a CSV file with a header row ({exc})") from None
        check_columns(names, str(path), notes)
        wanted = [c for c in names if c in INPUT_COLUMNS]
        # include_columns only where there are others: naming every column parsed 15 % slower
        convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in wanted}, strings_can_be_null=True,
                                       null_values=[""],
                                       include_columns=[] if len(wanted) == len(names) else wanted or names[:1])
        done = 0
        for piece in itertools.chain([first[end:]], pieces):
            if not len(piece):
                continue
            ragged: list[tuple[int | None, str]] = []
            ragged_text: list[str] = []

            def skip(row: Any, ragged: list[tuple[int | None, str]] = ragged, texts: list[str] = ragged_text) -> str:
                """A row with too few or too many values: put back flagged (:func:`_with_ragged_rows`), not fatal."""
                got = f"{row.actual_columns} value" + ("" if row.actual_columns == 1 else "s")
                ragged.append((row.number, f"columns: {got} in this row; expected {row.expected_columns}, one per "
                               "column of the header"))
                texts.append(row.text)
                return "skip"

            read = pacsv.ReadOptions(column_names=names, use_threads=False, block_size=len(piece) + 1)
            parse = pacsv.ParseOptions(invalid_row_handler=skip)
            try:
                try:
                    table = pacsv.read_csv(pa.py_buffer(piece), read_options=read, parse_options=parse,
                                           convert_options=convert)
                except pa.ArrowInvalid as exc:
                    if "UTF8" not in str(exc):
                        raise
                    # a cell that is not UTF-8 text: this piece again with the columns as bytes; the validator
                    # flags the rows that hold such a cell (columns.read_columns)
                    ragged.clear()
                    ragged_text.clear()
                    as_bytes = pacsv.ConvertOptions(
                        column_types={c: pa.binary() for c in wanted}, strings_can_be_null=True, null_values=[""],
                        include_columns=convert.include_columns)
                    table = pacsv.read_csv(pa.py_buffer(piece), read_options=read, parse_options=parse,
                                           convert_options=as_bytes)
            except pa.ArrowInvalid as exc:
                raise InputError(str(path), "malformed CSV", f"a well-formed CSV file ({exc}; a row number in "
                                 f"that message counts from data row {done + 1:,})") from None
            del piece
            for (number, _), text in zip(ragged, ragged_text, strict=True):
                # a quote left open: the rows after it would be lost inside one value; not a row to flag. The
                # pieces end outside quotes (_csv_pieces), so a row ends open only where the file does.
                raw = text.encode("utf-8", "surrogateescape")
                if _scan_csv(np.frombuffer(raw, dtype=np.uint8), 0, len(raw), _FIELD_START, -1, False,
                             False)[1] == _QUOTED:
                    row = f"data row {done + number:,}" if number else f"a row after data row {done:,}"
                    raise InputError(str(path), "malformed CSV", f"a well-formed CSV file (at {row} a quoted value "
                                     "is never closed: is a quote left open?)")
            if ragged:
                table = _with_ragged_rows(table, ragged, ragged_text, names)
            if table.num_rows:
                done += table.num_rows
                yield table.combine_chunks().to_batches()[0]


def _with_ragged_rows(table: pa.Table, ragged: list[tuple[int | None, str]], texts: list[str],
                      names: list[str]) -> pa.Table:
    """``table`` with the rows Arrow's parser skipped put back where they were (``ragged``: their 1-based
    number among the piece's rows, and the reason), each with only its id (the value in the header's ``id``
    position, where the row has one) and the reason in :data:`.columns.ROW_ERROR`: flagged, not scored."""
    import csv

    at_id = names.index("id") if "id" in names else None
    ids: list[str | None] = []
    for text in texts:
        try:
            values = next(csv.reader([text]), [])
        except csv.Error:
            values = []
        ids.append(values[at_id] if at_id is not None and at_id < len(values) and values[at_id].strip() else None)
    skipped = pa.table({f.name: pa.array(ids, pa.string()).cast(f.type) if f.name == "id" else pa.nulls(len(ids), f.type)
                        for f in table.schema}, schema=table.schema)
    reasons = pa.array([None] * table.num_rows + [why for _, why in ragged], pa.string())
    joined = pa.concat_tables([table, skipped]).append_column(ROW_ERROR, reasons)
    total = joined.num_rows
    where: list[int | None] = [n - 1 if n is not None and 0 < n <= total else None for n, _ in ragged]
    if len({w for w in where if w is not None}) != sum(w is not None for w in where):
        where = [None] * len(where)  # numbers that do not fit: the skipped rows go after the piece's others
    order = np.full(total, -1, dtype=np.int64)
    for k, w in enumerate(where):
        if w is not None:
            order[w] = table.num_rows + k
    rest = [*range(table.num_rows), *(table.num_rows + k for k, w in enumerate(where) if w is None)]
    order[order < 0] = rest
    return joined.take(pa.array(order))


#: states of :func:`_scan_csv`, as Arrow's CSV parser moves between them (cpp/src/arrow/csv/parser.cc): at the start
#: of a field (a quote opens a quoted value only here), in an unquoted field (a quote is a literal character), in a
#: quoted value (a line break is part of the value), and just after a quote in a quoted value (a second quote makes
#: a literal quote; anything else ends the quoted part)
_FIELD_START, _UNQUOTED, _QUOTED, _QUOTE_IN_QUOTED = 0, 1, 2, 3


@njit(cache=True, nogil=True)
def _scan_csv(data: Any, lo: int, hi: int, state: int, opened: int, spans: bool,
              first: bool) -> tuple[int, int, int, bool, int]:  # pragma: no cover - compiled
    """Follow ``data[lo:hi]`` (bytes) from ``state`` as Arrow's parser reads it. Returns the position just after
    the last line break outside quoted values (the first one, with ``first``), -1 if none; the state at the end;
    where the quoted value being read opened (``opened``) and whether it holds a line break (``spans``); and the
    position of a quote left open, -1 if none was seen: a quoted value that runs over a line break and is ended
    by a quote followed by other text (no writer makes that; an open quote that swallowed rows up to the next
    quote does)."""
    last = -1
    bad = -1
    i = lo
    while i < hi:
        c = data[i]
        if state == 2:
            if c == 34:
                state = 3
            elif c == 10 or c == 13:
                spans = True
        elif state == 3:
            if c == 34:  # a doubled quote: a literal quote, still quoted
                state = 2
            elif c == 44:
                state = 0
            elif c == 10 or c == 13:
                state = 0
                last = i + 1
                if first:
                    return last, state, opened, spans, bad
            else:
                if spans and bad < 0:
                    bad = opened
                state = 1
        elif c == 44:
            state = 0
        elif c == 10 or c == 13:
            state = 0
            last = i + 1
            if first:
                return last, state, opened, spans, bad
        elif c == 34 and state == 0:
            state = 2
            opened = i
            spans = False
        else:
            state = 1
        i += 1
    return last, state, opened, spans, bad


def _header_end(data: memoryview) -> int:
    """Where the header of a CSV file ends in its first piece: after the first line break that is neither
    part of the empty lines before the header (Arrow skips them) nor inside quotes (a quoted name may hold a
    line break); the whole piece if there is none."""
    raw, n = data.obj, len(data)  # a piece from _csv_pieces: a view from the start of a bytes object
    assert isinstance(raw, bytes)
    lo = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    while lo < n and raw[lo] in b"\r\n":  # empty lines before the header
        lo += 1
    end = _scan_csv(np.frombuffer(raw, dtype=np.uint8, count=n), lo, n, _FIELD_START, -1, False, True)[0]
    return n if end < 0 else end


def _last_break(buf: bytes, hi: int) -> int:
    """The position just after the last ``\n`` or ``\r`` in ``buf[:hi]``; 0 if there is none."""
    nl = buf.rfind(b"\n", 0, hi)
    cr = buf.rfind(b"\r", nl + 1, hi)  # only after the last \n: no scan of the whole block for a rare \r
    return max(nl, cr) + 1


def _line_of(f: BinaryIO, pos: int) -> str:
    """``line N`` of the byte at ``pos`` in ``f`` (read again from the start: only for a message), else its byte."""
    try:
        f.seek(0)
        lines, left = 1, pos
        while left > 0:
            part = f.read(min(left, 1 << 20))
            if not part:
                break
            lines += part.count(b"\n")
            left -= len(part)
        return f"line {lines:,}"
    except (OSError, ValueError):
        return f"byte {pos + 1:,}"


def _csv_pieces(f: BinaryIO, block: int, name: str = "input") -> Iterator[memoryview]:
    """The file ``f`` in pieces of about ``block`` bytes, each ending after a line break that is outside
    quoted values (``\n`` or ``\r``; a ``\r\n`` cut between two pieces leaves an empty line, which Arrow skips),
    the last one wherever the file ends.

    Outside quoted values as Arrow's parser reads them (:func:`_scan_csv`): a quote opens a quoted value only
    at the start of a field, so a stray quote inside an unquoted field (``5'3"``) is a character, whatever the
    block size. Each piece then starts outside quotes too, so a value holding a line break is never cut in two;
    Arrow's parser reads such a value within a piece. A quote left open is an error naming its line: one never
    closed, or one that swallowed line breaks up to a quote followed by other text. So is a line (or quoted
    value) longer than :data:`CSV_MAX_LINE_BYTES` (or 4 blocks): more likely an unclosed quote than a record
    (Arrow's streaming reader refused lines longer than one block)."""
    limit = max(CSV_MAX_LINE_BYTES, 4 * block)
    buf, parts, have = b"", [], 0
    state, opened, spans = _FIELD_START, -1, False  # at buf[scanned]
    scanned, done = 0, 0  # bytes of buf followed so far; bytes of the file handed on before buf

    def left_open(at: int, never: bool) -> InputError:
        where = _line_of(f, done + at)
        how = "is never closed" if never else "runs over line breaks to a quote followed by other text"
        return InputError(name, "malformed CSV", f"a well-formed CSV file (the quoted value opened on {where} {how}: "
                          "is a quote left open?)")

    def follow(data: bytes, lo: int, hi: int) -> int:
        """Follow ``data[lo:hi]``; the end of its last line break outside quotes, -1 if none."""
        nonlocal state, opened, spans
        if state in (_FIELD_START, _UNQUOTED) and data.find(b'"', lo, hi) < 0:  # no quote: no state to follow
            last = _last_break(data, hi)
            if hi > lo:
                state = _FIELD_START if data[hi - 1] in b",\r\n" else _UNQUOTED
            return last if last > lo else -1
        last, state, opened, spans, bad = _scan_csv(np.frombuffer(data, dtype=np.uint8, count=hi), lo, hi, state,
                                                    opened, spans, False)
        if bad >= 0:
            raise left_open(bad, False)
        return last

    while True:
        more = f.read(max(block - len(buf) - have, block // 4, 1))
        if not more:
            if parts:
                buf = b"".join([buf, *parts])
            if buf:
                if scanned == 0 and done == 0 and buf.startswith(b"\xef\xbb\xbf"):
                    scanned = 3
                follow(buf, scanned, len(buf))
                if state == _QUOTED:
                    raise left_open(opened, True)
                yield memoryview(buf)
            return
        if len(buf) + have > limit:
            raise InputError(name, "malformed CSV", f"lines and quoted values shorter than {limit:,} bytes "
                             "(is a quote left open?)")
        if _last_break(more, len(more)) == 0:  # no line break yet (a long line): read on
            parts.append(more)
            have += len(more)
            continue
        buf = b"".join([buf, *parts, more])
        parts, have = [], 0
        if scanned == 0 and done == 0 and buf.startswith(b"\xef\xbb\xbf"):
            scanned = 3  # the byte order mark: not part of the first field
        cut = follow(buf, scanned, len(buf))
        scanned = len(buf)
        if cut <= 0:  # no line break outside quotes yet: read on
            continue
        yield memoryview(buf)[:cut]
        buf = buf[cut:]
        done += cut
        scanned -= cut
        opened -= cut


def open_parquet(path: Path, notes: list[str] | None = None) -> pq.ParquetFile:
    """The Parquet file at ``path``, its columns checked (:func:`.columns.check_columns`, ``check_types``; notes
    on its columns go to ``notes``); an unreadable file is an :class:`InputError`."""
    try:
        schema = pq.read_schema(path)
        # the text category columns come as dictionaries: their text is checked once per distinct value
        pf = pq.ParquetFile(path, read_dictionary=[c for c in CATEGORY_INPUTS if c in schema.names])
    except (pa.ArrowException, OSError) as exc:
        raise InputError(str(path), "unreadable Parquet", f"a Parquet file ({exc})") from None
    check_columns(schema.names, str(path), notes)
    check_types(schema, str(path))
    return pf


def _parquet_batches(path: Path, chunk_rows: int, notes: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    pf = open_parquet(path, notes)
    # One reader per row group: a single iter_batches over the whole file keeps buffers alive as it goes
    # (memory grew ~4 MB per chunk with pyarrow 26), which would make memory grow with the file.
    groups = pf.metadata.num_row_groups
    for group in range(groups):
        batches = pf.iter_batches(batch_size=chunk_rows, row_groups=[group])
        while True:
            try:  # a corrupt page (or a file cut short, or a disk error) is found only when its rows are read
                batch = next(batches)
            except StopIteration:
                break
            except (OSError, pa.ArrowException) as exc:
                raise InputError(str(path), "unreadable Parquet", f"a Parquet file whose rows can be read (row group "
                                 f"{group + 1} of {groups}: {_first_line_of(exc)})") from None
            yield batch
            del batch


def read_batches(path: Path | str, chunk_rows: int = DEFAULT_CHUNK_ROWS, table: str | None = None,
                 notes: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The input in chunks: a CSV or Parquet file, or ``table`` in a database (:mod:`.sources`). Notes on the
    input's columns (:func:`.columns.check_columns`) are added to ``notes``."""
    from .sources import source_kind, table_batches

    if source_kind(path) is not None:
        yield from table_batches(path, table, chunk_rows, notes)
        return
    path = check_input_file(path, table)
    if file_format(path) == "csv":
        yield from _csv_batches(path, chunk_rows, notes=notes)
    else:
        yield from _parquet_batches(path, chunk_rows, notes)


def check_input_file(path: Path | str, table: str | None = None) -> Path:
    """``path`` as a file that can be read as input, or an :class:`InputError` naming it: not there, a folder, not
    readable, not .csv or .parquet, or given with ``--table``."""
    from .sources import describe

    shown = describe(path)  # a URL of another kind: shown without its password
    path = Path(path)
    if table is not None:
        raise InputError("--table", table, "no --table for a CSV or Parquet file (it is for a database input)")
    if not path.exists():
        raise InputError("input", shown, "an existing file, a postgresql:// URL or a .duckdb file")
    if path.is_dir():
        raise InputError("input", shown, "a CSV or Parquet file (this is a folder)")
    file_format(path)
    if not os.access(path, os.R_OK):
        raise InputError("input", shown, "a file this user can read (permission denied)")
    return path


def count_rows(path: Path | str, table: str | None = None) -> int | None:
    """Rows in the input, where that is known without reading it (Parquet, a database table), else None."""
    from .sources import source_kind, table_rows

    if source_kind(path) is not None:
        return table_rows(path, table) if table else None
    path = Path(path)
    if not path.exists() or path.is_dir():
        return None
    if file_format(path) == "parquet":
        return int(open_parquet(path).metadata.num_rows)
    return None


CSV_SLICE_ROWS = 10_000
#: the longest CSV line (or quoted value) read, unless 4 blocks are longer (:func:`_csv_pieces`)
CSV_MAX_LINE_BYTES = 64 << 20


def encode_csv(batch: pa.RecordBatch) -> list[pa.Buffer | npt.NDArray[np.uint8]]:
    """The rows of ``batch`` as CSV text without the header line, exactly as Arrow's CSV writer writes them
    (:mod:`.csv_out`; Arrow's own writer for a column type it does not handle), in pieces of
    ``CSV_SLICE_ROWS`` rows. Runs on any thread (the work releases the GIL): screening encodes its output
    chunks on the scoring threads, so that the writer thread only appends bytes.

    Pieces of a few MB: buffers of tens of MB (a whole chunk of long notes) are taken from and given back to
    the system every time (page faults: a second of system time per million rows); small ones are reused.
    """
    parts = csv_out.encode(batch, CSV_SLICE_ROWS, csv_out.POOL)
    if parts is not None:
        return [*parts]
    opts = pacsv.WriteOptions(include_header=False)
    out: list[pa.Buffer | npt.NDArray[np.uint8]] = []
    for start in range(0, batch.num_rows, CSV_SLICE_ROWS):
        sink = pa.BufferOutputStream()
        pacsv.write_csv(batch.slice(start, CSV_SLICE_ROWS), sink, write_options=opts)
        out.append(sink.getvalue())
    return out


class Writer:
    """Append record batches to a CSV or Parquet file; written to a temporary name, renamed at the end."""

    def __init__(self, path: Path, *, plain_floats: bool = True) -> None:
        self.path = path
        self.plain_floats = plain_floats
        self.fmt = file_format(path, "--out")
        self.tmp = path.with_name(f".{path.name}.partial")
        self._w: PartedParquetWriter | None = None
        self._csv: BinaryIO | None = None

    @property
    def started(self) -> bool:
        """Whether anything has been written (a Parquet schema or a CSV header at least)."""
        return self._w is not None or self._csv is not None

    def write(self, batch: pa.RecordBatch) -> None:
        if self.fmt == "csv":
            self.write_csv(batch.schema, encode_csv(batch))
            return
        if self._w is None:
            # with plain_floats, floating-point columns (computed risks and indices: mostly distinct values)
            # are written plain, which saves building a dictionary that Parquet gives up on after its size
            # limit anyway; every other column gets dictionary pages (categories, notes, flags)
            dictionary: bool | list[str] = True
            if self.plain_floats:
                dictionary = [f.name for f in batch.schema if not pa.types.is_floating(f.type)]
            # min/max statistics for the columns that are not dictionary-encoded (numbers, id, error): for the
            # category and note columns they cost a quarter of the writing time and say little
            stats = [f.name for f in batch.schema if not pa.types.is_dictionary(f.type)]
            # in parts: Arrow's writer would hold every row group's metadata until the end (parquet_parts)
            self._w = PartedParquetWriter(self.tmp, batch.schema, use_dictionary=dictionary,
                                          write_statistics=stats)
        self._w.write_batch(batch)

    def write_csv(self, schema: pa.Schema, rows: list[pa.Buffer | npt.NDArray[np.uint8]]) -> None:
        """Append CSV rows made by :func:`encode_csv` (the header line is written before the first)."""
        if self._csv is None:
            self._csv = open(self.tmp, "wb")  # closed in close()
            header = pa.BufferOutputStream()
            pacsv.write_csv(schema.empty_table(), header)
            self._csv.write(header.getvalue())
        for part in rows:
            self._csv.write(part)
            csv_out.POOL.give(part)  # written: its buffer can take the next slice

    def close(self, ok: bool) -> None:
        """Finish the file and move it to its name (``ok``), or remove what was written; nothing is left at
        the temporary name either way, also when finishing fails."""
        try:
            if self._w is not None:
                w, self._w = self._w, None
                if ok:
                    w.close()
                else:
                    w.abort()
            if self._csv is not None:
                self._csv.close()
                csv_out.POOL.clear()  # the text buffers are kept while a file is being written only
            if ok and self.tmp.exists():
                self.tmp.replace(self.path)
        finally:
            if self.tmp.exists():
                self.tmp.unlink()


HIST_EDGES = np.linspace(0.0, 100.0, 201)  # 0.5-percentage-point bins for the risk distribution plot
HISTOGRAMS = ("qfracture_mof_percent", "qfracture_hip_percent")


@dataclass
class Summary:
    rows: int = 0
    flagged: int = 0
    scored: int = 0
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    flag_reasons: Counter[str] = field(default_factory=Counter)
    histograms: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    guideline: str | None = None  # the rule set and date the run used (set by screen_file)
    as_of: dt.date | None = None
    #: notes on the input's columns: a column not read because it seems to hold a measure in another unit
    input_notes: list[str] = field(default_factory=list)
    #: rows whose id an earlier row has (scored, not flagged: see .duplicates), and the first few of them:
    #: (data row, the first data row with that id, the id), rows counted from 1
    repeated_ids: int = 0
    repeated_examples: list[tuple[int, int, str | None]] = field(default_factory=list)
    #: rows per status of each calculator, as ``assess`` gives it (counted as ``<group>_status`` too)
    statuses: StatusTally = field(default_factory=StatusTally)
    #: one note per calculator: its columns, its status (rows per status) and why (also in ``notes``)
    status_notes: list[str] = field(default_factory=list)

    def add_statuses(self, tally: StatusTally) -> None:
        self.statuses.merge(tally)
        for k, v in tally.counts().items():
            self.counts.setdefault(k, Counter()).update(v)

    def add(self, out: pa.RecordBatch) -> None:
        self.rows += out.num_rows
        for name in HISTOGRAMS:
            if name in out.schema.names:
                vals = out.column(name).drop_null().to_numpy(zero_copy_only=False)
                h, _ = np.histogram(vals[~np.isnan(vals)], bins=HIST_EDGES)
                self.histograms[name] = self.histograms.get(name, np.zeros(len(HIST_EDGES) - 1, np.int64)) + h
        err = out.column("error")
        nflag = out.num_rows - err.null_count
        self.flagged += nflag
        self.scored += out.num_rows - nflag
        if nflag:
            for msg in err.drop_null().to_pylist():
                self.flag_reasons[str(msg).split(":", 1)[0]] += 1
        for name in COUNTED:
            if name in out.schema.names:
                vc = out.column(name).value_counts()
                ctr = self.counts.setdefault(name, Counter())
                for item in vc:
                    key = item["values"].as_py()
                    ctr["(none)" if key is None else str(key)] += item["counts"].as_py()

    def merge(self, other: Summary) -> None:
        self.rows += other.rows
        self.flagged += other.flagged
        self.scored += other.scored
        self.flag_reasons.update(other.flag_reasons)
        for k, v in other.counts.items():
            self.counts.setdefault(k, Counter()).update(v)
        for k, h in other.histograms.items():
            self.histograms[k] = self.histograms.get(k, np.zeros_like(h)) + h
        self.statuses.merge(other.statuses)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "scored": self.scored,
            "flagged": self.flagged,
            "flag_reasons": dict(self.flag_reasons.most_common()),
            "counts": {k: dict(sorted(v.items())) for k, v in self.counts.items()},
            "notes": list(self.notes),
            "calculator_status": self.statuses.as_dict(),
            "guideline": self.guideline,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "input_notes": list(self.input_notes),
            "repeated_ids": {"rows": self.repeated_ids,
                             "first": [{"row": r, "same_id_as_row": f, "id": i} for r, f, i in self.repeated_examples]},
        }

    def repeated_text(self) -> str | None:
        """The repeated ids in a sentence, or None if there are none."""
        if not self.repeated_ids:
            return None
        shown = "; ".join(f"data row {r:,} has the id of data row {f:,} ({i!r})" for r, f, i in self.repeated_examples)
        more = "" if len(self.repeated_examples) >= self.repeated_ids else ", ..."
        return (f"{self.repeated_ids:,} row{'s have' if self.repeated_ids != 1 else ' has'} the id of an earlier row "
                f"(scored each on its own facts; check that they are one patient): {shown}{more}")


def screen_batch(batch: pa.RecordBatch, guideline: str | None = None, as_of: dt.date | None = None, *,
                 statuses: StatusTally | None = None) -> pa.RecordBatch:
    """Validate and score one chunk (the unit of work for every engine); ``statuses``: see :func:`.score_chunk`."""
    return score_chunk(batch, read_columns(batch), guideline=guideline, as_of=as_of, statuses=statuses)


@dataclass
class ScoredChunk:
    """One chunk made ready for the writer: its summary counts and either the output batch (Parquet) or its
    rows already encoded as CSV text (the batch is then dropped: less memory in flight)."""

    summary: Summary
    schema: pa.Schema
    batch: pa.RecordBatch | None
    csv: list[pa.Buffer | npt.NDArray[np.uint8]] | None
    ids: ChunkIds | None = None  # the ids, hashed (.duplicates)


#: rows scored at a time within a chunk (see :func:`score_in_slices`)
SCORE_SLICE_ROWS = 50_000


def score_in_slices(batch: pa.RecordBatch, guideline: str | None = None, as_of: dt.date | None = None,
                    slice_rows: int | None = None, *, statuses: StatusTally | None = None) -> pa.RecordBatch:
    """:func:`screen_batch` on ``slice_rows`` rows at a time (default :data:`SCORE_SLICE_ROWS`), the outputs
    joined into one batch (dictionaries unified): the same rows and values as one call on the whole batch, with
    the scoring's temporary arrays sized to a slice. A 100,000-row chunk in two slices held 18 MB of temporary
    arrays instead of 29 MB per scoring thread, the run's peak memory fell by 25-30 MB, and throughput was
    unchanged (docs/screening-memory.md, "Memory")."""
    k = SCORE_SLICE_ROWS if slice_rows is None else slice_rows
    if k <= 0:
        raise InputError("slice_rows", k, "a positive number of rows")
    if batch.num_rows <= k:
        return screen_batch(batch, guideline, as_of, statuses=statuses)
    parts = [screen_batch(batch.slice(start, k), guideline, as_of, statuses=statuses)
             for start in range(0, batch.num_rows, k)]
    return pa.Table.from_batches(parts).unify_dictionaries().combine_chunks().to_batches()[0]


def prepare_chunk(batch: pa.RecordBatch, guideline: str | None, as_of: dt.date | None, fmt: str) -> ScoredChunk:
    """The unit of work of every engine: :func:`score_in_slices`, the chunk's summary, and for CSV output the
    encoded rows; so the writer thread only appends (counting and CSV encoding run in parallel)."""
    taken = [batch]
    del batch
    return _prepare_taken(taken, guideline, as_of, fmt)


def _prepare_taken(taken: list[pa.RecordBatch], guideline: str | None, as_of: dt.date | None,
                   fmt: str) -> ScoredChunk:
    """:func:`prepare_chunk` of the one batch in ``taken``, which this empties: a chunk of one slice lets go of
    its input once validation has made its arrays (only ``id`` goes on to the output), not when its scoring is
    done. The local pipeline keeps no other reference to a chunk it has handed on, so its buffers are freed
    then (Parquet peaks 5-9 MB lower at 1 M and 10 M rows, the same speed; docs/screening-memory.md, "What is
    left"). On Dask the task's own arguments still hold the chunk."""
    batch = taken.pop()
    statuses = StatusTally()
    if batch.num_rows > SCORE_SLICE_ROWS:  # several slices: views of the one batch, freed together at the end
        out = score_in_slices(batch, guideline, as_of, statuses=statuses)
        del batch
    else:
        c = read_columns(batch)
        ids = batch.select(["id"] if "id" in batch.schema.names else [])
        del batch
        out = score_chunk(ids, c, guideline=guideline, as_of=as_of, statuses=statuses)
        del c, ids
    part = Summary()
    part.add(out)
    part.add_statuses(statuses)
    ids = id_hashes(out.column("id"))
    if fmt == "csv":
        return ScoredChunk(part, out.schema, None, encode_csv(out), ids)
    return ScoredChunk(part, out.schema, out, None, ids)


def _arrow_pool(name: str) -> pa.MemoryPool:
    if name == "jemalloc":
        try:
            return pa.jemalloc_memory_pool()
        except NotImplementedError:  # a pyarrow built without jemalloc
            return pa.system_memory_pool()
    return pa.system_memory_pool()


# glibc <malloc.h> mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
_malloc_tuned: bool | None = None
_malloc_lock = threading.Lock()


def tune_malloc(arenas: int = MALLOC_ARENAS, mmap_threshold: int | None = MALLOC_MMAP_THRESHOLD,
                trim_threshold: int | None = MALLOC_TRIM_THRESHOLD) -> bool:
    """Set glibc malloc for screening (``mallopt``): at most ``arenas`` arenas; optionally blocks below
    ``mmap_threshold`` bytes from the heap and heap tops given back to the system only beyond
    ``trim_threshold`` bytes (None: glibc's dynamic thresholds, the default). Process-wide, once per process;
    a no-op returning False elsewhere (not Linux, or a C library other than glibc).

    Why the arena cap: each thread that allocates while another holds an arena gets an arena of its own, and
    glibc gives a thread arena's memory back only from the top of its heaps. The scoring threads allocate and
    free column arrays of a few MB per chunk, so their arenas can fragment over a long run and memory creep
    up with the length of the file. With two arenas the freed blocks are reused (the same as
    ``MALLOC_ARENA_MAX=2`` in the environment). glibc fixes its arena limit only once more than 8 arenas
    exist, so this works when called before the scoring threads start, as :func:`screen_file` does.

    ``ARROW_POOL`` (default "jemalloc") sets pyarrow's default memory pool, process-wide like the rest (Arrow's
    C++ code takes its pool from the environment when pyarrow loads: see :data:`osteocare.batch.ARROW_ALLOCATOR`,
    which makes it the same jemalloc; this call covers a process that loaded pyarrow first). Arrow's default,
    its bundled mimalloc, gave the buffers of each chunk back to the system and faulted them in again for the
    next: CSV screening spent 1-1.5 s of system time per million rows (0.5-1.0 s with jemalloc
    or glibc), and a Parquet run held 30-60 MB more at its peak (docs/screening-memory.md, "Benchmark runs").

    The thresholds (off by default): with glibc's dynamic thresholds the column arrays of a chunk go back to
    the system when the chunk is done and are faulted in again for the next one (about 75,000 minor page
    faults and 0.1 s of system time per million rows, single-threaded). ``mmap_threshold=32 << 20,
    trim_threshold=128 << 20`` removes them (scoring CPU 0.61 -> 0.50 s per million rows) but keeps freed
    heap memory: peak memory was 40-60 MB higher and grew more from 1 to 10 million rows
    (docs/screening-memory.md, "Benchmark runs").
    """
    global _malloc_tuned
    with _malloc_lock:
        if _malloc_tuned is None:
            _malloc_tuned = False
            if sys.platform.startswith("linux"):
                try:
                    libc = ctypes.CDLL(None)  # the C library this process runs on
                    libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (musl's mallopt does nothing)
                    mallopt = libc.mallopt
                except (OSError, AttributeError):
                    return False
                mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
                mallopt.restype = ctypes.c_int
                ok = [mallopt(_M_ARENA_MAX, arenas)]
                for param, value in ((_M_MMAP_THRESHOLD, mmap_threshold), (_M_TRIM_THRESHOLD, trim_threshold)):
                    if value is not None:  # None: glibc's dynamic thresholds
                        ok.append(mallopt(param, value))
                _malloc_tuned = all(r == 1 for r in ok)
                if _malloc_tuned and ARROW_POOL:
                    pa.set_memory_pool(_arrow_pool(ARROW_POOL))
        return _malloc_tuned


def peak_rss_mib() -> float:
    """The largest resident size of this process image so far, in MiB: ``VmHWM`` of ``/proc/self/status``
    (Linux), else ``ru_maxrss``. Not ``ru_maxrss`` on Linux: it survives ``execve``, so a process started from a
    larger one (``subprocess`` forks or vforks the caller, then execs) reports at least the caller's peak
    (a benchmark that had generated 10 M rows printed its own 454-469 MB as every child's peak)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:  # pragma: no cover - not Linux
        pass
    import resource  # pragma: no cover - not Linux

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # pragma: no cover
    return peak / (2**20 if sys.platform == "darwin" else 1024)  # pragma: no cover - bytes on macOS, else kB


def scoring_threads(cores: int | None = None) -> int:
    """Chunks scored at the same time by the local engine: one per core this process may use (``cores``,
    default: this process's CPU affinity) but one, which is left to the reader and writer threads; at least 1,
    at most :data:`MAX_SCORING_THREADS` (numpy, Arrow and the compiled QFracture kernel release the GIL for the
    work on the columns). ``--threads`` overrides it.

    On two cores one scoring thread ran as fast as two and peaked 17-20 MB lower (2026-12-07, alternating runs;
    docs/screening-memory.md, "Concurrency and the last megabytes"). Sessions before had measured it slower
    (Parquet b/a 0.39 against 0.53 at 1 M rows, "Memory over a run"), before the scoring let go of its input
    early and its temporaries shrank."""
    if cores is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            cores = os.cpu_count() or 1
    return max(1, min(cores - 1, MAX_SCORING_THREADS))


def _local(batches: Iterator[pa.RecordBatch], guideline: str, as_of: dt.date, fmt: str,
           threads: int) -> Iterator[tuple[int, ScoredChunk]]:
    """Score the chunks on ``threads`` threads; results in input order, at most ``threads`` chunks in flight."""
    if threads <= 1:
        for batch in batches:
            n, taken = batch.num_rows, [batch]
            del batch
            yield n, _prepare_taken(taken, guideline, as_of, fmt)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="osteocare-score") as pool:
        # the chunk goes in a list that the scoring empties: the pool's work item holds the list, not the chunk
        yield from _in_order(batches, lambda b: pool.submit(_prepare_taken, [b], guideline, as_of, fmt), threads)


def _in_order(batches: Iterator[pa.RecordBatch], submit: Callable[[pa.RecordBatch], Any],
              window: int, result: Callable[[Any], ScoredChunk] | None = None) -> Iterator[tuple[int, ScoredChunk]]:
    """Submit each chunk (``submit`` returns a future), keep at most ``window`` in flight, and yield
    (rows, result) in input order; what is still pending when the consumer stops is cancelled. ``result``
    waits for a future (default: its ``result()``)."""
    wait = result or (lambda fut: fut.result())
    pending: deque[tuple[int, Any]] = deque()
    try:
        for batch in batches:
            pending.append((batch.num_rows, submit(batch)))
            del batch
            if len(pending) >= window:
                n, fut = pending.popleft()
                yield n, wait(fut)
        while pending:
            n, fut = pending.popleft()
            yield n, wait(fut)
    finally:
        for _, fut in pending:
            fut.cancel()


#: seconds to wait for the Dask scheduler at ``--scheduler`` to answer
DASK_CONNECT_TIMEOUT_S = 30
#: seconds a Dask run goes on waiting while the cluster has no worker (none started, or all of them gone and
#: not restarted) before it stops with an error; without it such a run would wait for ever
DASK_NO_WORKER_TIMEOUT_S = 60
#: seconds between two looks at the cluster while a chunk's result is awaited
DASK_POLL_S = 1.0


def _first_line_of(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def check_scheduler(scheduler: str) -> None:
    """Refuse a ``--scheduler`` address Dask cannot use, before anything is read or a client made (a client that
    fails to start on a malformed address spends a minute closing itself when it is collected)."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port
    from distributed.comm.registry import get_backend
    from distributed.security import Security

    allowed = "the address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786"
    try:
        scheme, location = parse_address(scheduler)
        get_backend(scheme)
        if scheme in ("tcp", "tls", "ws", "wss"):
            host, port = parse_host_port(location)
            if not host or not 0 < int(port) < 65536:
                raise ValueError(f"no host, or port {port} outside 1 to 65535")
        if scheme in ("tls", "wss") and Security().get_connection_args("client").get("ssl_context") is None:
            raise ValueError(f"{scheme}:// needs Dask's TLS settings (distributed.comm.tls in the Dask configuration)")
    except (ValueError, TypeError) as exc:
        raise InputError("--scheduler", scheduler, f"{allowed} ({_first_line_of(exc)})") from None


def _dask(batches: Iterator[pa.RecordBatch], scheduler: str, guideline: str, as_of: dt.date,
          fmt: str) -> Iterator[tuple[int, ScoredChunk]]:
    """Run each chunk on a Dask cluster; results come back in input order, with a bounded number in flight.

    Every wait is bounded: the connection (:data:`DASK_CONNECT_TIMEOUT_S`), and a cluster without a worker
    (:data:`DASK_NO_WORKER_TIMEOUT_S`). A worker that dies is replaced by Dask (its chunks run again elsewhere);
    a chunk that kills its workers, a scheduler that goes away or a task that fails on the cluster stops the
    run with an error naming ``--scheduler`` (an OsteoCare error raised by the scoring is raised as it is)."""
    from distributed import Client

    try:
        client = Client(scheduler, timeout=f"{DASK_CONNECT_TIMEOUT_S}s", set_as_default=False)
    except (OSError, ValueError, TypeError) as exc:  # TimeoutError is an OSError; a malformed address a ValueError
        raise InputError("--scheduler", scheduler, "the address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                         f"({_first_line_of(exc)})") from None
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        yield from _in_order(batches, lambda b: client.submit(prepare_chunk, b, guideline, as_of, fmt, pure=False),
                             2 * workers, lambda fut: _dask_result(client, fut, scheduler))
    finally:
        client.close()


def _dask_result(client: Any, fut: Any, scheduler: str) -> ScoredChunk:
    """The result of a chunk's task; a clear :class:`InputError` on ``--scheduler`` where the cluster cannot
    give it (see :func:`_dask`), instead of a remote traceback or a wait for ever."""
    import time
    from concurrent.futures import CancelledError

    from ..core.errors import OsteoCareError

    no_worker_since: float | None = None
    while True:
        try:
            out: ScoredChunk = fut.result(timeout=DASK_POLL_S)
            return out
        except OsteoCareError:
            raise
        except TimeoutError:
            pass
        except CancelledError as exc:  # the scheduler went away (its futures are cancelled) or cancelled the task
            raise InputError("--scheduler", scheduler, "a Dask scheduler that stays up until the run ends (a chunk's "
                             f"task was cancelled: {_first_line_of(exc)})") from exc
        except Exception as exc:  # KilledWorker (a chunk killed its workers), or the task failed on the cluster
            raise InputError("--scheduler", scheduler, "a Dask cluster whose workers can score the chunks, with the "
                             f"same osteocare version installed (a chunk failed there: {_first_line_of(exc)})") from exc
        try:
            alive = len(client.nthreads())
        except (OSError, ValueError) as exc:
            raise InputError("--scheduler", scheduler, "a Dask scheduler that stays up until the run ends "
                             f"({_first_line_of(exc)})") from None
        if alive:
            no_worker_since = None
        elif no_worker_since is None:
            no_worker_since = time.monotonic()
        elif time.monotonic() - no_worker_since > DASK_NO_WORKER_TIMEOUT_S:
            raise InputError("--scheduler", scheduler, f"a Dask cluster with at least one worker (none for "
                             f"{DASK_NO_WORKER_TIMEOUT_S:g} s; start workers with: dask worker {scheduler})")


_DONE = object()


def _gated(batches: Iterator[pa.RecordBatch], tokens: threading.Semaphore,
           closing: threading.Event) -> Iterator[pa.RecordBatch]:
    """Read a chunk only with a token in hand; the writer gives it back once the chunk's output is written.

    So at most as many chunks as there are tokens are anywhere in the pipeline (read, waiting, scored or being
    written), whatever the length of the file: peak memory is reached after the first few chunks.
    """
    it = iter(batches)
    try:
        while True:
            while not tokens.acquire(timeout=0.1):
                if closing.is_set():
                    return
            try:
                batch = next(it)
            except StopIteration:
                tokens.release()
                return
            yield batch
            del batch  # not held while waiting for the next token
    finally:
        _close(it)  # a database source closes its connection now, not when garbage-collected


def _close(it: Any) -> None:
    close = getattr(it, "close", None)
    if close is not None:
        close()


def _background(items: Iterator[Any], depth: int) -> Iterator[Any]:
    """Produce ``items`` on a helper thread, at most ``depth`` ahead (Arrow's decoding releases the GIL)."""
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        """Hand ``item`` over unless the consumer has stopped (then False: it waits for nothing more)."""
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                handed = put(item)
                del item  # not held while the next one is read (or a token waited for)
                if not handed:
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer
            put(exc)
        finally:
            _close(items)  # in this thread, which iterated them (a database source closes its connection)

    t = threading.Thread(target=run, name="osteocare-read", daemon=True)
    t.start()
    try:
        while True:
            box = [q.get()]  # no name holds the item while this generator waits at its yield
            if box[0] is _DONE:
                return
            if isinstance(box[0], BaseException):
                raise box.pop()
            yield box.pop()
    finally:
        stop.set()
        t.join()


class _BackgroundSink:
    """Write and count output chunks on a helper thread, at most ``depth`` waiting (bounded memory)."""

    def __init__(self, writer: Writer, summary: Summary, depth: int, tokens: threading.Semaphore | None = None,
                 tally: IdTally | None = None) -> None:
        self.q: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.tokens = tokens
        self.tally = tally
        self.error: BaseException | None = None
        self.writer, self.summary = writer, summary
        self.t = threading.Thread(target=self._run, name="osteocare-write", daemon=True)
        self.t.start()

    def _run(self) -> None:
        while True:
            out = self.q.get()
            if out is _DONE:
                return
            if self.error is None:
                try:
                    if out.csv is not None:
                        self.writer.write_csv(out.schema, out.csv)
                    elif out.batch is not None:
                        self.writer.write(out.batch)
                    self.summary.merge(out.summary)
                    if self.tally is not None and out.ids is not None:
                        self.tally.add(out.ids)
                except BaseException as exc:
                    self.error = exc
            del out
            if self.tokens is not None:
                self.tokens.release()

    def put(self, out: ScoredChunk) -> None:
        if self.error is not None:
            raise self.error
        self.q.put(out)

    def close(self) -> None:
        self.q.put(_DONE)
        self.t.join()
        if self.error is not None:
            raise self.error


def screen_file(
    src: Path | str,
    dst: Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_chunk: Callable[[int], None] | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    guideline: str | None = None,
    as_of: dt.date | None = None,
    table: str | None = None,
    threads: int | None = None,
) -> Summary:
    """Screen ``src`` into ``dst`` chunk by chunk. Nothing is left at ``dst`` if the run fails.

    ``src`` is a CSV or Parquet file, or a database with ``table`` in it: a PostgreSQL URL or a DuckDB file
    (:mod:`.sources`).

    ``engine="dask"`` runs the chunks on the Dask cluster at ``scheduler``; the output is identical and in
    the same order. ``guideline`` selects the rule set of the ``stratum`` column (default: the deployment's);
    ``as_of`` is the assessment date (default: today), the same for every row. ``threads``: chunks scored at
    once by the local engine (default :func:`scoring_threads`: one per core but one, at least 1, at most
    :data:`MAX_SCORING_THREADS`); fewer use fewer cores and hold fewer chunks in memory.
    """
    from ..core.guidelines import available_guidelines, default_guideline
    from .strata import summary_notes

    check_output(src, dst)
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or not 1 <= chunk_rows <= CHUNK_ROWS_LIMIT:
        raise InputError("--chunk-rows", chunk_rows, f"a whole number from 1 to {CHUNK_ROWS_LIMIT:,}")
    gid = guideline or default_guideline()
    if gid not in available_guidelines():
        raise InputError("--guideline", gid, "one of " + ", ".join(available_guidelines()))
    day = as_of or dt.date.today()
    if engine not in ("local", "dask"):
        raise InputError("--engine", engine, "one of local, dask")
    if engine == "dask" and not scheduler:
        raise InputError("--scheduler", "(not given)", "the address of a Dask scheduler with --engine dask, e.g. "
                         "tcp://10.0.0.5:8786")
    if engine == "local" and scheduler:
        raise InputError("--scheduler", scheduler, "no --scheduler with --engine local (add --engine dask to use it)")
    if engine == "dask":
        check_scheduler(str(scheduler))
    if threads is not None:
        if engine != "local":
            raise InputError("--threads", threads, "no --threads with --engine dask (the cluster's workers set it)")
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= THREADS_LIMIT:
            raise InputError("--threads", threads, f"a whole number from 1 to {THREADS_LIMIT}")
    summary = Summary()
    writer = Writer(dst)
    tally = IdTally(dst.with_name(f".{dst.name}.ids.partial"))
    ok = False
    repeats = None
    try:
        # three stages overlap: read (helper thread), score (this thread or the cluster), write (helper thread);
        # at most PIPELINE_DEPTH chunks wait between two stages, so memory does not grow with the file.
        # Locally, at most (scoring threads + 2) chunks are in the pipeline at once (see _gated).
        tokens, closing = None, threading.Event()
        reader = read_batches(src, chunk_rows, table, summary.input_notes)
        if engine == "local":
            tune_malloc()  # before the scoring threads allocate (memory must not grow with the file)
            threads = threads or scoring_threads()
            tokens = threading.Semaphore(threads + 2)
            results = _local(_background(_gated(reader, tokens, closing), PIPELINE_DEPTH), gid, day, writer.fmt,
                             threads)
        else:
            results = _dask(_background(reader, PIPELINE_DEPTH), str(scheduler), gid, day, writer.fmt)
        sink = _BackgroundSink(writer, summary, PIPELINE_DEPTH, tokens, tally)
        try:
            for n, out in results:
                sink.put(out)
                del out
                if on_chunk:
                    on_chunk(n)
        finally:
            closing.set()
            results.close()
            sink.close()
        if not writer.started:  # no rows: the output still gets its columns (a CSV header, a Parquet schema)
            empty = prepare_chunk(pa.RecordBatch.from_pydict({"id": pa.array([], pa.string())}), gid, day, writer.fmt)
            if empty.csv is not None:
                writer.write_csv(empty.schema, empty.csv)
            elif empty.batch is not None:
                writer.write(empty.batch)
        repeats = tally.finish()
        ok = True
    finally:
        tally.close()
        writer.close(ok)
    if repeats is not None and repeats.rows:
        summary.repeated_ids = repeats.rows
        try:  # the ids themselves, for the message: read back from the output (only where some repeat)
            shown = ids_at(dst, [r for r, _ in repeats.examples])
        except (OSError, pa.ArrowException):
            shown = {}
        summary.repeated_examples = [(r + 1, f + 1, shown.get(r)) for r, f in repeats.examples]
    summary.status_notes = status_notes(summary.statuses)
    summary.notes = [*summary.status_notes, *summary_notes(gid, dict(summary.counts.get("stratum_status", {})))]
    summary.guideline, summary.as_of = gid, day
    return summary


def check_output(src: Path | str, dst: Path) -> None:
    """Refuse an output path that cannot take the output, before anything is read: not .csv or .parquet, in
    a folder that does not exist, a folder itself, or the input file (which the output would replace)."""
    file_format(dst, "--out")
    if dst.is_dir():
        raise InputError("--out", str(dst), "a file name (this is a folder)")
    if not dst.parent.is_dir():
        raise InputError("--out", str(dst), f"a file in an existing folder ({dst.parent} does not exist)")
    from .sources import source_kind

    if source_kind(src) is None:
        same = Path(src).resolve() == dst.resolve()
        if not same and dst.exists() and Path(src).exists():
            same = os.path.samefile(src, dst)
        if same:
            raise InputError("--out", str(dst), "a file other than the input (it would be replaced)")
