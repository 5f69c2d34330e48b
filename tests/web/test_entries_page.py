"""The patient page's conditions, medicines, intolerances and falls: added, resolved or ended, deleted with a
reason; refused values come back on their form; a change that contraindicates an active course is said at once;
the labels are Vietnamese on Vietnamese pages."""

from __future__ import annotations

import html
import re

from osteocare.services.entries import condition_labels, entries_of
from osteocare.services.patients import audit_trail
from osteocare.web.translations.vi_source import VI

from .conftest import browser_for, csrf_of


def _section(page: str, testid: str) -> str:
    part = page[page.index(f'data-testid="{testid}"'):]
    return html.unescape(re.sub(r"\s+", " ", part[:part.index("</ul>")]))


def _new_patient(b, rid: str) -> str:  # type: ignore[no-untyped-def]
    page = b.get("/new-patient")
    r = b.post("/new-patient", data={"csrf_token": csrf_of(page.text), "record_id": rid, "sex": "female",
                                     "birth_date": "1950-06-01"})
    assert r.status_code == 303
    return rid


def test_a_nurse_keeps_the_conditions_medicines_intolerances_and_falls(app) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, "nurse")
    rid = _new_patient(b, "WEB-E-1")
    token = csrf_of(b.get(f"/patients/{rid}").text)
    for kind, data in (("condition", {"code": "atrial_fibrillation", "onset": "2021-03-04"}),
                       ("medication", {"drug": "alendronate", "start": "2015-01-01", "end": "2020-01-01"}),
                       ("intolerance", {"drug": "risedronate", "reaction": "heartburn", "severity": "moderate"}),
                       ("fall", {"date": "2024-11-20", "injurious": "1"})):
        r = b.post(f"/patients/{rid}/entries/{kind}", data={"csrf_token": token, **data})
        assert r.status_code == 303 and r.headers["location"] == f"/patients/{rid}?done=entry-{kind}#entry-{kind}", (
            kind, r.status_code, r.text[:300])
    page = b.get(f"/patients/{rid}").text
    assert _section(page, "conditions").startswith('data-testid="conditions"> <li><strong>Atrial fibrillation</strong>'
                                                   " · since Mar 4, 2021")
    assert "<strong>alendronate</strong> · from Jan 1, 2015 · to Jan 1, 2020" in _section(page, "medications")
    assert "risedronate</strong>: heartburn · moderate" in _section(page, "intolerances")
    assert "Nov 20, 2024 · with injury" in _section(page, "falls")
    # the condition resolves; the record is the one the calculators read
    af = entries_of(app.state.clinic, rid)["condition"][0]
    r = b.post(f"/patients/{rid}/entries/condition/{af.id}/end", data={"csrf_token": token, "on": "2023-05-06"})
    assert r.status_code == 303
    assert "resolved May 6, 2023" in _section(b.get(f"/patients/{rid}").text, "conditions")
    # an intolerance entered in error goes, with its reason; the audit log keeps it
    i = entries_of(app.state.clinic, rid)["intolerance"][0]
    r = b.post(f"/patients/{rid}/entries/intolerance/{i.id}/delete", data={"csrf_token": token, "reason": ""})
    assert r.status_code == 422 and 'data-field="reason"' in r.text
    r = b.post(f"/patients/{rid}/entries/intolerance/{i.id}/delete", data={"csrf_token": token,
                                                                           "reason": "another patient's"})
    assert r.status_code == 303 and entries_of(app.state.clinic, rid)["intolerance"] == []
    assert any(a["action"] == "delete" and a["entity"] == "intolerance" and "another patient's" in a["detail"]
               for a in audit_trail(app.state.clinic, rid))


def test_refused_entries_come_back_on_their_form_and_nothing_is_written(app) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, "doctor")
    rid = _new_patient(b, "WEB-E-2")
    token = csrf_of(b.get(f"/patients/{rid}").text)
    for kind, data, field in (("condition", {"code": "stroke", "onset": "2999-01-01"}, "onset"),
                              ("condition", {"code": "not_a_condition"}, "code"),
                              ("medication", {"drug": "alendronate", "start": "2020-01-01", "end": "2019-01-01"},
                               "end"),
                              ("intolerance", {"drug": "alendronate", "reaction": ""}, "reaction"),
                              ("fall", {"date": "not a date"}, "date")):
        r = b.post(f"/patients/{rid}/entries/{kind}", data={"csrf_token": token, **data})
        assert r.status_code == 422, (kind, data, r.status_code)
        assert re.search(rf'id="err-entry-{kind}-{field}"', r.text), (kind, field)
        assert f'<details id="entry-{kind}" open>' in r.text
    assert all(not v for v in entries_of(app.state.clinic, rid).values())
    # another patient's entry is not reached through this patient's page
    other = _new_patient(b, "WEB-E-2B")
    b.post(f"/patients/{other}/entries/fall", data={"csrf_token": token, "date": "2024-01-01"})
    fall = entries_of(app.state.clinic, other)["fall"][0]
    r = b.post(f"/patients/{rid}/entries/fall/{fall.id}/delete", data={"csrf_token": token, "reason": "x"})
    assert r.status_code == 404 and entries_of(app.state.clinic, other)["fall"] == [fall]


