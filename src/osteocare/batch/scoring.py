"""Score one chunk of validated columns with the core's vectorised calculators.

One implementation: every number comes from the same core kernels that ``assess`` uses; this module only
arranges columns. A property test (tests/batch) checks every row against ``assess``.

Notes and category labels are kept as small integer codes per row and turned into text once per distinct
value (dictionary encoding), so that ten million rows cost ten million integers, not strings.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ..core import densitometry as dens
from ..core.knowledge import load
from ..core.results import CalculatorResult
from ..core.risk import caroc, osta, qfracture
from ..core.status import Status, lowest, status_warning
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


# --- each calculator's status, as ``assess`` gives it ---------------------------------------------------------
#
# A calculator's status is the lowest status of the rules that fired for the row (knowledge README, rule 2), and
# which rules fire can differ between rows (OSTA, OST for men and OST for US women have their own cut-offs; CAROC's
# basal table only where a femoral neck T-score decides). The status is not worked out here: each scorer keys its
# rows by what decides which of the calculator's rules fire (codes it already has), and one row of each class is
# run through the core's own calculator, as ``assess`` runs it (memoised per process, like the strata's classes).
# Per row this is a few vectorised operations while the scorer runs; nothing per row is kept or written. The
# run's summary gets the rows per status and the rules behind a status below verified, with their knowledge file
# and source (:func:`status_notes`): run-level, not a column, so the output and its size are unchanged.

#: column group (its count in the summary: ``<group>_status``) -> the screening columns its calculator gives
STATUS_GROUPS: dict[str, tuple[str, ...]] = {
    "qfracture": ("qfracture_mof_percent", "qfracture_hip_percent"),
    "osta": ("osta_index", "osta_category", "osta_tool"),
    "who_category": ("who_category", "lowest_t_score"),
    "caroc_category": ("caroc_category",),
}
STATUS_ORDER: tuple[Status, ...] = ("unverified", "secondary", "verified")


def status_count_name(group: str) -> str:
    """The summary's count of rows per status of ``group``'s calculator (beside ``stratum_status``)."""
    return f"{group}_status"


def _status_key(c: Columns, group: str, computed: npt.NDArray[np.bool_], parts: list[npt.NDArray[Any]]) -> None:
    """The classes of ``group``'s rows in ``c`` (where the screen computed its columns, flagged rows left out) by
    the codes (whole numbers per row) that decide which of the calculator's rules fire: per class its codes, one
    row of it and its number of rows, kept for :func:`tally_statuses` (nothing per row outlives this call).
    Nothing is done unless the chunk's statuses are wanted (``score_chunk(..., statuses=...)``)."""
    from .strata import unique_rows

    kept: dict[str, list[tuple[tuple[int, ...], int, int]]] | None = c.shared.get("status_classes")
    if kept is None:
        return
    use = computed & ~c.bad
    classes: list[tuple[tuple[int, ...], int, int]] = []
    if use.any():
        # on every row (a gather of the used rows per part cost more), the unused rows put in a class of their own
        key = np.zeros(c.n, dtype=np.int64)
        span = 1
        for p in parts:
            codes = np.asarray(p)
            lo, hi = int(codes.min()), int(codes.max())
            radix = hi - lo + 1
            if span * radix > 1 << 40:  # keep the key small: renumber the distinct keys so far
                first, key = unique_rows(key, span)
                span = first.size
            key *= radix
            key += codes
            if lo:
                key -= lo
            span *= radix
        key[~use] = span
        first, inverse = unique_rows(key, span + 1)
        rows = np.bincount(inverse, minlength=first.size)
        for row, n in zip(first.tolist(), rows.tolist(), strict=True):
            if use[row]:
                classes.append((tuple(int(np.asarray(p)[row]) for p in parts), row, n))
    kept[group] = classes


@dataclass(frozen=True)
class CalculatorStatus:
    """What ``assess``'s calculator gives one class of rows: its id, name, status and the rules below verified."""

    calculator: str
    name: str
    status: Status
    rules: tuple[str, ...]  # "RULE-ID (status)" of each rule that fired with a status below verified
    sources: tuple[str, ...]  # their knowledge file, version and source


