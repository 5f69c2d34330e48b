"""Guideline stratum and suggested action per row, from the real rule engine run once per class of rows.

The rule engine (:func:`osteocare.core.guidelines.stratify`) is scalar. There is no second implementation of
the rules here. Instead:

1. The selected guideline's conditions (``scope``, ``rules[*].when``, ``definitions``) are walked once to
   collect, per fact id, the knowledge thresholds it is compared with (the condition language never compares
   with literal numbers), the literal values of text/yes-no facts, and which record structures are read.
2. Per row, vectorised, each such fact's value is computed as the core computes it for a record made only of
   the flat screening columns (T-scores rounded half away from zero to 0.1 in the ISCD T-score group, FRAX
   through the core's vectorised adjustment, glucocorticoid dose and duration, flags ...). Each value is coded
   exactly against its thresholds: for each threshold t, (v < t) + (v <= t); unknown is its own code.
3. Rows with equal codes cannot be told apart by the rules: they form a class. For each class not seen before
   (memoised across chunks, per process), one real row of the class is turned into a
   :class:`~osteocare.core.records.PatientRecord` and run through the real pieces of ``assess`` (calculators ->
   ``derived_facts`` -> ``stratify``); the answer is reused for every row of the class.

The key is deliberately generous (e.g. which T-score sites are known, whether the patient is in the ISCD
T-score group), so that the statuses the calculators hand to the rules are the same within a class too. The
property test in tests/batch compares every row with ``assess``.

The suggested action is a project convention stored as data
(``knowledge/calculators/screening-actions.yaml``), evaluated per class on the class's own results.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from numba import njit

from ..core.assessment import derived_facts, run_calculators
from ..core.densitometry import ISCD_ID, WHO_CATEGORIES, who_grade
from ..core.errors import KnowledgeError
from ..core.guidelines import default_guideline, stratify
from ..core.guidelines.conditions import resolve_ref
from ..core.guidelines.rulesets import guideline_file
from ..core.knowledge import KnowledgeFile, load
from ..core.numeric import round_half_away
from ..core.records import ALCOHOL, ETHNICITIES, FLAGS, SMOKING, parse_record
from ..core.results import CalculatorResult
from ..core.risk import frax_adjust, osta, qfracture
from ..core.status import Status, lowest, status_warning
from .columns import OPTIONAL_FLOAT, Columns

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

ACTIONS_ID = "screening-actions"
OSTA_CALCULATORS = ("osta", "ost-men", "ost-us-women")
STATUSES: tuple[Status, ...] = ("verified", "secondary", "unverified")
_T_SITES = ("lumbar_spine", "total_hip", "femoral_neck")
_T_FACTS = frozenset({"lowest_t_score", "hip_spine_t_score", "hip_t_score", "spine_t_score", "who_category"})
_FRAX_FACTS = frozenset({"frax_mof_percent", "frax_hip_percent"})
_STRUCTURES = ("fractures", "falls", "condition", "taking", "took", "intolerance", "rule_fired")


# --- 1. what the guideline's conditions read -------------------------------------------------------------------


@dataclass
class Reads:
    """Per fact id the thresholds (numbers) or literals it is compared with; the record structures read."""

    thresholds: dict[str, set[float]] = field(default_factory=dict)
    literals: dict[str, list[Any]] = field(default_factory=dict)
    structures: set[str] = field(default_factory=set)

    def fact(self, name: str) -> None:
        self.thresholds.setdefault(name, set())


def _walk(cond: Any, kf: KnowledgeFile, out: Reads, seen_defs: frozenset[str] = frozenset()) -> None:
    if not isinstance(cond, dict):
        raise KnowledgeError(f"{kf.id}: a condition must be a mapping, got {cond!r}")
    if "all" in cond or "any" in cond:
        for c in cond["all"] if "all" in cond else cond["any"]:
            _walk(c, kf, out, seen_defs)
    elif "not" in cond:
        _walk(cond["not"], kf, out, seen_defs)
    elif "def" in cond:
        name = cond["def"]
        if name not in seen_defs:
            _walk(kf.data["definitions"][name], kf, out, seen_defs | {name})
    elif "fact" in cond:
        name, op = cond["fact"], cond["op"]
        out.fact(name)
        if op == "known":
            return
        if "value_ref" in cond:
            _, fact = resolve_ref(str(cond["value_ref"]), kf)
            out.thresholds[name].add(float(fact.value))
        else:
            vals = cond["value"] if op == "in" else [cond["value"]]
            lits = out.literals.setdefault(name, [])
            lits.extend(v for v in vals if v not in lits)
    else:
        key = next((k for k in _STRUCTURES if k in cond), None)
        if key is None:
            raise KnowledgeError(f"{kf.id}: condition {cond!r} has no batch mapping")
        out.structures.add(key)


@cache
def guideline_reads(guideline: str) -> Reads:
    """Everything the guideline's strata (scope, rules, definitions) compare, from the knowledge file."""
    kf = guideline_file(guideline)
    out = Reads()
    d = kf.data
    if d.get("scope"):
        _walk(d["scope"]["when"], kf, out)
    for r in d["rules"]:
        _walk(r["when"], kf, out)
    for name, cond in (d.get("definitions") or {}).items():
        _walk(cond, kf, out, frozenset({name}))
    return out


