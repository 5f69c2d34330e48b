"""Readable (rich) rendering of an assessment for the terminal. Adapter code: no clinical logic.

Every piece of text that comes from the assessment is shown as it is written, never read as rich markup: the
treatment text marks a fact that is not verified with ``[status: unverified]``, which rich would otherwise take
for a style tag and drop, and a record's own text (its id, a device model) may hold brackets. Control characters
(terminal escape sequences) are left out. The decision-support disclaimer is printed once, at the end. Each warning
is shown once: the treatment's own (a stratum, option or check not confirmed from the primary source, a FRAX model
the guideline does not assume) in "Act on" with the options they qualify, the others in the Warnings panel.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .core.assessment import Assessment
from .core.results import Citation
from .core.text import without_controls

INTENDED_USE = (
    "Decision support for clinicians: OsteoCare does not replace clinical judgement. "
    "Check every result against the patient in front of you."
)
_STATUS_STYLE = {"verified": "green", "secondary": "yellow", "unverified": "red"}
#: the treatment text's own disclaimer line (core.drugs.report); INTENDED_USE says it once for the whole report
_REC_DISCLAIMER = "Decision support only:"


def _plain(value: object) -> str:
    """``value`` as display text: control characters (escape sequences, NUL ...) left out, line breaks and tabs kept."""
    return without_controls(str(value), keep="\n\t")  # a carriage return would overwrite the terminal's line


def _t(value: object, style: str = "") -> Text:
    return Text(_plain(value), style=style)


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
    head.append(_plain(f"Patient {a.patient_id}"), style="bold")
    head.append(f"   as of {a.as_of.isoformat()}")
    if a.provenance.guideline:
        head.append(_plain(f"   guideline {a.provenance.guideline}"))
    parts: list[RenderableType] = [head]
    rec: dict[str, Any] | None = a.recommendation
    act_on = ""
    if rec and rec.get("text"):
        act_on = "\n".join(ln for ln in str(rec["text"]).splitlines() if not ln.startswith(_REC_DISCLAIMER))
        parts.append(Panel(_t(act_on), title="Act on", border_style="red"))
    # The treatment's own warnings are in its text (its WARNINGS list, where the clinician reads the options):
    # the Warnings panel holds the rest, each once.
    moved = {w for w in (rec or {}).get("warnings", []) if f"! {w}" in act_on}
    other = [w for w in dict.fromkeys(a.warnings) if w not in moved]

    summary = Table(title="Summary", show_lines=False, expand=False)
    summary.add_column("calculator")
    summary.add_column("result")
    summary.add_column("status")
    for r in a.results.values():
        numeric = [(k, q) for k, q in r.values.items() if isinstance(q.value, float | int)]
        headline = [kq for kq in numeric if kq[0].startswith(("lowest", "crcl", "egfr", "mof_adjusted", "hip_adjusted",
                                                               "major_", "hip_fracture", "index"))] or numeric[:3]
        shown = [f"{k} {_fmt(q.value, q.unit)}" for k, q in headline]
        result = Text()
        if r.category:
            result.append(_plain(r.category), style="bold")
            result.append("  ")
        result.append(_plain(", ".join(shown)))
        summary.add_row(_t(r.name), result, _status(r.status))
    parts.append(summary)

    for r in a.results.values():
        t = Table(show_header=False, box=None, pad_edge=False)
        t.add_column(style="cyan", no_wrap=True)
        t.add_column()
        for k, q in r.values.items():
            t.add_row(_t(k), _t(_fmt(q.value, q.unit)))
        if r.category:
            t.add_row("category", _t(r.category, style="bold"))
        for rf in r.rules_fired:
            line = _t(f"{rf.text}{src.ref(rf.citations)} ")
            line.append(rf.status, style=_STATUS_STYLE.get(rf.status, ""))
            t.add_row(_t(rf.rule_id), line)
        for w in r.warnings:
            if "(status:" not in w:
                t.add_row("note", _t(w, style="dim"))
        parts.append(Panel(t, title=_t(f"{r.name}{src.ref(r.citations)}"), subtitle=_t(r.status),
                           subtitle_align="right"))
    if a.not_applicable:
        na = Table(show_header=False, box=None)
        for e in a.not_applicable:
            na.add_row(_t(e.name), _t(e.reason))
        parts.append(Panel(na, title="Did not apply, and why"))
    if other:
        body = _t("\n".join(f"! {w}" for w in other))
        if moved:
            body.append("\nThe treatment's own warnings are under \"Act on\", above.", style="dim")
        parts.append(Panel(body, title="Warnings (left out, or not fully confirmed)", border_style="yellow"))
    if src.items:
        refs = Table(show_header=False, box=None)
        for text, n in src.items.items():
            refs.add_row(Text(f"[{n}]"), _t(text, style="dim"))
        parts.append(Panel(refs, title="Sources"))
    p = a.provenance
    parts.append(
        _t(
            f"knowledge {p.knowledge_version} ({p.knowledge_sha256[:12]}), osteocare {p.osteocare_version}. "
            + INTENDED_USE,
            style="dim",
        )
    )
    console.print(Group(*parts))
