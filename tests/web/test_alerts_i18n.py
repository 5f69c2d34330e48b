"""Alerts in Vietnamese: the worklist and the patient page show late doses, due items, the denosumab follow-on and
monitoring reviews in the reader's language (templates translated, dates in the locale, drug and lab names, day
counts), while the English ``text`` of the CLI and the API stays word for word what it was."""

from __future__ import annotations

import datetime as dt
import html
import itertools
import json
import re
import string
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from markupsafe import escape
from typer.testing import CliRunner

from osteocare.cli_clinic import register
from osteocare.core.knowledge import load
from osteocare.core.records import PatientRecord
from osteocare.core.status import status_warning
from osteocare.services import alerts, schedule
from osteocare.services.context import Clinic
from osteocare.services.courses import start_course, stop_course
from osteocare.services.doses import record_dose
from osteocare.services.drugs import annual_review, course_drug_ids, dmab_switch, followup_dxa, regimen
from osteocare.services.facts import add_lab
from osteocare.services.patients import add_patient
from osteocare.services.textparts import dumps, part, stored_parts, text_of
from osteocare.services.views import Alert, TextPart
from osteocare.services.worklist import worklist
from osteocare.settings import get_settings
from osteocare.store import models as m
from osteocare.web import accounts
from osteocare.web.app import WebOptions, create_app
from osteocare.web.i18n import Lang
from osteocare.web.translations.vi_source import VI

from .conftest import PASSWORD, csrf_of

TODAY = dt.date(2025, 3, 3)
SEQ = load("treatment-sequencing")


def _rule(rule_id: str) -> tuple[str, str]:
    return str(SEQ.fact(rule_id).value), SEQ.citation(SEQ.fact(rule_id).source)


def _patient(clinic: Clinic, rid: str, **fields: Any) -> str:
    data: dict[str, Any] = {"id": rid, "sex": "female", "age": 70, "weight_kg": 55.0, "height_cm": 155.0,
                            "menopausal_status": "postmenopausal", "femoral_neck_t_score": -2.8, **fields}
    add_patient(clinic, PatientRecord.model_validate(data), given_name="Lan", family_name=rid)
    day = TODAY - dt.timedelta(days=20)
    add_lab(clinic, rid, name="creatinine", value=70, unit="umol/L", date=day)
    add_lab(clinic, rid, name="calcium", value=2.35, unit="mmol/L", date=day, reference_low=2.1, reference_high=2.6)
    add_lab(clinic, rid, name="vitamin_d_25oh", value=35, unit="ng/mL", date=day)
    return rid


def _denosumab_due(clinic: Clinic, rid: str, due: dt.date) -> int:
    """A denosumab course whose second dose falls due on ``due``; the item's id."""
    start = TODAY - dt.timedelta(days=300)
    c = start_course(clinic, rid, "denosumab", start_date=start)
    res = record_dose(clinic, course_id=c.id, given_on=start, lot_number="A")
    assert res.next_item is not None
    with clinic.db.write() as s:
        s.get(m.ScheduleItem, res.next_item.id).due_on = due  # type: ignore[union-attr]
    return res.next_item.id


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    db = tmp_path_factory.mktemp("alerts-i18n") / "clinic.sqlite3"
    settings = get_settings({"OSTEOCARE_DATABASE_URL": f"sqlite:///{db}"})
    clinic = Clinic.open(settings, actor="test-setup").on(TODAY)
    urgent = _denosumab_due(clinic, _patient(clinic, "DMAB-URGENT-1"), TODAY - dt.timedelta(days=40))
    one_day = _denosumab_due(clinic, _patient(clinic, "DMAB-LATE-1"), TODAY - dt.timedelta(days=1))
    # a stopped denosumab course: its follow-on decision (DMAB-SWITCH) is long overdue
    rid = _patient(clinic, "DMAB-STOP-1")
    c = start_course(clinic, rid, "denosumab", start_date=TODAY - dt.timedelta(days=500))
    record_dose(clinic, course_id=c.id, given_on=TODAY - dt.timedelta(days=500), lot_number="B")
    stop_course(clinic, c.id, reason="patient's wish", stop_date=TODAY - dt.timedelta(days=300))
    # an alendronate course of 14 months: annual review and follow-up DXA overdue
    _patient(clinic, "ALN-1")
    start_course(clinic, "ALN-1", "alendronate", start_date=TODAY - dt.timedelta(days=430))
    accounts.create_user(clinic, username="nurse_hoa", password=PASSWORD, role="nurse")
    app = create_app(settings, clinic=clinic, options=WebOptions(login_delay_s=0.0))
    yield {"clinic": clinic, "app": app, "urgent": urgent, "one_day": one_day, "db": db}
    clinic.close()


