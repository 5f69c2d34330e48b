"""Accessibility of the pages (WCAG 2.1 AA basics), for every role and both languages.

Two layers: checks over the rendered HTML (TestClient and the standard library's parser; they run everywhere),
one per rule, and the axe-core engine (axe-playwright-python) run inside Debian's Chromium on every page, the
forms open and shown again with their errors (skips without /usr/bin/chromium, except on CI, like test_e2e).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from osteocare.web.app import WebOptions, create_app

from .browser import CHROMIUM, live_server, open_page, require_chromium
from .conftest import browser_for, build_clinic, csrf_of, token_for

STATIC = Path(__file__).resolve().parents[2] / "src" / "osteocare" / "web" / "static" / "style.css"


# --- a small DOM over html.parser -----------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)

    def iter(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, tag: str | tuple[str, ...]) -> list[Node]:
        tags = (tag,) if isinstance(tag, str) else tag
        return [n for n in self.iter() if n.tag in tags]

    def text(self) -> str:
        return " ".join("".join(c if isinstance(c, str) else " " + c.text() + " " for c in self.children).split())

    def ancestors(self) -> Iterator[Node]:
        p = self.parent
        while p is not None:
            yield p
            p = p.parent

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.cur = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.cur.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.cur))

    def handle_endtag(self, tag: str) -> None:
        n: Node | None = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data: str) -> None:
        self.cur.children.append(data)


def parse(html: str) -> Node:
    b = _Builder()
    b.feed(html)
    return b.root


def by_id(doc: Node) -> dict[str, Node]:
    return {n.attrs["id"]: n for n in doc.iter() if "id" in n.attrs}


# --- the pages each role reaches ------------------------------------------------------------------------------


def _pages(records: dict[str, str], question_id: int) -> dict[str | None, list[str]]:
    return {
        None: ["/", "/login", "/qa", f"/qa/{question_id}", "/ask", "/no-such-page"],
        "doctor": ["/patients", "/worklist", f"/patients/{records['patient']}", f"/patients/{records['patient2']}",
                   "/doctor/questions", "/doctor/questions?status=answered", "/qa", "/ask",
                   f"/patients/{records['patient']}/history", "/new-patient",
                   f"/patients/{records['patient']}/falls-screen"],
        "nurse": ["/patients", "/worklist", f"/patients/{records['patient']}", f"/patients/{records['patient2']}/history",
                  "/new-patient"],
        "patient": ["/me", "/ask", "/qa"],
        "admin": ["/admin", "/admin?page=2"],
    }


@pytest.fixture(scope="module")
def published(app) -> int:  # type: ignore[no-untyped-def]
    """A question asked, answered and published, so that the Q&A pages have an item."""
    doc = browser_for(app, "doctor")
    token = csrf_of(doc.get("/ask").text)
    r = doc.post("/ask", data={"csrf_token": token, "topic": "Calcium with zoledronic acid",
                               "body": "Should I take calcium before my infusion?"})
    assert r.status_code in (200, 303), r.text[:300]
    page = doc.get("/doctor/questions").text
    qid = int(re.findall(r'id="q(\d+)"', page)[-1])
    token = csrf_of(page)
    r = doc.post(f"/doctor/questions/{qid}/answer", data={"csrf_token": token, "answer": "Yes: calcium and vitamin D "
                                                          "should be replete before the first infusion."})
    assert r.status_code in (200, 303), r.text[:300]
    r = doc.post(f"/doctor/questions/{qid}/publish", data={"csrf_token": token, "topic": "Calcium with zoledronic acid",
                                                           "body": "Should I take calcium before my infusion?"})
    assert r.status_code in (200, 303), r.text[:300]
    return qid


def _client(app, role: str | None, code: str) -> TestClient:  # type: ignore[no-untyped-def]
    c = browser_for(app, role)
    c.cookies.set("oc_lang", code)
    return c


@pytest.fixture(scope="module")
def rendered(app, records, published) -> list[tuple[str, str | None, str, str]]:  # type: ignore[no-untyped-def]
    """(language, role, url, html) of every page of every role, in English and in Vietnamese."""
    out = []
    for code in ("en", "vi"):
        for role, urls in _pages(records, published).items():
            c = _client(app, role, code)
            for url in urls:
                r = c.get(url)
                assert r.status_code in (200, 404), (role, url, r.status_code)
                out.append((code, role, url, r.text))
    return out


def _invalid_forms(app, records) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(where, page html shown again with errors, language) for a form of each kind sent with bad values."""
    rid = records["patient"]
    out = []
    for code in ("en", "vi"):
        anon = _client(app, None, code)
        r = anon.post("/login", data={"username": "nobody", "password": "wrong", "next": "/",
                                      "csrf_token": csrf_of(anon.get("/login").text)})
        out.append(("login", r.text, code))
        r = anon.post("/ask", data={"csrf_token": csrf_of(anon.get("/ask").text), "topic": "", "body": ""})
        assert r.status_code == 422
        out.append(("ask", r.text, code))
        doc = _client(app, "doctor", code)
        token = csrf_of(doc.get(f"/patients/{rid}").text)
        r = doc.post(f"/patients/{rid}/dxa", data={"csrf_token": token, "exam_date": "2025-01-10", "total_hip_t": "-42",
                                                   "total_hip_bmd": "abc"})
        assert r.status_code == 422, r.text[:300]
        out.append(("dxa", r.text, code))
        r = doc.post(f"/patients/{rid}/labs", data={"csrf_token": token, "name": "creatinine", "value": "x", "unit": "",
                                                    "date": "2025-01-10"})
        out.append(("lab", r.text, code))
        r = doc.post(f"/patients/{rid}/courses", data={"csrf_token": token, "drug": "", "start_date": "not a date"})
        assert r.status_code == 422, r.text[:300]
        out.append(("course", r.text, code))
        page = doc.get(f"/patients/{rid}/history").text
        version = re.search(r'name="version" value="([^"]*)"', page)[1]  # type: ignore[index]
        r = doc.post(f"/patients/{rid}/history", data={"csrf_token": token, "version": version, "weight_kg": "heavy",
                                                       "smoking": "sometimes"})
        assert r.status_code == 422, r.text[:300]
        out.append(("history", r.text, code))
        r = doc.post("/new-patient", data={"csrf_token": token, "record_id": "a/b", "sex": "", "birth_date": "x"})
        assert r.status_code == 422, r.text[:300]
        out.append(("new-patient", r.text, code))
        pat = _client(app, "patient", code)
        me = pat.get("/me").text
        r = pat.post("/me/reactions", data={"csrf_token": csrf_of(me), "course_id": "", "kind": "other",
                                            "severity": "mild", "onset_on": "not a date", "description": ""})
        out.append(("me", r.text, code))
        adm = _client(app, "admin", code)
        r = adm.post("/admin/users", data={"csrf_token": csrf_of(adm.get("/admin").text), "username": "",
                                           "password": "x", "role": "doctor", "record_id": "", "locale": "en"})
        out.append(("admin", r.text, code))
    return out


