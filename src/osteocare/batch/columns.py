"""Arrow columns -> validated numpy inputs, with a per-row reason for rows that cannot be scored.

The strictness mode "flag and carry on" (DESIGN habit 6): where ``parse_record`` raises for one patient,
screening writes the same kind of message in the row's ``error`` column and goes on. Limits and category
codes are the same knowledge facts the record uses. Everything is vectorised; Python loops run only over
the (rare) rows that fail a check, to write their message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ..core.errors import InputError
from ..core.limits import limit
from ..core.records import ALCOHOL, ETHNICITIES, FLAGS, SMOKING
from ..core.risk.qfracture import input_codes

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
    errors: dict[int, str] = field(default_factory=dict)
    ethnicity_defaulted: BoolArray | None = None
    shared: dict[str, Any] = field(default_factory=dict)  # results computed once per chunk, used by several scorers
    id_text: pa.Array | None = None  # the id column as text, where the input's was bytes (else the input's own)

    def flag(self, mask: BoolArray, message_for: Callable[[int], str]) -> None:
        """Record ``message_for(i)`` for each row in ``mask`` that has no error yet (first error wins)."""
        if not mask.any():
            return
        new = mask & ~self.bad
        if new.any():
            for i in np.flatnonzero(new):
                self.errors[int(i)] = message_for(int(i))
            self.bad |= new


def check_columns(names: Sequence[str], source: str) -> None:
    """Refuse an input whose columns cannot be screened, before any row is read: a required column missing
    (:data:`REQUIRED_COLUMNS`) or a contract column twice. The message names the columns found and, where a
    name is only written differently (``ID``, `` age ``) or the file seems to use another separator, says so."""
    twice = sorted({c for c in names if c in INPUT_COLUMNS and list(names).count(c) > 1})
    if twice:
        raise InputError(source, f"column {twice[0]!r} twice", "each column once")
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if not missing:
        return
    hints = [f"{n!r} would be read as {n.strip().lower()!r} if written so (names are lower case, without spaces)"
             for n in names if n not in INPUT_COLUMNS and n.strip().lower() in INPUT_COLUMNS]
    for sep, what in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
        if len(names) == 1 and sep in names[0]:
            hints.append(f"the columns seem separated by {what}; expected commas")
    shown = ", ".join(repr(n if len(n) <= 40 else n[:37] + "...") for n in names[:12])
    if len(names) > 12:
        shown += f" and {len(names) - 12} more"
    raise InputError(source, f"no column {', '.join(missing)}",
                     f"the required columns {', '.join(REQUIRED_COLUMNS)} (found: {shown or 'none'}"
                     + "".join(f"; {h}" for h in hints[:3]) + ")")


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


def _numeric(col: pa.Array | None, n: int) -> tuple[FloatArray, BoolArray, list[object] | None]:
    """(float values with NaN for missing, mask of present-but-not-a-number cells, raw cells if any bad)."""
    if col is None:
        return np.full(n, np.nan), np.zeros(n, dtype=bool), None
    if pa.types.is_boolean(col.type):
        col = pc.cast(col, pa.int8())
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_decimal(col.type):
        # a decimal (a database NUMERIC) becomes the nearest float, as its text would
        vals = pc.cast(col, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        return np.asarray(vals, dtype=np.float64), np.zeros(n, dtype=bool), None
    s = pc.cast(col, pa.string())
    quick = _floats(s)  # the usual case: every cell a number or empty (null); else the careful paths below
    if quick is not None:
        return quick, np.zeros(n, dtype=bool), None
    s = pc.if_else(pc.equal(pc.utf8_trim_whitespace(s), ""), pa.scalar(None, pa.string()), s)
    quick = _floats(s)
    if quick is not None:
        return quick, np.zeros(n, dtype=bool), None
    ok = pc.fill_null(pc.match_substring_regex(s, _NUMBER), True)
    clean = pc.if_else(ok, s, pa.scalar(None, pa.string()))
    vals = pc.cast(pc.utf8_trim_whitespace(clean), pa.float64()).to_numpy(zero_copy_only=False)
    bad = ~np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)
    return np.asarray(vals, dtype=np.float64), bad, s.to_pylist()


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
          numeric: Callable[[str, str | None], FloatArray]) -> BoolArray:
    """A 0/1 flag column (empty = 0) as booleans; any other value flags the row."""
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
    v = numeric(name, None)

    def not_01(i: int) -> str:
        return f"{name}: {number_text(v[i])} is not allowed; expected 0 or 1"

    one = v == 1
    cols.flag(~(one | (v == 0) | np.isnan(v)), not_01)
    return one


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
        reasons = why.to_pylist()
        cols.flag(np.asarray(why.is_valid().to_numpy(zero_copy_only=False), dtype=bool),
                  lambda i: str(reasons[i]))
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
        cols.flag(np.ones(n, dtype=bool), lambda i: "id: missing; every row needs an id")
    else:
        id_missing = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(pc.cast(ids, pa.string())), ""), True)
        cols.flag(np.asarray(id_missing.to_numpy(zero_copy_only=False), dtype=bool),
                  lambda i: "id: missing; every row needs an id")

    def raw(name: str, i: int) -> object:
        c = _column(batch, name)
        return None if c is None else c[i].as_py()

    sexes = ("female", "male")
    sex_idx, sex_missing, sex_bad = _category(_column(batch, "sex"), n, sexes)
    cols.flag(sex_missing, lambda i: "sex: missing; expected one of 'female' or 'male'")
    cols.flag(sex_bad, lambda i: f"sex: {raw('sex', i)!r} is not allowed; expected one of 'female' or 'male'")
    cols.female = sex_idx == 0

    def numeric(name: str, limit_name: str | None, required: bool = False) -> FloatArray:
        vals, bad, cells = _numeric(_column(batch, name), n)
        cols.flag(bad, lambda i: f"{name}: {cells[i] if cells else None!r} is not a number")
        if required:
            cols.flag(np.isnan(vals), lambda i: f"{name}: missing; a value is required")
        if limit_name:
            lo, hi, unit = limit(limit_name)
            with np.errstate(invalid="ignore"):
                out = (vals < lo) | (vals > hi)
            cols.flag(out, lambda i: f"{name}: {number_text(vals[i])} is not allowed; expected a value from {lo:g} "
                      f"to {hi:g} {unit}")
        return vals

    age = numeric("age", "age", required=True)
    cols.flag(~np.isnan(age) & (age != np.floor(age)),
              lambda i: f"age: {number_text(age[i])} is not allowed; expected whole years")
    cols.age = age
    bmi = numeric("bmi", "bmi")
    w = numeric("weight_kg", "weight_kg")
    h = numeric("height_cm", "height_cm")
    derived = np.isnan(bmi) & ~np.isnan(w) & ~np.isnan(h)
    with np.errstate(invalid="ignore", divide="ignore"):
        bmi = np.where(derived, w / ((h / 100.0) * (h / 100.0)), bmi)
        lo, hi, unit = limit("bmi")
        cols.flag(derived & ((bmi < lo) | (bmi > hi)),
                  lambda i: f"bmi (from weight_kg and height_cm): {number_text(bmi[i])} is not allowed; expected a value "
                  f"from {lo:g} to {hi:g} {unit}")
    cols.flag(np.isnan(bmi) & (np.isnan(w) != np.isnan(h)),
              lambda i: "weight_kg/height_cm: only one given; expected both weight_kg and height_cm, or bmi")
    cols.bmi, cols.weight_kg = bmi, w

    specs = (("ethnicity", ETHNICITIES, eth_codes, default_eth), ("smoking", SMOKING, smoke_codes, "non_smoker"),
             ("alcohol", ALCOHOL, alc_codes, "none"))
    for name, allowed, codes, default in specs:
        idx, missing, bad = _category(_column(batch, name), n, allowed)

        def not_allowed(i: int, name: str = name, allowed: tuple[str, ...] = allowed) -> str:
            return f"{name}: {raw(name, i)!r} is not allowed; expected one of {', '.join(allowed)}"

        cols.flag(bad, not_allowed)
        code_of = np.array([codes[k] for k in allowed], dtype=np.int64)
        arr = np.where(idx >= 0, code_of[np.clip(idx, 0, None)], codes[default])
        setattr(cols, {"ethnicity": "ethrisk", "smoking": "smoke_cat", "alcohol": "alcohol_cat6"}[name], arr)
        if name == "ethnicity":
            cols.ethnicity_defaulted = missing

    yrs = numeric("years", "years")
    cols.flag(~np.isnan(yrs) & (yrs != np.floor(yrs)),
              lambda i: f"years: {number_text(yrs[i])} is not allowed; expected whole years")
    # empty -> 10 (QFracture's default horizon); a value beyond the limits is flagged above, and any will do
    cols.years = np.where(np.isfinite(yrs) & (np.abs(yrs) < 1e6), yrs, 10.0).astype(np.int64)

    for f in FLAGS:
        cols.flags[flag_map[f]] = _flag(cols, batch, f, numeric)

    for name, lim in OPTIONAL_FLOAT.items():
        cols.optional[name] = numeric(name, lim)
    mof, hip = cols.optional["frax_mof_percent"], cols.optional["frax_hip_percent"]
    with np.errstate(invalid="ignore"):
        cols.flag(hip > mof, lambda i: f"frax_hip_percent: {number_text(hip[i])} is not allowed; expected at most "
                  f"frax_mof_percent ({mof[i]:g}): a major osteoporotic fracture includes a hip fracture")
    return cols
