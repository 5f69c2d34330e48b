"""FHIR R4 import: Bundles (transaction, collection, searchset, ...) -> PatientRecords with an import report.

The importer reads the JSON leniently (real-world bundles are messy) and checks each resource it uses against
the R4B models of ``fhir.resources``: a resource that does not validate is still read where possible and the
report says so. Codes are looked up in the knowledge code maps (:mod:`osteocare.fhir.codes`); an unknown code is
reported as skipped, never guessed. Units are converted only by the factors in the knowledge files; any other
unit is skipped with the reason. Facts dated after the as-of date are not used.

Public functions: :func:`import_bundle`, :func:`import_path`, :func:`import_json`, :func:`record_from_fhir`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from ..core.errors import InputError
from ..core.limits import check_range
from ..core.records import DxaMeasurement, PatientRecord, RecordErrors, parse_record
from ..core.status import FactStatus
from ..core.text import without_controls
from ..core.units import (
    MG_DL,
    NG_ML,
    NMOL_L,
    UMOL_L,
    canonical_creatinine_unit,
    canonical_vitamin_d_unit,
    creatinine_factor,
    vitamin_d_factor,
)
from . import codes
from .codes import CodeEntry, lookup
from .local import LOCAL_SYSTEM, SUMMARY_DXA_FIELDS, local_entry, record_id_system, structure_code
from .report import Diagnosis, ImportReport, ReportEntry, SiteUnknownScore

UCUM = "http://unitsofmeasure.org"
USED_TYPES = (
    "Patient", "Observation", "Condition", "Procedure", "MedicationRequest", "MedicationStatement",
    "MedicationAdministration", "DiagnosticReport", "Medication", "AllergyIntolerance",
)
#: Resources read for their facts, whose patient is ``subject`` (the others in USED_TYPES only support them).
FACT_TYPES = ("Observation", "Condition", "Procedure", "MedicationRequest", "MedicationStatement",
              "MedicationAdministration")
#: Resources read for their facts whose patient is ``patient`` (kept apart: callers check FACT_TYPES' subject).
PATIENT_FACT_TYPES = ("AllergyIntolerance",)
#: The clinic's phone column (``store.models.Patient.phone``): a longer number is left out of the identity.
PHONE_MAX_LENGTH = 40
#: Nested Bundles deeper than this are not read (a technical guard against hostile input, not a clinical number).
MAX_BUNDLE_DEPTH = 16
#: Bidirectional-text controls (Unicode category Cf) that can make a name display as something else.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f" + "".join(map(chr, range(0x202A, 0x202F)))
                           + "".join(map(chr, range(0x2066, 0x206A))))


class ImportResult(NamedTuple):
    record: PatientRecord | None
    report: ImportReport


# ============================================================================ small readers
def parse_fhir_date(value: Any) -> tuple[dt.date | None, str | None]:
    """A FHIR date/dateTime/instant -> (date, problem). Partial dates give the first day, with a problem."""
    if not isinstance(value, str) or not value.strip():
        return None, "no date"
    v = value.strip()
    m = re.match(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", v)
    if not m:
        return None, f"unreadable date {v!r}"
    y, mo, d = m.group(1), m.group(2), m.group(3)
    try:
        day = dt.date(int(y), int(mo or 1), int(d or 1))
    except ValueError:
        return None, f"unreadable date {v!r}"
    if d is None:
        return day, f"partial date {v!r} read as {day.isoformat()}"
    return day, None


def _list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty list (hostile bundles put numbers where arrays belong)."""
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _codings(cc: Any) -> list[dict[str, Any]]:
    if not isinstance(cc, dict):
        return []
    return [c for c in _list(cc.get("coding")) if isinstance(c, dict)]


def clean_text(text: str) -> tuple[str, list[str]]:
    """``text`` without control characters, bidirectional overrides, line separators and lone surrogates
    (whitespace runs collapsed), and the code points removed (``U+202E`` ...)."""
    kept: list[str] = []
    removed: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI_CONTROLS:
            if not ch.isspace():
                removed.append(f"U+{ord(ch):04X}")
            kept.append(" " if ch.isspace() else "")
        else:
            kept.append(ch)
    return " ".join("".join(kept).split()), sorted(set(removed))


def patient_identity(res: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Clinic identity (family_name, given_name, birth_date, phone) of a Patient resource, cleaned, and the problems.

    Control and bidirectional-override characters are removed from names (the problem names the code points);
    a name part that is not text is left out.
    """
    ident: dict[str, str] = {}
    problems: list[str] = []
    raw_names = res.get("name")
    if raw_names is not None and not isinstance(raw_names, list):
        problems.append(f"Patient.name is not a list of names (got {type(raw_names).__name__}); no name read")
    name = next((n for n in _list(raw_names) if isinstance(n, dict)), {})
    removed: list[str] = []
    family = name.get("family")
    if isinstance(family, str):
        text, gone = clean_text(family)
        removed += gone
        if text:
            ident["family_name"] = text
    elif family is not None:
        problems.append(f"Patient.name.family is not text (got {type(family).__name__}); left out")
    given = name.get("given")
    parts = [given] if isinstance(given, str) else _list(given)
    if given is not None and not isinstance(given, str | list):
        problems.append(f"Patient.name.given is not a list of text (got {type(given).__name__}); left out")
    texts = []
    for g in parts:
        if isinstance(g, str):
            text, gone = clean_text(g)
            removed += gone
            if text:
                texts.append(text)
        else:
            problems.append(f"a Patient.name.given part is not text (got {type(g).__name__}); left out")
    if texts:
        ident["given_name"] = " ".join(texts)
    if removed:
        problems.append("Patient.name: control or bidirectional-override characters removed ("
                        + ", ".join(sorted(set(removed))) + ")")
    birth = res.get("birthDate")
    day, why = parse_fhir_date(birth)
    if day is not None and why is None:
        ident["birth_date"] = day.isoformat()
    # the first current phone number (ContactPoint system "phone"), as the clinic keeps one
    phones = [t for t in _list(res.get("telecom")) if isinstance(t, dict) and t.get("system") == "phone"
              and isinstance(t.get("value"), str) and not (isinstance(t.get("period"), dict) and t["period"].get("end"))]
    if phones:
        text, gone = clean_text(phones[0]["value"])
        if gone:
            problems.append("Patient.telecom: control or bidirectional-override characters removed ("
                            + ", ".join(sorted(set(gone))) + ")")
        if len(text) > PHONE_MAX_LENGTH:  # the clinic's column: left out, not the whole import refused
            problems.append(f"Patient.telecom phone of {len(text)} characters left out (at most {PHONE_MAX_LENGTH})")
        elif text:
            ident["phone"] = text
    return ident, problems


def patient_key(res: dict[str, Any], full_url: Any = None) -> str:
    """The id an import report gives a Patient (``ImportReport.patient``)."""
    e = _Entry(full_url if isinstance(full_url, str) else None, res)
    return str(res.get("id") or e.label)


def patient_identities(bundle: Any) -> dict[str, dict[str, str]]:
    """Patient key (as in the import report) -> cleaned clinic identity, for every Patient of a bundle."""
    if not isinstance(bundle, dict):
        return {}
    entries: list[_Entry] = []
    if bundle.get("resourceType") == "Bundle":
        _walk(bundle, entries, [])
    elif bundle.get("resourceType") == "Patient":
        entries = [_Entry(None, bundle)]
    return {patient_key(e.res, e.full_url): patient_identity(e.res)[0] for e in entries if e.type == "Patient"}


def _cc_text(cc: Any) -> str:
    if not isinstance(cc, dict):
        return ""
    parts = [str(cc.get("text") or "")] + [str(c.get("display") or "") for c in _codings(cc)]
    return " ".join(dict.fromkeys(p.strip() for p in parts if p and p.strip()))


def _code_str(c: dict[str, Any]) -> str:
    return f"{c.get('system') or '(no system)'}|{c.get('code') or '(no code)'}"


def _first_known(cc: Any, order: tuple[str, ...] = ()) -> tuple[CodeEntry | None, dict[str, Any] | None]:
    """The first coding with a known code (preferring systems in ``order``), and that coding."""
    found: list[tuple[int, CodeEntry, dict[str, Any]]] = []
    for c in _codings(cc):
        if c.get("system") == LOCAL_SYSTEM:
            e = local_entry(str(c.get("code") or ""))
        else:
            e = lookup(c.get("system"), c.get("code"))
        if e is not None:
            rank = order.index(e.system) if e.system in order else len(order)
            found.append((rank, e, c))
    if not found:
        return None, None
    found.sort(key=lambda t: t[0])
    return found[0][1], found[0][2]


def _describe_codes(cc: Any) -> str:
    cs = _codings(cc)
    if not cs:
        return "no coding" + (f" (text {cc.get('text')!r})" if isinstance(cc, dict) and cc.get("text") else "")
    return ", ".join(_code_str(c) for c in cs)


def _ref_key(ref: Any) -> str | None:
    """A reference -> a key comparable with an entry's fullUrl or 'Type/id'."""
    if isinstance(ref, dict):
        ref = ref.get("reference")
    if not isinstance(ref, str) or not ref:
        return None
    if ref.startswith(("urn:uuid:", "urn:oid:", "#")):
        return ref
    m = re.search(r"([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$", ref)
    return f"{m.group(1)}/{m.group(2)}" if m else ref


def _is_synthea(res: dict[str, Any], bundle_synthea: bool, markers: list[str]) -> bool:
    if bundle_synthea:
        return True
    blob = json.dumps({k: res.get(k) for k in ("meta", "identifier", "text")}).casefold()
    return any(m.casefold() in blob for m in markers)


# ============================================================================ R4B validation
def _validate(res: dict[str, Any]) -> str | None:
    """None if the resource validates under the R4B models, else the first problem."""
    try:
        from fhir.resources.R4B import get_fhir_model_class

        cls = get_fhir_model_class(str(res.get("resourceType")))
    except Exception:  # unknown resource type
        return f"unknown FHIR R4B resource type {res.get('resourceType')!r}"
    try:
        cls.model_validate(res)
    except Exception as exc:  # any pydantic or FHIR validation error
        text = str(exc).splitlines()
        return " ".join(text[:3])[:300]
    return None


# ============================================================================ bundle walk
@dataclass
class _Entry:
    full_url: str | None
    res: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.res.get("resourceType"))

    @property
    def label(self) -> str:
        rid = self.res.get("id") or (self.full_url or "?").rsplit(":", 1)[-1]
        return f"{self.type}/{rid}"

    def keys(self) -> set[str]:
        out = set()
        if self.full_url:
            out.add(self.full_url)
            k = _ref_key(self.full_url)
            if k:
                out.add(k)
        if self.res.get("id"):
            out.add(f"{self.type}/{self.res['id']}")
        return out


