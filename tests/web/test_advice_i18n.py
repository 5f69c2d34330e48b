"""Printed advice in Vietnamese: every sentence the lifestyle block can generate has a Vietnamese template with
the same fields, so the patient portal's advice is Vietnamese with the same numbers as the English text."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import string
from pathlib import Path

from osteocare.core.assessment import assess
from osteocare.core.guidelines.rulesets import available_guidelines
from osteocare.core.records import PatientRecord
from osteocare.web.i18n import Lang
from osteocare.web.translations.vi_source import VI

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.json"))
LABS = ([], [{"name": "vitamin_d_25oh", "value": 12, "unit": "ng/mL", "date": "2026-01-01"}],
        [{"name": "vitamin_d_25oh", "value": 150, "unit": "nmol/L"}],
        [{"name": "vitamin_d_25oh", "value": 200, "unit": "ng/mL", "date": "2026-02-01"}])


def _items() -> list[dict[str, object]]:
    out = []
    for f in EXAMPLES:
        base = json.loads(f.read_text())
        for intake in (None, 300, 1500, 3000):
            for labs in LABS:
                rec = copy.deepcopy(base)
                rec.update(dietary_calcium_mg_per_day=intake, labs=labs)
                r = PatientRecord.model_validate(rec)
                for g in sorted(available_guidelines()):
                    a = assess(r, guideline=g, as_of=dt.date(2026, 6, 1)).model_dump(mode="json")
                    out += ((a.get("recommendation") or {}).get("lifestyle") or {}).get("items", [])
    return out


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_every_generated_sentence_has_a_vietnamese_template_with_the_same_fields() -> None:
    items = _items()
    assert len(items) > 100
    templates = {p["template"] for i in items for p in i["parts"]}  # type: ignore[attr-defined]
    missing = sorted(t for t in templates if t not in VI)
    assert not missing, missing
    for t in templates:
        assert _fields(VI[t]) == _fields(t), t


def test_advice_reads_the_same_numbers_in_both_languages() -> None:
    en, vi = Lang("en", dt.UTC), Lang("vi", dt.UTC)
    for item in _items():
        assert en.advice(item) == item["text"]
        text_vi = vi.advice(item)
        assert text_vi != item["text"]
        # the same values: English numbers "1200", "30.4" and ISO dates; Vietnamese "1.200", "30,4" and "18 thg 6, 2026"
        assert _values(text_vi, vi=True) == _values(str(item["text"]), vi=False), (item["text"], text_vi)


def _values(text: str, *, vi: bool) -> list[str]:
    """The dates (as ISO) and the numbers (as English writes them) in ``text``, sorted."""
    if vi:
        dates = [dt.date(int(y), int(mo), int(d)).isoformat()
                 for d, mo, y in re.findall(r"\b(\d{1,2}) thg (\d{1,2}), (\d{4})\b", text)]
        text = re.sub(r"\b\d{1,2} thg \d{1,2}, \d{4}\b", " ", text)
        text = re.sub(r"(?<=\d)\.(?=\d{3}\b)", "", text).replace(",", ".")
    else:
        dates = re.findall(r"\b\d{4}-\d{2}-\d{2}\b", text)
        text = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", " ", text)
    return sorted(dates) + sorted(re.findall(r"\d+(?:\.\d+)?", text))
