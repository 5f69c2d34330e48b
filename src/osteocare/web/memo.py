"""Memoised assessment: ``assess`` is a pure function of (record, guideline, as-of date), so the web layer keeps the
last results keyed by the record's exact JSON. A changed fact changes the key; nothing is ever stale."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import OrderedDict
from typing import Any

from ..core.assessment import assess
from ..core.records import PatientRecord

_SIZE = 4096
_cache: OrderedDict[tuple[str, str | None, dt.date], dict[str, Any]] = OrderedDict()
_lock = threading.Lock()


def assessment_json(record: PatientRecord, *, guideline: str | None, as_of: dt.date) -> dict[str, Any]:
    """``assess(record, guideline=..., as_of=...).model_dump(mode="json")``, remembered. Do not mutate the result."""
    key = (record.model_dump_json(), guideline, as_of)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    result = assess(record, guideline=guideline, as_of=as_of).model_dump(mode="json")
    with _lock:
        _cache[key] = result
        if len(_cache) > _SIZE:
            _cache.popitem(last=False)
    return result


def assessment_bytes(record: PatientRecord, *, guideline: str | None, as_of: dt.date) -> bytes:
    """:func:`assessment_json` serialised as a JSON document (UTF-8); the API caches it on the data revision."""
    return json.dumps(assessment_json(record, guideline=guideline, as_of=as_of), ensure_ascii=False,
                      separators=(",", ":")).encode()
