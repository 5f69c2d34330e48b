"""Code look-up over the knowledge code maps (``knowledge/codes/*.yaml``).

Each map is a knowledge file whose code facts are keyed by the code and whose ``value`` says what the code
means for OsteoCare; the other facts are reading rules (unit spellings, sub-regions, name stems). Codes are
compared, never display strings. A code not in a map is *unknown*: the importer reports it as skipped and
never guesses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ..core.knowledge import KnowledgeFile, load
from ..core.status import FactStatus

#: Knowledge id of each code map, by short system name.
MAPS: dict[str, str] = {
    "loinc": "codes-loinc",
    "snomed": "codes-snomed-ct",
    "icd10cm": "codes-icd-10-cm",
    "icd10who": "codes-icd-10-who",
    "rxnorm": "codes-rxnorm",
    "atc": "codes-atc",
}
_ENTRY_KEYS = ("concept", "drug", "match")


@dataclass(frozen=True)
class CodeEntry:
    """One known code: what it means, its status and where that came from."""

    system: str  # short name: loinc, snomed, ...
    system_uri: str
    code: str
    meaning: dict[str, Any]
    status: FactStatus
    knowledge_id: str
    source: str
    note: str | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.meaning.get(key, default)

    @property
    def display(self) -> str | None:
        d = self.meaning.get("display")
        return str(d) if d else None


@dataclass
class CodeTable:
    name: str
    file: KnowledgeFile
    uri: str
    entries: dict[str, CodeEntry] = field(default_factory=dict)
    prefixes: list[CodeEntry] = field(default_factory=list)

    def rule(self, name: str) -> Any:
        return self.file.value(name)

    def rule_status(self, name: str) -> FactStatus:
        return self.file.fact(name).status


def _norm_icd(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


@cache
def table(name: str) -> CodeTable:
    kf = load(MAPS[name])
    t = CodeTable(name=name, file=kf, uri=str(kf.value("system")))
    icd = name.startswith("icd10")
    for key, fact in kf.facts.items():
        if not (isinstance(fact.value, dict) and any(k in fact.value for k in _ENTRY_KEYS)):
            continue
        entry = CodeEntry(name, t.uri, key, dict(fact.value), fact.status, kf.id, fact.source, fact.note)
        if icd:
            t.entries[_norm_icd(key)] = entry
            if fact.value.get("match") == "prefix":
                t.prefixes.append(entry)
        else:
            t.entries[key] = entry
    t.prefixes.sort(key=lambda e: -len(_norm_icd(e.code)))
    return t


@cache
def system_names() -> dict[str, str]:
    """System URI -> short name (only the systems OsteoCare has a map for)."""
    return {table(n).uri: n for n in MAPS}


def _system_key(system: str | None) -> str | None:
    if not system or not isinstance(system, str):  # a resource read leniently may hold anything here
        return None
    s = system.strip().rstrip("/")
    for uri, name in system_names().items():
        if s == uri.rstrip("/"):
            return name
    return None


def lookup(system: str | None, code: str | None) -> CodeEntry | None:
    """The entry for ``code`` in ``system`` (a FHIR system URI), or None when the code is unknown."""
    name = _system_key(system)
    if name is None or not code or not isinstance(code, str):
        return None
    t = table(name)
    c = code.strip()
    if name.startswith("icd10"):
        n = _norm_icd(c)
        if n in t.entries:
            return t.entries[n]
        for e in t.prefixes:
            if n.startswith(_norm_icd(e.code)):
                return e
        return None
    if name == "atc":
        c = c.upper()
    return t.entries.get(c)


def icd10cm_fracture_follow_up(code: str | None) -> tuple[str, str] | None:
    """(7th character, its meaning) when an ICD-10-CM fracture code records a follow-up of a fracture rather than a
    new one (``M80.08XD`` -> ``("D", "subsequent encounter for fracture with routine healing")``), by the code map's
    ``fracture_seventh_character`` rule; None for a new fracture (7th character A, or none).

    A 7th character the rule does not list is a follow-up too, with the meaning "not a 7th character of ICD-10-CM
    fracture codes": only a code that says it is an initial encounter creates a fracture."""
    n = _norm_icd(code or "")
    if len(n) < 7:
        return None
    rule: dict[str, Any] = table("icd10cm").rule("fracture_seventh_character")
    seventh = n[6]
    if seventh in rule["new_fracture"]:
        return None
    return seventh, str(rule["follow_up"].get(seventh, "not a 7th character of ICD-10-CM fracture codes"))


def known_system(system: str | None) -> bool:
    return _system_key(system) is not None


def uri(name: str) -> str:
    """System URI of a short system name (``loinc``, ``snomed``, ...)."""
    return table(name).uri


def export_code(name: str, key: str, value: str) -> CodeEntry | None:
    """The entry OsteoCare writes for a record value, e.g. ``export_code("snomed", "export", "hip")``."""
    for e in table(name).entries.values():
        if e.get(key) == value:
            return e
    return None


def codes_where(name: str, **match: Any) -> list[CodeEntry]:
    """All entries of a map whose meaning matches every ``key=value``."""
    return [e for e in table(name).entries.values() if all(e.get(k) == v for k, v in match.items())]


def _norm_unit(unit: str) -> str:
    return "".join(unit.split()).casefold()


def canonical_spelling(unit: str | None) -> str | None:
    """A unit spelling -> its UCUM code by the LOINC map's ``unit_spellings`` (None if not listed)."""
    if unit is None:
        return None
    spellings: dict[str, list[str]] = table("loinc").rule("unit_spellings")
    n = _norm_unit(unit)
    for canonical, alts in spellings.items():
        if n in {_norm_unit(a) for a in [canonical, *alts]}:
            return canonical
    return None


def word_match(text: str, stems: list[str]) -> bool:
    t = text.casefold()
    return any(re.search(re.escape(s.casefold()), t) for s in stems)
