"""Courses: the contraindication check is shown and kept; a 'must not' needs a written reason; stopping rules."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest

from osteocare.core.errors import InputError
from osteocare.services.appointments import patient_schedule
from osteocare.services.assessments import as_given, assess_and_store, get_assessment
from osteocare.services.context import Clinic
from osteocare.services.courses import check_course, courses_of, start_course, stop_course
from osteocare.services.doses import record_dose
from osteocare.services.errors import Conflict, InvalidState, NotFound, OverrideRequired
from osteocare.services.patients import get_record
from osteocare.services.reactions import record_reaction

TODAY = dt.date(2025, 3, 3)  # the clinic fixture's "today"

D = dt.date


def test_it_refuses_a_must_not_without_a_written_reason_and_writes_nothing(clinic: Clinic,
                                                                           patient: Callable[..., str]) -> None:
    rid = patient(conditions=[{"code": "pregnancy", "onset": "2025-01-01"}], age=35,
                  menopausal_status="premenopausal")
    report = check_course(clinic, rid, "denosumab")
    assert "DMAB-CI-PREG" in {f.rule_id for f in report.must_not}
    with pytest.raises(OverrideRequired) as exc:
        start_course(clinic, rid, "denosumab")
    assert "DMAB-CI-PREG" in {f["rule_id"] for f in exc.value.findings}
    assert courses_of(clinic, rid) == []
    assert patient_schedule(clinic, rid) == []
    with pytest.raises(OverrideRequired):
        start_course(clinic, rid, "denosumab", override_reason="   ")


def test_with_a_reason_the_override_and_the_check_as_shown_are_kept(clinic: Clinic,
                                                                    patient: Callable[..., str]) -> None:
    rid = patient(conditions=[{"code": "pregnancy", "onset": "2025-01-01"}], age=35,
                  menopausal_status="premenopausal")
    c = start_course(clinic, rid, "denosumab", override_reason="Specialist decision, documented in the notes")
    assert c.override_reason == "Specialist decision, documented in the notes"
    assert "DMAB-CI-PREG" in {f.rule_id for f in c.check.findings}
    assert c.check.as_of == TODAY
    stored = courses_of(clinic, rid)[0]
    assert stored.check == c.check


def test_a_course_can_start_from_a_stored_recommendation(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    a = assess_and_store(clinic, rid)
    again = get_assessment(clinic, a.id)
    assert again.result_json == a.result_json  # shown exactly as it was given
    assert as_given(again).provenance.knowledge_version == a.knowledge_version
    assert again.as_of == TODAY
    c = start_course(clinic, rid, "alendronate", origin="recommendation", assessment_id=a.id)
    assert (c.origin, c.assessment_id) == ("recommendation", a.id)
    with pytest.raises(InputError):
        start_course(clinic, rid, "risedronate", origin="recommendation")
    with pytest.raises(NotFound):
        start_course(clinic, rid, "risedronate", origin="recommendation", assessment_id=a.id + 99)


def test_one_active_course_per_drug(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    start_course(clinic, rid, "alendronate")
    with pytest.raises(Conflict):
        start_course(clinic, rid, "alendronate")


def test_a_drug_without_an_interval_cannot_run_as_a_course(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    with pytest.raises(InputError, match="interval"):
        start_course(clinic, rid, "calcium")
    with pytest.raises(InputError):
        start_course(clinic, rid, "no_such_drug")


def test_review_points_come_from_the_sequencing_knowledge(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    oral = start_course(clinic, rid, "alendronate", start_date=D(2020, 2, 29))
    iv = start_course(clinic, rid, "zoledronic_acid", start_date=D(2024, 2, 29))
    dmab = start_course(clinic, patient("P2"), "denosumab", start_date=D(2024, 8, 31))
    assert (oral.review_on, oral.review_rule) == (D(2025, 2, 28), "BP-HOLIDAY-1")  # 5 years oral
    assert (iv.review_on, iv.review_rule) == (D(2027, 2, 28), "BP-HOLIDAY-1")  # 3 years IV
    assert (dmab.review_on, dmab.review_rule) == (D(2029, 8, 31), "DMAB-REEVAL")
    rules = {i.rule_id for i in patient_schedule(clinic, rid)}
    assert {"BP-HOLIDAY-1", "MON-ANNUAL", "BHOF-MON"} <= rules


def test_the_follow_up_dxa_says_the_guidelines_own_sentence(clinic: Clinic, patient: Callable[..., str]) -> None:
    """The follow-up DXA's reason is BHOF's monitoring sentence as the guideline file has it (it was a copy in code
    that would not follow the knowledge), with the window the monitoring fact gives."""
    from pathlib import Path

    import yaml

    src = Path(__file__).resolve().parents[2] / "src" / "osteocare" / "knowledge" / "guidelines" / "bhof-2022.yaml"
    bhof = yaml.safe_load(src.read_text(encoding="utf-8"))
    sentence = bhof["facts"]["BHOF-MON"]["value"]
    rid = patient()
    start_course(clinic, rid, "alendronate", start_date=D(2024, 3, 1))
    [dxa] = [i for i in patient_schedule(clinic, rid) if i.kind == "dxa"]
    assert dxa.reason_parts[0].template == sentence and dxa.due_on == D(2025, 3, 1)
    assert dxa.reason.startswith(sentence) and "2026-03-01" in dxa.reason and dxa.fact_status == "secondary"


def test_the_anabolic_lifetime_limit_counts_earlier_pth_analogue_use(clinic: Clinic,
                                                                     patient: Callable[..., str]) -> None:
    rid = patient(medications=[{"drug": "teriparatide", "start": "2023-01-01", "end": "2023-12-31"}])
    c = start_course(clinic, rid, "abaloparatide", start_date=D(2025, 1, 1), override_reason="checked")
    used = 365
    assert c.review_rule == "ANAB-COURSE-END"
    assert c.review_on == D(2025, 1, 1) + dt.timedelta(days=730 - used - 1)
    assert any("365 days" in w for w in c.warnings)


def test_romosozumab_completes_after_its_twelfth_dose(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    c = start_course(clinic, rid, "romosozumab", start_date=D(2024, 1, 5))
    day = D(2024, 1, 5)
    res = None
    for n in range(12):
        res = record_dose(clinic, course_id=c.id, given_on=day, lot_number=f"R{n}")
        if res.next_item is not None:
            day = res.next_item.due_on
    assert res is not None and res.course_completed and res.next_item is None
    done = courses_of(clinic, rid)[0]
    assert (done.status, done.doses_given, done.review_rule) == ("completed", 12, "ANAB-THEN-AR-ROMO")
    with pytest.raises(InvalidState):
        record_dose(clinic, course_id=c.id, given_on=TODAY, lot_number="R13")


def test_stopping_denosumab_warns_and_schedules_the_follow_on(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    c = start_course(clinic, rid, "denosumab", start_date=D(2024, 6, 3))
    record_dose(clinic, course_id=c.id, given_on=D(2024, 6, 3), lot_number="A")
    stopped = stop_course(clinic, c.id, reason="patient moved to zoledronic acid", stop_date=D(2024, 9, 1))
    assert stopped.status == "stopped"
    assert any("DMAB-NOSTOP" in w for w in stopped.warnings)
    items = patient_schedule(clinic, rid)
    assert [(i.rule_id, i.due_on) for i in items if i.kind == "review" and i.rule_id == "DMAB-SWITCH"] == [
        ("DMAB-SWITCH", D(2024, 12, 3))]
    assert not [i for i in items if i.kind == "dose"]
    with pytest.raises(InvalidState):
        stop_course(clinic, c.id, reason="again")


def test_an_intolerance_changes_the_next_contraindication_check(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    c = start_course(clinic, rid, "zoledronic_acid", start_date=D(2025, 1, 6))
    dose = record_dose(clinic, course_id=c.id, given_on=D(2025, 1, 6), lot_number="Z")
    assert check_course(clinic, rid, "zoledronic_acid").must_not == []
    r = record_reaction(clinic, rid, kind="allergy", severity="severe", dose_id=dose.dose.id,
                        onset_on=D(2025, 1, 6), outcome="resolved", resolved_on=D(2025, 1, 8), intolerance=True)
    assert (r.drug, r.course_id) == ("zoledronic_acid", c.id)
    rec = get_record(clinic, rid)
    assert [(i.drug, i.severity) for i in rec.intolerances] == [("zoledronic_acid", "severe")]
    assert "hypersensitivity" in rec.intolerances[0].reaction
    assert [f.rule_id for f in check_course(clinic, rid, "zoledronic_acid").must_not] == ["ZOL-CI-HYPERSENS"]


def test_the_stored_check_is_json_with_findings_statuses_and_citations(clinic: Clinic,
                                                                        patient: Callable[..., str]) -> None:
    rid = patient(conditions=[{"code": "active_upper_gi_disease", "onset": "2024-01-01"}])
    c = start_course(clinic, rid, "alendronate", override_reason="gastroenterologist agrees")
    data = json.loads(c.check.model_dump_json())
    finding = next(f for f in data["findings"] if f["rule_id"] == "ALN-RCI-UGI")
    assert finding["kind"] == "caution" and finding["status"] == "verified" and finding["citation"]


def test_stopping_an_anabolic_course_puts_the_follow_on_antiresorptive_on_the_schedule(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    c = start_course(clinic, rid, "teriparatide", start_date=D(2024, 3, 1), override_reason="checked")
    stopped = stop_course(clinic, c.id, reason="course finished early", stop_date=D(2025, 2, 1))
    assert any("ANAB-THEN-AR-PTH" in w for w in stopped.warnings)
    assert [(i.rule_id, i.due_on) for i in patient_schedule(clinic, rid) if i.kind == "review"] == [
        ("ANAB-THEN-AR-PTH", D(2025, 2, 1))]


def test_a_drug_outside_the_recommendation_is_started_with_a_note(clinic: Clinic,
                                                                  patient: Callable[..., str]) -> None:
    rid = patient()
    a = assess_and_store(clinic, rid)
    offered = [o["drug"] for o in (a.result.get("recommendation") or {}).get("options", [])]
    other = next(d for d in ("raloxifene", "calcitriol", "ibandronate") if d not in offered)
    c = start_course(clinic, rid, other, origin="recommendation", assessment_id=a.id, override_reason="chosen")
    assert any("not among the options" in w for w in c.warnings)
