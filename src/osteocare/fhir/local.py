"""OsteoCare's local code system (``knowledge/codes/osteocare-local.yaml``) for facts without a standard code.

Exports write a local coding beside the standard one (or alone, where no standard code exists) so that an
exported bundle imports again without losing a fact. These codes mean nothing outside OsteoCare.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any, get_args

from ..core.knowledge import load
from ..core.records import FLAGS, PatientRecord
from .codes import CodeEntry

KNOWLEDGE_ID = "codes-osteocare-local"
LOCAL_SYSTEM: str = "urn:osteocare:codesystem:record"  # checked against the knowledge file in tests


@cache
def _file_system() -> str:
    return str(load(KNOWLEDGE_ID).value("system"))


#: The record's summary DXA fields -> (site, kind): exported under their LOINC code with the local code beside it
#: (``fhir.export``), read back as the summary field while undated (``fhir.importer``).
SUMMARY_DXA_FIELDS: dict[str, tuple[str, str]] = {
    "femoral_neck_t_score": ("femoral_neck", "t_score"), "total_hip_t_score": ("total_hip", "t_score"),
    "lumbar_spine_t_score": ("lumbar_spine", "t_score"), "femoral_neck_bmd_g_cm2": ("femoral_neck", "bmd_g_cm2")}


@cache
def record_fields() -> tuple[str, ...]:
    return tuple(load(KNOWLEDGE_ID).value("record_fields"))


def record_id_system() -> str:
    return str(load(KNOWLEDGE_ID).value("record_id_system"))


def calculator_system() -> str:
    return str(load(KNOWLEDGE_ID).value("risk_assessment_method"))


def outcome_system() -> str:
    return str(load(KNOWLEDGE_ID).value("outcome_system"))


@cache
def _structure_codes() -> dict[str, str]:
    return {str(k): str(v) for k, v in load(KNOWLEDGE_ID).value("structure_codes").items()}


def structure_code(code: str, item: str | None = None) -> str:
    """A local code for a record structure, as the knowledge file defines it (``structure_codes``): ``code`` alone
    (``vertebra-heights``) or ``code:item`` for a code written ``code:<...>`` (``guideline-category:nogg-2022``).
    A code the knowledge does not define is a programming error (KeyError), never written."""
    defined = _structure_codes()
    if item is None:
        if code not in defined:
            raise KeyError(f"{code!r} is not a structure code of {KNOWLEDGE_ID}")
        return code
    if not any(k.startswith(f"{code}:<") for k in defined):
        raise KeyError(f"{code!r}:<...> is not a structure code of {KNOWLEDGE_ID}")
    return f"{code}:{item}"


@cache
def guideline_ids() -> tuple[str, ...]:
    from ..core.knowledge import all_files

    return tuple(sorted(kf.id for kf in all_files().values() if kf.kind == "guideline"))


@cache
def steadi_ids(kind: str) -> tuple[str, ...]:
    """Ids of the STEADI ``key_questions`` or ``brochure_items`` (knowledge/lifestyle/steadi.yaml)."""
    return tuple(load("steadi").data[kind])


def steadi_text(kind: str, item: str) -> str | None:
    text = load("steadi").data[kind].get(item)
    return str(text) if text else None


def _entry(code: str, meaning: dict[str, Any]) -> CodeEntry:
    return CodeEntry("local", LOCAL_SYSTEM, code, meaning, "convention", KNOWLEDGE_ID, "OsteoCare")


def fracture_code(site: str, fragility: bool, on_treatment: bool) -> str:
    return f"fracture:{site}:{'fragility' if fragility else 'non-fragility'}" + (":on-treatment" if on_treatment else "")


def local_entry(code: str) -> CodeEntry | None:
    """Meaning of a local code, or None if it is not one of OsteoCare's."""
    if code in record_fields():
        return _entry(code, {"concept": "field", "field": code})
    head, _, rest = code.partition(":")
    if head == "fracture" and rest:
        parts = rest.split(":")
        from ..core.records import FractureSite

        if parts[0] in get_args(FractureSite) and len(parts) >= 2 and parts[1] in ("fragility", "non-fragility"):
            return _entry(code, {"concept": "fracture", "site": parts[0], "fragility": parts[1] == "fragility",
                                 "on_treatment": "on-treatment" in parts[2:]})
        return None
    if head == "condition" and rest:
        return _entry(code, {"concept": "record_condition", "condition": rest})
    if head == "drug" and rest:
        return _entry(code, {"concept": "drug", "drug": rest})
    if code == "fall:injurious":
        return _entry(code, {"concept": "fall", "injurious": True})
    if code in ("dxa-manufacturer", "dxa-device-model", "dxa-reference", "dxa-evaluable-vertebrae"):
        return _entry(code, {"concept": "dxa_component", "field": code[4:].replace("-", "_")})
    if head == "lab" and rest:
        return _entry(code, {"concept": "local_lab", "lab": rest})
    structure = _structure_entry(code, head, rest)
    if structure is not None:
        return structure
    if code in ("crcl-cockcroft-gault", "assessment-status", "who-category", "lowest-t-score", "derived-t-score"):
        return _entry(code, {"concept": "derived", "field": code})
    return None


