"""Count what stays English on the Vietnamese pages of a demo clinic: every element marked ``lang="en"`` on the
patient pages, history pages and the staff pages, by text (most frequent first). Citations, guideline and country
names and the reference code's identifiers stay English by design; anything else is a sentence still to translate.

    .venv/bin/python tools/english_on_vietnamese_pages.py [--patients 25] [--top 40]
"""

from __future__ import annotations

import argparse
import collections
import html
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select
from tests.web.conftest import browser_for, build_clinic

from osteocare.store import models as m
from osteocare.web.app import WebOptions, create_app

_ENGLISH = re.compile(r'<(span|p|li|div|cite|pre)[^>]*lang="en"[^>]*>(.*?)</\1>', re.S)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--patients", type=int, default=25)
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args()
    clinic, _ = build_clinic(Path(tempfile.mkdtemp()) / "clinic.sqlite3", patients=args.patients)
    app = create_app(clinic.settings, clinic=clinic, options=WebOptions(login_delay_s=0.0))
    b = browser_for(app, "doctor")
    b.get("/lang/vi")
    with clinic.db.read() as s:
        ids = [r for (r,) in s.execute(select(m.Patient.record_id).order_by(m.Patient.record_id))]
    paths = [p for rid in ids for p in (f"/patients/{rid}", f"/patients/{rid}/history")]
    paths += ["/", "/worklist", "/alerts", "/questions", "/courses"]
    found: collections.Counter[str] = collections.Counter()
    for path in paths:
        for _, inner in _ENGLISH.findall(b.get(path).text):
            found[re.sub(r"\s+", " ", html.unescape(re.sub("<[^>]+>", "", inner)))[:150]] += 1
    print(f"{len(paths)} pages: {sum(found.values())} English elements, {len(found)} distinct")
    for text, n in found.most_common(args.top):
        print(f"{n:5} | {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