# --- 2. per-row fact values for a record made of the flat screening columns -----------------------------------


@dataclass
class RowFacts:
    """Vectorised inputs shared by the fact functions (computed lazily, once per chunk)."""

    c: Columns
    _cache: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    @property
    def t_group(self) -> BoolArray:
        """ISCD T-score group (menopausal status is not a screening column: women by age, as the core does)."""
        def make() -> BoolArray:
            iscd = load(ISCD_ID)
            men = float(iscd.value("t_score_men_min_age"))
            women = float(iscd.value("unknown_menopause_postmenopausal_from_age"))
            return np.where(self.c.female, self.c.age >= women, self.c.age >= men)
        out: BoolArray = self.get("t_group", make)
        return out

    def site_t(self, site: str) -> FloatArray:
        """The site's T-score as the bone-density calculator reports it: rounded to 0.1, T-score group only."""
        def make() -> FloatArray:
            x = self.c.optional[f"{site}_t_score"]
            v: FloatArray = np.where(self.t_group, round_half_away(x, 1), np.nan)
            return v
        out: FloatArray = self.get(f"t:{site}", make)
        return out

    def min_t(self, sites: tuple[str, ...]) -> FloatArray:
        def make() -> FloatArray:
            out = self.site_t(sites[0])
            for s in sites[1:]:
                out = np.fmin(out, self.site_t(s))
            return out
        out: FloatArray = self.get(f"min:{','.join(sites)}", make)
        return out

    def frax(self) -> tuple[FloatArray, FloatArray]:
        """(MOF, hip) FRAX after the core's published adjustments (the flat columns never tick glucocorticoids in
        FRAX); unknown unless both were entered."""
        def make() -> tuple[FloatArray, FloatArray]:
            # the core's adjustment is row by row: it runs on the rows with both FRAX values only (the others
            # stay unknown), the same numbers as on the whole chunk
            c = self.c
            mof, hip = c.optional["frax_mof_percent"], c.optional["frax_hip_percent"]
            both = np.flatnonzero(~np.isnan(mof) & ~np.isnan(hip))
            mof_out, hip_out = np.full(c.n, np.nan), np.full(c.n, np.nan)
            if both.size:
                out = frax_adjust.adjust(mof=mof[both], hip=hip[both], age=c.age[both], gc_ticked=False,
                                         fn_t=c.optional["femoral_neck_t_score"][both],
                                         ls_t=c.optional["lumbar_spine_t_score"][both], with_bmd=True)
                mof_out[both], hip_out[both] = out.mof, out.hip
            return mof_out, hip_out
        out: tuple[FloatArray, FloatArray] = self.get("frax", make)
        return out

    def flag(self, name: str) -> BoolArray:
        flag_map = qfracture.input_codes()[3]
        return self.c.flags[flag_map[name]]

    def gc_dose(self) -> FloatArray:
        d = self.c.optional["glucocorticoid_mg_per_day"]
        return np.where(np.isnan(d), np.where(self.flag("corticosteroids"), np.nan, 0.0), d)


def _none(rf: RowFacts) -> FloatArray:
    return np.full(rf.c.n, np.nan)


