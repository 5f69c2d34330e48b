"""Audited, cached reads, in steps that an adapter may run its own way.

A :class:`ReadPlan` is what one read of the store needs: the audit entry to commit first, the data revision it
was planned at and the cache key, and how to load the value. :meth:`ReadPlan.run` does the steps in a row (the
services and the CLI); the web's event loop awaits the audit commit and the cache instead of blocking a thread
(:meth:`ReadPlan.run_async`). Either way the entry is committed before the value is returned, and a value comes
from the cache only if it was loaded at (or after) the planned revision.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..store.revision import patient_at, revision_of
from .context import Clinic
from .errors import NotFound

V = TypeVar("V")


@dataclass(frozen=True)
class ReadPlan(Generic[V]):
    revision: int | None
    key: Hashable
    audit: dict[str, Any]
    load: Callable[[], V]
    patient_id: int | None = None

    def run(self, clinic: Clinic) -> V:
        clinic.db.audit_reads.append(**self.audit)
        return clinic.db.cache.get_or_load(self.revision, self.key, self.load)

    async def run_async(self, clinic: Clinic) -> V:
        """:meth:`run` on an event loop: the audit commit is awaited, a cache miss is loaded in a worker thread."""
        await clinic.db.audit_reads.append_async(**self.audit)
        return await cached_async(clinic, self.revision, self.key, self.load)


async def cached_async(clinic: Clinic, revision: int | None, key: Hashable, load: Callable[[], V]) -> V:
    """``clinic.db.cache.get_or_load`` for an event loop: a hit is returned at once, a miss loads in a thread."""
    import anyio.to_thread

    hit, value = clinic.db.cache.peek(revision, key)
    if hit:
        return value  # type: ignore[no-any-return]
    return await anyio.to_thread.run_sync(lambda: clinic.db.cache.get_or_load(revision, key, load))


def patient_plan(clinic: Clinic, record_id: str, *, what: str, key: tuple[Any, ...],
                 load: Callable[[], V]) -> ReadPlan[V]:
    """A read of one patient's record (``what``), cached under (``key``..., patient id)."""
    found = patient_at(clinic.db, record_id)
    if found is None:
        raise NotFound("patient", record_id)
    pid, rev = found
    entry = {"actor": clinic.actor, "action": "read", "entity": "patient", "entity_id": record_id,
             "patient_id": pid, "detail": {"what": what}}
    return ReadPlan(rev, (*key, pid), entry, load, pid)


def clinic_plan(clinic: Clinic, *, entity: str, entity_id: str, key: tuple[Any, ...],
                load: Callable[[], V]) -> ReadPlan[V]:
    """A read across the clinic (not one patient's record)."""
    entry = {"actor": clinic.actor, "action": "read", "entity": entity, "entity_id": entity_id}
    return ReadPlan(revision_of(clinic.db), key, entry, load)

