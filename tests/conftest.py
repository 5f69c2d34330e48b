from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings


def _numba_cache_for_this_source() -> None:
    """The compiled kernels' cache for this version of the source (``dev.py``'s :func:`numba_cache_dir`), set
    before numba loads, unless NUMBA_CACHE_DIR is set; the subprocesses of CLI tests inherit it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("osteocare_dev", Path(__file__).resolve().parents[1] / "dev.py")
    assert spec is not None and spec.loader is not None
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(dev.numba_cache_dir()))


_numba_cache_for_this_source()

from osteocare.store.db import Database  # noqa: E402 - after the numba cache is chosen
from osteocare.store.migrate import upgrade  # noqa: E402
from osteocare.store.testing import (  # noqa: E402
    empty_all_tables,
    fresh_postgres_database,
    migrated_sqlite_template,
    postgres_unreachable_reason,
    sqlite_copy,
    under_ci,
)

settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")


# Database fixtures (store and service tests): every test that takes ``db`` runs on SQLite and on
# PostgreSQL. PostgreSQL: one fresh database per test session (per xdist worker) on 127.0.0.1:5432, emptied
# between tests; unreachable -> skipped with the reason, except under CI=true, where it fails.


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_server() -> None:
    """The PostgreSQL test server answers; else the test is skipped with the reason (failed under CI=true)."""
    reason = postgres_unreachable_reason()
    if reason is not None:
        if under_ci():
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: None) -> Iterator[str]:
    with fresh_postgres_database() as url:
        db = Database(url)
        try:
            upgrade(db)
        finally:
            db.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    else:
        database = Database(request.getfixturevalue("postgres_url"))
        empty_all_tables(database)
    try:
        yield database
    finally:
        database.dispose()