def test_a_condition_that_contraindicates_an_active_course_is_shown_at_once(app, records) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, "doctor")
    rid = records["patient"]  # on denosumab or zoledronic acid, given in the clinic
    token = csrf_of(b.get(f"/patients/{rid}").text)
    r = b.post(f"/patients/{rid}/entries/condition", data={"csrf_token": token, "code": "hypocalcaemia",
                                                           "onset": "2025-01-01"})
    assert r.status_code == 303  # redirected: reloading the page that shows the finding posts nothing again
    assert r.headers["location"] == f"/patients/{rid}?done=entry-condition&recheck=1#entry-condition"
    for _ in range(2):  # the finding is worked out again on each load
        page = b.get(r.headers["location"]).text
        notices = page[page.index('data-testid="notices"'):]
        notices = html.unescape(notices[:notices.index("</div>")])
        assert "Active course of" in notices and "the contraindication check now finds" in notices
        assert re.search(r"CI-HYPOCA|HYPOCA", notices), notices
    assert [e.fields["code"] for e in entries_of(app.state.clinic, rid)["condition"]].count("hypocalcaemia") == 1
    c = next(e for e in entries_of(app.state.clinic, rid)["condition"] if e.fields["code"] == "hypocalcaemia")
    b.post(f"/patients/{rid}/entries/condition/{c.id}/delete", data={"csrf_token": token, "reason": "test"})


def test_the_entries_are_in_vietnamese_on_vietnamese_pages(app, records) -> None:  # type: ignore[no-untyped-def]
    assert not [label for label in condition_labels().values() if label not in VI]
    b = browser_for(app, "doctor")
    b.get("/lang/vi")
    page = b.get(f"/patients/{records['patient']}").text
    assert "Bệnh lý, thuốc và không dung nạp thuốc" in page and "Hẹp thực quản" in page
    for english in ("Add a condition", "Oesophageal stricture", "Medication history", "Delete (entered in error)"):
        assert english not in page, english


def test_measured_vertebrae_are_added_on_the_page_and_graded(app) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, "doctor")
    rid = _new_patient(b, "WEB-E-V")
    token = csrf_of(b.get(f"/patients/{rid}").text)
    for level, a, mid, p in (("T12", "25", "24.5", "26"), ("L1", "18", "", "25"), ("L2", "26", "25", "27")):
        r = b.post(f"/patients/{rid}/entries/vertebra", data={"csrf_token": token, "level": level, "anterior_mm": a,
                                                              "middle_mm": mid, "posterior_mm": p})
        assert r.status_code == 303, r.text[:300]
    page = b.get(f"/patients/{rid}").text
    assert "L1</strong>: anterior 18 mm, middle —, posterior 25 mm" in _section(page, "vertebrae")
    assert "Genant" in page and "L1 grade 2" in html.unescape(page)
    r = b.post(f"/patients/{rid}/entries/vertebra", data={"csrf_token": token, "level": "L1", "anterior_mm": "20",
                                                          "posterior_mm": "25"})
    assert r.status_code == 422 and 'id="err-entry-vertebra-level"' in r.text and "L1 is on the record" in r.text


