"""osteocare screen: each calculator column carries its calculator's status, as ``osteocare assess`` gives it.

A review (2026-12) found that the screen output's who_category, caroc_category, osta_* and qfracture_* columns
carried no status: "secondary" appeared nowhere in the CSV, OUT.about.json or the HTML summary, while
``osteocare assess`` gives those calculators status secondary for the same patient (knowledge README, rule 3:
a non-verified result is never presented as confirmed). The outside reference here is ``osteocare assess
--json`` run on each row as a record: the screen's summary (about.json counts and notes, the HTML page, the
printed table) must name the status it gives, row for row, and the non-verified rules it names.
"""

from __future__ import annotations

import csv
import html
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

AS_OF = "2026-06-01"
#: screening column group (the summary's count ``<group>_status``) of each calculator ``assess`` reports
GROUP = {"qfracture-2012": "qfracture", "bone-density": "who_category", "caroc-2010": "caroc_category",
         "osta": "osta", "ost-men": "osta", "ost-us-women": "osta"}
COLUMNS = ["id", "sex", "age", "weight_kg", "height_cm", "bmi", "ethnicity", "prior_fracture", "falls",
           "femoral_neck_t_score", "total_hip_t_score", "lumbar_spine_t_score"]
ROWS: list[dict[str, Any]] = [
    # the reviewer's patient: every calculator secondary in assess
    {"id": "A1", "sex": "female", "age": 72, "weight_kg": 47, "height_cm": 150, "prior_fracture": 1, "falls": 1,
     "femoral_neck_t_score": -2.7, "total_hip_t_score": -2.2, "lumbar_spine_t_score": -3.1},
    # a man: OST for men (its own cut-offs), CAROC from a femoral neck T-score
    {"id": "M1", "sex": "male", "age": 68, "weight_kg": 60, "height_cm": 170, "ethnicity": "white",
     "femoral_neck_t_score": -1.2},
    # a white woman: OST for US women; CAROC without a femoral neck T-score
    {"id": "W1", "sex": "female", "age": 65, "weight_kg": 70, "height_cm": 165, "ethnicity": "white",
     "total_hip_t_score": -1.0},
    # no weight, no T-score: no OSTA, no WHO category
    {"id": "N1", "sex": "female", "age": 60, "bmi": 22},
    # a man under 50 with a T-score only: no WHO category (ISCD: Z-scores), no CAROC
    {"id": "Y1", "sex": "male", "age": 45, "weight_kg": 80, "height_cm": 175, "lumbar_spine_t_score": -1.0},
]


def _osteocare(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}  # the printed table on one line per row
    return subprocess.run([sys.executable, "-m", "osteocare.cli", *args], capture_output=True, text=True, env=env)


