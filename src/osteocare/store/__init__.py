"""The clinic store: SQLAlchemy tables, session factory and Alembic migrations (an adapter outside core)."""

from .db import Database, open_database

__all__ = ["Database", "open_database"]
