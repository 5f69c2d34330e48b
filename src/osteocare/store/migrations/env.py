"""Alembic environment: uses the store's own engine (SQLite pragmas, BEGIN handling) when called from code."""

from __future__ import annotations

from alembic import context

from osteocare.store.db import Database
from osteocare.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    db = config.attributes.get("database")
    owned = db is None
    if db is None:
        db = Database(str(config.get_main_option("sqlalchemy.url")))
    try:
        with db.engine.execution_options(osteocare_write=True).connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
                transaction_per_migration=False,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        if owned:
            db.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