def _bool(mask: BoolArray, known: BoolArray | None = None) -> FloatArray:
    out = mask.astype(np.float64)
    return out if known is None else np.where(known, out, np.nan)


def _who(rf: RowFacts) -> FloatArray:
    low = rf.min_t(_T_SITES)
    iscd = load(ISCD_ID)
    fracture = rf.flag("prior_fracture") if bool(iscd.value("prior_fracture_flag_is_fragility")) else False
    grade = who_grade(low, fracture).astype(np.float64)
    return np.where(np.isnan(low), np.nan, grade)


def _gc_months(rf: RowFacts) -> FloatArray:
    d = rf.c.optional["glucocorticoid_mg_per_day"]
    zero = ~rf.flag("corticosteroids") & (np.isnan(d) | (d == 0))
    return np.where(zero, 0.0, np.nan)


def _current_smoker(rf: RowFacts) -> FloatArray:
    codes = qfracture.input_codes()[1]
    return _bool(np.isin(rf.c.smoke_cat, [codes[s] for s in ("light", "moderate", "heavy")]))


#: Fact id -> (its values per row as numbers, NaN = unknown; the text values in code order for text facts).
#: A fact the guideline reads that is missing here stops the run with a clear message (never a guess).
BATCH_FACTS: dict[str, tuple[Callable[[RowFacts], FloatArray], tuple[Any, ...] | None]] = {
    "age": (lambda rf: rf.c.age, None),
    "sex": (lambda rf: np.where(rf.c.female, 0.0, 1.0), ("female", "male")),
    "menopausal_status": (_none, ("premenopausal", "perimenopausal", "postmenopausal")),
    "lowest_t_score": (lambda rf: rf.min_t(_T_SITES), None),
    "hip_spine_t_score": (lambda rf: rf.min_t(_T_SITES), None),
    "hip_t_score": (lambda rf: rf.min_t(("femoral_neck", "total_hip")), None),
    "spine_t_score": (lambda rf: rf.site_t("lumbar_spine"), None),
    "who_category": (_who, WHO_CATEGORIES),
    "frax_mof_percent": (lambda rf: rf.frax()[0], None),
    "frax_hip_percent": (lambda rf: rf.frax()[1], None),
    "frax_with_bmd": (_none, (False, True)),
    "guideline_category": (_none, ("low", "intermediate", "high", "very_high")),
    "glucocorticoid_mg_per_day": (lambda rf: rf.gc_dose(), None),
    "glucocorticoid_months": (_gc_months, None),
    "on_glucocorticoids": (lambda rf: _bool(rf.flag("corticosteroids")
                                            | (np.nan_to_num(rf.c.optional["glucocorticoid_mg_per_day"]) > 0)),
                           (False, True)),
    "crcl_ml_min": (_none, None),  # no creatinine column: the kidney calculator does not apply
    "egfr_ml_min_1_73m2": (_none, None),
    "cvd": (lambda rf: _bool(rf.flag("cvd")), (False, True)),
    "malabsorption": (lambda rf: _bool(rf.flag("malabsorption")), (False, True)),
    "current_smoker": (_current_smoker, (False, True)),
    "systemic_oestrogen": (lambda rf: _bool(rf.flag("hrt_oestrogen")), (False, True)),
    "falls_screen_positive": (lambda rf: np.where(rf.flag("falls"), 1.0, np.nan), (False, True)),
    "pth_analogue_days": (lambda rf: np.zeros(rf.c.n), None),  # no medication history in the columns
    "romosozumab_doses": (lambda rf: np.zeros(rf.c.n), None),
}
#: Record structures -> the flag columns they read (the flat columns carry no lists: nothing else varies).
STRUCTURE_FLAGS: dict[str, tuple[str, ...]] = {
    "fractures": ("prior_fracture",), "falls": (), "condition": (), "taking": (), "took": (), "intolerance": (),
    "rule_fired": (),
}


#: a fact's code per row: a small number (at most 2 + 2 x its thresholds, or its categories + 1), so 2 bytes
#: instead of 8 for each part of the class key that a chunk's classification holds at once (the scoring's
#: largest moment: 13.4 MB of arrays above the chunk's start against 14.6 with 8-byte codes, by tracemalloc)
_CODE_DTYPE = np.int16
CodeArray = npt.NDArray[np.int16 | np.int64]


