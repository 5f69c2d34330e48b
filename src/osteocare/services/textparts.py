"""Generated texts as parts (``TextPart``: an English template with named values), so that an adapter can show
them in the reader's language, and their English rendering (what the CLI, the API's ``text`` and the store's
``reason`` hold). Alerts are built of parts; a schedule item stores its reason's parts beside its English text."""

from __future__ import annotations

import datetime as dt
import json

from pydantic import TypeAdapter, ValidationError

from ..core.parts import english_value
from ..core.parts import part as part  # re-exported: the services build their texts with it
from .drugs import regimen
from .views import TextPart

_PARTS = TypeAdapter(list[TextPart])


def drug_name(drug: str | None) -> str:
    if drug is None:
        return "Dose"
    try:
        return regimen(drug).name
    except Exception:
        return drug


def days_text(n: int) -> str:
    return english_value("days", n)


def render(p: TextPart) -> str:
    """A part in English, each drug by its name."""
    return p.render(drug_name)


def text_of(parts: list[TextPart]) -> str:
    return " ".join(render(p) for p in parts)


def dumps(parts: list[TextPart]) -> str:
    """Parts as the store keeps them (JSON)."""
    return json.dumps([p.model_dump(mode="json") for p in parts], ensure_ascii=False, separators=(",", ":"))


def _well_typed(p: TextPart) -> bool:
    """Each value of the type its kind needs (an adapter formats it by its kind: a date must be an ISO date)."""
    for k, v in p.params.items():
        kind = p.kinds.get(k)
        if kind == "date":
            try:
                dt.date.fromisoformat(v)
            except (TypeError, ValueError):
                return False
        elif kind in ("days", "months") and (not isinstance(v, int) or isinstance(v, bool)):
            return False
        elif kind in ("drug", "lab", "en", "num") and not isinstance(v, str):
            return False
        elif kind in ("part", "list"):
            try:
                if not all(_well_typed(TextPart.model_validate(x)) for x in (v if kind == "list" else [v])):
                    return False
            except (ValidationError, TypeError):
                return False
    return True


def stored_parts(text: str, stored: str | None) -> list[TextPart]:
    """A stored text's parts: those stored beside it where they are well formed (each value of its kind's type)
    and give the text back exactly; otherwise (none stored, or the row was changed by hand) the text itself,
    verbatim, as one part. Never raises: whatever is stored, the text can be shown."""
    if stored:
        try:
            parts = _PARTS.validate_json(stored)
            if parts and all(_well_typed(p) for p in parts) and text_of(parts) == text:
                return parts
        except Exception:  # a malformed stored value must not break the page that shows it
            pass
    return [part(text)]