def test_a_vertebra_read_again_later_replaces_the_earlier_reading_on_the_page_in_both_languages(  # type: ignore[no-untyped-def]
        app) -> None:
    """L1 read on 2023-05-01 (24 against 25 mm: 4 %, grade 0), then on 2025-02-03 (15 against 25: 40 %, grade 2):
    the earlier reading is listed as replaced, the grading names the day of each level and what it replaced."""
    b = browser_for(app, "doctor")
    rid = _new_patient(b, "WEB-E-V2")
    token = csrf_of(b.get(f"/patients/{rid}").text)
    for day, a in (("2023-05-01", "24"), ("2025-02-03", "15")):
        r = b.post(f"/patients/{rid}/entries/vertebra", data={"csrf_token": token, "level": "L1", "date": day,
                                                              "anterior_mm": a, "posterior_mm": "25"})
        assert r.status_code == 303, r.text[:300]
    r = b.post(f"/patients/{rid}/entries/vertebra", data={"csrf_token": token, "level": "L1", "date": "2025-13-01",
                                                          "anterior_mm": "20", "posterior_mm": "25"})
    assert r.status_code == 422 and 'id="err-entry-vertebra-date"' in r.text
    page = html.unescape(b.get(f"/patients/{rid}").text)
    listed = _section(page, "vertebrae")
    assert listed.index("2023") < listed.index("replaced by a later reading") < listed.index("2025")
    assert "L1 grade 2 (wedge 40.0%)" in page
    assert "Earlier measurements, replaced by a later one of the same level and not graded: L1 " in page
    b.get("/lang/vi")
    page = html.unescape(b.get(f"/patients/{rid}").text)
    assert "đã được thay bằng lần đọc sau" in _section(page, "vertebrae")
    assert "L1 độ 2 (hình chêm 40,0%)" in page
    assert "Các lần đo trước, đã được thay bằng lần đo sau của cùng đốt sống và không được phân độ: L1 " in page


def test_a_kind_the_page_has_no_add_form_for_is_not_found(app, records) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, "doctor")
    rid = records["patient2"]
    token = csrf_of(b.get(f"/patients/{rid}").text)
    for kind in ("fracture", "nonsense"):
        r = b.post(f"/patients/{rid}/entries/{kind}", data={"csrf_token": token, "site": "wrist"})
        assert r.status_code == 404, (kind, r.status_code)


def test_the_finding_after_a_change_is_in_vietnamese_on_vietnamese_pages(app, records) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, "doctor")
    b.get("/lang/vi")
    rid = records["patient"]
    token = csrf_of(b.get(f"/patients/{rid}").text)
    r = b.post(f"/patients/{rid}/entries/condition", data={"csrf_token": token, "code": "hypocalcaemia",
                                                           "onset": "2025-01-01"})
    assert r.status_code == 303 and "recheck=1" in r.headers["location"]
    page = b.get(r.headers["location"]).text
    notices = html.unescape(page[page.index('data-testid="notices"'):][:2000])
    assert re.search(r"Đợt điều trị (denosumab|acid zoledronic) đang dùng: kiểm tra chống chỉ định nay phát hiện "
                     r"[A-Z0-9-]+ \((chống chỉ định|cần xử trí trước|thận trọng)\): ", notices), notices
    assert "Active course of" not in notices and 'lang="en"' not in notices.split("</ul>")[0]
    c = next(e for e in entries_of(app.state.clinic, rid)["condition"] if e.fields["code"] == "hypocalcaemia")
    b.post(f"/patients/{rid}/entries/condition/{c.id}/delete", data={"csrf_token": token, "reason": "test"})


def test_the_same_fall_again_is_refused_and_a_confirmed_second_one_is_saved(app) -> None:  # type: ignore[no-untyped-def]
    """A resent form must not record the same fall twice (a review: a retried fracture became 'multiple
    fractures'); the refusal offers a box to save a real second one."""
    b = browser_for(app, "nurse")
    rid = _new_patient(b, "WEB-E-DUP")
    token = csrf_of(b.get(f"/patients/{rid}").text)
    data = {"csrf_token": token, "date": "2024-01-01"}
    assert b.post(f"/patients/{rid}/entries/fall", data=data).status_code == 303
    r = b.post(f"/patients/{rid}/entries/fall", data=data)
    assert r.status_code == 409 and 'data-testid="confirm-duplicate-fall"' in r.text
    assert len(entries_of(app.state.clinic, rid)["fall"]) == 1
    assert b.post(f"/patients/{rid}/entries/fall", data={**data, "confirm_duplicate": "1"}).status_code == 303
    assert len(entries_of(app.state.clinic, rid)["fall"]) == 2


def test_the_same_condition_again_is_named_by_its_label_in_vietnamese(app) -> None:  # type: ignore[no-untyped-def]
    """A review: the refusal named a condition by its knowledge id (pagets_disease) on English and Vietnamese
    pages alike."""
    b = browser_for(app, "nurse")
    b.cookies.set("oc_lang", "vi")
    rid = _new_patient(b, "WEB-E-DUPC")
    token = csrf_of(b.get(f"/patients/{rid}").text)
    data = {"csrf_token": token, "code": "stroke"}
    assert b.post(f"/patients/{rid}/entries/condition", data=data).status_code == 303
    r = b.post(f"/patients/{rid}/entries/condition", data=data)
    assert r.status_code == 409
    page = html.unescape(r.text)
    assert "(stroke," not in page and f"({VI[condition_labels()['stroke']]}," in page
