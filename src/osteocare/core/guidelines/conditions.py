"""A small, safe condition language for rules stored as data (never ``eval``).

A condition is a YAML mapping with exactly one of these keys:

``all: [c, ...]`` / ``any: [c, ...]`` / ``not: c``
    Combinators, in three-valued (Kleene) logic: a condition is True, False or None (*undecided*, because
    a fact it needs is unknown).
``fact: <fact id>, op: <op>, value: <literal> | value_ref: <ref>``
    Compare a patient fact (:data:`~osteocare.core.guidelines.facts.FACTS`) with a value. ``op`` is one of
    ``< <= > >= == != in``. Numbers are never literals: a number is a knowledge fact named by ``value_ref``
    (``name`` in the same file or ``file-id#name``), so that it carries its unit, source and status.
    ``op: known`` is True when the fact is known.
``condition: <id or [ids]>`` with optional ``ever: true`` and ``within_months_ref: <ref>``
    A condition id from ``knowledge/conditions.yaml`` on the record (present on the as-of date; ``ever``
    also counts resolved ones; ``within_months_ref`` asks for onset inside the window).
``fractures: {sites: [...], within_months_ref, at_least_ref, on_treatment: true}``
    Fragility fractures on the record matching all given filters; at least ``at_least_ref`` of them (1 if
    not given).
``falls: {within_months_ref, injurious: true}``
    Falls on the record matching the filters (at least one).
``taking: <drug or [drugs] or self>`` / ``took: ...``
    Taking the drug on the as-of date / ever took it.
``intolerance: <drug or self>, hypersensitivity: true|false``
    A recorded intolerance of the drug (with a hypersensitivity reaction, or without one).
``rule_fired: <rule id>``
    In a guideline's treatment options only: that stratum rule fired.
``def: <name>``
    A named condition from the file's ``data.definitions`` (e.g. AACE's diagnosis of osteoporosis).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..errors import KnowledgeError
from ..knowledge import Fact, KnowledgeFile, load
from ..records import FractureSite, drug_file_ids
from ..records import known_drugs as record_drug_ids
from .dates import within_months
from .facts import FACTS, FactView

Tri = bool | None

COMPARE_OPS = ("<", "<=", ">", ">=", "==", "!=", "in", "known")
_KEYS = ("all", "any", "not", "fact", "condition", "fractures", "falls", "taking", "took", "intolerance",
         "rule_fired", "def")
FRACTURE_SITES: tuple[str, ...] = FractureSite.__args__  # type: ignore[attr-defined]


@dataclass
class Outcome:
    """The value of a condition, the knowledge facts it used and what was missing to decide it."""

    value: Tri
    refs: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)


@dataclass
class Context:
    view: FactView
    file: KnowledgeFile
    drug: str | None = None
    fired: frozenset[str] = frozenset()

    @property
    def definitions(self) -> dict[str, Any]:
        d = self.file.data.get("definitions", {})
        return d if isinstance(d, dict) else {}


def resolve_ref(ref: str, file: KnowledgeFile) -> tuple[str, Fact]:
    """``name`` (same file) or ``file-id#name`` -> (qualified ref, fact)."""
    if "#" in ref:
        fid, name = ref.split("#", 1)
        kf = load(fid)
    else:
        kf, name = file, ref
    return f"{kf.id}#{name}", kf.fact(name)


def _drugs(spec: Any, ctx: Context) -> tuple[str, ...]:
    items = spec if isinstance(spec, list) else [spec]
    return tuple(ctx.drug if d == "self" and ctx.drug else str(d) for d in items)


def _num(x: Any) -> Decimal:
    return Decimal(str(x))


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "in":
        return bool(left in right)
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    a, b = _num(left), _num(right)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _count(matches: Iterable[Tri], at_least: int) -> Tri:
    known = unsure = 0
    for m in matches:
        if m is True:
            known += 1
        elif m is None:
            unsure += 1
    if known >= at_least:
        return True
    if known + unsure < at_least:
        return False
    return None


