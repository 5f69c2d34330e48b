"""The audit log: who read or changed which record, and when. Written in the same transaction as the change."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from .models import AuditEntry, utcnow


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: object = None,
    patient_id: int | None = None,
    detail: dict[str, Any] | str | None = None,
) -> AuditEntry:
    """Append one audit entry (flushed with the surrounding unit of work)."""
    text = detail if isinstance(detail, str) or detail is None else json.dumps(detail, default=str, sort_keys=True)
    entry = AuditEntry(
        at=utcnow(),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        patient_id=patient_id,
        detail=text,
    )
    session.add(entry)
    return entry
