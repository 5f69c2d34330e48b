"""One documented exception tree for the clinical core.

* :class:`OsteoCareError` is the root of everything the core raises on purpose.
* :class:`InputError` - a value is missing, of the wrong kind or outside its plausible range. The message
  names the field, the value, what is allowed and the unit, so an adapter can show it as it is.
* :class:`NotApplicable` - a calculator does not apply to this patient (e.g. BMI outside QFracture's
  20-40). It is not a failure of the whole assessment: the assessment lists it with its reason.
* :class:`KnowledgeError` - a knowledge data file is missing, malformed or inconsistent.
"""

from __future__ import annotations


class OsteoCareError(Exception):
    """Root of all deliberate OsteoCare errors."""


class InputError(OsteoCareError, ValueError):
    """Bad input: names the field, the value and what is allowed."""

    def __init__(self, field: str, value: object, allowed: str, *, unit: str | None = None) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        self.unit = unit
        unit_txt = f" {unit}" if unit else ""
        super().__init__(f"{field}: {value!r} is not allowed; expected {allowed}{unit_txt}")


class NotApplicable(OsteoCareError):
    """A calculator does not apply to this patient; ``reason`` says why."""

    def __init__(self, calculator: str, reason: str) -> None:
        self.calculator = calculator
        self.reason = reason
        super().__init__(f"{calculator} not applicable: {reason}")


class KnowledgeError(OsteoCareError):
    """A knowledge data file is missing, malformed or inconsistent."""
