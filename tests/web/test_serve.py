"""`osteocare serve` — what the README's run command starts: the web app on SQLite with the demo clinic, and
sign-ins for it with random passwords made for that database (no default password)."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(url: str, body: dict[str, str]) -> dict[str, object]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_serve_starts_the_demo_clinic_with_its_own_sign_ins(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTEOCARE_")}
    exe = Path(sys.executable).parent / "osteocare"
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port), "--demo-patients", "6"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/ping", timeout=2) as r:
                    assert r.status == 200
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "the server did not start within 90 s"
                time.sleep(0.3)
        accounts = tmp_path / "data" / "demo-accounts.txt"
        assert stat.S_IMODE(accounts.stat().st_mode) == 0o600
        rows = {line.split()[1]: line.split()[2] for line in accounts.read_text().splitlines()[1:] if line.strip()}
        assert set(rows) == {"demo-doctor", "demo-nurse", "demo-patient"}
        assert len(set(rows.values())) == 3 and all(len(p) >= 20 for p in rows.values())
        tok = _post(f"http://127.0.0.1:{port}/api/v1/auth/token",
                    {"username": "demo-doctor", "password": rows["demo-doctor"]})
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/patients/DEMO-0001/assessment",
                                     headers={"Authorization": f"Bearer {tok['access_token']}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            body = json.loads(r.read())
        assert "bone-density" in body["results"]
    finally:
        proc.terminate()
        proc.wait(20)


def test_serve_refuses_a_demo_size_out_of_range_without_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTEOCARE_")}
    exe = Path(sys.executable).parent / "osteocare"
    run = subprocess.run([str(exe), "serve", "--port", str(_free_port()), "--demo-patients", "0"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "--demo-patients: 0 is not allowed" in run.stderr and "Traceback" not in run.stderr


def test_create_user_names_a_wrong_role_before_asking_for_a_password(tmp_path: Path) -> None:
    """It used to prompt for the password first, and with no terminal just said 'Aborted.' (exit 1)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OSTEOCARE_")},
           "OSTEOCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}"}
    exe = Path(sys.executable).parent / "osteocare"
    assert subprocess.run([str(exe), "db", "upgrade"], env=env, capture_output=True, timeout=120).returncode == 0
    run = subprocess.run([str(exe), "create-user", "bob", "--role", "wizard"], env=env, capture_output=True,
                         text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert run.returncode == 2 and "--role: 'wizard' is not allowed" in run.stderr, run.stderr
