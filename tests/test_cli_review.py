"""Review of the clinic commands, end to end (the reviewer's scenarios in /tmp/s25/rev_cli): a record file that
is not a JSON object, the worklist at the end of the calendar, a booked time shown in the clinic's time zone, a
reaction dated before birth, and ids past a 32-bit INTEGER on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

from osteocare.cli_clinic import register

app = typer.Typer()
register(app)
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.output


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OSTEOCARE_DATABASE_URL", f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    monkeypatch.setenv("OSTEOCARE_ACTOR", "rev")
    assert run("db", "upgrade")[0] == 0
    return tmp_path


@pytest.mark.parametrize("content, kind", [('"hello"', "str"), ("[5]", "int"), ("null", "NoneType")])
def test_patient_add_refuses_a_file_that_is_not_a_json_object(store: Path, content: str, kind: str) -> None:
    f = store / "bad.json"
    f.write_text(content)
    res = runner.invoke(app, ["patient", "add", "--json", str(f)])
    assert res.exit_code == 2, (res.output, res.exception)
    assert f"record: '{kind}' is not allowed; expected a JSON object with the patient's fields" in res.output
    assert "Traceback" not in res.output


def test_the_worklist_on_the_last_day_of_the_calendar_blames_the_date(store: Path) -> None:
    code, out = run("worklist", "--date", "9999-12-31")
    assert code == 2
    flat = " ".join(out.split())
    assert "--date: '9999-12-31' is not allowed" in flat and "a date not after 9999-12-23" in flat, out
    assert "to -1" not in flat
    code, out = run("worklist", "--date", "9999-12-23", "--json")
    assert code == 0 and json.loads(out)["today"] == "9999-12-23"


def test_a_booked_time_is_shown_in_the_clinics_time_zone(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zone = "Asia/Ho_Chi_Minh"
    monkeypatch.setenv("OSTEOCARE_TIMEZONE", zone)
    assert run("patient", "add", "--id", "T1", "--sex", "female", "--age", "70")[0] == 0
    code, out = run("course", "start", "T1", "denosumab", "--override-reason", "test")
    assert code == 0, out
    code, out = run("patient", "show", "T1", "--json")
    item = next(it["id"] for it in json.loads(out)["schedule"] if it["status"] == "open")
    # 00:30 tomorrow in Hanoi is 17:30 today in UTC: the reviewer saw the UTC time (and another day)
    day = dt.datetime.now(ZoneInfo(zone)).date() + dt.timedelta(days=1)
    code, out = run("appointment", "book", str(item), "--at", f"{day.isoformat()}T00:30")
    assert code == 0, out
    assert f"booked appointment {item} at {day.isoformat()} 00:30 ({zone})" in " ".join(out.split())


def test_a_reaction_before_birth_is_refused_like_an_intolerance_entry(store: Path) -> None:
    assert run("patient", "add", "--id", "R1", "--sex", "female", "--birth-date", "1950-05-01")[0] == 0
    by_entry = run("entry", "add", "R1", "intolerance", "drug=alendronate", "reaction=heartburn", "date=1901-01-01")
    by_reaction = run("reaction", "record", "R1", "--kind", "digestive_irritation", "--severity", "moderate",
                      "--drug", "alendronate", "--onset", "1901-01-01", "--intolerance")
    assert by_entry[0] == by_reaction[0] == 2
    expected = "a date from 1950-05-01 (the patient's birth date) to"
    assert expected in " ".join(by_entry[1].split()) and expected in " ".join(by_reaction[1].split())
    _code, out = run("patient", "show", "R1", "--json")
    assert json.loads(out)["reactions"] == []


PAST_INT4 = str(2**31)
ID_COMMANDS = [
    (["lab", "delete", PAST_INT4, "--reason", "x"], "no lab result"),
    (["course", "stop", PAST_INT4, "--reason", "x"], "no course"),
    (["dose", "checks", PAST_INT4], "no appointment"),
    (["appointment", "book", PAST_INT4, "--at", "2099-01-01T09:00"], None),
    (["appointment", "complete", PAST_INT4], "no appointment"),
    (["reaction", "outcome", PAST_INT4, "--outcome", "ongoing"], "no reaction"),
]


def test_ids_past_a_32_bit_integer_are_not_found_on_postgresql(postgres_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The reviewer's repro_pg_int4.sh: these gave a traceback with the SQL (exit 1) on PostgreSQL."""
    monkeypatch.setenv("OSTEOCARE_DATABASE_URL", postgres_url)
    monkeypatch.setenv("OSTEOCARE_ACTOR", "rev")
    for args, said in ID_COMMANDS:
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output, res.exception)
        assert "Traceback" not in res.output and "SQL" not in res.output, (args, res.output)
        assert said is None or said in res.output, (args, res.output)


def test_a_database_data_error_is_exit_2_with_a_message_not_the_sql(store: Path) -> None:
    from sqlalchemy.exc import DataError

    from osteocare.cli_clinic import _clinic

    class Orig(Exception):
        pass

    with pytest.raises(typer.Exit) as exc, _clinic():
        raise DataError("SELECT secret FROM t WHERE id = %(id)s", {"id": 2**31}, Orig("integer out of range"))
    assert exc.value.exit_code == 2
