"""The terminal report of ``osteocare assess``: every warning once, where a clinician looks for it."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

from rich.console import Console

from osteocare.core.assessment import assess
from osteocare.core.records import PatientRecord
from osteocare.report import INTENDED_USE, render

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hanoi-woman-72.json"
AS_OF = dt.date(2026, 11, 25)


def _report() -> tuple[str, list[str], list[str]]:
    """(the report as one line, the assessment's warnings, the treatment's own warnings)."""
    a = assess(PatientRecord.model_validate(json.loads(EXAMPLE.read_text(encoding="utf-8"))), as_of=AS_OF)
    buf = io.StringIO()
    render(a, Console(file=buf, width=100, color_system=None))
    return " ".join(buf.getvalue().replace("│", " ").split()), a.warnings, a.recommendation["warnings"]


def test_each_warning_is_shown_once_the_treatments_own_with_the_treatment() -> None:
    out, warnings, treatment = _report()
    assert treatment and set(treatment) <= set(warnings) and set(warnings) - set(treatment)
    for w in warnings:
        assert out.count(" ".join(w.split())) == 1, w  # was: the treatment's twice (Act on, and Warnings)
    act_on, rest = out.split("Warnings (left out, or not fully confirmed)")
    assert all(" ".join(w.split()) in act_on for w in treatment)
    assert all(" ".join(w.split()) in rest for w in warnings if w not in treatment)
    assert 'The treatment\'s own warnings are under "Act on", above.' in rest


def test_the_statuses_stay_visible_and_decision_support_is_said_once() -> None:
    out, warnings, _treatment = _report()
    assert any("(status: unverified)" in w for w in warnings) and any("(status: secondary)" in w for w in warnings)
    assert out.count("(status: unverified)") >= sum("(status: unverified)" in w for w in warnings)
    assert out.count("(status: secondary)") >= sum("(status: secondary)" in w for w in warnings)
    assert "[status: unverified]" in out
    assert out.count("Decision support") == 1 and " ".join(INTENDED_USE.split()) in out
