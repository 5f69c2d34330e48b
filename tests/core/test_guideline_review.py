"""Two guideline readings a review against shared/knowledge/treatment.md corrected: ES-4.1 (teriparatide,
abaloparatide) follows ES2019's own very-high definition, the ES2020 wording governing romosozumab only (2.1);
every NOGG category OsteoCare gives is unverified (10)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from osteocare.core.assessment import assess
from osteocare.core.records import PatientRecord

AS_OF = dt.date(2026, 1, 1)
BASE: dict[str, Any] = {"id": "G1", "sex": "female", "age": 68, "weight_kg": 60, "height_cm": 158,
                        "menopausal_status": "postmenopausal", "frax_country": "US", "frax_with_bmd": True,
                        "frax_mof_percent": 15, "frax_hip_percent": 2}


def _rec(guideline: str, **kw: Any) -> dict[str, Any]:
    return assess(PatientRecord.model_validate({**BASE, **kw}), guideline=guideline, as_of=AS_OF).recommendation


def test_es2020_very_high_alone_offers_romosozumab_and_the_bisphosphonates_first_not_the_pth_analogues() -> None:
    """T -2.6 and one wrist fracture: ES2020's "T <= -2.5 and a fracture" (ES-R-VHIGH-ROMO), but not ES2019 Fig.
    1's multiple vertebral fractures (ES-R-VHIGH): ES2019 reads her as high risk, bisphosphonates first (ES-2.1)."""
    r = _rec("endocrine-society-2019", femoral_neck_t_score=-2.6,
             fractures=[{"site": "wrist", "date": "2020-09-01", "fragility": True}])
    assert [x["rule_id"] for x in r["stratum"]["rules_fired"]] == ["ES-R-VHIGH-ROMO"]
    tiers = {o["drug"]: o["tier"] for o in r["options"]}
    assert "teriparatide" not in tiers and "abaloparatide" not in tiers
    assert tiers["romosozumab"] == tiers["alendronate"] == tiers["zoledronic_acid"] == "first_line"


def test_es2019_very_high_offers_the_pth_analogues_first() -> None:
    """Two vertebral fractures and T -2.6: ES-R-VHIGH, so ES-4.1 (teriparatide, abaloparatide) first line."""
    r = _rec("endocrine-society-2019", femoral_neck_t_score=-2.6,
             fractures=[{"site": "vertebra", "date": "2020-09-01", "fragility": True},
                        {"site": "vertebra", "date": "2022-03-01", "fragility": True}])
    assert "ES-R-VHIGH" in [x["rule_id"] for x in r["stratum"]["rules_fired"]]
    tiers = {o["drug"]: o["tier"] for o in r["options"]}
    assert tiers["teriparatide"] == tiers["abaloparatide"] == "first_line"
    assert tiers["alendronate"] == "alternative"


def test_a_nogg_category_is_unverified_even_from_a_verified_rule() -> None:
    """A vertebral fracture 25 months ago: NOGG-4.2 (verified) gives high risk; the category is unverified."""
    r = _rec("nogg-2022", femoral_neck_t_score=-1.0,
             fractures=[{"site": "vertebra", "date": "2023-12-01", "fragility": True}])
    assert r["stratum"]["stratum"] == "high" and r["stratum"]["status"] == "unverified"
    assert "NOGG-CATEGORY" in [a["rule_id"] for a in r["stratum"]["action"]]
