"""Correcting a patient's identity: names, phone, sex, birth date or age; checked as when added and against the
record; a birth date after the earliest dated fact is refused naming it; all or nothing; audited."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from sqlalchemy import update

from osteocare.core.errors import InputError
from osteocare.services.context import Clinic
from osteocare.services.entries import add_entry
from osteocare.services.errors import NotFound
from osteocare.services.history import set_falls_screen
from osteocare.services.patients import audit_trail, earliest_date_of, get_patient, get_record, update_identity
from osteocare.store import models as m

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
                          ({"birth_date": TODAY + dt.timedelta(days=1), "age": None}, "birth_date"),
                          ({"birth_date": dt.date(2025, 2, 20), "age": None}, "birth_date"),  # after the labs of 2025-02-11
                          ({"birth_date": dt.date(1950, 1, 1)}, "age"),  # 70 typed beside a birth date giving 75
                          ({"birth_date": None, "age": None}, "birth_date"),
                          ({"given_name": "Lan\u202e"}, "given_name"),
                          ({"phone": "1" * 41}, "phone")):
        with pytest.raises(InputError) as e:
            update_identity(clinic, rid, **{**base, **change})  # type: ignore[arg-type]
        assert e.value.field == field, (change, e.value)
    with pytest.raises(InputError, match="2025-02-11"):
        update_identity(clinic, rid, **{**base, "birth_date": dt.date(2025, 2, 20), "age": None})  # type: ignore[arg-type]
    assert get_patient(clinic, rid) == before
    with pytest.raises(NotFound):
        update_identity(clinic, "NOBODY", **base)  # type: ignore[arg-type]


def test_an_age_is_checked_against_the_earliest_fact_and_so_is_every_date_of_an_entry(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("ID5")  # 70 years old on 2025-03-03: born 1954-03-04 to 1955-03-03
    add_entry(clinic, rid, "fracture", {"site": "wrist", "date": "1960-05-01"})
    base = dict(sex="female", given_name="Lan", family_name="Nguyen", birth_date=None, phone=None)
    with pytest.raises(InputError, match=r"1960-05-01.*earliest fracture.*at least 64") as e:
        update_identity(clinic, rid, **base, age=35)  # type: ignore[arg-type]  # born 1989-1990: after the fracture
    assert e.value.field == "age"
    assert update_identity(clinic, rid, **base, age=71).age == 71  # type: ignore[arg-type]
    add_entry(clinic, rid, "condition", {"code": "stroke", "resolved": "1958-01-01"})
    with pytest.raises(InputError, match=r"1958-01-01.*condition resolved") as e:
        update_identity(clinic, rid, **{**base, "birth_date": dt.date(1959, 1, 1)})  # type: ignore[arg-type]
    assert e.value.field == "birth_date"


def test_saving_the_same_identity_again_audits_nothing_even_a_year_later(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("ID6")
    same = dict(sex="female", given_name="Lan", family_name="Nguyen", birth_date=dt.date(1955, 1, 1), phone=None)
    update_identity(clinic, rid, **same)  # type: ignore[arg-type]
    later = clinic.on(dt.date(2027, 6, 1))
    n = len(audit_trail(later, rid))
    update_identity(later, rid, **same)  # type: ignore[arg-type]
    assert [e["action"] for e in audit_trail(later, rid)[: len(audit_trail(later, rid)) - n]
            if e["action"] == "update"] == []


def test_a_change_that_does_not_touch_the_age_does_not_move_the_dates_it_allows(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """A patient recorded by age in 2016: a fall of 1950 fits (born 1945-1946); saving a falls screen ten years
    later must not make the store read the age as recorded today."""
    rid = patient("ID7", labs=False)  # age 70, no birth date
    then = dt.datetime(2016, 1, 1, tzinfo=dt.UTC)
    with clinic.db.write() as s:
        s.execute(update(m.Patient).where(m.Patient.record_id == rid)
                  .values(created_at=then, updated_at=then, age_recorded_at=then))
    add_entry(clinic, rid, "fall", {"date": "1950-06-01"})
    set_falls_screen(clinic, rid, key_questions={"worries": True}, brochure_items=None)
    add_entry(clinic, rid, "fall", {"date": "1950-07-01"})  # still allowed
    assert earliest_date_of(clinic, rid)[0] == dt.date(1945, 1, 2)
    update_identity(clinic, rid, sex="female", given_name=None, family_name=None, birth_date=None, phone=None,
                    age=80)  # a corrected age is recorded today (the clinic's wall clock)
    assert "recorded on 2016" not in earliest_date_of(clinic, rid)[1]


def test_a_correction_from_a_stale_read_is_refused_and_writes_nothing(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    from osteocare.services.errors import Conflict
    from osteocare.services.patients import identity_version

    rid = patient("ID8")
    base = dict(sex="female", given_name="Lan", family_name="Nguyen", birth_date=None, phone=None, age=70)
    read = identity_version(clinic, rid)
    assert identity_version(clinic, rid) == read  # a fingerprint of what is stored
    update_identity(clinic, rid, **{**base, "family_name": "Nguyễn"}, expected_version=read)  # type: ignore[arg-type]
    with pytest.raises(Conflict, match="changed by someone else"):
        update_identity(clinic, rid, **{**base, "phone": "0912"}, expected_version=read)  # type: ignore[arg-type]
    assert get_patient(clinic, rid).family_name == "Nguyễn"
    update_identity(clinic, rid, **{**base, "family_name": "Nguyễn", "phone": "0912"},  # type: ignore[arg-type]
                    expected_version=identity_version(clinic, rid))
