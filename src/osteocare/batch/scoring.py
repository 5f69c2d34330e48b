"""Score one chunk of validated columns with the core's vectorised calculators.

One implementation: every number comes from the same core kernels that ``assess`` uses; this module only
arranges columns. A row-by-row equivalence test (tests/batch) checks it against ``assess``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ..core import densitometry as dens
from ..core.knowledge import load
from ..core.risk import caroc, osta, qfracture
from .columns import Columns

Outputs = dict[str, pa.Array]
Scorer = Callable[[Columns], tuple[Outputs, list[pa.Array]]]


def _text(codes: npt.NDArray[np.int64], table: dict[int, str]) -> pa.Array:
    """Map integer codes to constant strings (None for codes not in ``table``) without a Python row loop."""
    keys = sorted(table)
    lookup = pa.array([table[k] for k in keys], pa.string())
    pos = np.searchsorted(keys, codes)
    pos = np.clip(pos, 0, len(keys) - 1)
    hit = np.asarray(keys)[pos] == codes
    return pc.if_else(pa.array(hit), pc.take(lookup, pa.array(pos)), pa.scalar(None, pa.string()))


def join_notes(notes: list[pa.Array]) -> pa.Array:
    """Join per-row notes with '; ', skipping nulls (null when a row has none)."""
    out = notes[0]
    for nxt in notes[1:]:
        both = pc.binary_join_element_wise(out, nxt, "; ")
        out = pc.if_else(pc.is_null(out), nxt, pc.if_else(pc.is_null(nxt), out, both))
    return out


def score_qfracture(c: Columns) -> tuple[Outputs, list[pa.Array]]:
    mof, hip, code = qfracture.score(
        female=c.female, age=np.nan_to_num(c.age, nan=0.0), bmi=np.nan_to_num(c.bmi, nan=0.0),
        ethrisk=c.ethrisk, smoke_cat=c.smoke_cat, alcohol_cat6=c.alcohol_cat6, surv=c.years, flags=c.flags,
    )
    code = np.where(np.isnan(c.age) | np.isnan(c.bmi), qfracture.MISSING, code)
    mof = np.where(code == qfracture.OK, mof, np.nan)
    hip = np.where(code == qfracture.OK, hip, np.nan)
    reasons = {k: f"{qfracture.NAME} not applicable: {v}" for k, v in qfracture.reason_summaries().items()}
    warn = _text(code, reasons)
    notes = [warn]
    if c.ethnicity_defaulted is not None and c.ethnicity_defaulted.any():
        notes.append(pc.if_else(pa.array(c.ethnicity_defaulted & (code == qfracture.OK)),
                                pa.scalar(qfracture.ethnicity_default_note(), pa.string()),
                                pa.scalar(None, pa.string())))
    return (
        {
            "qfracture_mof_percent": pa.array(mof, pa.float64(), from_pandas=True),
            "qfracture_hip_percent": pa.array(hip, pa.float64(), from_pandas=True),
        },
        notes,
    )


def _null_where(mask: npt.NDArray[np.bool_], text: str) -> pa.Array:
    return pc.if_else(pa.array(mask), pa.scalar(text, pa.string()), pa.scalar(None, pa.string()))


def score_bone_density(c: Columns) -> tuple[Outputs, list[pa.Array]]:
    """WHO category from the lowest of the entered T-scores, for the ISCD T-score group only."""
    iscd = load(dens.ISCD_ID)
    men_min = float(iscd.value("t_score_men_min_age"))
    women_min = float(iscd.value("unknown_menopause_postmenopausal_from_age"))
    t_group = np.where(c.female, c.age >= women_min, c.age >= men_min)
    scores = {site: c.optional[f"{site}_t_score"] for site in ("lumbar_spine", "total_hip", "femoral_neck")}
    low, _site = dens.lowest_score(scores)
    fracture = c.flags["b_fracture4"] == 1 if bool(iscd.value("prior_fracture_flag_is_fragility")) else False
    cat = dens.who_category(low, fracture)
    has_t = ~np.isnan(low)
    use = t_group & has_t
    who = pa.array(np.where(use, cat, None), pa.string())
    lowest = pa.array(np.where(has_t, low, np.nan), pa.float64(), from_pandas=True)
    notes = [_null_where(has_t & ~t_group,
                         "WHO category not given: ISCD uses Z-scores for premenopausal women and men under 50")]
    return {"who_category": who, "lowest_t_score": lowest}, notes


def score_osta(c: Columns) -> tuple[Outputs, list[pa.Array]]:
    eth_codes = qfracture.input_codes()[0]
    asian_codes = [eth_codes[e] for e in osta.asian_ethnicities() if e in eth_codes]
    idx, cat, tool = osta.screen(female=c.female, age=c.age, weight_kg=c.weight_kg,
                                 asian=np.isin(c.ethrisk, asian_codes))
    has = ~np.isnan(idx)
    names = np.array(osta.CATEGORY_NAMES, dtype=object)[cat]
    tools = np.array(osta.TOOLS, dtype=object)[tool]
    return (
        {
            "osta_index": pa.array(np.where(has, idx, np.nan), pa.float64(), from_pandas=True),
            "osta_category": pa.array(np.where(has, names, None), pa.string()),
            "osta_tool": pa.array(np.where(has, tools, None), pa.string()),
        },
        [_null_where(~has & ~np.isnan(c.age), "OSTA/OST not computed: weight_kg is not recorded")],
    )


def score_caroc(c: Columns) -> tuple[Outputs, list[pa.Array]]:
    out = caroc.classify(
        female=c.female, age=c.age, fn_t=c.optional["femoral_neck_t_score"], ls_t=c.optional["lumbar_spine_t_score"],
        th_t=c.optional["total_hip_t_score"], fracture_after_40=c.flags["b_fracture4"] == 1,
    )
    names = np.array([caroc.CATEGORY_NAMES[k] for k in sorted(caroc.CATEGORY_NAMES)], dtype=object)
    cat = names[out.category - min(caroc.CATEGORY_NAMES)]
    scored = out.category != caroc.OUT_OF_SCOPE
    return {"caroc_category": pa.array(np.where(scored, cat, None), pa.string())}, []


SCORERS: list[Scorer] = [score_qfracture, score_osta, score_bone_density, score_caroc]


def score_chunk(batch: pa.RecordBatch | pa.Table, c: Columns) -> pa.RecordBatch:
    """Output columns for one chunk: id, the scores, ``warnings`` and ``error`` (why a row was not scored)."""
    outputs: Outputs = {}
    notes: list[pa.Array] = []
    for scorer in SCORERS:
        o, w = scorer(c)
        outputs.update(o)
        notes.extend(w)
    bad = pa.array(c.bad)
    null_str = pa.scalar(None, pa.string())
    for name, arr in list(outputs.items()):
        outputs[name] = pc.if_else(bad, pa.scalar(None, arr.type), arr)
    if notes:
        warnings = join_notes(notes)
        warnings = pc.if_else(bad, null_str, warnings)
    else:
        warnings = pa.nulls(c.n, pa.string())
    if c.errors:
        err_list: list[str | None] = [None] * c.n
        for i, msg in c.errors.items():
            err_list[i] = msg
        error = pa.array(err_list, pa.string())
    else:
        error = pa.nulls(c.n, pa.string())
    ids = batch.column("id") if "id" in batch.schema.names else pa.nulls(c.n, pa.string())
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    cols = {"id": ids, **outputs, "warnings": warnings, "error": error}
    return pa.RecordBatch.from_pydict(cols)
