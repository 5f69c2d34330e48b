"""The clinic commands, end to end on a SQLite file (registered on a bare Typer app, as cli.py will)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from osteocare.cli_clinic import register

app = typer.Typer()
register(app)
runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "data" / "clinic.sqlite3"
    monkeypatch.setenv("OSTEOCARE_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("OSTEOCARE_ACTOR", "nurse-cli")
    return db


@pytest.fixture
def clinic_db(env: Path) -> Path:
    """``env`` with the database created (``db upgrade``): other commands refuse a SQLite file that is missing."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    return env


def run(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.output


def test_the_clinic_day_from_the_command_line(env: Path, tmp_path: Path) -> None:
    code, out = run("db", "upgrade")
    import osteocare.store.migrations as mig

    head = max(p.name.split("_", 1)[0] for p in Path(mig.__file__).parent.joinpath("versions").glob("0*.py"))
    assert code == 0 and f"revision {head}" in out and env.exists()
    code, out = run("patient", "add", "--id", "P1", "--sex", "female", "--birth-date", "1950-05-01",
                    "--given-name", "Lan", "--family-name", "Tran")
    assert code == 0, out
    (tmp_path / "more.json").write_text(json.dumps([
        {"id": "P2", "sex": "female", "age": 71, "weight_kg": 50, "height_cm": 150, "given_name": "Mai"},
        {"id": "P3", "sex": "male", "age": 80}]))
    code, out = run("patient", "import", str(tmp_path / "more.json"))
    assert code == 0 and "imported 2 new" in out
    assert run("exam", "add", "P2", "--date", "2024-12-01", "--t", "femoral_neck=-2.9", "--bmd",
               "femoral_neck=0.55", "--manufacturer", "hologic")[0] == 0
    assert run("lab", "add", "P2", "creatinine", "68", "umol/L", "--date", "2024-12-01")[0] == 0
    code, out = run("course", "start", "P2", "denosumab", "--start", "2024-12-02")
    assert code == 0 and "started course 1" in out
    code, out = run("dose", "record", "--course", "1", "--date", "2024-12-02", "--lot", "PRO-1")
    assert code == 0 and "next dose due 2025-06-02" in out, out
    code, out = run("dose", "record", "--course", "1", "--date", "2024-12-02", "--lot", "PRO-1")
    assert code == 4 and "already recorded" in out
    code, out = run("reaction", "record", "P2", "--kind", "hypocalcaemia", "--severity", "mild", "--dose", "1",
                    "--onset", "2024-12-12", "--outcome", "resolved")
    assert code == 0, out
    code, out = run("worklist", "--date", "2025-06-02", "--json")
    assert code == 0 and json.loads(out)["counts"]["due_today"] >= 1
    code, out = run("calendar", "P2")
    assert code == 0 and out.startswith("BEGIN:VCALENDAR") and "denosumab" not in out.lower()
    code, out = run("patient", "show", "P2", "--json")
    assert code == 0 and json.loads(out)["courses"][0]["drug"] == "denosumab"
    code, out = run("course", "stop", "1", "--reason", "switching", "--date", "2025-01-10")
    assert code == 0 and "DMAB-NOSTOP" in out


def test_a_must_not_exits_3_until_a_reason_is_given(clinic_db: Path) -> None:
    run("patient", "add", "--id", "M1", "--sex", "male", "--age", "70")
    code, out = run("course", "start", "M1", "romosozumab")
    assert code == 3 and "ROMO-IND-US" in out and "--override-reason" in out
    code, out = run("course", "start", "M1", "romosozumab", "--override-reason", "licensed for men here (AU)")
    assert code == 0, out


def test_bad_input_exits_2_with_the_field_named(clinic_db: Path, tmp_path: Path) -> None:
    code, out = run("patient", "add", "--id", "X", "--sex", "other", "--age", "70")
    assert code == 2 and "sex" in out
    code, out = run("lab", "add", "nobody", "calcium", "2.3", "mmol/L")
    assert code == 2 and "no patient" in out
    (tmp_path / "bad.json").write_text(json.dumps([{"id": "ok", "sex": "female", "age": 60},
                                                   {"id": "bad", "sex": "female", "age": 300}]))
    code, out = run("patient", "import", str(tmp_path / "bad.json"))
    assert code == 2 and "nothing imported" in out and "age" in out
    assert run("patient", "show", "ok")[0] == 2  # all or nothing


def test_db_downgrade_to_base_and_back(env: Path) -> None:
    assert run("db", "upgrade")[0] == 0
    code, out = run("db", "downgrade", "--revision", "base")
    assert code == 0 and "base" in out
    assert "current base" in run("db", "current")[1]
    assert run("db", "upgrade")[0] == 0


def test_demo_loads_a_clinic(env: Path) -> None:
    code, out = run("demo", "--patients", "12", "--seed", "7")
    assert code == 0 and "demo clinic: 12 patients" in out
    code, out = run("worklist")
    assert code == 0 and "Worklist" in out
    code, out = run("demo", "--patients", "3")
    assert code == 4 and "already loaded" in out
