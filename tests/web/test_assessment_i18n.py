"""The patient page's current-assessment panel in Vietnamese: the calculators' titles and the fixed status warnings
of ``core.status.status_warning`` ("{what}: based on facts ... (status: ...).") are translated in the web layer,
worded as the alerts' "This alert: ..." sentence; other English from the calculators and knowledge (rule texts,
citations, other warnings) is marked ``lang="en"`` (WCAG 3.1.2). English pages show the core's text unchanged."""

from __future__ import annotations

import datetime as dt
import html
import re
import string
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from osteocare.core import densitometry, kidney
from osteocare.core.errors import InputError
from osteocare.core.risk import frax_adjust, osta, qfracture
from osteocare.core.status import status_warning
from osteocare.web.i18n import Lang
from osteocare.web.translations.vi_source import VI

from .conftest import browser_for

BD_VI = "Chẩn đoán theo mật độ xương (phân loại của WHO, quan điểm chính thức của ISCD)"
KIDNEY_VI = "Chức năng thận (CrCl theo Cockcroft-Gault, eGFR theo CKD-EPI 2021)"
SECONDARY_VI = ("dựa trên dữ kiện chỉ thấy trong nguồn thứ cấp, chưa được xác nhận từ nguồn sơ cấp "
                "(trạng thái: nguồn thứ cấp).")
UNVERIFIED_VI = "dựa trên dữ kiện chưa được xác nhận từ nguồn sơ cấp (trạng thái: chưa xác minh)."
TITLES_VI = {
    densitometry.NAME: BD_VI,
    qfracture.NAME: "Phương trình QFracture-2012",
    frax_adjust.NAME: "FRAX (nhập từ một công cụ FRAX chính thức), kèm các hiệu chỉnh đã được công bố",
    osta.TOOL_NAMES["osta"]: "OSTA (Công cụ tự đánh giá loãng xương cho người châu Á, nữ)",
    kidney.NAME: KIDNEY_VI,
}


def _panel(page: str) -> str:
    return page[page.index('id="assessment"'):page.index('id="recommendation"')]


def _pages(app: Any, rid: str) -> tuple[str, str]:
    b = browser_for(app, "doctor")
    en = b.get(f"/patients/{rid}")
    b.get("/lang/vi")
    vi = b.get(f"/patients/{rid}")
    assert en.status_code == vi.status_code == 200
    return _panel(en.text), _panel(vi.text)


def _assessment(app: Any, tokens: dict[str, dict[str, str]], rid: str) -> dict[str, Any]:
    r = TestClient(app).get(f"/api/v1/patients/{rid}/assessment", headers=tokens["doctor"])
    assert r.status_code == 200, r.text
    return dict(r.json())


def _without_english_spans(fragment: str) -> str:
    return re.sub(r'<span lang="en">.*?</span>', "", fragment, flags=re.S)


@pytest.fixture(scope="module", params=["patient", "patient2"])
def case(request: pytest.FixtureRequest, app: Any, records: dict[str, str],
         tokens: dict[str, dict[str, str]]) -> dict[str, Any]:
    rid = records[request.param]
    en, vi = _pages(app, rid)
    return {"rid": rid, "en": en, "vi": vi, "a": _assessment(app, tokens, rid)}


def test_the_vietnamese_panel_titles_the_calculators_in_vietnamese(case: dict[str, Any]) -> None:
    summaries = [s for s in re.findall(r"<summary>(.*?)</summary>", case["vi"], flags=re.S)
                 if not s.startswith("Các công cụ tính không áp dụng")]
    names = [r["name"] for r in case["a"]["results"].values()]
    assert densitometry.NAME in names and kidney.NAME in names  # the demo patients have a DXA and a creatinine
    assert len(summaries) == len(names)
    for name, summary in zip(names, summaries, strict=True):
        assert summary.startswith(TITLES_VI.get(name, VI.get(name, "-"))), summary
        assert name not in summary
    assert any(s.startswith(BD_VI) for s in summaries)
    assert f"<summary>{KIDNEY_VI}</summary>" in case["vi"]


