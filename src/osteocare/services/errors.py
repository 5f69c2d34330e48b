"""Errors raised by the clinic services. Adapters turn them into exit codes (CLI) or HTTP responses (web)."""

from __future__ import annotations

from typing import Any

from ..core.errors import OsteoCareError


class ServiceError(OsteoCareError):
    """Root of the service errors."""


class NotFound(ServiceError):
    """No such patient, course, appointment ... (``what`` and ``key`` say which)."""

    def __init__(self, what: str, key: object) -> None:
        self.what = what
        self.key = key
        super().__init__(f"no {what} {key!r}")


class Conflict(ServiceError):
    """The request contradicts what is stored (e.g. a patient id already in use, a course already active)."""


class InvalidState(ServiceError):
    """The operation does not apply in the current state (e.g. a dose for a stopped course)."""


class OverrideRequired(ServiceError):
    """The contraindication check found a 'must not' (or a finding that needs an override): a written reason
    from the clinician is required to go ahead. ``findings`` are the findings that need it."""

    def __init__(self, drug: str, findings: list[dict[str, Any]]) -> None:
        self.drug = drug
        self.findings = findings
        ids = ", ".join(str(f.get("rule_id")) for f in findings)
        super().__init__(
            f"{drug}: the contraindication check found {ids}; starting anyway needs a written override reason"
        )


class DoseAlreadyRecorded(ServiceError):
    """A dose for this appointment is already recorded (another client got there first)."""

    def __init__(self, item_id: int, dose_id: int) -> None:
        self.item_id = item_id
        self.dose_id = dose_id
        super().__init__(f"a dose for appointment {item_id} is already recorded (dose {dose_id})")
