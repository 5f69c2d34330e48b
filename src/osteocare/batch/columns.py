"""Arrow columns -> validated numpy inputs, with a per-row reason for rows that cannot be scored.

The strictness mode "flag and carry on" (DESIGN habit 6): where ``parse_record`` raises for one patient,
screening writes the same kind of message in the row's ``error`` column and goes on. Limits and category
codes are the same knowledge facts the record uses. Everything is vectorised; Python loops run only over
the (rare) rows that fail a check, to write their message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from ..core.errors import InputError
from ..core.limits import limit
from ..core.records import ALCOHOL, ETHNICITIES, FLAGS, ID_FORBIDDEN_CHARS, ID_MAX_LENGTH, SMOKING, check_record_id
from ..core.risk.qfracture import input_codes
from .duplicates import string_buffers

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

OPTIONAL_FLOAT: dict[str, str] = {
    "femoral_neck_t_score": "t_score",
    "total_hip_t_score": "t_score",
    "lumbar_spine_t_score": "t_score",
    "femoral_neck_bmd_g_cm2": "bmd_g_cm2",
    "frax_mof_percent": "frax_percent",
    "frax_hip_percent": "frax_percent",
    "glucocorticoid_mg_per_day": "glucocorticoid_mg_per_day",
}
NUMERIC_INPUTS = ("age", "bmi", "weight_kg", "height_cm", "years", *FLAGS, *OPTIONAL_FLOAT)
CATEGORY_INPUTS = ("sex", "ethnicity", "smoking", "alcohol")
INPUT_COLUMNS = ("id", *CATEGORY_INPUTS, *NUMERIC_INPUTS)
#: the columns every input must have (a file or table without one of them is refused before any row is read)
REQUIRED_COLUMNS = ("id", "sex", "age")
#: a column the CSV reader adds to a chunk where a row could not be parsed (a row with too few or too many
#: values): the reason, which flags the row before any of its cells is looked at
ROW_ERROR = "__osteocare_row_error"
_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


@dataclass
class Columns:
    n: int
    female: BoolArray
    age: FloatArray
    bmi: FloatArray
    weight_kg: FloatArray
    ethrisk: npt.NDArray[np.int64]
    smoke_cat: npt.NDArray[np.int64]
    alcohol_cat6: npt.NDArray[np.int64]
    years: npt.NDArray[np.int64]
    flags: dict[str, BoolArray]  # QFracture input name -> True where the flag is 1
    optional: dict[str, FloatArray]
    bad: BoolArray
    #: per row the number of its error message in ``messages`` (0: none; k: ``messages[k - 1]``)
    error_code: npt.NDArray[np.int32] | None = None
    messages: list[str] = field(default_factory=list)
    ethnicity_defaulted: BoolArray | None = None
    shared: dict[str, Any] = field(default_factory=dict)  # results computed once per chunk, used by several scorers
    #: the id column as written to the output, where it is not the input's own: text where the input's was bytes
    #: (odd bytes escaped), without the surrounding spaces ``assess`` takes off (a PostgreSQL ``char(n)`` pads)
    id_text: pa.Array | None = None
    _numbered: dict[str, int] = field(default_factory=dict)

    def _codes(self, texts: Sequence[str]) -> npt.NDArray[np.int32]:
        out = np.empty(len(texts), dtype=np.int32)
        for k, t in enumerate(texts):
            code = self._numbered.get(t)
            if code is None:
                self.messages.append(t)
                code = self._numbered[t] = len(self.messages)
            out[k] = code
        return out

    def _new(self, mask: BoolArray) -> npt.NDArray[np.int64] | None:
        """The rows in ``mask`` without an error yet (first error wins), marked bad; None if there are none."""
        if not mask.any():
            return None
        new = mask & ~self.bad
        if not new.any():
            return None
        self.bad |= new
        if self.error_code is None:
            self.error_code = np.zeros(self.n, dtype=np.int32)
        return np.flatnonzero(new)

    def flag(self, mask: BoolArray, message_for: Callable[[int], str]) -> None:
        """Record ``message_for(i)`` for each row in ``mask`` that has no error yet (first error wins). A call per
        row: for messages that depend on more than one value of a row (rare); else :meth:`flag_by`."""
        rows = self._new(mask)
        if rows is not None:
            assert self.error_code is not None
            self.error_code[rows] = self._codes([message_for(int(i)) for i in rows])

    def flag_same(self, mask: BoolArray, message: str) -> None:
        """:meth:`flag` with one message for every row in ``mask``."""
        rows = self._new(mask)
        if rows is not None:
            assert self.error_code is not None
            self.error_code[rows] = self._codes([message])[0]

    def flag_by(self, mask: BoolArray, keys: pa.Array | npt.NDArray[Any], message_for: Callable[[Any], str]) -> None:
        """:meth:`flag` with the message made once per distinct value of ``keys`` among the new rows (``keys``: one
        value per row, numpy or Arrow; ``message_for`` gets the value as a Python object, None for a null)."""
        rows = self._new(mask)
        if rows is None:
            return
        assert self.error_code is not None
        if isinstance(keys, np.ndarray):
            uniq, inverse = np.unique(keys[rows], return_inverse=True, axis=0 if keys.ndim > 1 else None)
            values = uniq.tolist()
        else:
            picked = keys.take(pa.array(rows))
            if pa.types.is_dictionary(picked.type):
                picked = picked.dictionary_decode()
            enc = pc.dictionary_encode(picked, null_encoding="encode")
            if isinstance(enc, pa.ChunkedArray):
                enc = enc.combine_chunks()
            values = enc.dictionary.to_pylist()
            inverse = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        self.error_code[rows] = self._codes([message_for(v) for v in values])[np.ravel(inverse)]


#: columns that hold a measure in a unit of the contract: a column named like one of them in another unit
#: (``weight_lb``, ``height_m``) is not read, and the run says so (a guessed unit is never converted)
UNIT_COLUMNS: dict[str, tuple[str, str]] = {
    "weight": ("weight_kg", "kg"),
    "height": ("height_cm", "cm"),
    "femoral_neck_bmd": ("femoral_neck_bmd_g_cm2", "g/cm²"),
    "bmd": ("femoral_neck_bmd_g_cm2", "g/cm²"),
    "glucocorticoid": ("glucocorticoid_mg_per_day", "mg of prednisolone equivalent per day"),
    "prednisolone": ("glucocorticoid_mg_per_day", "mg of prednisolone equivalent per day"),
}


def column_key(name: str) -> str:
    """How a column name would read as a contract name: lower case, no surrounding spaces, words joined by ``_``
    (``Femoral Neck T-Score`` -> ``femoral_neck_t_score``)."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _shown(names: Sequence[str]) -> str:
    text = ", ".join(repr(n if len(n) <= 40 else n[:37] + "...") for n in names[:12])
    return text + (f" and {len(names) - 12} more" if len(names) > 12 else "")


