"""FHIR R4 adapter: import bundles into patient records (with a report), export assessments, CDS Hooks.

Depends inward on :mod:`osteocare.core`; the code mappings are knowledge data files under
``osteocare/knowledge/codes``.
"""

from __future__ import annotations

from .importer import ImportResult, import_bundle, import_json, import_path, record_from_fhir
from .report import ImportReport

__all__ = ["ImportReport", "ImportResult", "import_bundle", "import_json", "import_path", "record_from_fhir"]