def _browser(app: Any, lang: str) -> TestClient:
    b = TestClient(app, follow_redirects=False)
    r = b.get("/login")
    r = b.post("/login", data={"username": "nurse_hoa", "password": PASSWORD, "csrf_token": csrf_of(r.text),
                               "next": "/"})
    assert r.status_code == 303
    b.get(f"/lang/{lang}")
    return b


def _overdue_cells(page: str) -> list[str]:
    section = page[page.index('id="overdue"'):page.index('id="due"')]
    return re.findall(r"</a></td><td>(.*?)</td>", section)


def _old_urgent_text(due: dt.date, days: int) -> str:
    """The English text as the alerts have always written it (the f-string of the code before parts)."""
    text, citation = _rule("DMAB-URGENT")
    return (f"Denosumab dose 2 is {days} days late (due {due.isoformat()}). {text} (DMAB-URGENT; source: {citation}) "
            "This alert: based on facts not yet confirmed from the primary source (status: unverified).")


def test_a_vietnamese_worklist_says_how_late_a_denosumab_dose_is_in_vietnamese(setup: dict[str, Any]) -> None:
    page = _browser(setup["app"], "vi").get("/worklist").text
    cells = _overdue_cells(page)
    urgent = next(c for c in cells if "40" in c)
    assert urgent.startswith("Liều denosumab thứ 2 đã trễ 40 ngày (hạn 22 thg 1, 2025). Trễ hơn khoảng 1 tháng: "
                             "khẩn cấp - tiêm denosumab càng sớm càng tốt, hoặc bắt đầu acid zoledronic"), urgent
    _text, citation = _rule("DMAB-URGENT")
    assert f'(DMAB-URGENT; nguồn: <span lang="en">{escape(citation)}</span>)' in urgent  # the source, in English
    assert urgent.endswith("(trạng thái: chưa xác minh).")  # the unverified marking, in Vietnamese
    one_day = next(c for c in cells if "Liều denosumab thứ 2 đã trễ 1 ngày (hạn 2 thg 3, 2025)." in c)
    assert "Denosumab đến hạn 6 tháng dương lịch sau mũi tiêm cuối cùng" in one_day
    for c in cells:
        assert " late " not in c and " overdue " not in c and "due " not in c, c
    assert "Cảnh báo do OsteoCare dịch, chưa được bác sĩ duyệt." in page


def test_the_vietnamese_worklist_translates_the_follow_on_and_the_monitoring_reviews(setup: dict[str, Any]) -> None:
    cells = _overdue_cells(_browser(setup["app"], "vi").get("/worklist").text)
    switch = next(c for c in cells if "Điều trị tiếp nối sau khi ngừng denosumab đã trễ" in c)
    assert "Khi ngừng thuốc, bắt đầu thuốc chống hủy xương thay thế 6 tháng sau mũi tiêm denosumab cuối cùng." in switch
    annual = next(c for c in cells if c.startswith("Tái khám điều trị alendronat quá hạn"))
    assert "Tái khám hằng năm: tuân thủ điều trị" in annual
    assert any(c.startswith("Đo DXA theo dõi quá hạn") and "chậm nhất" in c for c in cells)