def check_columns(names: Sequence[str], source: str, notes: list[str] | None = None) -> None:
    """Refuse an input whose columns cannot be screened, before any row is read: a required column missing
    (:data:`REQUIRED_COLUMNS`), a contract column twice, or a contract column written differently (``BMI``,
    ``Femoral_Neck_T_Score``, ``frax_mof_percent `` with a space): such a column would not be read, and its
    patients would be scored without it. The message names the columns found and, where a name is only written
    differently or the file seems to use another separator, says so.

    A column that looks like a contract measure in another unit (``weight_lb``, ``height_m``) is not read; a
    note naming the column expected and its unit is added to ``notes`` (the run's summary shows it)."""
    names = list(names)
    twice = sorted({c for c in names if c in INPUT_COLUMNS and names.count(c) > 1})
    if twice:
        raise InputError(source, f"column {twice[0]!r} twice", "each column once")
    variants = [(n, column_key(n)) for n in names if n not in INPUT_COLUMNS and column_key(n) in INPUT_COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        hints = [f"{n!r} would be read as {k!r} if written so (names are lower case, words joined by _)"
                 for n, k in variants]
        for sep, what in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if len(names) == 1 and sep in names[0]:
                hints.append(f"the columns seem separated by {what}; expected commas")
        raise InputError(source, f"no column {', '.join(missing)}",
                         f"the required columns {', '.join(REQUIRED_COLUMNS)} (found: {_shown(names) or 'none'}"
                         + "".join(f"; {h}" for h in hints[:3]) + ")")
    if variants:
        said = "; ".join(f"{n!r} would be read as {k!r}" + (", which is also a column" if k in names else "")
                         for n, k in variants[:5])
        more = f" and {len(variants) - 5} more" if len(variants) > 5 else ""
        raise InputError(source, f"column {variants[0][0]!r}",
                         f"the contract's column names as written in docs/screening.md, lower case with words joined "
                         f"by _ ({said}{more}); rename the column, or it would not be read and its patients would be "
                         "scored without it")
    if notes is not None:
        notes.extend(unit_notes(names))


def unit_notes(names: Sequence[str]) -> list[str]:
    """A note for each column that looks like a contract measure in another unit (:data:`UNIT_COLUMNS`)."""
    from ..core.records import PatientRecord

    out = []
    for n in names:
        key = column_key(n)
        if key in INPUT_COLUMNS or key in PatientRecord.model_fields:  # a record field screening does not read
            continue
        for stem, (col, unit) in UNIT_COLUMNS.items():
            if key == stem or key.startswith(stem + "_"):
                out.append(f"column {n!r} is not read: {stem.replace('_', ' ')} is read from column {col!r}, in "
                           f"{unit}, and a value in another unit is never converted (convert it into {col!r} to "
                           "use it)")
                break
    return out


def check_types(schema: pa.Schema, source: str) -> None:
    """Refuse a contract column of a nested type (a list, a struct, a map): no cell of it can be a value."""
    for f in schema:
        if f.name in INPUT_COLUMNS and pa.types.is_nested(f.type):
            raise InputError(f"{source}: column {f.name}", str(f.type), "numbers or text, one value per row")


def number_text(v: float) -> str:
    """A number for a message, as typed (``9.99999999``, not rounded to ``10`` by ``%g``; ``10``, not ``10.0``)."""
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def _column(batch: pa.RecordBatch | pa.Table, name: str) -> pa.Array | None:
    if name not in batch.schema.names:
        return None
    col = batch.column(name)
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _floats(s: pa.Array) -> FloatArray | None:
    """Text cells as floats in one pass, or None if any cell is not a plain number. Arrow's cast also reads
    ``nan`` and ``inf``; they are not values here, and the careful path flags them, so they send the chunk
    there too: whether a chunk takes this path must not change any row's result."""
    try:
        vals = np.asarray(pc.cast(s, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if np.count_nonzero(~np.isfinite(vals)) != s.null_count:  # null cells are the only NaN allowed
        return None
    return vals


@dataclass
class _Parsed:
    """A number column as floats (NaN: missing or not a number), and what is needed to flag and show its cells."""

    vals: FloatArray
    not_number: BoolArray | None = None  # present cells that are not a number (text)
    truth: BoolArray | None = None  # present cells of a true/false column (a number is expected)
    text: pa.Array | None = None  # the cells as text, where the column was text


def _float16(col: pa.Array) -> FloatArray:
    """A float16 column as the numbers its shortest decimal texts say, one conversion per distinct value (at most
    65,536): the nearest float64 to ``0.1`` rather than float16's 0.0999755859375."""
    half = np.asarray(pc.cast(col, pa.float32()).to_numpy(zero_copy_only=False), dtype=np.float32).astype(np.float16)
    uniq, inverse = np.unique(half, return_inverse=True)
    as_written = np.array([float(str(v)) for v in uniq], dtype=np.float64)
    out: FloatArray = as_written[np.ravel(inverse)]
    return out


def _numeric(col: pa.Array | None, n: int) -> _Parsed:
    """The values of a number column. A float32 or float16 column (Parquet FLOAT, DuckDB ``REAL``, PostgreSQL
    ``real``) and a decimal one (``NUMERIC``) are read through their shortest decimal text, so a value means what
    was written: float32 -1.05 is -1.05, not -1.0499999523 (which rounds to a T-score of -1.0), and decimal -13309
    is -13309, not -13309.000000000002 (Arrow's decimal cast is not always the nearest float)."""
    if col is None:
        return _Parsed(np.full(n, np.nan))
    if pa.types.is_dictionary(col.type) and not pa.types.is_string(col.type.value_type):
        col = col.dictionary_decode()
    t = col.type
    if pa.types.is_boolean(t):  # true/false where a number is expected: flagged, as parse_record does
        return _Parsed(np.full(n, np.nan), truth=np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=bool))
    if pa.types.is_integer(t) or pa.types.is_float64(t):
        return _Parsed(np.asarray(pc.cast(col, pa.float64(), safe=False).to_numpy(zero_copy_only=False),
                                  dtype=np.float64))
    if pa.types.is_float16(t):
        return _Parsed(_float16(col))
    if pa.types.is_floating(t) or pa.types.is_decimal(t):  # Arrow writes the shortest text that reads back the same
        return _Parsed(np.asarray(pc.cast(pc.cast(col, pa.string()), pa.float64()).to_numpy(zero_copy_only=False),
                                  dtype=np.float64))
    s = pc.cast(col, pa.string())
    quick = _floats(s)  # the usual case: every cell a number or empty (null); else the careful paths below
    if quick is not None:
        return _Parsed(quick, text=s)
    s = pc.if_else(pc.equal(pc.utf8_trim_whitespace(s), ""), pa.scalar(None, pa.string()), s)
    quick = _floats(s)
    if quick is not None:
        return _Parsed(quick, text=s)
    ok = pc.fill_null(pc.match_substring_regex(s, _NUMBER), True)
    clean = pc.if_else(ok, s, pa.scalar(None, pa.string()))
    vals = pc.cast(pc.utf8_trim_whitespace(clean), pa.float64()).to_numpy(zero_copy_only=False)
    bad = ~np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)
    return _Parsed(np.asarray(vals, dtype=np.float64), not_number=bad, text=s)


def as_given(v: object) -> str:
    """A flagged value for a message as it was given: a text cell without its surrounding spaces (``1e309``, not
    ``inf``), a number as typed (:func:`number_text`)."""
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return number_text(v) if isinstance(v, float) else str(v)
    return repr(v)


def _is_bytes(t: pa.DataType) -> bool:
    return (pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)
            or (pa.types.is_dictionary(t) and _is_bytes(t.value_type)))


