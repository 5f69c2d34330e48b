"""Runs every clinician-readable scenario in tests/scenarios/*.yaml against the treatment engine.

Each scenario names the guideline, the as-of date, the patient (a PatientRecord as JSON/YAML), optional
calculator outputs (``derived``: the DerivedFacts the assessment module would pass) and what is expected.
Only the expectations written down are checked; see README in the YAML files' headers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from osteocare.core.drugs import check_drug, recommend
from osteocare.core.guidelines import DerivedFacts, derived_facts_from_record
from osteocare.core.records import parse_record

HERE = Path(__file__).parent


def _load() -> list[Any]:
    out = []
    for path in sorted(HERE.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for sc in doc["scenarios"]:
            out.append(pytest.param(sc, id=f"{path.stem}: {sc['name']}"))
    return out


def _facts(sc: dict[str, Any]) -> tuple[Any, DerivedFacts]:
    record = parse_record(sc["patient"])
    base = derived_facts_from_record(record).model_dump()
    base.update(sc.get("derived", {}))
    return record, DerivedFacts.model_validate(base)


@pytest.mark.parametrize("sc", _load())
def test_scenario(sc: dict[str, Any]) -> None:
    record, facts = _facts(sc)
    as_of = sc["as_of"] if isinstance(sc["as_of"], dt.date) else dt.date.fromisoformat(sc["as_of"])
    region = sc.get("region")
    exp = sc["expect"]
    rec = recommend(record, facts, guideline=sc["guideline"], as_of=as_of, region=region)
    fired = [r.rule_id for r in rec.stratum.rules_fired]
    offered = [o.drug for o in rec.options]
    not_offered = {n.drug: [h.rule_id for h in n.hits] + ([n.excluded_by.rule_id] if n.excluded_by else [])
                   for n in rec.not_offered}
    where = f"\n{rec.to_text()}"

    if "stratum" in exp:
        assert rec.stratum.stratum == exp["stratum"], where
    if "label" in exp:
        assert rec.stratum.label == exp["label"], where
    for r in exp.get("rules_fired", []):
        assert r in fired, where
    for r in exp.get("rules_not_fired", []):
        assert r not in fired, where
    if "status" in exp:
        assert rec.stratum.status == exp["status"], where
    for m in exp.get("missing", []):
        assert m in rec.stratum.missing, where
    if "first_option" in exp:
        assert offered and offered[0] == exp["first_option"], where
    if "options" in exp:
        assert offered == exp["options"], where
    for d in exp.get("options_include", []):
        assert d in offered, where
    for d in exp.get("options_exclude", []):
        assert d not in offered, where
    for d, rules in exp.get("not_offered", {}).items():
        assert d in not_offered, where
        for r in rules or []:
            assert r in not_offered[d], where
    if exp.get("no_drug"):
        assert not offered and rec.no_drug_reason is not None, where
    for drug, kinds in exp.get("contraindications", {}).items():
        check = check_drug(record, facts, drug, as_of=as_of, region=region)
        got: dict[str, list[str]] = {}
        for h in check.hits:
            got.setdefault(h.kind, []).append(h.rule_id)
        for kind, rules in kinds.items():
            if kind == "none":
                assert not check.hits, f"{drug}: {check.hits}"
            elif kind == "undecided":
                assert set(rules) <= {u.rule_id for u in check.undecided}, f"{drug}: {check.undecided}"
            else:
                assert set(rules) <= set(got.get(kind, [])), f"{drug} {kind}: {got}"
    for s in exp.get("sequencing", []):
        match = [a for a in rec.sequencing if a.rule_id == s["rule"]]
        assert match, where
        a = match[0]
        for k in ("action", "urgency", "drug"):
            if k in s:
                assert getattr(a, k) == s[k], where
        if "due" in s:
            assert a.due == dt.date.fromisoformat(str(s["due"])), where
        for d in s.get("alternatives_include", []):
            assert d in a.alternatives, where
        for d in s.get("alternatives_exclude", []):
            assert d not in a.alternatives, where
    for r in exp.get("sequencing_absent", []):
        assert r not in [a.rule_id for a in rec.sequencing], where
    for r in exp.get("before_first_dose", []):
        assert r in [a.rule_id for a in rec.before_first_dose], where
    if "falls_screen" in exp:
        assert rec.lifestyle.falls_screen == exp["falls_screen"], where
    for needle in exp.get("text_contains", []):
        assert needle in rec.to_text(), where
    for w in exp.get("warning_contains", []):
        assert any(w in x for x in rec.warnings), where
    assert rec.citations, where
