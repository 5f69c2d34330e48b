"""The clinical history (risk factors, body measures, the clinician's FRAX result): edited field by field,
checked against the whole record, written all or nothing, audited with old and new values, and refused when
someone else changed it after it was read."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osteocare.core.assessment import assess
from osteocare.core.errors import InputError
from osteocare.core.records import RecordErrors
from osteocare.services.context import Clinic
from osteocare.services.errors import Conflict, NotFound
from osteocare.services.history import HISTORY_FIELDS, RISK_FLAGS, history_of, update_history
from osteocare.services.patients import audit_trail, get_record

TODAY = dt.date(2025, 3, 3)  # the clinic fixture's "today"


def test_a_change_is_stored_audited_with_old_and_new_values_and_read_back(clinic: Clinic,
                                                                          patient: Callable[..., str]) -> None:
    rid = patient("H1")
    before = history_of(clinic, rid)
    assert before.values["ra_sle"] is False and before.values["weight_kg"] == 55.0
    after = update_history(clinic, rid, {"ra_sle": True, "weight_kg": 52.5, "frax_mof_percent": 21.0,
                                         "frax_hip_percent": 6.5}, expected_version=before.version)
    assert after.version != before.version
    assert history_of(clinic, rid) == after
    rec = get_record(clinic, rid)
    assert (rec.ra_sle, rec.weight_kg, rec.frax_mof_percent, rec.frax_hip_percent) == (True, 52.5, 21.0, 6.5)
    entry = next(e for e in audit_trail(clinic, rid) if e["action"] == "update")
    assert json.loads(entry["detail"])["changed"] == {"ra_sle": {"from": False, "to": True},
                                          "weight_kg": {"from": 55.0, "to": 52.5},
                                          "frax_mof_percent": {"from": None, "to": 21.0},
                                          "frax_hip_percent": {"from": None, "to": 6.5}}
    reads = [e for e in audit_trail(clinic, rid) if e["action"] == "read" and "history" in (e["detail"] or "")]
    assert len(reads) == 2 and all(e["actor"] == "tester" for e in reads)
    # the same values again change nothing and write no audit entry
    n = len(audit_trail(clinic, rid))
    update_history(clinic, rid, {"ra_sle": True})
    assert len([e for e in audit_trail(clinic, rid) if e["action"] == "update"]) == 1
    assert len(audit_trail(clinic, rid)) >= n


def test_a_change_after_someone_elses_is_refused_and_writes_nothing(clinic: Clinic,
                                                                   patient: Callable[..., str]) -> None:
    rid = patient("H2")
    read_by_nurse = history_of(clinic, rid)
    read_by_doctor = history_of(clinic, rid)
    update_history(clinic, rid, {"smoking": "heavy"}, expected_version=read_by_doctor.version)
    with pytest.raises(Conflict, match="changed by someone else"):
        update_history(clinic, rid, {"weight_kg": 60.0}, expected_version=read_by_nurse.version)
    now = history_of(clinic, rid)
    assert now.values["smoking"] == "heavy" and now.values["weight_kg"] == 55.0


def test_bad_changes_name_the_field_and_nothing_is_written(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("H3")
    before = history_of(clinic, rid)
    with pytest.raises(InputError) as e:
        update_history(clinic, rid, {"id": "OTHER"})
    assert e.value.field == "id" and "weight_kg" in str(e.value)
    with pytest.raises(InputError) as e:
        update_history(clinic, rid, {"labs": []})
    assert e.value.field == "labs"
    # a FRAX hip probability above the major osteoporotic one (which includes the hip): refused with the other
    # change of the same request, which is not written either
    with pytest.raises(RecordErrors) as bad:
        update_history(clinic, rid, {"weight_kg": 50.0, "frax_mof_percent": 5.0, "frax_hip_percent": 9.0})
    assert "frax_hip_percent" in str(bad.value)
    with pytest.raises(RecordErrors) as bad:
        update_history(clinic, rid, {"smoking": "sometimes"})
    assert bad.value.field == "smoking" and "heavy" in str(bad.value)
    with pytest.raises(RecordErrors):  # 70 years old: not 900 months of glucocorticoids
        update_history(clinic, rid, {"corticosteroids": True, "glucocorticoid_months": 900})
    assert history_of(clinic, rid) == before
    with pytest.raises(NotFound):
        update_history(clinic, "NO-SUCH", {"ra_sle": True})


def test_the_assessment_reads_the_changed_history(clinic: Clinic, patient: Callable[..., str]) -> None:
    """Rheumatoid arthritis and corticosteroids are QFracture risk factors: after recording them, the stored
    patient's 10-year risk of a major fracture is higher (monotonic in each flag)."""
    rid = patient("H4")
    base = assess(get_record(clinic, rid), as_of=TODAY)
    update_history(clinic, rid, {"ra_sle": True, "corticosteroids": True})
    raised = assess(get_record(clinic, rid), as_of=TODAY)
    def mof(a: Any) -> float:
        return float(a.results["qfracture-2012"].values["major_osteoporotic_fracture_percent"].value)

    assert mof(raised) > mof(base)


