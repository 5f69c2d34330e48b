"""Helpers for tests that need a real store: a fresh SQLite file or a fresh PostgreSQL database.

PostgreSQL: ``OSTEOCARE_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``) names the
server and an existing maintenance database; each test session (each pytest-xdist worker) creates its own
database there, named after the worker and process, and drops it at the end. If the server cannot be reached
the tests are skipped with the reason - except under CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from .db import Database
from .migrate import upgrade
from .models import Base

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    raw = os.environ.get("OSTEOCARE_TEST_POSTGRES_URL", "").strip() or DEFAULT_ADMIN_URL
    from ..settings import normalise_database_url

    return normalise_database_url(raw, "OSTEOCARE_TEST_POSTGRES_URL")


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def postgres_unreachable_reason() -> str | None:
    """None if the PostgreSQL test server answers, else why not."""
    url = admin_url()
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver or network error means: not reachable
        return f"PostgreSQL test server not reachable at {make_url(url).render_as_string(hide_password=True)}: " \
               f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    finally:
        engine.dispose()
    return None


def unique_name(prefix: str = "osteocare_test") -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{prefix}_{worker}_{os.getpid()}_{uuid.uuid4().hex[:8]}".lower()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database on the test server; yield its URL; drop it afterwards."""
    admin = admin_url()
    name = unique_name()
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
        try:
            yield url
        finally:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def migrated_sqlite_template(folder: Path) -> Path:
    """A migrated SQLite file to copy for each test (migrating once per session is the slow part)."""
    path = folder / "template.sqlite3"
    if not path.exists():
        db = Database(f"sqlite:///{path}")
        try:
            upgrade(db)
            with db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.dispose()
    return path


def sqlite_copy(template: Path, folder: Path) -> Database:
    target = folder / f"{uuid.uuid4().hex}.sqlite3"
    shutil.copyfile(template, target)
    return Database(f"sqlite:///{target}")


def empty_all_tables(db: Database) -> None:
    """Delete every row (PostgreSQL: one TRUNCATE ... RESTART IDENTITY CASCADE). The data revision is not reset
    but bumped, so that nothing cached before the emptying can be served after it."""
    names = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name != "data_revision"]
    present = set(inspect(db.engine).get_table_names())
    names = [n for n in names if n in present]
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
        else:
            for n in names:
                conn.execute(text(f'DELETE FROM "{n}"'))
        if "data_revision" in present:
            conn.execute(text("UPDATE data_revision SET revision = revision + 1"))