@dataclass
class StatusTally:
    """Rows per (column group, calculator, status), and the rules behind each status below verified."""

    rows: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)  # (group, calculator, name, status)
    rules: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (calculator, status) -> rules
    sources: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (calculator, status) -> sources

    def add(self, group: str, s: CalculatorStatus, n: int) -> None:
        self.rows[(group, s.calculator, s.name, s.status)] += n
        if s.rules:
            self.rules.setdefault((s.calculator, s.status), set()).update(s.rules)
            self.sources.setdefault((s.calculator, s.status), set()).update(s.sources)

    def merge(self, other: StatusTally) -> None:
        self.rows.update(other.rows)
        for mine, theirs in ((self.rules, other.rules), (self.sources, other.sources)):
            for k, v in theirs.items():
                mine.setdefault(k, set()).update(v)

    def counts(self) -> dict[str, Counter[str]]:
        """Rows per status of each column group, as the summary counts them (``<group>_status``)."""
        out: dict[str, Counter[str]] = {}
        for (group, _, _, status), n in self.rows.items():
            out.setdefault(status_count_name(group), Counter())[status] += n
        return out

    def as_dict(self) -> dict[str, Any]:
        """Per calculator (in the output's column order): name, columns, rows per status, the lowest, and the rules
        behind a status below verified with their sources."""
        out: dict[str, Any] = {}
        order = list(STATUS_GROUPS)
        for (group, calc, name, status), n in sorted(self.rows.items(), key=lambda kv: (order.index(kv[0][0]),
                                                                                      kv[0][1:])):
            d = out.setdefault(calc, {"name": name, "columns": list(STATUS_GROUPS[group]), "rows": {}, "rules": {},
                                      "sources": {}})
            d["rows"][status] = n
            if (calc, status) in self.rules:
                d["rules"][status] = sorted(self.rules[(calc, status)])
                d["sources"][status] = sorted(self.sources.get((calc, status), ()))
        for d in out.values():
            d["lowest"] = lowest(d["rows"])
        return out


def _calculator_status(r: CalculatorResult | None) -> CalculatorStatus | None:
    if r is None or not r.applicable:
        return None
    low = [x for x in r.rules_fired if x.status != "verified"]
    sources = {f"knowledge {c.knowledge_id} {load(c.knowledge_id).version}, source {c.source_id}: {c.text}"
               for x in low for c in x.citations}
    return CalculatorStatus(r.calculator, r.name, r.status, tuple(f"{x.rule_id} ({x.status})" for x in low),
                            tuple(sorted(sources)))


_STATUS_MEMO: dict[tuple[dt.date, str, tuple[int, ...]], CalculatorStatus | None] = {}
_STATUS_LOCK = threading.Lock()
#: the calculator ``assess`` runs for a column group (OSTA's group: the tool ``assess_osta`` chooses for the row)
_GROUP_CALCULATOR = {"qfracture": qfracture.MODEL_ID, "who_category": dens.CALCULATOR, "caroc_category": caroc.CALCULATOR}


def tally_statuses(c: Columns, as_of: dt.date, tally: StatusTally) -> None:
    """Add this chunk's rows per calculator status to ``tally`` (flagged rows are not counted)."""
    from ..core.assessment import run_calculators
    from ..core.records import parse_record
    from .strata import record_of_row

    done: dict[int, dict[str, CalculatorResult]] = {}  # a row's calculators, run once for every group it stands for
    for group, classes in c.shared.get("status_classes", {}).items():
        for k, row, n in classes:  # k: the class's codes themselves, the same class in every chunk
            with _STATUS_LOCK:
                found = (as_of, group, k) in _STATUS_MEMO
                s = _STATUS_MEMO.get((as_of, group, k))
            if not found:
                record = parse_record(record_of_row(c, row))
                if group == "osta":  # as assess runs it (the tool follows sex and ethnicity)
                    s = _calculator_status(osta.assess_osta(record))
                else:
                    if row not in done:
                        done[row] = run_calculators(record, as_of=as_of)[0]
                    s = _calculator_status(done[row].get(_GROUP_CALCULATOR[group]))
                with _STATUS_LOCK:
                    _STATUS_MEMO[(as_of, group, k)] = s
            if s is not None:
                tally.add(group, s, n)


