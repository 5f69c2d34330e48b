"""Evidence status of knowledge facts and of results derived from them.

A result takes the *lowest* status of all the facts it used (knowledge README, rule 2):
``unverified`` < ``secondary`` < ``verified``. ``convention`` marks a project choice and does not lower
a result's status by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Status = Literal["verified", "secondary", "unverified"]
FactStatus = Literal["verified", "secondary", "unverified", "convention"]

_RANK: dict[str, int] = {"unverified": 0, "secondary": 1, "verified": 2, "convention": 3}


def lowest(statuses: Iterable[str]) -> Status:
    """The lowest status among ``statuses`` (conventions ignored); ``verified`` if none."""
    best: Status = "verified"
    for s in statuses:
        if s not in _RANK:
            raise ValueError(f"unknown status {s!r}")
        if s == "convention":
            continue
        if _RANK[s] < _RANK[best]:
            best = s  # type: ignore[assignment]
    return best


def status_warning(status: Status, what: str) -> str | None:
    """The visible warning a non-verified result must carry (README rule 3), or None."""
    if status == "verified":
        return None
    if status == "secondary":
        return (
            f"{what}: based on facts seen only in a secondary source, not yet confirmed from the primary "
            "source (status: secondary)."
        )
    return f"{what}: based on facts not yet confirmed from the primary source (status: unverified)."