@pytest.fixture(scope="module")
def invalid(app, records) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return _invalid_forms(app, records)


# --- one test per rule -----------------------------------------------------------------------------------------


def test_every_page_names_its_language_on_the_html_element(rendered) -> None:  # type: ignore[no-untyped-def]
    for code, role, url, html in rendered:
        html_el = parse(html).find_all("html")[0]
        assert html_el.attrs.get("lang") == code, (role, url)
        for b in parse(html).find_all("button"):  # the switcher names each language in its own language
            if "lang" in b.classes():
                assert b.attrs.get("lang") in ("en", "vi") and ("aria-current" in b.attrs) == (b.attrs["lang"] == code)


def test_every_page_has_one_h1_and_headings_in_order(rendered) -> None:  # type: ignore[no-untyped-def]
    for _code, role, url, html in rendered:
        levels = [int(n.tag[1]) for n in parse(html).iter() if re.fullmatch(r"h[1-6]", n.tag)]
        assert levels.count(1) == 1 and levels[0] == 1, (role, url, levels)
        for a, b in itertools.pairwise(levels):
            assert b <= a + 1, f"{role} {url}: h{a} followed by h{b}"


def test_every_page_has_landmarks_and_a_skip_link_to_main(rendered) -> None:  # type: ignore[no-untyped-def]
    for _code, role, url, html in rendered:
        doc = parse(html)
        body = doc.find_all("body")[0]
        top = [c for c in body.children if isinstance(c, Node)]
        assert [n.tag for n in top] == ["a", "header", "main", "footer"], (role, url)
        skip = top[0]
        assert skip.attrs.get("href") == "#main" and skip.text(), (role, url)
        assert top[2].attrs.get("id") == "main" and top[2].attrs.get("tabindex") == "-1"
        navs = doc.find_all("nav")
        assert navs and all(n.attrs.get("aria-label") for n in navs), (role, url)
        labels = [n.attrs["aria-label"] for n in navs]
        assert len(labels) == len(set(labels)), (role, url, labels)


