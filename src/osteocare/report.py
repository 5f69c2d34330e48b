"""Readable (rich) rendering of an assessment for the terminal. Adapter code: no clinical logic."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .core.assessment import Assessment
from .core.results import Citation

INTENDED_USE = (
    "Decision support for clinicians: OsteoCare does not replace clinical judgement. "
    "Check every result against the patient in front of you."
)
_STATUS_STYLE = {"verified": "green", "secondary": "yellow", "unverified": "red"}


def _fmt(v: object, unit: str) -> str:
    if isinstance(v, float):
        txt = f"{v:.2f}" if abs(v) >= 0.01 or v == 0 else f"{v:.4f}"
    else:
        txt = str(v)
    return txt if unit in ("1", "") else f"{txt} {unit}"


class _Sources:
    def __init__(self) -> None:
        self.items: dict[str, int] = {}

    def ref(self, cites: tuple[Citation, ...] | list[Citation]) -> str:
        nums = []
        for c in cites:
            if c.text not in self.items:
                self.items[c.text] = len(self.items) + 1
            nums.append(self.items[c.text])
        return f" [{','.join(str(n) for n in sorted(set(nums)))}]" if nums else ""


def _status(s: str) -> Text:
    return Text(s, style=_STATUS_STYLE.get(s, ""))


def render(a: Assessment, console: Console) -> None:
    src = _Sources()
    head = Text()
    head.append(f"Patient {a.patient_id}", style="bold")
    head.append(f"   as of {a.as_of.isoformat()}")
    if a.provenance.guideline:
        head.append(f"   guideline {a.provenance.guideline}")
    parts: list[RenderableType] = [head]
    rec: dict[str, Any] | None = a.recommendation
    if rec and rec.get("text"):
        parts.append(Panel(str(rec["text"]), title="Act on", border_style="red"))

    summary = Table(title="Summary", show_lines=False, expand=False)
    summary.add_column("calculator")
    summary.add_column("result")
    summary.add_column("status")
    for r in a.results.values():
        numeric = [(k, q) for k, q in r.values.items() if isinstance(q.value, float | int)]
        headline = [kq for kq in numeric if kq[0].startswith(("lowest", "crcl", "egfr", "mof_adjusted", "hip_adjusted",
                                                               "major_", "hip_fracture", "index"))] or numeric[:3]
        shown = [f"{k} {_fmt(q.value, q.unit)}" for k, q in headline]
        result = (f"[bold]{r.category}[/bold]  " if r.category else "") + ", ".join(shown)
        summary.add_row(r.name, result, _status(r.status))
    parts.append(summary)

    for r in a.results.values():
        t = Table(show_header=False, box=None, pad_edge=False)
        t.add_column(style="cyan", no_wrap=True)
        t.add_column()
        for k, q in r.values.items():
            t.add_row(k, _fmt(q.value, q.unit))
        if r.category:
            t.add_row("category", Text(r.category, style="bold"))
        for rf in r.rules_fired:
            line = Text(f"{rf.text}{src.ref(rf.citations)} ")
            line.append(rf.status, style=_STATUS_STYLE.get(rf.status, ""))
            t.add_row(rf.rule_id, line)
        for w in r.warnings:
            if "(status:" not in w:
                t.add_row("note", Text(w, style="dim"))
        parts.append(Panel(t, title=f"{r.name}{src.ref(r.citations)}", subtitle=r.status, subtitle_align="right"))
    if a.not_applicable:
        na = Table(show_header=False, box=None)
        for e in a.not_applicable:
            na.add_row(e.name, e.reason)
        parts.append(Panel(na, title="Did not apply, and why"))
    if a.warnings:
        parts.append(Panel("\n".join(f"! {w}" for w in dict.fromkeys(a.warnings)),
                           title="Warnings (left out, or not fully confirmed)", border_style="yellow"))
    if src.items:
        refs = Table(show_header=False, box=None)
        for text, n in src.items.items():
            refs.add_row(f"[{n}]", Text(text, style="dim"))
        parts.append(Panel(refs, title="Sources"))
    p = a.provenance
    parts.append(
        Text(
            f"knowledge {p.knowledge_version} ({p.knowledge_sha256[:12]}), osteocare {p.osteocare_version}. "
            + INTENDED_USE,
            style="dim",
        )
    )
    console.print(Group(*parts))
