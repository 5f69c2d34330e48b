"""CSV text of screening output, byte for byte what Arrow's CSV writer makes of the same batch, faster.

Arrow's writer turns every column into text before writing: a category or note column (dictionary-encoded,
a few hundred distinct texts) becomes one quoted copy per row, which for screening output (two notes of
100-200 characters per row) is most of the work. Here each distinct text is quoted once per chunk, and a
compiled loop copies the quoted pieces row by row. Numbers are turned into text by Arrow's own cast (the
function its writer uses), so every figure is written exactly as before.

The format is Arrow's default (``pyarrow.csv.WriteOptions()`` with ``include_header=False``): fields
separated by ``,``, rows ended by ``\\n``, null as an empty field, every text value in double quotes with
a double quote doubled, numbers unquoted. Tests compare the two writers on screening output and on random
batches with quotes, commas, newlines, non-ASCII text and nulls. A column of any other type makes
:func:`encode` return None (the caller then uses Arrow's writer).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

_QUOTE = 34  # '"'
_COMMA = 44
_NEWLINE = 10
_SAMPLE_ROWS = 512  # rows a number column's distinctness is judged on (the text is the same either way)


Field = tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.uint8], bool]


def _by_value(words: list[bytes], idx: pa.Array) -> Field:
    """A column with few distinct values: each value's field text once, and per row a pointer to it."""
    lengths = np.array([len(w) for w in words] + [-1], dtype=np.int32)  # the last slot: null
    starts = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    ii = np.asarray(pc.fill_null(idx, len(words)).to_numpy(zero_copy_only=False), dtype=np.int64)
    data = np.frombuffer(b"".join(words), dtype=np.uint8) if words else np.zeros(0, np.uint8)
    return starts[ii], lengths[ii], data, False