def _code_dtype(radix: int) -> type[np.integer[Any]]:
    """2-byte codes, or 8-byte ones for a fact with more codes than they hold (no guideline has yet)."""
    return _CODE_DTYPE if radix <= np.iinfo(_CODE_DTYPE).max else np.int64


def _code(v: FloatArray, thresholds: list[float]) -> tuple[CodeArray, int]:
    """0 = unknown; else 1 + sum over t of (v < t) + (v <= t): equal codes = equal outcome of every comparison."""
    radix = 2 + 2 * len(thresholds)
    flat = np.ascontiguousarray(v, dtype=np.float64).reshape(-1)
    out = np.empty(flat.size, dtype=_code_dtype(radix))
    _code_kernel(flat, np.array(thresholds, dtype=np.float64), out)
    return out.reshape(v.shape), radix


@njit(cache=True, nogil=True)
def _code_kernel(v: Any, thresholds: Any, out: Any) -> None:  # pragma: no cover - compiled
    """:func:`_code` in one pass over the rows (the comparisons are those of the docstring, in float64)."""
    for i in range(v.shape[0]):
        x = v[i]
        if np.isnan(x):
            out[i] = 0
            continue
        c = 1
        for t in thresholds:
            c += (x < t) + (x <= t)
        out[i] = c


def _category(v: FloatArray, names: tuple[Any, ...]) -> tuple[CodeArray, int]:
    with np.errstate(invalid="ignore"):
        out = np.where(np.isnan(v), 0.0, v + 1.0).astype(_code_dtype(len(names) + 1))
    return out, len(names) + 1


# --- 3. one evaluation per class -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StratumClass:
    """What the rule engine said for one class of rows."""

    stratum: str | None
    label: str
    status: Status
    treat: bool | None
    stratum_actions: frozenset[str]
    missing: tuple[str, ...]
    t_known: bool


@dataclass(frozen=True)
class ActionClass:
    action: str
    action_rule: str
    reason: str
    status: Status


@dataclass
class ActionRule:
    id: str
    action: str
    when: dict[str, Any]
    text: str


@cache
def action_rules() -> tuple[dict[str, str], tuple[ActionRule, ...]]:
    kf = load(ACTIONS_ID)
    known = {"stratum_in", "treat", "stratum_known", "stratum_action_in", "t_score_known", "osta_category_in"}
    rules = []
    for r in kf.data["rules"]:
        bad = set(r["when"]) - known
        if bad or r["action"] not in kf.data["actions"]:
            raise KnowledgeError(f"{ACTIONS_ID}: rule {r['id']}: unknown condition {sorted(bad)} or action")
        for ref in r.get("uses", []):
            resolve_ref(str(ref), kf)
        rules.append(ActionRule(r["id"], r["action"], dict(r["when"]), str(kf.fact(r["id"]).value)))
    return dict(kf.data["actions"]), tuple(rules)


def _action_reads() -> set[str]:
    return {k for r in action_rules()[1] for k in r.when}


def choose_action(*, guideline: str, stratum: str | None, label: str, treat: bool | None, status: Status,
                  stratum_actions: set[str], missing: list[str], t_known: bool,
                  osta_result: CalculatorResult | None) -> tuple[str, str, str, Status]:
    """(action, rule id, reason, status) of the first rule of screening-actions.yaml whose conditions hold."""
    osta_cat = osta_result.category if osta_result is not None else None
    facts: dict[str, Callable[[Any], bool]] = {
        "stratum_in": lambda v: stratum in v,
        "treat": lambda v: treat is v,
        "stratum_known": lambda v: (stratum is not None) is v,
        "stratum_action_in": lambda v: bool(stratum_actions & set(v)),
        "t_score_known": lambda v: t_known is v,
        "osta_category_in": lambda v: osta_cat in v,
    }
    name = str(guideline_file(guideline).data["name"])
    for r in action_rules()[1]:
        if all(facts[k](v) for k, v in r.when.items()):
            text = r.text.format(guideline=name, label=label, missing=", ".join(missing) or "facts the rules need")
            st: list[str] = [status]
            if "osta_category_in" in r.when and osta_result is not None:
                st.append(osta_result.status)
            return r.action, r.id, text, lowest(st)
    raise KnowledgeError(f"{ACTIONS_ID}: no rule matched (the last rule must match every row)")


