"""The worklist page shows the overdue items in the service's order — late doses first — and does not sort
them again by drug (a year-late denosumab *review* once headed the list, above late denosumab doses)."""

from __future__ import annotations

import html
import re

from osteocare.services.worklist import worklist

from .conftest import browser_for


def test_the_page_lists_overdue_items_late_doses_first_in_the_services_order(app, clinic_setup) -> None:  # type: ignore[no-untyped-def]
    clinic, _ = clinic_setup
    page = browser_for(app, "nurse").get("/worklist").text
    section = page[page.index('id="overdue"'):page.index('id="due"')]
    shown = [html.unescape(t) for t in re.findall(r"</a></td><td>(.*?)</td>", section)]
    expected = worklist(clinic.as_actor("test")).overdue
    assert shown == [a.text for a in expected]
    kinds = [a.kind for a in expected]
    assert "dose_overdue" in kinds and any(k != "dose_overdue" for k in kinds)  # the demo clinic has both
    first_other = next(i for i, k in enumerate(kinds) if k != "dose_overdue")
    assert all(k != "dose_overdue" for k in kinds[first_other:])
