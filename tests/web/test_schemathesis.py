"""Property-based run of schemathesis over the whole OpenAPI document: no request makes a server error (5xx)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = 15
CALLS: list[int] = []


def _check(op, headers, failures) -> None:  # type: ignore[no-untyped-def]
    @given(data=st.data())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def run(data) -> None:  # type: ignore[no-untyped-def]
        case = data.draw(op.as_strategy())
        response = case.call(headers=headers)
        CALLS.append(response.status_code)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}")

    run()


def test_no_server_error_anywhere_in_the_api(app, tokens) -> None:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    seen = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path == "/api/v1/auth/logout":
            continue  # would end the shared sessions
        role = "admin" if op.path.endswith("/audit") or op.path.startswith("/api/v1/users") else "doctor"
        seen += 1

        _check(op, dict(tokens[role]), failures)
    assert seen >= 25
    assert len(CALLS) >= seen * 5, "schemathesis generated too few requests"
    assert any(c < 300 for c in CALLS), "no request succeeded: the authentication is not applied"
    assert not failures, "\n".join(sorted(set(failures))[:20])
