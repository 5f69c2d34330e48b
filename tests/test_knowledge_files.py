"""Every knowledge file: schema, citations, statuses, units."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from osteocare.core.knowledge import all_files, release
from osteocare.core.status import lowest

FILES = all_files()


def test_it_loads_every_knowledge_file_against_the_envelope_schema() -> None:
    assert "qfracture-2012" in FILES
    assert len(FILES) >= 3


@pytest.mark.parametrize("kid", sorted(FILES))
def test_every_fact_has_a_unit_a_known_source_and_a_status(kid: str) -> None:
    kf = FILES[kid]
    source_ids = {s.id for s in kf.sources}
    assert kf.sources, f"{kid} has no sources"
    for name, fact in kf.facts.items():
        assert fact.unit, f"{kid}.{name} has no unit"
        assert fact.source in source_ids
        assert fact.status in {"verified", "secondary", "unverified", "convention"}
    assert kf.status == lowest([*(f.status for f in kf.facts.values()), kf.status])
    for s in kf.sources:
        assert len(s.citation) > 10, f"{kid}: source {s.id} has no real citation"


def test_the_qfracture_coefficients_are_the_shared_file_unchanged() -> None:
    shared = Path(__file__).resolve().parents[2] / "shared/knowledge/qfracture-2012.json"
    if not shared.exists():
        pytest.skip(f"shared knowledge not beside the checkout ({shared})")
    original = json.loads(shared.read_text())
    assert FILES["qfracture-2012"].data["equations"] == original["equations"]


def test_the_release_has_a_version_and_a_content_hash() -> None:
    rel = release()
    assert rel.version
    assert len(rel.sha256) == 64


def test_no_flow_mapping_is_cut_at_an_unquoted_comma() -> None:
    """``{label: Prolonged immobilisation (surgery, bed rest) current}`` reads as a label cut at the comma and a
    key ``bed rest) current`` with no value: such a key (text with spaces or brackets and a null value) is a
    label that needs quotes, never data."""
    import yaml

    found = []

    def walk(x: object, where: str) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                if v is None and isinstance(k, str) and any(c in k for c in " ()"):
                    found.append(f"{where}: {k!r}")
                walk(v, f"{where}/{k}")
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, f"{where}[{i}]")

    root = Path(__file__).resolve().parents[1] / "src" / "osteocare" / "knowledge"
    for f in sorted(root.rglob("*.yaml")):
        walk(yaml.safe_load(f.read_text(encoding="utf-8")), str(f.relative_to(root)))
    assert not found, found
