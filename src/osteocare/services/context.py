"""The context every service call runs in: the store, the settings and who is acting (for the audit log)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from ..settings import Settings, get_settings
from ..store.db import Database, open_database


@dataclass(frozen=True)
class Clinic:
    """``Clinic(db, settings, actor)``: pass one to every service function.

    The web app makes one per request with the signed-in user as ``actor``; the CLI makes one per command with
    ``settings.actor``.
    """

    db: Database
    settings: Settings
    actor: str
    fixed_today: dt.date | None = None  # tests and demos: pin "today"

    @classmethod
    def open(cls, settings: Settings | None = None, *, actor: str | None = None) -> Clinic:
        """Open the configured store (created and migrated on first use)."""
        s = settings or get_settings()
        return cls(open_database(s), s, actor or s.actor)

    def as_actor(self, actor: str) -> Clinic:
        return replace(self, actor=actor)

    def today(self) -> dt.date:
        """Today in the clinic's time zone (or the pinned day)."""
        if self.fixed_today is not None:
            return self.fixed_today
        return dt.datetime.now(self.settings.zone).date()

    def on(self, day: dt.date) -> Clinic:
        """The same clinic with "today" pinned to ``day``."""
        return replace(self, fixed_today=day)

    def close(self) -> None:
        self.db.dispose()
