"""Store fixtures: ``db`` (SQLite and PostgreSQL) lives in tests/conftest.py, shared with the service tests."""
