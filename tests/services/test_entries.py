"""Conditions, medication history, intolerances, falls and fractures kept one by one: the record's checks on
each, dates bounded, a condition resolved or a medication ended, entries made in error deleted with a reason,
everything audited, and the active courses' contraindication check run again after each change."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osteocare.core.errors import InputError
from osteocare.services.context import Clinic
from osteocare.services.courses import start_course
from osteocare.services.entries import add_entry, condition_labels, delete_entry, end_entry, entries_of
from osteocare.services.errors import NotFound
from osteocare.services.patients import audit_trail, get_record

TODAY = dt.date(2025, 3, 3)  # the clinic fixture's "today"


def test_a_condition_is_added_with_its_label_resolved_later_and_read_by_the_record(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("E1")
    res = add_entry(clinic, rid, "condition", {"code": "Atrial fibrillation", "onset": "2020-05-01"})
    e = res.entry
    assert (e.kind, e.fields["code"], e.label, e.current) == ("condition", "atrial_fibrillation",
                                                              "Atrial fibrillation", True)
    assert [c.code for c in get_record(clinic, rid).conditions] == ["atrial_fibrillation"]
    ended = end_entry(clinic, "condition", e.id, dt.date(2024, 1, 10)).entry
    assert ended.fields["resolved"] == "2024-01-10" and ended.current is False
    listed = entries_of(clinic, rid)["condition"]
    assert [(x.id, x.fields["resolved"]) for x in listed] == [(e.id, "2024-01-10")]
    trail = [(a["action"], a["entity"]) for a in audit_trail(clinic, rid)]
    assert ("create", "condition") in trail and ("update", "condition") in trail
    update = next(a for a in audit_trail(clinic, rid) if a["action"] == "update")
    assert json.loads(update["detail"]) == {"resolved": {"from": None, "to": "2024-01-10"}}


def test_each_kind_refuses_what_the_record_refuses_naming_the_field_and_writes_nothing(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("E2")
    bad: list[tuple[str, dict[str, Any], str]] = [
        ("condition", {"code": "broken heart"}, "code"),
        ("condition", {"code": "stroke", "onset": "2024-01-01", "resolved": "2023-01-01"}, "resolved"),
        ("condition", {"code": "stroke", "onset": "2099-01-01"}, "onset"),
        ("medication", {"drug": "aspirin"}, "drug"),
        ("medication", {"drug": "alendronate", "start": "2020-01-01", "end": "2019-01-01"}, "end"),
        ("medication", {"drug": "alendronate", "start": "1900-01-01"}, "start"),  # before the patient was born
        ("medication", {"drug": "alendronate", "end": "2023-01-01", "last_dose": "2023-06-01"}, "end"),
        ("intolerance", {"drug": "alendronate"}, "reaction"),
        ("intolerance", {"drug": "alendronate", "reaction": "  "}, "reaction"),
        ("intolerance", {"drug": "alendronate", "reaction": "heartburn\u202e"}, "reaction"),
        ("fall", {"date": "2099-01-01"}, "date"),
        ("fracture", {"site": "nose", "date": "2020-01-01"}, "site"),
        ("spine", {}, "kind"),
    ]
    for kind, data, field in bad:
        with pytest.raises(InputError) as e:
            add_entry(clinic, rid, kind, data)
        assert field in str(e.value), (kind, data, str(e.value))
    assert all(not v for v in entries_of(clinic, rid).values())
    c = add_entry(clinic, rid, "condition", {"code": "stroke", "onset": "2024-01-01"}).entry
    with pytest.raises(InputError, match="resolved"):
        end_entry(clinic, "condition", c.id, dt.date(2023, 12, 31))
    with pytest.raises(InputError, match="resolved"):
        end_entry(clinic, "condition", c.id, TODAY + dt.timedelta(days=1))
    with pytest.raises(InputError, match="kind"):
        end_entry(clinic, "fall", c.id, TODAY)
    assert entries_of(clinic, rid)["condition"][0].fields["resolved"] is None
    med = add_entry(clinic, rid, "medication", {"drug": "alendronate", "last_dose": "2024-06-01"}).entry
    with pytest.raises(InputError, match=r"end: '2024-05-31'.*on or after the last dose \(2024-06-01\)"):
        end_entry(clinic, "medication", med.id, dt.date(2024, 5, 31))
    assert end_entry(clinic, "medication", med.id, dt.date(2024, 6, 1)).entry.fields["end"] == "2024-06-01"


def test_an_entry_made_in_error_is_deleted_with_a_reason_the_audit_keeps_what_it_said(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid, other = patient("E3"), patient("E3B")
    i = add_entry(clinic, rid, "intolerance", {"drug": "risedronate", "reaction": "heartburn",
                                               "severity": "moderate", "date": "2023-06-01"}).entry
    with pytest.raises(InputError, match="reason"):
        delete_entry(clinic, "intolerance", i.id, reason="  ")
    with pytest.raises(NotFound):  # not through another patient's record
        delete_entry(clinic, "intolerance", i.id, reason="typo", record_id=other)
    with pytest.raises(NotFound):
        delete_entry(clinic, "intolerance", 2**70, reason="typo")
    delete_entry(clinic, "intolerance", i.id, reason="wrong patient", record_id=rid)
    assert entries_of(clinic, rid)["intolerance"] == []
    gone = next(a for a in audit_trail(clinic, rid) if a["action"] == "delete")
    assert json.loads(gone["detail"]) == {"drug": "risedronate", "reaction": "heartburn", "date": "2023-06-01",
                                          "severity": "moderate", "reason": "wrong patient"}


def test_a_condition_that_contraindicates_an_active_course_is_said_at_once(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """Alendronate must not be given with an oesophageal stricture (its drug file): recording one while the
    course runs says so, naming the rule."""
    rid = patient("E4")
    start_course(clinic, rid, "alendronate", start_date=TODAY - dt.timedelta(days=30))
    quiet = add_entry(clinic, rid, "fall", {"date": "2025-01-02", "injurious": True})
    assert quiet.warnings == []
    res = add_entry(clinic, rid, "condition", {"code": "oesophageal_stricture", "onset": "2025-02-01"})
    assert res.warnings and all(w.startswith("Active course of Alendronate:") for w in res.warnings)
    assert any("must not" in w for w in res.warnings), res.warnings


def test_every_condition_label_is_a_knowledge_condition() -> None:
    labels = condition_labels()
    assert "oesophageal_stricture" in labels and labels["dialysis"] == "On dialysis"


_DATES = st.one_of(st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["condition", "medication", "fall"]), a=_DATES, b=_DATES,
       code=st.sampled_from(["stroke", "dialysis", "not_a_condition"]))
def test_any_entry_is_either_stored_as_given_or_refused_with_nothing_written(
        clinic: Clinic, patient: Callable[..., str], kind: str, a: dt.date | None, b: dt.date | None,
        code: str) -> None:
    rid = "EP"
    try:
        entries_of(clinic, rid)
    except NotFound:
        patient(rid, labs=False)
    data: dict[str, Any] = {
        "condition": {"code": code, "onset": a and a.isoformat(), "resolved": b and b.isoformat()},
        "medication": {"drug": "alendronate", "start": a and a.isoformat(), "end": b and b.isoformat()},
        "fall": {"date": a and a.isoformat(), "injurious": b is not None},
    }[kind]
    before = entries_of(clinic, rid)
    try:
        e = add_entry(clinic, rid, kind, data).entry
    except InputError:
        assert entries_of(clinic, rid) == before
        return
    assert all(d is None or d <= TODAY for d in ((a,) if kind == "fall" else (a, b)))
    assert {k: v for k, v in e.fields.items() if k in data} == data
    assert entries_of(clinic, rid)[kind][-1] == e or e in entries_of(clinic, rid)[kind]


def test_vertebral_heights_are_kept_per_level_once_and_graded_by_the_assessment(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """Measured heights of T11-L1, L1 wedged (anterior 18 against posterior 25 mm, a 28 % reduction: Genant's
    grade 2, moderate, 25-40 %): the grading reads them from the stored record."""
    from osteocare.core.assessment import assess

    rid = patient("EV1")
    for level, a, mid, p in (("t11", 24.0, 23.5, 25.0), ("T12", 25.0, 24.5, 26.0), ("L1", 18.0, 23.0, 25.0)):
        add_entry(clinic, rid, "vertebra", {"level": level, "anterior_mm": a, "middle_mm": mid, "posterior_mm": p})
    listed = entries_of(clinic, rid)["vertebra"]
    assert [e.fields["level"] for e in listed] == ["T11", "T12", "L1"]
    for data, field in (({"level": "L1", "anterior_mm": 20, "posterior_mm": 25}, "level"),  # measured already
                        ({"level": "L9", "anterior_mm": 20, "posterior_mm": 25}, "level"),
                        ({"level": "L2", "anterior_mm": -1, "posterior_mm": 25}, "anterior_mm")):
        with pytest.raises(InputError) as e:
            add_entry(clinic, rid, "vertebra", data)
        assert field in str(e.value), (data, str(e.value))
    assert len(entries_of(clinic, rid)["vertebra"]) == 3
    result = assess(get_record(clinic, rid), as_of=TODAY).results
    grading = next(r for r in result.values() if r.calculator.startswith("genant") or "Genant" in r.name)
    assert grading.values["L1_grade"].value == 2 and grading.values["T12_grade"].value == 0


def test_a_level_read_again_on_a_later_day_is_kept_and_graded_instead_of_the_earlier_reading(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """L1 read in 2023 (anterior 24 against posterior 25 mm: 4 %, grade 0) and again in 2025 (15 against 25: 40 %,
    grade 2 by the convention's "25 to <= 40"): both are kept, the earlier one listed as replaced; an assessment
    dated before the second reading grades the first. The same level twice on one day is refused, naming it."""
    from osteocare.core.assessment import assess

    rid = patient("EV2")
    first = add_entry(clinic, rid, "vertebra", {"level": "L1", "date": "2023-05-01", "anterior_mm": 24,
                                                "posterior_mm": 25}).entry
    second = add_entry(clinic, rid, "vertebra", {"level": "l1", "date": "2025-02-03", "anterior_mm": 15,
                                                 "posterior_mm": 25}).entry
    with pytest.raises(InputError, match=r"level.*not measured on 2025-02-03") as e:
        add_entry(clinic, rid, "vertebra", {"level": "L1", "date": "2025-02-03", "anterior_mm": 20,
                                            "posterior_mm": 25})
    assert "L1" in str(e.value)
    with pytest.raises(InputError, match="date"):  # after the clinic's today
        add_entry(clinic, rid, "vertebra", {"level": "L2", "date": "2025-03-04", "anterior_mm": 20,
                                            "posterior_mm": 25})
    with pytest.raises(InputError, match=r"date.*L1 has a reading of 2025-02-03"):  # would be graded as the oldest
        add_entry(clinic, rid, "vertebra", {"level": "L1", "anterior_mm": 12, "posterior_mm": 25})
    listed = entries_of(clinic, rid)["vertebra"]
    assert [(e.id, e.fields["date"], e.current) for e in listed] == [(first.id, "2023-05-01", False),
                                                                     (second.id, "2025-02-03", True)]
    record = get_record(clinic, rid)
    assert assess(record, as_of=TODAY).results["genant-sq"].values["L1_grade"].value == 2
    assert assess(record, as_of=dt.date(2024, 1, 1)).results["genant-sq"].values["L1_grade"].value == 0


def test_a_change_to_a_record_the_rules_refuse_is_refused_with_nothing_written(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """An old lab the current rules refuse (``osteocare db check``) makes the record unreadable: a new entry is
    refused naming it, before anything is written (it used to be saved and then reported as an error)."""
    from sqlalchemy import update

    from osteocare.store import models as m

    rid = patient("EB1")
    start_course(clinic, rid, "alendronate", start_date=TODAY - dt.timedelta(days=30))
    with clinic.db.write() as s:
        s.execute(update(m.Lab).where(m.Lab.name == "calcium").values(name="x"))
    with pytest.raises(InputError, match="x"):
        add_entry(clinic, rid, "fall", {"date": "2025-01-02"})
    with clinic.db.read() as s:
        assert s.query(m.Fall).count() == 0
