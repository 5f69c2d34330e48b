"""A drug kept off the list by a non-verified fact (the drug labels' kidney limits, SECONDARY in
risk-calculators.md 10 and treatment.md 3) reaches the clinician with that status: in the recommendation's warnings
and, hit by hit, in the text report (knowledge README, rule 3). The reviewer's scenario: the Hanoi example with a
creatinine of 160 umol/L."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from osteocare.core.assessment import assess
from osteocare.core.knowledge import load
from osteocare.core.records import parse_record

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hanoi-woman-72.json"
AS_OF = dt.date(2026, 12, 7)
KIDNEY = {"alendronate": "ALN-KIDNEY", "risedronate": "RIS-KIDNEY", "zoledronic_acid": "ZOL-KIDNEY"}


def _low_kidney() -> dict[str, Any]:
    data = json.loads(EXAMPLE.read_text())
    data["creatinine_umol_l"] = 160
    rec = assess(parse_record(data), guideline="endocrine-society-2019", as_of=AS_OF).recommendation
    assert rec is not None
    return rec


def _label_status(drug: str) -> str:
    kf = load(f"drug-{drug.replace('_', '-')}")
    return str(kf.fact(KIDNEY[drug]).status)


def test_the_kidney_limits_are_secondary_in_the_knowledge() -> None:
    assert {d: _label_status(d) for d in KIDNEY} == dict.fromkeys(KIDNEY, "secondary")


def test_drugs_blocked_by_a_secondary_kidney_limit_carry_a_status_warning() -> None:
    rec = _low_kidney()
    blocked = {n["drug"] for n in rec["not_offered"]}
    assert set(KIDNEY) <= blocked
    warnings = [w for w in rec["warnings"] if w.startswith("Drugs not offered")]
    assert len(warnings) == 1, rec["warnings"]
    assert warnings[0].endswith("(status: secondary).")
    assert rec["status"] != "verified"


def test_the_report_prints_the_status_of_each_blocking_rule() -> None:
    text = _low_kidney()["text"]
    lines = [" ".join(line.split()) for line in text.splitlines()]
    for drug, rule in KIDNEY.items():
        name = str(load(f"drug-{drug.replace('_', '-')}").data["name"])
        must_not = [line for line in lines if line.startswith(f"* MUST NOT GIVE {name}:")]
        not_offered = [line for line in lines if line.startswith(f"not offered: {name} -")]
        for found in (must_not, not_offered):
            assert len(found) == 1, (drug, text)
            assert f"[{rule}] [status: {_label_status(drug)}]" in found[0], found[0]
    assert any(line.startswith("! Drugs not offered:") and "(status: secondary)" in line for line in lines)
