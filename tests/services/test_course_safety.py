"""Running a course safely: what a review of the course services found and reproduced (each test failed before
its fix). A denosumab dose given elsewhere dates the new course's first dose; a pre-dose lab out of bounds holds
the dose back; a reaction read as an allergy leaves the drug out of the stored assessment's options; starting the
follow-on drug closes the follow-on review; a hypocalcaemia recorded as resolved stops holding the drug back;
concurrent changes of one course or appointment are serialised; over-long dose fields are refused by name."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from osteocare.core.errors import InputError
from osteocare.services.appointments import complete_item, patient_schedule
from osteocare.services.assessments import assess_and_store
from osteocare.services.context import Clinic
from osteocare.services.courses import get_course, start_course, stop_course
from osteocare.services.doses import record_dose
from osteocare.services.entries import add_entry
from osteocare.services.errors import InvalidState, OverrideRequired
from osteocare.services.facts import add_lab
from osteocare.services.patients import add_patient
from osteocare.services.reactions import record_reaction

TODAY = dt.date(2025, 3, 3)  # the clinic fixture's "today"


def _labs_on(clinic: Clinic, rid: str, day: dt.date) -> None:
    """The fixture's normal baseline labs, dated ``day`` (for a course started before the fixture's labs)."""
    add_lab(clinic, rid, name="creatinine", value=70, unit="umol/L", date=day)
    add_lab(clinic, rid, name="calcium", value=2.35, unit="mmol/L", date=day, reference_low=2.1, reference_high=2.6)
    add_lab(clinic, rid, name="vitamin_d_25oh", value=35, unit="ng/mL", date=day)


def _dose_item(clinic: Clinic, rid: str) -> Any:
    return next(i for i in patient_schedule(clinic, rid) if i.kind == "dose")


def test_a_denosumab_dose_given_elsewhere_dates_the_first_dose_and_an_early_one_is_named(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """Last injection 2025-01-15 in the medication history: denosumab is given every 6 months
    (drug-denosumab#interval_months), so the course started 2025-03-03 has its first dose due 2025-07-15, and a
    dose recorded today (47 days after the last) says it is early. Before: due today, recorded without a word."""
    rid = patient("CS1")
    add_entry(clinic, rid, "medication", {"drug": "denosumab", "start": "2024-07-15", "last_dose": "2025-01-15"})
    view = start_course(clinic, rid, "denosumab")
    assert _dose_item(clinic, rid).due_on == dt.date(2025, 7, 15)
    assert any("First dose due 2025-07-15" in w and "2025-01-15" in w for w in view.warnings), view.warnings
    done = record_dose(clinic, course_id=view.id, lot_number="LOT1")
    assert any(w.startswith("Early dose") and "47 days before" in w for w in done.warnings), done.warnings


def test_a_low_calcium_holds_back_a_dose_given_today_and_is_named_when_the_course_starts(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """Calcium 1.75 mmol/L against the laboratory's 2.1-2.6 two days before: the course start says the first dose
    waits for it, and the dose needs a written reason (it was recorded with a warning only)."""
    rid = patient("CS2")
    add_lab(clinic, rid, name="calcium", value=1.75, unit="mmol/L", date=TODAY - dt.timedelta(days=2),
            reference_low=2.1, reference_high=2.6)
    view = start_course(clinic, rid, "denosumab")
    assert any(w.startswith("Before the first dose: pre-dose check serum_calcium") and "low" in w
               for w in view.warnings), view.warnings
    with pytest.raises(OverrideRequired) as e:
        record_dose(clinic, course_id=view.id, lot_number="LOT1")
    assert "PREDOSE-serum_calcium" in str(e.value)
    assert get_course(clinic, view.id).doses_given == 0
    done = record_dose(clinic, course_id=view.id, lot_number="LOT1", override_reason="calcium corrected IV today")
    assert any("PREDOSE-serum_calcium overridden" in w for w in done.warnings), done.warnings


def test_an_allergy_reaction_not_ticked_as_an_intolerance_leaves_the_drug_out_of_the_stored_options(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("CS3", femoral_neck_t_score=-3.5)
    before = json.loads(assess_and_store(clinic, rid).result_json)["recommendation"]["options"]
    first = before[0]["drug"]
    record_reaction(clinic, rid, kind="allergy", severity="severe", drug=first, onset_on=dt.date(2025, 2, 1),
                    description="anaphylaxis")
    after = json.loads(assess_and_store(clinic, rid).result_json)["recommendation"]["options"]
    assert first not in [o["drug"] for o in after]


def test_starting_the_follow_on_drug_closes_the_follow_on_review_after_denosumab(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """Denosumab stopped: DMAB-SWITCH is due 6 months after the last injection. Zoledronic acid started closes it
    (it stayed open and turned into an urgent alert)."""
    rid = patient("CS4")
    _labs_on(clinic, rid, dt.date(2024, 5, 20))
    dmab = start_course(clinic.on(dt.date(2024, 6, 3)), rid, "denosumab", start_date=dt.date(2024, 6, 3))
    record_dose(clinic.on(dt.date(2024, 6, 3)), course_id=dmab.id, lot_number="LOT1")
    stop_course(clinic.on(dt.date(2024, 11, 1)), dmab.id, reason="switch", stop_date=dt.date(2024, 11, 1))
    switch = [i for i in patient_schedule(clinic, rid) if i.rule_id == "DMAB-SWITCH"]
    assert [i.due_on for i in switch] == [dt.date(2024, 12, 3)]
    zol = start_course(clinic, rid, "zoledronic_acid")
    assert any(f"follow-on review DMAB-SWITCH (appointment {switch[0].id}) is closed" in w for w in zol.warnings)
    assert not [i for i in patient_schedule(clinic, rid) if i.rule_id == "DMAB-SWITCH"]


def test_a_hypocalcaemia_recorded_as_resolved_without_a_date_stops_holding_the_drug_back(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("CS5")
    _labs_on(clinic, rid, dt.date(2024, 5, 20))
    view = start_course(clinic.on(dt.date(2024, 9, 2)), rid, "denosumab", start_date=dt.date(2024, 9, 2))
    dose = record_dose(clinic.on(dt.date(2024, 9, 2)), course_id=view.id, lot_number="LOT1")
    r = record_reaction(clinic.on(dt.date(2024, 9, 20)), rid, kind="hypocalcaemia", severity="mild",
                        dose_id=dose.dose.id, onset_on=dt.date(2024, 9, 15), outcome="resolved")
    assert r.resolved_on == dt.date(2024, 9, 20)
    nxt = record_dose(clinic, course_id=view.id, lot_number="LOT2")  # was: OverrideRequired DMAB-CI-HYPOCA
    assert nxt.dose.given_on == TODAY


def test_over_long_dose_fields_are_refused_by_name_with_nothing_written(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """The store's columns: body site 40, lot 64, given by 120 characters (a DataError, 500, on PostgreSQL)."""
    rid = patient("CS6")
    view = start_course(clinic, rid, "denosumab")
    for field, value in (("body_site", "left upper arm, lateral aspect, 5 cm below"), ("lot_number", "L" * 65),
                         ("given_by", "n" * 121)):
        kwargs: dict[str, Any] = {"lot_number": "LOT1", field: value}
        with pytest.raises(InputError, match=field):
            record_dose(clinic, course_id=view.id, **kwargs)
    assert get_course(clinic, view.id).doses_given == 0


def test_a_course_cannot_be_stopped_before_its_last_dose(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("CS7")
    _labs_on(clinic, rid, dt.date(2024, 5, 20))
    view = start_course(clinic.on(dt.date(2024, 9, 2)), rid, "denosumab", start_date=dt.date(2024, 9, 2))
    record_dose(clinic.on(dt.date(2024, 9, 2)), course_id=view.id, lot_number="LOT1")
    record_dose(clinic.on(dt.date(2025, 3, 3)), course_id=view.id, lot_number="LOT2")
    with pytest.raises(InputError, match=r"stop_date.*last dose"):
        stop_course(clinic, view.id, reason="x", stop_date=dt.date(2024, 10, 1))


def test_a_course_stopped_while_its_dose_is_recorded_leaves_no_open_dose(
        clinic: Clinic, patient: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The dose holds the course while it plans the next one; the stop waits, then cancels what is open (before,
    on PostgreSQL, the stop cancelled the old appointment and the dose then opened the next on a stopped course)."""
    from osteocare.services import doses as sd

    rid = patient("CS8")
    view = start_course(clinic, rid, "denosumab")
    real, reached = sd.after_dose, threading.Event()

    def slow(*a: Any, **k: Any) -> Any:
        out = real(*a, **k)
        reached.set()
        threading.Event().wait(1.0)
        return out

    monkeypatch.setattr(sd, "after_dose", slow)
    outcome: dict[str, object] = {}

    def dose() -> None:
        try:
            outcome["dose"] = record_dose(clinic, item_id=_dose_item(clinic, rid).id, lot_number="LOT1")
        except Exception as exc:
            outcome["dose"] = exc

    t = threading.Thread(target=dose)
    t.start()
    assert reached.wait(10)
    stop_course(clinic, view.id, reason="patient declines")
    t.join(20)
    assert not isinstance(outcome["dose"], Exception), outcome
    open_doses = [i for i in patient_schedule(clinic, rid) if i.kind == "dose"]
    assert open_doses == []
    assert get_course(clinic, view.id).status == "stopped"


def test_one_annual_review_completed_twice_at_once_plans_one_next_review(
        clinic: Clinic, patient: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    from osteocare.services import appointments as sa

    rid = patient("CS9")
    start_course(clinic, rid, "alendronate")
    annual = next(i for i in patient_schedule(clinic, rid) if i.rule_id == "MON-ANNUAL")
    real, reached, calls = sa.annual_review, threading.Event(), []

    def slow() -> Any:
        calls.append(1)
        if len(calls) == 1:
            reached.set()
            threading.Event().wait(1.0)
        return real()

    monkeypatch.setattr(sa, "annual_review", slow)
    outcome: dict[str, object] = {}

    def complete(name: str) -> None:
        try:
            outcome[name] = complete_item(clinic.as_actor(name), annual.id)
        except Exception as exc:
            outcome[name] = exc

    t = threading.Thread(target=complete, args=("nurseA",))
    t.start()
    assert reached.wait(10)
    complete("nurseB")
    t.join(20)
    assert isinstance(outcome["nurseB"], InvalidState), outcome
    nxt = [i for i in patient_schedule(clinic, rid) if i.rule_id == "MON-ANNUAL"]
    assert len(nxt) == 1, nxt


def test_romosozumab_counts_the_doses_given_not_the_months_to_the_stop(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """Six monthly doses from 2024-01-08 (the last 2024-06-08), stopped 2025-01-10: six of the 12 doses
    (ROMO-MAX) are used; counting the months to the stop (13) refused a restart as "must not"."""
    from osteocare.core.schedule import add_months
    from osteocare.services.courses import check_course

    rid = patient("CS10")
    _labs_on(clinic, rid, dt.date(2023, 12, 20))
    view = start_course(clinic.on(dt.date(2024, 1, 8)), rid, "romosozumab", start_date=dt.date(2024, 1, 8),
                        override_reason="reviewed")
    for k in range(6):
        day = add_months(dt.date(2024, 1, 8), k)
        record_dose(clinic.on(day), course_id=view.id, lot_number=f"R{k}", given_on=day)
    stop_course(clinic.on(dt.date(2025, 1, 10)), view.id, reason="dental extraction", stop_date=dt.date(2025, 1, 10))
    assert "ROMO-MAX" not in [f.rule_id for f in check_course(clinic, rid, "romosozumab").findings]


def test_a_follow_on_stopped_before_any_dose_opens_the_follow_on_review_again(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """Denosumab stopped; alendronate started (DMAB-SWITCH closed), then stopped with no dose recorded: the review
    is open again with its due date, so the late follow-on still becomes an urgent alert (DMAB-NOSTOP)."""
    from osteocare.services.alerts import patient_alerts

    rid = patient("CS11")
    dmab = start_course(clinic, rid, "denosumab")
    record_dose(clinic, course_id=dmab.id, lot_number="LOT1")
    stop_course(clinic, dmab.id, reason="switch planned")
    aln = start_course(clinic, rid, "alendronate")
    assert not [i for i in patient_schedule(clinic, rid) if i.rule_id == "DMAB-SWITCH"]
    stopped = stop_course(clinic, aln.id, reason="started in error")
    assert any("DMAB-SWITCH" in w and "open again" in w and "2025-09-03" in w for w in stopped.warnings)
    assert [i.due_on for i in patient_schedule(clinic, rid) if i.rule_id == "DMAB-SWITCH"] == [dt.date(2025, 9, 3)]
    assert ("DMAB-URGENT", "urgent") in [(a.rule_id, a.severity) for a in
                                         patient_alerts(clinic, rid, today=dt.date(2025, 10, 1))]


def test_a_high_calcium_or_a_25ohd_below_the_target_warns_and_does_not_hold_the_dose_back(db: Any) -> None:
    """The labels say correct hypocalcaemia (a low calcium) first; a calcium just above the range (2.62 against
    2.1-2.6) is shown to review, and 25(OH)D 28 ng/mL, below BHOF's 30 ng/mL target but with no deficiency
    recorded (FIX-VITD is a condition), is a warning: neither needs a doctor's written reason."""
    from osteocare.core.records import PatientRecord
    from osteocare.settings import get_settings

    bhof = Clinic(db, get_settings({"OSTEOCARE_DATABASE_URL": db.url, "OSTEOCARE_GUIDELINE": "bhof-2022"}), "tester",
                  fixed_today=TODAY)
    for rid, ca, vd in (("CS12", 2.62, 35), ("CS13", 2.35, 28)):
        add_patient(bhof, PatientRecord.model_validate({"id": rid, "sex": "female", "age": 70, "weight_kg": 55.0,
                                                        "height_cm": 155.0, "femoral_neck_t_score": -2.8}))
        day = TODAY - dt.timedelta(days=5)
        add_lab(bhof, rid, name="creatinine", value=70, unit="umol/L", date=day)
        add_lab(bhof, rid, name="calcium", value=ca, unit="mmol/L", date=day, reference_low=2.1, reference_high=2.6)
        add_lab(bhof, rid, name="vitamin_d_25oh", value=vd, unit="ng/mL", date=day)
        view = start_course(bhof, rid, "denosumab")
        done = record_dose(bhof, course_id=view.id, lot_number="LOT1")
        assert any(w.startswith("Pre-dose check") for w in done.warnings), done.warnings


def test_a_check_the_clinician_answered_not_ok_still_holds_the_dose_back(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """A myocardial infarction two months ago, answered "not OK" by hand before romosozumab: the dose waits for a
    doctor's reason (limiting the gate to the lab checks let it through with a warning)."""
    from osteocare.services.doses import confirm_check

    rid = patient("CS14")
    view = start_course(clinic, rid, "romosozumab", override_reason="reviewed")
    confirm_check(clinic, _dose_item(clinic, rid).id, "mi_stroke_history", outcome="not_ok",
                  detail="MI 2025-01-10 (2 months ago)")
    with pytest.raises(OverrideRequired, match="PREDOSE-mi_stroke_history"):
        record_dose(clinic, course_id=view.id, lot_number="LOT1")


def test_a_follow_on_review_closed_by_one_course_opens_again_when_the_last_follow_on_stops_without_a_dose(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """Denosumab stopped; zoledronic acid started (it closes DMAB-SWITCH) and alendronate too; zoledronic acid
    stopped (alendronate still covers the review), then alendronate: no follow-on given, the review is open."""
    rid = patient("CS15")
    dmab = start_course(clinic, rid, "denosumab")
    record_dose(clinic, course_id=dmab.id, lot_number="LOT1")
    stop_course(clinic, dmab.id, reason="switch planned")
    zol = start_course(clinic, rid, "zoledronic_acid")
    aln = start_course(clinic, rid, "alendronate")
    first = stop_course(clinic, zol.id, reason="declined the infusion")
    assert not [w for w in first.warnings if "open again" in w]  # alendronate still covers it
    assert not [i for i in patient_schedule(clinic, rid) if i.rule_id == "DMAB-SWITCH"]
    last = stop_course(clinic, aln.id, reason="declined")
    assert any("DMAB-SWITCH" in w and "open again" in w for w in last.warnings), last.warnings
    assert [i.rule_id for i in patient_schedule(clinic, rid) if i.rule_id == "DMAB-SWITCH"] == ["DMAB-SWITCH"]


def test_a_follow_on_given_keeps_the_review_closed_when_its_course_stops(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """Zoledronic acid infused once after denosumab, then its course stopped: the follow-on was given."""
    rid = patient("CS16")
    dmab = start_course(clinic.on(dt.date(2024, 6, 3)), rid, "denosumab", start_date=dt.date(2024, 6, 3))
    _labs_on(clinic, rid, dt.date(2024, 5, 20))
    record_dose(clinic.on(dt.date(2024, 6, 3)), course_id=dmab.id, lot_number="LOT1")
    stop_course(clinic.on(dt.date(2024, 11, 1)), dmab.id, reason="switch", stop_date=dt.date(2024, 11, 1))
    zol = start_course(clinic, rid, "zoledronic_acid")
    record_dose(clinic, course_id=zol.id, lot_number="Z1")
    done = stop_course(clinic, zol.id, reason="single infusion planned")
    assert not [w for w in done.warnings if "open again" in w]
    assert not [i for i in patient_schedule(clinic, rid) if i.rule_id == "DMAB-SWITCH"]