def test_the_vietnamese_panel_words_the_status_warnings_as_the_alerts_do(case: dict[str, Any]) -> None:
    warnings = [html.unescape(w) for w in re.findall(r'<p class="warn">(.*?)</p>', case["vi"], flags=re.S)]
    english = case["a"]["warnings"]
    assert len(warnings) == len(english) > 0
    seen = 0
    for en, vi in zip(english, warnings, strict=True):
        for status, sentence in (("secondary", SECONDARY_VI), ("unverified", UNVERIFIED_VI)):
            for title, title_vi in TITLES_VI.items():
                if en == status_warning(status, title):  # type: ignore[arg-type]
                    assert vi == f"{title_vi}: {sentence}", vi
                    seen += 1
        if "based on facts" in en:  # every status sentence is in Vietnamese, whatever its title
            assert vi.endswith(SECONDARY_VI if "(status: secondary)" in en else UNVERIFIED_VI), vi
        elif en in VI:  # a fixed warning: its translation
            assert vi == VI[en], vi
        elif " assumes the " in en and " FRAX model; " in en:  # the guideline's FRAX model: the names stay English
            assert " giả định mô hình FRAX <span lang=\"en\">" in vi, vi
        else:  # any other warning: English, marked so
            assert vi == f'<span lang="en">{en}</span>', vi
    assert seen >= 1
    assert f'<p class="warn">{BD_VI}: {SECONDARY_VI}</p>' in case["vi"] or (
        f'<p class="warn">{BD_VI}: {UNVERIFIED_VI}</p>' in case["vi"])
    assert "based on facts" not in _without_english_spans(case["vi"])
    assert "Tiêu đề, cảnh báo và phần giải thích của phần đánh giá do OsteoCare dịch, chưa được bác sĩ duyệt." in case["vi"]


def test_rule_texts_are_in_vietnamese_with_the_numbers_in_the_vietnamese_way(case: dict[str, Any]) -> None:
    results = case["a"]["results"]
    rules = {f["rule_id"]: f for r in results.values() for f in r["rules_fired"]}
    egfr = results["kidney-function"]["values"]["egfr_ckd_epi_2021"]["value"]
    egfr_en, egfr_vi = f"{egfr:.1f}", f"{egfr:.1f}".replace(".", ",")
    assert f"CKD-EPI 2021 race-free eGFR = {egfr_en} mL/min/1.73 m2" in rules["KIDNEY-CKD-EPI-2021"]["text"]
    assert (f"<code>KIDNEY-CKD-EPI-2021</code> eGFR theo CKD-EPI 2021 (không dùng yếu tố chủng tộc) = {egfr_vi} "
            "mL/phút/1,73 m2 (chuẩn hóa theo diện tích bề mặt cơ thể; được các hướng dẫn và cảnh báo đóng khung "
            "của denosumab sử dụng). <span") in case["vi"]
    low = results["bone-density"]["values"]["lowest_t_score"]["value"]
    cat = results["bone-density"]["category"]
    sentence = {"osteoporosis": "T {t} <= -2,5: loãng xương.",
                "severe_osteoporosis":
                    "T {t} <= -2,5 kèm gãy xương do giòn xương: loãng xương nặng (loãng xương thiết lập).",
                "low_bone_mass": "-2,5 < T {t} < -1,0: thiếu xương (giảm mật độ xương).",
                "normal": "T {t} >= -1,0: bình thường."}[cat]
    t_vi = f"{low:.1f}".replace(".", ",")
    shown = escape(f"{sentence.format(t=t_vi)} (Chỉ số T được làm tròn đến một chữ số thập phân, làm tròn nửa ra xa "
                   "số 0.)")
    assert f"<code>WHO-CATEGORY</code> {shown} <span" in case["vi"]
    for f in rules.values():  # every rule with parts has each template translated: no English left but its values
        if f["parts"]:
            assert all(p["template"] in VI for p in f["parts"]), f["rule_id"]