def _walk(bundle: dict[str, Any], out: list[_Entry], notes: list[str], depth: int = 0) -> None:
    raw = bundle.get("entry")
    if raw is not None and not isinstance(raw, list):
        notes.append(f"Bundle.entry is not a list of entries (got {type(raw).__name__}); ignored")
    for i, e in enumerate(_list(raw)):
        if not isinstance(e, dict):
            notes.append(f"entry {i} is not an object; ignored")
            continue
        res = e.get("resource")
        if not isinstance(res, dict):
            notes.append(f"entry {i} has no resource (e.g. a response entry); ignored")
            continue
        if res.get("resourceType") == "Bundle":
            if depth >= MAX_BUNDLE_DEPTH:
                notes.append(f"entry {i}: a Bundle nested more than {MAX_BUNDLE_DEPTH} deep; ignored")
                continue
            _walk(res, out, notes, depth + 1)
            continue
        search = e.get("search") or {}
        if isinstance(search, dict) and search.get("mode") == "outcome":
            notes.append(f"entry {i}: search outcome ({res.get('resourceType')}) ignored")
            continue
        full_url = e.get("fullUrl")
        if full_url is not None and not isinstance(full_url, str):
            notes.append(f"entry {i}: fullUrl is not text (got {type(full_url).__name__}); ignored")
            full_url = None
        out.append(_Entry(full_url, res))


def _subject(res: dict[str, Any]) -> str | None:
    return _ref_key(res.get("subject") or res.get("patient"))


def identify_drug(cc: Any) -> tuple[str | None, CodeEntry | None, dict[str, Any] | None, list[str], str]:
    """A medication concept -> (drug id, code entry, coding, flags, reason if not identified).

    Order: OsteoCare local code, RxNorm (of the code map), ATC, then the ingredient name (flagged). Oncology
    products named in the knowledge are excluded with the reason.
    """
    flags: list[str] = []
    text = _cc_text(cc)
    rx = codes.table("rxnorm")
    excluded: dict[str, list[str]] = rx.rule("excluded_products")
    rce, rcoding = _first_known(cc, ("local", "rxnorm"))
    if rce is not None and rce.system == "local" and rce.get("concept") == "drug":
        return str(rce.get("drug")), rce, rcoding, flags, ""
    if rce is not None and rce.system == "rxnorm":
        if rce.get("excluded"):
            return None, rce, rcoding, [], str(rce.get("reason"))
        if rce.get("drug") is None:
            flags.append(str(rce.get("reason")))
        else:
            return str(rce.get("drug")), rce, rcoding, flags, ""
    ace = next((lookup(c.get("system"), c.get("code")) for c in _codings(cc)
                if lookup(c.get("system"), c.get("code")) is not None and codes.system_names().get(
                    str(c.get("system"))) == "atc"), None)
    if ace is not None:
        drug = str(ace.get("drug"))
        for word in excluded.get(drug, []):
            if word.casefold() in text.casefold():
                return None, ace, None, [], f"oncology product ({word!r} in {text!r}): not an osteoporosis medicine"
        unstated = rx.rule("strength_unstated").get(drug)
        if unstated and not any(w.casefold() in text.casefold() for w in unstated["words"]):
            flags.append(f"ATC {ace.code} does not state the strength ({unstated['why']}); confirm")
        acoding = next(c for c in _codings(cc) if c.get("code") and str(c.get("code")).upper() == ace.code)
        return drug, ace, acoding, flags, ""
    names: dict[str, list[str]] = rx.rule("ingredient_names")
    for drug, stems in names.items():
        if text and codes.word_match(text, stems):
            for word in excluded.get(drug, []):
                if word.casefold() in text.casefold():
                    return None, None, None, [], f"oncology product ({word!r} in {text!r}): not an osteoporosis medicine"
            flags.append(f"recognised by its ingredient name in {text.strip()!r} (codes.md 4)")
            return drug, None, None, flags, ""
    return None, None, None, flags, ("not an osteoporosis medicine or supplement in the knowledge code maps: "
                                     + _describe_codes(cc))


def medication_concept(r: dict[str, Any], index: dict[str, dict[str, Any]]) -> tuple[Any, str]:
    """The medication CodeableConcept of a MedicationRequest/Statement/Administration and how it was found.

    ``medicationCodeableConcept``; else the Medication ``medicationReference`` points to: a contained one (``#id``)
    or one in ``index`` (keys as :func:`_ref_key` gives them: a fullUrl or ``Medication/id``); else the reference's
    display text. ``(None, "medication not found")`` when none of them is there.
    """
    cc = r.get("medicationCodeableConcept")
    if isinstance(cc, dict):
        return cc, ""
    ref = r.get("medicationReference")
    key = _ref_key(ref)
    if key and key.startswith("#"):
        for c in _list(r.get("contained")):
            if isinstance(c, dict) and c.get("id") == key[1:] and c.get("resourceType") in ("Medication", None):
                return c.get("code"), "contained Medication"
    if key and key in index and index[key].get("resourceType") == "Medication":
        return index[key].get("code"), "referenced Medication"
    if isinstance(ref, dict) and ref.get("display"):
        return {"text": ref["display"]}, "medicationReference display only"
    return None, "medication not found"


