"""FHIR R4 adapter: import bundles into patient records (with a report), export assessments, CDS Hooks 2.0.

Depends inward on :mod:`osteocare.core`; the code mappings are knowledge data files under
``osteocare/knowledge/codes``. The CDS Hooks service is :mod:`osteocare.fhir.cds_hooks` (``discovery``,
``handle``).
"""

from __future__ import annotations

from .export import export_assessment, export_record_assessment
from .importer import ImportResult, import_bundle, import_json, import_path, record_from_fhir
from .report import ImportReport

__all__ = [
    "ImportReport",
    "ImportResult",
    "export_assessment",
    "export_record_assessment",
    "import_bundle",
    "import_json",
    "import_path",
    "record_from_fhir",
]