def status_notes(tally: StatusTally) -> list[str]:
    """One note per calculator: its columns, the rows per status (the lowest where they differ) and why a status
    is below verified (the core's wording, and the rules that fired with their knowledge file and source)."""
    out = []
    for d in tally.as_dict().values():
        found = [s for s in STATUS_ORDER if s in d["rows"]]
        rows = ", ".join(f"{s} on {d['rows'][s]:,} row{'s' if d['rows'][s] != 1 else ''}" for s in found)
        text = f"{d['name']}: status {rows}"
        if len(found) > 1:
            text += f" (lowest: {d['lowest']})"
        text += f"; columns {', '.join(d['columns'])}"
        why = []
        for s in found:
            w = status_warning(s, d["name"])
            if w is None:
                continue
            meaning = w[len(d["name"]) + 2:] if w.startswith(d["name"] + ": ") else w
            rules, sources = d["rules"].get(s, []), d["sources"].get(s, [])
            why.append(f"{s}: {meaning.rstrip('.')}" + (f"; rules {', '.join(rules)}" if rules else "")
                       + (f"; from {' | '.join(sources)}" if sources else ""))
        out.append(text + (" — " + ". ".join(w[0].upper() + w[1:] for w in why) if why else "") + ".")
    return out


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
    _status_key(c, "qfracture", code == qfracture.OK, [c.female])
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
    _status_key(c, "who_category", has_t, [t_group, c.female, *(~np.isnan(v) for v in scores.values()),
                                           ~np.isnan(c.optional["femoral_neck_bmd_g_cm2"]), grade])
    notes = [note_if(has_t & ~t_group,
                     "WHO category not given: ISCD uses Z-scores for premenopausal women and men under 50")]
    return {"who_category": who, "lowest_t_score": pa.array(low, pa.float64(), from_pandas=True)}, notes


@cache
def _ost_refer_below() -> float:
    """OST for US women: refer for DXA below this index (knowledge ``osta``)."""
    return float(load(osta.KNOWLEDGE_ID).value("ost_us_women_refer_for_dxa_below"))


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
    # what decides which of assess's OSTA/OST rules fire: the tool, the category, and (OST for US women) whether
    # the index is below the refer-for-DXA limit; not the index itself (76 classes at 1 M rows instead of 18)
    refer = np.where(has, idx, np.inf) < _ost_refer_below()
    _status_key(c, "osta", has, [tool, np.where(has, cat, 0).astype(np.int64), refer])
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
    _status_key(c, "caroc_category", out.category != caroc.OUT_OF_SCOPE, [
        out.category, out.basal, out.highfx, out.lsth, out.mod1, out.mod2, ~np.isnan(c.optional["femoral_neck_t_score"]),
        c.female])
    return {"caroc_category": labels(out.category - keys[0], names)}, []


SCORERS: list[Scorer] = [score_qfracture, score_osta, score_bone_density, score_caroc]


def score_chunk(batch: pa.RecordBatch | pa.Table, c: Columns, *, guideline: str | None = None,
                as_of: dt.date | None = None, statuses: StatusTally | None = None) -> pa.RecordBatch:
    """Output columns for one chunk: id, the scores, the guideline stratum and suggested action, ``warnings``
    and ``error`` (why a row was not scored). ``guideline``/``as_of`` default to the deployment's and today.
    ``statuses``: where given, the chunk's rows per calculator status are added to it (:func:`tally_statuses`)."""
    from .strata import stratum_columns

    # the strata first: their step holds the most temporary arrays, and before the scorers none of the
    # scores' output arrays are alive beside them (the columns' order is the same either way)
    strata, snotes = stratum_columns(c, guideline=guideline, as_of=as_of)
    outputs: Outputs = {}
    notes: list[Note] = []
    if statuses is not None:
        c.shared["status_classes"] = {}  # the scorers keep their rows' status classes here
    for scorer in SCORERS:
        o, w = scorer(c)
        outputs.update(o)
        notes.extend(w)
    if statuses is not None:
        tally_statuses(c, as_of or dt.date.today(), statuses)
    c.shared.pop("status_classes", None)
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