def evaluate(cond: dict[str, Any], ctx: Context) -> Outcome:
    """Evaluate one condition for the patient in ``ctx``."""
    if "all" in cond or "any" in cond:
        is_all = "all" in cond
        parts = [evaluate(c, ctx) for c in cond["all" if is_all else "any"]]
        decisive = False if is_all else True
        hits = [p for p in parts if p.value is decisive]
        if hits:
            return Outcome(decisive, set().union(*(p.refs for p in hits)))
        refs = set().union(*(p.refs for p in parts)) if parts else set()
        if any(p.value is None for p in parts):
            return Outcome(None, refs, set().union(*(p.missing for p in parts)))
        return Outcome(not decisive, refs)
    if "not" in cond:
        o = evaluate(cond["not"], ctx)
        return Outcome(None if o.value is None else not o.value, o.refs, o.missing)
    if "fact" in cond:
        return _fact(cond, ctx)
    if "condition" in cond:
        return _condition(cond, ctx)
    if "fractures" in cond:
        return _fractures(cond["fractures"], ctx)
    if "falls" in cond:
        return _falls(cond["falls"], ctx)
    if "taking" in cond or "took" in cond:
        now = "taking" in cond
        drugs = _drugs(cond["taking" if now else "took"], ctx)
        meds = [m for m in ctx.view.record.medications if m.drug in drugs]
        if now:
            d = ctx.view.as_of
            meds = [m for m in meds if (m.start is None or m.start <= d) and (m.end is None or m.end > d)]
        else:
            meds = [m for m in meds if m.start is None or m.start <= ctx.view.as_of]
        return Outcome(bool(meds))
    if "intolerance" in cond:
        return _intolerance(cond, ctx)
    if "rule_fired" in cond:
        return Outcome(cond["rule_fired"] in ctx.fired)
    if "def" in cond:
        return evaluate(ctx.definitions[cond["def"]], ctx)
    raise KnowledgeError(f"{ctx.file.id}: unknown condition {cond!r}")


def _threshold(cond: dict[str, Any], key: str, ctx: Context, refs: set[str]) -> Any:
    ref, fact = resolve_ref(cond[key], ctx.file)
    refs.add(ref)
    return fact.value


def _fact(cond: dict[str, Any], ctx: Context) -> Outcome:
    name, op = cond["fact"], cond["op"]
    value, status = ctx.view.get(name)
    refs: set[str] = set()
    if status != "verified":
        refs.add(f"derived#{name}#{status}")
    if op == "known":
        return Outcome(value is not None, refs)
    right = _threshold(cond, "value_ref", ctx, refs) if "value_ref" in cond else cond["value"]
    if value is None:
        return Outcome(None, refs, {name})
    return Outcome(_compare(value, op, right), refs)


def _window(cond: dict[str, Any], key: str, ctx: Context, refs: set[str]) -> int | None:
    return int(_threshold(cond, key, ctx, refs)) if key in cond else None


def _condition(cond: dict[str, Any], ctx: Context) -> Outcome:
    codes = cond["condition"] if isinstance(cond["condition"], list) else [cond["condition"]]
    refs: set[str] = set()
    months = _window(cond, "within_months_ref", ctx, refs)
    as_of = ctx.view.as_of
    results: list[Tri] = []
    for c in ctx.view.record.conditions:
        if c.code not in codes or (c.onset is not None and c.onset > as_of):
            continue
        if months is not None:
            results.append(None if c.onset is None else within_months(c.onset, as_of, months))
        elif cond.get("ever"):
            results.append(True)
        else:
            results.append(c.resolved is None or c.resolved > as_of)
    value = _count(results, 1)
    missing = {f"onset date of {'/'.join(codes)}"} if value is None else set()
    return Outcome(value, refs, missing)


def _fractures(spec: dict[str, Any], ctx: Context) -> Outcome:
    refs: set[str] = set()
    months = _window(spec, "within_months_ref", ctx, refs)
    at_least = _window(spec, "at_least_ref", ctx, refs) or 1
    sites = spec.get("sites")
    rec, as_of = ctx.view.record, ctx.view.as_of
    matches: list[Tri] = []
    for f in rec.fractures:
        if not f.fragility or (f.date is not None and f.date > as_of):
            continue
        if sites is not None and f.site not in sites:
            continue
        if spec.get("on_treatment") and not f.on_treatment:
            continue
        if months is not None:
            matches.append(None if f.date is None else within_months(f.date, as_of, months))
        else:
            matches.append(True)
    # the flag set with no details recorded: QFracture's "fracture at an osteoporotic site" says neither when, nor
    # where (it may be a hip or a spine fracture), nor how many, so a window, a site filter or a count above one
    # leaves it undecided, never False
    flag_only = not rec.fractures and rec.prior_fracture and not spec.get("on_treatment")
    if flag_only:
        matches.append(True if months is None and sites is None else None)
        if at_least > 1:  # nor how many: "multiple fractures" is undecided on it, never False
            matches.append(None)
    value = _count(matches, at_least)
    missing: set[str] = set()
    if value is None:
        if flag_only and sites is not None:
            missing.add("fracture site")
        if flag_only and at_least > 1:
            missing.add("number of fractures")
        if months is not None:
            missing.add("fracture dates")
    return Outcome(value, refs, missing)


def _falls(spec: dict[str, Any], ctx: Context) -> Outcome:
    refs: set[str] = set()
    months = _window(spec, "within_months_ref", ctx, refs)
    as_of = ctx.view.as_of
    matches: list[Tri] = []
    for f in ctx.view.record.falls_history:
        if spec.get("injurious") and not f.injurious:
            continue
        if months is not None:
            matches.append(None if f.date is None else within_months(f.date, as_of, months))
        else:
            matches.append(f.date is None or f.date <= as_of)
    value = _count(matches, 1)
    return Outcome(value, refs, {"fall dates"} if value is None else set())


