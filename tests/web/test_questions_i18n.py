"""Questions to doctors through the API, the follow link, anonymised publishing; the Vietnamese catalogue."""

from __future__ import annotations

import re
from pathlib import Path

from osteocare.web import i18n

from .conftest import browser_for


def test_a_reader_asks_follows_and_finds_the_published_answer(api, tokens) -> None:  # type: ignore[no-untyped-def]
    r = api.post("/api/v1/questions", json={"topic": "Vitamin D dose", "name": "Lan",
                                            "body": "Call me on 0912 345 678 or lan@example.com: how much vitamin D?"})
    assert r.status_code == 201
    asked = r.json()
    assert api.get(f"/api/v1/questions/follow/{asked['follow_token']}").json()["status"] == "open"
    assert api.get("/api/v1/questions/follow/not-a-token").status_code == 404
    qid = asked["id"]
    assert api.post(f"/api/v1/questions/{qid}/publish", headers=tokens["doctor"], json={}).status_code == 409
    api.post(f"/api/v1/questions/{qid}/answer", headers=tokens["doctor"], json={"answer": "Usually 800 IU a day."})
    assert "800 IU" in api.get(f"/api/v1/questions/follow/{asked['follow_token']}").json()["answer"]
    pub = api.post(f"/api/v1/questions/{qid}/publish", headers=tokens["doctor"], json={}).json()
    assert "0912" not in pub["body"] and "lan@example.com" not in pub["body"] and "Lan" not in str(pub)
    found = api.get("/api/v1/qa", params={"q": "vitamin"}).json()
    assert any(i["id"] == qid for i in found["items"])


def _msgids() -> set[str]:
    root = Path(i18n.__file__).parent
    pat = re.compile(r'''(?:\b_|gettext)\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')''')
    ids = set()
    for f in [*root.glob("templates/*.html"), *root.glob("*.py")]:
        for m in pat.finditer(f.read_text(encoding="utf-8")):
            ids.add(m.group(1) if m.group(1) is not None else m.group(2))
    return ids


def test_every_message_has_a_vietnamese_translation() -> None:
    vi = i18n.translations("vi")
    missing = [m for m in _msgids() if m.strip() and vi.gettext(m) == m and m not in ("DXA", "> LSC", "BMD (g/cm²)")]
    assert not missing, missing


def test_the_compiled_catalogue_matches_the_source() -> None:
    from babel.messages.mofile import read_mo

    from osteocare.web.translations.vi_source import VI

    mo = Path(i18n.__file__).parent / "translations" / "vi" / "LC_MESSAGES" / "messages.mo"
    with mo.open("rb") as f:
        cat = read_mo(f)
    assert {m.id: m.string for m in cat if m.id} == VI, "run python -m osteocare.web.translations.vi_source"


def test_vietnamese_pages_render_with_local_dates(app, records) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, "doctor")
    b.get("/lang/vi")
    page = b.get(f"/patients/{records['patient']}").text
    assert 'lang="vi"' in page and "Đánh giá hiện tại" in page and "thg" in page
    assert "Danh sách công việc" in b.get("/worklist").text
    p = browser_for(app, "patient")
    p.get("/lang/vi")
    assert "Liều tiếp theo của tôi" in p.get("/me").text
