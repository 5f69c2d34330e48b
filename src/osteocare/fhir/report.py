"""The import report: what was read, mapped, flagged and skipped, and why.

Every FHIR import writes one report per patient (and one for the bundle when no patient could be built).
``mapped`` means the fact went into the patient record as the code map says; ``flagged`` means it went in (or
was kept in the report) with a caveat the clinician must see; ``skipped`` means it was not used, with the
reason; ``error`` means the resource could not be read at all. A mapping whose code status is not
``verified`` makes the report's ``status`` lower and adds a visible warning (knowledge README rule 3).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..core.status import FactStatus, Status, lowest, status_warning

Outcome = Literal["mapped", "flagged", "skipped", "error"]


class ReportEntry(BaseModel):
    resource: str = Field(description="Resource type and id, e.g. 'Observation/abc'")
    outcome: Outcome
    reason: str
    code: str | None = Field(default=None, description="system|code that decided the outcome")
    display: str | None = Field(default=None, description="Display as written in the bundle (never trusted)")
    target: str | None = Field(default=None, description="Where it went in the record, e.g. 'dxa[lumbar_spine].t_score'")
    status: FactStatus | None = Field(default=None, description="Status of the code mapping used")
    knowledge_id: str | None = None


class Diagnosis(BaseModel):
    """A recognised diagnosis or finding the patient record has no field for (kept here, not guessed)."""

    diagnosis: str
    code: str
    onset: dt.date | None = None
    active: bool | None = None
    status: FactStatus


class SiteUnknownScore(BaseModel):
    """A T- or Z-score whose skeletal site is unknown (e.g. Synthea's generic 38265-5)."""

    kind: Literal["t_score", "z_score", "bmd_g_cm2"]
    value: float
    date: dt.date | None = None
    code: str
    region: str = Field(description="What is known of the site, e.g. 'unknown' or 'forearm (sub-region unknown)'")
    reason: str


class ImportReport(BaseModel):
    source: str = Field(description="File, or 'request' for a CDS Hooks call")
    bundle_type: str | None = None
    patient: str | None = Field(default=None, description="Patient resource id")
    record_created: bool = False
    as_of: dt.date
    read: dict[str, int] = Field(default_factory=dict, description="Resources read, by type")
    entries: list[ReportEntry] = Field(default_factory=list)
    diagnoses: list[Diagnosis] = Field(default_factory=list)
    site_unknown_scores: list[SiteUnknownScore] = Field(default_factory=list)
    dxa_exams: list[dt.date | None] = Field(default_factory=list, description="Dates of DXA procedures read")
    defaults: list[str] = Field(
        default_factory=list, description="Record fields left at their default because the bundle does not say"
    )
    notes: list[str] = Field(default_factory=list)
    retracted_labs: list[dict[str, Any]] = Field(
        default_factory=list, description="Lab results the bundle marks entered-in-error (name, value, unit, date): "
        "an import update removes the same results where an earlier import stored them")

    # ------------------------------------------------------------------ building
    def add(self, resource: str, outcome: Outcome, reason: str, **kw: object) -> ReportEntry:
        e = ReportEntry(resource=resource, outcome=outcome, reason=reason, **kw)  # type: ignore[arg-type,unused-ignore]
        self.entries.append(e)
        return e

    # ------------------------------------------------------------------ reading
    def count(self, outcome: Outcome) -> int:
        return sum(1 for e in self.entries if e.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(e.outcome for e in self.entries)
        return {k: c.get(k, 0) for k in ("mapped", "flagged", "skipped", "error")}

    @property
    def status(self) -> Status:
        """Lowest status of the code mappings whose facts were used (mapped or flagged)."""
        used = [e.status for e in self.entries if e.outcome in ("mapped", "flagged") and e.status]
        used += [d.status for d in self.diagnoses]
        return lowest(used)

    @property
    def warnings(self) -> list[str]:
        """Sentences the user must see: flags, and the status of non-verified code mappings."""
        out: list[str] = []
        by_status: dict[str, list[str]] = {}
        for e in self.entries:
            if e.outcome in ("mapped", "flagged") and e.status in ("secondary", "unverified") and e.code:
                by_status.setdefault(e.status, [])
                if e.code not in by_status[e.status]:
                    by_status[e.status].append(e.code)
        for st in ("unverified", "secondary"):
            if st in by_status:
                w = status_warning(st, "Imported facts coded " + ", ".join(by_status[st]))  # type: ignore[arg-type,unused-ignore]
                if w:
                    out.append(w)
        for e in self.entries:
            if e.outcome == "flagged":
                out.append(f"{e.resource}: {e.reason}")
        return out

    def summary(self, *, brief: bool = False) -> str:
        """A plain-text report for a terminal or a log (plain text: print it with markup off).

        ``brief`` leaves out the skipped resources (their count stays) and the defaults.
        """
        c = self.counts
        lines = [
            f"FHIR import of {self.source} (bundle type {self.bundle_type or 'unknown'}), patient "
            f"{self.patient or 'none'}, as of {self.as_of.isoformat()}: "
            f"record {'created' if self.record_created else 'NOT created'}",
            "read: " + ", ".join(f"{k} {v}" for k, v in sorted(self.read.items())),
            f"mapped {c['mapped']}, flagged {c['flagged']}, skipped {c['skipped']}, errors {c['error']}; "
            f"status of the mappings used: {self.status}",
        ]
        grouped: dict[tuple[str, str], list[ReportEntry]] = {}
        for e in self.entries:
            if e.outcome == "skipped":
                grouped.setdefault((e.reason, e.code or ""), []).append(e)
            elif e.outcome != "mapped":
                code = f" [{e.code}]" if e.code else ""
                lines.append(f"  {e.outcome:7} {e.resource}{code}: {e.reason}")
        for (reason, code), es in ({} if brief else grouped).items():
            where = es[0].resource + (f" and {len(es) - 1} more" if len(es) > 1 else "")
            lines.append(f"  skipped {where}{f' [{code}]' if code else ''}: {reason}")
        for d in self.diagnoses:
            lines.append(f"  diagnosis (no record field): {d.diagnosis} [{d.code}] onset {d.onset or 'unknown'}")
        for s in self.site_unknown_scores:
            lines.append(f"  {s.kind} {s.value:g} on {s.date or 'unknown date'}, site {s.region}: {s.reason}")
        if self.defaults and not brief:
            lines.append("  left at their defaults (not in the bundle): " + ", ".join(self.defaults))
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  WARNING: {w}" for w in self.warnings if "(status:" in w]
        return "\n".join(lines)