def _as_text(col: pa.Array) -> tuple[pa.Array, dict[int, bytes]]:
    """A column of bytes as text, and the cells that are not UTF-8 (row -> bytes), which become text with
    their odd bytes escaped (``P\\xff``). Only the rare column with such a cell is decoded in Python."""
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    try:
        return pc.cast(col, pa.string()), {}
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    texts: list[str | None] = []
    odd: dict[int, bytes] = {}
    for i, cell in enumerate(col.to_pylist()):
        if cell is None:
            texts.append(None)
            continue
        try:
            texts.append(cell.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(cell.decode("utf-8", "backslashreplace"))
            odd[i] = cell
    return pa.array(texts, pa.string()), odd


def _category(col: pa.Array | None, n: int, keys: tuple[str, ...]) -> tuple[npt.NDArray[np.int64], BoolArray, BoolArray]:
    """(index into keys, -1 where missing/unknown; missing mask; unknown mask)."""
    if col is None:
        return np.full(n, -1, dtype=np.int64), np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    # The text work runs once per distinct value (dictionary encoding), not once per row.
    enc = col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(pc.cast(col, pa.string()))
    words = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(enc.dictionary, pa.string())))
    words = pc.if_else(pc.equal(words, ""), pa.scalar(None, pa.string()), words)
    # per distinct value: index into keys, -1 unknown, -2 missing; the last slot is for null cells
    word_idx = np.asarray(pc.fill_null(pc.index_in(words, value_set=pa.array(keys, pa.string())), -1)
                          .to_numpy(zero_copy_only=False), dtype=np.int64)
    word_idx = np.where(np.asarray(words.is_null().to_numpy(zero_copy_only=False), dtype=bool), -2, word_idx)
    lookup = np.append(word_idx, -2)
    indices = enc.indices
    ii = np.asarray(pc.fill_null(indices, len(word_idx)).to_numpy(zero_copy_only=False), dtype=np.int64)
    codes = lookup[ii]
    missing = codes == -2
    out = np.where(missing, -1, codes)
    return out, missing, codes == -1