def evaluate_record(record_data: dict[str, Any], *, guideline: str, as_of: dt.date) -> StratumClass:
    """The real assess pieces for one record: calculators -> derived_facts -> stratify."""
    record = parse_record(record_data)
    results, _ = run_calculators(record, as_of=as_of)
    facts = derived_facts(results, record)
    st = stratify(record, facts, guideline=guideline, as_of=as_of)
    return StratumClass(stratum=st.stratum, label=st.label, status=st.status, treat=st.treat,
                        stratum_actions=frozenset(f"{guideline}#{a.rule_id}" for a in st.action),
                        missing=tuple(st.missing), t_known=facts.lowest_t_score is not None)


def evaluate_action(s: StratumClass, record_data: dict[str, Any] | None, *, guideline: str) -> ActionClass:
    """The screening convention for one stratum class and (where the rules read it) the row's OSTA/OST."""
    osta_result = None
    if record_data is not None:
        r = osta.assess_osta(parse_record(record_data))
        osta_result = r if r.applicable else None
    action, rule, reason, status = choose_action(
        guideline=guideline, stratum=s.stratum, label=s.label, treat=s.treat, status=s.status,
        stratum_actions=set(s.stratum_actions), missing=list(s.missing), t_known=s.t_known, osta_result=osta_result)
    return ActionClass(action=action, action_rule=rule, reason=reason, status=status)


def record_of_row(c: Columns, i: int) -> dict[str, Any]:
    """One validated row of the chunk as the flat record ``parse_record`` reads."""
    eth_codes, smoke_codes, alc_codes, flag_map, _ = qfracture.input_codes()
    rec: dict[str, Any] = {"id": "screen-class", "sex": "female" if c.female[i] else "male", "age": int(c.age[i]),
                           "years": int(c.years[i])}
    if not np.isnan(c.bmi[i]):
        rec["bmi"] = float(c.bmi[i])
    if not np.isnan(c.weight_kg[i]):
        rec["weight_kg"] = float(c.weight_kg[i])
    if c.ethnicity_defaulted is None or not c.ethnicity_defaulted[i]:
        rec["ethnicity"] = next(e for e in ETHNICITIES if eth_codes[e] == c.ethrisk[i])
    rec["smoking"] = next(s for s in SMOKING if smoke_codes[s] == c.smoke_cat[i])
    rec["alcohol"] = next(a for a in ALCOHOL if alc_codes[a] == c.alcohol_cat6[i])
    for f in FLAGS:
        rec[f] = bool(c.flags[flag_map[f]][i])
    for name in OPTIONAL_FLOAT:
        v = c.optional[name][i]
        if not np.isnan(v):
            rec[name] = float(v)
    return rec


_KEY_SPAN = 1 << 22


def unique_rows(key: IntArray, span: int) -> tuple[IntArray, IntArray]:
    """(one row of each distinct key, index of each row's key among them); O(n + span) for a small key space.

    Any row of a class represents it: the rows of a class are indistinguishable to the rules.
    """
    if span <= _KEY_SPAN:
        first_of = np.full(span, key.size, dtype=np.int64)
        first_of[key] = np.arange(key.size, dtype=np.int64)
        present = np.flatnonzero(first_of < key.size)
        slot = np.full(span, -1, dtype=np.int64)
        slot[present] = np.arange(present.size)
        return first_of[present], slot[key]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return first, inverse.ravel()


Parts = list[tuple[npt.NDArray[Any], int]]  # per key component: the code per row (int or bool), how many codes
#: Classes being evaluated right now, per memo: a second scoring thread waits instead of evaluating it again.
_PENDING: dict[tuple[int, tuple[int, ...]], threading.Event] = {}