def test_citations_stay_english_and_are_marked_so_on_vietnamese_pages(case: dict[str, Any]) -> None:
    rules = [f for r in case["a"]["results"].values() for f in r["rules_fired"]]
    assert rules
    for f in rules:
        for c in f["citations"]:
            assert f'<cite lang="en">{escape(c["text"])}</cite>' in case["vi"]
    assert "<cite>" not in case["vi"]


def test_the_english_panel_shows_the_core_text_unchanged(case: dict[str, Any]) -> None:
    page = case["en"]
    assert 'lang="en"' not in page and "OsteoCare dịch" not in page
    for r in case["a"]["results"].values():
        assert f"<summary>{escape(r['name'])}" in page
        for f in r["rules_fired"]:
            assert f"<code>{f['rule_id']}</code> {escape(f['text'])} <span" in page
            for c in f["citations"]:
                assert f"<cite>{escape(c['text'])}</cite>" in page
    expected = "".join(f'<p class="warn">{escape(w)}</p>' for w in case["a"]["warnings"])
    assert expected in page
    assert f'<p class="warn">{escape(status_warning("secondary", densitometry.NAME))}</p>' in page or (
        f'<p class="warn">{escape(status_warning("unverified", densitometry.NAME))}</p>' in page)


def test_the_status_sentences_read_as_in_the_alerts() -> None:
    for status in ("secondary", "unverified"):
        alert = status_warning(status, "This alert")
        generic = status_warning(status, "{what}")
        assert alert is not None and generic is not None
        assert VI[generic].removeprefix("{what}: ") == VI[alert].removeprefix("Cảnh báo này: ")


def test_lang_maps_only_the_fixed_patterns() -> None:
    vi, en = Lang("vi"), Lang("en")
    w = status_warning("unverified", "Treatment options")
    assert str(vi.status_warning(w)) == f"Các lựa chọn điều trị: {UNVERIFIED_VI}"
    assert str(en.status_warning(w)) == w
    # a title the catalogue lacks: kept English and marked, the sentence translated
    w = status_warning("secondary", "Some <new> calculator")
    assert str(vi.status_warning(w)) == f'<span lang="en">Some &lt;new&gt; calculator</span>: {SECONDARY_VI}'
    assert str(en.status_warning(w)) == str(escape(w))
    # titles built from a guideline's name keep the name in English
    assert str(vi.title("Endocrine Society 2019/2020 risk stratum")) == (
        'Nhóm nguy cơ theo <span lang="en">Endocrine Society 2019/2020</span>')
    assert str(vi.title("es-2019 FRAX threshold (ES-R-HIGH)")) == (
        'Ngưỡng FRAX theo <span lang="en">es-2019</span> (ES-R-HIGH)')
    # a fixed warning the catalogue has: translated
    fixed = ("NOGG 2022 thresholds not available to OsteoCare: enter the NOGG category from the NOGG tool "
             "(status: unverified).")
    assert str(vi.status_warning(fixed)) == ("OsteoCare không có các ngưỡng của NOGG 2022: hãy nhập nhóm NOGG từ công cụ "
                                             "NOGG (trạng thái: chưa xác minh).")
    assert str(en.status_warning(fixed)) == fixed
    # any other text: English, marked
    other = "A warning no catalogue has (status: unverified)."
    assert str(vi.status_warning(other)) == f'<span lang="en">{other}</span>'
    assert str(en.status_warning(other)) == other
    assert str(vi.title("Unknown & new")) == '<span lang="en">Unknown &amp; new</span>'
    assert str(en.title("Unknown & new")) == "Unknown &amp; new"
    assert str(vi.en("a < b")) == '<span lang="en">a &lt; b</span>' and str(en.en("a < b")) == "a &lt; b"
    assert str(vi.en("")) == "" and str(vi.title(None)) == ""


