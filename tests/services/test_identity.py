"""Correcting a patient's identity: names, phone, sex, birth date or age; checked as when added and against the
record; a birth date after the earliest dated fact is refused naming it; all or nothing; audited."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest

from osteocare.core.errors import InputError
from osteocare.services.context import Clinic
from osteocare.services.errors import NotFound
from osteocare.services.patients import audit_trail, get_patient, get_record, update_identity

TODAY = dt.date(2025, 3, 3)  # the clinic fixture's "today"


def test_the_identity_is_corrected_and_audited(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("ID1")  # 70 years old, no birth date, labs of 2025-02-11
    s = update_identity(clinic, rid, sex="female", given_name="Lan", family_name="Nguyễn Thị",
                        birth_date=dt.date(1952, 7, 9), phone="+84 24 3869 3731")
    assert (s.given_name, s.family_name, s.age, s.birth_date) == ("Lan", "Nguyễn Thị", 72, dt.date(1952, 7, 9))
    assert get_record(clinic, rid).age == 72
    entry = next(e for e in audit_trail(clinic, rid) if e["action"] == "update")
    changed = json.loads(entry["detail"])["changed"]
    assert changed["family_name"] == {"from": "Nguyen", "to": "Nguyễn Thị"}
    assert changed["birth_date"] == {"from": None, "to": "1952-07-09"}


def test_bad_identities_are_refused_naming_the_field_and_nothing_changes(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("ID2")
    before = get_patient(clinic, rid)
    base = dict(sex="female", given_name="Lan", family_name="Nguyen", birth_date=None, phone=None, age=70)
    for change, field in (({"sex": "x"}, "sex"),
                          ({"birth_date": TODAY + dt.timedelta(days=1)}, "birth_date"),
                          ({"birth_date": dt.date(2025, 2, 20)}, "birth_date"),  # after the labs of 2025-02-11
                          ({"birth_date": None, "age": None}, "birth_date"),
                          ({"given_name": "Lan\u202e"}, "given_name"),
                          ({"phone": "1" * 41}, "phone")):
        with pytest.raises(InputError) as e:
            update_identity(clinic, rid, **{**base, **change})  # type: ignore[arg-type]
        assert e.value.field == field, (change, e.value)
    with pytest.raises(InputError, match="2025-02-11"):
        update_identity(clinic, rid, **{**base, "birth_date": dt.date(2025, 2, 20)})  # type: ignore[arg-type]
    assert get_patient(clinic, rid) == before
    with pytest.raises(NotFound):
        update_identity(clinic, "NOBODY", **base)  # type: ignore[arg-type]
