"""The command line as a user meets it: readable report, JSON, schema, knowledge list, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


def osteocare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "osteocare.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_assess_json_carries_every_number_with_its_unit_provenance_and_the_recommendation() -> None:
    p = osteocare("assess", str(EXAMPLES[0]), "--json", "--as-of", "2026-11-25")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["provenance"]["knowledge_version"] and len(out["provenance"]["knowledge_sha256"]) == 64
    assert out["as_of"] == "2026-11-25"
    for r in out["results"].values():
        for q in r["values"].values():
            assert "unit" in q
    assert out["not_applicable"] and all(e["reason"] for e in out["not_applicable"])
    assert out["recommendation"]["stratum"]
    assert out["recommendation"]["citations"]


def test_assess_readable_report_leads_with_what_to_act_on_and_says_it_is_decision_support() -> None:
    p = osteocare("assess", *map(str, EXAMPLES), "--as-of", "2026-11-25")
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())
    assert text.index("Act on") < text.index("Summary")
    assert "does not replace clinical judgement" in text
    assert "QFracture-2012" in text and "ClinRisk" in text


@pytest.mark.parametrize("guideline", ["bhof-2022", "aace-2020", "nogg-2022", "iof-esceo-2020"])
def test_assess_takes_every_guideline(guideline: str) -> None:
    p = osteocare("assess", str(EXAMPLES[0]), "--json", "--guideline", guideline, "--as-of", "2026-11-25")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["provenance"]["guideline"] == guideline


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "x", "sex": "female", "age": 250}, "age: 250 is not allowed; expected a value from 0 to 120"),
        ({"id": "x", "sex": "female", "age": 70, "femoral_neck_bmd_g_cm2": 5}, "femoral_neck_bmd_g_cm2: 5"),
        ({"id": "x", "sex": "female", "age": 70, "femoral_neck_t_score": 15}, "femoral_neck_t_score: 15"),
        ({"id": "x", "sex": "female", "age": 70, "creatinine_umol_l": 1.1}, "creatinine_umol_l: 1.1"),
        ({"id": "x", "sex": "woman", "age": 70}, "sex: 'woman' is not allowed; expected one of 'female' or 'male'"),
    ],
)
def test_bad_input_names_the_field_value_and_range_and_exits_non_zero(tmp_path: Path, record: dict, message: str) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps(record))
    p = osteocare("assess", str(f))
    assert p.returncode == 2
    assert message in " ".join(p.stderr.split())


def test_a_malformed_json_file_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text("{not json")
    p = osteocare("assess", str(f))
    assert p.returncode == 2 and "not valid JSON" in p.stderr


def test_an_unknown_guideline_is_refused() -> None:
    p = osteocare("assess", str(EXAMPLES[0]), "--guideline", "made-up-2030")
    assert p.returncode == 2 and "guideline" in p.stderr


def test_schema_is_the_json_schema_of_the_record() -> None:
    p = osteocare("schema")
    schema = json.loads(p.stdout)
    assert {"id", "sex", "age", "prior_fracture", "femoral_neck_t_score"} <= set(schema["properties"])


def test_knowledge_lists_every_file_with_version_and_status() -> None:
    p = osteocare("knowledge")
    assert p.returncode == 0
    assert "qfracture-2012" in p.stdout and "secondary" in p.stdout


def test_screen_help_states_the_librarys_default_chunk_size() -> None:
    # the CLI leaves --chunk-rows to the library's default and does not import it at start-up (pyarrow is heavy),
    # so its help text carries the number as text: it must not drift from the library's
    from osteocare.batch.screen import DEFAULT_CHUNK_ROWS

    p = subprocess.run([sys.executable, "-m", "osteocare.cli", "screen", "--help"], capture_output=True, text=True,
                       cwd=ROOT, env={**os.environ, "COLUMNS": "200"})
    assert p.returncode == 0, p.stderr
    assert f"default {DEFAULT_CHUNK_ROWS:,})" in " ".join(p.stdout.split())
