"""Clinical-safety checks at course start and before each dose: reactions, undecided kidney checks, fix-first
findings, dose spacing and late denosumab doses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from osteocare.core.records import Condition
from osteocare.services.context import Clinic
from osteocare.services.courses import check_course, start_course, stop_course
from osteocare.services.doses import doses_of, predose_checks, record_dose
from osteocare.services.errors import OverrideRequired
from osteocare.services.facts import add_condition, add_lab
from osteocare.services.reactions import record_reaction

TODAY = dt.date(2025, 3, 3)


def _labs(clinic: Clinic, rid: str, day: dt.date) -> None:
    add_lab(clinic, rid, name="creatinine", value=70, unit="umol/L", date=day)
    add_lab(clinic, rid, name="calcium", value=2.35, unit="mmol/L", date=day, reference_low=2.1, reference_high=2.6)
    add_lab(clinic, rid, name="vitamin_d_25oh", value=35, unit="ng/mL", date=day)


def _ids(exc: pytest.ExceptionInfo[OverrideRequired]) -> list[str]:
    return [str(f["rule_id"]) for f in exc.value.findings]


# --- 1. a reaction recorded during a course stops the next dose -------------------------------------------------


def test_a_hypersensitivity_reaction_mid_course_blocks_the_next_dose(clinic: Clinic,
                                                                     patient: Callable[..., str]) -> None:
    rid = patient("R1")
    start = TODAY - dt.timedelta(days=200)
    _labs(clinic, rid, start)
    c = start_course(clinic, rid, "denosumab", start_date=start)
    d1 = record_dose(clinic, course_id=c.id, given_on=start, lot_number="A")
    record_reaction(clinic, rid, kind="allergy", severity="severe", dose_id=d1.dose.id, onset_on=start,
                    intolerance=True, description="anaphylaxis")
    checks = predose_checks(clinic, d1.next_item.id if d1.next_item else 0)
    assert checks[0].check_id == "contraindication_check" and checks[0].outcome == "not_ok"
    assert "DMAB-CI-HYPERSENS" in checks[0].detail
    with pytest.raises(OverrideRequired) as exc:
        record_dose(clinic, course_id=c.id, lot_number="B")
    assert "DMAB-CI-HYPERSENS" in _ids(exc)
    assert len(doses_of(clinic, rid)) == 1  # nothing written
    res = record_dose(clinic, course_id=c.id, lot_number="B", override_reason="allergist: desensitisation protocol")
    assert any("DMAB-CI-HYPERSENS" in w and "overridden" in w for w in res.warnings)
    assert len(doses_of(clinic, rid)) == 2


# --- 2. reactions feed the contraindication rules ----------------------------------------------------------------


def test_an_allergy_reaction_counts_as_hypersensitivity_without_the_intolerance_flag(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("Z2")
    c = start_course(clinic, rid, "zoledronic_acid", start_date=TODAY)
    d = record_dose(clinic, course_id=c.id, lot_number="L1")
    record_reaction(clinic, rid, kind="allergy", severity="severe", dose_id=d.dose.id, onset_on=TODAY,
                    description="anaphylaxis")
    stop_course(clinic, c.id, reason="anaphylaxis")
    report = check_course(clinic, rid, "zoledronic_acid")
    assert "ZOL-CI-HYPERSENS" in [f.rule_id for f in report.findings if f.kind == "must_not"]
    with pytest.raises(OverrideRequired) as exc:
        start_course(clinic, rid, "zoledronic_acid")
    assert "ZOL-CI-HYPERSENS" in _ids(exc)


def test_a_hypocalcaemia_reaction_feeds_the_hypocalcaemia_rule(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("H1")
    start = TODAY - dt.timedelta(days=200)
    _labs(clinic, rid, start)
    c = start_course(clinic, rid, "denosumab", start_date=start)
    d = record_dose(clinic, course_id=c.id, given_on=start, lot_number="A")
    record_reaction(clinic, rid, kind="hypocalcaemia", severity="severe", dose_id=d.dose.id,
                    onset_on=start + dt.timedelta(days=10), intolerance=True)
    report = check_course(clinic, rid, "denosumab")
    assert "DMAB-CI-HYPOCA" in [f.rule_id for f in report.findings]
    with pytest.raises(OverrideRequired) as exc:
        record_dose(clinic, course_id=c.id, lot_number="B")
    assert "DMAB-CI-HYPOCA" in _ids(exc)


# --- 3. an undecided kidney check blocks like a hit -------------------------------------------------------------


def test_an_undecided_kidney_rule_needs_an_override_and_names_the_missing_weight(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("K1", labs=False, age=80, weight_kg=None, height_cm=None)
    add_lab(clinic, rid, name="creatinine", value=450, unit="umol/L", date=TODAY)
    with pytest.raises(OverrideRequired) as exc:
        start_course(clinic, rid, "zoledronic_acid")
    assert "ZOL-KIDNEY" in _ids(exc)
    kidney = next(f for f in exc.value.findings if f["rule_id"] == "ZOL-KIDNEY")
    assert "weight" in kidney["text"]
    c = start_course(clinic, rid, "zoledronic_acid", override_reason="weight to be measured before the infusion")
    assert c.override_reason


def test_without_any_creatinine_a_bisphosphonate_needs_an_override(clinic: Clinic,
                                                                   patient: Callable[..., str]) -> None:
    rid = patient("K2", labs=False)
    with pytest.raises(OverrideRequired) as exc:
        start_course(clinic, rid, "alendronate")
    kidney = next(f for f in exc.value.findings if f["rule_id"] == "ALN-KIDNEY")
    assert "creatinine" in kidney["text"]


# --- 4. fix_first blocks until overridden --------------------------------------------------------------------------


def test_a_fix_first_finding_blocks_the_start_until_overridden(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("Z3")
    add_condition(clinic, rid, Condition(code="hypocalcaemia"))
    with pytest.raises(OverrideRequired) as exc:
        start_course(clinic, rid, "denosumab")
    assert _ids(exc) == ["DMAB-CI-HYPOCA"]
    c = start_course(clinic, rid, "denosumab", override_reason="calcium corrected, repeat pending")
    assert c.override_reason


def test_a_calcium_without_a_reference_range_is_flagged_when_the_dose_is_recorded(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("Z4", labs=False)
    add_lab(clinic, rid, name="creatinine", value=70, unit="umol/L", date=TODAY)
    add_lab(clinic, rid, name="calcium", value=1.5, unit="mmol/L", date=TODAY)
    add_lab(clinic, rid, name="vitamin_d_25oh", value=30, unit="ng/mL", date=TODAY)
    c = start_course(clinic, rid, "zoledronic_acid")
    res = record_dose(clinic, course_id=c.id, lot_number="L")
    assert any("serum_calcium" in w and "reference range not recorded" in w for w in res.warnings)


# --- 5. dose spacing -----------------------------------------------------------------------------------------------


def test_a_dose_earlier_than_the_interval_is_flagged(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("D1")
    start = TODAY - dt.timedelta(days=10)
    c = start_course(clinic, rid, "denosumab", start_date=start)
    record_dose(clinic, course_id=c.id, given_on=start, lot_number="A1")
    res = record_dose(clinic, course_id=c.id, given_on=start + dt.timedelta(days=1), lot_number="A2")
    early = [w for w in res.warnings if w.startswith("Early dose")]
    assert early and "every 6 months" in early[0] and "drug-denosumab#interval_months" in early[0]


def test_a_weekly_tablet_twice_on_one_day_needs_an_override(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("D2")
    c = start_course(clinic, rid, "alendronate", start_date=TODAY)
    record_dose(clinic, course_id=c.id)
    with pytest.raises(OverrideRequired) as exc:
        record_dose(clinic, course_id=c.id)
    assert _ids(exc) == ["DOSE-INTERVAL"]
    assert len(doses_of(clinic, rid)) == 1
    record_dose(clinic, course_id=c.id, override_reason="entered twice on purpose: test of the override")
    assert len(doses_of(clinic, rid)) == 2


# --- 7. a very late denosumab dose -----------------------------------------------------------------------------------


def test_a_very_late_denosumab_dose_carries_a_warning(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("L1")
    start = TODAY - dt.timedelta(days=400)
    _labs(clinic, rid, start)
    c = start_course(clinic, rid, "denosumab", start_date=start)
    record_dose(clinic, course_id=c.id, given_on=start, lot_number="Q1")
    res = record_dose(clinic, course_id=c.id, lot_number="Q2")
    late = [w for w in res.warnings if "days late" in w]
    assert late and "DMAB-URGENT" in late[0]
