"""Export an assessment as a FHIR R4 Bundle (validated against the R4B models of ``fhir.resources``).

The bundle (type ``collection``) holds:

* the patient's facts, when the record is given: Patient, Observations (body measurements, DXA per site, labs,
  record fields without a standard code under OsteoCare's local code system), Conditions (fractures, falls,
  conditions), MedicationStatements (a planned end after the as-of date included) and MedicationAdministrations
  (last dose), AllergyIntolerances (the reaction text as recorded), and, under OsteoCare's local structure codes,
  vertebral body heights, guideline-tool categories and the falls screen - so that importing the bundle gives the
  same clinical facts back;
* a RiskAssessment per fracture-risk calculator that ran (QFracture-2012, FRAX entered), with the probabilities;
* Observations for the T-scores OsteoCare derived from raw BMD, and the WHO category;
* a CarePlan (intent proposal) whose activities are MedicationRequest proposals for the recommended drugs;
* a Provenance naming the OsteoCare version, the knowledge release (version and hash), the guideline and the
  as-of date, targeting every resource above.

Standard codes come from the knowledge code maps; every fact also carries OsteoCare's local code where the
standard code alone would lose it. Units are UCUM codes from the knowledge (the LOINC map's unit of the code, or
the lab's unit where the map has a code of the lab in that unit); a lab without such a code (e.g. calcium in
mmol/L, 25-OH vitamin D in nmol/L) is written under OsteoCare's local code with its unit, never under a code its
unit contradicts (a moles/volume unit under a mass/volume code). Resource
ids are deterministic (UUID 5 of the patient id and the fact), and so is the whole bundle for the same input
and ``now`` (the only clock reading: Bundle.timestamp and Provenance.recorded).

Record text that cannot be written as a FHIR code (a lab name with a run of spaces or a line break) is refused
with an :class:`~osteocare.core.errors.InputError` naming the field, the value and what is allowed; control
characters are left out of free text (FHIR strings should not hold them).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal, get_args, get_origin

from ..core.assessment import Assessment
from ..core.errors import InputError
from ..core.records import PatientRecord
from ..core.text import without_controls
from ..core.units import canonical_creatinine_unit, canonical_vitamin_d_unit
from . import codes
from .local import (
    LOCAL_SYSTEM,
    SUMMARY_DXA_FIELDS,
    calculator_system,
    fracture_code,
    outcome_system,
    record_fields,
    record_id_system,
    steadi_text,
    structure_code,
)

UCUM = "http://unitsofmeasure.org"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
NS = uuid.UUID("5b0c1a3e-8f7d-4c1e-9e53-0c57ea0ca7e1")  # OsteoCare export namespace (any fixed UUID)

_DXA_CODES = {  # record site -> (LOINC site of the code map, bodySite text)
    "total_hip": ("total_hip", None),
    "femoral_neck": ("femur", "femoral neck"),
    "trochanter": ("femur", "trochanter"),
    "lumbar_spine": ("lumbar_spine", None),
    "radius_33": ("forearm", "33% radius"),
}
_KIND_CONCEPT = {"bmd_g_cm2": "dxa_bmd", "t_score": "dxa_t_score", "z_score": "dxa_z_score"}
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
_CODE = re.compile(r"[^\s]+(\s[^\s]+)*")  # the FHIR R4 ``code`` datatype
_REACTION_KINDS = ("allergy", "intolerance")  # AllergyIntolerance.type; the importer writes "<type>: <manifestations>"


class _Out:
    def __init__(self, patient_id: str) -> None:
        self.pid = patient_id
        self.entries: list[dict[str, Any]] = []
        self.keys: set[str] = set()

    def url(self, key: str) -> str:
        return f"urn:uuid:{uuid.uuid5(NS, f'{self.pid}|{key}')}"

    def add(self, key: str, resource: dict[str, Any]) -> str:
        if key in self.keys:  # two resources with one fullUrl: a reference would resolve to either
            raise ValueError(f"FHIR export: two resources with the key {key!r}")
        self.keys.add(key)
        full = self.url(key)
        resource.setdefault("id", full.rsplit(":", 1)[-1])
        self.entries.append({"fullUrl": full, "resource": resource})
        return full


def _text(value: object) -> str:
    """Free text for a FHIR string: control characters left out (a spacing one, e.g. U+0085, becomes a space; tab
    and line breaks stay) and lone surrogates too (they cannot be written as UTF-8)."""
    return without_controls(str(value))


def _code_of(field: str, value: str) -> str:
    """``value`` as a FHIR ``code``, or an InputError naming the record field (a code allows single spaces only)."""
    if not _CODE.fullmatch(value):
        raise InputError(field, value, "text that can be a FHIR code: no line breaks, tabs or runs of spaces, "
                         "not empty")
    return value


def _map_unit(entry: codes.CodeEntry) -> str:
    """The UCUM unit the LOINC code map gives for ``entry`` (never one written here)."""
    return codes.table("loinc").file.fact(entry.code).unit


def _percent_decimal(percent: float) -> float:
    """A percentage as a probability, without binary noise (4.1 % -> 0.041, not 0.040999999999999995)."""
    return float(Decimal(repr(float(percent))).scaleb(-2))


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return c


def _local(code: str, display: str | None = None) -> dict[str, Any]:
    return _coding(LOCAL_SYSTEM, code, display)


def _loinc(entry: codes.CodeEntry) -> dict[str, Any]:
    return _coding(entry.system_uri, entry.code, entry.display)


def _first_verified(name: str, **match: Any) -> codes.CodeEntry | None:
    found = codes.codes_where(name, **match)
    verified = [e for e in found if e.status == "verified"]
    best = verified or found
    return best[0] if best else None


def _dxa_code(site: str, kind: str) -> tuple[codes.CodeEntry | None, str | None]:
    loinc_site, body = _DXA_CODES[site]
    entries = [e for e in codes.codes_where("loinc", concept=_KIND_CONCEPT[kind], site=loinc_site)
               if not e.get("laterality")]
    return (entries[0] if entries else None), body


def _day(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def _obs(subject: str, coding: list[dict[str, Any]], *, category: str | None = None, when: dt.date | None = None,
         **value: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Observation", "status": "final", "code": {"coding": coding},
                         "subject": {"reference": subject}}
    if category:
        r["category"] = [{"coding": [_coding(OBS_CAT, category)]}]
    if when:
        r["effectiveDateTime"] = when.isoformat()
    r.update(value)
    return r


def _qty(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


# ============================================================================ patient facts
def _local_value(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if name in ("age", "years"):
        return {"valueQuantity": _qty(int(value), "a")}
    if isinstance(value, int | float):
        unit = {"glucocorticoid_mg_per_day": "mg/d", "glucocorticoid_months": "mo", "frax_mof_percent": "%",
                "frax_hip_percent": "%", "dietary_calcium_mg_per_day": "mg/d"}.get(name, "1")
        return {"valueQuantity": _qty(float(value), unit)}
    if not _enumerated(name):  # free text (frax_country): a string, not a code of OsteoCare's code system
        return {"valueString": _text(value)}
    return {"valueCodeableConcept": {"coding": [_local(str(value))], "text": str(value)}}


def _enumerated(name: str) -> bool:
    """Whether record field ``name`` takes one of a fixed list of ids (a Literal), so its value is a code."""
    ann = PatientRecord.model_fields[name].annotation
    return any(get_origin(a) is Literal for a in (ann, *get_args(ann)))


def _patient_resource(record: PatientRecord, identity: Mapping[str, Any] | None) -> dict[str, Any]:
    """The Patient: sex and record id, and the clinic's identity when given (``given_name``, ``family_name``,
    ``birth_date``, ``phone``; what ``import-fhir`` reads back into the clinic)."""
    p: dict[str, Any] = {"resourceType": "Patient", "gender": record.sex,
                         "identifier": [{"system": record_id_system(), "value": record.id}]}
    identity = identity or {}
    name: dict[str, Any] = {}
    family = _text(identity.get("family_name") or "").strip()
    given = _text(identity.get("given_name") or "").strip()
    if family:
        name["family"] = family
    if given:
        name["given"] = [given]
    if name:
        p["name"] = [name]
    birth = identity.get("birth_date")
    if isinstance(birth, dt.date):
        p["birthDate"] = birth.isoformat()
    phone = _text(identity.get("phone") or "").strip()
    if phone:
        p["telecom"] = [{"system": "phone", "value": phone}]
    return p


def _patient_facts(out: _Out, record: PatientRecord, as_of: dt.date,
                   identity: Mapping[str, Any] | None = None) -> tuple[str, list[str]]:
    pat = out.add("Patient", _patient_resource(record, identity))
    basis: list[str] = []
    defaults = PatientRecord.model_fields
    flat = SUMMARY_DXA_FIELDS
    for name in record_fields():
        if name in ("sex", *flat):  # the summary DXA fields: below, under LOINC and the local code
            continue
        v = getattr(record, name)
        # age always; prior_fracture and falls always, as an importer may infer them from fractures and falls
        if name not in ("age", "prior_fracture", "falls") and (v is None or v == defaults[name].default):
            continue
        if isinstance(v, str) and not _text(v).strip():  # nothing left to write once control characters are out
            continue
        basis.append(out.add(f"field:{name}", _obs(pat, [_local(name, name.replace("_", " "))],
                                                   when=as_of if name == "age" else None, **_local_value(name, v))))
    body = {"weight_kg": "body_weight", "height_cm": "body_height", "bmi": "bmi"}
    for name, concept in body.items():
        v = getattr(record, name)
        if v is None:
            continue
        e = _first_verified("loinc", concept=concept)
        assert e is not None
        basis.append(out.add(f"body:{name}", _obs(pat, [_loinc(e)], category="vital-signs",
                                                  valueQuantity=_qty(v, _map_unit(e)))))
    for i, m in enumerate(record.dxa):
        comps: list[dict[str, Any]] = []
        for fname, code in (("manufacturer", "dxa-manufacturer"), ("device_model", "dxa-device-model"),
                            ("reference", "dxa-reference")):
            if getattr(m, fname) and _text(getattr(m, fname)).strip():
                comps.append({"code": {"coding": [_local(code)]}, "valueString": _text(getattr(m, fname))})
        if m.evaluable_vertebrae is not None:
            comps.append({"code": {"coding": [_local("dxa-evaluable-vertebrae")]},
                          "valueInteger": m.evaluable_vertebrae})
        for kind in ("bmd_g_cm2", "t_score", "z_score"):
            v = getattr(m, kind)
            if v is None:
                continue
            e, body_text = _dxa_code(m.site, kind)
            if e is None:
                continue
            extra: dict[str, Any] = {"valueQuantity": _qty(v, _map_unit(e))}
            if body_text:
                extra["bodySite"] = {"text": body_text}
            if comps:
                extra["component"] = comps
            basis.append(out.add(f"dxa:{i}:{kind}", _obs(pat, [_loinc(e)], category="imaging", when=m.date, **extra)))
    for name, (site, kind) in flat.items():
        v = getattr(record, name)
        if v is None:
            continue
        e, body_text = _dxa_code(site, kind)
        assert e is not None
        extra = {"valueQuantity": _qty(v, _map_unit(e))}
        if body_text:
            extra["bodySite"] = {"text": body_text}
        if kind == "bmd_g_cm2" and record.densitometer_manufacturer:
            extra["component"] = [{"code": {"coding": [_local("dxa-manufacturer")]},
                                   "valueString": record.densitometer_manufacturer}]
        # LOINC for an EHR; the local code beside it gives OsteoCare's importer the summary field back
        basis.append(out.add(f"flat:{name}", _obs(pat, [_loinc(e), _local(name, name.replace("_", " "))],
                                                  category="imaging", **extra)))
    labs = [(lab.name, lab.value, lab.unit, lab.date, f"lab:{i}") for i, lab in enumerate(record.labs)]
    if record.creatinine_umol_l is not None:
        labs.append(("creatinine", record.creatinine_umol_l, "umol/L", None, "flat:creatinine_umol_l"))
    if record.creatinine_mg_dl is not None:
        labs.append(("creatinine", record.creatinine_mg_dl, "mg/dL", None, "flat:creatinine_mg_dl"))
    for name, value, unit, when, key in labs:
        field = f"labs[{key.split(':', 1)[1]}].name" if key.startswith("lab:") else "creatinine"
        coding, quantity = _lab(field, name, value, unit)
        basis.append(out.add(key, _obs(pat, coding, category="laboratory", when=when, valueQuantity=quantity)))
    for i, f in enumerate(record.fractures):
        coding = []
        sct = codes.export_code("snomed", "export", f.site)
        if sct is None and f.fragility and f.site == "other":
            sct = codes.export_code("snomed", "export", "fragility_other")
        if sct is not None:
            coding.append(_coding(sct.system_uri, sct.code, sct.display))
        coding.append(_local(fracture_code(f.site, f.fragility, f.on_treatment), f"fracture, {f.site}"))
        c: dict[str, Any] = {"resourceType": "Condition", "code": {"coding": coding}, "subject": {"reference": pat}}
        if f.date:
            c["onsetDateTime"] = f.date.isoformat()
        basis.append(out.add(f"fracture:{i}", c))
    fall_code = codes.export_code("snomed", "export", "fall")
    for i, fall in enumerate(record.falls_history):
        coding = [_coding(fall_code.system_uri, fall_code.code, fall_code.display)] if fall_code else []
        if fall.injurious:
            coding.append(_local("fall:injurious", "injurious fall"))
        c = {"resourceType": "Condition", "code": {"coding": coding}, "subject": {"reference": pat}}
        if fall.date:
            c["onsetDateTime"] = fall.date.isoformat()
        basis.append(out.add(f"fall:{i}", c))
    for i, cond in enumerate(record.conditions):
        c = {"resourceType": "Condition", "code": {"coding": [_local(f"condition:{cond.code}")]},
             "subject": {"reference": pat},
             "clinicalStatus": {"coding": [_coding("http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                   "resolved" if cond.resolved else "active")]}}
        if cond.onset:
            c["onsetDateTime"] = cond.onset.isoformat()
        if cond.resolved:
            c["abatementDateTime"] = cond.resolved.isoformat()
        basis.append(out.add(f"condition:{i}", c))
    for i, med in enumerate(record.medications):
        med_concept = _drug_concept(med.drug)
        ended = med.end is not None and med.end <= as_of
        ms: dict[str, Any] = {"resourceType": "MedicationStatement", "status": "completed" if ended else "active",
                              "medicationCodeableConcept": med_concept, "subject": {"reference": pat}}
        period = {k: v for k, v in (("start", _day(med.start)), ("end", _day(med.end))) if v}
        if period:
            ms["effectivePeriod"] = period
        basis.append(out.add(f"med:{i}", ms))
        if med.last_dose:
            basis.append(out.add(f"med:{i}:last_dose", {
                "resourceType": "MedicationAdministration", "status": "completed",
                "medicationCodeableConcept": med_concept, "subject": {"reference": pat},
                "effectiveDateTime": med.last_dose.isoformat()}))
    for i, tol in enumerate(record.intolerances):
        basis.append(out.add(f"intolerance:{i}", _allergy(pat, tol)))
    basis += _record_structures(out, record, pat)
    return pat, basis


def _record_structures(out: _Out, record: PatientRecord, pat: str) -> list[str]:
    """Vertebral body heights, guideline-tool categories and the falls screen, under OsteoCare's local structure
    codes (the knowledge code maps have no standard code for them). A vertebra's heights carry the day they were
    read (``effectiveDateTime``) where the record has it; the rest is not dated in the record."""
    made: list[str] = []
    for i, v in enumerate(record.vertebrae):
        comps: list[dict[str, Any]] = []
        level = _text(v.level).strip()
        if level:  # an empty level is left out (a FHIR string is never empty) and comes back empty
            comps.append({"code": {"coding": [_local(structure_code("vertebra-level"), "vertebral level")]},
                          "valueString": level})
        for part, label in (("anterior_mm", "anterior"), ("middle_mm", "middle"), ("posterior_mm", "posterior")):
            mm = getattr(v, part)
            if mm is not None:
                code = structure_code(f"vertebra-{part.replace('_mm', '')}-mm")
                comps.append({"code": {"coding": [_local(code, f"{label} vertebral body height")]},
                              "valueQuantity": _qty(float(mm), "mm")})
        made.append(out.add(f"vertebra:{i}", _obs(
            pat, [_local(structure_code("vertebra-heights"), "vertebral body heights")], category="imaging",
            when=v.date, component=comps)))
    for gid, category in record.guideline_categories.items():
        made.append(out.add(f"guideline-category:{gid}", _obs(
            pat, [_local(structure_code("guideline-category", _code_of("guideline_categories", gid)),
                         f"category from the {gid} tool")],
            valueCodeableConcept={"coding": [_local(category, category.replace("_", " "))], "text": category})))
    for question, yes in record.falls_screen_answers.items():
        made.append(out.add(f"falls-screen-answer:{question}", _obs(
            pat, [_local(structure_code("falls-screen-answer", _code_of("falls_screen_answers", question)),
                         steadi_text("key_questions", question))], category="survey", valueBoolean=yes)))
    if record.falls_screen_brochure_items is not None:
        items = [{"code": {"coding": [_local(structure_code("falls-screen-brochure-item", _code_of(
                     f"falls_screen_brochure_items[{i}]", item)), steadi_text("brochure_items", item))]},
                  "valueBoolean": True} for i, item in enumerate(record.falls_screen_brochure_items)]
        brochure = _obs(pat, [_local(structure_code("falls-screen-brochure"),
                                     "Stay Independent brochure: items answered yes")], category="survey",
                        note=[{"text": "Stay Independent brochure asked; each component is an item answered yes "
                                       "(no component: none answered yes)"}])
        if items:
            brochure["component"] = items
        made.append(out.add("falls-screen-brochure", brochure))
    return made


def _lab_ucum(name: str, unit: str) -> tuple[str | None, list[str]]:
    """(UCUM code of ``unit`` by the knowledge's spellings or None, the UCUM units the lab's LOINC code takes)."""
    for lab, canonical in (("creatinine", canonical_creatinine_unit), ("vitamin_d", canonical_vitamin_d_unit)):
        if name == lab or (lab == "vitamin_d" and name.startswith("vitamin_d")):  # as the importer reads them
            try:
                known = canonical(unit)
                return known, [known]
            except InputError:
                return codes.canonical_spelling(unit), []
    allowed: list[str] = list(codes.table("loinc").rule("lab_units").get(name, []))
    u = codes.canonical_spelling(unit) if unit else None
    return (u if u is not None else (unit if unit in allowed else None)), allowed


def _lab(field: str, name: str, value: float, unit: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Coding and valueQuantity of a lab: the LOINC code of the lab whose unit in the code map is the lab's UCUM unit
    (a creatinine in umol/L under the moles/volume code 14682-9, in mg/dL under the mass/volume code 2160-0; a
    verified code first), when the knowledge accepts the unit for the lab; otherwise OsteoCare's local
    ``lab:<name>`` code (e.g. calcium in mmol/L: the map has no moles/volume calcium code), the unit as written
    (UCUM only where it is one). The value is never converted: it comes back as it was recorded."""
    ucum, allowed = _lab_ucum(name, unit)
    q: dict[str, Any] = {"value": value}
    if unit:
        q["unit"] = _text(unit)
    if ucum is not None:
        q.update(system=UCUM, code=ucum)
    if ucum is not None and ucum in allowed:
        same_unit = [e for e in codes.codes_where("loinc", concept="lab", lab=name) if _map_unit(e) == ucum]
        e = next((e for e in same_unit if e.status == "verified"), same_unit[0] if same_unit else None)
        if e is not None:
            return [_loinc(e)], q
    return [_local("lab:" + _code_of(field, name))], q


