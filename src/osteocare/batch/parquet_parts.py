"""A Parquet file written in parts, so that the writer's memory does not grow with the file.

Arrow's Parquet writer keeps the metadata of every row group it has written until it writes the footer at
``close()``: 13.9 kB per row group of the screening output (16 columns) in C++ structures, against 1.6 kB once
serialized. With a row group per 50,000-row chunk that is 2.8 MB by 10 M rows and 14 MB by 50 M, held
while the whole pipeline runs: the one part of a screening run's memory that grew with the file
(docs/screening-memory.md, "The Parquet footer"). pyarrow has no writer that starts a row group without holding
its rows, and Arrow's writer refuses to append to a file.

:class:`PartedParquetWriter` writes the same file as one ``pq.ParquetWriter`` would, byte for byte, with a
new Arrow writer for every :data:`PART_ROW_GROUPS` row groups:

- each part is written by Arrow to a file of its own; when it closes, its data are appended to the output
  (but for its leading ``PAR1``, which only the start of the file has) and its footer is kept in a temporary
  file, serialized;
- at the end one footer is written for all the row groups: the first part's footer, with the row groups
  of every part, their file offsets moved by where their part begins, and the total number of rows.

Only the footer is rewritten, field by field in Thrift's compact protocol (the encoding of Parquet's
footer); every field that holds no offset is copied as it is. Files with a page index or bloom filters (whose
offsets live elsewhere) are not made here: the writer is opened without them.
"""

from __future__ import annotations

import errno
import os
import struct
import tempfile
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

MAGIC = b"PAR1"
#: row groups per part: the Arrow writer of a part holds at most this many row groups' metadata
PART_ROW_GROUPS = 16
#: ``pq.ParquetWriter`` options refused: offsets kept outside the row groups (page index, bloom filters),
#: an encrypted footer (signed, with per-row-group ordinals and encrypted column metadata), page splits that
#: carry state from one row group to the next (content-defined chunking), and another file system (each part
#: is read back from the local one)
REFUSED_OPTIONS = ("write_page_index", "bloom_filter_options", "encryption_properties",
                   "use_content_defined_chunking", "filesystem")

# Thrift compact protocol types (https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md)
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(13)

# Field ids in parquet.thrift of what is rewritten
_FILE_NUM_ROWS, _FILE_ROW_GROUPS = 3, 4  # FileMetaData
_RG_COLUMNS, _RG_FILE_OFFSET = 1, 5  # RowGroup (Arrow writes no ordinal, field 7, without encryption)
_CC_FILE_OFFSET, _CC_META = 2, 3  # ColumnChunk
_CC_PAGE_INDEX = (4, 6)  # ColumnChunk: offset_index_offset, column_index_offset
_CM_OFFSETS = (9, 10, 11, 14)  # ColumnMetaData: data, index and dictionary page offsets, bloom filter offset


class FooterError(ValueError):
    """A footer this module cannot splice (not the compact encoding it expects)."""


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(buf):
            raise FooterError("footer ends inside a number")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _unzigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _enc_varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _enc_zigzag(n: int) -> bytes:
    return _enc_varint((n << 1) ^ (n >> 63))


def _list_header(n: int, elem_type: int) -> bytes:
    return bytes([(n << 4) | elem_type]) if n < 15 else bytes([0xF0 | elem_type]) + _enc_varint(n)


def _field(buf: bytes, i: int, last: int) -> tuple[int, int, int]:
    """(field id, type, position after the header) of the field header at ``i``; type 0 is the end of a struct."""
    if i >= len(buf):
        raise FooterError("footer ends inside a struct")
    b = buf[i]
    i += 1
    ftype = b & 0x0F
    if ftype == _STOP:
        return 0, _STOP, i
    delta = b >> 4
    if delta:
        return last + delta, ftype, i
    fid, i = _varint(buf, i)
    return _unzigzag(fid), ftype, i


