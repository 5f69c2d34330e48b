"""Integrity of what the clinic stores: dates in range, stopped denosumab stays urgent, imports keep history,
bad stored records give a clear error, and the command line turns bad input into exit code 2 (never a traceback)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from sqlalchemy import select, update
from typer.testing import CliRunner

from osteocare.cli_clinic import register
from osteocare.core.errors import InputError, OsteoCareError
from osteocare.core.knowledge import load
from osteocare.core.records import PatientRecord
from osteocare.services.alerts import clinic_alerts
from osteocare.services.appointments import book_appointment, complete_item, patient_schedule
from osteocare.services.context import Clinic
from osteocare.services.courses import start_course, stop_course
from osteocare.services.doses import record_dose
from osteocare.services.errors import NotFound
from osteocare.services.facts import DxaExamIn, SiteResult, add_dxa_exam, add_lab
from osteocare.services.patients import add_patient, audit_trail, get_record, import_patients, show_patient
from osteocare.services.worklist import worklist
from osteocare.store import models as m

TODAY = dt.date(2025, 3, 3)
URGENT_DAYS = int(load("treatment-sequencing").value("dmab_urgent_days_after_due"))

app = typer.Typer()
register(app)
runner = CliRunner()


# --- services ------------------------------------------------------------------------------------------------


def test_a_stopped_late_denosumab_course_stays_urgent(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("L1")
    first = TODAY - dt.timedelta(days=183 + URGENT_DAYS + 30)
    c = start_course(clinic, rid, "denosumab", start_date=first, override_reason="test: findings not the point")
    record_dose(clinic, course_id=c.id, given_on=first, lot_number="Q")
    assert [a.severity for a in clinic_alerts(clinic) if a.kind == "dose_overdue"] == ["urgent"]
    stop_course(clinic, c.id, reason="moved")
    switch = [a for a in clinic_alerts(clinic) if a.course_id == c.id]
    assert len(switch) == 1 and switch[0].severity == "urgent", switch
    assert switch[0].rule_id == "DMAB-URGENT" and switch[0].days_late > URGENT_DAYS


def test_completing_an_item_before_the_course_started_is_refused(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("A1")
    start_course(clinic, rid, "alendronate", start_date=TODAY - dt.timedelta(days=10))
    review = next(it for it in patient_schedule(clinic, rid) if it.kind != "dose")
    with pytest.raises(InputError, match=r"done_on.*1900-01-01"):
        complete_item(clinic, review.id, done_on=dt.date(1900, 1, 1))
    assert next(it for it in patient_schedule(clinic, rid) if it.id == review.id).status == "open"


def test_booking_an_appointment_on_a_past_day_is_refused(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("B1")
    start_course(clinic, rid, "denosumab", start_date=TODAY)
    item = next(it for it in patient_schedule(clinic, rid) if it.kind == "dose")
    with pytest.raises(InputError, match=r"at.*2020-01-01"):
        book_appointment(clinic, item.id, at=dt.datetime(2020, 1, 1, 9, 0))
    assert book_appointment(clinic, item.id, at=dt.datetime.combine(TODAY, dt.time(9))).scheduled_at is not None


def test_birth_dates_in_the_future_are_refused(clinic: Clinic) -> None:
    res = import_patients(clinic, [{"id": "J3", "sex": "female", "age": 70, "birth_date": "2090-01-01"}])
    assert "J3" in res.errors and "birth_date" in res.errors["J3"] and "2090-01-01" in res.errors["J3"]
    with pytest.raises(InputError, match="birth_date"):
        add_patient(clinic, PatientRecord.model_validate({"id": "J4", "sex": "female", "age": 70}),
                    birth_date=dt.date(2090, 1, 1))
    res = import_patients(clinic, [{"id": "J5", "sex": "female", "age": 70, "birth_date": "1870-01-01"}])
    assert "J5" in res.errors and "age 0 to 120" in res.errors["J5"]


def test_a_stored_record_with_a_bad_birth_date_gives_a_clear_error(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("J6", labs=False)
    with clinic.db.write() as s:
        s.query(m.Patient).filter(m.Patient.record_id == rid).update({"birth_date": dt.date(2090, 1, 1)})
    with pytest.raises(OsteoCareError, match="birth_date") as exc:
        show_patient(clinic, rid)
    assert "pydantic" not in str(exc.value)
    import_patients(clinic, [{"id": rid, "sex": "female", "age": 70, "birth_date": None}], update_existing=True)
    assert show_patient(clinic, rid).summary.age == 70


def test_import_update_keeps_labs_and_exams_recorded_elsewhere(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("U1")
    add_dxa_exam(clinic, rid, DxaExamIn(exam_date=TODAY - dt.timedelta(days=30),
                                        sites=[SiteResult(site="femoral_neck", t_score=-2.8)]))
    with clinic.db.read() as s:
        before_labs = sorted(s.scalars(m.Lab.__table__.select().with_only_columns(m.Lab.id)))
        before_exams = s.query(m.DxaExam).count()
    res = import_patients(clinic, [{"id": rid, "sex": "female", "age": 71, "weight_kg": 56,
                                      "height_cm": 155}], update_existing=True)
    assert res.updated == [rid] and not res.errors, res.errors
    with clinic.db.read() as s:
        assert sorted(s.scalars(m.Lab.__table__.select().with_only_columns(m.Lab.id))) == before_labs
        assert s.query(m.DxaExam).count() == before_exams == 1
        p = s.query(m.Patient).filter(m.Patient.record_id == rid).one()
        assert p.weight_kg == 56


def test_worklist_refuses_negative_and_huge_windows(clinic: Clinic) -> None:
    for kw in ({"days": -5}, {"limit": -1}, {"days": 100_000_000}):
        with pytest.raises(InputError, match=next(iter(kw))):
            worklist(clinic, **kw)  # type: ignore[arg-type]


def test_the_services_refuse_lab_and_exam_dates_in_the_future_or_before_birth(clinic: Clinic,
                                                                              patient: Callable[..., str]) -> None:
    """The web form and the API call the services directly: the date check is there, not only in the CLI."""
    rid = patient("F1", labs=False)
    with clinic.db.read() as s:
        before = s.query(m.Lab).count(), s.query(m.DxaExam).count()
    for day in (dt.date(2099, 1, 1), dt.date(1800, 1, 1)):
        with pytest.raises(InputError) as exc:
            add_lab(clinic, rid, name="calcium", value=2.3, unit="mmol/L", date=day)
        assert exc.value.field == "date" and str(day) in str(exc.value)
        with pytest.raises(InputError) as exc:
            add_dxa_exam(clinic, rid, DxaExamIn(exam_date=day, sites=[SiteResult(site="femoral_neck", t_score=-2.0)]))
        assert exc.value.field == "exam_date"
    with clinic.db.read() as s:
        assert (s.query(m.Lab).count(), s.query(m.DxaExam).count()) == before  # nothing written
    add_lab(clinic, rid, name="creatinine", value=70, unit="umol/L", date=clinic.today())  # today is fine


# --- command line --------------------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "clinic.sqlite3"
    monkeypatch.setenv("OSTEOCARE_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("OSTEOCARE_ACTOR", "nurse-cli")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    return db


def run(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, list(args))
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res.exit_code, res.output


def _add(tmp_path: Path, rid: str = "T1", **extra: object) -> None:
    f = tmp_path / f"{rid}.json"
    row = {"id": rid, "sex": "female", "weight_kg": 55, "height_cm": 155, **extra}
    if "birth_date" not in row:
        row["age"] = 70
    f.write_text(json.dumps(row))
    code, out = run("patient", "add", "--json", str(f))
    assert code == 0, out


def test_cli_refuses_lab_and_exam_dates_in_the_future_or_before_birth(env: Path, tmp_path: Path) -> None:
    _add(tmp_path, "T1", birth_date="1950-05-01")
    code, out = run("lab", "add", "T1", "calcium", "2.3", "mmol/L", "--date", "2099-01-01")
    assert code == 2 and "--date" in out and "2099-01-01" in out, out
    code, out = run("exam", "add", "T1", "--date", "2099-01-01", "--t=femoral_neck=-2.5")
    assert code == 2 and "2099-01-01" in out, out
    code, out = run("exam", "add", "T1", "--date", "1800-01-01", "--t=femoral_neck=-2.5")
    assert code == 2 and "1950-05-01" in out, out
    code, out = run("course", "start", "T1", "denosumab", "--override-reason", "test")
    assert code == 0, out
    code, out = run("dose", "record", "--course", "1", "--date", "2099-01-01")
    assert code == 2 and "2099-01-01" in out, out
    code, out = run("course", "stop", "1", "--reason", "x", "--date", "2099-01-01")
    assert code == 2 and "2099-01-01" in out, out
    code, out = run("course", "stop", "1", "--reason", "x", "--date", "1949-01-01")
    assert code == 2 and "1949-01-01" in out, out
    code, out = run("patient", "show", "T1", "--json")
    v = json.loads(out)
    assert v["labs"] == [] and v["doses"] == [] and v["courses"][0]["status"] == "active"


def test_cli_turns_bad_values_into_exit_code_2(env: Path, tmp_path: Path) -> None:
    _add(tmp_path, "C1")
    for args in (("exam", "add", "C1", "--date", "2024-01-01", "--bmd", "femoral_neck=0"),
                 ("exam", "add", "C1", "--date", "2024-01-01", "--t=femoral_neck=-50"),
                 ("course", "start", "C1", "denosumab", "--start", "9999-12-01", "--override-reason", "test"),
                 ("worklist", "--days", "100000000"), ("worklist", "--days=-5"), ("worklist", "--limit=-1"),
                 ("calendar", "C1", "--months", "100000"),
                 ("calendar", "C1", "--out", str(tmp_path / "no" / "such" / "x.ics")),
                 ("db", "upgrade", "--revision", "bogus"),
                 ("patient", "add", "--id", "P5", "--sex", "female", "--age", "70", "--birth-date", "1990-01-01")):
        code, out = run(*args)
        assert code == 2 and "error" in out.lower(), (args, out)
    (tmp_path / "gn.json").write_text(json.dumps({"id": "A", "sex": "female", "age": 70, "given_name": 5}))
    code, out = run("patient", "add", "--json", str(tmp_path / "gn.json"))
    assert code == 2 and "given_name" in out, out
    code, out = run("patient", "show", "C1", "--json")
    assert json.loads(out)["courses"] == []


def test_cli_import_names_the_bad_line_of_a_jsonl_file(env: Path, tmp_path: Path) -> None:
    f = tmp_path / "rows.jsonl"
    f.write_text('{"id": "A", "sex": "female", "age": 70}\n\n{"id": "B", "sex": "female", "age": 71}\n{oops\n')
    code, out = run("patient", "import", str(f))
    assert code == 2 and "line 4" in out, out


def test_cli_escapes_markup_in_stored_names(env: Path, tmp_path: Path) -> None:
    _add(tmp_path, "M1", given_name="Anh [/red] [bold]x")
    code, out = run("patient", "show", "M1")
    assert code == 0 and "Anh [/red] [bold]x" in out, out


def test_cli_future_birth_date_and_bad_stored_record(env: Path, tmp_path: Path) -> None:
    (tmp_path / "j3.json").write_text(json.dumps([{"id": "J3", "sex": "female", "age": 70,
                                                   "birth_date": "2090-01-01"}]))
    code, out = run("patient", "import", str(tmp_path / "j3.json"))
    assert code == 2 and "birth_date" in out, out
    _add(tmp_path, "J4")
    import sqlite3

    with sqlite3.connect(env) as c:
        c.execute("update patients set birth_date='2090-01-01' where record_id='J4'")
    for args in (("patient", "show", "J4"), ("course", "start", "J4", "alendronate")):
        code, out = run(*args)
        assert code == 2 and "birth_date" in out, (args, out)


def test_cli_appointment_cancel(env: Path, tmp_path: Path) -> None:
    _add(tmp_path, "K1")
    assert run("lab", "add", "K1", "creatinine", "70", "umol/L")[0] == 0
    assert run("course", "start", "K1", "alendronate")[0] == 0
    code, out = run("patient", "show", "K1", "--json")
    review = next(it for it in json.loads(out)["schedule"] if it["kind"] != "dose")
    code, out = run("appointment", "cancel", str(review["id"]), "--reason", "moved away")
    assert code == 0 and "cancelled" in out, out
    code, out = run("appointment", "cancel", str(review["id"]), "--reason", "again")
    assert code == 4, out


def test_cli_refuses_a_sqlite_file_that_does_not_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'typo_dir' / 'clinc.sqlite'}"
    monkeypatch.setenv("OSTEOCARE_DATABASE_URL", url)
    code, out = run("worklist")
    assert code == 2 and url in out, out
    assert not (tmp_path / "typo_dir").exists()


def test_course_dates_are_bounded_in_the_service_not_only_in_the_cli(clinic: Clinic,
                                                                    patient: Callable[..., str]) -> None:
    """The web form and API call the service directly: a start before birth or years ahead, or a stop after today,
    is refused there, naming the field and the range (9999-12-31 used to crash, 1900 and 2200 were stored)."""
    rid = patient()
    for day in (dt.date(9999, 12, 31), dt.date(2200, 1, 1), dt.date(1900, 1, 1)):
        with pytest.raises(InputError, match="start_date"):
            start_course(clinic, rid, "denosumab", start_date=day)
    with pytest.raises(InputError, match="first_dose_due"):
        start_course(clinic, rid, "denosumab", start_date=TODAY, first_dose_due=dt.date(2200, 1, 1))
    v = start_course(clinic, rid, "denosumab", start_date=TODAY - dt.timedelta(days=30))
    with pytest.raises(InputError, match=r"stop_date.*\(today\)"):
        stop_course(clinic, v.id, reason="done", stop_date=dt.date(9999, 12, 31))
    with pytest.raises(InputError, match="stop_date"):
        stop_course(clinic, v.id, reason="done", stop_date=TODAY - dt.timedelta(days=31))
    assert stop_course(clinic, v.id, reason="done", stop_date=TODAY).status == "stopped"


@pytest.mark.parametrize("bad_id", [2**63, 10**23, 0, -1])
def test_an_id_no_row_can_have_is_not_found_not_a_driver_error(clinic: Clinic, patient: Callable[..., str],
                                                                 bad_id: int) -> None:
    """Ids come from the CLI, forms and the API as any integer; past 2**63 - 1 SQLite raised OverflowError and
    PostgreSQL "integer out of range" (tracebacks, 500s) instead of "not found"."""
    from osteocare.services.appointments import cancel_item
    from osteocare.services.assessments import get_assessment
    from osteocare.services.reactions import record_reaction, update_reaction_outcome

    rid = patient()
    calls = [lambda: stop_course(clinic, bad_id, reason="x"),
             lambda: book_appointment(clinic, bad_id, at=dt.datetime(2025, 3, 10, 9, 0)),
             lambda: complete_item(clinic, bad_id),
             lambda: cancel_item(clinic, bad_id, reason="x"),
             lambda: record_dose(clinic, item_id=bad_id, given_on=TODAY, lot_number="L"),
             lambda: record_dose(clinic, course_id=bad_id, given_on=TODAY, lot_number="L"),
             lambda: get_assessment(clinic, bad_id),
             lambda: start_course(clinic, rid, "alendronate", origin="recommendation", assessment_id=bad_id),
             lambda: record_reaction(clinic, rid, kind="fever", severity="mild", dose_id=bad_id),
             lambda: record_reaction(clinic, rid, kind="fever", severity="mild", course_id=bad_id),
             lambda: update_reaction_outcome(clinic, bad_id, outcome="resolved", resolved_on=TODAY)]
    for call in calls:
        with pytest.raises(NotFound):
            call()


def test_names_phones_and_device_text_are_one_clean_line_that_fits(clinic: Clinic) -> None:
    """Terminal escape codes in a phone number, a 5,000-letter name (SQLite stored it; PostgreSQL refused it with
    a driver error) and a bidi override in a device model were all accepted."""
    rec = PatientRecord.model_validate({"id": "T1", "sex": "female", "age": 70})
    for field, value in (("phone", "\x1b[31m0912"), ("given_name", "A" * 5000), ("family_name", "Lê\u202eAdmin"),
                         ("given_name", "Lan\nHoa")):
        with pytest.raises(InputError, match=field):
            add_patient(clinic, rec, **{field: value})  # type: ignore[arg-type]
    assert add_patient(clinic, rec, given_name="  Lan  ", family_name="Nguyễn Thị", phone="").record_id == "T1"
    with clinic.db.read() as s:
        p = s.scalars(select(m.Patient).where(m.Patient.record_id == "T1")).one()
        assert (p.given_name, p.family_name, p.phone) == ("Lan", "Nguyễn Thị", None)
    with pytest.raises(InputError, match="device_model"):
        add_dxa_exam(clinic, "T1", DxaExamIn(exam_date=TODAY, device_model="Horizon\u2066A",
                                             sites=[SiteResult(site="femoral_neck", t_score=-2.0)]))
    with pytest.raises(InputError, match="reference"):
        add_dxa_exam(clinic, "T1", DxaExamIn(exam_date=TODAY, reference="N" * 81,
                                             sites=[SiteResult(site="femoral_neck", t_score=-2.0)]))


def test_the_cli_refuses_a_site_given_twice_in_one_exam() -> None:
    from osteocare.cli_clinic import _site_values

    with pytest.raises(typer.Exit):
        _site_values(["femoral_neck=-2", "femoral_neck=-3"], "--t")


def test_a_lab_the_record_would_refuse_is_not_stored(clinic: Clinic, patient: Callable[..., str]) -> None:
    """add_lab (CLI, web form, API) stored any name and most units; the record refuses them when the patient is
    loaded, so the patient could not be opened again."""
    rid = patient(labs=False)
    for name, value, unit, field in (("x", 1.0, "u", "name"), ("calcium", 4.6, "mEq/L", "unit")):
        with pytest.raises(InputError, match=field):
            add_lab(clinic, rid, name=name, value=value, unit=unit, date=TODAY)
    add_lab(clinic, rid, name="Vitamin D 25OH", value=30, unit="ng/mL", date=TODAY)
    assert [(lab.name, lab.unit) for lab in show_patient(clinic, rid).record.labs] == [("vitamin_d_25oh", "ng/mL")]


def test_a_lab_stored_before_labs_were_checked_names_its_row_when_the_record_is_read(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    from osteocare.services.patients import get_record

    rid = patient(labs=False)
    with clinic.db.write() as s:
        pid = s.scalar(select(m.Patient.id).where(m.Patient.record_id == rid))
        s.add(lab := m.Lab(patient_id=pid, name="x", value=1.0, unit="u", date=TODAY))
        s.flush()
        row = lab.id
    with pytest.raises(InputError, match=rf"labs \(row {row}\) of patient 'P1': name.*lab delete {row} "):
        get_record(clinic, rid)
    from osteocare.services.facts import delete_lab

    with pytest.raises(InputError, match="reason"):
        delete_lab(clinic, row, reason="  ")
    assert delete_lab(clinic, row, reason="entered in error").name == "x"  # the way out, without raw SQL
    assert get_record(clinic, rid).labs == []
    with pytest.raises(NotFound):
        delete_lab(clinic, row, reason="again")
    assert any(a["action"] == "delete" and a["entity"] == "lab" for a in audit_trail(clinic, rid))


def test_the_stored_records_the_current_rules_refuse_are_listed(clinic: Clinic, patient: Callable[..., str]) -> None:
    """Rules added later (lab names and units, record ids) refuse what older versions stored; the check walks the
    whole store in pages and names each such patient with its first problem."""
    from osteocare.services.patients import check_stored_records

    for rid in ("S1", "S2", "S3", "S4"):
        patient(rid, labs=False)
    with clinic.db.write() as s:
        pid = s.scalar(select(m.Patient.id).where(m.Patient.record_id == "S2"))
        s.add(m.Lab(patient_id=pid, name="x", value=1.0, unit="u", date=TODAY))
        s.execute(update(m.Patient).where(m.Patient.record_id == "S4").values(record_id="a/b"))
    seen: list[tuple[int, int]] = []
    problems = check_stored_records(clinic, page=1, progress=lambda done, total: seen.append((done, total)))
    assert [rid for rid, _ in problems] == ["S2", "a/b"]
    assert "labs (row" in problems[0][1] and "name: 'x'" in problems[0][1]
    assert problems[1][1].startswith("id: 'a/b' is not allowed")
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_db_check_exits_1_and_lists_what_to_correct(env: Path) -> None:
    code, text = run("patient", "add", "--id", "C1", "--sex", "female", "--age", "70")
    assert code == 0, text
    code, text = run("db", "check")
    assert code == 0 and "every stored record is accepted by the current rules" in text, text
    import sqlite3

    with sqlite3.connect(env) as con:
        con.execute("update patients set record_id = 'C/1' where record_id = 'C1'")
    code, text = run("db", "check")
    assert code == 1 and "C/1" in text and "1 stored record(s)" in text, text

    with sqlite3.connect(env) as con:
        con.execute("update patients set record_id = 'C1' where record_id = 'C/1'")
        pid = con.execute("select id from patients where record_id = 'C1'").fetchone()[0]
        row = con.execute("insert into labs (patient_id, name, value, unit, date) values (?, 'x', 1, 'u', "
                          "'2025-01-01')", (pid,)).lastrowid
    code, text = run("db", "check")
    assert code == 1 and f"lab delete {row}" in text.replace("\n", " ").replace("│", " ").replace("  ", " "), text
    code, text = run("lab", "delete", str(row), "--reason", "entered before names were checked")
    assert code == 0 and f"deleted lab {row}" in text, text
    code, text = run("db", "check")
    assert code == 0, text


def test_stopping_denosumab_before_any_dose_asks_when_the_last_injection_was(clinic: Clinic,
                                                                            patient: Callable[..., str]) -> None:
    """With no dose of the course recorded there is nothing to date the follow-on from: the warning said "start it
    by <the stop date>" as if an injection had been given; it now asks for the last injection."""
    rid = patient()
    with_dose = start_course(clinic, rid, "denosumab", start_date=TODAY - dt.timedelta(days=60))
    record_dose(clinic, course_id=with_dose.id, given_on=TODAY - dt.timedelta(days=60), lot_number="Q")
    assert any("start it by" in w for w in stop_course(clinic, with_dose.id, reason="moved").warnings)
    without = start_course(clinic, patient("P2"), "denosumab", start_date=TODAY - dt.timedelta(days=5))
    warnings = stop_course(clinic, without.id, reason="changed plan").warnings
    assert not any("start it by" in w for w in warnings)
    assert any("No denosumab dose of this course was recorded" in w for w in warnings)
    review = [it for it in patient_schedule(clinic, "P2") if it.kind == "review" and it.rule_id == "DMAB-SWITCH"]
    assert len(review) == 1 and review[0].due_on == TODAY


