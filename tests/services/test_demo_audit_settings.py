"""The demo clinic, the audit log and the settings object."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from osteocare.services.context import Clinic
from osteocare.services.demo import load_demo
from osteocare.services.patients import audit_trail, get_record, show_patient
from osteocare.services.worklist import worklist
from osteocare.settings import SettingsError, get_settings
from osteocare.store import models as m

TODAY = dt.date(2025, 3, 3)


def test_an_interrupted_demo_load_leaves_nothing_and_can_be_run_again(clinic: Clinic,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import osteocare.services.demo as demo

    real, calls = demo.record_dose, []

    def interrupted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 8:
            raise KeyboardInterrupt  # Ctrl-C part way through
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(demo, "record_dose", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_demo(clinic, patients=30, seed=11)
    with clinic.db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.Patient)) == 0
        assert s.scalar(select(func.count()).select_from(m.AdministeredDose)) == 0
    monkeypatch.setattr(demo, "record_dose", real)
    assert load_demo(clinic, patients=5, seed=11).patients == 5


def test_the_demo_clinic_has_patients_on_various_courses_some_overdue(clinic: Clinic) -> None:
    summary = load_demo(clinic, patients=60, seed=11)
    assert summary.patients == 60
    assert len(summary.courses) >= 5 and summary.doses > 20
    w = worklist(clinic)
    assert w.counts["overdue"] > 0
    with clinic.db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.Patient)) == 60


def test_the_demo_is_deterministic_for_a_seed_and_day(clinic: Clinic) -> None:
    a = load_demo(clinic, patients=15, seed=3, prefix="A")
    b = load_demo(clinic, patients=15, seed=3, prefix="B")
    assert (a.courses, a.doses, a.reactions) == (b.courses, b.doses, b.reactions)


def test_the_audit_log_says_who_read_or_changed_which_record_and_when(clinic: Clinic,
                                                                     patient: Callable[..., str]) -> None:
    rid = patient()
    get_record(clinic.as_actor("dr-a"), rid)
    show_patient(clinic.as_actor("nurse-b"), rid)
    trail = audit_trail(clinic, rid)
    seen = {(a["actor"], a["action"], a["entity"]) for a in trail}
    assert ("tester", "create", "patient") in seen
    assert ("tester", "create", "lab") in seen
    assert ("dr-a", "read", "patient") in seen and ("nurse-b", "read", "patient") in seen
    assert all(a["at"].tzinfo is not None for a in trail)
    assert trail[0]["at"] >= trail[-1]["at"]


def test_settings_default_to_a_sqlite_file_and_fail_fast_on_bad_values() -> None:
    s = get_settings({})
    assert s.database_url == "sqlite:///data/osteocare.sqlite3" and s.is_sqlite
    assert s.observation_minutes is None and s.predose_lab_max_age_days is None  # local policy: not configured
    pg = get_settings({"OSTEOCARE_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/clinic"})
    assert pg.database_url.startswith("postgresql+psycopg://") and not pg.is_sqlite
    for env in ({"OSTEOCARE_DATABASE_URL": "mysql://x"}, {"OSTEOCARE_TIMEZONE": "Mars/Olympus"},
                {"OSTEOCARE_OBSERVATION_MINUTES": "-5"}, {"OSTEOCARE_REMINDER_HOME": "30 minutes"},
                {"OSTEOCARE_HOME_DOSE_TIME": "8am"}):
        with pytest.raises(SettingsError) as exc:
            get_settings(env)
        assert next(iter(env)) in str(exc.value)


@pytest.mark.parametrize(("kwargs", "field"), [({"patients": 0}, "patients"), ({"patients": -3}, "patients"),
                                               ({"patients": 10**11}, "patients"), ({"patients": True}, "patients"),
                                               ({"patients": 2, "prefix": "a/b"}, "prefix")])
def test_a_demo_of_no_patients_too_many_or_a_bad_prefix_is_refused_before_anything_is_written(
        clinic: Clinic, kwargs: dict[str, object], field: str) -> None:
    """0 and -3 loaded nothing and said so as if it had worked; 10**11 ran for ever holding the write lock."""
    from osteocare.core.errors import InputError

    with pytest.raises(InputError, match=f"^{field}:"):
        load_demo(clinic, **kwargs)  # type: ignore[arg-type]
    with clinic.db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.Patient)) == 0
