"""The Vietnamese translations of the knowledge files' sentences (``web/translations/vi_knowledge/*.json``): each
key is a sentence the knowledge files still have, word for word; each translation keeps its sentence's numbers,
comparisons and placeholders, and writes no number in a way a Vietnamese reader takes differently (``4,000`` reads
as four in Vietnamese, where the comma is the decimal mark)."""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from osteocare.core.knowledge import all_files, load
from osteocare.web.translations import vi_source

HERE = Path(vi_source.__file__).parent / "vi_knowledge"
FILES = sorted(HERE.glob("*.json"))


def _strings(x: Any) -> set[str]:
    if isinstance(x, str):
        return {x}
    if isinstance(x, dict):
        return set().union(*(_strings(v) for v in x.values())) if x else set()
    if isinstance(x, list):
        return set().union(*(_strings(v) for v in x)) if x else set()
    return set()


def _knowledge_strings() -> set[str]:
    out: set[str] = set()
    for kid in all_files():
        kf = load(kid)
        for name in kf.facts:
            out |= _strings(kf.fact(name).value)
        out |= _strings(kf.data or {})
    return out


def _numbers(text: str) -> Counter[str]:
    return Counter(re.findall(r"\d+(?:\.\d+)?", re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)))


def test_there_are_translations() -> None:
    assert {f.stem for f in FILES} >= {"guidelines", "antiresorptives", "anabolics", "sequencing"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_key_is_a_sentence_of_the_knowledge_files_and_keeps_its_numbers(path: Path) -> None:
    known = _knowledge_strings()
    pairs: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    assert pairs
    stale = [k for k in pairs if k not in known]
    assert not stale, f"{path.name}: no longer in the knowledge files: {stale[:3]}"
    for en, vi in pairs.items():
        assert vi.strip(), en
        fields = {n for _, n, _, _ in string.Formatter().parse(en) if n}
        assert fields == {n for _, n, _, _ in string.Formatter().parse(vi) if n}, en
        assert _numbers(en) <= _numbers(vi) or _numbers(en) == _numbers(vi), (en, vi)
        for sign in ("<=", ">=", "->", "<", ">", "%"):
            assert en.count(sign) <= vi.count(sign), (sign, en, vi)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_no_translation_groups_thousands_with_a_comma(path: Path) -> None:
    pairs: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    bad = {vi for vi in pairs.values() if re.search(r"(?<![\d.,])\d{1,3},\d{3}(?!\d)", vi)}
    assert not bad, bad


def test_the_catalogue_has_them() -> None:
    for path in FILES:
        for en in json.loads(path.read_text(encoding="utf-8")):
            assert en in vi_source.VI, en
