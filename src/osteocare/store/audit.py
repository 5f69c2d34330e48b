"""The audit log: who read or changed which record, and when. Written in the same transaction as the change."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from .models import AuditEntry, utcnow

if TYPE_CHECKING:
    from .db import Database


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


class AuditAppender:
    """Audit entries of reads, written with group commit: concurrent readers' entries go to the store together in
    one transaction. :meth:`append` returns only once its entry is committed (the read is on the log before
    anything is shown), so the log is exactly as durable as one transaction per entry, at a fraction of the cost
    when many people read at once. A failed write puts the entries back, and each waiting reader retries (and
    raises the store's error itself if that fails too)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._mutex = threading.Lock()  # guards the queue and the counters
        self._flush = threading.Lock()  # one writer at a time
        self._pending: list[dict[str, Any]] = []
        self._queued = 0
        self._committed = 0

    def append(self, *, actor: str, action: str, entity: str, entity_id: object = None, patient_id: int | None = None,
               detail: dict[str, Any] | str | None = None) -> None:
        text = detail if isinstance(detail, str) or detail is None else json.dumps(detail, default=str,
                                                                                   sort_keys=True)
        row = {"at": utcnow(), "actor": actor, "action": action, "entity": entity,
               "entity_id": None if entity_id is None else str(entity_id), "patient_id": patient_id, "detail": text}
        with self._mutex:
            self._queued += 1
            ticket = self._queued
            self._pending.append(row)
        while True:
            with self._flush:
                if self._committed >= ticket:
                    return
                with self._mutex:
                    batch, self._pending = self._pending, []
                    upto = self._queued
                try:
                    with self._db.write() as s:
                        s.execute(insert(AuditEntry), batch)
                except BaseException:
                    with self._mutex:
                        self._pending[:0] = batch
                    raise
                self._committed = upto
