"""Loading the rule-bearing knowledge files (guidelines, drugs, sequencing) and checking them once.

Every condition is validated when its file is first used, so the engine never runs a rule that names a fact,
condition, drug or threshold that does not exist. :func:`problems` lists all such problems for the knowledge
test.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ..errors import InputError, KnowledgeError
from ..knowledge import KnowledgeFile, all_files, load
from ..results import Citation, cite
from ..status import Status, lowest
from .conditions import resolve_ref, validate

GUIDELINE_KIND = "guideline"
DRUG_KIND = "drug"
CONTRAINDICATION_KINDS = ("must_not", "caution", "fix_first")
TIERS = ("first_line", "alternative")


def available_guidelines() -> list[str]:
    """Ids of the guideline rule sets in the knowledge base."""
    return sorted(k for k, f in all_files().items() if f.kind == GUIDELINE_KIND)


def default_guideline() -> str:
    """The deployment's default guideline profile (knowledge/guidelines/deployment.yaml)."""
    return str(load("deployment").value("default_guideline"))


def default_region() -> str:
    return str(load("deployment").value("regulatory_region"))


def drug_files() -> dict[str, KnowledgeFile]:
    """Drug id -> its knowledge file."""
    return {str(f.data["drug"]): f for f in all_files().values() if f.kind == DRUG_KIND}


def drug_name(drug: str) -> str:
    """The drug's name as its knowledge file gives it (an id the knowledge does not know stays as it is)."""
    f = drug_files().get(drug)
    return str(f.data["name"]) if f is not None else drug


@cache
def guideline_file(guideline: str) -> KnowledgeFile:
    ids = available_guidelines()
    if guideline not in ids:
        raise InputError("guideline", guideline, "one of " + ", ".join(ids))
    kf = load(guideline)
    errs = guideline_problems(kf)
    if errs:
        raise KnowledgeError(f"guideline {guideline}: " + "; ".join(errs))
    return kf


@cache
def drug_file(drug: str) -> KnowledgeFile:
    files = drug_files()
    if drug not in files:
        raise InputError("drug", drug, "one of " + ", ".join(sorted(files)))
    kf = files[drug]
    errs = drug_problems(kf)
    if errs:
        raise KnowledgeError(f"drug {drug}: " + "; ".join(errs))
    return kf


def sequencing_file() -> KnowledgeFile:
    return load("treatment-sequencing")


# --- status and citation of a rule -----------------------------------------------------------------------------


def ref_status(ref: str) -> Status:
    """Status of a reference collected while evaluating a condition (``file#fact`` or ``derived#name#status``)."""
    parts = ref.split("#")
    if parts[0] == "derived":
        return lowest([parts[2]])
    return lowest([load(parts[0]).fact(parts[1]).status])


def rule_status(kf: KnowledgeFile, rule_fact: str, refs: set[str] = frozenset()) -> Status:  # type: ignore[assignment]
    return lowest([kf.fact(rule_fact).status, *(ref_status(r) for r in refs)])


def rule_citations(kf: KnowledgeFile, rule_fact: str, refs: set[str] = frozenset()) -> tuple[Citation, ...]:  # type: ignore[assignment]
    """The rule's own source first, then the sources of the thresholds it used."""
    out = [cite(kf.id, kf.fact(rule_fact).source)]
    for r in sorted(refs):
        parts = r.split("#")
        if parts[0] == "derived":
            continue
        f = load(parts[0])
        c = cite(f.id, f.fact(parts[1]).source)
        if c not in out:
            out.append(c)
    return tuple(out)


def fact_text(kf: KnowledgeFile, name: str) -> str:
    return str(kf.fact(name).value)


# --- validation -------------------------------------------------------------------------------------------------


def _fact_exists(kf: KnowledgeFile, name: Any, where: str) -> list[str]:
    if not isinstance(name, str) or name not in kf.facts:
        return [f"{where}: names fact {name!r}, which {kf.id} does not define"]
    return []