def _flag(cols: Columns, batch: pa.RecordBatch | pa.Table, name: str,
          numeric: Callable[..., FloatArray]) -> BoolArray:
    """A 0/1 flag column (empty = 0) as booleans (a true/false column too); any other value flags the row."""
    col = _column(batch, name)
    if col is None:
        return np.zeros(cols.n, dtype=bool)
    ints = col
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        try:  # the usual CSV case: every cell 0, 1 or empty (a whole number parses as the same number)
            ints = pc.cast(col, pa.int8())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            ints = None
    if ints is not None and (pa.types.is_integer(ints.type) or pa.types.is_boolean(ints.type)):
        # one pass when every value is 0, 1 or empty (empty = 0); anything else takes the careful path
        empty = pa.scalar(False if pa.types.is_boolean(ints.type) else 0, ints.type)
        raw = (pc.fill_null(ints, empty) if ints.null_count else ints).to_numpy(zero_copy_only=False)
        if raw.dtype == np.bool_:
            return raw
        if not ((raw < 0) | (raw > 1)).any():
            out: BoolArray = raw == 1
            return out
    v = numeric(name, None, expected="0 or 1", other=lambda x: f"{name}: {x} is not allowed; expected 0 or 1")
    one: BoolArray = v == 1
    return one


#: bytes of an id that ``check_record_id`` certainly takes as it is: printable ASCII other than / ? # % \ (a space
#: too, but not first or last). Any other (rare) id is checked by check_record_id itself, once per distinct value,
#: so the rules and messages are those of the record.
_ID_BYTES = np.zeros(256, dtype=np.bool_)
_ID_BYTES[0x20:0x7F] = True
_ID_BYTES[[ord(c) for c in ID_FORBIDDEN_CHARS]] = False