def _allergy(pat: str, tol: Any) -> dict[str, Any]:
    """An intolerance as an active medication AllergyIntolerance (the importer reads it back into intolerances).

    The reaction's manifestation carries the record's text exactly, under OsteoCare's local code
    ``reaction-as-recorded`` (``reaction-not-described`` when the record has no text), so that the import gives the
    same text back; a text the importer wrote (``"allergy: rash"``) gives its type again.
    """
    text = _text(tol.reaction).strip()
    head, sep, _rest = text.partition(": ")
    kind = head if sep and head in _REACTION_KINDS else None
    r: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {"coding": [_coding(ALLERGY_CLINICAL, "active")]},
        "category": ["medication"], "code": _drug_concept(tol.drug), "patient": {"reference": pat},
    }
    if kind:
        r["type"] = kind
    if tol.date:
        r["onsetDateTime"] = tol.date.isoformat()
    if text:
        manifestation = {"coding": [_local(structure_code("reaction-as-recorded"), "reaction as recorded")],
                         "text": text}
    else:
        manifestation = {"coding": [_local(structure_code("reaction-not-described"), "reaction not described")],
                         "text": "reaction not described"}
    reaction: dict[str, Any] = {"manifestation": [manifestation]}
    if tol.severity:
        reaction["severity"] = tol.severity
    r["reaction"] = [reaction]
    return r


