"""Score one chunk of validated columns with the core's vectorised calculators.

One implementation: every number comes from the same core kernels that ``assess`` uses; this module only
arranges columns. A property test (tests/batch) checks every row against ``assess``.

Notes and category labels are kept as small integer codes per row and turned into text once per distinct
value (dictionary encoding), so that ten million rows cost ten million integers, not strings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ..core import densitometry as dens
from ..core.knowledge import load
from ..core.risk import caroc, osta, qfracture
from .columns import Columns

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Note:
    """Per-row note: code 0 = none, code k = ``texts[k - 1]``."""

    codes: IntArray
    texts: Sequence[str]


Outputs = dict[str, pa.Array]
Scorer = Callable[[Columns], tuple[Outputs, list[Note]]]


def labels(codes: IntArray, names: Sequence[str | None]) -> pa.Array:
    """Text column from integer codes (index into ``names``; a None name gives a null)."""
    dictionary = pa.array([n if n is not None else "" for n in names], pa.string())
    indices = codes.astype(np.int32)
    if all(n is not None for n in names):
        return pa.DictionaryArray.from_arrays(pa.array(indices), dictionary)
    null = np.array([n is None for n in names], dtype=bool)[indices]
    return pa.DictionaryArray.from_arrays(pa.array(indices, mask=null), dictionary)


def note_if(mask: npt.NDArray[np.bool_], text: str) -> Note:
    return Note(mask.astype(np.int64), (text,))


def join_notes(notes: list[Note], n: int) -> pa.Array:
    """One '; '-joined text per row (null when a row has none), built once per distinct combination."""
    notes = [x for x in notes if x.codes.any()]
    if not notes:
        return labels(np.zeros(n, dtype=np.int64), [None])
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for x in notes:
        key = key * (len(x.texts) + 1) + x.codes
        span *= len(x.texts) + 1
    if span <= max(4 * n, 1 << 16):  # small key space: O(n) instead of a sort
        seen = np.zeros(span, dtype=bool)
        seen[key] = True
        uniq = np.flatnonzero(seen)
        slot = np.zeros(span, dtype=np.int64)
        slot[uniq] = np.arange(uniq.size)
        inverse = slot[key]
    else:
        uniq, inverse = np.unique(key, return_inverse=True)
    texts: list[str | None] = []
    for k in uniq:
        parts = []
        for x in reversed(notes):
            base = len(x.texts) + 1
            code = int(k % base)
            k //= base
            if code:
                parts.append(x.texts[code - 1])
        texts.append("; ".join(reversed(parts)) if parts else None)
    return labels(inverse.astype(np.int64), texts)


def score_qfracture(c: Columns) -> tuple[Outputs, list[Note]]:
    mof, hip, code = qfracture.score(
        female=c.female, age=c.age, bmi=c.bmi, ethrisk=c.ethrisk, smoke_cat=c.smoke_cat,
        alcohol_cat6=c.alcohol_cat6, surv=c.years, flags=c.flags,
    )
    reasons = qfracture.reason_summaries()
    keys = sorted(reasons)
    lookup = np.zeros(max(keys) + 1, dtype=np.int64)
    lookup[keys] = np.arange(1, len(keys) + 1)
    notes = [Note(lookup[code], [f"{qfracture.NAME} not applicable: {reasons[k]}" for k in keys])]
    if c.ethnicity_defaulted is not None:
        notes.append(note_if(c.ethnicity_defaulted & (code == qfracture.OK), qfracture.ethnicity_default_short()))
    return (
        {
            "qfracture_mof_percent": pa.array(mof, pa.float64(), from_pandas=True),
            "qfracture_hip_percent": pa.array(hip, pa.float64(), from_pandas=True),
        },
        notes,
    )


def score_bone_density(c: Columns) -> tuple[Outputs, list[Note]]:
    """WHO category from the lowest of the entered T-scores, for the ISCD T-score group only."""
    iscd = load(dens.ISCD_ID)
    men_min = float(iscd.value("t_score_men_min_age"))
    women_min = float(iscd.value("unknown_menopause_postmenopausal_from_age"))
    t_group = np.where(c.female, c.age >= women_min, c.age >= men_min)
    scores = {site: c.optional[f"{site}_t_score"] for site in ("lumbar_spine", "total_hip", "femoral_neck")}
    # the core's functions work row by row: they run on the rows with a T-score only (the others have none)
    rows = np.flatnonzero(~(np.isnan(scores["lumbar_spine"]) & np.isnan(scores["total_hip"])
                            & np.isnan(scores["femoral_neck"])))
    low = np.full(c.n, np.nan)
    grade = np.full(c.n, -1, dtype=np.int64)
    if rows.size:
        low[rows], _ = dens.lowest_score({k: v[rows] for k, v in scores.items()}, with_site=False)
        fracture = c.flags["b_fracture4"][rows] if bool(iscd.value("prior_fracture_flag_is_fragility")) else False
        grade[rows] = dens.who_grade(low[rows], fracture)
    has_t = ~np.isnan(low)
    use = t_group & has_t
    who = labels(np.where(use, grade, -1) + 1, [None, *dens.WHO_CATEGORIES])
    notes = [note_if(has_t & ~t_group,
                     "WHO category not given: ISCD uses Z-scores for premenopausal women and men under 50")]
    return {"who_category": who, "lowest_t_score": pa.array(low, pa.float64(), from_pandas=True)}, notes


def osta_screen(c: Columns) -> tuple[npt.NDArray[np.float64], IntArray, IntArray]:
    """OSTA/OST (index, category code, tool code) of every row, computed once per chunk."""
    if "osta" not in c.shared:
        eth_codes = qfracture.input_codes()[0]
        asian_codes = [eth_codes[e] for e in osta.asian_ethnicities() if e in eth_codes]
        c.shared["osta"] = osta.screen(female=c.female, age=c.age, weight_kg=c.weight_kg,
                                       asian=np.isin(c.ethrisk, asian_codes))
    out: tuple[npt.NDArray[np.float64], IntArray, IntArray] = c.shared["osta"]
    return out


def score_osta(c: Columns) -> tuple[Outputs, list[Note]]:
    idx, cat, tool = osta_screen(c)
    has = ~np.isnan(idx)
    return (
        {
            "osta_index": pa.array(idx, pa.float64(), from_pandas=True),
            "osta_category": labels(np.where(has, cat, 0), [None, *osta.CATEGORY_NAMES[1:]]),
            "osta_tool": labels(np.where(has, tool + 1, 0), [None, *osta.TOOLS]),
        },
        [note_if(~has & ~np.isnan(c.age), "OSTA/OST not computed: weight_kg is not recorded")],
    )


def score_caroc(c: Columns) -> tuple[Outputs, list[Note]]:
    out = caroc.classify(
        female=c.female, age=c.age, fn_t=c.optional["femoral_neck_t_score"], ls_t=c.optional["lumbar_spine_t_score"],
        th_t=c.optional["total_hip_t_score"], fracture_after_40=c.flags["b_fracture4"],
    )
    keys = sorted(caroc.CATEGORY_NAMES)
    names: list[str | None] = [None if k == caroc.OUT_OF_SCOPE else caroc.CATEGORY_NAMES[k] for k in keys]
    return {"caroc_category": labels(out.category - keys[0], names)}, []


SCORERS: list[Scorer] = [score_qfracture, score_osta, score_bone_density, score_caroc]


def score_chunk(batch: pa.RecordBatch | pa.Table, c: Columns, *, guideline: str | None = None,
                as_of: dt.date | None = None) -> pa.RecordBatch:
    """Output columns for one chunk: id, the scores, the guideline stratum and suggested action, ``warnings``
    and ``error`` (why a row was not scored). ``guideline``/``as_of`` default to the deployment's and today."""
    from .strata import stratum_columns

    # the strata first: their step holds the most temporary arrays, and before the scorers none of the
    # scores' output arrays are alive beside them (the columns' order is the same either way)
    strata, snotes = stratum_columns(c, guideline=guideline, as_of=as_of)
    outputs: Outputs = {}
    notes: list[Note] = []
    for scorer in SCORERS:
        o, w = scorer(c)
        outputs.update(o)
        notes.extend(w)
    notes.extend(Note(codes, texts) for codes, texts in snotes)
    if c.bad.any():
        outputs = {k: _blank(v, c.bad) for k, v in outputs.items()}
        outputs.update(strata)  # already null on flagged rows
        notes = [Note(np.where(c.bad, 0, x.codes), x.texts) for x in notes]
        assert c.error_code is not None  # 0 -> null, k -> the k-th message
        error = pa.array([None, *c.messages], pa.string()).take(pa.array(c.error_code))
    else:
        outputs.update(strata)
        error = pa.nulls(c.n, pa.string())
    if c.id_text is not None:  # the input's ids were bytes: as text (odd bytes escaped, and the row flagged)
        ids = c.id_text
    else:
        ids = batch.column("id") if "id" in batch.schema.names else pa.nulls(c.n, pa.string())
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    cols = {"id": ids, **outputs, "warnings": join_notes(notes, c.n), "error": error}
    return pa.RecordBatch.from_pydict(cols)


def _blank(arr: pa.Array, bad: npt.NDArray[np.bool_]) -> pa.Array:
    """``arr`` with the ``bad`` rows null: a new validity bitmap over the same values (no copy of the values)."""
    if isinstance(arr, pa.DictionaryArray):
        return pa.DictionaryArray.from_arrays(_blank(arr.indices, bad), arr.dictionary)
    if arr.offset != 0 or not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)):
        return pc.if_else(pa.array(bad), pa.scalar(None, arr.type), arr)
    buffers = arr.buffers()
    valid = ~bad
    if buffers[0] is not None:
        old = np.unpackbits(np.frombuffer(buffers[0], dtype=np.uint8), bitorder="little")[: len(arr)]
        valid &= old.astype(bool)
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(arr.type, len(arr), [bitmap, buffers[1]], null_count=int(len(arr) - valid.sum()))
