"""Ids that more than one row of a screening run has, found in memory that does not grow with the file.

Each scored chunk's ids are hashed on its scoring thread (:func:`id_hashes`: two 64-bit hashes of the id's
UTF-8 bytes, compiled, no Python per row) and grouped by partition (the first hash's top 6 bits). The writer
thread, which sees the chunks in input order, appends each row's two hashes and row number to its partition's
file (:class:`IdTally`; 24 bytes a row, in a hidden folder beside the output, removed at the end). At the end
each partition is read on its own and its rows looked up in a hash table (compiled): a row whose two hashes an
earlier row has repeats that row's id (128 bits: the chance that two different ids of a 50-million-row file
look the same is below 10^-22). A partition file of more than :data:`BLOCK` records is first split by further
bits of the hash, and each file is read block by block, so memory holds a bounded number of records at the end
whatever the length of the file, never the ids of the whole file.

A repeated id is counted in the run's summary, with the first few repeats (their rows and the id, read back
from the output); the rows are scored (``assess`` scores each on its own facts) and their ``error`` is not set:
whether a row is flagged must not depend on other rows, and the output is written as the rows come.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

PARTITIONS = 64
#: how many repeated ids the summary shows (with their rows); all of them are counted
EXAMPLES = 5



def string_buffers(arr: pa.Array) -> tuple[npt.NDArray[Any], npt.NDArray[np.uint8], npt.NDArray[np.uint8], int]:
    """A string array's (offsets of its rows, its bytes, its validity bitmap (empty: no nulls), the bitmap's bit
    offset), as numpy views for a compiled loop (no copy)."""
    n = len(arr)
    bufs = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=width, count=arr.offset + n + 1)[arr.offset:] if n else np.zeros(1, width)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, dtype=np.uint8)
    bitmap = (np.frombuffer(bufs[0], dtype=np.uint8) if bufs[0] is not None and arr.null_count
              else np.zeros(0, dtype=np.uint8))
    return offsets, data, bitmap, arr.offset


@njit(cache=True, nogil=True)
def _hash(offsets: Any, data: Any, bitmap: Any, bit0: int, out: Any) -> int:  # pragma: no cover - compiled
    """Two 64-bit hashes of each string into ``out``, eight bytes at a time (a multiply-xorshift and a
    multiply-rotate chain over the same little-endian words, each finished with the length and murmur3's
    fmix64); (0, 0) for a null. Returns the number of nulls."""
    nulls = 0
    for i in range(out.shape[0]):
        if bitmap.size and not (bitmap[(bit0 + i) >> 3] >> ((bit0 + i) & 7)) & 1:
            out[i, 0] = 0
            out[i, 1] = 0
            nulls += 1
            continue
        h = np.uint64(0xCBF29CE484222325)
        g = np.uint64(0x9E3779B97F4A7C15)
        lo, hi = offsets[i], offsets[i + 1]
        j = lo
        while j < hi:
            end = min(j + 8, hi)
            w = np.uint64(0)
            shift = np.uint64(0)
            for t in range(j, end):
                w |= np.uint64(data[t]) << shift
                shift += np.uint64(8)
            j = end
            h = (h ^ w) * np.uint64(0x9FB21C651E98DF25)
            h ^= h >> np.uint64(29)
            g = (g + w) * np.uint64(0xC2B2AE3D27D4EB4F)
            g = (g << np.uint64(31)) | (g >> np.uint64(33))
        n = np.uint64(hi - lo)
        for k in range(2):
            x = (h if k == 0 else g) ^ n
            x ^= x >> np.uint64(33)
            x *= np.uint64(0xFF51AFD7ED558CCD)
            x ^= x >> np.uint64(33)
            x *= np.uint64(0xC4CEB9FE1A85EC53)
            x ^= x >> np.uint64(33)
            out[i, k] = x
    return nulls


@njit(cache=True, nogil=True)
def _partition(hashes: Any, bitmap: Any, bit0: int, rec: Any, bounds: Any) -> None:  # pragma: no cover - compiled
    """The rows with an id as records (hash 1, hash 2, row) grouped by partition (the top 6 bits of hash 1), in
    row order within each; ``bounds[p]:bounds[p + 1]`` is partition p's slice."""
    counts = np.zeros(PARTITIONS, dtype=np.int64)
    n = hashes.shape[0]
    for i in range(n):
        if bitmap.size and not (bitmap[(bit0 + i) >> 3] >> ((bit0 + i) & 7)) & 1:
            continue
        counts[hashes[i, 0] >> np.uint64(58)] += 1
    bounds[0] = 0
    for p in range(PARTITIONS):
        bounds[p + 1] = bounds[p] + counts[p]
    at = bounds[:PARTITIONS].copy()
    for i in range(n):
        if bitmap.size and not (bitmap[(bit0 + i) >> 3] >> ((bit0 + i) & 7)) & 1:
            continue
        p = hashes[i, 0] >> np.uint64(58)
        k = at[p]
        rec[k, 0] = hashes[i, 0]
        rec[k, 1] = hashes[i, 1]
        rec[k, 2] = np.uint64(i)
        at[p] = k + 1