def guideline_problems(kf: KnowledgeFile) -> list[str]:
    d, errs = kf.data, []
    strata = d.get("strata", {})
    order = d.get("order", [])
    if sorted(order) != sorted(strata):
        errs.append("order must list every stratum once")
    for key, s in strata.items():
        if "label" not in s or "treat" not in s:
            errs.append(f"stratum {key}: needs label and treat")
        for r in [s.get("action"), *s.get("also", [])]:
            if r is not None:
                errs += _fact_exists(kf, r, f"stratum {key} action")
    if "scope" in d:
        errs += _fact_exists(kf, d["scope"].get("rule"), "scope")
        errs += validate(d["scope"].get("when"), kf, "scope")
    for name, cond in d.get("definitions", {}).items():
        errs += validate(cond, kf, f"definition {name}")
    rule_ids = set()
    for i, r in enumerate(d.get("rules", [])):
        where = f"rules[{i}] {r.get('id')}"
        errs += _fact_exists(kf, r.get("id"), where)
        if r.get("stratum") not in strata:
            errs.append(f"{where}: unknown stratum {r.get('stratum')!r}")
        errs += validate(r.get("when"), kf, where)
        rule_ids.add(r.get("id"))
    drugs = set(drug_files())
    for key, opts in d.get("options", {}).items():
        if key not in strata:
            errs.append(f"options for unknown stratum {key!r}")
        for j, o in enumerate(opts):
            where = f"options.{key}[{j}]"
            if o.get("drug") not in drugs:
                errs.append(f"{where}: unknown drug {o.get('drug')!r}")
            if o.get("tier") not in TIERS:
                errs.append(f"{where}: tier must be one of {TIERS}")
            errs += _fact_exists(kf, o.get("rule"), where)
            for c in ("when", "unless"):
                if c in o:
                    errs += validate(o[c], kf, f"{where}.{c}", allow_rule_fired=True)
                    for rid in _rule_fired_ids(o[c]):
                        if rid not in rule_ids:
                            errs.append(f"{where}.{c}: rule_fired names unknown rule {rid!r}")
            if "unless" in o and "unless_reason" not in o:
                errs.append(f"{where}: unless needs unless_reason")
            if "unless_rule" in o:
                errs += _fact_exists(kf, o["unless_rule"], where)
    for k in ("no_drug_rule", "unranked_rule", "supplements_rule", "stratum_status_rule"):
        if k in d:
            errs += _fact_exists(kf, d[k], k)
    for group in ("treated", "untreated"):
        for j, f in enumerate(d.get("follow_up", {}).get(group, [])):
            where = f"follow_up.{group}[{j}]"
            errs += _fact_exists(kf, f.get("rule"), where)
            errs += _interval_ok(kf, f.get("interval_ref"), where)
    if "frax_country_ref" in d:
        errs += _fact_exists(kf, d["frax_country_ref"], "frax_country_ref")
    return errs


def _interval_ok(kf: KnowledgeFile, ref: Any, where: str) -> list[str]:
    try:
        _, fact = resolve_ref(str(ref), kf)
    except KnowledgeError as exc:
        return [f"{where}: {exc}"]
    v = fact.value
    if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int | float) for x in v)) or fact.unit != "a":
        return [f"{where}: interval {ref!r} must be [min, max] in years (unit a)"]
    return []


def _rule_fired_ids(cond: Any) -> list[str]:
    if not isinstance(cond, dict):
        return []
    if "rule_fired" in cond:
        return [str(cond["rule_fired"])]
    out: list[str] = []
    for k in ("all", "any"):
        for c in cond.get(k, []):
            out += _rule_fired_ids(c)
    if "not" in cond:
        out += _rule_fired_ids(cond["not"])
    return out


def drug_problems(kf: KnowledgeFile) -> list[str]:
    d, errs = kf.data, []
    for k in ("drug", "name", "class", "action"):
        if k not in d:
            errs.append(f"data.{k} missing")
    for k in ("route", "setting", "regimen", "administration", "checks"):
        errs += _fact_exists(kf, k, f"fact {k}")
    regions = set(load("deployment").data.get("regions", ["US", "AU", "EU"]))
    for i, c in enumerate(d.get("contraindications", [])):
        where = f"contraindications[{i}] {c.get('id')}"
        errs += _fact_exists(kf, c.get("id"), where)
        if c.get("kind") not in CONTRAINDICATION_KINDS:
            errs.append(f"{where}: kind must be one of {CONTRAINDICATION_KINDS}")
        for r in c.get("regions", []):
            if r not in regions:
                errs.append(f"{where}: unknown region {r!r}")
        errs += validate(c.get("when"), kf, where)
    for n in d.get("start_notes", []):
        errs += _fact_exists(kf, n, "start_notes")
    items = set(sequencing_file().data["check_items"])
    checks = d.get("checks", {})
    errs += _fact_exists(kf, checks.get("fact"), "checks")
    errs += [f"checks: unknown item {x!r}" for x in checks.get("items", []) if x not in items]
    return errs


def problems() -> list[str]:
    """Every problem in every rule-bearing knowledge file (empty when all is well)."""
    out: list[str] = []
    for g in available_guidelines():
        out += [f"{g}: {e}" for e in guideline_problems(load(g))]
    for kf in drug_files().values():
        out += [f"{kf.id}: {e}" for e in drug_problems(kf)]
    seq = sequencing_file()
    out += [f"{seq.id}: {e}" for e in validate(seq.data.get("vertebral_imaging_when"), seq, "vertebral_imaging_when")]
    return out