def _classes(parts: Parts, memo: dict[tuple[int, ...], int], results: list[Any], lock: threading.Lock,
             evaluate: Callable[[int, tuple[int, ...]], Any]) -> IntArray:
    """Index into ``results`` per row; ``evaluate(row, codes)`` runs once for each class not in ``memo``."""
    n = parts[0][0].size
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for codes, radix in parts:
        if span * radix > _KEY_SPAN:  # keep the combined key small: renumber the distinct keys so far
            first, key = unique_rows(key, span)
            span = first.size
        key *= radix
        key += codes
        span *= radix
    first, inverse = unique_rows(key, span)
    reps = [codes[first].tolist() for codes, _ in parts]
    idx = np.empty(len(first), dtype=np.int64)
    for k, row in enumerate(first.tolist()):
        tup = tuple(r[k] for r in reps)
        while True:
            with lock:
                hit = memo.get(tup)
                busy = _PENDING.get((id(memo), tup)) if hit is None else None
                if hit is None and busy is None:  # ours to evaluate; other threads wait for it
                    _PENDING[(id(memo), tup)] = mine = threading.Event()
            if hit is not None:
                break
            if busy is not None:  # another scoring thread is evaluating this class right now
                busy.wait()
                continue
            try:
                res = evaluate(row, tup)
                with lock:
                    hit = memo.setdefault(tup, len(results))
                    if hit == len(results):
                        results.append(res)
            finally:
                with lock:
                    _PENDING.pop((id(memo), tup), None)
                mine.set()
            break
        idx[k] = hit
    out: IntArray = idx[inverse]
    return out


class Plan:
    """The class keys of one guideline on one date, and the memo of class results (shared by every chunk)."""

    def __init__(self, guideline: str, as_of: dt.date) -> None:
        self.guideline, self.as_of = guideline, as_of
        reads = guideline_reads(guideline)
        missing = [f for f in reads.thresholds if f not in BATCH_FACTS]
        missing += [s for s in reads.structures if s not in STRUCTURE_FLAGS]
        if missing:
            raise KnowledgeError(f"guideline {guideline}: screening cannot compute {', '.join(sorted(missing))} "
                                 "from the screening columns; add them to osteocare.batch.strata")
        self.facts = sorted(reads.thresholds)
        self.thresholds = {f: sorted(reads.thresholds[f]) for f in self.facts}
        self.flags = sorted({f for s in reads.structures for f in STRUCTURE_FLAGS[s]})
        self.uses_t = bool(_T_FACTS & set(self.facts)) or bool(_FRAX_FACTS & set(self.facts))
        self.reads_osta = "osta_category_in" in _action_reads()
        self.strata: list[StratumClass] = []
        self.actions: list[ActionClass] = []
        self.memo: dict[tuple[int, ...], int] = {}
        self.action_memo: dict[tuple[int, ...], int] = {}
        self.lock = threading.Lock()

    def stratum_parts(self, rf: RowFacts) -> Parts:
        c = rf.c
        parts: Parts = []
        for f in self.facts:
            fn, names = BATCH_FACTS[f]
            v = np.asarray(fn(rf), dtype=np.float64)
            parts.append(_category(v, names) if names is not None else _code(v, self.thresholds[f]))
        for f in self.flags:
            parts.append((rf.flag(f), 2))
        if self.uses_t:  # the statuses the calculators hand on follow which T-scores exist and the ISCD group
            parts.append((rf.t_group, 2))
            for s in _T_SITES:
                parts.append((~np.isnan(c.optional[f"{s}_t_score"]), 2))
        parts.append((~np.isnan(rf.min_t(_T_SITES)), 2))  # the action reads: a T-score was used
        return parts

    def osta_parts(self, c: Columns) -> Parts:
        if not self.reads_osta:
            return []
        from .scoring import osta_screen

        idx, cat, tool = osta_screen(c)
        has = ~np.isnan(idx)
        return [(np.where(has, cat, 0), len(osta.CATEGORY_NAMES) + 1),
                (np.where(has, tool + 1, 0), len(osta.TOOLS) + 1)]

    def classify(self, c: Columns) -> tuple[IntArray, IntArray]:
        """(stratum class, action class) per row; -1 for flagged rows."""
        s_out = np.full(c.n, -1, dtype=np.int64)
        a_out = np.full(c.n, -1, dtype=np.int64)
        good = np.flatnonzero(~c.bad)
        if good.size == 0:
            return s_out, a_out
        sub = good if good.size < c.n else None
        parts = [(codes if sub is None else codes[sub], r) for codes, r in self.stratum_parts(RowFacts(c))]

        def stratum(row: int, _: tuple[int, ...]) -> StratumClass:
            return evaluate_record(record_of_row(c, int(good[row])), guideline=self.guideline, as_of=self.as_of)

        s_cls = _classes(parts, self.memo, self.strata, self.lock, stratum)
        # the action: per stratum class and OSTA/OST category (a far cheaper evaluation than the stratum's)
        a_parts = [(s_cls, max(len(self.strata), 1))]
        a_parts += [(codes if sub is None else codes[sub], r) for codes, r in self.osta_parts(c)]

        def action(row: int, tup: tuple[int, ...]) -> ActionClass:
            rec = record_of_row(c, int(good[row])) if self.reads_osta else None
            return evaluate_action(self.strata[tup[0]], rec, guideline=self.guideline)

        a_cls = _classes(a_parts, self.action_memo, self.actions, self.lock, action)
        s_out[good] = s_cls
        a_out[good] = a_cls
        return s_out, a_out


