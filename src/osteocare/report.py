"""Readable (rich) rendering of an assessment for the terminal. Adapter code: no clinical logic."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .core.assessment import Assessment

INTENDED_USE = (
    "Decision support for clinicians: OsteoCare does not replace clinical judgement. "
    "Check every result against the patient in front of you."
)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.2f}" if abs(v) >= 0.01 or v == 0 else f"{v:.4f}"
    return str(v)


def render(a: Assessment, console: Console) -> None:
    head = Text()
    head.append(f"Patient {a.patient_id}", style="bold")
    head.append(f"   as of {a.as_of.isoformat()}")
    if a.provenance.guideline:
        head.append(f"   guideline {a.provenance.guideline}")
    parts: list[object] = [head]
    rec = a.recommendation
    if rec and rec.get("text"):
        parts.append(Panel(str(rec["text"]), title="Act on", border_style="red"))
    if a.warnings:
        parts.append(Panel("\n".join(f"! {w}" for w in a.warnings), title="Status warnings", border_style="yellow"))
    for r in a.results.values():
        t = Table(show_header=False, box=None, pad_edge=False)
        t.add_column(style="cyan")
        t.add_column()
        for k, q in r.values.items():
            t.add_row(k, f"{_fmt(q.value)} {q.unit}".strip())
        if r.category:
            t.add_row("category", Text(r.category, style="bold"))
        for rf in r.rules_fired:
            cites = "; ".join(c.text for c in rf.citations)
            t.add_row(f"rule {rf.rule_id}", f"{rf.text} [{rf.status}]" + (f"\n  source: {cites}" if cites else ""))
        for w in r.warnings:
            if "(status:" not in w:
                t.add_row("note", Text(w, style="dim"))
        parts.append(Panel(t, title=f"{r.name}  [{r.status}]"))
    if a.not_applicable:
        na = Table(show_header=False, box=None)
        for e in a.not_applicable:
            na.add_row(e.name, e.reason)
        parts.append(Panel(na, title="Did not apply"))
    p = a.provenance
    parts.append(
        Text(
            f"knowledge {p.knowledge_version} ({p.knowledge_sha256[:12]}), osteocare {p.osteocare_version}. "
            + INTENDED_USE,
            style="dim",
        )
    )
    console.print(Group(*parts))  # type: ignore[arg-type]
