"""The web adapter: FastAPI app (REST API + server-rendered pages) over the clinic services."""

from __future__ import annotations

from typing import Any


def create_app(settings: Any = None, **kw: Any) -> Any:
    from .app import create_app as _create

    return _create(settings, **kw)


__all__ = ["create_app"]