#: Records that reach the explanations the demo clinic does not: Z-scores, T-scores computed from a raw BMD (also
#: converted through sBMD, and against the Vietnamese reference), a spine with too few vertebrae, the glucocorticoid
#: dose adjustment of FRAX (both modes), OST in men with a referral.
EDGE_RECORDS: list[dict[str, Any]] = [
    {"id": "z-man", "sex": "male", "age": 40, "dxa": [{"site": "femoral_neck", "z_score": -2.3},
                                                     {"site": "lumbar_spine", "z_score": -1.0}]},
    {"id": "z-woman", "sex": "female", "age": 35, "menopausal_status": "premenopausal",
     "dxa": [{"site": "total_hip", "z_score": -1.1}]},
    {"id": "raw", "sex": "female", "age": 66, "menopausal_status": "postmenopausal", "weight_kg": 50, "height_cm": 160,
     "dxa": [{"site": "femoral_neck", "bmd_g_cm2": 0.61, "manufacturer": "ge_lunar"},
             {"site": "total_hip", "bmd_g_cm2": 0.70, "manufacturer": "hologic"},
             {"site": "lumbar_spine", "t_score": -2.9, "evaluable_vertebrae": 1}],
     "frax_mof_percent": 12, "frax_hip_percent": 3, "frax_country": "Thailand", "frax_with_bmd": True,
     "frax_glucocorticoids_ticked": True, "glucocorticoid_mg_per_day": 10, "corticosteroids": True,
     "femoral_neck_t_score": -2.0, "lumbar_spine_t_score": -3.2},
    {"id": "young", "sex": "male", "age": 25, "weight_kg": 40, "height_cm": 190, "medications": [{"drug": "alendronate"}],
     "labs": [{"name": "creatinine", "value": 80, "unit": "umol/L", "date": "2027-01-01"}]},
    {"id": "caroc-treated", "sex": "female", "age": 60, "femoral_neck_t_score": -2.0,
     "medications": [{"drug": "alendronate"}]},
    {"id": "ost-men", "sex": "male", "age": 80, "weight_kg": 50, "height_cm": 160, "ethnicity": "white",
     "frax_mof_percent": 12, "frax_hip_percent": 3, "frax_glucocorticoids_ticked": True,
     "glucocorticoid_mg_per_day": 2.5},
]


def _explanations(record: Any) -> list[Any]:
    """The rules fired, and the reasons of the calculators that did not apply, of one record's assessment."""
    from osteocare.core.assessment import assess
    from osteocare.core.risk import frax_adjust as fa

    a = assess(record, as_of=dt.date(2026, 12, 1))
    results = list(a.results.values())
    if record.frax_mof_percent is not None:
        results.append(fa.assess_frax(record, age_specific=True))
    return [f for r in results for f in r.rules_fired] + [
        {"text": n.reason, "parts": n.reason_parts} for n in a.not_applicable if n.reason_parts]