def _text(col: pa.Array) -> Field | None:
    """(per-row start into data, per-row length or -1 for null, data, quote while copying) for one column."""
    n = len(col)
    if pa.types.is_dictionary(col.type) and (pa.types.is_string(col.type.value_type)
                                             or pa.types.is_large_string(col.type.value_type)):
        quoted = [b'"' + w.encode("utf-8").replace(b'"', b'""') + b'"' for w in col.dictionary.to_pylist()]
        return _by_value(quoted, col.indices)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        text, quote = col, True
    elif pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
        # few distinct numbers (indices, T-scores): each cast to text once. Mostly distinct ones (risks) skip
        # the encoding when a sample of rows says so: hashing every value first cost as much as the cast.
        sample = col.slice(0, _SAMPLE_ROWS)
        if n > _SAMPLE_ROWS and pc.count_distinct(sample).as_py() * 8 > len(sample):
            enc = None
        else:
            enc = pc.dictionary_encode(col)
        if enc is not None and len(enc.dictionary) * 8 <= n:
            return _by_value([w.encode() for w in pc.cast(enc.dictionary, pa.string()).to_pylist()], enc.indices)
        text, quote = pc.cast(col, pa.string()), False  # the cast Arrow's writer uses for numbers
    else:
        return None
    text = text.cast(pa.large_string())  # 64-bit offsets
    bufs = text.buffers()
    off = np.frombuffer(bufs[1], dtype=np.int64, count=text.offset + n + 1)[text.offset:]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    lengths = (off[1:] - off[:-1]).astype(np.int32)
    if text.null_count:
        lengths[np.asarray(text.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = -1
    return off[:-1].copy(), lengths, data, quote


@njit(cache=True, nogil=True)
def _size(lengths: Any, starts: Any, data: Any, quotes: Any, lo: int, hi: int) -> int:  # pragma: no cover
    """Bytes of rows lo..hi: the fields, two quotes and one doubled quote per quote in a quoted field, a
    separator or line end per field."""
    total = 0
    nc = lengths.shape[1]
    for i in range(lo, hi):
        for c in range(nc):
            m = lengths[i, c]
            if m > 0:
                total += m
            if quotes[c] and m >= 0:
                total += 2
                s = starts[i, c]
                for j in range(s, s + m):
                    if data[j] == _QUOTE:
                        total += 1
    return total + (hi - lo) * nc


@njit(cache=True, nogil=True)
def _fill(lengths: Any, starts: Any, data: Any, quotes: Any, lo: int, hi: int, out: Any) -> None:  # pragma: no cover
    p = 0
    nc = lengths.shape[1]
    for i in range(lo, hi):
        for c in range(nc):
            m = lengths[i, c]
            if m >= 0:
                s = starts[i, c]
                if quotes[c]:
                    out[p] = _QUOTE
                    p += 1
                    for j in range(s, s + m):
                        b = data[j]
                        out[p] = b
                        p += 1
                        if b == _QUOTE:
                            out[p] = _QUOTE
                            p += 1
                    out[p] = _QUOTE
                    p += 1
                else:
                    # unsigned indices: numba adds no negative-index test per byte
                    po, so = np.uint64(p), np.uint64(s)
                    for j in range(np.uint64(m)):
                        out[po + j] = data[so + j]
                    p += m
            out[p] = _COMMA if c < nc - 1 else _NEWLINE
            p += 1


class BufferPool:
    """Text buffers handed back once written, for the next slices to fill: a screening run writes hundreds of
    MB of CSV text, and fresh buffers for each slice cost a page fault per 4 kB (0.25 s of system time per
    million rows). Holds at most ``keep`` buffers; thread-safe."""

    def __init__(self, keep: int = 64) -> None:
        self.keep = keep
        self._free: list[npt.NDArray[np.uint8]] = []
        self._lock = threading.Lock()

    def take(self, n: int) -> npt.NDArray[np.uint8]:
        """A buffer of exactly ``n`` bytes (a view of a pooled one when one is large enough)."""
        with self._lock:
            fits = [k for k, b in enumerate(self._free) if b.size >= n]
            base = self._free.pop(min(fits, key=lambda k: self._free[k].size)) if fits else None
        if base is None:
            base = np.empty(n + n // 8, dtype=np.uint8)  # some room: the next slice is a little longer or shorter
        return base[:n]

    def give(self, buf: Any) -> None:
        """Hand back a buffer from :meth:`take` once its bytes are written (anything else is ignored)."""
        base = buf.base if isinstance(buf, np.ndarray) and isinstance(buf.base, np.ndarray) else None
        if base is not None and base.dtype == np.uint8 and base.ndim == 1:
            with self._lock:
                if len(self._free) < self.keep:
                    self._free.append(base)

    def clear(self) -> None:
        with self._lock:
            self._free.clear()


POOL = BufferPool()


def encode(batch: pa.RecordBatch, slice_rows: int, pool: BufferPool | None = None) -> list[npt.NDArray[np.uint8]] | None:
    """The rows of ``batch`` as CSV text (no header), one buffer per ``slice_rows`` rows (from ``pool`` when
    given: hand each back with ``pool.give`` once written); None if a column has a type this encoder does not
    handle. Each slice is prepared on its own, so that every temporary is small."""
    out_parts = []
    for lo in range(0, batch.num_rows, slice_rows):
        part = _encode_slice(batch.slice(lo, slice_rows), pool)
        if part is None:
            return None
        out_parts.append(part)
    return out_parts


def _encode_slice(batch: pa.RecordBatch, pool: BufferPool | None) -> npt.NDArray[np.uint8] | None:
    fields: list[Field] = []
    for col in batch.columns:
        f = _text(col)
        if f is None:
            return None
        fields.append(f)
    if not fields:
        return np.zeros(0, np.uint8)
    # one byte blob for all columns; each column's starts shifted by where its bytes begin
    bases = np.cumsum([0] + [len(f[2]) for f in fields[:-1]])
    data = np.concatenate([f[2] for f in fields])
    # (row, column): the fields of a row side by side, as the loop reads them
    starts = np.stack([f[0] + base for f, base in zip(fields, bases, strict=True)], axis=1)
    lengths = np.stack([f[1] for f in fields], axis=1)
    quotes = np.array([f[3] for f in fields], dtype=np.bool_)
    n = batch.num_rows
    size = _size(lengths, starts, data, quotes, 0, n)
    out = pool.take(size) if pool is not None else np.empty(size, dtype=np.uint8)
    _fill(lengths, starts, data, quotes, 0, n, out)
    return out
