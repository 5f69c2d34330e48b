"""The scenarios cover every contraindication rule of every drug and every stratum rule of every guideline."""

from __future__ import annotations

from pathlib import Path

from osteocare.core.guidelines import available_guidelines
from osteocare.core.guidelines.rulesets import drug_files, guideline_file

TEXT = "".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("*.yaml"))


def test_every_contraindication_rule_appears_in_a_scenario() -> None:
    ids = {c["id"] for kf in drug_files().values() for c in kf.data["contraindications"]}
    assert sorted(i for i in ids if i not in TEXT) == []


def test_every_stratum_of_every_guideline_appears_in_a_scenario() -> None:
    missing = []
    for g in available_guidelines():
        kf = guideline_file(g)
        for r in kf.data["rules"]:
            if r["id"] not in TEXT:
                missing.append((g, r["id"]))
        for s in kf.data["strata"]:
            if f"stratum: {s}" not in TEXT:
                missing.append((g, s))
    assert missing == []