def _assess(row: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """``osteocare assess --json`` of the row as a record (flags as yes/no): calculator id -> its result."""
    rec = {k: (bool(v) if k in ("prior_fracture", "falls") else v) for k, v in row.items()}
    path = tmp_path / f"{row['id']}.json"
    path.write_text(json.dumps(rec))
    proc = _osteocare("assess", str(path), "--json", "--as-of", AS_OF)
    assert proc.returncode == 0, proc.stderr
    results: dict[str, Any] = json.loads(proc.stdout)["results"]
    return results


def _screen(tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    with src.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(ROWS)
    proc = _osteocare("screen", str(src), "--out", str(dst), "--as-of", AS_OF)
    assert proc.returncode == 0, proc.stderr
    about = json.loads((tmp_path / "out.csv.about.json").read_text())
    page = html.unescape((tmp_path / "out.csv.summary.html").read_text())
    return proc, about, page


def test_the_screen_summary_names_each_calculators_status_as_assess_gives_it(tmp_path: Path) -> None:
    assessed = {row["id"]: _assess(row, tmp_path) for row in ROWS}
    # what assess says, per screening column group: rows per status
    expected: dict[str, Counter[str]] = {}
    for results in assessed.values():
        for calc, r in results.items():
            if calc in GROUP:
                expected.setdefault(GROUP[calc], Counter())[r["status"]] += 1
    assert expected["qfracture"]["secondary"] == len(ROWS)  # the reviewer's finding: not all verified
    assert set(expected["osta"]) == {"secondary", "verified", "unverified"}  # the rows do differ

    proc, about, page = _screen(tmp_path)
    counts = about["summary"]["counts"]
    for group, ctr in expected.items():
        assert counts[f"{group}_status"] == dict(ctr), group
    assert set(counts) >= {f"{g}_status" for g in expected}
    assert not {f"{g}_status" for g in set(GROUP.values()) - set(expected)} & set(counts)

    # one note per calculator: its name and each status assess gave it, with the rules and knowledge behind it
    notes = about["notes"]
    printed = " ".join(proc.stderr.replace("│", " ").split())  # the printed table's rows, without its borders
    for calc in {c for results in assessed.values() for c in results if c in GROUP}:
        got = [r for results in assessed.values() for c, r in results.items() if c == calc]
        (note,) = [n for n in notes if n.startswith(f"{got[0]['name']}: status ")]
        head = note.split(" — ")[0]
        for status, rows in Counter(r["status"] for r in got).items():
            assert f"{status} on {rows} row{'s' if rows != 1 else ''}" in head.split(": status ")[1].split("; ")[0], note
        for r in got:
            for rule in r["rules_fired"]:
                if rule["status"] != "verified":
                    assert f"{rule['rule_id']} ({rule['status']})" in note, note
                    for cite in rule["citations"]:
                        assert f"knowledge {cite['knowledge_id']}" in note and cite["source_id"] in note, note
        assert note in about["summary"]["notes"]  # the library's summary as well as the CLI's about file
        assert note in page  # the HTML summary
        assert f"status: {head}" in printed  # and printed after the table
    for group, ctr in expected.items():  # the CLI's printed summary: rows per status of each column group
        for status, rows in ctr.items():
            assert f"{group}_status = {status} {rows}" in printed

    # the reviewer's patient: the word assess uses is in the output the user reads
    assert "status secondary" in " ".join(notes) and "status secondary" in page


def test_a_calculator_whose_status_differs_between_rows_says_so_with_the_lowest(tmp_path: Path) -> None:
    _, about, _ = _screen(tmp_path)
    caroc = [n for n in about["notes"] if n.startswith("CAROC 2010 fracture risk category: status ")]
    assert len(caroc) == 1
    # CAROC: secondary where the basal table decided (A1, M1), verified where it could not (W1, N1)
    assert "status secondary on 2 rows, verified on 2 rows (lowest: secondary)" in caroc[0]


def test_statuses_add_up_over_chunks_and_leave_flagged_rows_out(tmp_path: Path) -> None:
    import datetime as dt

    from osteocare.batch.screen import screen_file
    from osteocare.core.assessment import assess
    from osteocare.core.records import parse_record

    rows = [*ROWS, {"id": "BAD", "sex": "female", "age": 300, "weight_kg": 50, "height_cm": 150}] * 3
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    with src.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    expected: dict[str, Counter[str]] = {}
    for row in rows:
        if row["id"] == "BAD":
            continue
        rec = {k: (bool(v) if k in ("prior_fracture", "falls") else v) for k, v in row.items()}
        a = assess(parse_record(rec), as_of=dt.date.fromisoformat(AS_OF))
        for calc, r in a.results.items():
            if calc in GROUP:
                expected.setdefault(f"{GROUP[calc]}_status", Counter())[r.status] += 1
    summary = screen_file(src, dst, chunk_rows=4, as_of=dt.date.fromisoformat(AS_OF), threads=2)
    assert summary.flagged == 3
    assert {k: dict(v) for k, v in summary.counts.items() if k in expected} == {k: dict(v) for k, v in expected.items()}
