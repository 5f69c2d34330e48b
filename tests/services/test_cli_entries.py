"""`osteocare entry list / add / end / delete`, end to end on a SQLite file (registered on a bare Typer app, as
cli.py does): values typed by the field types of the kind's record model, each entry printed with its id, warnings
when a change contraindicates an active course (still exit 0), bad input named with exit 2 and nothing written,
an entry made in error deleted with a reason that the audit log keeps with what it said."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from osteocare.cli_clinic import register
from osteocare.services.context import Clinic
from osteocare.services.entries import KINDS
from osteocare.services.patients import audit_trail
from osteocare.settings import get_settings

app = typer.Typer()
register(app)
runner = CliRunner()

OESOPH_WARNING = ("warning: Active course of Alendronate: the contraindication check now finds ALN-CI-OESOPH (must "
                  "not): Oesophageal abnormalities that delay emptying (stricture, achalasia): absolute "
                  "contraindication.")
NONE = {k: [] for k in KINDS}


def run(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.output


@pytest.fixture
def db(cli_store: tuple[str, Callable[[dict[str, Any]], None]]) -> str:
    """A store with patient P1 (a 70-year-old woman, 55 kg, 155 cm) and P2, neither with any entry."""
    url, add = cli_store
    for rid in ("P1", "P2"):
        add({"id": rid, "sex": "female", "age": 70, "weight_kg": 55, "height_cm": 155,
             "menopausal_status": "postmenopausal"})
    return url


def _entries(rid: str = "P1") -> dict[str, list[dict[str, Any]]]:
    code, out = run("entry", "list", rid, "--json")
    assert code == 0, out
    return json.loads(out)  # type: ignore[no-any-return]


def _writes(url: str, rid: str = "P1") -> list[tuple[str, str, str, Any]]:
    """The entries' writes in the audit trail, newest first: (actor, action, kind, detail)."""
    clinic = Clinic.open(get_settings({"OSTEOCARE_DATABASE_URL": url}))
    try:
        return [(a["actor"], a["action"], a["entity"], json.loads(a["detail"])) for a in audit_trail(clinic, rid)
                if a["action"] != "read" and a["entity"] in KINDS]
    finally:
        clinic.close()


def _added_id(out: str, kind: str) -> int:
    first = out.splitlines()[0]
    assert first.startswith(f"added {kind} "), out
    return int(first.split()[2])


def test_an_empty_list_says_none_recorded_for_each_kind(db: str) -> None:
    code, out = run("entry", "list", "P1")
    assert code == 0, out
    assert out.splitlines() == ["Conditions", "  none recorded", "Medication history", "  none recorded",
                                "Intolerances", "  none recorded", "Falls", "  none recorded", "Fractures",
                                "  none recorded", "Vertebral heights", "  none recorded"]
    assert _entries() == NONE


def test_each_kind_is_added_typed_by_its_fields_and_listed_with_its_id(db: str) -> None:
    code, out = run("entry", "add", "P1", "condition", "code=Atrial fibrillation", "onset=2020-05-01")
    assert code == 0, out
    cond = _added_id(out, "condition")
    assert out == f"added condition {cond} for P1: atrial_fibrillation (Atrial fibrillation), onset 2020-05-01, " \
                  "current\n"
    code, out = run("entry", "add", "P1", "medication", "drug=alendronate", "start=2019-01-01", "end=2022-01-01",
                    "last_dose=none")
    assert code == 0, out
    med = _added_id(out, "medication")
    assert out == f"added medication {med} for P1: alendronate, start 2019-01-01, end 2022-01-01, ended\n"
    code, out = run("entry", "add", "P1", "intolerance", "drug=risedronate", "reaction=heartburn",
                    "severity=moderate", "date=2023-06-01")
    intol = _added_id(out, "intolerance")
    assert (code, out) == (0, f"added intolerance {intol} for P1: risedronate, reaction heartburn, date "
                              "2023-06-01, severity moderate\n")
    code, out = run("entry", "add", "P1", "fall", "date=2025-01-02", "injurious=YES")
    fall = _added_id(out, "fall")
    assert (code, out) == (0, f"added fall {fall} for P1: fall, date 2025-01-02, injurious yes\n")
    code, out = run("entry", "add", "P1", "fall")  # every field of a fall is optional
    undated = _added_id(out, "fall")
    assert (code, out) == (0, f"added fall {undated} for P1: fall, injurious no\n")
    code, out = run("entry", "add", "P1", "fracture", "site=wrist", "date=2024-11-20", "fragility=no")
    frac = _added_id(out, "fracture")
    assert (code, out) == (0, f"added fracture {frac} for P1: wrist, date 2024-11-20, fragility no, "
                              "on_treatment no\n")
    code, out = run("entry", "list", "P1")
    assert code == 0, out
    assert out.splitlines() == [
        "Conditions", f"  {cond}  atrial_fibrillation (Atrial fibrillation), onset 2020-05-01, current",
        "Medication history", f"  {med}  alendronate, start 2019-01-01, end 2022-01-01, ended",
        "Intolerances", f"  {intol}  risedronate, reaction heartburn, date 2023-06-01, severity moderate",
        "Falls", f"  {undated}  fall, injurious no", f"  {fall}  fall, date 2025-01-02, injurious yes",
        "Fractures", f"  {frac}  wrist, date 2024-11-20, fragility no, on_treatment no",
        "Vertebral heights", "  none recorded"]
    assert _entries() == {
        "condition": [{"kind": "condition", "id": cond, "label": "Atrial fibrillation", "current": True,
                       "fields": {"code": "atrial_fibrillation", "onset": "2020-05-01", "resolved": None}}],
        "medication": [{"kind": "medication", "id": med, "label": None, "current": False,
                        "fields": {"drug": "alendronate", "start": "2019-01-01", "end": "2022-01-01",
                                   "last_dose": None}}],
        "intolerance": [{"kind": "intolerance", "id": intol, "label": None, "current": True,
                         "fields": {"drug": "risedronate", "reaction": "heartburn", "date": "2023-06-01",
                                    "severity": "moderate"}}],
        "fall": [{"kind": "fall", "id": undated, "label": None, "current": True,
                  "fields": {"date": None, "injurious": False}},
                 {"kind": "fall", "id": fall, "label": None, "current": True,
                  "fields": {"date": "2025-01-02", "injurious": True}}],
        "fracture": [{"kind": "fracture", "id": frac, "label": None, "current": True,
                      "fields": {"site": "wrist", "date": "2024-11-20", "fragility": False, "on_treatment": False}}],
        "vertebra": [],
    }
    assert [(actor, action, kind) for actor, action, kind, _ in _writes(db)] == [
        ("nurse-cli", "create", k) for k in ("fracture", "fall", "fall", "intolerance", "medication", "condition")]