_VALUES: dict[str, st.SearchStrategy[Any]] = {
    **{f: st.booleans() for f in RISK_FLAGS},
    "weight_kg": st.one_of(st.none(), st.floats(-10, 400)),
    "height_cm": st.one_of(st.none(), st.floats(-10, 300)),
    "smoking": st.sampled_from(["non_smoker", "ex_smoker", "light", "moderate", "heavy", "often"]),
    "alcohol": st.sampled_from(["none", "lt1", "1to2", "3to6", "7to9", "gt9", "lots"]),
    "glucocorticoid_months": st.one_of(st.none(), st.floats(-5, 1200)),
    "frax_mof_percent": st.one_of(st.none(), st.floats(-5, 120)),
    "frax_hip_percent": st.one_of(st.none(), st.floats(-5, 120)),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(sorted(_VALUES)), st.none(), min_size=1, max_size=5)
       .flatmap(lambda keys: st.fixed_dictionaries({k: _VALUES[k] for k in keys})))
def test_any_change_is_either_stored_exactly_or_refused_with_nothing_written(
        clinic: Clinic, patient: Callable[..., str], changes: dict[str, Any]) -> None:
    rid = "HP"
    try:
        before = history_of(clinic, rid)
    except NotFound:
        patient(rid, labs=False)
        before = history_of(clinic, rid)
    try:
        after = update_history(clinic, rid, changes, expected_version=before.version)
    except InputError:
        assert history_of(clinic, rid) == before
        return
    assert {k: after.values[k] for k in changes} == changes
    assert history_of(clinic, rid) == after
    assert set(after.values) == set(HISTORY_FIELDS)


