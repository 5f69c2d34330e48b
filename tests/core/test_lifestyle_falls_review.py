"""Findings of the advice review on the lifestyle block, each checked against the knowledge it cites:

* STEADI (treatment.md 8.1, lifestyle/steadi.yaml KEY-QUESTIONS): three key questions; any yes - at risk; all three
  no - negative; fewer answered and none yes - the screen is not finished, never "negative";
* a fall on the record within the look-back (12 months, ``key_question_lookback_months``) is a yes to the fall
  question whatever answer was stored; the screen's date is shown, with no re-screen interval (none in the
  knowledge);
* on calcitriol (treatment.md 3.10: "Do not combine with high-dose calcium or other vitamin D without monitoring";
  drugs/calcium.yaml CA-CTR, drugs/vitamin_d.yaml VD-CTR) the calcium and vitamin D advice carries that caution
  and its status instead of a plain "supplement" dose;
* the brochure's ten 1-point statements are UNVERIFIED (treatment.md 8.1): a score that counts one is unverified;
* under 19 the knowledge has no calcium target (lifestyle/calcium.yaml notes; CA-RDA-19 starts at 19): said so;
* the PTH-analogue lifetime group is the drugs whose file says ``class: pth_analogue``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from osteocare.core.assessment import assess
from osteocare.core.drugs.lifestyle import lifestyle_block
from osteocare.core.guidelines import DerivedFacts, FallsScreen
from osteocare.core.guidelines.facts import FactView
from osteocare.core.knowledge import all_files, load
from osteocare.core.records import PatientRecord

AS_OF = dt.date(2026, 12, 7)
BASE: dict[str, Any] = dict(
    id="R1", sex="female", age=72, weight_kg=50, height_cm=152, menopausal_status="postmenopausal",
    femoral_neck_t_score=-2.7, total_hip_t_score=-2.2, lumbar_spine_t_score=-2.6, creatinine_umol_l=80)


def _lifestyle(guideline: str = "bhof-2022", **kw: Any) -> dict[str, Any]:
    a = assess(PatientRecord(**{**BASE, **kw}), guideline=guideline, as_of=AS_OF)
    return dict((a.recommendation or {})["lifestyle"])


def _items(life: dict[str, Any], topic: str) -> list[dict[str, Any]]:
    return [i for i in life["items"] if i["topic"] == topic]


def _text(life: dict[str, Any], topic: str) -> str:
    return " | ".join(str(i["text"]) for i in _items(life, topic))


def _steadi(fact: str) -> Any:
    return load("steadi").fact(fact)


# --- 1. a partly answered screen is not "negative" --------------------------------------------------------------

def test_one_question_answered_no_is_not_a_negative_screen_and_names_the_questions_not_asked() -> None:
    life = _lifestyle(falls_screen_answers={"worries": False})
    text = _text(life, "falls")
    assert life["falls_screen"] != "negative" and "negative" not in text
    assert "incomplete" in text
    questions = load("steadi").data["key_questions"]
    assert questions["fallen_past_year"] in text and questions["unsteady"] in text
    assert questions["worries"] not in text  # it was asked


def test_all_three_questions_answered_no_is_a_negative_screen() -> None:
    life = _lifestyle(falls_screen_answers={"fallen_past_year": False, "unsteady": False, "worries": False})
    assert life["falls_screen"] == "negative"
    item = _items(life, "falls")[0]
    assert "negative" in item["text"] and item["status"] == _steadi("KEY-QUESTIONS").status


def test_any_yes_is_positive_even_with_questions_not_asked() -> None:
    life = _lifestyle(falls_screen_answers={"unsteady": True})
    assert life["falls_screen"] == "positive"


def test_a_partly_answered_screen_leaves_the_falls_rule_undecided() -> None:
    rec = PatientRecord(**BASE, falls_screen_answers={"worries": False})
    facts = DerivedFacts(falls_screen=FallsScreen(key_questions={"worries": False}))
    assert FactView(rec, facts, AS_OF).get("falls_screen_positive")[0] is None


# --- 2. a recorded fall within the look-back is a yes ---------------------------------------------------------------

def test_a_fall_20_days_ago_is_a_yes_although_the_key_questions_were_answered_no() -> None:
    months = int(_steadi("key_question_lookback_months").value)
    assert months == 12  # treatment.md 8.1: "fallen in the past year"
    day = AS_OF - dt.timedelta(days=20)
    life = _lifestyle(falls_screen_answers={"fallen_past_year": False, "unsteady": False, "worries": False},
                      falls_history=[{"date": day.isoformat(), "injurious": True}])
    assert life["falls_screen"] == "positive"
    text = _text(life, "falls")
    assert day.isoformat() in text and "negative" not in text
    assert _items(life, "falls")[0]["status"] in ("secondary", "unverified")  # the look-back is secondary


def test_a_fall_outside_the_look_back_does_not_override_the_answers() -> None:
    old = AS_OF.replace(year=AS_OF.year - 2)
    life = _lifestyle(falls_screen_answers={"fallen_past_year": False, "unsteady": False, "worries": False},
                      falls_history=[{"date": old.isoformat(), "injurious": True}])
    assert life["falls_screen"] == "negative"


def test_the_screen_date_and_its_age_are_shown_and_no_re_screen_interval_is_invented() -> None:
    rec = PatientRecord(**BASE, falls_screen_answers={"fallen_past_year": False, "unsteady": False, "worries": False})
    answered = AS_OF - dt.timedelta(days=400)
    facts = DerivedFacts(falls_screen=FallsScreen(key_questions=dict(rec.falls_screen_answers), answered_on=answered))
    block = lifestyle_block(rec, facts, guideline="bhof-2022", as_of=AS_OF)
    text = " ".join(i.text for i in block.items if i.topic == "falls")
    assert answered.isoformat() in text and "400 days" in text
    assert "due" not in text and "overdue" not in text  # the knowledge gives no re-screen interval


# --- 3. calcitriol: calcium and vitamin D carry the interaction --------------------------------------------------

def test_on_calcitriol_calcium_and_vitamin_d_carry_the_caution_not_a_plain_supplement_dose() -> None:
    life = _lifestyle(dietary_calcium_mg_per_day=400, medications=[{"drug": "calcitriol", "start": "2026-01-01"}])
    ca, vd = _items(life, "calcium")[0], _items(life, "vitamin_d")[0]
    ca_ctr, vd_ctr = load("drug-calcium").fact("CA-CTR"), load("drug-vitamin-d").fact("VD-CTR")
    assert str(ca_ctr.value) in ca["text"] and "supplement 800 mg/day" not in ca["text"]
    assert ca["status"] == "unverified" == ca_ctr.status  # CA-CTR is unverified (treatment.md 3.10 engine rule)
    assert "CA-CTR" in ca["rule_ids"] and "VD-CTR" in vd["rule_ids"]
    assert str(vd_ctr.value) in vd["text"] and "Supplement 800-1000 IU/day" not in vd["text"]


def test_a_stopped_calcitriol_course_gives_no_caution() -> None:
    life = _lifestyle(dietary_calcium_mg_per_day=400,
                      medications=[{"drug": "calcitriol", "start": "2025-01-01", "end": "2025-06-01"}])
    ca = _items(life, "calcium")[0]
    assert "CA-CTR" not in ca["rule_ids"] and "supplement 800 mg/day" in ca["text"]


# --- 8. brochure score with 1-point items carries the wording's status ------------------------------------------

def test_a_brochure_score_counting_one_point_statements_is_unverified() -> None:
    life = _lifestyle(falls_screen_brochure_items=["unsteady_walking", "holds_furniture", "push_to_stand",
                                                   "trouble_curb"])
    brochure = next(i for i in _items(life, "falls") if "brochure score" in i["text"])
    assert brochure["status"] == _steadi("brochure_other_items_wording").status == "unverified"


def test_a_brochure_score_of_the_two_point_statements_only_keeps_their_status() -> None:
    life = _lifestyle(falls_screen_brochure_items=["fallen_past_year", "cane_or_walker"])
    brochure = next(i for i in _items(life, "falls") if "brochure score" in i["text"])
    assert brochure["status"] == "verified"  # brochure_points and brochure_threshold are verified


# --- minor: under 19, no target ----------------------------------------------------------------------------------

def test_under_19_the_calcium_item_says_the_knowledge_has_no_target() -> None:
    life = _lifestyle(age=18, menopausal_status=None, dietary_calcium_mg_per_day=300)
    ca = _items(life, "calcium")
    assert len(ca) == 1 and "no calcium" in ca[0]["text"].lower() and "18" in ca[0]["text"]
    assert "supplement" not in ca[0]["text"].lower()


# --- PTH analogues from the knowledge ------------------------------------------------------------------------------

def test_the_pth_analogue_group_is_the_drug_files_of_that_class() -> None:
    from osteocare.core.guidelines.facts import pth_analogues

    drugs = {str(f.data["drug"]) for f in all_files().values() if f.kind == "drug"
             and f.data.get("class") == "pth_analogue"}
    assert set(pth_analogues()) == drugs == {"teriparatide", "abaloparatide"}  # treatment.md 3.6, 3.7