HYPERSENSITIVITY_TERMS = "conditions#hypersensitivity_reaction_terms"


def is_hypersensitivity(reaction: str, terms: Iterable[str]) -> bool:
    """Is this recorded reaction a hypersensitivity reaction (one of ``terms``, case-insensitive)? The severity
    of a reaction is not read (knowledge ``conditions#hypersensitivity_reaction_terms``)."""
    text = reaction.lower()
    return any(str(t).lower() in text for t in terms)


def _intolerance(cond: dict[str, Any], ctx: Context) -> Outcome:
    drugs = _drugs(cond["intolerance"], ctx)
    ref, fact = resolve_ref(HYPERSENSITIVITY_TERMS, ctx.file)
    want = cond.get("hypersensitivity")
    for i in ctx.view.record.intolerances:
        if i.drug not in drugs:
            continue
        hyper = is_hypersensitivity(i.reaction, fact.value)
        if want is None or want == hyper:
            return Outcome(True, {ref})
    return Outcome(False, {ref})


# --- validation (used when a rule file is loaded and by the knowledge test) ------------------------------------


def validate(cond: Any, file: KnowledgeFile, where: str, *, allow_rule_fired: bool = False) -> list[str]:
    """Problems with one condition: unknown keys, facts, condition ids, drugs or threshold references."""
    errs: list[str] = []
    if not isinstance(cond, dict):
        return [f"{where}: a condition must be a mapping, got {cond!r}"]
    keys = [k for k in _KEYS if k in cond]
    if len(keys) != 1:
        return [f"{where}: a condition needs exactly one of {_KEYS}, got {sorted(cond)}"]
    key = keys[0]

    def ref_ok(ref: Any, label: str) -> None:
        try:
            _, fact = resolve_ref(str(ref), file)
        except KnowledgeError as exc:
            errs.append(f"{where}: {label}: {exc}")
            return
        if label.endswith("months_ref") or label == "at_least_ref":
            if not isinstance(fact.value, int):
                errs.append(f"{where}: {label} {ref!r} must be a whole number")

    if key in ("all", "any"):
        if not isinstance(cond[key], list) or not cond[key]:
            errs.append(f"{where}: {key} needs a non-empty list")
        else:
            for i, c in enumerate(cond[key]):
                errs += validate(c, file, f"{where}.{key}[{i}]", allow_rule_fired=allow_rule_fired)
    elif key == "not":
        errs += validate(cond["not"], file, f"{where}.not", allow_rule_fired=allow_rule_fired)
    elif key == "fact":
        if cond["fact"] not in FACTS:
            errs.append(f"{where}: unknown fact {cond['fact']!r}")
        if cond.get("op") not in COMPARE_OPS:
            errs.append(f"{where}: unknown op {cond.get('op')!r}")
        elif cond["op"] != "known":
            if ("value" in cond) == ("value_ref" in cond):
                errs.append(f"{where}: give exactly one of value and value_ref")
            elif "value" in cond and isinstance(cond["value"], int | float) and not isinstance(cond["value"], bool):
                errs.append(f"{where}: numbers must come from a knowledge fact (value_ref), not a literal")
            elif "value_ref" in cond:
                ref_ok(cond["value_ref"], "value_ref")
    elif key == "condition":
        known = set(load("conditions").data["conditions"])
        codes = cond["condition"] if isinstance(cond["condition"], list) else [cond["condition"]]
        errs += [f"{where}: unknown condition id {c!r}" for c in codes if c not in known]
        if "within_months_ref" in cond:
            ref_ok(cond["within_months_ref"], "within_months_ref")
    elif key in ("fractures", "falls"):
        spec = cond[key]
        if not isinstance(spec, dict):
            errs.append(f"{where}: {key} needs a mapping")
        else:
            for s in spec.get("sites", []) or []:
                if s not in FRACTURE_SITES:
                    errs.append(f"{where}: unknown fracture site {s!r}")
            for k in ("within_months_ref", "at_least_ref"):
                if k in spec:
                    ref_ok(spec[k], k)
    elif key in ("taking", "took", "intolerance"):
        drugs = cond[key] if isinstance(cond[key], list) else [cond[key]]
        known_drugs = set(record_drug_ids())
        errs += [f"{where}: unknown drug {d!r}" for d in drugs if d != "self" and d not in known_drugs]
    elif key == "def":
        defs = file.data.get("definitions", {})
        if cond["def"] not in defs:
            errs.append(f"{where}: unknown definition {cond['def']!r}")
    elif key == "rule_fired" and not allow_rule_fired:
        errs.append(f"{where}: rule_fired is allowed only in a guideline's treatment options")
    return errs


def drug_ids() -> set[str]:
    """Drug ids defined by the drug knowledge files (``kind: drug``)."""
    return drug_file_ids()