def _collection(buf: bytes, i: int) -> tuple[int, int, int]:
    """(size, element type, position after the header) of a list or set."""
    b = buf[i]
    size, etype, i = b >> 4, b & 0x0F, i + 1
    if size == 15:
        size, i = _varint(buf, i)
    return size, etype, i


def _skip(buf: bytes, i: int, ftype: int, in_collection: bool = False) -> int:
    """The position after a value of ``ftype`` at ``i``."""
    if ftype in (_TRUE, _FALSE):
        return i + 1 if in_collection else i  # a bool field's value is in its header; in a list, one byte
    if ftype == _BYTE:
        return i + 1
    if ftype in (_I16, _I32, _I64):
        return _varint(buf, i)[1]
    if ftype == _DOUBLE:
        return i + 8
    if ftype == _BINARY:
        n, i = _varint(buf, i)
        return i + n
    if ftype in (_LIST, _SET):
        size, etype, i = _collection(buf, i)
        for _ in range(size):
            i = _skip(buf, i, etype, True)
        return i
    if ftype == _MAP:
        size, i = _varint(buf, i)
        if size:
            kv = buf[i]
            i += 1
            for _ in range(size):
                i = _skip(buf, i, kv >> 4, True)
                i = _skip(buf, i, kv & 0x0F, True)
        return i
    if ftype == _STRUCT:
        last = 0
        while True:
            fid, t, i = _field(buf, i, last)
            if t == _STOP:
                return i
            i, last = _skip(buf, i, t), fid
    raise FooterError(f"unknown Thrift type {ftype}")


def _copy_struct(buf: bytes, i: int, out: bytearray, patch: Any) -> int:
    """Copy the struct at ``i`` to ``out``; ``patch(fid, ftype, buf, i, out)`` may write a field's value itself
    (returning the position after it) or return None to have it copied. Returns the position after the struct."""
    last = 0
    while True:
        fid, t, j = _field(buf, i, last)
        out += buf[i:j]  # the header: the same field in the same place, so its id delta stays right
        if t == _STOP:
            return j
        end = patch(fid, t, buf, j, out)
        if end is None:
            end = _skip(buf, j, t)
            out += buf[j:end]
        i, last = end, fid


def _shifted_i64(buf: bytes, i: int, out: bytearray, shift: int) -> int:
    """An offset moved by ``shift``; 0 stays 0: Arrow writes 0 where there is nothing (the pages of an empty
    row group; the deprecated ColumnChunk.file_offset), and a real offset is at least 4 (after PAR1)."""
    v, end = _varint(buf, i)
    out += _enc_zigzag(_unzigzag(v) + shift) if v else b"\x00"
    return end


def _copy_row_group(buf: bytes, i: int, out: bytearray, shift: int) -> int:
    def column_meta(fid: int, t: int, b: bytes, j: int, o: bytearray) -> int | None:
        return _shifted_i64(b, j, o, shift) if fid in _CM_OFFSETS and t == _I64 else None

    def column_chunk(fid: int, t: int, b: bytes, j: int, o: bytearray) -> int | None:
        if fid in _CC_PAGE_INDEX:
            raise FooterError("a page index: not spliced here")
        if fid == _CC_FILE_OFFSET and t == _I64:
            return _shifted_i64(b, j, o, shift)
        if fid == _CC_META and t == _STRUCT:
            return _copy_struct(b, j, o, column_meta)
        return None

    def row_group(fid: int, t: int, b: bytes, j: int, o: bytearray) -> int | None:
        if fid == _RG_COLUMNS and t == _LIST:
            size, _, k = _collection(b, j)
            o += b[j:k]
            for _ in range(size):
                k = _copy_struct(b, k, o, column_chunk)
            return k
        if fid == _RG_FILE_OFFSET and t == _I64:
            return _shifted_i64(b, j, o, shift)
        return None

    return _copy_struct(buf, i, out, row_group)