def _labelled(control: Node, ids: dict[str, Node], labels_for: set[str]) -> bool:
    if control.attrs.get("aria-label", "").strip():
        return True
    if any(ids.get(i) is not None and ids[i].text() for i in control.attrs.get("aria-labelledby", "").split()):
        return True
    if control.attrs.get("id") in labels_for:
        return True
    return any(a.tag == "label" for a in control.ancestors())


def test_every_form_control_has_a_label(rendered) -> None:  # type: ignore[no-untyped-def]
    seen = 0
    for _code, role, url, html in rendered:
        doc = parse(html)
        ids = by_id(doc)
        labels_for = {n.attrs["for"] for n in doc.find_all("label") if "for" in n.attrs}
        for c in doc.find_all(("input", "select", "textarea")):
            if c.attrs.get("type") in ("hidden", "submit", "button"):
                continue
            seen += 1
            assert _labelled(c, ids, labels_for), (role, url, c.attrs)
    assert seen > 50


def test_every_link_and_button_has_a_name_in_words(rendered) -> None:  # type: ignore[no-untyped-def]
    """The pager's links were only "‹" and "›"; a link or a button says what it does."""
    for _code, role, url, html in rendered:
        for n in parse(html).find_all(("a", "button")):
            name = n.attrs.get("aria-label") or n.text()
            assert re.search(r"\w\w", name), (role, url, n.tag, n.attrs, name)


def test_links_go_somewhere_and_buttons_submit_forms(rendered) -> None:  # type: ignore[no-untyped-def]
    for _code, role, url, html in rendered:
        doc = parse(html)
        for a in doc.find_all("a"):
            href = a.attrs.get("href", "")
            assert href and href != "#" and not href.lower().startswith("javascript:"), (role, url, a.attrs)
        for b in doc.find_all("button"):  # the pages carry no script: a button outside a form would do nothing
            assert any(p.tag == "form" for p in b.ancestors()), (role, url, b.attrs)


def test_table_header_cells_have_a_scope(rendered) -> None:  # type: ignore[no-untyped-def]
    tables = 0
    for _code, role, url, html in rendered:
        for t in parse(html).find_all("table"):
            tables += 1
            ths = t.find_all("th")
            assert ths, (role, url)
            assert all(th.attrs.get("scope") in ("col", "row") for th in ths), (role, url)
    assert tables >= 5


def test_scrollable_regions_can_be_reached_by_keyboard(rendered) -> None:  # type: ignore[no-untyped-def]
    for _code, role, url, html in rendered:
        for n in parse(html).iter():
            if n.classes() & {"timeline", "print"}:
                assert n.attrs.get("tabindex") == "0", (role, url, n.tag)


