"""The patient page's current-assessment panel in Vietnamese: the calculators' titles and the fixed status warnings
of ``core.status.status_warning`` ("{what}: based on facts ... (status: ...).") are translated in the web layer,
worded as the alerts' "This alert: ..." sentence; other English from the calculators and knowledge (rule texts,
citations, other warnings) is marked ``lang="en"`` (WCAG 3.1.2). English pages show the core's text unchanged."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from osteocare.core import densitometry, kidney
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
    summaries = re.findall(r"<summary>(.*?)</summary>", case["vi"], flags=re.S)
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
        else:  # any other warning: English, marked so
            assert vi == f'<span lang="en">{en}</span>', vi
    assert seen >= 1
    assert f'<p class="warn">{BD_VI}: {SECONDARY_VI}</p>' in case["vi"] or (
        f'<p class="warn">{BD_VI}: {UNVERIFIED_VI}</p>' in case["vi"])
    assert "based on facts" not in _without_english_spans(case["vi"])
    assert "Tiêu đề và cảnh báo của phần đánh giá do OsteoCare dịch, chưa được bác sĩ duyệt." in case["vi"]


def test_rule_texts_and_citations_stay_english_and_are_marked_so_on_vietnamese_pages(case: dict[str, Any]) -> None:
    rules = [f for r in case["a"]["results"].values() for f in r["rules_fired"]]
    assert rules
    for f in rules:
        assert f'<span lang="en">{escape(f["text"])}</span>' in case["vi"], f["rule_id"]
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
    # any other text: English, marked
    other = ("NOGG 2022 thresholds not available to OsteoCare: enter the NOGG category from the NOGG tool "
             "(status: unverified).")
    assert str(vi.status_warning(other)) == f'<span lang="en">{other}</span>'
    assert str(en.status_warning(other)) == other
    assert str(vi.title("Unknown & new")) == '<span lang="en">Unknown &amp; new</span>'
    assert str(en.title("Unknown & new")) == "Unknown &amp; new"
    assert str(vi.en("a < b")) == '<span lang="en">a &lt; b</span>' and str(en.en("a < b")) == "a &lt; b"
    assert str(vi.en("")) == "" and str(vi.title(None)) == ""