def _top_fields(footer: bytes) -> list[tuple[int, int, int, int]]:
    """(field id, type, start of header, end of value) of each field of a FileMetaData, and its stop byte."""
    fields, i, last = [], 0, 0
    while True:
        fid, t, j = _field(footer, i, last)
        if t == _STOP:
            fields.append((0, _STOP, i, j))
            return fields
        end = _skip(footer, j, t)
        fields.append((fid, t, i, end))
        i, last = end, fid


def _part_counts(footer: bytes) -> tuple[int, int, bytes]:
    """(rows, row groups, the bytes of every other field) of a part's footer."""
    rows = groups = -1
    rest = bytearray()
    for fid, t, start, end in _top_fields(footer):
        head_end = _field(footer, start, 0)[2] if t != _STOP else end
        if fid == _FILE_NUM_ROWS and t == _I64:
            rows = _unzigzag(_varint(footer, head_end)[0])
        elif fid == _FILE_ROW_GROUPS and t == _LIST:
            groups = _collection(footer, head_end)[0]
        else:
            rest += footer[start:end]
    if rows < 0 or groups < 0:
        raise FooterError("a footer without its row count or row groups")
    return rows, groups, bytes(rest)


_NO_COPY_RANGE = (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL)


def _copy_range(src: IO[bytes], dst: IO[bytes], start: int, stop: int) -> None:
    """Append ``src[start:stop]`` to ``dst`` (in the kernel where it can: ``copy_file_range``)."""
    dst.flush()
    n, pos = stop - start, start
    copy = getattr(os, "copy_file_range", None)
    if copy is not None:
        try:
            while n > 0:
                done = copy(src.fileno(), dst.fileno(), n, pos)
                if done <= 0:
                    break
                n, pos = n - done, pos + done
        except OSError as exc:  # a file system or kernel without it: copied below; a real error is raised
            if exc.errno not in _NO_COPY_RANGE:
                raise
    if n > 0:
        dst.seek(0, 2)
        src.seek(pos)
        while n > 0:
            piece = src.read(min(n, 1 << 20))
            if not piece:
                raise FooterError("a part shorter than its footer says")
            dst.write(piece)
            n -= len(piece)