def _drug_concept(drug: str, name: str | None = None) -> dict[str, Any]:
    coding = []
    rx = codes.export_code("rxnorm", "export", drug)
    if rx is not None:
        coding.append(_coding(rx.system_uri, rx.code, rx.display))
    atc = codes.export_code("atc", "export", drug)
    if atc is not None:
        coding.append(_coding(atc.system_uri, atc.code, atc.display))
    coding.append(_local(f"drug:{drug}", name or drug.replace("_", " ")))
    return {"coding": coding, "text": name or drug.replace("_", " ")}


# ============================================================================ assessment
def _status_note(status: str, warnings: list[str]) -> list[dict[str, Any]]:
    notes = [{"text": f"Result status: {status}."}]
    notes += [{"text": w} for w in warnings]
    return notes


def _risk_assessments(out: _Out, a: Assessment, results: dict[str, Any], pat: str, basis: list[str]) -> list[str]:
    made = []
    specs = [
        ("qfracture-2012", "QFracture-2012 equations", "major_osteoporotic_fracture_percent", "hip_fracture_percent",
         "horizon_years"),
        ("frax-entered", "FRAX (entered)", "mof_adjusted", "hip_adjusted", None),
    ]
    for cid, method, mof_key, hip_key, horizon_key in specs:
        r = results.get(cid)
        if r is None or not r.applicable:
            continue
        years = r.values[horizon_key].value if horizon_key and horizon_key in r.values else 10
        method_text = method
        if cid == "frax-entered" and r.details.get("country_model"):
            method_text += f", country {r.details['country_model']}"
        preds = []
        for key, outcome, label in ((mof_key, "major_osteoporotic_fracture", "major osteoporotic fracture"),
                                    (hip_key, "hip_fracture", "hip fracture")):
            if key not in r.values or r.values[key].value is None:
                continue
            preds.append({
                "outcome": {"coding": [_coding(outcome_system(), outcome, label)], "text": label},
                "probabilityDecimal": _percent_decimal(r.values[key].value),
                "whenRange": {"high": {"value": years, "unit": "a", "system": UCUM, "code": "a"}},
            })
        ra: dict[str, Any] = {
            "resourceType": "RiskAssessment", "status": "final", "subject": {"reference": pat},
            "occurrenceDateTime": a.as_of.isoformat(),
            "method": {"coding": [_coding(calculator_system(), cid, r.name)], "text": method_text},
            "prediction": preds, "note": _status_note(r.status, r.warnings),
        }
        if basis:
            ra["basis"] = [{"reference": b} for b in basis]
        made.append(out.add(f"risk:{cid}", ra))
    return made