def test_the_bmd_chart_has_its_values_as_a_table(app, records) -> None:  # type: ignore[no-untyped-def]
    for code, beyond in (("en", "beyond the LSC"), ("vi", "vượt quá LSC")):
        doc = parse(_client(app, "doctor", code).get(f"/patients/{records['patient']}").text)
        figures = [f for f in doc.find_all("figure") if f.find_all("svg")]
        assert figures
        for fig in figures:
            svg = fig.find_all("svg")[0]
            assert svg.attrs.get("role") == "img" and svg.attrs.get("aria-labelledby")
            points = fig.find_all("circle")
            tables = fig.find_all("table")
            assert len(tables) == 1, "the chart has no table of its values"
            rows = tables[0].find_all("tbody")[0].find_all("tr")
            assert len(rows) == len(points)
            assert tables[0].find_all("caption")[0].text()
            for tr, pt in zip(rows, points, strict=True):
                cells = [c.text() for c in tr.find_all(("th", "td"))]
                t = pt.find_all("title")[0].text().split("T ")[1].split()[0]
                assert cells[1].replace(",", ".") == f"{float(t):.1f}"
                assert (beyond in cells[4]) == ("sig" in pt.classes())  # beyond the LSC said in words too


@pytest.fixture(scope="module")
def urgent_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A clinic of its own (the shared one has no urgent item) with a denosumab dose more than a year late."""
    clinic, _ = build_clinic(tmp_path_factory.mktemp("a11y") / "clinic.sqlite3", patients=5)
    app = create_app(clinic.settings, clinic=clinic, options=WebOptions(login_delay_s=0.0))
    r = TestClient(app).post("/api/v1/patients", headers=token_for(app, "doctor"),
                             json={"record": {"id": "A11Y-URGENT", "sex": "female", "age": 74}})
    assert r.status_code == 201, r.text
    doc = browser_for(app, "doctor")
    r = doc.post("/patients/A11Y-URGENT/courses", data={
        "csrf_token": csrf_of(doc.get("/patients/A11Y-URGENT").text), "drug": "denosumab",
        "start_date": (clinic.today() - dt.timedelta(days=400)).isoformat(), "override_reason": "accessibility test"})
    assert r.status_code == 303, r.text[:500]
    return app


def test_urgent_is_said_in_words_not_only_in_red(urgent_app) -> None:  # type: ignore[no-untyped-def]
    for code, word in (("en", "Urgent"), ("vi", "Khẩn cấp")):
        doc = parse(_client(urgent_app, "nurse", code).get("/worklist").text)
        overdue = by_id(doc)["overdue"]
        rows = [tr for tr in overdue.find_all("tr") if any(c.startswith("sev-") for c in tr.classes())]
        assert any("sev-urgent" in tr.classes() for tr in rows)
        for tr in rows:
            assert (word in tr.text()) == ("sev-urgent" in tr.classes()), tr.text()
        alerts = [p for p in parse(_client(urgent_app, "nurse", code).get("/patients/A11Y-URGENT").text).find_all("p")
                  if "alert" in p.classes()]
        assert any("sev-urgent" in p.classes() for p in alerts)
        for p in alerts:
            assert (word in p.text()) == ("sev-urgent" in p.classes()), p.text()


def test_field_errors_are_tied_to_their_fields_and_the_title_says_error(invalid) -> None:  # type: ignore[no-untyped-def]
    for where, html, code in invalid:
        doc = parse(html)
        title = doc.find_all("title")[0].text()
        assert title.startswith({"en": "Error: ", "vi": "Lỗi: "}[code]), (where, title)
        ids = by_id(doc)
        errors = [n for n in doc.iter() if n.classes() & {"field-error", "error"}]
        assert errors, where
        described = {}
        for c in doc.find_all(("input", "select", "textarea")):
            for i in c.attrs.get("aria-describedby", "").split():
                described.setdefault(i, []).append(c)
        tied = 0
        for e in errors:
            assert e.attrs.get("role") == "alert", (where, e.attrs)
            assert not any(a.tag == "label" for a in e.ancestors()), f"{where}: the error is inside a label (its name)"
            if e.attrs.get("data-field") in (None, "form", "sites"):
                continue
            eid = e.attrs.get("id")
            assert eid and ids.get(eid) is e, (where, e.attrs)
            controls = described.get(eid, [])
            assert controls, f"{where}: no field points to the error {eid}"
            assert all(c.attrs.get("aria-invalid") == "true" for c in controls)
            tied += 1
        if where == "login":
            assert all(c.attrs.get("aria-invalid") == "true" for c in described.get("login-error", [])) and described
        else:
            assert tied, where
        for c in doc.find_all(("input", "select", "textarea")):  # only fields with an error are marked invalid
            if c.attrs.get("aria-invalid") == "true":
                assert c.attrs.get("aria-describedby"), (where, c.attrs)


# --- colour contrast, computed from the style sheet -----------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(ch * 2 for ch in h)
    rgb = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _rules(css: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str]]]]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules = []
    for sel, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        decls = {k.strip(): v.strip() for k, v in (d.split(":", 1) for d in body.split(";") if ":" in d)}
        rules.append((" ".join(sel.split()), decls))
    root = next(d for s, d in rules if s == ":root")
    names = {k: v for k, v in root.items() if k.startswith("--")}

    def resolve(v: str) -> str:
        return re.sub(r"var\((--[\w-]+)\)", lambda m: names[m.group(1)], v)

    return names, [(s, {k: resolve(v) for k, v in d.items()}) for s, d in rules]


def _hex(value: str) -> str | None:
    m = re.search(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b", value)
    return m.group(0) if m else None


def test_text_and_badges_have_a_contrast_of_at_least_4_5(rendered) -> None:  # type: ignore[no-untyped-def]
    """Every text colour of the style sheet against its own background, or else against every surface a text
    can stand on (the page, the cards, the code and status badges, the chart's WHO bands)."""
    names, rules = _rules(STATIC.read_text(encoding="utf-8"))
    surfaces = {"#fff", names["--bg"]}
    surfaces |= {h for s, d in rules for k, v in d.items() if k in ("background", "background-color")
                 and (h := _hex(v)) and not s.startswith(("button", "header button"))}
    bands = {h for s, d in rules if s.startswith("svg .band") for v in d.values() if (h := _hex(v))}
    checked = 0
    for sel, d in rules:
        for prop in ("color", "fill"):
            fg = _hex(d.get(prop, ""))
            if fg is None or (prop == "fill" and "text" not in sel and "label" not in sel):
                continue
            own = _hex(d.get("background", d.get("background-color", "")))
            if own:
                behind = {own}
            elif sel.startswith("svg"):
                behind = bands | {"#fff"}
            else:
                behind = surfaces
            for bg in behind:
                checked += 1
                assert contrast(fg, bg) >= 4.5, f"{sel}: {prop} {fg} on {bg} is {contrast(fg, bg):.2f}:1"
    assert checked > 40
    # the status badges as the pages show them: their words on their own colour
    for status in ("st-unverified", "st-secondary", "st-verified"):
        bg = next(_hex(d["background"]) for s, d in rules for part in s.split(",") if part.strip().endswith(status)
                  for _ in [0] if "background" in d)
        assert bg and contrast(names["--ink"], bg) >= 4.5


def test_field_borders_and_the_focus_ring_have_a_contrast_of_at_least_3(rendered) -> None:  # type: ignore[no-untyped-def]
    """WCAG 1.4.11: the edge of a text field, and the focus indicator, against the card and the page."""
    names, rules = _rules(STATIC.read_text(encoding="utf-8"))
    fields = next(d for s, d in rules if s.startswith("input, select, textarea"))
    focus = next(d for s, d in rules if s == ":focus-visible")
    for bg in ("#fff", names["--bg"]):
        for what, value in (("field border", fields["border"]), ("focus ring", focus["outline"])):
            c = _hex(value)
            assert c and contrast(c, bg) >= 3.0, f"{what} {c} on {bg}: {contrast(c, bg):.2f}:1"


# --- axe-core in Chromium ----------------------------------------------------------------------------------------

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    require_chromium("axe checks")
    with live_server(tmp_path_factory.mktemp("a11y") / "clinic.sqlite3") as running:
        yield running


@pytest.fixture(scope="module")
def chromium(live) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                                              "--no-first-run", "--disable-background-networking"])
        yield b
        b.close()