_PLANS: dict[tuple[str, dt.date], Plan] = {}
_PLANS_LOCK = threading.Lock()


def plan(guideline: str | None, as_of: dt.date | None) -> Plan:
    gid = guideline or default_guideline()
    day = as_of or dt.date.today()
    with _PLANS_LOCK:
        p = _PLANS.get((gid, day))
        if p is None:
            p = _PLANS[(gid, day)] = Plan(gid, day)
    return p


# --- output columns ---------------------------------------------------------------------------------------------


def _text_column(cls: IntArray, values: list[str | None]) -> pa.Array:
    names = sorted({v for v in values if v is not None})
    lookup = np.array([names.index(v) if v is not None else -1 for v in values] + [-1], dtype=np.int32)
    codes = lookup[cls]  # cls == -1 picks the trailing -1
    dictionary = pa.array(names, pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), dictionary)


def stratum_columns(c: Columns, *, guideline: str | None = None,
                    as_of: dt.date | None = None) -> tuple[dict[str, pa.Array], list[tuple[IntArray, list[str]]]]:
    """Output columns (stratum, stratum_label, stratum_status, action, action_reason) and per-row notes."""
    p = plan(guideline, as_of)
    s_cls, a_cls = p.classify(c)
    res, acts = list(p.strata), list(p.actions)
    gname = str(guideline_file(p.guideline).data["name"])
    cols = {
        "stratum": _text_column(s_cls, [r.stratum for r in res]),
        "stratum_label": _text_column(s_cls, [r.label for r in res]),
        "stratum_status": _text_column(s_cls, [r.status for r in res]),
        "action": _text_column(a_cls, [a.action for a in acts]),
        "action_reason": _text_column(a_cls, [a.reason for a in acts]),
    }
    rank = {s: i for i, s in enumerate(STATUSES)}
    st = np.array([rank[r.status] for r in res] + [0], dtype=np.int64)[s_cls]
    ast_of = np.array([rank[a.status] for a in acts] + [0], dtype=np.int64)[a_cls]
    ast = np.where(ast_of > st, ast_of, 0)  # only where the action is less sure than the stratum (OSTA/OST)
    notes = [
        (st, [f"{gname} risk stratum: status {s} (see the summary notes)" for s in STATUSES[1:]]),
        (ast, [f"suggested action (OSTA/OST categories): status {s}" for s in STATUSES[1:]]),
    ]
    return cols, notes


def summary_notes(guideline: str | None, stratum_status_counts: dict[str, int]) -> list[str]:
    """The long texts behind the short per-row notes, and what the action column is."""
    gid = guideline or default_guideline()
    gname = str(guideline_file(gid).data["name"])
    out = [f"Risk strata: {gname} ({gid}), from the same rule engine as `osteocare assess`."]
    for s in STATUSES[1:]:
        n = stratum_status_counts.get(s, 0)
        w = status_warning(s, f"{gname} risk stratum")
        if n and w:
            out.append(f"{w} ({n} rows)")
    kf = load(ACTIONS_ID)
    out.append(f"Suggested actions ({', '.join(action_rules()[0].values())}) follow the OsteoCare screening "
               f"convention in knowledge file {kf.id} {kf.version}; they sort a population into work lists and are "
               "not a treatment decision.")
    return out
