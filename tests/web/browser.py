"""What the browser tests share: Debian's Chromium (a skip with the reason where it is missing, a failure on CI)
and the test server (``serve_for_tests.py``) on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"


def require_chromium(what: str) -> None:
    """Skip (``what`` says which tests) without Chromium; on CI (``CI=true``) its absence is an error."""
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"{CHROMIUM} is missing on CI: install Debian's chromium (apt-get install -y chromium)")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium); {what} skipped", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(db: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The demo clinic served from ``db`` on a free port: (base URL, the two patients' passwords)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("serve_for_tests.py")), str(db), str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    deadline, line = time.time() + 60, ""
    while time.time() < deadline:
        line = proc.stdout.readline()
        if line.startswith("READY") or proc.poll() is not None:
            break
    if not line.startswith("READY"):
        proc.kill()
        raise RuntimeError(f"the test server did not start: {line}{proc.stdout.read()}")
    _, p1, p2 = line.split()
    try:
        yield f"http://127.0.0.1:{port}", {"patient": p1, "patient2": p2}
    finally:
        proc.terminate()
        proc.wait(10)


def open_page(browser: Any, base: str, role: str | None, *, locale: str = "en-GB", lang: str | None = None) -> Any:
    """A new page at ``base`` in a 1280 x 900 window, signed in as the demo ``role`` (if any), with the language
    cookie set to ``lang`` (if given)."""
    from .conftest import PASSWORD, USERS

    page = browser.new_context(base_url=base, locale=locale, viewport={"width": 1280, "height": 900}).new_page()
    if lang is not None:
        page.context.add_cookies([{"name": "oc_lang", "value": lang, "url": base}])
    if role:
        page.goto("/login")
        page.fill("input[name=username]", USERS[role])
        page.fill("input[name=password]", PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_load_state()
    return page