def _page(browser: Any, base: str, role: str | None, code: str) -> Any:
    return open_page(browser, base, role, locale="vi-VN" if code == "vi" else "en-GB", lang=code)


def _axe(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")  # every form shown
    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]})
    return [f"{page.url}: {v['id']} ({v['impact']}) {v['help']}: " + "; ".join(n["html"][:120] for n in v["nodes"][:3])
            for v in result.response["violations"]]


@pytest.mark.parametrize("code", ["en", "vi"])
def test_axe_finds_no_violation_on_any_page(live, chromium, code) -> None:  # type: ignore[no-untyped-def]
    base, rec = live
    found: list[str] = []
    for role, urls in _pages(rec, 1).items():
        page = _page(chromium, base, role, code)
        for url in urls:
            if url.startswith("/qa/"):
                continue  # no question is published on this server
            page.goto(url)
            assert page.locator("html").get_attribute("lang") == code
            found += _axe(page)
        page.context.close()
    assert not found, "\n".join(found)


def test_axe_finds_no_violation_on_forms_shown_with_their_errors(live, chromium) -> None:  # type: ignore[no-untyped-def]
    base, rec = live
    found: list[str] = []
    page = _page(chromium, base, None, "en")
    page.goto("/login")
    page.fill("input[name=username]", "nobody")
    page.fill("input[name=password]", "wrong password")
    page.click("form[action='/login'] button[type=submit]")
    found += _axe(page)
    page.goto("/ask")
    page.click("form[action='/ask'] button[type=submit]")
    found += _axe(page)
    doc = _page(chromium, base, "doctor", "en")
    doc.goto(f"/patients/{rec['patient']}")
    doc.click("#dxa summary")
    doc.fill("input[name=total_hip_t]", "-42")
    doc.click("#dxa button[type=submit]")
    assert doc.locator("#dxa [aria-invalid=true]").count() >= 1
    found += _axe(doc)
    doc.goto(f"/patients/{rec['patient']}/history")
    doc.fill("input[name=weight_kg]", "heavy")
    doc.click("form.history button[type=submit]")
    assert doc.locator("form.history [aria-invalid=true]").count() >= 1
    found += _axe(doc)
    doc.goto("/new-patient")
    doc.fill("input[name=record_id]", "a/b")
    doc.click("form[action='/new-patient'] button[type=submit]")
    assert doc.locator("[aria-invalid=true]").count() >= 1
    found += _axe(doc)
    assert not found, "\n".join(found)


def test_the_skip_link_is_the_first_tab_stop_shows_itself_and_moves_to_main(live, chromium) -> None:  # type: ignore[no-untyped-def]
    base, _ = live
    page = _page(chromium, base, "nurse", "en")
    page.goto("/worklist")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.className, document.activeElement.getAttribute('href'),"
                            " document.activeElement.getBoundingClientRect().top,"
                            " getComputedStyle(document.activeElement).outlineStyle]")
    assert focused[0] == "skip" and focused[1] == "#main"
    assert focused[2] >= 0, "the skip link stays off screen when it has the focus"
    assert focused[3] not in ("none", ""), "no focus ring"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # on to the first link of the page's content
    assert page.evaluate("document.activeElement.closest('main') !== null")
