"""`osteocare patient history` and `osteocare patient set`, end to end on a SQLite file (registered on a bare Typer
app, as cli.py does): values typed by the record's field types, old -> new printed, bad input named with exit 2
and nothing written, a stale --if-version refused with exit 4."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from osteocare.cli_clinic import register
from osteocare.services.context import Clinic
from osteocare.services.history import HISTORY_FIELDS, RISK_FLAGS, version_of
from osteocare.services.patients import audit_trail
from osteocare.settings import get_settings

app = typer.Typer()
register(app)
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.output


@pytest.fixture
def db(cli_store: tuple[str, Callable[[dict[str, Any]], None]]) -> str:
    """A store with patient P1: a 70-year-old woman, 55 kg, 155 cm, postmenopausal, who has fallen."""
    url, add = cli_store
    add({"id": "P1", "sex": "female", "age": 70, "weight_kg": 55, "height_cm": 155,
         "menopausal_status": "postmenopausal", "falls": True, "frax_country": "Vietnam"})
    return url


def _history() -> dict[str, Any]:
    code, out = run("patient", "history", "P1", "--json")
    assert code == 0, out
    return json.loads(out)  # type: ignore[no-any-return]


def _updates(url: str) -> list[dict[str, Any]]:
    clinic = Clinic.open(get_settings({"OSTEOCARE_DATABASE_URL": url}))
    try:
        return [{**e, "detail": json.loads(e["detail"])} for e in audit_trail(clinic, "P1") if e["action"] == "update"]
    finally:
        clinic.close()


def test_history_shows_the_values_grouped_with_the_version(db: str) -> None:
    h = _history()
    assert h["record_id"] == "P1" and set(h["values"]) == set(HISTORY_FIELDS)
    assert (h["values"]["weight_kg"], h["values"]["height_cm"], h["values"]["falls"], h["values"]["smoking"],
            h["values"]["frax_mof_percent"]) == (55.0, 155.0, True, "non_smoker", None)
    assert h["version"] == version_of(h["values"])
    code, out = run("patient", "history", "P1")
    assert code == 0, out
    assert f"Clinical history of P1 (version {h['version']})" in out
    lines = [line.split() for line in out.splitlines()]
    assert ["weight_kg", "55"] in lines and ["height_cm", "155"] in lines and ["bmi", "-"] in lines
    assert ["falls", "yes"] in lines and ["ra_sle", "no"] in lines and ["smoking", "non_smoker"] in lines
    assert ["frax_country", "Vietnam"] in lines and ["frax_mof_percent", "-"] in lines
    titles = [line.strip() for line in out.splitlines() if line.strip() in (
        "Body measures", "Background", "Risk factors", "Glucocorticoids",
        "FRAX result typed from an official FRAX tool")]
    assert titles == ["Body measures", "Background", "Risk factors", "Glucocorticoids",
                      "FRAX result typed from an official FRAX tool"]
    # every field is shown once, the risk flags under their title
    shown = [parts[0] for parts in lines if len(parts) == 2 and parts[0] in HISTORY_FIELDS]
    assert sorted(shown) == sorted(HISTORY_FIELDS)
    flags_at = out.index("\nRisk factors\n")
    assert all(out.index(f"  {f} ") > flags_at for f in RISK_FLAGS)


def test_set_parses_by_the_fields_type_prints_old_to_new_and_is_audited(db: str) -> None:
    before = _history()
    code, out = run("patient", "set", "P1", "weight_kg=52.5", "falls=no", "ra_sle=YES", "smoking=ex_smoker",
                    "frax_mof_percent=21", "frax_hip_percent=6.5", "frax_with_bmd=true", "frax_country=none",
                    "alcohol=none", "height_cm=155")
    assert code == 0, out
    after = _history()
    assert out.splitlines() == [
        "  weight_kg: 55 -> 52.5", "  smoking: non_smoker -> ex_smoker", "  falls: yes -> no",
        "  ra_sle: no -> yes", "  frax_mof_percent: - -> 21", "  frax_hip_percent: - -> 6.5",
        "  frax_country: Vietnam -> -", "  frax_with_bmd: - -> yes",
        "  alcohol: unchanged (none)", "  height_cm: unchanged (155)",
        f"changed 8 field(s); the history of P1 is at version {after['version']}"]
    expected = {**before["values"], "weight_kg": 52.5, "falls": False, "ra_sle": True, "smoking": "ex_smoker",
                "frax_mof_percent": 21.0, "frax_hip_percent": 6.5, "frax_with_bmd": True, "frax_country": None}
    assert after["values"] == expected and after["version"] != before["version"]
    [entry] = _updates(db)
    assert entry["actor"] == "nurse-cli"
    assert entry["detail"] == {"what": "history", "changed": {
        "weight_kg": {"from": 55.0, "to": 52.5}, "falls": {"from": True, "to": False},
        "ra_sle": {"from": False, "to": True}, "smoking": {"from": "non_smoker", "to": "ex_smoker"},
        "frax_mof_percent": {"from": None, "to": 21.0}, "frax_hip_percent": {"from": None, "to": 6.5},
        "frax_with_bmd": {"from": None, "to": True}, "frax_country": {"from": "Vietnam", "to": None}}}
    # the version it names is the one `history` shows; setting the same values again changes nothing
    code, out = run("patient", "set", "P1", "weight_kg=52.5", "--if-version", after["version"])
    assert code == 0 and out.splitlines() == [
        "  weight_kg: unchanged (52.5)", f"nothing changed; the history of P1 is at version {after['version']}"]
    assert len(_updates(db)) == 1


@pytest.mark.parametrize(("args", "named"), [
    (("weight_kg=abc",), "weight_kg: 'abc' is not allowed; expected a number"),
    (("weight_kg=nan",), "weight_kg: 'nan' is not allowed; expected a finite number"),
    (("weight_kg=900",), "weight_kg: 900.0 is not allowed; expected a value from 20 to 300 kg"),
    (("falls=maybe",), "falls: 'maybe' is not allowed; expected true or false (yes or no)"),
    (("falls=none",), "falls: 'none' is not allowed; expected true or false (yes or no) (it cannot be cleared)"),
    (("smoking=sometimes",), "smoking: 'sometimes' is not allowed; expected one of non_smoker, ex_smoker, light"),
    (("smoking=",), "smoking: '' is not allowed; expected one of non_smoker"),
    (("bogus=1",), "bogus: '1' is not allowed; expected a field of the clinical history: weight_kg, height_cm"),
    (("weight_kg",), "'weight_kg' is not FIELD=VALUE"),
    (("falls=yes", "falls=no"), "falls: given twice"),
    (("frax_mof_percent=5", "frax_hip_percent=9"), "frax_hip_percent: 9.0 is not allowed; expected at most "
                                                   "frax_mof_percent"),
    (("weight_kg=none",), "weight_kg: None is not allowed; expected both weight_kg and height_cm, or bmi"),
])
def test_bad_input_exits_2_naming_the_field_and_writes_nothing(db: str, args: tuple[str, ...], named: str) -> None:
    before = _history()
    code, out = run("patient", "set", "P1", "ra_sle=yes", *args)  # with a good change, not written either
    assert code == 2, out
    assert named in " ".join(out.split()), out
    assert _history() == before and _updates(db) == []


def test_an_unknown_patient_exits_2(db: str) -> None:
    assert run("patient", "history", "NOBODY") == (2, "error: no patient 'NOBODY'\n")
    assert run("patient", "set", "NOBODY", "falls=yes") == (2, "error: no patient 'NOBODY'\n")


def test_a_stale_if_version_exits_4_and_writes_nothing(db: str) -> None:
    read = _history()["version"]
    assert run("patient", "set", "P1", "smoking=heavy", "--if-version", read)[0] == 0
    now = _history()
    code, out = run("patient", "set", "P1", "weight_kg=60", "--if-version", read)
    assert code == 4, out
    text = " ".join(out.split())
    assert "changed by someone else after it was read; nothing was saved" in text
    assert f"it was at version {now['version']}" in text and "osteocare patient history P1" in text
    assert _history() == now and now["values"]["weight_kg"] == 55.0
    assert [list(e["detail"]["changed"]) for e in _updates(db)] == [["smoking"]]