class PartedParquetWriter:
    """``write_batch`` and ``close`` of ``pq.ParquetWriter`` (a row group per batch, or several for a batch of
    more than 1,048,576 rows, as Arrow splits them), in bounded memory.

    Each part is written by Arrow to ``PATH.part`` (Arrow's own file: no Python in the way of its writes),
    then its data are appended to ``path`` and its footer kept; ``close`` writes the one footer.
    ``options`` go to every part's ``pq.ParquetWriter`` (``use_dictionary``, ``write_statistics``, ...);
    those in :data:`REFUSED_OPTIONS` are refused. After an error, the writer takes no more batches: the
    caller aborts."""

    def __init__(self, path: Path | str, schema: pa.Schema, part_row_groups: int = PART_ROW_GROUPS,
                 **options: Any) -> None:
        if part_row_groups < 1:
            raise ValueError(f"part_row_groups: {part_row_groups}; allowed: 1 or more")
        for refused in REFUSED_OPTIONS:
            if options.get(refused):
                raise ValueError(f"{refused}: not with a file written in parts")
        self.schema, self.options, self.part_row_groups = schema, options, part_row_groups
        self.path = Path(path)
        self.part_path = self.path.with_name(self.path.name + ".part")
        self.f: IO[bytes] = open(self.path, "w+b")  # closed in close() or abort()
        try:
            self.footers: IO[bytes] = tempfile.TemporaryFile()  # the parts' footers, serialized
        except BaseException:
            self.f.close()
            raise
        self._state = "open"  # then "failed" (after an error: abort) or "closed"
        self.parts: list[tuple[int, int, int, int]] = []  # per part: shift, footer length, rows, row groups
        self._writer: pq.ParquetWriter | None = None
        self._groups = 0
        self._rest: bytes | None = None  # the fields of the first part's footer that are not row groups

    def write_batch(self, batch: pa.RecordBatch) -> None:
        if self._state != "open":
            raise ValueError(f"write_batch on a {self._state} Parquet writer")
        try:
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.part_path, self.schema, **self.options)
            self._writer.write_batch(batch)
            self._groups += 1
            if self._groups >= self.part_row_groups:
                self._end_part()
        except BaseException:
            self._state = "failed"  # a part half written: no file can be made of what follows
            raise

    def _end_part(self) -> None:
        assert self._writer is not None
        self._writer.close()
        self._writer = None
        self._groups = 0
        with open(self.part_path, "rb") as part:
            end = part.seek(0, 2)
            part.seek(end - 8)
            tail = part.read(8)
            (length,) = struct.unpack("<i", tail[:4])
            if tail[4:] != MAGIC or not 0 < length <= end - 12:
                raise FooterError("a part without its footer")
            data_end = end - 8 - length
            part.seek(data_end)
            footer = part.read(length)
            at = self.f.seek(0, 2)
            # the first part keeps its PAR1 (the file's); later ones start after theirs, so their offsets,
            # which count from their own start, are off by where they land less those 4 bytes
            skip = 4 if self.parts else 0
            _copy_range(part, self.f, skip, data_end)
        self.part_path.unlink()
        try:
            rows, groups, rest = _part_counts(footer)
        except (IndexError, struct.error) as exc:
            raise FooterError(f"a part's footer ends early ({exc})") from None
        if self._rest is None:
            self._rest = rest
        elif rest != self._rest:  # the same schema and options: anything else would be a different file
            raise FooterError("parts whose footers differ in more than their row groups")
        self.footers.write(footer)
        self.parts.append((at - skip, length, rows, groups))

    def close(self) -> None:
        """Write the footer and close the file (a file with no batch written is empty). Once closed, a no-op;
        after an error, a ValueError (the file is incomplete: abort)."""
        if self._state == "closed":
            return
        if self._state == "failed":
            self.abort()
            raise ValueError("close of a failed Parquet writer: the file is incomplete")
        try:
            if self._writer is not None:
                self._end_part()
            if self.parts:
                self.f.seek(0, 2)
                try:
                    self._write_footer()
                except (IndexError, struct.error) as exc:
                    raise FooterError(f"a part's footer ends early ({exc})") from None
        finally:
            self._release()

    def abort(self) -> None:
        """Close without a footer (the caller removes the file); a no-op once closed."""
        if self._state == "closed":
            return
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            self._release()

    def _release(self) -> None:
        self._writer, self._state = None, "closed"
        try:
            self.f.close()
        finally:
            try:
                self.footers.close()
            finally:
                self.part_path.unlink(missing_ok=True)

    def _write_footer(self) -> None:
        f, footers = self.f, self.footers
        total_rows = sum(p[2] for p in self.parts)
        total_groups = sum(p[3] for p in self.parts)
        footers.seek(0)
        first = footers.read(self.parts[0][1])
        written = 0

        def put(b: bytes | bytearray) -> None:
            nonlocal written
            f.write(b)
            written += len(b)

        for fid, t, start, end in _top_fields(first):
            if t == _STOP:
                put(first[start:end])
                break
            head_end = _field(first, start, 0)[2]
            if fid == _FILE_NUM_ROWS and t == _I64:
                put(first[start:head_end] + _enc_zigzag(total_rows))
            elif fid == _FILE_ROW_GROUPS and t == _LIST:
                put(first[start:head_end] + _list_header(total_groups, _STRUCT))
                footers.seek(0)
                for shift, length, _, _ in self.parts:
                    footer = footers.read(length)
                    for pfid, pt, pstart, _ in _top_fields(footer):
                        if pfid == _FILE_ROW_GROUPS and pt == _LIST:
                            size, _, i = _collection(footer, _field(footer, pstart, 0)[2])
                            for _ in range(size):
                                out = bytearray()
                                i = _copy_row_group(footer, i, out, shift)
                                put(out)
            else:
                put(first[start:end])
        f.write(struct.pack("<i", written) + MAGIC)