def _derived_t_scores(out: _Out, results: dict[str, Any], pat: str, as_of: dt.date) -> list[str]:
    made: list[str] = []
    bd = results.get("bone-density")
    if bd is None or not bd.applicable:
        return made
    for e in bd.details.get("t_scores", []):
        if e.get("origin") != "computed" or e.get("site") not in _DXA_CODES:
            continue
        entry, body = _dxa_code(e["site"], "t_score")
        if entry is None:
            continue
        obs = _obs(pat, [_loinc(entry), _local("derived-t-score", "T-score derived by OsteoCare")],
                   category="imaging", when=as_of,
                   valueQuantity=_qty(e["rounded"], "{T-score}"),
                   method={"text": f"computed by OsteoCare from BMD {e.get('bmd_g_cm2')} g/cm2 against "
                                   f"{e.get('reference_label')}"},
                   note=[{"text": f"Derived T-score, status {e.get('status')}"
                                  + ("" if e.get("decides") else "; shown beside the deciding score, not used")}])
        if body:
            obs["bodySite"] = {"text": body}
        made.append(out.add(f"derived-t:{e['site']}:{e.get('reference')}:{e.get('date')}:{e.get('bmd_g_cm2')}", obs))
    if bd.category:
        low = bd.values.get("lowest_t_score")
        obs = _obs(pat, [_local("who-category", "WHO bone density category")], when=as_of,
                   valueCodeableConcept={"coding": [_local(bd.category, bd.category.replace("_", " "))],
                                         "text": bd.category.replace("_", " ")},
                   note=_status_note(bd.status, []))
        if low is not None:
            obs["component"] = [{"code": {"coding": [_local("lowest-t-score", "lowest T-score")]},
                                 "valueQuantity": _qty(float(low.value), "{T-score}")}]
        made.append(out.add("who-category", obs))
    return made