def _check_in_vietnamese(rules: list[Any], seen: set[str]) -> None:
    vi = Lang("vi")
    for f in rules:
        text, parts = (f["text"], f["parts"]) if isinstance(f, dict) else (f.text, f.parts)
        shown = str(vi.text_parts(f))
        assert shown != f'<span lang="en">{escape(text)}</span>' or not parts, text  # the fallback is not used
        for p in parts:
            seen.add(p.template)
            assert p.template in VI, p.template
            assert _fields(VI[p.template]) == _fields(p.template), p.template
            for k, kind in p.kinds.items():
                if kind == "term" and k not in ("country", "reference"):  # names: as recorded, may stay English
                    assert p.params[k] in VI, (p.template, p.params[k])


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_explanation_of_the_edge_records_is_translated_with_the_same_fields() -> None:
    from osteocare.core.records import parse_record

    seen: set[str] = set()
    for r in EDGE_RECORDS:
        _check_in_vietnamese(_explanations(parse_record(r)), seen)
    for reached in ("Lowest Z-score {z} at {site} <= {z_max}: below the expected range for age.",
                    "{site}: T {t} computed against {reference} ({role}).",
                    "Lumbar spine excluded: {n} evaluable vertebrae (at least {min} needed).",
                    "Against {reference}: lowest T {t} at {site} -> {category}."):
        assert reached in seen, reached
    assert any(t.startswith("Glucocorticoid dose {dose}") and "age-specific" in t for t in seen)
    for reason in ("age {age} is below the model range {low}-{high} years",
                   "age {age} is below {min_age}: CAROC applies from age {min_age} (CAROC-SCOPE)"):
        assert reason in seen, reason
    young = next(r for r in EDGE_RECORDS if r["id"] == "young")  # its only creatinine is of 2027
    later = kidney.assess_kidney(parse_record(young), dt.date(2026, 12, 1))
    _check_in_vietnamese([{"text": later.reason, "parts": later.reason_parts}], seen)
    assert str(Lang("vi").text_parts({"text": later.reason, "parts": later.reason_parts})) == (
        "các kết quả creatinin đều có ngày sau ngày đánh giá (1 thg 12, 2026); không dùng kết quả của những ngày sau đó")


@st.composite
def calculator_records(draw: st.DrawFn) -> dict[str, Any]:
    """Records that take the calculators down their branches: sex, age, menopause, weight, creatinine, T- and
    Z-scores reported or from a raw BMD, FRAX with its adjustments, fractures, glucocorticoids, QFracture's inputs."""
    sex = draw(st.sampled_from(["female", "male"]))
    t = st.one_of(st.none(), st.integers(-45, 10).map(lambda x: x / 10))
    rec: dict[str, Any] = {
        "id": "p", "sex": sex, "age": draw(st.integers(30, 95)),
        "weight_kg": draw(st.one_of(st.none(), st.integers(35, 110))), "height_cm": draw(st.integers(140, 185)),
        "creatinine_umol_l": draw(st.one_of(st.none(), st.integers(40, 400))),
        "femoral_neck_t_score": draw(t), "lumbar_spine_t_score": draw(t), "total_hip_t_score": draw(t),
        "prior_fracture": draw(st.booleans()), "corticosteroids": draw(st.booleans()),
        "falls": draw(st.booleans()), "ethnicity": draw(st.sampled_from([None, "white", "other_asian", "chinese"])),
        "dxa": draw(st.lists(st.fixed_dictionaries({
            "site": st.sampled_from(["femoral_neck", "total_hip", "lumbar_spine"]),
            "z_score": st.one_of(st.none(), st.integers(-40, 20).map(lambda x: x / 10)),
            "bmd_g_cm2": st.one_of(st.none(), st.integers(40, 110).map(lambda x: x / 100)),
            "manufacturer": st.sampled_from([None, "ge_lunar", "hologic"]),
            "evaluable_vertebrae": st.one_of(st.none(), st.integers(0, 4))}), max_size=3)),
    }
    if sex == "female":
        rec["menopausal_status"] = draw(st.sampled_from([None, "premenopausal", "perimenopausal", "postmenopausal"]))
    if draw(st.booleans()):
        mof = draw(st.integers(10, 600)) / 10
        rec |= {"frax_mof_percent": mof, "frax_hip_percent": draw(st.integers(0, int(mof * 10))) / 10,
                "frax_country": draw(st.sampled_from([None, "Thailand", "Thailand (surrogate)", "US"])),
                "frax_with_bmd": draw(st.sampled_from([None, True, False])),
                "frax_glucocorticoids_ticked": draw(st.sampled_from([None, True, False])),
                "glucocorticoid_mg_per_day": draw(st.sampled_from([None, 2.5, 5, 10, 20]))}
    return rec


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=calculator_records())
def test_every_explanation_of_random_records_is_translated_with_the_same_fields(record: dict[str, Any]) -> None:
    from osteocare.core.records import parse_record

    try:
        parsed = parse_record(record)
    except InputError:  # a combination the record refuses (e.g. a Z-score beside a T-score out of range)
        return
    _check_in_vietnamese(_explanations(parsed), set())


