"""Load test of the web app (locust, headless, bounded in time).

Starts the app on a temporary SQLite demo clinic (uvicorn, one process, a free localhost port), then drives
``--users`` concurrent clients (default 100) through sign-in, the patient page, the assessment and the worklist,
and the same number of clients against a trivial endpoint of the same app (``/api/v1/ping``). Two regimes:

* paced: each client waits ``--think`` seconds (default 1) between requests, a busy clinic: the latency figures;
* saturated: no waiting: the highest throughput (requests/second) of each scenario.

Prints requests/second and p50/p99 latency per endpoint, and checks the targets: the assessment endpoint at p99
under 100 ms (paced) and, saturated, at least half the trivial endpoint's throughput.

    uv run python benchmarks/web_load.py [--users 100] [--seconds 15] [--patients 100]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from locust import HttpUser, between, constant, task  # noqa: E402
from locust.env import Environment  # noqa: E402

PASSWORD = "load test password 1"
SERVER = r'''
import sys
from osteocare.services.context import Clinic
from osteocare.services.demo import load_demo
from osteocare.settings import get_settings
from osteocare.web import accounts
from osteocare.web.app import WebOptions, create_app
import uvicorn
db, port, n, users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
clinic = Clinic.open(get_settings({"OSTEOCARE_DATABASE_URL": f"sqlite:///{db}"}), actor="bench")
load_demo(clinic, patients=n, seed=11)
for i in range(users):
    accounts.create_user(clinic, username=f"doc{i}", password=sys.argv[5], role="doctor")
workers = int(sys.argv[6])
print("READY", flush=True)
if workers > 1:
    import os
    os.environ["OSTEOCARE_DATABASE_URL"] = f"sqlite:///{db}"
    uvicorn.run("osteocare.web.app:factory", factory=True, workers=workers, host="127.0.0.1", port=port,
                log_level="error", access_log=False)
else:
    app = create_app(clinic.settings, clinic=clinic, options=WebOptions(login_failures=1000))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)
'''

RECORDS: list[str] = []
_counter = iter(range(10**9))
SIGNED_IN: list[int] = []


class Clinician(HttpUser):
    """Signs in on the login page (CSRF token, session cookie) and gets a bearer token, then works."""

    wait_time = constant(1.0)

    def on_start(self) -> None:
        n = next(_counter)
        r = self.client.get("/login", name="GET /login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
        self.client.post("/login", name="POST /login (sign in)", allow_redirects=False,
                         data={"username": f"doc{n}", "password": PASSWORD, "csrf_token": token.group(1) if token else ""})
        r = self.client.post("/api/v1/auth/token", json={"username": f"doc{n}", "password": PASSWORD},
                             name="POST /api/v1/auth/token (sign in)")
        self.h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        SIGNED_IN.append(n)

    @task(2)
    def patient_page(self) -> None:
        self.client.get(f"/patients/{random.choice(RECORDS)}", name="GET /patients/{id} (page)")

    @task(4)
    def assessment(self) -> None:
        self.client.get(f"/api/v1/patients/{random.choice(RECORDS)}/assessment", headers=self.h,
                        name="GET /api/v1/patients/{id}/assessment")

    @task(2)
    def worklist(self) -> None:
        self.client.get("/api/v1/worklist", headers=self.h, name="GET /api/v1/worklist")


class Trivial(HttpUser):
    wait_time = constant(1.0)

    @task
    def ping(self) -> None:
        self.client.get("/api/v1/ping", name="GET /api/v1/ping")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(user: type[HttpUser], host: str, users: int, seconds: float, think: float,
        warmup: float = 5.0) -> dict[str, dict[str, float]]:
    user.wait_time = between(0.5 * think, 1.5 * think) if think > 0 else constant(0)  # type: ignore[method-assign]
    user.host = host
    env = Environment(user_classes=[user], host=host)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=users)
    SIGNED_IN.clear()
    deadline = time.perf_counter() + 120
    while user is Clinician and len(SIGNED_IN) < users and time.perf_counter() < deadline:
        gevent.sleep(0.2)  # everyone signed in (Argon2 is slow on purpose)
    gevent.sleep(warmup)  # steady state: the first views of each patient (cache misses) are not what is measured
    env.stats.reset_all()
    t0 = time.perf_counter()
    gevent.sleep(seconds)
    elapsed = time.perf_counter() - t0
    runner.quit()
    out = {}
    for (name, _method), e in sorted(env.stats.entries.items()):
        if "sign in" in name or name == "GET /login" or not e.num_requests:
            continue
        out[name] = {"requests": e.num_requests, "rps": e.num_requests / elapsed, "failures": e.num_failures,
                     "p50": e.get_response_time_percentile(0.5), "p99": e.get_response_time_percentile(0.99)}
    return out


def show(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"  {'endpoint':44s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'fail':>5s}")
    for name, r in rows.items():
        print(f"  {name:44s} {r['rps']:8.1f} {r['p50']:8.0f} {r['p99']:8.0f} {int(r['failures']):5d}")
    total = sum(r["rps"] for r in rows.values())
    print(f"  {'all':44s} {total:8.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--patients", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--think", type=float, default=1.0, help="paced run: seconds between a client's requests")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds of load before the measurement starts")
    args = ap.parse_args()
    port = _free_port()
    host = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        print(f"preparing a demo clinic of {args.patients} patients and {args.users} doctor accounts ...", flush=True)
        proc = subprocess.Popen([sys.executable, "-c", SERVER, str(Path(tmp) / "bench.sqlite3"), str(port),
                                 str(args.patients), str(args.users * 2 + 10), PASSWORD, str(args.workers)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY"):
            print(line + proc.stdout.read(), file=sys.stderr)
            return 2
        RECORDS.extend(f"DEMO-{i:04d}" for i in range(1, args.patients + 1))
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        try:
            paced = run(Clinician, host, args.users, args.seconds, args.think, args.warmup)
            paced_ping = run(Trivial, host, args.users, args.seconds, args.think, args.warmup)
            sat = run(Clinician, host, args.users, args.seconds, 0, args.warmup)
            sat_ping = run(Trivial, host, args.users, args.seconds, 0, args.warmup)
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"\n{args.users} concurrent clients, {args.seconds:g} s per run, {args.workers} uvicorn process(es), SQLite")
    show(f"paced ({args.think:g} s between a client's requests): clinical flow", paced)
    show("paced: trivial endpoint", paced_ping)
    show("saturated (no waiting): clinical flow", sat)
    show("saturated: trivial endpoint", sat_ping)
    a = "GET /api/v1/patients/{id}/assessment"
    p99 = paced[a]["p99"]
    ratio = sat[a]["rps"] / sat_ping["GET /api/v1/ping"]["rps"]
    all_ratio = sum(r["rps"] for r in sat.values()) / sat_ping["GET /api/v1/ping"]["rps"]
    print(f"\nassessment p99 (paced): {p99:.0f} ms  (target < 100 ms: {'met' if p99 < 100 else 'NOT met'})")
    print(f"saturated throughput, clinical flow / trivial endpoint: {all_ratio:.2f} "
          f"(assessment alone {ratio:.2f}; target >= 0.5 for the flow: {'met' if all_ratio >= 0.5 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
