"""The PostgreSQL test helpers: an unreachable server is reported with a reason; CI is recognised."""

from __future__ import annotations

import pytest

from osteocare.store import testing


def test_an_unreachable_server_is_reported_with_its_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSTEOCARE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:1/test")
    reason = testing.postgres_unreachable_reason()
    assert reason is not None and "127.0.0.1:1" in reason


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("TRUE", True), ("", False), ("1", False)])
def test_ci_means_ci_equals_true(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("CI", value)
    assert testing.under_ci() is expected


def test_test_database_names_are_unique_per_worker_and_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    a, b = testing.unique_name(), testing.unique_name()
    assert a != b and "_gw1_" in a
