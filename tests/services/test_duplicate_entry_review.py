"""A retried request must not double an entry: the same fracture (site and date) posted twice made one hip fracture
"multiple fractures" and moved the AACE stratum to very high risk. An entry with the same key fields as a recorded
one (a fracture's site and date, a fall's date, a condition's code and onset, a medication's drug and start, an
intolerance's drug, reaction and date) is refused as a conflict naming the existing entry, with nothing written,
unless the caller confirms that it is another one. An undated entry counts as the same as an undated one of the same
key fields (two undated hip fractures may be true, but are far more often one sent twice): it needs the
confirmation too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from osteocare.core.errors import InputError
from osteocare.services.context import Clinic
from osteocare.services.entries import add_entry, entries_of
from osteocare.services.errors import Conflict
from osteocare.services.patients import audit_trail


def test_the_same_fracture_again_is_refused_naming_the_existing_one(clinic: Clinic,
                                                                      patient: Callable[..., str]) -> None:
    rid = patient()
    first = add_entry(clinic, rid, "fracture", {"site": "hip", "date": "2019-03-02", "fragility": True}).entry
    with pytest.raises(Conflict) as exc:
        add_entry(clinic, rid, "fracture", {"site": "hip", "date": "2019-03-02", "fragility": True})
    assert f"fracture {first.id}" in str(exc.value) and "confirm_duplicate" in str(exc.value)
    assert isinstance(exc.value, InputError) and exc.value.field == "confirm_duplicate"
    assert exc.value.existing.id == first.id  # type: ignore[attr-defined]
    assert len(entries_of(clinic, rid)["fracture"]) == 1
    # the fragility flag does not make it another fracture
    with pytest.raises(Conflict):
        add_entry(clinic, rid, "fracture", {"site": "hip", "date": "2019-03-02", "fragility": False})
    assert len(entries_of(clinic, rid)["fracture"]) == 1
    creates = [a for a in audit_trail(clinic, rid) if a["action"] == "create" and a["entity"] == "fracture"]
    assert len(creates) == 1


def test_another_site_or_day_is_another_fracture(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    add_entry(clinic, rid, "fracture", {"site": "hip", "date": "2019-03-02"})
    add_entry(clinic, rid, "fracture", {"site": "wrist", "date": "2019-03-02"})
    add_entry(clinic, rid, "fracture", {"site": "hip", "date": "2020-03-02"})
    assert len(entries_of(clinic, rid)["fracture"]) == 3


def test_a_confirmed_second_one_is_added(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    add_entry(clinic, rid, "fracture", {"site": "vertebra", "date": "2019-03-02"})
    add_entry(clinic, rid, "fracture", {"site": "vertebra", "date": "2019-03-02"}, confirm_duplicate=True)
    assert len(entries_of(clinic, rid)["fracture"]) == 2


def test_an_undated_fracture_like_an_undated_one_needs_the_confirmation(clinic: Clinic,
                                                                         patient: Callable[..., str]) -> None:
    rid = patient()
    add_entry(clinic, rid, "fracture", {"site": "hip"})
    add_entry(clinic, rid, "fracture", {"site": "hip", "date": "2018-01-01"})  # dated: another one
    with pytest.raises(Conflict, match="date not given"):
        add_entry(clinic, rid, "fracture", {"site": "hip"})
    add_entry(clinic, rid, "fracture", {"site": "hip"}, confirm_duplicate=True)
    assert len(entries_of(clinic, rid)["fracture"]) == 3


@pytest.mark.parametrize("kind,data,other", [
    ("fall", {"date": "2024-05-01", "injurious": True}, {"date": "2024-05-02"}),
    ("fall", {"date": None}, {"date": "2024-05-02"}),
    ("condition", {"code": "stroke", "onset": "2020-01-01"}, {"code": "stroke", "onset": "2021-01-01"}),
    ("condition", {"code": "stroke"}, {"code": "dialysis"}),
    ("medication", {"drug": "alendronate", "start": "2020-01-01"}, {"drug": "alendronate", "start": "2022-01-01"}),
    ("intolerance", {"drug": "alendronate", "reaction": "heartburn", "date": "2021-01-01"},
     {"drug": "alendronate", "reaction": "rash", "date": "2021-01-01"}),
])
def test_each_kind_the_rules_count_is_refused_twice(clinic: Clinic, patient: Callable[..., str], kind: str,
                                                    data: dict[str, object], other: dict[str, object]) -> None:
    rid = patient()
    add_entry(clinic, rid, kind, data)
    again = dict(data)
    if kind == "intolerance":
        again["reaction"] = " Heartburn "  # the same reaction, typed again
    with pytest.raises(Conflict):
        add_entry(clinic, rid, kind, again)
    add_entry(clinic, rid, kind, other)
    assert len(entries_of(clinic, rid)[kind]) == 2


def test_the_cli_refuses_a_duplicate_entry_and_adds_it_when_confirmed(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`osteocare entry add` refuses the same fall again (exit 4, naming the entry) and has --confirm-duplicate to
    record a second one."""
    from typer.testing import CliRunner

    from osteocare.cli import app

    monkeypatch.setenv("OSTEOCARE_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    src = tmp_path / "p.json"
    src.write_text('{"id": "D1", "sex": "female", "age": 70}')
    assert runner.invoke(app, ["patient", "add", "--json", str(src)]).exit_code == 0, "patient add"
    args = ["entry", "add", "D1", "fall", "date=2024-10-01"]
    assert runner.invoke(app, args).exit_code == 0
    r = runner.invoke(app, args)
    assert r.exit_code == 4 and "already" in r.output.lower(), r.output
    assert runner.invoke(app, [*args, "--confirm-duplicate"]).exit_code == 0
