"""The text report names drugs and missing facts in words (a review: "Options: zoledronic_acid, denosumab" and
"missing: crcl_ml_min" reached the clinician as internal ids)."""

from __future__ import annotations

import datetime as dt

from osteocare.core.assessment import assess
from osteocare.core.records import parse_record


def test_missing_facts_are_said_in_words_not_ids() -> None:
    rec = parse_record({"id": "W1", "sex": "female", "age": 72, "menopausal_status": "postmenopausal",
                        "lumbar_spine_t_score": -2.8})  # no creatinine, weight: the kidney limits cannot be decided
    text = _text(rec)
    assert "crcl_ml_min" not in text and "egfr_ml_min_1_73m2" not in text
    assert "Cockcroft-Gault creatinine clearance" in text


def test_switch_options_are_drug_names() -> None:
    rec = parse_record({"id": "W2", "sex": "female", "age": 72, "menopausal_status": "postmenopausal",
                        "lumbar_spine_t_score": -2.8, "weight_kg": 55, "height_cm": 155,
                        "labs": [{"name": "creatinine", "value": 70, "unit": "umol/L", "date": "2025-01-01"}],
                        "medications": [{"drug": "alendronate", "start": "2020-01-01"}],
                        "fractures": [{"site": "wrist", "date": "2023-05-01"}, {"site": "hip", "date": "2024-05-01"}]})
    text = _text(rec)
    line = next(x for x in text.splitlines() if "Options:" in x)
    assert "Zoledronic acid" in line and "zoledronic_acid" not in line, line



def _text(record):  # type: ignore[no-untyped-def]
    """The report's text as the CLI prints it (``Recommendation.to_text``, core/drugs/report.py)."""
    rec = assess(record, guideline="endocrine-society-2019", as_of=dt.date(2025, 3, 1)).recommendation
    assert rec is not None
    return str(rec["text"])
