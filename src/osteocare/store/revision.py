"""The data revision: one counter that every transaction changing clinical data bumps, and read caches keyed on it.

Every write session of :class:`~osteocare.store.db.Database` is watched: a flush that adds, changes or deletes a
row of a *tracked* table (every table of :mod:`osteocare.store.models` but the audit log and the counter itself),
or an ORM ``INSERT``/``UPDATE``/``DELETE`` statement on one, marks the session; at commit the counter row is bumped
in the same transaction. A reader that reads the counter first and then loads the data gets data at least as new
as the revision it read, so a value cached under revision *r* is never older than *r*: caches need no other
invalidation, across threads, worker processes and hosts sharing the database. Writes that bypass the ORM session
(raw SQL from outside the project) are not seen; do not change the store that way while the app runs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import bindparam, event, select, update
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from . import models as m

if TYPE_CHECKING:
    from .db import Database

V = TypeVar("V")
_FLAG = "osteocare_data_changed"
UNTRACKED = frozenset({"audit_log", "data_revision"})


def tracked_tables() -> frozenset[str]:
    """Names of the tables whose changes bump the revision (the clinical tables of :mod:`.models`)."""
    return frozenset(
        mp.local_table.name  # type: ignore[attr-defined]
        for mp in m.Base.registry.mappers
        if mp.class_.__module__ == m.__name__ and mp.local_table.name not in UNTRACKED  # type: ignore[attr-defined]
    )


def _table_of(obj: object) -> str | None:
    table = getattr(obj, "__table__", None)
    return getattr(table, "name", None)


def watch(factory: sessionmaker[Session]) -> None:
    """Bump the revision at the commit of any session from ``factory`` that changed a tracked table."""
    tracked = tracked_tables()

    @event.listens_for(factory, "after_flush")
    def _after_flush(session: Session, _ctx: Any) -> None:
        if session.info.get(_FLAG):
            return
        for obj in (*session.new, *session.dirty, *session.deleted):
            if _table_of(obj) in tracked:
                session.info[_FLAG] = True
                return

    @event.listens_for(factory, "do_orm_execute")
    def _on_execute(state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            table = getattr(state.statement, "table", None)
            name = getattr(table, "name", None)
            if name is None or name in tracked:
                state.session.info[_FLAG] = True

    @event.listens_for(factory, "before_commit")
    def _before_commit(session: Session) -> None:
        if session.in_nested_transaction():
            # a savepoint being released (a service call inside a unit of work): the flag stays for the real
            # commit, so the counter row is not locked from the unit's first write until it ends (PostgreSQL)
            return
        session.flush()
        if session.info.pop(_FLAG, False):
            session.execute(update(m.DataRevision).where(m.DataRevision.id == 1)
                            .values(revision=m.DataRevision.revision + 1))

    @event.listens_for(factory, "after_rollback")
    def _after_rollback(session: Session) -> None:
        session.info.pop(_FLAG, None)


_REVISION = select(m.DataRevision.revision).where(m.DataRevision.id == 1).scalar_subquery()
_REVISION_NOW = select(_REVISION)
_PATIENT_AT = select(m.Patient.id, _REVISION).where(m.Patient.record_id == bindparam("record_id"))


def patient_at(db: Database, record_id: str) -> tuple[int, int | None] | None:
    """(patient id, data revision) of ``record_id`` in one short read (``None`` if there is no such patient)."""
    row = db.fetch_one(_PATIENT_AT, {"record_id": record_id})
    if row is None:
        return None
    # inside a unit of work the counter is not bumped until it commits: no revision, so nothing is cached from it
    return int(row[0]), None if db.unit is not None else row[1]


def revision_of(db: Database) -> int | None:
    """The data revision now."""
    if db.unit is not None:
        return None  # see patient_at
    row = db.fetch_one(_REVISION_NOW, {})
    return None if row is None else row[0]


class ReadCache:
    """A bounded, thread-safe LRU map for values derived from the store; keys must include the data revision."""

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_load(self, revision: int | None, key: Hashable, load: Callable[[], V]) -> V:
        """The value cached under (``revision``, ``key``), else ``load()`` (remembered). ``load`` must read the
        store after ``revision`` was read. A ``None`` revision (no counter row) bypasses the cache. Cached values
        are shared: treat them as read-only."""
        if revision is None:
            return load()
        full = (revision, key)
        with self._lock:
            if full in self._data:
                self._data.move_to_end(full)
                self.hits += 1
                return self._data[full]  # type: ignore[no-any-return]
            self.misses += 1
        value = load()
        with self._lock:
            self._data[full] = value
            if len(self._data) > self._size:
                self._data.popitem(last=False)
        return value

    def peek(self, revision: int | None, key: Hashable) -> tuple[bool, Any]:
        """(True, value) if (``revision``, ``key``) is cached, else (False, None)."""
        if revision is None:
            return False, None
        full = (revision, key)
        with self._lock:
            if full in self._data:
                self._data.move_to_end(full)
                self.hits += 1
                return True, self._data[full]
        return False, None

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