def resource_index(resources: list[tuple[str | None, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Reference key (fullUrl, ``Type/id``) -> resource, for (fullUrl, resource) pairs, as references resolve."""
    index: dict[str, dict[str, Any]] = {}
    for full_url, res in resources:
        for k in _Entry(full_url, res).keys():
            index.setdefault(k, res)
    return index


#: Record structures under OsteoCare's local codes (read by ``_Builder.structure_value``).
_STRUCTURES = ("vertebra", "guideline_category", "falls_screen_answer", "falls_screen_brochure")


def _component_meaning(comp: Any, concept: str, key: str) -> Any:
    """``key`` of the meaning of a component's OsteoCare local code of ``concept``, or None."""
    for c in _codings(_dict(comp).get("code")):
        if c.get("system") == LOCAL_SYSTEM:
            le = local_entry(str(c.get("code") or ""))
            if le is not None and le.get("concept") == concept:
                return le.get(key)
    return None


def _recorded_reaction(reactions: list[dict[str, Any]]) -> str | None:
    """The reaction text exactly as an OsteoCare record wrote it: the text of the first manifestation coded
    ``reaction-as-recorded`` (control characters left out, as the export does), or "" for one coded
    ``reaction-not-described``; None when no manifestation carries either code (a bundle from elsewhere)."""
    for x in reactions:
        for m in _list(x.get("manifestation")):
            for c in _codings(m):
                if c.get("system") != LOCAL_SYSTEM:
                    continue
                if c.get("code") == structure_code("reaction-not-described"):
                    return ""
                text = _dict(m).get("text")
                if c.get("code") == structure_code("reaction-as-recorded") and isinstance(text, str):
                    return without_controls(text).strip()
    return None


# ============================================================================ per-patient builder
@dataclass
class _Course:
    drug: str
    start: dt.date | None
    end: dt.date | None
    last_dose: dt.date | None = None
    label: str = ""
    keys: set[str] = field(default_factory=set)  # how references name the resource (fullUrl, Type/id)
    based_on: set[str] = field(default_factory=set)  # MedicationStatement.basedOn / partOf references
    entry: ReportEntry | None = None

    def overlaps(self, other: _Course, as_of: dt.date) -> bool:
        """The two courses share a day (a course without an end runs to ``as_of``); False without both starts."""
        if self.start is None or other.start is None:
            return False
        return self.start <= (other.end or as_of) and other.start <= (self.end or as_of)

    def absorb(self, other: _Course) -> None:
        """Make this course the union of both (the same therapy recorded twice)."""
        self.start = min(d for d in (self.start, other.start) if d is not None) if (self.start or other.start) else None
        self.end = None if self.end is None or other.end is None else max(self.end, other.end)
        self.keys |= other.keys
        self.based_on |= other.based_on
        self.label = f"{self.label} + {other.label}"


def _decimals(value: float) -> int:
    """Decimal places as written (60 and 60.0: 0; 0.905: 3)."""
    exp = Decimal(repr(float(value))).normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


@dataclass
class _Val:
    """One imported value of a fact, as written and (where a knowledge factor exists) in the fact's base unit."""

    value: Any
    unit: str | None
    base: float | None  # value in the fact's base unit; None when no conversion is known
    day: dt.date | None
    label: str
    entry: ReportEntry | None = None

    def shown(self) -> str:
        v = f"{self.value:g}" if isinstance(self.value, float) else repr(self.value)
        return f"{v}{f' {self.unit}' if self.unit else ''} ({self.label})"

    def agrees(self, other: _Val) -> bool | None:
        """Same value: equal in the same unit, or the same result written in two units (each converted value
        rounds to the other as written). None when they cannot be compared (two units, no knowledge factor)."""
        if not isinstance(self.value, float) or not isinstance(other.value, float):
            return bool(self.value == other.value)
        if self.unit == other.unit:
            return math.isclose(self.value, other.value)
        if self.base is None or other.base is None or not self.base or not other.base:
            return None
        for a, b in ((self, other), (other, self)):
            if a.base is not None and b.base is not None:
                in_b_unit = a.base * (b.value / b.base)
                if math.isclose(round(in_b_unit, _decimals(b.value)), b.value):
                    return True
        return False


def _latest_group(vals: list[_Val]) -> list[_Val]:
    """The values of the latest date (undated values count as the oldest)."""
    if not vals:
        return []
    last = max((v.day or dt.date.min) for v in vals)
    return [v for v in vals if (v.day or dt.date.min) == last]


def _distinct(group: list[_Val]) -> list[_Val]:
    """One of each value as written (the same value twice agrees with itself): a day with thousands of copies
    of one result is compared once, not pair by pair (a CDS request of 12,551 took 165 s)."""
    seen: dict[tuple[str, str | None], _Val] = {}
    for v in group:
        seen.setdefault((repr(v.value), v.unit), v)
    return list(seen.values())


def _pairs(group: list[_Val]) -> list[bool | None]:
    g = _distinct(group)
    return [a.agrees(b) for i, a in enumerate(g) for b in g[i + 1:]]


def _disagreeing(group: list[_Val]) -> bool:
    g = _distinct(group)
    return any(a.agrees(b) is False for i, a in enumerate(g) for b in g[i + 1:])  # stops at the first


@dataclass
class _Builder:
    patient: _Entry
    report: ImportReport
    as_of: dt.date
    synthea: bool
    index: dict[str, _Entry]
    sex: str | None = None
    age: int | None = None
    fields: dict[str, list[_Val]] = field(default_factory=dict)
    body: dict[str, list[_Val]] = field(default_factory=dict)
    dxa: dict[tuple[str, dt.date | None, str | None, int], dict[str, Any]] = field(default_factory=dict)
    labs: list[tuple[str, _Val]] = field(default_factory=list)
    retracted_labs: list[dict[str, Any]] = field(default_factory=list)  # entered-in-error: :meth:`retracted_lab`
    intolerances: list[dict[str, Any]] = field(default_factory=list)
    fractures: list[dict[str, Any]] = field(default_factory=list)
    falls: list[dict[str, Any]] = field(default_factory=list)
    courses: list[_Course] = field(default_factory=list)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    doses: list[tuple[str, dt.date, str]] = field(default_factory=list)
    menopause_from_code: tuple[str, FactStatus] | None = None
    vertebrae: list[dict[str, Any]] = field(default_factory=list)
    #: guideline_categories and falls_screen_answers: key (guideline or question id) -> values read
    keyed: dict[str, dict[str, list[_Val]]] = field(default_factory=lambda: {"guideline_categories": {},
                                                                             "falls_screen_answers": {}})
    brochure: list[_Val] = field(default_factory=list)
    birth_problem: str | None = None
    birth: dt.date | None = None
    _resources: dict[str, dict[str, Any]] | None = None  # reference key -> resource (``index`` without the entries)

    # -------------------------------------------------------------- helpers
    def add(self, entry: _Entry, outcome: str, reason: str, ce: CodeEntry | None = None,
            coding: dict[str, Any] | None = None, target: str | None = None,
            status: FactStatus | None = None) -> ReportEntry:
        return self.report.add(
            entry.label, outcome, reason,  # type: ignore[arg-type]
            code=_code_str(coding) if coding else (f"{ce.system_uri}|{ce.code}" if ce else None),
            display=(coding or {}).get("display"),
            target=target,
            status=status or (ce.status if ce else None),
            knowledge_id=ce.knowledge_id if ce else None,
        )

    def date_of(self, entry: _Entry, *candidates: tuple[str, Any]) -> tuple[dt.date | None, list[str]]:
        """First readable date among (label, value) candidates; problems to flag."""
        problems = []
        for label, v in candidates:
            if isinstance(v, dict):  # Period
                v = v.get("start") or v.get("end")
            if v is None:
                continue
            day, problem = parse_fhir_date(v)
            if day is not None:
                if label not in ("effective", "onset", "performed", "authoredOn", "effectiveDateTime"):
                    problems.append(f"date taken from {label}")
                if problem:
                    problems.append(problem)
                return day, problems
            if problem:
                problems.append(f"{label}: {problem}")
        problems.append("no date")
        return None, problems

    def future(self, day: dt.date | None) -> bool:
        return day is not None and day > self.as_of

    def before_birth(self, day: dt.date | None) -> str | None:
        """The reason a fact dated ``day`` cannot be the patient's (dated before the birth date), or None."""
        if day is not None and self.birth is not None and day < self.birth:
            return f"dated {day}, before the birth date {self.birth}: not usable (wrong patient or wrong date?)"
        return None

    def unusable_date(self, day: dt.date | None) -> str | None:
        if self.future(day):
            return f"dated {day} after the as-of date {self.as_of}"
        return self.before_birth(day)

    # -------------------------------------------------------------- Patient
    def read_patient(self) -> None:
        p = self.patient.res
        label = self.patient.label
        gender = p.get("gender")
        extensions = _list(p.get("extension"))
        if p.get("extension") is not None and not extensions:
            self.report.add(label, "skipped", "Patient.extension is not a list (got "
                            f"{type(p.get('extension')).__name__}); ignored")
        if gender in ("female", "male"):
            self.sex = gender
            self.report.add(label, "mapped", f"sex {gender} from Patient.gender", target="sex")
        else:
            birthsex = next(
                (x.get("valueCode") for x in extensions
                 if isinstance(x, dict) and str(x.get("url", "")).endswith("us-core-birthsex")), None)
            if birthsex in ("F", "M"):
                self.sex = "female" if birthsex == "F" else "male"
                self.report.add(label, "flagged", f"Patient.gender is {gender!r}; sex {self.sex} taken from the US Core "
                                "birth-sex extension", target="sex")
            else:
                self.report.add(label, "error", f"Patient.gender is {gender!r}: the calculators need female or male; "
                                "no record can be made")
        birth, problem = parse_fhir_date(p.get("birthDate"))
        self.birth = birth
        if birth is None:
            self.birth_problem = (f"Patient.birthDate: {problem}; the age is unknown and no record can be made (add "
                                  "the birth date)")
        else:
            if birth > self.as_of:
                self.report.add(label, "error", f"born {birth.isoformat()}, after the as-of date {self.as_of}")
            else:
                age = self.as_of.year - birth.year - ((self.as_of.month, self.as_of.day) < (birth.month, birth.day))
                self.age = age
                self.report.add(label, "flagged" if problem else "mapped",
                                f"age {age} on {self.as_of.isoformat()} from birth date {birth.isoformat()}"
                                + (f" ({problem})" if problem else ""), target="age")
        died = p.get("deceasedDateTime")
        if p.get("deceasedBoolean") is True or died:
            when = parse_fhir_date(died)[0] if died else None
            self.report.add(label, "flagged", "the patient is recorded as deceased"
                            + (f" on {when.isoformat()}" if when else ""), target=None)
        for x in extensions:
            if isinstance(x, dict) and str(x.get("url", "")).endswith(("us-core-race", "us-core-ethnicity")):
                self.report.add(label, "skipped", f"{x['url'].rsplit('/', 1)[-1]}: race and ethnicity codes are not in "
                                "the knowledge code maps; QFracture's ethnicity is left to the deployment default")
                break
        for why in patient_identity(p)[1]:
            self.report.add(label, "skipped" if "left out" in why or "no name read" in why else "flagged", why,
                            target="name")

    # -------------------------------------------------------------- Observation
    def read_observation(self, e: _Entry) -> None:
        r = e.res
        status = r.get("status")
        if status == "entered-in-error":
            self.retracted_lab(e)
            return
        if status == "cancelled":
            self.report.add(e.label, "skipped", f"status {status}")
            return
        ce, coding = _first_known(r.get("code"), ("local", "loinc"))
        day, problems = self.date_of(e, ("effective", r.get("effectiveDateTime") or r.get("effectivePeriod")
                                         or r.get("effectiveInstant")), ("issued", r.get("issued")))
        if (ce is not None and ce.system == "local" and ce.get("field") in SUMMARY_DXA_FIELDS
                and (r.get("effectiveDateTime") or r.get("effectivePeriod") or r.get("effectiveInstant"))):
            # OsteoCare writes its undated summary DXA fields with this code beside LOINC; one that carries a date
            # has been given one since: read it by its LOINC code as a dated measurement (the date is kept)
            loinc, loinc_coding = _first_known(r.get("code"), ("loinc",))
            if loinc is not None:
                ce, coding = loinc, loinc_coding
        if status in ("preliminary", "registered"):
            problems.append(f"status {status}")
        if ce is None:
            comps = [c for c in _list(r.get("component")) if isinstance(c, dict)]
            known = [(c, *_first_known(c.get("code"))) for c in comps]
            usable = [(c, k, kc) for c, k, kc in known if k is not None]
            if not usable:
                self.report.add(e.label, "skipped", "code not in the knowledge code maps: " + _describe_codes(r.get("code")))
                return
            for comp, cce, ccoding in usable:
                self.observation_value(e, cce, ccoding, comp, day, problems, r)
            return
        if ce.get("concept") in ("dxa_report", "dxa_panel"):
            # A DXA report or panel groups its results: as member Observations (hasMember, read on their own) or as
            # components of this one (read here, each with its own code; a value the panel holds is never dropped)
            read = self.dxa_components(e, r, day, problems)
            self.report.add(e.label, "mapped", f"{ce.get('concept')}: grouping" + (
                f"; {read} DXA value(s) read from its components" if read else
                "; its member Observations are read"), code=f"{ce.system_uri}|{ce.code}", status=ce.status)
            return
        self.observation_value(e, ce, coding, r, day, problems, r)
        self.dxa_components(e, r, day, problems)

    def retracted_lab(self, e: _Entry) -> None:
        """An Observation the EHR marked ``entered-in-error`` is not read. When it is a lab with a value, the lab is
        kept in :attr:`retracted_labs` (and the report's): an import update removes the same result (lab, value,
        unit, date) where an earlier import stored it (``services.patients.import_patients``). DXA values are not
        retracted this way."""
        r = e.res
        ce, _ = _first_known(r.get("code"), ("local", "loinc"))
        value, unit, _ = self.quantity(r)
        day, _ = self.date_of(e, ("effective", r.get("effectiveDateTime") or r.get("effectivePeriod")
                                  or r.get("effectiveInstant")), ("issued", r.get("issued")))
        if ce is not None and ce.get("concept") == "lab" and value is not None:
            name = str(ce.get("lab"))
            try:
                u = self.lab_unit(name, value, unit)
            except InputError:
                u = None  # a unit or value the import never stores: there is nothing stored to retract
            if u is not None:
                self.retracted_labs.append({"name": name, "value": value, "unit": u, "date": day})
                self.report.add(e.label, "skipped", f"status entered-in-error: labs[{name}] = {value:g} {u} on "
                                f"{day.isoformat() if day else 'no date'} retracted; an update removes the same "
                                "result where an earlier import stored it")
                return
        self.report.add(e.label, "skipped", "status entered-in-error")

    def dxa_components(self, e: _Entry, r: dict[str, Any], day: dt.date | None, problems: list[str]) -> int:
        """Read the components of ``r`` coded as a DXA score or BMD (LOINC); the number read. In a DXA report or
        panel (``r``'s own code says so) the components that are not read are reported as skipped, with their
        codes."""
        n = 0
        unread: list[str] = []
        for comp in _list(r.get("component")):
            if isinstance(comp, dict):
                sub, sub_coding = _first_known(comp.get("code"), ("loinc",))
                if sub is not None and sub.get("concept") in ("dxa_t_score", "dxa_z_score", "dxa_bmd"):
                    self.observation_value(e, sub, sub_coding, comp, day, list(problems), r)
                    n += 1
                elif not (sub is not None and sub.system == "local"):
                    unread.append(_describe_codes(comp.get("code")))
        top, _ = _first_known(r.get("code"), ("local", "loinc"))
        if unread and top is not None and top.get("concept") in ("dxa_report", "dxa_panel"):
            self.report.add(e.label, "skipped", f"{len(unread)} component(s) of the DXA {top.get('concept')[4:]} not "
                            "read: not a DXA score or BMD in the knowledge code maps (" + "; ".join(unread[:5]) + ")")
        return n

    def quantity(self, holder: dict[str, Any]) -> tuple[float | None, str | None, str | None]:
        """(value, unit, problem) from valueQuantity (or a numeric valueString/valueInteger)."""
        q = holder.get("valueQuantity")
        if isinstance(q, dict):
            if q.get("comparator"):
                return None, None, f"value has comparator {q['comparator']!r}: not a measured value"
            v = q.get("value")
            if not isinstance(v, int | float) or isinstance(v, bool):
                return None, None, "valueQuantity has no numeric value"
            unit = q.get("code") if q.get("system") == UCUM and q.get("code") else q.get("unit") or q.get("code")
            return float(v), unit, None
        if isinstance(holder.get("valueInteger"), int):
            return float(holder["valueInteger"]), None, None
        if isinstance(holder.get("valueDecimal"), int | float):
            return float(holder["valueDecimal"]), None, None
        s = holder.get("valueString")
        if isinstance(s, str):
            try:
                return float(s.strip()), None, "value written as text"
            except ValueError:
                return None, None, f"text value {s!r} is not a number"
        if holder.get("dataAbsentReason"):
            return None, None, "value absent (dataAbsentReason " + _cc_text(holder["dataAbsentReason"]) + ")"
        return None, None, "no value"

    def observation_value(self, e: _Entry, ce: CodeEntry, coding: dict[str, Any] | None, holder: dict[str, Any],
                          day: dt.date | None, problems: list[str], res: dict[str, Any]) -> None:
        if ce.system == "local":
            if ce.get("concept") in ("field", "local_lab", *_STRUCTURES) and self.unusable_date(day):
                self.add(e, "skipped", str(self.unusable_date(day)), ce)
            elif ce.get("concept") in _STRUCTURES:
                self.structure_value(e, ce, holder, day)
            elif ce.get("concept") in ("vertebra_component", "falls_screen_brochure_item", "reaction_text"):
                self.add(e, "skipped", f"local code {ce.code}: a part of a record structure, read only inside it", ce)
            elif ce.get("concept") == "field":
                self.local_value(e, ce, holder, day)
            elif ce.get("concept") == "local_lab":
                value, unit, why = self.quantity(holder)
                if value is None:
                    self.add(e, "skipped", why or "no value", ce)
                else:
                    # no unit written: none is guessed (the record's unit is empty, as it was exported)
                    entry = self.add(e, "mapped", f"labs[{ce.get('lab')}] = {value:g} {unit or '(no unit)'} "
                                     "(OsteoCare local code)", ce, target=f"labs[{ce.get('lab')}]")
                    self.labs.append((str(ce.get("lab")), _Val(value, unit or "", None, day, e.label, entry)))
            else:
                self.add(e, "skipped", f"local code {ce.code}: derived by OsteoCare, recomputed rather than imported", ce)
            return
        concept = str(ce.get("concept"))
        value, unit, vproblem = self.quantity(holder)
        if value is None:
            self.add(e, "skipped", vproblem or "no value", ce, coding)
            return
        if self.unusable_date(day):
            self.add(e, "skipped", str(self.unusable_date(day)), ce, coding)
            return
        flags = list(problems) + ([vproblem] if vproblem else [])
        if concept in ("body_weight", "body_height", "bmi"):
            self.body_value(e, ce, coding, concept, value, unit, day, flags)
        elif concept.startswith("dxa_"):
            self.dxa_value(e, ce, coding, concept, value, unit, day, flags, res)
        elif concept == "lab":
            self.lab_value(e, ce, coding, value, unit, day, flags)
        else:
            self.add(e, "skipped", f"concept {concept} is not read from an Observation", ce, coding)

    def convert(self, concept: str, value: float, unit: str | None) -> tuple[float | None, str]:
        conv = codes.table("loinc").rule("unit_conversions").get(concept)
        if conv is None:
            return None, f"no unit rule for {concept}"
        factors: dict[str, float] = conv["factors"]
        u = unit
        if u is not None and u not in factors:
            u = codes.canonical_spelling(u) or u
        mis: dict[str, str] = codes.table("loinc").rule("misspelled_units")
        if u in mis:
            return value * float(factors[mis[u]]), f"unit {unit!r} read as {mis[u]} (the HL7 DXA example's error)"
        if u is None or u == "":
            if concept in ("dxa_t_score", "dxa_z_score"):
                return value, "no unit (a score has no dimension)"
            return None, f"no unit; {conv['canonical']} expected"
        if u not in factors:
            return None, f"unit {unit!r} is not one OsteoCare converts ({', '.join(factors)})"
        f = float(factors[u])
        return value * f, ("" if f == 1 else f"converted from {unit} to {conv['canonical']}")

    def body_value(self, e: _Entry, ce: CodeEntry, coding: dict[str, Any] | None, concept: str, value: float,
                   unit: str | None, day: dt.date | None, flags: list[str]) -> None:
        v, how = self.convert(concept, value, unit)
        if v is None:
            self.add(e, "skipped", how, ce, coding)
            return
        name = {"body_weight": "weight_kg", "body_height": "height_cm", "bmi": "bmi"}[concept]
        try:
            check_range(name, v)
        except InputError as exc:
            self.add(e, "skipped", str(exc), ce, coding)
            return
        if how:
            flags.append(how)
        note = "; ".join(f for f in flags if f)
        entry = self.add(e, "flagged" if note else "mapped", f"{name} = {v:g}" + (f" ({note})" if note else ""), ce,
                         coding, target=name)
        self.body.setdefault(name, []).append(_Val(value, unit, v, day, e.label, entry))

    def _body_site_text(self, res: dict[str, Any]) -> str:
        return _cc_text(res.get("bodySite")) + " " + " ".join(
            str(n.get("text") or "") for n in _list(res.get("note")) if isinstance(n, dict))

    def dxa_value(self, e: _Entry, ce: CodeEntry, coding: dict[str, Any] | None, concept: str, value: float,
                  unit: str | None, day: dt.date | None, flags: list[str], res: dict[str, Any]) -> None:
        kind = {"dxa_t_score": "t_score", "dxa_z_score": "z_score", "dxa_bmd": "bmd_g_cm2"}[concept]
        v, how = self.convert(concept, value, unit)
        if v is None:
            self.add(e, "skipped", how, ce, coding)
            return
        if how:
            flags.append(how)
        loinc = codes.table("loinc")
        site = str(ce.get("site"))
        body = self._body_site_text(res).casefold()
        rule = loinc.rule("synthea_generic_t_score")
        display = str((coding or {}).get("display") or "")
        if ce.code == rule["code"] and (display in rule["displays"] or _is_synthea(res, self.synthea,
                                                                                 rule["synthea_markers"])):
            why = ("LOINC 38265-5 is the forearm T-score, but this Observation uses it as a generic 'DXA [T-score]' "
                   "(the Synthea quirk): read as a T-score with site unknown; it feeds no site-specific rule")
            self.report.site_unknown_scores.append(SiteUnknownScore(kind=kind, value=v, date=day, code=ce.code,
                                                                    region="unknown", reason=why))
            self.add(e, "flagged", why, ce, coding, target="report.site_unknown_scores",
                     status=loinc.rule_status("synthea_generic_t_score"))
            return
        target_site: str | None = None
        note = ""
        if site in ("total_hip", "lumbar_spine"):
            target_site = site
        elif site == "femur":
            for sub, words in loinc.rule("femur_sub_regions").items():
                if any(w.casefold() in body for w in words):
                    target_site = sub
                    note = f"Femur code with bodySite naming {sub.replace('_', ' ')}"
                    break
            if target_site is None:
                target_site = "femoral_neck"
                note = "Femur code read as the femoral neck (codes.md 2.1)" + (
                    "" if not body.strip() else f"; bodySite {body.strip()!r} did not name a sub-region")
        elif site == "forearm":
            for sub, words in loinc.rule("forearm_sub_regions").items():
                if any(w.casefold() in body for w in words):
                    target_site = sub
                    note = "forearm code with bodySite naming the 33% radius"
            if target_site is None:
                why = ("forearm score without the 33% radius named in bodySite: kept in the report, not used "
                       "(ISCD diagnoses on the 33% radius only)")
                self.report.site_unknown_scores.append(SiteUnknownScore(
                    kind=kind, value=v, date=day, code=ce.code, region="forearm (sub-region unknown)", reason=why))
                self.add(e, "flagged", why, ce, coding, target="report.site_unknown_scores")
                return
        elif site == "calcaneus":
            self.add(e, "skipped", f"calcaneus {kind} {v:g}: not a diagnostic site (ISCD: lumbar spine, total hip, "
                     "femoral neck, 33% radius); the record has no calcaneus site", ce, coding)
            return
        else:
            why = "DXA value for an unspecified bone: kept in the report, not used"
            self.report.site_unknown_scores.append(SiteUnknownScore(kind=kind, value=v, date=day, code=ce.code,
                                                                    region="unspecified bone", reason=why))
            self.add(e, "flagged", why, ce, coding, target="report.site_unknown_scores")
            return
        lat = ce.get("laterality")
        try:
            DxaMeasurement.model_validate({"site": target_site, kind: v})
        except Exception as exc:  # InputError raised inside pydantic validation
            self.add(e, "skipped", f"{kind} {v:g}: {exc}".splitlines()[0], ce, coding)
            return
        n = 0
        while kind in self.dxa.get((target_site, day, lat, n), {}) and self.dxa[(target_site, day, lat, n)][kind] != v:
            n += 1
        if n:
            flags.append(f"another {kind} for {target_site} on {day or 'the same unknown date'}: kept as a separate "
                         "measurement")
        slot = self.dxa.setdefault((target_site, day, lat, n), {"site": target_site, "date": day})
        slot[kind] = v
        for comp in _list(res.get("component")):
            if not isinstance(comp, dict):
                continue
            for c in _codings(comp.get("code")):
                le = local_entry(str(c.get("code") or "")) if c.get("system") == LOCAL_SYSTEM else None
                if le is not None and le.get("concept") == "dxa_component":
                    val = comp.get("valueString") if "valueString" in comp else comp.get("valueInteger")
                    if val is not None:
                        slot[str(le.get("field"))] = val
        if note:
            flags.append(note)
        if lat:
            flags.append(f"{lat} side; the record has no laterality")
        text = "; ".join(f for f in flags if f)
        hard = [f for f in flags if f and not f.startswith(("Femur code read", "Femur code with", "forearm code"))]
        self.add(e, "flagged" if hard else "mapped", f"dxa[{target_site}].{kind} = {v:g}" + (f" ({text})" if text else ""),
                 ce, coding, target=f"dxa[{target_site}].{kind}")

    @staticmethod
    def lab_unit(name: str, value: float, unit: str | None) -> str:
        """The lab's unit as the record keeps it; :class:`InputError` for a unit the knowledge does not list for
        the lab, or a creatinine out of its plausibility limits."""
        u: str | None
        if name == "creatinine":
            u = canonical_creatinine_unit(unit, "unit")
            check_range("creatinine", value, "creatinine_umol_l" if u == "umol/L" else "creatinine_mg_dl")
        elif name.startswith(("vitamin_d", "vitamin_d2")):
            u = canonical_vitamin_d_unit(unit, "unit")
        else:
            allowed: list[str] = codes.table("loinc").rule("lab_units").get(name, [])
            u = codes.canonical_spelling(unit) if unit is not None else None
            u = u if u in allowed else (unit if unit in allowed else None)
            if u is None:
                raise InputError("unit", unit, "a unit of " + " or ".join(allowed))
        return u

    def lab_value(self, e: _Entry, ce: CodeEntry, coding: dict[str, Any] | None, value: float, unit: str | None,
                  day: dt.date | None, flags: list[str]) -> None:
        name = str(ce.get("lab"))
        try:
            u = self.lab_unit(name, value, unit)
        except InputError as exc:
            self.add(e, "skipped", str(exc), ce, coding)
            return
        if ce.code == "1989-3":
            flags.append("25-OH vitamin D3 code read as the total 25-OH vitamin D (many laboratories report the total "
                         "under it)")
        text = "; ".join(f for f in flags if f)
        entry = self.add(e, "flagged" if text else "mapped", f"labs[{name}] = {value:g} {u}"
                         + (f" ({text})" if text else ""), ce, coding, target=f"labs[{name}]")
        base: float | None = None
        if name == "creatinine":
            base = value if u == MG_DL else value / creatinine_factor() if u == UMOL_L else None
        elif name.startswith("vitamin_d"):
            base = value if u == NG_ML else value / vitamin_d_factor() if u == NMOL_L else None
        self.labs.append((name, _Val(value, u, base, day, e.label, entry)))

    def local_value(self, e: _Entry, ce: CodeEntry, holder: dict[str, Any], day: dt.date | None) -> None:
        from .local import read_local_value

        name = str(ce.get("field"))
        ok, value, why = read_local_value(name, holder)
        if not ok:
            self.add(e, "skipped", why, ce)
            return
        entry = self.add(e, "mapped", f"{name} = {value!r} (OsteoCare local code)", ce, target=name)
        self.fields.setdefault(name, []).append(_Val(value, None, None, day, e.label, entry))

    def structure_value(self, e: _Entry, ce: CodeEntry, holder: dict[str, Any], day: dt.date | None) -> None:
        """A record structure under OsteoCare's local codes: vertebral body heights, a guideline tool's category,
        a STEADI key question's answer, the Stay Independent brochure (``structure_codes`` of the local code
        system)."""
        concept = ce.get("concept")
        if concept == "vertebra":
            item: dict[str, Any] = {"level": ""}  # no level written: the record's level was empty
            if day is not None:
                item["date"] = day
            for comp in _list(holder.get("component")):
                part = _component_meaning(comp, "vertebra_component", "part")
                if part == "level":
                    if isinstance(comp.get("valueString"), str):
                        item["level"] = comp["valueString"]
                elif part is not None:
                    q = _dict(comp.get("valueQuantity"))
                    unit = q.get("code") if q.get("system") == UCUM else q.get("unit")
                    v = q.get("value")
                    if unit != "mm" or not isinstance(v, int | float) or isinstance(v, bool) or q.get("comparator"):
                        self.add(e, "skipped", f"vertebrae: {part} {v!r} {unit or '(no unit)'}: a height in mm "
                                 "(UCUM mm) expected; no other unit is converted", ce)
                        return
                    item[part] = float(v)
            self.vertebrae.append(item)
            self.add(e, "mapped", f"vertebrae: {item['level'] or '(no level)'} (OsteoCare local code)", ce,
                     target="vertebrae")
            return
        if concept == "falls_screen_brochure":
            items = []
            for comp in _list(holder.get("component")):
                item_id = _component_meaning(comp, "falls_screen_brochure_item", "id")
                if item_id is not None and comp.get("valueBoolean") is True:
                    items.append(str(item_id))
            entry = self.add(e, "mapped", f"falls_screen_brochure_items = {items!r} (OsteoCare local code)", ce,
                             target="falls_screen_brochure_items")
            self.brochure.append(_Val(tuple(items), None, None, day, e.label, entry))
            return
        name = "guideline_categories" if concept == "guideline_category" else "falls_screen_answers"
        key = str(ce.get("id"))
        value: Any = None
        if concept == "guideline_category":
            value = next((str(c["code"]) for c in _codings(holder.get("valueCodeableConcept"))
                          if c.get("system") == LOCAL_SYSTEM and c.get("code")), None)
        elif isinstance(holder.get("valueBoolean"), bool):
            value = holder["valueBoolean"]
        if value is None:
            self.add(e, "skipped", f"{name}[{key}]: no readable value", ce)
            return
        entry = self.add(e, "mapped", f"{name}[{key}] = {value!r} (OsteoCare local code)", ce, target=f"{name}[{key}]")
        self.keyed[name].setdefault(key, []).append(_Val(value, None, None, day, e.label, entry))

    # -------------------------------------------------------------- Condition
    def read_condition(self, e: _Entry) -> None:
        r = e.res
        ver = " ".join(c.get("code", "") for c in _codings(r.get("verificationStatus")))
        if ver in ("refuted", "entered-in-error"):
            self.report.add(e.label, "skipped", f"verification status {ver}")
            return
        ce, coding = _first_known(r.get("code"), ("local", "snomed", "icd10cm", "icd10who"))
        if ce is None:
            cs = _codings(r.get("code"))
            nosys = [c for c in cs if not c.get("system") and re.match(r"^[A-Z]\d\d", str(c.get("code") or ""))]
            why = ("an ICD-10 code without a system: the WHO and US editions differ, so it is not guessed"
                   if nosys else "code not in the knowledge code maps: " + _describe_codes(r.get("code")))
            self.report.add(e.label, "skipped", why)
            return
        clinical = " ".join(c.get("code", "") for c in _codings(r.get("clinicalStatus")))
        day, problems = self.date_of(e, ("onset", r.get("onsetDateTime") or r.get("onsetPeriod")),
                                     ("recordedDate", r.get("recordedDate")))
        if ver in ("unconfirmed", "provisional", "differential"):
            problems.append(f"verification status {ver}")
        if self.future(day):
            self.add(e, "skipped", f"onset {day} after the as-of date {self.as_of}", ce, coding)
            return
        if self.before_birth(day):
            self.add(e, "skipped", f"onset {self.before_birth(day)}", ce, coding)
            return
        self.apply_concept(e, ce, coding, day, problems, active=clinical not in ("resolved", "inactive", "remission"),
                           abated=r.get("abatementDateTime"))

    def apply_concept(self, e: _Entry, ce: CodeEntry, coding: dict[str, Any] | None, day: dt.date | None,
                      problems: list[str], *, active: bool | None = None, abated: Any = None,
                      from_procedure: bool = False) -> None:
        concept = ce.get("concept")
        text = "; ".join(p for p in problems if p)
        if ce.system == "local" and concept == "fracture":
            self.add_fracture(e, ce, coding, str(ce.get("site")), day, problems, fragility=ce.get("fragility"),
                              on_treatment=bool(ce.get("on_treatment")))
            return
        if concept == "record_condition":
            resolved = parse_fhir_date(abated)[0] if abated else None
            self.conditions.append({"code": str(ce.get("condition")), "onset": day, "resolved": resolved})
            self.add(e, "mapped", f"conditions: {ce.get('condition')} (OsteoCare local code)", ce, coding,
                     target="conditions")
            return
        if concept in ("diagnosis", "finding", "diagnosis_with_fracture"):
            self.report.diagnoses.append(Diagnosis(diagnosis=str(ce.get("diagnosis")),
                                                   code=_code_str(coding) if coding else f"{ce.system_uri}|{ce.code}",
                                                   onset=day, active=active,
                                                   status=ce.status))
            self.add(e, "mapped", f"diagnosis {ce.get('diagnosis')} (listed in the report: the patient record has no "
                     "field for it)" + (f" ({text})" if text else ""), ce, coding, target="report.diagnoses")
            implied = ce.get("implies") or {}
            if implied.get("menopausal_status") and self.sex == "female":
                self.menopause_from_code = (f"{ce.system_uri}|{ce.code}", ce.status)
        if concept in ("fracture", "diagnosis_with_fracture"):
            self.add_fracture(e, ce, coding, str(ce.get("site")), day, problems, fragility=ce.get("fragility"),
                              from_procedure=from_procedure)
        elif concept == "fall":
            # one fall per resource: two falls on one day are two falls (and one may be injurious)
            self.falls.append({"date": day, "injurious": bool(ce.get("injurious"))})
            self.add(e, "flagged" if text else "mapped", f"falls_history: fall on {day or 'unknown date'}"
                     + (f" ({text})" if text else ""), ce, coding, target="falls_history")
        elif concept == "dxa_procedure":
            self.report.dxa_exams.append(day)
            self.add(e, "mapped", f"DXA scan on {day or 'unknown date'} (listed in the report)", ce, coding,
                     target="report.dxa_exams")
        elif concept not in ("diagnosis", "finding"):
            self.add(e, "skipped", f"concept {concept} is not read here", ce, coding)

    def add_fracture(self, e: _Entry, ce: CodeEntry, coding: dict[str, Any] | None, site: str, day: dt.date | None,
                     problems: list[str], *, fragility: Any, on_treatment: bool = False,
                     from_procedure: bool = False) -> None:
        """One fracture per resource: two Conditions of the same site and day are two fractures (two vertebrae
        broken in one fall), kept apart. A fracture named by a Procedure (its code or reason) is the fracture the
        procedure treats: it is left out at :meth:`procedure_fractures` when a Condition (or another procedure)
        already gives that site and day, or when the procedure's ``reasonReference`` names that Condition. An
        ICD-10-CM code whose 7th character marks a later encounter or a sequela is a follow-up, not a fracture."""
        follow_up = (codes.icd10cm_fracture_follow_up(str((coding or {}).get("code") or ""))
                     if ce.system == "icd10cm" else None)
        if follow_up is not None:
            self.add(e, "skipped", f"fractures: not a new fracture - ICD-10-CM 7th character {follow_up[0]} "
                     f"({follow_up[1]}) records a follow-up of a fracture, not the fracture itself", ce, coding)
            return
        flags = [p for p in problems if p]
        if fragility is None:
            rule = codes.table("snomed").rule("fracture_cause_unknown")
            fragility = bool(rule["fragility"])
            flags.append("the code does not state the cause: recorded as a fragility fracture; confirm")
        for f in self.fractures:
            if f["from"] == e.label:
                self.add(e, "mapped", f"fracture ({site}, {day or 'unknown date'}) already recorded from this "
                         "resource", ce, coding)
                return
        twin = next((f for f in self.fractures if not from_procedure and not f["procedure"] and day is not None
                     and (f["site"], f["date"]) == (site, day)), None)
        if twin is not None:
            flags.append(f"another fracture at this site on this day from {twin['from']}: kept as a separate "
                         "fracture; if both record one fracture, correct the EHR")
        text = "; ".join(flags)
        entry = self.add(e, "flagged" if text else "mapped", f"fractures: {site} on {day or 'unknown date'}"
                         + (f" ({text})" if text else ""), ce, coding, target="fractures")
        self.fractures.append({"site": site, "date": day, "fragility": bool(fragility), "on_treatment": on_treatment,
                               "from": e.label, "keys": e.keys(), "procedure": from_procedure,
                               "reasons": {k for ref in _list(e.res.get("reasonReference")) if (k := _ref_key(ref))},
                               "entry": entry})

    def procedure_fractures(self) -> list[dict[str, Any]]:
        """The fractures without the ones a Procedure names that are already recorded (see :meth:`add_fracture`)."""
        kept: list[dict[str, Any]] = []
        for f in sorted(self.fractures, key=lambda f: f["procedure"]):  # Conditions first
            same = None
            if f["procedure"]:
                same = next((k for k in kept if f["reasons"] & k["keys"]), None) or next(
                    (k for k in kept if f["date"] is not None and (k["site"], k["date"]) == (f["site"], f["date"])),
                    None)
            if same is None:
                kept.append(f)
                continue
            entry: ReportEntry = f["entry"]
            entry.outcome = "mapped"
            entry.target = None
            entry.reason = (f"fracture ({f['site']}, {f['date']}): the fracture the procedure treats, already recorded "
                            f"from {same['from']}")
        return [f for f in self.fractures if any(f is k for k in kept)]  # in the bundle's order

    # -------------------------------------------------------------- Procedure
    def read_procedure(self, e: _Entry) -> None:
        r = e.res
        if r.get("status") in ("not-done", "entered-in-error", "preparation"):
            self.report.add(e.label, "skipped", f"status {r.get('status')}")
            return
        day, problems = self.date_of(e, ("performed", r.get("performedDateTime") or r.get("performedPeriod")))
        if self.future(day):
            self.report.add(e.label, "skipped", f"performed {day} after the as-of date {self.as_of}")
            return
        if self.before_birth(day):
            self.report.add(e.label, "skipped", f"performed {self.before_birth(day)}")
            return
        ce, coding = _first_known(r.get("code"), ("local", "snomed"))
        used = False
        if ce is not None and ce.get("concept") in ("dxa_procedure", "fracture"):
            self.apply_concept(e, ce, coding, day, problems, from_procedure=True)
            used = True
        for reason in _list(r.get("reasonCode")):
            rce, rcoding = _first_known(reason, ("snomed", "icd10cm", "icd10who"))
            if rce is not None and rce.get("concept") in ("fracture", "diagnosis_with_fracture"):
                self.add_fracture(e, rce, rcoding, str(rce.get("site")), day,
                                  [*problems, "fracture from the procedure's reason"],
                                  fragility=rce.get("fragility"), from_procedure=True)
                used = True
        if not used:
            why = ("code not in the knowledge code maps: " + _describe_codes(r.get("code"))) if ce is None else (
                f"concept {ce.get('concept')} is not read from a Procedure")
            self.report.add(e.label, "skipped", why)

    # -------------------------------------------------------------- medications
    def medication_concept(self, r: dict[str, Any]) -> tuple[Any, str]:
        if self._resources is None:  # built once: a bundle may hold thousands of medication resources
            self._resources = {k: en.res for k, en in self.index.items()}
        return medication_concept(r, self._resources)

    def identify_drug(self, cc: Any) -> tuple[str | None, CodeEntry | None, dict[str, Any] | None, list[str], str]:
        return identify_drug(cc)

    def read_medication(self, e: _Entry) -> None:
        r = e.res
        t = e.type
        status = r.get("status")
        cc, how = self.medication_concept(r)
        drug, ce, coding, flags, why = self.identify_drug(cc)
        if drug is None:
            self.add(e, "skipped", why, ce, coding)
            return
        if how and how != "referenced Medication" and how != "contained Medication":
            flags.append(how)
        name_status: FactStatus | None = "convention" if ce is None else None
        if t == "MedicationRequest":
            if status in ("entered-in-error", "cancelled", "draft"):
                self.add(e, "skipped", f"{drug}: status {status} (never given)", ce, coding)
                return
            if r.get("intent") in ("proposal", "plan"):
                self.add(e, "skipped", f"{drug}: intent {r.get('intent')} - a proposal is not a medication taken", ce,
                         coding)
                return
            dosage = _dict((_list(r.get("dosageInstruction")) or [{}])[0])
            bounds = _dict(_dict(_dict(dosage.get("timing")).get("repeat")).get("boundsPeriod"))
            validity = _dict(_dict(r.get("dispenseRequest")).get("validityPeriod"))
            start, p = self.date_of(e, ("authoredOn", r.get("authoredOn")), ("boundsPeriod.start", bounds.get("start")),
                                    ("validityPeriod.start", validity.get("start")))
            end = parse_fhir_date(bounds.get("end") or validity.get("end"))[0]
            finished = status in ("stopped", "completed")
        elif t == "MedicationStatement":
            if status in ("entered-in-error", "not-taken", "intended"):
                self.add(e, "skipped", f"{drug}: status {status}", ce, coding)
                return
            period = _dict(r.get("effectivePeriod"))
            start, p = self.date_of(e, ("effective", r.get("effectiveDateTime") or period.get("start")),
                                    ("dateAsserted", r.get("dateAsserted")))
            end = parse_fhir_date(period.get("end"))[0]
            finished = status in ("stopped", "completed")
        else:  # MedicationAdministration
            if status not in ("completed", "in-progress", None):
                self.add(e, "skipped", f"{drug}: status {status} (no dose given)", ce, coding)
                return
            day, p = self.date_of(e, ("effective", r.get("effectiveDateTime") or r.get("effectivePeriod")))
            if day is None:
                self.add(e, "skipped", f"{drug} dose without a date: cannot count it", ce, coding)
                return
            if self.future(day):
                self.add(e, "skipped", f"dose on {day} after the as-of date {self.as_of}", ce, coding)
                return
            if self.before_birth(day):
                self.add(e, "skipped", f"{drug} dose {self.before_birth(day)}", ce, coding)
                return
            self.doses.append((drug, day, e.label))
            text = "; ".join(flags + [x for x in p if x])
            self.add(e, "flagged" if text else "mapped",
                     f"medications[{drug}]: dose on {day}" + (f" ({text})" if text else ""), ce, coding,
                     target=f"medications[{drug}].last_dose", status=name_status)
            return
        flags += [x for x in p if x]
        if self.future(start):
            self.add(e, "skipped", f"{drug}: starts {start} after the as-of date {self.as_of}", ce, coding)
            return
        if self.before_birth(start):
            self.add(e, "skipped", f"{drug}: start {self.before_birth(start)}", ce, coding)
            return
        if finished and end is None:
            end = start
            flags.append(f"status {status} without an end date: recorded as ended on its start date")
        planned = end is not None and end > self.as_of
        if planned and finished:
            flags.append(f"status {status} but the end date {end} is after the as-of date {self.as_of}: the course was "
                         "running on the as-of date; the end date is kept")
        # An end date after the as-of date is kept: a planned end is a fact of the course, and the core reads a
        # course as running until its end (core.drugs.sequencing), as ``known_on`` keeps it.
        text = "; ".join(flags)
        entry = self.add(e, "flagged" if text else "mapped",
                         f"medications[{drug}] from {start or 'unknown'} to {end or 'now'}"
                         + (" (planned end)" if planned else "") + (f" ({text})" if text else ""),
                         ce, coding, target=f"medications[{drug}]", status=name_status)
        based_on = {k for ref in _list(r.get("basedOn")) + _list(r.get("partOf")) if (k := _ref_key(ref))}
        self.courses.append(_Course(drug, start, end, label=e.label, keys=e.keys(), based_on=based_on, entry=entry))

    # -------------------------------------------------------------- AllergyIntolerance
    def read_allergy(self, e: _Entry) -> None:
        """An active drug allergy or intolerance -> ``intolerances`` (drug, reaction text, date, severity).

        The reaction text starts with what the resource is: ``allergy`` (``type`` allergy, or no ``type`` - FHIR makes
        it optional, and an allergy must not be missed), ``intolerance`` (``type`` intolerance), or an intolerance of
        ``criticality`` high, read as hypersensitivity; then the manifestations. The contraindication rules read a
        hypersensitivity from these words (knowledge ``conditions#hypersensitivity_reaction_terms``).

        The substance is identified like a medication (knowledge code maps: local, RxNorm, ATC, then the
        ingredient name, flagged); a substance not in the maps is skipped as not mapped, with its codes.
        """
        r = e.res
        ver = " ".join(str(c.get("code", "")) for c in _codings(r.get("verificationStatus")))
        if ver in ("refuted", "entered-in-error"):
            self.report.add(e.label, "skipped", f"verification status {ver}")
            return
        clinical = " ".join(str(c.get("code", "")) for c in _codings(r.get("clinicalStatus")))
        if clinical in ("inactive", "resolved"):
            self.report.add(e.label, "skipped", f"clinical status {clinical}: not a current allergy or intolerance")
            return
        categories = [str(c) for c in _list(r.get("category"))]
        if categories and "medication" not in categories:
            self.report.add(e.label, "skipped", f"category {', '.join(categories)}: not a medication")
            return
        reactions = [x for x in _list(r.get("reaction")) if isinstance(x, dict)]
        cc = r.get("code")
        if not _codings(cc) and not _cc_text(cc):
            cc = next((x.get("substance") for x in reactions if _codings(x.get("substance"))), cc)
        drug, ce, coding, flags, why = identify_drug(cc)
        if drug is None:
            self.add(e, "skipped", f"substance not mapped to a drug of the record ({why})" if why.startswith(
                "not an osteoporosis") else f"substance not mapped: {why} ({_describe_codes(cc)})", ce, coding)
            return
        day, problems = self.date_of(e, ("onset", r.get("onsetDateTime") or r.get("onsetPeriod")),
                                     ("recordedDate", r.get("recordedDate")),
                                     ("reaction.onset", next((x.get("onset") for x in reactions if x.get("onset")), None)))
        if self.unusable_date(day):
            self.add(e, "skipped", f"{drug}: {self.unusable_date(day)}", ce, coding)
            return
        flags += [p for p in problems if p and p != "no date"]
        if not clinical:
            flags.append("no clinicalStatus: read as active; confirm")
        if ver in ("unconfirmed", "presumed", "provisional"):
            flags.append(f"verification status {ver}")
        kind = r.get("type") if r.get("type") in ("allergy", "intolerance") else None
        high = r.get("criticality") == "high"
        seen: list[str] = []
        for x in reactions:
            for m in _list(x.get("manifestation")):
                seen.append(_cc_text(m))
            if isinstance(x.get("description"), str):
                seen.append(x["description"])
        manifestations = [t for t in dict.fromkeys(clean_text(t)[0] for t in seen) if t]
        # Read as a hypersensitivity (the word the contraindication rules look for is in the text) unless FHIR says
        # it is an intolerance: ``type`` is optional, and an allergy recorded without one must not be read as a mere
        # intolerance; a high criticality counts as hypersensitivity whatever the type.
        if kind == "allergy":
            head = "allergy"
        elif kind == "intolerance":
            head = "intolerance, criticality high (read as hypersensitivity)" if high else "intolerance"
        else:
            head = "allergy (type not recorded)"
        reaction = head + (": " + ", ".join(manifestations) if manifestations else "")
        recorded = _recorded_reaction(reactions)
        if recorded is not None:  # OsteoCare's own export: the record's text exactly
            reaction = recorded
        elif kind is None:
            flags.append("no type: read as an allergy (hypersensitivity), as FHIR does not say it is an intolerance")
        order = ("mild", "moderate", "severe")  # FHIR AllergyIntolerance.reaction.severity, least to most severe
        severities = [x.get("severity") for x in reactions if x.get("severity") is not None]
        known = [sv for sv in severities if sv in order]
        if len(known) != len(severities):
            flags.append(f"reaction severity {[sv for sv in severities if sv not in order]!r} not read (allowed: "
                         + ", ".join(order) + ")")
        severity = max(known, key=order.index) if known else None
        if high:
            flags.append("criticality high: read as hypersensitivity (the record has no criticality field)")
        item = {"drug": drug, "reaction": reaction, "date": day, "severity": severity}
        if item in self.intolerances:
            self.add(e, "mapped", f"intolerances[{drug}] already recorded", ce, coding)
            return
        self.intolerances.append(item)
        text = "; ".join(flags)
        self.add(e, "flagged" if text else "mapped", f"intolerances[{drug}]: {reaction}"
                 + (f", severity {severity}" if severity else "") + (f" ({text})" if text else ""), ce, coding,
                 target=f"intolerances[{drug}]", status="convention" if ce is None else None)

    # -------------------------------------------------------------- conflicts
    def _flag_conflict(self, fact: str, group: list[_Val], consequence: str) -> None:
        day = group[0].day
        values = " and ".join(v.shown() for v in group)
        why = (f"{fact}: {values} on {day or 'an unknown date'} disagree; {consequence} (no value is chosen "
               "silently: check which is right)")
        for v in group:
            if v.entry is not None:
                v.entry.outcome = "flagged"
                v.entry.reason = why
                v.entry.target = None

    def latest(self, name: str) -> tuple[dt.date | None, float, str] | None:
        """The latest body value ``name``; None (flagged) when values of that latest date disagree."""
        vals = self.body.get(name) or []
        group = _latest_group(vals)
        if not group:
            return None
        if _disagreeing(group):
            self._flag_conflict(name, group, f"{name} left out of the record")
            return None
        v = group[-1]
        return v.day, float(v.base if v.base is not None else v.value), v.label

    def resolved_labs(self) -> list[dict[str, Any]]:
        """The labs, without values that disagree on the same date. When the latest date of a lab disagrees the
        whole lab is left out, so that an older result is not read as the current one."""
        by_name: dict[str, list[_Val]] = {}
        for name, v in self.labs:
            by_name.setdefault(name, []).append(v)
        drop: set[int] = set()
        for name, vals in by_name.items():
            days: dict[dt.date | None, list[_Val]] = {}
            for v in vals:
                days.setdefault(v.day, []).append(v)
            latest_day = _latest_group(vals)[0].day
            for day, group in days.items():
                if len(group) < 2:
                    continue
                if not _disagreeing(group):
                    if None in _pairs(group):
                        why = (f"labs[{name}]: {' and '.join(v.shown() for v in group)} on {day or 'an unknown date'} "
                               "are in units OsteoCare has no conversion factor for, so they were not compared; "
                               "both kept: check they agree")
                        for v in group:
                            if v.entry is not None:
                                v.entry.outcome = "flagged"
                                v.entry.reason += f" ({why})"
                    continue
                if day == latest_day:
                    older = [v for v in vals if v.day != day]
                    self._flag_conflict(f"labs[{name}]", group, f"{name} left out of the record" + (
                        f" (the {len(older)} older result(s) too, so that none is read as the current one)"
                        if older else ""))
                    drop.update(id(v) for v in vals)
                    for v in older:
                        if v.entry is not None:
                            v.entry.outcome = "skipped"
                            v.entry.reason = (f"labs[{name}] = {v.shown()}: left out because the latest {name} "
                                              "results disagree")
                            v.entry.target = None
                else:
                    self._flag_conflict(f"labs[{name}]", group, "both left out of the record")
                    drop.update(id(v) for v in group)
        return [{"name": name, "value": v.value, "unit": v.unit, "date": v.day} for name, v in self.labs
                if id(v) not in drop]

    def resolved_fields(self, fields: dict[str, list[_Val]] | None = None, within: str = "") -> dict[str, Any]:
        """The local-coded record fields (or the keys of ``within``, e.g. guideline_categories): the value of the
        latest date; left out (flagged) when it disagrees."""
        out: dict[str, Any] = {}
        for key, vals in (self.fields if fields is None else fields).items():
            name = f"{within}[{key}]" if within else key
            group = _latest_group(vals)
            if not group:
                continue
            if _disagreeing(group):
                self._flag_conflict(name, group, f"{name} left out of the record")
                continue
            out[key] = group[-1].value
            for v in vals:
                if v.day != group[-1].day and v.entry is not None and not group[-1].agrees(v):
                    v.entry.outcome = "skipped"
                    v.entry.reason = f"{name} = {v.value!r}: superseded by {group[-1].shown()} of {group[-1].day}"
                    v.entry.target = None
        return out

    # -------------------------------------------------------------- assemble
    def merged_courses(self) -> list[_Course]:
        """The courses, one per therapy: a MedicationStatement based on a MedicationRequest (``basedOn``) and courses
        of one drug that share a day (a request and the statement of it, repeat prescriptions) are one course, from
        the earliest start to the latest end (running if either runs). Recorded twice, a therapy would otherwise
        count its days twice (e.g. a false 'at most 24 months in a lifetime')."""
        out: list[_Course] = []
        first: dict[int, int] = {}  # id of a merged course -> position of its first record (the order is kept)
        order = {id(c): i for i, c in enumerate(self.courses)}
        by_key: dict[tuple[str, str], _Course] = {}  # (drug, reference key) -> the merged course holding it
        by_basis: dict[tuple[str, str], _Course] = {}  # (drug, key a course is based on) -> that merged course
        latest: dict[str, _Course] = {}  # drug -> the merged course reaching furthest (sorted by start: only it can
        #                                   overlap the next one, unless a basedOn link joins them)
        for c in sorted(self.courses, key=lambda c: (c.start or dt.date.min, order[id(c)])):
            linked = next((by_key[(c.drug, k)] for k in c.keys | c.based_on if (c.drug, k) in by_key), None) or next(
                (by_basis[(c.drug, k)] for k in c.keys if (c.drug, k) in by_basis), None)
            last = latest.get(c.drug)
            home = linked or (last if last is not None and last.overlaps(c, self.as_of) else None)
            new = home is None
            if home is None:
                home = _Course(c.drug, c.start, c.end, c.last_dose, c.label, set(c.keys), set(c.based_on), c.entry)
                out.append(home)
                first[id(home)] = order[id(c)]
            else:
                first[id(home)] = min(first[id(home)], order[id(c)])
            by_key.update({(c.drug, k): home for k in c.keys})
            by_basis.update({(c.drug, k): home for k in c.based_on})
            if not new:
                how = "based on it" if linked is not None else "overlapping"
                home_first = home.label.split(" + ")[0]
                if c.entry is not None:
                    c.entry.reason += f" (the same course as {home_first}, {how}: merged into one course)"
                if home.entry is not None and " + " not in home.label:
                    home.entry.reason += " (merged with the other records of the same course)"
                home.absorb(c)
            if home.start is not None and (last is None or (home.end or self.as_of) >= (last.end or self.as_of)):
                latest[c.drug] = home
        return sorted(out, key=lambda h: first[id(h)])

    def medications(self) -> list[dict[str, Any]]:
        courses = self.merged_courses()
        for drug, day, _label in sorted(self.doses, key=lambda d: d[1]):
            home = next((c for c in courses if c.drug == drug and (c.start is None or c.start <= day)
                         and (c.end is None or day <= c.end)), None)
            if home is None:
                home = next((c for c in courses if c.drug == drug and c.label == "administrations"), None)
            if home is None:
                home = _Course(drug, day, None, label="administrations")
                courses.append(home)
            home.last_dose = day if home.last_dose is None or day > home.last_dose else home.last_dose
            if home.start is None or day < home.start:
                home.start = day if home.label == "administrations" else home.start
        return [{"drug": c.drug, "start": c.start, "end": c.end, "last_dose": c.last_dose} for c in courses]

    def build(self) -> PatientRecord | None:
        rep = self.report
        fields = self.resolved_fields()
        local_age = fields.pop("age", None)
        if self.age is None and local_age is not None:
            self.age = int(local_age)
            rep.add(self.patient.label, "flagged", f"no birth date: age {self.age} taken from OsteoCare's local age "
                    "Observation (age on the exporting assessment's date)", target="age")
        elif local_age is not None:
            rep.notes.append("OsteoCare local age Observation ignored: the birth date gives the age")
        if self.age is None and self.birth_problem:
            rep.add(self.patient.label, "error", self.birth_problem)
        local_sex = fields.pop("sex", None)
        if local_sex is not None and self.sex is not None and local_sex != self.sex:
            rep.add(self.patient.label, "error", f"sex conflict: Patient.gender gives {self.sex} but the OsteoCare "
                    f"local sex Observation says {local_sex!r}; no record can be made (correct one of them)",
                    target="sex")
            return None
        if local_sex is not None and self.sex is not None:
            rep.notes.append(f"OsteoCare local sex Observation agrees with Patient.gender ({self.sex})")
        if self.sex is None or self.age is None:
            return None
        rid = next((str(i["value"]) for i in _list(self.patient.res.get("identifier"))
                    if isinstance(i, dict) and i.get("system") == record_id_system() and i.get("value")), None)
        data: dict[str, Any] = {"id": rid or str(self.patient.res.get("id") or self.patient.label.split("/")[-1]),
                                "sex": self.sex, "age": self.age}
        w, h, b = self.latest("weight_kg"), self.latest("height_cm"), self.latest("bmi")
        if w and h:
            data["weight_kg"], data["height_cm"] = w[1], h[1]
            wh_day = max(w[0] or dt.date.min, h[0] or dt.date.min)
            if b and (b[0] or dt.date.min) >= wh_day:
                data["bmi"] = b[1]
                rep.notes.append(f"BMI {b[1]:g} from the BMI Observation of {b[0]} (weight {w[1]:g} kg of {w[0]}, "
                                 f"height {h[1]:g} cm of {h[0]})")
            else:
                rep.notes.append(f"BMI computed from weight {w[1]:g} kg ({w[0]}) and height {h[1]:g} cm ({h[0]})")
        elif b:
            data["bmi"] = b[1]
            if w:
                rep.notes.append("weight without a height: only the BMI Observation is used")
            if h:
                rep.notes.append("height without a weight: only the BMI Observation is used")
        elif w or h:
            rep.notes.append("weight or height alone, without a BMI Observation: no BMI")
        data["dxa"] = [{k: v for k, v in slot.items()} for slot in self.dxa.values()]
        data["labs"] = self.resolved_labs()
        data["intolerances"] = self.intolerances
        fractures = self.procedure_fractures()
        data["fractures"] = [{k: f[k] for k in ("site", "date", "fragility", "on_treatment")} for f in fractures]
        data["falls_history"] = self.falls
        data["conditions"] = self.conditions
        data["vertebrae"] = self.vertebrae
        for name, keyed in self.keyed.items():
            data[name] = self.resolved_fields(keyed, name)
        brochure = self.resolved_fields({"falls_screen_brochure_items": self.brochure})
        if "falls_screen_brochure_items" in brochure:
            data["falls_screen_brochure_items"] = list(brochure["falls_screen_brochure_items"])
        data["medications"] = self.medications()
        if fractures and "prior_fracture" not in fields:
            data["prior_fracture"] = True
            rep.notes.append("prior_fracture set from the imported fractures (QFracture counts a previous fracture at an "
                             "osteoporotic site): confirm")
        if self.falls:
            data["falls"] = True
        if self.menopause_from_code and "menopausal_status" not in fields:
            data["menopausal_status"] = "postmenopausal"
            rep.add(self.patient.label, "flagged", f"menopausal_status postmenopausal implied by WHO ICD-10 "
                    f"{self.menopause_from_code[0]}", code=self.menopause_from_code[0],
                    status=self.menopause_from_code[1], target="menopausal_status")
        data.update(fields)
        record = self._validate(data)
        record = self._check_bmi(record, data)
        if record is not None:
            from ..core.records import FLAGS

            left = [f for f in ("smoking", "alcohol", "ethnicity", "menopausal_status") if f not in data]
            left += [f for f in FLAGS if f not in data]
            rep.defaults = left
            if any(f in left for f in FLAGS):
                rep.notes.append("risk-factor flags not coded in the knowledge code maps (e.g. cardiovascular disease, "
                                 "corticosteroids) are left false: QFracture may underestimate the risk; review them")
        return record

    def _check_bmi(self, record: PatientRecord | None, data: dict[str, Any]) -> PatientRecord | None:
        """``record``, or without weight and height when the BMI they give is outside the allowed range (each can be
        within its own range while the BMI is not, e.g. 260 kg and 150 cm): the core would refuse the whole record
        at the first calculator. The report names the BMI, both values and the range."""
        if record is None or record.bmi is not None:
            return record
        try:
            _ = record.bmi_kg_m2  # the core's BMI and its range check (knowledge input-limits)
        except InputError as exc:
            w, h = data.pop("weight_kg", None), data.pop("height_cm", None)
            why = (f"weight {w:g} kg and height {h:g} cm dropped: the BMI they give is out of range ({exc}); check "
                   "both values in the EHR")
            self.report.add(self.patient.label, "skipped", why, target=None)
            for name in ("weight_kg", "height_cm"):
                for v in _latest_group(self.body.get(name) or []):
                    if v.entry is not None and v.entry.target == name:
                        v.entry.outcome, v.entry.target = "skipped", None
                        v.entry.reason += f" (dropped: {exc})"
            return self._validate(data)
        return record

    def _validate(self, data: dict[str, Any]) -> PatientRecord | None:
        for _ in range(20):
            try:
                return parse_record(data)
            except RecordErrors as exc:
                errors = exc.errors
            except InputError as exc:
                errors = [exc]
            progressed = False
            for err in errors:
                parts = err.field.split(".")
                top = parts[0]
                if top in ("id", "sex", "age"):
                    self.report.add(self.patient.label, "error", f"{err}; no record can be made")
                    return None
                if top in data and isinstance(data[top], list) and len(parts) > 1 and parts[1].isdigit():
                    idx = int(parts[1])
                    if idx < len(data[top]):
                        self.report.add(self.patient.label, "skipped", f"{top}[{idx}] dropped: {err}")
                        data[top].pop(idx)
                        progressed = True
                        break
                if top in data:
                    self.report.add(self.patient.label, "skipped", f"{top} dropped: {err}")
                    data.pop(top)
                    progressed = True
                elif top in ("weight_kg", "height_cm") or "height" in err.field or "weight" in err.field:
                    for k in ("weight_kg", "height_cm"):
                        data.pop(k, None)
                    self.report.add(self.patient.label, "skipped", f"weight and height dropped: {err}")
                    progressed = True
            if not progressed:
                self.report.add(self.patient.label, "error", f"record not valid: {errors[0]}")
                return None
        return None


# ============================================================================ public API
def import_bundle(bundle: Any, *, as_of: dt.date | None = None, source: str = "bundle",
                  validate: bool = True, single_patient: bool = False) -> list[ImportResult]:
    """Import one FHIR R4 Bundle (a dict, JSON text or an R4B model) into one result per Patient.

    ``single_patient``: the resources were fetched for one patient (e.g. CDS Hooks prefetch), so a resource whose
    subject reference does not resolve in the bundle belongs to the bundle's only Patient (flagged).

    Each result has the :class:`PatientRecord` (None when the patient lacks sex or birth date) and its
    :class:`ImportReport`. Never raises for bad content: problems are in the reports. A bundle without any
    Patient gives one result with no record and a report saying why.
    """
    day = as_of or dt.date.today()
    try:
        return _import_bundle(bundle, day=day, source=source, validate=validate, single_patient=single_patient)
    except (RecursionError, MemoryError):
        rep = ImportReport(source=source, as_of=day)
        rep.add("Bundle", "error", "nested too deeply to read (hostile or broken JSON)")
        return [ImportResult(None, rep)]
    except Exception as exc:  # never a traceback for bad content: the report names what failed
        rep = ImportReport(source=source, as_of=day)
        rep.add("Bundle", "error", f"could not be read: {type(exc).__name__}: {exc}")
        return [ImportResult(None, rep)]


def _import_bundle(bundle: Any, *, day: dt.date, source: str, validate: bool,
                   single_patient: bool) -> list[ImportResult]:
    if hasattr(bundle, "model_dump"):
        bundle = bundle.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(bundle, str | bytes):
        try:
            bundle = json.loads(bundle)
        except ValueError as exc:
            rep = ImportReport(source=source, as_of=day)
            rep.add("Bundle", "error", f"not valid JSON: {exc}")
            return [ImportResult(None, rep)]
        except RecursionError:
            rep = ImportReport(source=source, as_of=day)
            rep.add("Bundle", "error", "not readable JSON: nested too deeply for the JSON reader")
            return [ImportResult(None, rep)]
    if not isinstance(bundle, dict):
        rep = ImportReport(source=source, as_of=day)
        rep.add("Bundle", "error", f"not a FHIR resource (a JSON object was expected, got {type(bundle).__name__})")
        return [ImportResult(None, rep)]
    notes: list[str] = []
    entries: list[_Entry] = []
    rtype = bundle.get("resourceType")
    btype = bundle.get("type") if rtype == "Bundle" else None
    if rtype == "Bundle":
        _walk(bundle, entries, notes)
    elif isinstance(rtype, str):
        entries = [_Entry(None, bundle)]
        notes.append(f"a single {rtype} resource, not a Bundle")
    else:
        rep = ImportReport(source=source, as_of=day)
        rep.add("Bundle", "error", "no resourceType: not a FHIR resource")
        return [ImportResult(None, rep)]
    if btype and btype not in ("transaction", "collection", "searchset", "batch", "document", "message", "history",
                               "transaction-response", "batch-response"):
        notes.append(f"unknown bundle type {btype!r}; read as a collection")
    index: dict[str, _Entry] = {}
    for en in entries:
        for k in en.keys():
            index.setdefault(k, en)
    patients = [en for en in entries if en.type == "Patient"]
    read = Counter(en.type for en in entries)
    synthea = any(en.type == "Patient" and "synthea" in json.dumps(
        {k: en.res.get(k) for k in ("identifier", "text", "meta")}).casefold() for en in entries)

    def new_report(pid: str | None) -> ImportReport:
        rep = ImportReport(source=source, bundle_type=btype, patient=pid, as_of=day, read=dict(read))
        rep.notes.extend(notes)
        return rep

    if not patients:
        rep = new_report(None)
        rep.add("Bundle", "error", "no Patient resource in the bundle: no record can be made"
                + (f" ({'; '.join(notes[:3])})" if notes else ""))
        return [ImportResult(None, rep)]
    owner: dict[str, _Entry] = {}
    for p in patients:
        for k in p.keys():
            owner[k] = p
    builders = {id(p): _Builder(p, new_report(str(p.res.get("id") or p.label)), day, synthea, index) for p in patients}
    for b0 in builders.values():
        try:
            b0.read_patient()
        except Exception as exc:  # a malformed Patient is reported, never a traceback
            b0.report.add(b0.patient.label, "error", f"Patient could not be read: {type(exc).__name__}: {exc}")
            b0.sex = None
    unused: Counter[str] = Counter()
    for en in entries:
        if en.type not in FACT_TYPES + PATIENT_FACT_TYPES:
            if en.type not in USED_TYPES:
                unused[en.type] += 1
            continue
        subj = _subject(en.res)
        owner_entry = owner.get(subj) if subj else None
        b = builders[id(owner_entry)] if owner_entry is not None else None
        if b is None:
            if len(patients) == 1 and (subj is None or single_patient):
                b = builders[id(patients[0])]
                b.report.add(en.label, "flagged", f"{'no subject' if subj is None else f'subject {subj} not in the bundle'}"
                             ": assigned to the only patient in the bundle")
            else:
                for bb in builders.values():
                    bb.report.add(en.label, "skipped", f"subject {subj or 'missing'} is not a patient of this bundle")
                continue
        if validate:
            problem = _validate(en.res)
            if problem:
                b.report.add(en.label, "flagged", f"does not validate under FHIR R4B ({problem}); read leniently")
        try:
            {
                "Observation": b.read_observation,
                "Condition": b.read_condition,
                "Procedure": b.read_procedure,
                "MedicationRequest": b.read_medication,
                "MedicationStatement": b.read_medication,
                "MedicationAdministration": b.read_medication,
                "AllergyIntolerance": b.read_allergy,
            }[en.type](en)
        except Exception as exc:  # one bad resource never stops the import
            b.report.add(en.label, "error", f"could not be read: {type(exc).__name__}: {exc}")
    results = []
    for p in patients:
        b = builders[id(p)]
        for t, n in sorted(unused.items()):
            b.report.add(f"{t} (x{n})", "skipped", f"{t} resources are not used by OsteoCare")
        try:
            record = b.build()
        except Exception as exc:
            b.report.add(p.label, "error", f"record could not be built: {type(exc).__name__}: {exc}")
            record = None
        b.report.record_created = record is not None
        b.report.retracted_labs = b.retracted_labs
        results.append(ImportResult(record, b.report))
    return results


class _FileProblem(NamedTuple):
    value: str
    allowed: str


def _read_file(p: Path) -> tuple[str | None, _FileProblem | None]:
    """The text of a bundle file, or why it cannot be read (as value and what is allowed)."""
    if p.is_dir():
        return None, _FileProblem("a folder", "a FHIR R4 Bundle JSON file (import-fhir reads folders of them)")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return None, _FileProblem("no such file", "an existing FHIR R4 Bundle JSON file")
    except OSError as exc:
        return None, _FileProblem(f"not readable ({exc.strerror or type(exc).__name__})", "a readable JSON file")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, _FileProblem(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start})",
                                  "a UTF-8 encoded JSON file (FHIR JSON is always UTF-8)")


def import_json(path: str | Path, *, as_of: dt.date | None = None) -> list[ImportResult]:
    """Import one JSON file (a Bundle or a single resource)."""
    p = Path(path)
    text, problem = _read_file(p)
    if text is None:
        assert problem is not None
        rep = ImportReport(source=str(p), as_of=as_of or dt.date.today())
        rep.add("file", "error", f"cannot be read: {problem.value}; expected {problem.allowed}")
        return [ImportResult(None, rep)]
    return import_bundle(text, as_of=as_of, source=str(p))


def import_path(path: str | Path, *, as_of: dt.date | None = None) -> list[ImportResult]:
    """Import a file, or every ``*.json`` file in a directory (sorted by name)."""
    p = Path(path)
    if p.is_dir():
        out: list[ImportResult] = []
        for f in sorted(p.glob("*.json")):
            out.extend(import_json(f, as_of=as_of))
        return out
    return import_json(p, as_of=as_of)


def record_from_fhir(path: str | Path, *, as_of: dt.date | None = None) -> tuple[PatientRecord, ImportReport]:
    """The one patient of a FHIR bundle file and its import report (for ``osteocare assess --fhir``).

    Raises :class:`InputError` (its field is the file) when the file cannot be read or holds no usable patient
    or more than one.
    """
    _, problem = _read_file(Path(path))
    if problem is not None:
        raise InputError(str(path), problem.value, problem.allowed)
    results = import_json(path, as_of=as_of)
    made = [r for r in results if r.record is not None]
    if len(results) > 1 and len(made) != 1:
        raise InputError(str(path), f"{len(results)} patients", "a bundle with exactly one patient (use import-fhir "
                         "for several)")
    if not made:
        rep = results[0].report
        errors = [f"{e.resource}: {e.reason}" for e in rep.entries if e.outcome == "error"]
        raise InputError(str(path), "no usable patient", "a Patient with gender and birth date"
                         + (f" ({'; '.join(errors)})" if errors else ""))
    rec = made[0].record
    assert rec is not None
    return rec, made[0].report