def test_the_calculators_that_did_not_apply_are_listed_with_their_reasons(case: dict[str, Any]) -> None:
    """Every calculator that did not apply is named with why, in both languages (explain every result)."""
    skipped = case["a"]["not_applicable"]
    assert skipped  # the demo patients have no measured vertebrae: the Genant grade does not apply
    en = case["en"][case["en"].index('data-testid="not-applicable"'):]
    vi = case["vi"][case["vi"].index('data-testid="not-applicable"'):]
    assert f"Calculators that did not apply ({len(skipped)})" in en
    for n in skipped:
        assert f"<strong>{escape(n['name'])}</strong>: {escape(n['reason'])}" in en
    assert "<strong>Phân độ gãy đốt sống bán định lượng theo Genant (từ chiều cao đo được)</strong>: chưa ghi nhận " \
           "chiều cao đốt sống nào" in vi


def test_a_reference_label_or_country_typed_from_a_report_is_shown_as_typed() -> None:
    """Free text that happens to be a word of the interface ("Delete", "{n} days") is not looked up in the
    catalogue: it is shown as typed, marked English; OsteoCare's own label is translated."""
    from osteocare.core.records import parse_record

    vi = Lang("vi")
    for label in ("Delete", "{n} days"):
        rec = parse_record({"id": "L", "sex": "female", "age": 66, "menopausal_status": "postmenopausal",
                            "dxa": [{"site": "total_hip", "t_score": -2.7, "reference": label}],
                            "frax_mof_percent": 12, "frax_hip_percent": 3, "frax_country": label})
        shown = " ".join(str(vi.text_parts(f)) for f in _explanations(rec))
        assert f'<span lang="en">{escape(label)}</span>' in shown, shown
        assert "Xóa" not in shown and "ngày)" not in shown
    rec = parse_record({"id": "L", "sex": "female", "age": 66, "menopausal_status": "postmenopausal",
                        "dxa": [{"site": "total_hip", "t_score": -2.7}]})
    assert "(kết quả của máy đo (quần thể tham chiếu của nhà sản xuất))" in " ".join(
        str(vi.text_parts(f)) for f in _explanations(rec))


def test_a_courses_regimen_is_in_vietnamese_where_the_drug_still_reads_as_stored(app: Any,
                                                                                 records: dict[str, str]) -> None:
    b = browser_for(app, "doctor")
    en = b.get(f"/patients/{records['patient']}").text
    b.get("/lang/vi")
    vi = b.get(f"/patients/{records['patient']}").text
    assert re.search(r"(Denosumab 60 mg subcutaneous injection, every 6 months|Zoledronic acid 5 mg intravenous "
                     r"infusion, every 12 months), at the clinic", en)
    assert re.search(r"(denosumab 60 mg tiêm dưới da, mỗi 6 tháng|acid zoledronic 5 mg truyền tĩnh mạch, mỗi 12 "
                     r"tháng), tại phòng khám", vi), vi[vi.find('id="course"'):][:800]


def test_a_regimen_part_renders_as_the_text_every_course_stored() -> None:
    """The English of each drug's regimen part is its describe() text, the text a course keeps when it starts."""
    from osteocare.services.drugs import course_drug_ids, regimen
    from osteocare.services.textparts import render

    vi = Lang("vi")
    for drug in course_drug_ids():
        r = regimen(drug)
        assert render(r.describe_part()) == r.describe()
        shown = str(vi.text_parts({"text": r.describe(), "parts": [r.describe_part()]}))
        assert 'lang="en"' not in shown and r.describe() not in shown, shown
