"""Start the web app on a fresh demo clinic for the end-to-end tests: ``python serve_for_tests.py DB PORT``.
Prints ``READY <patient> <patient2>`` once it listens."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import uvicorn

from conftest import build_clinic
from osteocare.web.app import WebOptions, create_app


def main() -> None:
    db, port = Path(sys.argv[1]), int(sys.argv[2])
    clinic, records = build_clinic(db)
    app = create_app(clinic.settings, clinic=clinic, options=WebOptions(login_delay_s=0.0))

    @app.on_event("startup")
    async def ready() -> None:
        print("READY", records["patient"], records["patient2"], flush=True)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