def test_the_english_worklist_page_cli_and_api_keep_the_old_english_text(setup: dict[str, Any],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _old_urgent_text(TODAY - dt.timedelta(days=40), 40)
    one_day, citation = _rule("DMAB-LATE")
    expected_one_day = f"Denosumab dose 2 is 1 day late (due 2025-03-02). {one_day} (DMAB-LATE; source: {citation})"
    cells = [html.unescape(c) for c in _overdue_cells(_browser(setup["app"], "en").get("/worklist").text)]
    assert expected in cells and expected_one_day in cells
    wl = worklist(setup["clinic"])
    by_item = {a.item_id: a for a in wl.overdue}
    assert by_item[setup["urgent"]].text == expected
    assert by_item[setup["one_day"]].text == expected_one_day
    api = TestClient(setup["app"])
    token = api.post("/api/v1/auth/token", json={"username": "nurse_hoa", "password": PASSWORD}).json()["access_token"]
    body = api.get("/api/v1/worklist", headers={"Authorization": f"Bearer {token}"}).json()
    shown = {a["item_id"]: a for a in body["overdue"]}
    assert shown[setup["urgent"]]["text"] == expected
    assert shown[setup["urgent"]]["parts"][0]["template"] == "{what} is {days} late (due {due})."
    monkeypatch.setenv("OSTEOCARE_DATABASE_URL", f"sqlite:///{setup['db']}")
    cli = typer.Typer()
    register(cli)
    res = CliRunner().invoke(cli, ["worklist", "--date", TODAY.isoformat(), "--json"])
    assert res.exit_code == 0, res.output
    texts = [a["text"] for a in json.loads(res.output)["overdue"]]
    assert expected in texts and expected_one_day in texts


def test_the_vietnamese_patient_page_shows_its_alerts_in_vietnamese(setup: dict[str, Any]) -> None:
    page = _browser(setup["app"], "vi").get("/patients/DMAB-URGENT-1").text
    shown = re.findall(r'<p class="alert sev-urgent">(.*?)</p>', page)
    assert shown and "Liều denosumab thứ 2 đã trễ 40 ngày (hạn 22 thg 1, 2025)." in shown[0], shown
    assert "days late" not in page


# --- every template the alerts can write ------------------------------------------------------------------------

def _reasons() -> list[list[TextPart]]:
    """Every reason the schedule writes: its knowledge sentences, and each generated reason."""
    texts = {p.text for d in course_drug_ids() for p in regimen(d).reviews}
    texts |= {annual_review()[1], dmab_switch()[1], str(SEQ.fact("ANAB-THEN-AR-PTH").value)}
    return [*([part(t)] for t in sorted(texts)),
            schedule.dxa_reason(followup_dxa()[2], dt.date(2025, 1, 15), dt.date(2026, 1, 15)),
            schedule.calcitriol_first_reason("calcium", 1), schedule.calcitriol_first_reason("creatinine", 3),
            schedule.calcitriol_repeat_reason("calcium", 6),
            schedule.dmab_lab_reason("magnesium", 10, 14, dt.date(2025, 2, 3)),
            schedule.dose_reason("denosumab", 3)]


def _alerts() -> Iterator[Alert]:
    grid = itertools.product(("dose", "review", "dxa", "lab"), (None, "denosumab", "zoledronic_acid", "teriparatide"),
                             (None, 2), (-400, -40, -28, -27, -1, 0, 3), _reasons(),
                             (None, "DMAB-SWITCH", "MON-ANNUAL"), ("verified", "secondary", "unverified"))
    for kind, drug, seq, delta, reason, rule, status in grid:
        it = m.ScheduleItem(id=1, patient_id=1, course_id=1, kind=kind, seq=seq, due_on=TODAY + dt.timedelta(days=delta),
                            lab_name="calcium" if kind == "lab" else None, reason=text_of(reason),
                            reason_parts=dumps(reason), rule_id=rule, fact_status=status, status="open")
        yield alerts.alert_for(it, record_id="R1", patient_name="Lan", drug=drug, today=TODAY)


def _templates(parts: list[TextPart]) -> Iterator[str]:
    for p in parts:
        yield p.template
        for k, v in p.params.items():
            if p.kinds.get(k) == "part":
                yield from _templates([TextPart.model_validate(v)])


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_every_alert_template_and_knowledge_sentence_has_a_vietnamese_translation_with_the_same_fields() -> None:
    en, vi = Lang("en", dt.UTC), Lang("vi", dt.UTC)
    templates: set[str] = set()
    for a in _alerts():
        assert text_of(a.parts) == a.text
        assert en.text_parts(a) == escape(a.text)
        shown = str(vi.text_parts(a))
        for rule in ("DMAB-URGENT", "DMAB-LATE"):  # the sources stay English; nothing else does
            shown = shown.replace(f'<span lang="en">{escape(_rule(rule)[1])}</span>', "")
        assert 'lang="en"' not in shown, shown
        templates |= set(_templates(a.parts))
    assert {status_warning("secondary", "This alert"), status_warning("unverified", "This alert")} <= templates
    missing = sorted(t for t in templates if t and t not in VI)
    assert not missing, missing
    for t in templates:
        if t:
            assert _fields(VI[t]) == _fields(t), t
    for counted in ("{n} day", "{n} days", "{n} month", "{n} months"):
        assert VI[counted].startswith("{n} ")


def test_a_reason_the_catalogue_lacks_stays_english_marked_as_such_and_is_escaped() -> None:
    it = m.ScheduleItem(id=1, patient_id=1, course_id=1, kind="review", due_on=TODAY - dt.timedelta(days=2),
                        reason="Check <b>this</b> {odd} text.", rule_id="X", fact_status="verified", status="open")
    a = alerts.alert_for(it, record_id="R1", patient_name="Lan", drug=None, today=TODAY)
    assert a.text == "Review 2 days overdue (due 2025-03-01): Check <b>this</b> {odd} text."
    shown = Lang("vi", dt.UTC).text_parts(a)
    assert shown == ('Tái khám quá hạn 2 ngày (hạn 1 thg 3, 2025): '
                     '<span lang="en">Check &lt;b&gt;this&lt;/b&gt; {odd} text.</span>')


def test_a_stored_reason_is_shown_by_its_parts_only_where_they_give_its_text_back() -> None:
    calcium = schedule.calcitriol_first_reason("calcium", 1)
    assert text_of(calcium) == "Calcitriol monitoring: calcium at 1 month"
    assert stored_parts("Calcitriol monitoring: calcium at 1 month", dumps(calcium)) == calcium
    verbatim = [TextPart(template="Calcitriol monitoring: calcium at 2 months")]
    # the text was changed by hand after the parts were written; or the parts are not parts; or there are none
    assert stored_parts("Calcitriol monitoring: calcium at 2 months", dumps(calcium)) == verbatim
    for bad in ('[{"template": "{lab} at {x}", "params": {"lab": "calcium"}}]', "not json", "{}", "[]",
                '[{"template": "{n:d}", "params": {"n": "x"}}]', None, ""):
        assert stored_parts("Calcitriol monitoring: calcium at 2 months", bad) == verbatim, bad




def test_the_schedule_stores_each_reason_as_parts_and_the_alerts_show_them(setup: dict[str, Any]) -> None:
    """The follow-up DXA's window is written by the schedule as a template with its dates (not read back from the
    English): its alert carries them, and the Vietnamese page shows the dates in Vietnamese."""
    from osteocare.services.alerts import patient_alerts

    dxa = [a for a in patient_alerts(setup["clinic"], "ALN-1", today=TODAY) if a.kind == "dxa"]
    assert len(dxa) == 1
    start = TODAY - dt.timedelta(days=430)
    window = next(p for p in dxa[0].parts if p.template == "Due from {start}, by {end}.")
    lo, hi = followup_dxa()[:2]
    from osteocare.core.schedule import add_months

    assert window.params == {"start": add_months(start, lo).isoformat(), "end": add_months(start, hi).isoformat()}
    with setup["clinic"].db.read() as s:
        item = s.get(m.ScheduleItem, dxa[0].item_id)
        assert item is not None and json.loads(item.reason_parts or "")[1]["template"] == window.template
    page = _browser(setup["app"], "vi").get("/patients/ALN-1").text
    vi = Lang("vi", dt.UTC)
    shown = f"Đến hạn từ {vi.date(add_months(start, lo))}, chậm nhất {vi.date(add_months(start, hi))}."
    assert shown in html.unescape(page), shown


def test_the_schedules_reasons_read_in_english_as_they_always_have() -> None:
    """The English the CLI, the API and the store's ``reason`` carry, written out (not built by the code tested)."""
    assert text_of(schedule.dose_reason("denosumab", 2)) == "Denosumab dose 2"
    assert text_of(schedule.dose_reason("zoledronic_acid", 1)) == "Zoledronic acid dose 1"
    assert text_of(schedule.dxa_reason("Repeat DXA.", dt.date(2025, 1, 15), dt.date(2026, 1, 15))) == (
        "Repeat DXA. Due from 2025-01-15, by 2026-01-15.")
    assert text_of(schedule.calcitriol_first_reason("calcium", 1)) == "Calcitriol monitoring: calcium at 1 month"
    assert text_of(schedule.calcitriol_first_reason("creatinine", 3)) == (
        "Calcitriol monitoring: creatinine at 3 months")
    assert text_of(schedule.calcitriol_repeat_reason("calcium", 6)) == "Calcitriol monitoring: calcium every 6 months"
    assert text_of(schedule.dmab_lab_reason("magnesium", 10, 14, dt.date(2025, 2, 3))) == (
        "magnesium 10-14 days after the denosumab injection of 2025-02-03 (predisposed to hypocalcaemia)")


def test_stored_parts_that_do_not_fit_their_kinds_are_shown_verbatim_and_break_no_page() -> None:
    """Rows changed by hand: an attribute in a template, a "date" that is not a date (English would read "Due
    from 5", and the Vietnamese page could not format it), a count of days that is text."""
    vi = Lang("vi", dt.UTC)
    for text, stored in (
            ("x", '[{"template": "{a.nope}", "params": {"a": "x"}}]'),
            ("Due from 5, by 6.", '[{"template": "Due from {start}, by {end}.", "params": {"start": 5, "end": 6},'
                                  ' "kinds": {"start": "date", "end": "date"}}]'),
            ("3 days", '[{"template": "{n}", "params": {"n": "3 days"}, "kinds": {"n": "days"}}]'),
            ("x", '[{"template": "{p}", "params": {"p": {"template": "{d}", "params": {"d": 1},'
                  ' "kinds": {"d": "date"}}}, "kinds": {"p": "part"}}]')):
        assert stored_parts(text, stored) == [TextPart(template=text)], stored
        it = m.ScheduleItem(id=1, patient_id=1, course_id=1, kind="review", due_on=TODAY, reason=text,
                            reason_parts=stored, rule_id="X", fact_status="verified", status="open")
        a = alerts.alert_for(it, record_id="R1", patient_name="Lan", drug=None, today=TODAY)
        assert a.text.endswith(text) and str(vi.text_parts(a))
    # and the page's own guard: parts that reach it in any other way and do not fit show the English text
    bad = Alert(severity="info", kind="review", record_id="R1", item_id=1, due_on=TODAY, text="Due from 5.",
                parts=[TextPart(template="Due from {d}.", params={"d": 5}, kinds={"d": "date"})])
    assert vi.text_parts(bad) == '<span lang="en">Due from 5.</span>'
