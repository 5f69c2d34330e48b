"""Alembic, configured in code: no ``alembic.ini`` is needed, so ``osteocare db upgrade`` works from an installed
package. The migration scripts live in ``osteocare/store/migrations``.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .db import Database

SCRIPT_LOCATION = "osteocare.store:migrations"


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    cfg.attributes["database"] = db
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Migrate the store up to ``revision`` (default: the latest)."""
    if revision == "head" and current_revision(db) == head_revision():
        return
    command.upgrade(alembic_config(db), revision)


def downgrade(db: Database, revision: str = "base") -> None:
    """Migrate the store down to ``revision`` (``base`` = empty database)."""
    command.downgrade(alembic_config(db), revision)


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
        return rev


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_bare_config()).get_current_head()


def _bare_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    return cfg
