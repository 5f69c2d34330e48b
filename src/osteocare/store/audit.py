"""The audit log: who read or changed which record, and when. Written in the same transaction as the change."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
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
    """Audit entries of reads, written with group commit by one writer thread: the entries of concurrent readers go
    to the store together, in one transaction. :meth:`append` (threads) and :meth:`append_async` (the web's event
    loop) return only once the entry is committed, so a read is on the log before anything is shown, exactly as
    durable as one transaction per entry, at a fraction of the cost when many people read at once. If the write
    fails, every reader in that batch gets the store's error (and shows nothing)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cv = threading.Condition()
        self._pending: list[tuple[dict[str, Any], Callable[[BaseException | None], None]]] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    @staticmethod
    def _row(actor: str, action: str, entity: str, entity_id: object, patient_id: int | None,
             detail: dict[str, Any] | str | None) -> dict[str, Any]:
        text = detail if isinstance(detail, str) or detail is None else json.dumps(detail, default=str,
                                                                                   sort_keys=True)
        return {"at": utcnow(), "actor": actor, "action": action, "entity": entity,
                "entity_id": None if entity_id is None else str(entity_id), "patient_id": patient_id, "detail": text}

    def _enqueue(self, row: dict[str, Any], done: Callable[[BaseException | None], None]) -> None:
        with self._cv:
            while self._closed:  # a close() is draining the queue: wait for it
                self._cv.wait(0.01)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="osteocare-audit-writer", daemon=True)
                self._thread.start()
            self._pending.append((row, done))
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._closed:
                    self._cv.wait()
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
            error: BaseException | None = None
            try:
                with self._db.write() as s:
                    s.execute(insert(AuditEntry.__table__), [row for row, _ in batch])  # type: ignore[arg-type]
            except BaseException as exc:  # handed to every waiting reader
                error = exc
            for _, done in batch:
                done(error)

    def append(self, *, actor: str, action: str, entity: str, entity_id: object = None, patient_id: int | None = None,
               detail: dict[str, Any] | str | None = None) -> None:
        """Append one entry; returns once it is committed (raises the store's error if it could not be). Inside a
        unit of work (:meth:`~osteocare.store.db.Database.unit_of_work`) the entry is part of it instead."""
        unit = self._db.unit
        if unit is not None:
            unit.execute(insert(AuditEntry.__table__),  # type: ignore[arg-type]
                         [self._row(actor, action, entity, entity_id, patient_id, detail)])
            return
        finished = threading.Event()
        outcome: list[BaseException | None] = []

        def done(error: BaseException | None) -> None:
            outcome.append(error)
            finished.set()

        self._enqueue(self._row(actor, action, entity, entity_id, patient_id, detail), done)
        finished.wait()
        if outcome[0] is not None:
            raise outcome[0]

    async def append_async(self, *, actor: str, action: str, entity: str, entity_id: object = None,
                           patient_id: int | None = None, detail: dict[str, Any] | str | None = None) -> None:
        """:meth:`append` for an event loop: waits for the commit without blocking the loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def settle(error: BaseException | None) -> None:
            if future.done():
                return
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

        def done(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(settle, error)

        self._enqueue(self._row(actor, action, entity, entity_id, patient_id, detail), done)
        await future

    def close(self) -> None:
        """Write what is queued and stop the writer thread (a later append starts a new one)."""
        with self._cv:
            thread = self._thread
            if thread is None:
                return
            self._closed = True
            self._cv.notify()
        if thread is not threading.current_thread():
            thread.join(timeout=30)
        with self._cv:
            self._closed = False
            self._thread = None