def test_the_falls_screen_is_recorded_replaced_audited_and_read_by_the_assessment(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    from osteocare.services.history import falls_screen_of, set_falls_screen

    rid = patient("FS1")
    blank = falls_screen_of(clinic, rid)
    assert blank.key_questions == {} and blank.brochure_items is None
    assert blank.questions["worries"] == "Do you worry about falling?"
    assert blank.brochure_wording_status == "unverified"
    seen = set_falls_screen(clinic, rid, key_questions={"fallen_past_year": False, "unsteady": True},
                            brochure_items=["cane_or_walker", "worried"])
    assert falls_screen_of(clinic, rid) == seen
    rec = get_record(clinic, rid)
    assert rec.falls_screen_answers == {"fallen_past_year": False, "unsteady": True}
    assert rec.falls_screen_brochure_items == ["cane_or_walker", "worried"]
    # the history's other fields are untouched, and so is the screen by a history change
    update_history(clinic, rid, {"smoking": "light"})
    assert get_record(clinic, rid).falls_screen_answers == {"fallen_past_year": False, "unsteady": True}
    entry = next(e for e in audit_trail(clinic, rid) if e["action"] == "update"
                 and json.loads(e["detail"]).get("what") == "falls screen")
    assert json.loads(entry["detail"])["to"] == {"falls_screen_answers": {"fallen_past_year": False, "unsteady": True},
                                                 "falls_screen_brochure_items": ["cane_or_walker", "worried"]}
    # unknown ids are refused by the record, and nothing changes
    for answers, items in (({"dizzy": True}, None), ({}, ["juggles"])):
        with pytest.raises(InputError):
            set_falls_screen(clinic, rid, key_questions=answers, brochure_items=items)
    assert falls_screen_of(clinic, rid) == seen
    # the assessment reads it: a "yes" to a key question is a positive screen (before it: "not done")
    def falls_advice(record_id: str) -> str:
        rec = assess(get_record(clinic, record_id), as_of=TODAY).recommendation or {}
        return " | ".join(str(i["text"]) for i in rec["lifestyle"]["items"] if i["topic"] == "falls")

    assert "Falls screen positive" in falls_advice(rid)
    assert "brochure score 3 (below the at-risk score)" in falls_advice(rid)
    assert falls_advice(patient("FS2")).startswith("Falls screen not done")


def test_two_changes_from_the_same_version_at_once_give_one_change_and_one_conflict(
        clinic: Clinic, patient: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The second writer waits for the first (the patient's row is locked before its version is compared), then
    finds the version changed: a Conflict, not the store's own stale-row error (a 500 on PostgreSQL before)."""
    import threading

    from osteocare.services import history as sh

    rid = patient("H-RACE")
    version = history_of(clinic, rid).version
    real, reached, calls = sh.parse_record, threading.Event(), []

    def slow(data: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # the first writer holds its transaction open a moment after reading the version
            reached.set()
            threading.Event().wait(1.0)
        return real(data)

    monkeypatch.setattr(sh, "parse_record", slow)
    outcome: dict[str, object] = {}

    def change(name: str, kg: float) -> None:
        try:
            outcome[name] = update_history(clinic, rid, {"weight_kg": kg}, expected_version=version).values["weight_kg"]
        except Exception as exc:
            outcome[name] = exc

    first = threading.Thread(target=change, args=("first", 60.0))
    first.start()
    assert reached.wait(10)
    change("second", 48.0)
    first.join(20)
    assert outcome["first"] == 60.0, outcome
    assert isinstance(outcome["second"], Conflict), outcome
    assert history_of(clinic, rid).values["weight_kg"] == 60.0


def test_a_change_the_active_course_must_not_have_is_saved_and_named_in_the_warnings(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    from osteocare.services.courses import start_course

    rid = patient("H-RLX")
    start_course(clinic, rid, "raloxifene", start_date=TODAY)
    assert update_history(clinic, rid, {"weight_kg": 56.0}).warnings == []
    view = update_history(clinic, rid, {"menopausal_status": "premenopausal"})
    assert view.values["menopausal_status"] == "premenopausal"  # saved: the clinician decides about the course
    assert len(view.warnings) == 1 and "Active course of" in view.warnings[0] and "must not" in view.warnings[0]
    assert update_history(clinic, rid, {"menopausal_status": "premenopausal"}).warnings == []  # nothing changed


def test_a_frax_country_longer_than_the_store_keeps_is_refused_naming_it(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("H-FC")
    with pytest.raises(InputError) as e:
        update_history(clinic, rid, {"frax_country": "V" * 65})
    assert e.value.field == "frax_country" and "at most 64 characters" in str(e.value)
    assert update_history(clinic, rid, {"frax_country": "V" * 64}).values["frax_country"] == "V" * 64


def test_a_frax_country_stored_before_the_rule_stays_readable_and_can_be_corrected(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """A name with a line break (or longer than 64 characters, which SQLite kept) stored by an older version: the
    record reads it back as stored, a change of another field names it, and correcting it works."""
    from sqlalchemy import update

    from osteocare.store import models as m

    rid = patient("H-OLD-FC")
    with clinic.db.write() as s:
        s.execute(update(m.Patient).where(m.Patient.record_id == rid).values(frax_country="UK\nUS"))
    assert get_record(clinic, rid).frax_country == "UK\nUS"
    assert history_of(clinic, rid).values["frax_country"] == "UK\nUS"
    with pytest.raises(InputError, match="frax_country"):
        update_history(clinic, rid, {"weight_kg": 56.0})
    assert update_history(clinic, rid, {"frax_country": "UK", "weight_kg": 56.0}).values["frax_country"] == "UK"