def test_an_import_update_replaces_the_entries_it_carries_and_keeps_those_a_clinician_entered(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    """The record imported again with its condition now resolved: the condition is the import's; the anaphylaxis
    and the fracture a clinician entered since, which the import does not carry, are kept (the same rows: their ids
    stay) and reported (they were deleted in silence: a review reproduced it with ``import-fhir --update``). A
    clinician's entry the import carries too is kept once, not twice."""
    from osteocare.services.entries import Entry, add_entry, entries_of
    from osteocare.services.patients import import_patients, kept_lines
    from osteocare.services.reactions import record_reaction

    base = {"id": "IU1", "sex": "female", "age": 70, "weight_kg": 55.0, "height_cm": 155.0}
    assert import_patients(clinic, [{**base, "conditions": [{"code": "hypocalcaemia", "onset": "2024-01-02"}]}]).created
    kept_ids = {add_entry(clinic, "IU1", "intolerance", {"drug": "alendronate", "reaction": "anaphylaxis",
                                                         "severity": "severe"}).entry.id,
                add_entry(clinic, "IU1", "fracture", {"site": "wrist", "date": "2024-11-20"}).entry.id}
    add_entry(clinic, "IU1", "fall", {"date": "2024-10-01", "injurious": True})
    record_reaction(clinic, "IU1", drug="zoledronic_acid", kind="fever", severity="moderate", onset_on=TODAY,
                    intolerance=True)  # its intolerance stays with the reaction, not counted as kept
    update = {**base, "conditions": [{"code": "hypocalcaemia", "onset": "2024-01-02", "resolved": "2024-03-01"}],
              "falls_history": [{"date": "2024-10-01", "injurious": True}]}

    def clinicians(entries: dict[str, list[Entry]]) -> set[int]:
        return {e.id for e in entries["fracture"]} | {e.id for e in entries["intolerance"]
                                                      if e.fields["drug"] == "alendronate"}

    res = import_patients(clinic, [update], update_existing=True)
    assert res.updated == ["IU1"] and res.kept == {"IU1": {"intolerances": 1, "fractures": 1}}
    assert kept_lines(res) == ["kept for IU1: 1 intolerance, 1 fracture entered in the clinic and not in the import "
                               "(one entered in error: osteocare entry delete)"]
    entries = entries_of(clinic, "IU1")
    assert [(e.fields["code"], e.fields["resolved"]) for e in entries["condition"]] == [("hypocalcaemia",
                                                                                          "2024-03-01")]
    assert sorted(e.fields["drug"] for e in entries["intolerance"]) == ["alendronate", "zoledronic_acid"]
    assert [e.fields["site"] for e in entries["fracture"]] == ["wrist"]
    assert [e.fields["date"] for e in entries["fall"]] == ["2024-10-01"]  # the clinic's and the import's: one
    assert clinicians(entries) == kept_ids
    # imported again: the clinician's entries are still kept, and still theirs
    res = import_patients(clinic, [update], update_existing=True)
    assert res.kept == {"IU1": {"intolerances": 1, "fractures": 1}}
    entries = entries_of(clinic, "IU1")
    assert clinicians(entries) == kept_ids and len(entries["intolerance"]) == 2
    assert len(entries["fall"]) == len(entries["condition"]) == 1


def _origins(clinic: Clinic, rid: str) -> dict[str, list[bool | None]]:
    with clinic.db.read() as s:
        pid = s.scalar(select(m.Patient.id).where(m.Patient.record_id == rid))
        return {model.__tablename__: list(s.scalars(select(model.entered_in_clinic)
                                                    .where(model.patient_id == pid).order_by(model.id)))
                for model in (m.Condition, m.Medication, m.Intolerance, m.Fracture, m.Fall, m.Vertebra)}


def test_each_entry_records_whether_it_was_entered_in_the_clinic_or_imported(clinic: Clinic) -> None:
    from osteocare.services.entries import add_entry

    record = {"id": "OR1", "sex": "female", "age": 70, "conditions": [{"code": "hypocalcaemia"}],
              "medications": [{"drug": "alendronate", "start": "2020-01-01"}],
              "intolerances": [{"drug": "risedronate", "reaction": "heartburn"}],
              "fractures": [{"site": "hip", "date": "2023-01-01"}], "falls_history": [{"date": "2024-01-01"}],
              "vertebrae": [{"level": "T12", "anterior_mm": 20.0, "posterior_mm": 25.0}]}
    assert import_patients(clinic, [record]).created == ["OR1"]
    assert _origins(clinic, "OR1") == {t: [False] for t in ("conditions", "medications", "intolerances", "fractures",
                                                            "falls", "vertebrae")}
    for kind, data in (("condition", {"code": "stroke"}), ("medication", {"drug": "raloxifene"}),
                       ("intolerance", {"drug": "zoledronic_acid", "reaction": "fever"}),
                       ("fracture", {"site": "wrist"}), ("fall", {"date": "2025-01-01"}),
                       ("vertebra", {"level": "L1", "anterior_mm": 20.0, "posterior_mm": 25.0})):
        add_entry(clinic, "OR1", kind, data)
    assert _origins(clinic, "OR1") == {t: [False, True] for t in ("conditions", "medications", "intolerances",
                                                                  "fractures", "falls", "vertebrae")}


def test_an_import_update_that_corrects_a_medication_start_gives_one_medication_not_two(clinic: Clinic) -> None:
    """The EHR corrects the year of a teriparatide course: the corrected course replaces the imported one. Matched
    by (drug, start), both were kept: two years of PTH analogue, a false PTH-LIFETIME before abaloparatide."""
    from osteocare.services.courses import check_course

    base = {"id": "MC1", "sex": "female", "age": 70, "weight_kg": 55.0, "height_cm": 155.0,
            "menopausal_status": "postmenopausal", "femoral_neck_t_score": -3.2}
    import_patients(clinic, [{**base, "medications": [{"drug": "teriparatide", "start": "2019-01-01",
                                                       "end": "2019-12-31"}]}])
    res = import_patients(clinic, [{**base, "medications": [{"drug": "teriparatide", "start": "2023-01-01",
                                                             "end": "2023-12-31"}]}], update_existing=True)
    assert res.updated == ["MC1"] and res.kept == {}
    meds = get_record(clinic, "MC1").medications
    assert [(x.drug, x.start, x.end) for x in meds] == [("teriparatide", dt.date(2023, 1, 1), dt.date(2023, 12, 31))]
    assert "PTH-LIFETIME" not in {f.rule_id for f in check_course(clinic, "MC1", "abaloparatide").findings}


def test_an_import_update_that_corrects_a_fracture_date_gives_one_fracture_not_two(clinic: Clinic) -> None:
    """The EHR corrects a wrist fracture's date: one fracture, not two (CAROC counted two fractures: high risk)."""
    from osteocare.core.assessment import assess

    base = {"id": "FC1", "sex": "female", "age": 66, "weight_kg": 60.0, "height_cm": 158.0,
            "menopausal_status": "postmenopausal", "femoral_neck_t_score": -1.8}

    def caroc() -> str:
        results = assess(get_record(clinic, "FC1"), as_of=TODAY).results
        return str(next(v for k, v in results.items() if "caroc" in k.lower()).category)

    import_patients(clinic, [{**base, "fractures": [{"site": "wrist", "date": "2024-05-01"}]}])
    before = caroc()
    res = import_patients(clinic, [{**base, "fractures": [{"site": "wrist", "date": "2024-05-10"}]}],
                          update_existing=True)
    assert res.updated == ["FC1"] and res.kept == {}
    assert [(f.site, f.date) for f in get_record(clinic, "FC1").fractures] == [("wrist", dt.date(2024, 5, 10))]
    assert caroc() == before == "moderate"


def test_a_clinicians_entry_the_import_also_carries_is_the_imports_from_then_on(clinic: Clinic) -> None:
    """Kept once, not twice; and once the EHR carries it, a later correction there replaces it, not doubles it."""
    from osteocare.services.entries import add_entry

    base = {"id": "CE1", "sex": "female", "age": 70}
    import_patients(clinic, [base])
    add_entry(clinic, "CE1", "fracture", {"site": "wrist", "date": "2024-11-20"})
    res = import_patients(clinic, [{**base, "fractures": [{"site": "wrist", "date": "2024-11-20"}]}],
                          update_existing=True)
    assert res.kept == {} and [f.date for f in get_record(clinic, "CE1").fractures] == [dt.date(2024, 11, 20)]
    res = import_patients(clinic, [{**base, "fractures": [{"site": "wrist", "date": "2024-11-22"}]}],
                          update_existing=True)
    assert res.kept == {} and [f.date for f in get_record(clinic, "CE1").fractures] == [dt.date(2024, 11, 22)]


def test_an_entry_stored_before_its_origin_was_recorded_is_replaced_as_an_imported_one(clinic: Clinic) -> None:
    """Rows from before migration 0010 (``entered_in_clinic`` NULL) are treated as imported, as before."""
    base = {"id": "NU1", "sex": "female", "age": 70}
    import_patients(clinic, [{**base, "fractures": [{"site": "hip", "date": "2024-05-01"}],
                              "medications": [{"drug": "teriparatide", "start": "2019-01-01"}]}])
    with clinic.db.write() as s:
        s.execute(update(m.Fracture).values(entered_in_clinic=None))
        s.execute(update(m.Medication).values(entered_in_clinic=None))
    res = import_patients(clinic, [{**base, "fractures": [{"site": "hip", "date": "2024-05-10"}]}],
                          update_existing=True)
    assert res.kept == {}
    rec = get_record(clinic, "NU1")
    assert [f.date for f in rec.fractures] == [dt.date(2024, 5, 10)] and rec.medications == []
