"""OsteoCare's local code system (``knowledge/codes/osteocare-local.yaml``) for facts without a standard code.

Exports write a local coding beside the standard one (or alone, where no standard code exists) so that an
exported bundle imports again without losing a fact. These codes mean nothing outside OsteoCare.
"""

from __future__ import annotations

import math
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


@cache
def record_fields() -> tuple[str, ...]:
    return tuple(load(KNOWLEDGE_ID).value("record_fields"))


def record_id_system() -> str:
    return str(load(KNOWLEDGE_ID).value("record_id_system"))


def calculator_system() -> str:
    return str(load(KNOWLEDGE_ID).value("risk_assessment_method"))


def outcome_system() -> str:
    return str(load(KNOWLEDGE_ID).value("outcome_system"))


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
    if code in ("crcl-cockcroft-gault", "assessment-status", "who-category", "lowest-t-score", "derived-t-score"):
        return _entry(code, {"concept": "derived", "field": code})
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