def _care_plan(out: _Out, rec: Any, pat: str, as_of: dt.date) -> list[str]:
    if rec is None:
        return []
    options = getattr(rec, "options", None) or []
    made: list[str] = []
    activities = []
    for o in options:
        try:
            from ..core.drugs.contraindications import drug_facts

            regimen = drug_facts(o.drug).regimen
        except Exception:  # a drug without a knowledge file: name only
            regimen = None
        mr: dict[str, Any] = {
            "resourceType": "MedicationRequest", "status": "draft", "intent": "proposal",
            "medicationCodeableConcept": _drug_concept(o.drug, o.name), "subject": {"reference": pat},
            "authoredOn": as_of.isoformat(), "priority": "routine",
            "note": [{"text": f"Option {o.rank} ({o.tier.replace('_', ' ')}); status {getattr(o, 'status', 'n/a')}"}],
        }
        if regimen:
            mr["dosageInstruction"] = [{"text": regimen}]
        ref = out.add(f"proposal:{o.rank}:{o.drug}", mr)
        made.append(ref)
        activities.append({"reference": {"reference": ref}})
    stratum = getattr(rec, "stratum", None)
    desc = f"{getattr(stratum, 'guideline_name', '')}: {getattr(stratum, 'label', '')}".strip(": ")
    if getattr(rec, "no_drug_reason", None) is not None:
        desc += f". No drug treatment: {rec.no_drug_reason.text}"
    cp: dict[str, Any] = {
        "resourceType": "CarePlan", "status": "draft", "intent": "proposal", "subject": {"reference": pat},
        "created": as_of.isoformat(), "title": "OsteoCare treatment recommendation",
        "description": desc or "OsteoCare treatment recommendation",
        "note": _status_note(str(getattr(rec, "status", "unverified")), list(getattr(rec, "warnings", []))[:20]),
    }
    if activities:
        cp["activity"] = activities
    made.insert(0, out.add("careplan", cp))
    return made


