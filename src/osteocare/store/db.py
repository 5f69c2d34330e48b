"""Engine and session factory for the clinic store, built from :class:`~osteocare.settings.Settings`.

Transactions:

* :meth:`Database.write` is one unit of work: everything inside commits together or not at all.
  On SQLite it starts with ``BEGIN IMMEDIATE`` so that two writers queue for the write lock (with a busy
  timeout) instead of failing when both try to upgrade a read lock; on PostgreSQL it is a normal
  READ COMMITTED transaction, and uniqueness races are settled by unique constraints.
* :meth:`Database.read` is a read-only session (rolled back at the end).
* :meth:`Database.unit_of_work` holds one write transaction around many service calls (the demo clinic): every
  :meth:`~Database.write` inside it becomes a savepoint of that transaction, every :meth:`~Database.read` and
  :meth:`~Database.fetch_one` reads through it (so it sees what the unit has written so far), and audit entries of
  reads are part of it. Nothing of it is visible to others, or kept, until it commits: an error, Ctrl-C or a killed
  process leaves the store as it was.

SQLite runs in WAL mode with foreign keys on: a writer killed mid-transaction leaves only uncommitted WAL
frames, which are discarded on the next open.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable

from ..settings import Settings, get_settings, normalise_database_url

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_file(url: str) -> Path | None:
    rest = url.split("://", 1)[1] if "://" in url else ""
    path = rest[1:] if rest.startswith("/") else rest
    path = path.split("?", 1)[0]
    if path in ("", ":memory:"):
        return None
    return Path(path)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``; for a SQLite file, its folder is created first."""
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        f = _sqlite_file(url)
        if f is not None:
            f.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        in_memory = f is None

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if not in_memory:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("osteocare_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


class Database:
    """The store: one engine, a write-session factory and a read-session factory."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_database_url(url)
        self.engine = make_engine(self.url, echo=echo)
        self._writer = sessionmaker(self.engine.execution_options(osteocare_write=True), expire_on_commit=False)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        from .revision import ReadCache, watch

        watch(self._writer)
        # SQLite has one writer at a time, and a waiting writer polls with sleeps (busy timeout): threads of this
        # process queue on a lock instead, woken as soon as the writer before them commits.
        self._write_lock: threading.RLock | None = threading.RLock() if self.dialect == "sqlite" else None
        self._unit: ContextVar[Session | None] = ContextVar(f"osteocare_unit_{id(self)}", default=None)
        self._sql: dict[int, tuple[Executable, str, tuple[str, ...] | None, dict[str, Any]]] = {}
        self.cache = ReadCache()  # values derived from this store, keyed on its data revision
        from .audit import AuditAppender

        self.audit_reads = AuditAppender(self)  # group-committed audit entries of reads

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def unit(self) -> Session | None:
        """The session of the :meth:`unit_of_work` this thread (or task) is in, else ``None``."""
        return self._unit.get()

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction around many service calls: see the module's docstring. Not re-entrant."""
        if self._unit.get() is not None:
            raise RuntimeError("a unit of work is already open in this thread")
        with self.write() as session:
            token = self._unit.set(session)
            try:
                yield session
            finally:
                self._unit.reset(token)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back everything on any exception (inside a
        :meth:`unit_of_work`: a savepoint of it, released on success, rolled back to on any exception)."""
        unit = self._unit.get()
        if unit is not None:
            with unit.begin_nested():
                yield unit
            return
        if self._write_lock is None:
            with self._writer.begin() as session:
                yield session
            return
        with self._write_lock, self._writer.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        unit = self._unit.get()
        if unit is not None:
            yield unit  # sees the unit's own writes; stays open for the rest of the unit
            return
        session = self._reader()
        try:
            yield session
        finally:
            session.close()  # ends the transaction; loaded objects stay readable (detached, not expired)

    def fetch_one(self, stmt: Executable, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of a small read-only ``stmt``, on a pooled DBAPI connection: no ORM session and no
        SQLAlchemy transaction around it (the hot reads of every request). Only for statements whose result
        columns need no type conversion (integers, text); pass module-level statements (their SQL is compiled once
        per statement object)."""
        unit = self._unit.get()
        if unit is not None:
            found = unit.execute(stmt, params).first()
            return None if found is None else tuple(found)
        sql, order, defaults = self._compiled(stmt)
        values = {**defaults, **params}
        args: Any = tuple(values[k] for k in order) if order is not None else values
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            try:
                cur.execute(sql, args)
                row = cur.fetchone()
            finally:
                cur.close()
        finally:
            raw.close()  # back to the pool (which ends any implicit transaction)
        return None if row is None else tuple(row)

    def _compiled(self, stmt: Executable) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        hit = self._sql.get(id(stmt))
        if hit is not None and hit[0] is stmt:
            return hit[1], hit[2], hit[3]
        compiled = stmt.compile(dialect=self.engine.dialect)  # type: ignore[attr-defined]
        order = tuple(compiled.positiontup) if compiled.positional else None
        defaults = {k: v for k, v in compiled.params.items() if v is not None}
        self._sql[id(stmt)] = (stmt, str(compiled), order, defaults)
        return str(compiled), order, defaults

    def dispose(self) -> None:
        self.audit_reads.close()
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"


def open_database(settings: Settings | None = None, *, upgrade: bool = True) -> Database:
    """Open the configured store, creating and migrating it to the latest schema on first use."""
    settings = settings or get_settings()
    db = Database(settings.database_url, echo=settings.sql_echo)
    if upgrade:
        from .migrate import upgrade as run_upgrade

        run_upgrade(db)
    return db
