"""Clinic use cases over the store and the core: patients, facts, assessments, courses, schedule, doses,
reactions, alerts, worklist, calendar and demo data.

Every function takes a :class:`~osteocare.services.context.Clinic` (store, settings, acting user) first and
returns pydantic views (:mod:`osteocare.services.views`). Errors are :mod:`osteocare.services.errors` or the
core's :class:`~osteocare.core.errors.InputError`.
"""

from .context import Clinic

__all__ = ["Clinic"]
