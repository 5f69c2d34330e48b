"""Screening summary as pictures: the risk distribution and the category counts (PNG and HTML)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from .screen import HIST_EDGES, Summary

TITLES = {
    "qfracture_mof_percent": "QFracture-2012: 10-year major osteoporotic fracture risk (%)",
    "qfracture_hip_percent": "QFracture-2012: 10-year hip fracture risk (%)",
}


def figure_png(summary: Summary) -> bytes:
    cats = [k for k in ("who_category", "osta_category", "caroc_category", "stratum", "action") if k in summary.counts]
    ncols = max(len(summary.histograms), 1) + len(cats)
    fig, axes = plt.subplots(1, ncols, figsize=(4.2 * ncols, 3.6), squeeze=False)
    ax_iter = iter(axes[0])
    centres = (HIST_EDGES[:-1] + HIST_EDGES[1:]) / 2
    for name, h in summary.histograms.items():
        ax = next(ax_iter)
        cum = h.cumsum()
        upto = max(int((cum < 0.995 * cum[-1]).sum()) + 2, 20) if h.any() else 20  # show 99.5% of patients
        ax.bar(centres[:upto], h[:upto], width=HIST_EDGES[1] - HIST_EDGES[0], color="#4c72b0")
        ax.set_title(TITLES.get(name, name), fontsize=9)
        ax.set_xlabel("risk (%)")
        ax.set_ylabel("patients")
    for name in cats:
        ax = next(ax_iter)
        items = sorted(summary.counts[name].items())
        ax.barh([k for k, _ in items], [v for _, v in items], color="#dd8452")
        ax.set_title(name.replace("_", " "), fontsize=9)
        ax.set_xlabel("patients")
    fig.suptitle(f"Screening summary: {summary.rows} rows, {summary.scored} scored, {summary.flagged} flagged",
                 fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write(summary: Summary, prefix: Path, *, notes: list[str]) -> tuple[Path, Path]:
    png = figure_png(summary)
    png_path = prefix.with_name(prefix.name + ".summary.png")
    html_path = prefix.with_name(prefix.name + ".summary.html")
    png_path.write_bytes(png)
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(k)}</td><td>{v}</td></tr>"
        for name, ctr in summary.counts.items() for k, v in sorted(ctr.items())
    )
    flags = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in summary.flag_reasons.most_common())
    # each calculator's status as assess gives it (rows per status, why): its own section, before the counts
    status_rows = "".join(
        f"<tr><td>{html.escape(d['name'])}</td><td>{html.escape(', '.join(d['columns']))}</td>"
        f"<td>{html.escape(s)}</td><td>{n}</td></tr>"
        for d in summary.statuses.as_dict().values() for s, n in sorted(d["rows"].items())
    )
    status_html = "".join(f"<p class=status>{html.escape(n)}</p>" for n in summary.status_notes)
    note_html = "".join(f"<p class=note>{html.escape(n)}</p>" for n in notes if n not in summary.status_notes)
    html_path.write_text(
        f"""<!doctype html><html lang="en"><meta charset="utf-8"><title>OsteoCare screening summary</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 8px;text-align:left}}.note{{color:#555}}
.status{{border-left:4px solid #dd8452;padding-left:8px}}</style>
<h1>Screening summary</h1>
<p>{summary.rows} rows: {summary.scored} scored, {summary.flagged} flagged (not scored).</p>
<img alt="risk distribution and category counts" src="data:image/png;base64,{base64.b64encode(png).decode()}">
<h2>Status of each calculator</h2>
<p>The status <code>osteocare assess</code> gives each calculator for these rows (the lowest status of the facts
its rules used; a status below verified rests on facts not yet confirmed from the primary source).</p>
<table><tr><th>calculator</th><th>columns</th><th>status</th><th>rows</th></tr>{status_rows}</table>
{status_html}
<h2>Counts</h2><table><tr><th>column</th><th>value</th><th>rows</th></tr>{rows}</table>
<h2>Flagged rows by field</h2><table><tr><th>field</th><th>rows</th></tr>{flags}</table>
{note_html}
</html>""",
        encoding="utf-8",
    )
    return png_path, html_path