@dataclass
class ChunkIds:
    """A chunk's ids, hashed and grouped by partition (made on a scoring thread): ``rec`` rows of (hash 1, hash 2,
    row within the chunk), partition p in ``rec[bounds[p]:bounds[p + 1]]``; ``rows``: the chunk's rows."""

    rec: npt.NDArray[np.uint64]
    bounds: npt.NDArray[np.int64]
    rows: int


def id_hashes(ids: pa.Array | pa.ChunkedArray) -> ChunkIds:
    """:class:`ChunkIds` of an output ``id`` column of any type (read as its text)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        ids = pc.cast(ids, pa.string())
    n = len(ids)
    offsets, data, bitmap, bit0 = string_buffers(ids)
    hashes = np.empty((n, 2), dtype=np.uint64)
    nulls = _hash(offsets, data, bitmap, bit0, hashes) if n else 0
    rec = np.empty((n - nulls, 3), dtype=np.uint64)
    bounds = np.zeros(PARTITIONS + 1, dtype=np.int64)
    if n:
        _partition(hashes, bitmap, bit0, rec, bounds)
    return ChunkIds(rec, bounds, n)


@njit(cache=True, nogil=True)
def _repeats(rec: Any, keys: Any, firsts: Any, slot_of: Any, known: int,
             out: Any) -> tuple[int, int]:  # pragma: no cover - compiled
    """The records of ``rec`` (in row order, after every record of the blocks before) whose two hashes an earlier
    record has: (its row, the earlier row) into ``out``, in row order. ``keys``/``firsts`` hold the ``known``
    distinct ids met so far (two hashes, first row) and ``slot_of`` their open-addressing table (twice as large
    as ``keys`` can hold); they carry on to the next block. Returns (how many repeats, how many distinct ids)."""
    mask = np.uint64(slot_of.shape[0] - 1)
    found = 0
    for i in range(rec.shape[0]):
        j = rec[i, 0] & mask
        while True:
            k = slot_of[j]
            if k < 0:
                slot_of[j] = known
                keys[known, 0] = rec[i, 0]
                keys[known, 1] = rec[i, 1]
                firsts[known] = rec[i, 2]
                known += 1
                break
            if keys[k, 0] == rec[i, 0] and keys[k, 1] == rec[i, 1]:
                out[found, 0] = rec[i, 2]
                out[found, 1] = firsts[k]
                found += 1
                break
            j = (j + np.uint64(1)) & mask
    return found, known


#: records (24 bytes each) read at once when the repeats are looked up at the end; a partition file holding more is
#: split first by further bits of the first hash (the same id always lands in the same part), so the memory of the
#: end is bounded whatever the length of the file (about 100 bytes per record held: records, table, repeats)
BLOCK = 1 << 18
#: bits of the first hash that choose a partition file (:func:`_partition`: the top 6)
_BITS = 6


def _blocks(path: Path) -> Iterator[npt.NDArray[np.uint64]]:
    """The records of a partition file, :data:`BLOCK` at a time."""
    with open(path, "rb") as f:
        while True:
            block = np.fromfile(f, dtype=np.uint64, count=3 * BLOCK)
            if not block.size:
                return
            yield block.reshape(-1, 3)


def _split(path: Path, used: int, bits: int) -> list[Path]:
    """Partition file ``path`` split into up to ``2 ** bits`` files by the next ``bits`` bits of the first hash after
    the ``used`` ones, each in row order; ``path`` removed."""
    shift = np.uint64(64 - used - bits)
    parts: dict[int, Any] = {}
    try:
        for rec in _blocks(path):
            part = (rec[:, 0] >> shift) & np.uint64(2 ** bits - 1)
            order = np.argsort(part, kind="stable")  # row order kept within each part
            bounds = np.searchsorted(part[order], np.arange(2 ** bits + 1, dtype=np.uint64))
            for q in np.flatnonzero(np.diff(bounds)):
                out = parts.get(int(q))
                if out is None:
                    out = parts[int(q)] = open(path.with_name(f"{path.name}.{q:02d}"), "wb")
                out.write(rec[order[bounds[q]:bounds[q + 1]]].tobytes())
    finally:
        for out in parts.values():
            out.close()
    path.unlink()
    return [path.with_name(f"{path.name}.{q:02d}") for q in sorted(parts)]


def _repeats_of(path: Path, used: int, out: Repeats, firsts: list[tuple[int, int]]) -> None:
    """The repeats of one partition file (chosen by the first ``used`` bits of the first hash) into ``out`` (the
    first :data:`EXAMPLES` of the run into ``firsts``)."""
    records = path.stat().st_size // 24
    if records > BLOCK and used < 64:
        # as few parts as keep each within a block on average, with room: a few files, not thousands
        bits = min(64 - used, _BITS, max(1, math.ceil(math.log2(records / BLOCK)) + 1))
        parts = _split(path, used, bits)
        if len(parts) > 1:
            for part in parts:
                _repeats_of(part, used + bits, out, firsts)
            return
        path = parts[0]  # every record in one part (one id again and again): read it block by block below
    # the distinct ids of this file are at most its records; at the last level or when one id fills the file
    # they are few, and the table grows with them only
    cap = 16
    keys = np.empty((cap, 2), dtype=np.uint64)
    first_rows = np.empty(cap, dtype=np.uint64)
    slot_of = np.full(2 * cap, -1, dtype=np.int64)
    known = 0
    for rec in _blocks(path):
        if known + rec.shape[0] > cap:  # room for every record of the block being new
            while known + rec.shape[0] > cap:
                cap *= 2
            keys = np.concatenate([keys[:known], np.empty((cap - known, 2), dtype=np.uint64)])
            first_rows = np.concatenate([first_rows[:known], np.empty(cap - known, dtype=np.uint64)])
            slot_of = np.full(2 * cap, -1, dtype=np.int64)
            mask = np.uint64(2 * cap - 1)
            for k in range(known):  # rarely: the table is rebuilt only when it doubles
                j = keys[k, 0] & mask
                while slot_of[j] >= 0:
                    j = (j + np.uint64(1)) & mask
                slot_of[j] = k
        pairs = np.empty((rec.shape[0], 2), dtype=np.uint64)
        found, known = _repeats(rec, keys, first_rows, slot_of, known, pairs)
        out.rows += found
        if found:  # the earliest repeats of the run so far (each file's in row order)
            firsts[:] = sorted([*firsts, *((int(a), int(b)) for a, b in pairs[:min(found, EXAMPLES)])])[:EXAMPLES]


@dataclass
class Repeats:
    """What :meth:`IdTally.finish` found: rows whose id an earlier row has, and the first few (0-based rows)."""

    rows: int = 0
    examples: list[tuple[int, int]] = field(default_factory=list)  # (the repeating row, the first row with its id)


class IdTally:
    """Collects the ids of a run chunk by chunk (on one thread, in input order) and finds the repeated ones."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.rows = 0
        self._files: dict[int, Any] = {}

    def add(self, ids: ChunkIds) -> None:
        rec, bounds = ids.rec, ids.bounds
        if rec.size:
            rec[:, 2] += np.uint64(self.rows)  # rows of the run, not of the chunk
            for p in np.flatnonzero(np.diff(bounds)):
                f = self._files.get(int(p))
                if f is None:
                    self.folder.mkdir(exist_ok=True)
                    f = self._files[int(p)] = open(self.folder / f"{p:02d}", "wb")  # closed in finish
                f.write(rec[bounds[p]:bounds[p + 1]].tobytes())
        self.rows += ids.rows

    def finish(self) -> Repeats:
        """The repeated ids of every row added; the partition files are removed."""
        out = Repeats()
        firsts: list[tuple[int, int]] = []
        try:
            for p in sorted(self._files):
                self._files[p].close()
                _repeats_of(self.folder / f"{p:02d}", _BITS, out, firsts)
        finally:
            self.close()
        out.examples = sorted(firsts)[:EXAMPLES]
        return out

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files = {}
        shutil.rmtree(self.folder, ignore_errors=True)


def ids_at(path: Path, rows: list[int]) -> dict[int, str | None]:
    """The ``id`` of the given (0-based) rows of a screening output file, CSV or Parquet, read until the last."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    want = sorted(set(rows))
    out: dict[int, str | None] = {}
    if not want:
        return out
    start = 0
    if path.suffix.lower() in (".parquet", ".pq"):
        pf = pq.ParquetFile(path)
        for g in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(g).num_rows
            inside = [r for r in want if start <= r < start + n]
            if inside:
                ids = pf.read_row_group(g, columns=["id"]).column("id")
                for r in inside:
                    v = ids[r - start].as_py()
                    out[r] = None if v is None else str(v)
            start += n
            if start > want[-1]:
                break
        return out
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(use_threads=False),
                            parse_options=pacsv.ParseOptions(newlines_in_values=True),
                            convert_options=pacsv.ConvertOptions(include_columns=["id"],
                                                                 column_types={"id": pa.string()}))
    try:
        for batch in reader:
            n = batch.num_rows
            for r in [r for r in want if start <= r < start + n]:
                out[r] = batch.column(0)[r - start].as_py()
            start += n
            if start > want[-1]:
                break
    finally:
        reader.close()
    return out