@pytest.mark.parametrize(("args", "message"), [
    (("condition", "code=broken heart"), "error: code: 'broken heart' is not allowed; expected one of "),
    (("condition", "code=stroke", "onset=2024-01-01", "resolved=2023-01-01"),
     "error: resolved: '2023-01-01' is not allowed; expected a date on or after onset (2024-01-01)"),
    (("condition", "code=stroke", "onset=01/02/2020"),
     "error: onset: '01/02/2020' is not allowed; expected a date YYYY-MM-DD (or none if not known)"),
    (("condition", "code=stroke", "onset=2099-01-01"), "error: onset: '2099-01-01' is not allowed"),
    (("condition", "code=stroke", "severity=mild"),
     "error: severity: 'mild' is not allowed; expected a field of a condition: code, onset, resolved"),
    (("medication", "drug=aspirin"), "error: drug: 'aspirin' is not allowed; expected one of "),
    (("medication", "drug=alendronate", "start=1900-01-01"), "error: start: '1900-01-01' is not allowed"),
    (("intolerance", "drug=alendronate"), "error: reaction:"),
    (("intolerance", "drug=alendronate", "reaction=heartburn", "severity=awful"),
     "error: severity: 'awful' is not allowed; expected one of mild, moderate, severe (or none if not known)"),
    (("fall", "injurious=often"), "error: injurious: 'often' is not allowed; expected true or false (yes or no)"),
    (("fall", "date=2025-01-02", "date=2025-01-03"), "error: date: given twice; expected each field at most once"),
    (("fall", "date"), "error: 'date' is not FIELD=VALUE (e.g. date=2025-01-02 injurious=yes)"),
    (("fracture", "site=nose"), "error: site: 'nose' is not allowed; expected one of hip, vertebra, wrist"),
    (("spine", "level=L1"), "error: kind: 'spine' is not allowed; expected one of condition, medication, "
                               "intolerance, fall, fracture, vertebra"),
])
def test_bad_input_exits_2_naming_the_field_and_writes_nothing(db: str, args: tuple[str, ...], message: str) -> None:
    code, out = run("entry", "add", "P1", *args)
    assert code == 2, out
    assert out.startswith(message), out
    assert len(out.splitlines()) == 1, out
    assert _entries() == NONE and _writes(db) == []


def test_an_unknown_patient_exits_2(db: str) -> None:
    assert run("entry", "list", "NOBODY") == (2, "error: no patient 'NOBODY'\n")
    assert run("entry", "add", "NOBODY", "fall", "date=2025-01-02") == (2, "error: no patient 'NOBODY'\n")


def test_a_condition_is_resolved_and_a_medication_ended(db: str) -> None:
    cond = _added_id(run("entry", "add", "P1", "condition", "code=stroke", "onset=2022-01-01")[1], "condition")
    med = _added_id(run("entry", "add", "P1", "medication", "drug=alendronate", "start=2020-01-01")[1], "medication")
    assert run("entry", "end", "condition", str(cond), "--on", "2024-01-10") == (
        0, f"resolved condition {cond}: stroke (Stroke), onset 2022-01-01, resolved 2024-01-10, resolved\n")
    assert run("entry", "end", "medication", str(med), "--on", "2023-05-31") == (
        0, f"ended medication {med}: alendronate, start 2020-01-01, end 2023-05-31, ended\n")
    got = _entries()
    assert (got["condition"][0]["fields"]["resolved"], got["condition"][0]["current"]) == ("2024-01-10", False)
    assert (got["medication"][0]["fields"]["end"], got["medication"][0]["current"]) == ("2023-05-31", False)
    assert [(action, kind, detail) for _, action, kind, detail in _writes(db)][:2] == [
        ("update", "medication", {"end": {"from": None, "to": "2023-05-31"}}),
        ("update", "condition", {"resolved": {"from": None, "to": "2024-01-10"}})]