_VERTEBRA_PARTS = {"vertebra-level": "level", "vertebra-anterior-mm": "anterior_mm",
                   "vertebra-middle-mm": "middle_mm", "vertebra-posterior-mm": "posterior_mm"}


def _structure_entry(code: str, head: str, rest: str) -> CodeEntry | None:
    """Meaning of a record-structure code (``structure_codes``); ids after the colon must be the knowledge's."""
    defined = _structure_codes()
    if code == "vertebra-heights" and code in defined:
        return _entry(code, {"concept": "vertebra"})
    if code in _VERTEBRA_PARTS and code in defined:
        return _entry(code, {"concept": "vertebra_component", "part": _VERTEBRA_PARTS[code]})
    if code == "falls-screen-brochure" and code in defined:
        return _entry(code, {"concept": "falls_screen_brochure"})
    if code in ("reaction-as-recorded", "reaction-not-described") and code in defined:
        return _entry(code, {"concept": "reaction_text"})
    kinds: dict[str, tuple[str, Callable[[], tuple[str, ...]]]] = {
        "guideline-category": ("guideline_category", guideline_ids),
        "falls-screen-answer": ("falls_screen_answer", lambda: steadi_ids("key_questions")),
        "falls-screen-brochure-item": ("falls_screen_brochure_item", lambda: steadi_ids("brochure_items"))}
    if head in kinds and rest and any(k.startswith(f"{head}:<") for k in defined):
        concept, known = kinds[head]
        return _entry(code, {"concept": concept, "id": rest}) if rest in known() else None
    return None


def _field_type(name: str) -> Any:
    return PatientRecord.model_fields[name].annotation


def read_local_value(name: str, holder: dict[str, Any]) -> tuple[bool, Any, str]:
    """(ok, value, reason) of a local-coded Observation value for record field ``name``."""
    if name in FLAGS or name in ("frax_with_bmd", "frax_glucocorticoids_ticked"):
        v = holder.get("valueBoolean")
        return (True, v, "") if isinstance(v, bool) else (False, None, f"{name}: valueBoolean expected")
    q = holder.get("valueQuantity")
    if isinstance(q, dict) and isinstance(q.get("value"), int | float) and not isinstance(q.get("value"), bool):
        v = q["value"]
        if not math.isfinite(v):
            return False, None, f"{name}: {v!r} is not allowed; expected a finite number"
        if name in ("age", "years"):
            return True, int(v), ""
        return True, float(v), ""
    if isinstance(holder.get("valueInteger"), int):
        return True, holder["valueInteger"], ""
    s = holder.get("valueString")
    if isinstance(s, str):
        return True, s, ""
    cc = holder.get("valueCodeableConcept")
    if isinstance(cc, dict):
        for c in cc.get("coding") or []:
            if isinstance(c, dict) and c.get("code"):
                return True, str(c["code"]), ""
    return False, None, f"{name}: no readable value"