def _provenance(out: _Out, a: Assessment, targets: list[str], now: dt.datetime) -> None:
    p = a.provenance
    files = ", ".join(f"{k} {v}" for k, v in sorted(p.knowledge_files.items()))
    out.add("provenance", {
        "resourceType": "Provenance",
        "target": [{"reference": t} for t in targets],
        "recorded": now.isoformat(),
        "occurredDateTime": a.as_of.isoformat(),
        "agent": [{"who": {"display": f"OsteoCare {p.osteocare_version}"}}],
        "entity": [{"role": "source", "what": {
            "identifier": {"system": "urn:osteocare:knowledge-release", "value": p.knowledge_version},
            "display": f"OsteoCare knowledge release {p.knowledge_version} (sha256 {p.knowledge_sha256})"
                       + (f"; files: {files}" if files else "")}}],
        "reason": [{"text": f"Assessment as of {a.as_of.isoformat()}, guideline {p.guideline or 'none'}, "
                            f"status {a.status}"}],
    })


def export_assessment(assessment: Assessment, record: PatientRecord | None = None, *,
                      results: dict[str, Any] | None = None, recommendation: Any | None = None,
                      validate: bool = True, now: dt.datetime | None = None,
                      identity: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The assessment (and, if given, the record's facts) as a FHIR R4 collection Bundle (JSON dict).

    ``results`` adds calculator results the assessment does not carry (e.g. bone density);
    ``recommendation`` (a ``core.drugs.Recommendation``) gives the CarePlan's proposals; without it the
    assessment's own ``recommendation`` is used when present. The bundle is validated with the R4B models.
    ``now`` (default: the clock, in UTC) is written as Bundle.timestamp and Provenance.recorded; with it given,
    the same input gives the same bundle. A naive ``now`` is read as UTC. ``identity`` (with the record:
    ``given_name``, ``family_name``, ``birth_date``) gives the Patient's name and birth date.
    """
    now = _instant(now)
    out = _Out(assessment.patient_id)
    as_of = assessment.as_of
    if record is not None:
        pat, basis = _patient_facts(out, record, as_of, identity)
    else:
        pat = out.add("Patient", {"resourceType": "Patient",
                                  "identifier": [{"system": record_id_system(), "value": assessment.patient_id}]})
        basis = []
    allr = dict(assessment.results)
    allr.update(results or {})
    targets = _risk_assessments(out, assessment, allr, pat, basis)
    targets += _derived_t_scores(out, allr, pat, as_of)
    rec = recommendation if recommendation is not None else assessment.recommendation
    if isinstance(rec, dict):
        from ..core.drugs import Recommendation

        try:
            rec = Recommendation.model_validate(rec)
        except ValueError:
            rec = None
    targets += _care_plan(out, rec, pat, as_of)
    _provenance(out, assessment, targets or [pat], now)
    bundle = {"resourceType": "Bundle", "type": "collection", "timestamp": now.isoformat(), "entry": out.entries}
    if validate:
        from fhir.resources.R4B.bundle import Bundle

        Bundle.model_validate(bundle)
    return bundle


def _instant(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        now = dt.datetime.now(dt.UTC)
    elif not isinstance(now, dt.datetime):
        raise InputError("now", now, "a date and time (datetime)")
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return now.replace(microsecond=0)


def export_record_assessment(record: PatientRecord, *, as_of: dt.date, guideline: str | None = None,
                             now: dt.datetime | None = None,
                             identity: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Assess ``record`` and export it all: facts, risks, derived T-scores, recommendation, provenance (and the
    clinic's ``identity`` of the patient when given, see :func:`export_assessment`)."""
    from .clinical import clinical_picture

    c = clinical_picture(record, as_of=as_of, guideline=guideline)
    return export_assessment(c.assessment, record, results=c.results, recommendation=c.recommendation, now=now,
                             identity=identity)


__all__ = ["export_assessment", "export_record_assessment"]