def test_ending_a_fall_before_its_onset_or_with_a_bad_date_exits_2_and_changes_nothing(db: str) -> None:
    cond = _added_id(run("entry", "add", "P1", "condition", "code=stroke", "onset=2022-01-01")[1], "condition")
    fall = _added_id(run("entry", "add", "P1", "fall", "date=2024-02-02")[1], "fall")
    before = _entries()
    assert run("entry", "end", "fall", str(fall), "--on", "2024-03-01") == (
        2, "error: kind: 'fall' is not allowed; expected condition (resolved) or medication (ended)\n")
    assert run("entry", "end", "condition", str(cond), "--on", "2021-12-31") == (
        2, "error: resolved: '2021-12-31' is not allowed; expected a date on or after onset (2022-01-01)\n")
    assert run("entry", "end", "condition", str(cond), "--on", "2024-13-01") == (
        2, "error: --on: '2024-13-01' is not a date; expected YYYY-MM-DD\n")
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    code, out = run("entry", "end", "condition", str(cond), "--on", tomorrow)
    assert code == 2 and out.startswith(f"error: resolved: '{tomorrow}' is not allowed"), out
    assert run("entry", "end", "condition", "999999", "--on", "2024-01-10") == (2, "error: no condition 999999\n")
    assert run("entry", "end", "bone", "1", "--on", "2024-01-10")[0] == 2
    assert _entries() == before
    assert [action for _, action, _, _ in _writes(db)] == ["create", "create"]


def test_an_entry_made_in_error_is_deleted_with_a_reason_the_audit_keeps_what_it_said(db: str) -> None:
    intol = _added_id(run("entry", "add", "P1", "intolerance", "drug=risedronate", "reaction=heartburn",
                          "severity=moderate", "date=2023-06-01")[1], "intolerance")
    code, out = run("entry", "delete", "intolerance", str(intol))
    assert code == 2 and "Missing option '--reason'" in out, out
    assert run("entry", "delete", "intolerance", str(intol), "--reason", "   ") == (
        2, "error: reason: '' is not allowed; expected why the intolerance is deleted\n")
    assert len(_entries()["intolerance"]) == 1
    assert run("entry", "delete", "intolerance", str(intol), "--reason", "wrong patient") == (
        0, f"deleted intolerance {intol}: risedronate, reaction heartburn, date 2023-06-01, severity moderate\n")
    assert _entries() == NONE
    actor, action, kind, detail = _writes(db)[0]
    assert (actor, action, kind) == ("nurse-cli", "delete", "intolerance")
    assert detail == {"drug": "risedronate", "reaction": "heartburn", "date": "2023-06-01", "severity": "moderate",
                      "reason": "wrong patient"}
    assert run("entry", "delete", "intolerance", str(intol), "--reason", "again") == (
        2, f"error: no intolerance {intol}\n")
    assert run("entry", "delete", "spine", "1", "--reason", "typo") == (
        2, "error: kind: 'spine' is not allowed; expected one of condition, medication, intolerance, fall, "
           "fracture, vertebra\n")


def test_a_condition_that_contraindicates_an_active_course_is_warned_and_still_exits_0(db: str) -> None:
    """Alendronate must not be given with an oesophageal stricture (its drug file): adding one while the course
    runs says so at once, naming the rule; resolving it ends the warning."""
    today = dt.date.today()
    for lab in (("creatinine", "70", "umol/L"), ("calcium", "2.35", "mmol/L"), ("vitamin_d_25oh", "35", "ng/mL")):
        assert run("lab", "add", "P1", *lab)[0] == 0
    code, out = run("course", "start", "P1", "alendronate", "--start", (today - dt.timedelta(days=30)).isoformat())
    assert code == 0, out
    code, out = run("entry", "add", "P1", "fall", "date=2024-02-02")
    assert code == 0 and len(out.splitlines()) == 1, out
    onset = (today - dt.timedelta(days=10)).isoformat()
    code, out = run("entry", "add", "P1", "condition", "code=oesophageal_stricture", f"onset={onset}")
    assert code == 0, out
    cond = _added_id(out, "condition")
    assert out.splitlines() == [
        f"added condition {cond} for P1: oesophageal_stricture (Oesophageal stricture), onset {onset}, current",
        OESOPH_WARNING]
    # the other patient's record is not changed by it
    assert _entries("P2") == NONE
    code, out = run("entry", "end", "condition", str(cond), "--on", today.isoformat())
    assert code == 0 and len(out.splitlines()) == 1 and out.startswith(f"resolved condition {cond}: "), out