@njit(cache=True, nogil=True)
def _plain_ids(offsets: Any, data: Any, bitmap: Any, bit0: int, allowed: Any, longest: int,
               out: Any) -> int:  # pragma: no cover - compiled
    """``out[i]``: whether row i's id is certainly one the record takes as it is (1 to ``longest`` allowed bytes,
    not starting or ending with a space, not ``.`` or ``..``); False for a null or any other. Returns how many are
    not."""
    odd = 0
    for i in range(out.shape[0]):
        ok = not (bitmap.size and not (bitmap[(bit0 + i) >> 3] >> ((bit0 + i) & 7)) & 1)
        lo, hi = offsets[i], offsets[i + 1]
        if ok:
            ok = 0 < hi - lo <= longest and data[lo] != 32 and data[hi - 1] != 32
        if ok and hi - lo <= 2 and data[lo] == 46 and data[hi - 1] == 46:  # '.' or '..'
            ok = False
        j = lo
        while ok and j < hi:
            ok = allowed[data[j]]
            j += 1
        out[i] = ok
        odd += not ok
    return odd


def _check_ids(cols: Columns, ids: pa.Array) -> None:
    """Flag the ids ``parse_record`` refuses, with its message (:func:`~osteocare.core.records.check_record_id`:
    ``P/1``, ``..``, 65 characters or more, a line break ...), and write an id with surrounding spaces (a
    PostgreSQL ``char(n)`` pads with them) as ``assess`` reads it, without them. A compiled pass over the ids'
    bytes finds the few that need a look; those are checked once per distinct value."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if pa.types.is_floating(ids.type):  # NaN in a column of numbers is no id
        ids = pc.if_else(pc.is_nan(ids), pa.scalar(None, ids.type), ids)
    s = ids if pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type) else pc.cast(ids, pa.string())
    plain = np.empty(cols.n, dtype=bool)
    offsets, data, bitmap, bit0 = string_buffers(s)
    if not cols.n or not _plain_ids(offsets, data, bitmap, bit0, _ID_BYTES, ID_MAX_LENGTH, plain):
        return
    rows = np.flatnonzero(~plain)
    odd = s.take(pa.array(rows))
    empty = np.asarray(pc.fill_null(pc.equal(odd, ""), True).to_numpy(zero_copy_only=False), dtype=bool)
    missing = np.zeros(cols.n, dtype=bool)
    missing[rows[empty]] = True
    cols.flag_same(missing, "id: missing; every row needs an id")
    rows, odd = rows[~empty], odd.filter(pa.array(~empty))
    if not rows.size:
        return
    enc = pc.dictionary_encode(odd)
    values = enc.dictionary.to_pylist()
    read_as: list[str | None] = []  # per distinct id: as the record reads it, or None where it refuses it
    for value in values:
        try:
            read_as.append(check_record_id(value))
        except InputError:
            read_as.append(None)
    index = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    refused = np.array([r is None for r in read_as], dtype=bool)
    if refused.any():
        bad = np.zeros(cols.n, dtype=bool)
        bad[rows[refused[index]]] = True
        cols.flag_by(bad, s, _id_message)
    changed = np.array([r is not None and r != v for v, r in zip(values, read_as, strict=True)], dtype=bool)
    if changed.any():
        at = changed[index]
        mask = np.zeros(cols.n, dtype=bool)
        mask[rows[at]] = True
        new = pa.array([read_as[k] for k in index[at]], pa.string())
        cols.id_text = pc.replace_with_mask(s.cast(pa.string()), pa.array(mask), new)


def _id_message(value: str) -> str:
    try:
        check_record_id(value)
    except InputError as exc:
        return str(exc)
    return f"id: {value!r} is not allowed"  # pragma: no cover - only refused ids are flagged


def read_columns(batch: pa.RecordBatch | pa.Table) -> Columns:
    """Validate one chunk. Invalid cells become NaN / code 0 and the row gets a reason."""
    n = batch.num_rows
    eth_codes, smoke_codes, alc_codes, flag_map, default_eth = input_codes()
    unset_f, unset_i = np.empty(0), np.empty(0, dtype=np.int64)  # every one of these is set below
    cols = Columns(
        n=n, female=np.empty(0, dtype=bool), age=unset_f, bmi=unset_f, weight_kg=unset_f, ethrisk=unset_i,
        smoke_cat=unset_i, alcohol_cat6=unset_i, years=unset_i, flags={}, optional={}, bad=np.zeros(n, dtype=bool),
    )
    if ROW_ERROR in batch.schema.names:
        why = _column(batch, ROW_ERROR)
        assert why is not None
        cols.flag_by(np.asarray(why.is_valid().to_numpy(zero_copy_only=False), dtype=bool), why, str)
    for name in [c for c in batch.schema.names if c in INPUT_COLUMNS and _is_bytes(batch.schema.field(c).type)]:
        text, odd = _as_text(_column(batch, name))  # a Parquet BYTE_ARRAY column without the UTF-8 annotation
        batch = batch.set_column(batch.schema.get_field_index(name), name, text)
        if name == "id":
            cols.id_text = text
        if odd:
            mask = np.zeros(n, dtype=bool)
            mask[list(odd)] = True
            cols.flag(mask, lambda i, name=name, odd=odd: f"{name}: {odd[i]!r} is not UTF-8 text")
    ids = _column(batch, "id")
    if ids is None:
        cols.flag_same(np.ones(n, dtype=bool), "id: missing; every row needs an id")
    else:
        _check_ids(cols, ids)

    sexes = ("female", "male")
    sex_col = _column(batch, "sex")
    sex_idx, sex_missing, sex_bad = _category(sex_col, n, sexes)
    cols.flag_same(sex_missing, "sex: missing; expected one of 'female' or 'male'")
    if sex_col is not None:
        cols.flag_by(sex_bad, sex_col, lambda v: f"sex: {v!r} is not allowed; expected one of 'female' or 'male'")
    cols.female = sex_idx == 0

    def numeric(name: str, limit_name: str | None, required: bool = False, whole: bool = False,
                expected: str | None = None, other: Callable[[str], str] | None = None) -> FloatArray:
        """The column's numbers; a cell that is not a number, out of ``limit_name``'s range, not whole (``whole``)
        or missing (``required``) flags its row. ``other(shown)``: the message for any number other than 0 or 1
        (the flags)."""
        col = _column(batch, name)
        p = _numeric(col, n)
        vals = p.vals
        lo, hi, unit = limit(limit_name) if limit_name else (np.nan, np.nan, "")
        if expected is None:
            expected = (f"{'a whole number' if whole else 'a number'} from {lo:g} to {hi:g} {unit}".rstrip()
                        if limit_name else "a number")
        if p.truth is not None:
            cols.flag_by(p.truth, col, lambda v: str(InputError(name, v, "a number, not true or false")))
        if p.not_number is not None:
            cols.flag_by(p.not_number, p.text, lambda v: f"{name}: {v!r} is not a number; expected {expected}")
        if required:
            cols.flag_same(np.isnan(vals), f"{name}: missing; a value is required")

        def shown() -> pa.Array | FloatArray:  # each value as given: the text of a text or whole-number column
            if p.text is not None:
                return p.text
            if col is not None and pa.types.is_integer(col.type):
                return pc.cast(col, pa.string())
            return vals

        with np.errstate(invalid="ignore"):
            if limit_name:
                out = (vals < lo) | (vals > hi)
                if out.any():
                    cols.flag_by(out, shown(), lambda v: f"{name}: {as_given(v)} is not allowed; expected a value "
                                 f"from {lo:g} to {hi:g} {unit}")
            if whole:
                frac = ~np.isnan(vals) & (vals != np.floor(vals))
                if frac.any():
                    cols.flag_by(frac, shown(), lambda v: f"{name}: {as_given(v)} is not allowed; expected whole years")
            if other is not None:
                odd = ~np.isnan(vals) & (vals != 0) & (vals != 1)
                if odd.any():
                    cols.flag_by(odd, shown(), lambda v: other(as_given(v)))
        return vals

    cols.age = numeric("age", "age", required=True, whole=True)
    bmi = numeric("bmi", "bmi")
    w = numeric("weight_kg", "weight_kg")
    h = numeric("height_cm", "height_cm")
    derived = np.isnan(bmi) & ~np.isnan(w) & ~np.isnan(h)
    with np.errstate(invalid="ignore", divide="ignore"):
        bmi = np.where(derived, w / ((h / 100.0) * (h / 100.0)), bmi)
        lo, hi, unit = limit("bmi")
        cols.flag_by(derived & ((bmi < lo) | (bmi > hi)), bmi,
                     lambda v: f"bmi (from weight_kg and height_cm): {number_text(v)} is not allowed; expected a "
                     f"value from {lo:g} to {hi:g} {unit}")
    cols.flag_same(np.isnan(bmi) & (np.isnan(w) != np.isnan(h)),
                   "weight_kg/height_cm: only one given; expected both weight_kg and height_cm, or bmi")
    cols.bmi, cols.weight_kg = bmi, w

    specs = (("ethnicity", ETHNICITIES, eth_codes, default_eth), ("smoking", SMOKING, smoke_codes, "non_smoker"),
             ("alcohol", ALCOHOL, alc_codes, "none"))
    for name, allowed, codes, default in specs:
        col = _column(batch, name)
        idx, missing, bad = _category(col, n, allowed)
        if col is not None:
            expected = ", ".join(allowed)
            cols.flag_by(bad, col, lambda v, name=name, expected=expected:  # type: ignore[misc]
                         f"{name}: {v!r} is not allowed; expected one of {expected}")
        code_of = np.array([codes[k] for k in allowed], dtype=np.int64)
        arr = np.where(idx >= 0, code_of[np.clip(idx, 0, None)], codes[default])
        setattr(cols, {"ethnicity": "ethrisk", "smoking": "smoke_cat", "alcohol": "alcohol_cat6"}[name], arr)
        if name == "ethnicity":
            cols.ethnicity_defaulted = missing

    yrs = numeric("years", "years", whole=True)
    # empty -> 10 (QFracture's default horizon); a value beyond the limits is flagged above, and any will do
    cols.years = np.where(np.isfinite(yrs) & (np.abs(yrs) < 1e6), yrs, 10.0).astype(np.int64)

    for f in FLAGS:
        cols.flags[flag_map[f]] = _flag(cols, batch, f, numeric)

    for name, lim in OPTIONAL_FLOAT.items():
        cols.optional[name] = numeric(name, lim)
    mof, hip = cols.optional["frax_mof_percent"], cols.optional["frax_hip_percent"]
    with np.errstate(invalid="ignore"):
        cols.flag_by(hip > mof, np.stack([hip, mof], axis=1),
                     lambda v: f"frax_hip_percent: {number_text(v[0])} is not allowed; expected at most "
                     f"frax_mof_percent ({v[1]:g}): a major osteoporotic fracture includes a hip fracture")
    return cols
