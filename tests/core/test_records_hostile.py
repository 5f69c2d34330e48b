"""The record refuses what it cannot stand behind, and assess uses nothing dated after its own date.

Found by an adversarial review (2026-12-07): a capital letter hid an allergy from the contraindication check,
unknown ids were ignored, a lab dated after the assessment date decided the kidney function, and impossible
values (hip above major osteoporotic fracture risk, a medication ending before it began) were used.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osteocare.core.assessment import assess
from osteocare.core.errors import InputError
from osteocare.core.records import known_drugs, parse_record

AS_OF = dt.date(2025, 1, 1)
BASE: dict[str, Any] = {
    "id": "p", "sex": "female", "age": 72, "weight_kg": 47, "height_cm": 150, "prior_fracture": True,
    "menopausal_status": "postmenopausal", "femoral_neck_t_score": -2.7, "lumbar_spine_t_score": -3.1,
    "frax_mof_percent": 18.0, "frax_hip_percent": 6.1, "frax_country": "UK", "frax_with_bmd": True,
    "creatinine_umol_l": 84,
}


def _offered(record: dict[str, Any]) -> set[str]:
    a = assess(parse_record(record), as_of=AS_OF)
    assert a.recommendation is not None
    return {o["drug"] for o in a.recommendation["options"]}


def _refused(record: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_record(record)
    assert exc.value.field == field, str(exc.value)
    assert words in str(exc.value)


@settings(max_examples=25, deadline=None)
@given(spelling=st.sampled_from(["alendronate", "Alendronate", "ALENDRONATE", " alendronate ", "Alendronate "]),
       reaction=st.sampled_from(["anaphylaxis", "Anaphylaxis", "allergic reaction"]))
def test_an_allergy_is_seen_however_the_drug_is_written(spelling: str, reaction: str) -> None:
    assert "alendronate" in _offered(BASE)  # the check below can fail: without the allergy it is offered
    with_allergy = {**BASE, "intolerances": [{"drug": spelling, "reaction": reaction}]}
    assert "alendronate" not in _offered(with_allergy)


def test_drug_names_written_as_words_are_read_as_their_ids() -> None:
    rec = parse_record({**BASE, "medications": [{"drug": "Zoledronic acid"}],
                        "intolerances": [{"drug": "zoledronic-acid", "reaction": "fever"}]})
    assert rec.medications[0].drug == rec.intolerances[0].drug == "zoledronic_acid"
    assert "zoledronic_acid" in known_drugs()


@pytest.mark.parametrize(("extra", "field", "words"), [
    ({"intolerances": [{"drug": "fosamax", "reaction": "rash"}]}, "intolerances.0.drug", "one of abaloparatide"),
    ({"medications": [{"drug": "aspirin"}]}, "medications.0.drug", "one of abaloparatide"),
    ({"conditions": [{"code": "hypocalcemia"}]}, "conditions.0.code", "hypocalcaemia"),  # the US spelling
    ({"medications": [{"drug": "alendronate", "start": "2024-01-01", "end": "2020-01-01"}]}, "medications.0.end",
     "on or after start (2024-01-01)"),
    ({"conditions": [{"code": "myocardial_infarction", "onset": "2024-06-01", "resolved": "2020-01-01"}]},
     "conditions.0.resolved", "on or after onset"),
    ({"frax_mof_percent": 10.0, "frax_hip_percent": 50.0}, "frax_hip_percent", "at most frax_mof_percent (10)"),
    ({"glucocorticoid_months": 1e308}, "glucocorticoid_months", "at most the patient's age in months"),
    ({"labs": [{"name": "vitamin_d_25oh", "value": -10, "unit": "nmol/L"}]}, "labs.0.value", "at least 0"),
    ({"labs": [{"name": "calcium", "value": float("nan"), "unit": "mmol/L"}]}, "labs.0.value", "finite"),
    ({"age": True}, "age", "not true or false"),
    ({"age": 72.5}, "age", "expected a whole number"),
    ({"falls_screen_brochure_items": ["nope"]}, "falls_screen_brochure_items", "one of fallen_past_year"),
    ({"falls_screen_answers": {"dizzy": True}}, "falls_screen_answers", "one of fallen_past_year"),
    ({"guideline_categories": {"nogg": "high"}}, "guideline_categories", "nogg-2022"),
])
def test_what_cannot_be_true_or_is_not_known_is_refused_naming_the_field(extra: dict[str, Any], field: str,
                                                                         words: str) -> None:
    _refused({**BASE, **extra}, field, words)


def test_a_lab_dated_after_the_assessment_date_is_not_used() -> None:
    rec = {**{k: v for k, v in BASE.items() if k != "creatinine_umol_l"},
           "labs": [{"name": "creatinine", "value": 400, "unit": "umol/L", "date": "2024-06-01"},
                    {"name": "creatinine", "value": 60, "unit": "umol/L", "date": "2030-01-01"}]}
    a = assess(parse_record(rec), as_of=AS_OF)
    kidney = a.results["kidney-function"]
    assert kidney.values["creatinine_entered"].value == 400
    assert any("labs[1] (date 2030-01-01)" in w for w in a.warnings)
    assert "zoledronic_acid" not in _offered(rec)  # CrCl below the limit on the day; the 2030 value would allow it
    only_later = {**rec, "labs": rec["labs"][1:]}
    b = assess(parse_record(only_later), as_of=AS_OF)
    assert "kidney-function" not in b.results
    assert any("labs[0] (date 2030-01-01)" in w for w in b.warnings)
    from osteocare.core.kidney import assess_kidney  # called on its own with a date, it says why

    alone = assess_kidney(parse_record(only_later), as_of=AS_OF)
    assert not alone.applicable and "dated after the assessment date" in (alone.reason or "")


def test_a_dxa_dated_after_the_assessment_date_is_named_and_decides_nothing() -> None:
    rec = {**BASE, "femoral_neck_t_score": None, "lumbar_spine_t_score": None,
           "dxa": [{"site": "femoral_neck", "date": "2030-01-01", "t_score": 1.0}]}
    a = assess(parse_record(rec), as_of=AS_OF)
    assert any("dxa[0] (date 2030-01-01)" in w for w in a.warnings)
    assert "bone-density" not in a.results
    caroc = a.results.get("caroc-2010")
    assert caroc is None or "femoral_neck_t_score" not in caroc.values
    later = assess(parse_record(rec), as_of=dt.date(2030, 6, 1))  # on a later day the same exam is used
    assert "bone-density" in later.results


def _cli(tmp_path: Path, content: bytes | str, name: str = "rec.json") -> subprocess.CompletedProcess[str]:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return subprocess.run([sys.executable, "-m", "osteocare.cli", "assess", str(path)], capture_output=True,
                          text=True)


@pytest.mark.parametrize(("content", "words"), [
    (json.dumps({**BASE, "smoking": "[/red]"}), "smoking: '[/red]' is not allowed"),  # printed, not read as markup
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (b"\xff\xfe{}", "not UTF-8"),
    ('{"id": "p", "sex": "female", "age": ' + "9" * 5000 + "}", "not a usable JSON file"),
])
def test_the_assess_command_answers_bad_files_with_exit_2_and_no_traceback(tmp_path: Path, content: bytes | str,
                                                                           words: str) -> None:
    proc = _cli(tmp_path, content)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert words in proc.stderr.replace("\n", " ")


def test_the_assess_command_refuses_a_folder(tmp_path: Path) -> None:
    (tmp_path / "dir.json").mkdir()
    proc = subprocess.run([sys.executable, "-m", "osteocare.cli", "assess", str(tmp_path / "dir.json")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "a folder" in proc.stderr and "Traceback" not in proc.stderr


def test_screening_flags_a_hip_risk_above_the_major_osteoporotic_fracture_risk_as_the_record_does() -> None:
    import pyarrow as pa

    from osteocare.batch.screen import screen_batch

    batch = pa.RecordBatch.from_pydict({"id": ["1", "2"], "sex": ["female"] * 2, "age": ["70"] * 2,
                                        "frax_mof_percent": ["10", "10"], "frax_hip_percent": ["50", "4"]})
    errors = screen_batch(batch, as_of=AS_OF).column("error").to_pylist()
    assert errors[0] is not None and errors[0].startswith("frax_hip_percent: 50 is not allowed; expected at most "
                                                          "frax_mof_percent (10)")
    assert errors[1] is None
