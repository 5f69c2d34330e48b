"""Server-side inline SVG: the BMD trend per site (T-score over time) against the WHO bands, with changes beyond
the least significant change marked. The band limits and the LSC come from the knowledge files."""

from __future__ import annotations

import datetime as dt
from functools import cache
from html import escape
from typing import Any

from ..core.densitometry import significant_change
from ..core.knowledge import load

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 560, 220, 44, 16, 14, 30


@cache
def who_limits() -> tuple[float, float]:
    kf = load("who-bmd-categories")
    return float(kf.value("normal_t_score_min")), float(kf.value("osteoporosis_t_score_max"))


@cache
def lsc_percent() -> dict[str, float]:
    """ISCD minimum acceptable LSC (%) per site: used when the facility has not entered its own precision study."""
    return {k: float(v) for k, v in load("precision-lsc").value("min_acceptable_lsc_percent").items()}


def mark_significant(points: list[dict[str, Any]], site: str) -> list[dict[str, Any]]:
    """Adds ``significant`` (True/False/None) to each point: BMD change from the previous exam beyond the LSC."""
    lsc = lsc_percent().get(site)
    prev = None
    for p in points:
        p["significant"] = None
        p["change_pct"] = None
        if prev is not None and lsc is not None and p.get("bmd_g_cm2") and prev.get("bmd_g_cm2"):
            b, a = float(prev["bmd_g_cm2"]), float(p["bmd_g_cm2"])
            p["significant"] = bool(significant_change(b, a, lsc, unit="%")[0])
            p["change_pct"] = round(100.0 * (a - b) / b, 1)
        if p.get("bmd_g_cm2"):
            prev = p
    return points


def trend_svg(site: str, points: list[dict[str, Any]], *, labels: dict[str, str], fmt_date: Any) -> str:
    """One chart; ``labels`` holds the translated band names and titles."""
    pts = [p for p in points if p.get("t_score") is not None]
    normal_min, osteo_max = who_limits()
    ts = [float(p["t_score"]) for p in pts]
    lo = min([*ts, osteo_max - 1.0]) - 0.3
    hi = max([*ts, normal_min + 1.0]) + 0.3
    days = [p["date"].toordinal() for p in pts] or [dt.date.today().toordinal()]
    d0, d1 = min(days), max(days)
    if d1 == d0:
        d0, d1 = d0 - 180, d1 + 180

    def x(d: int) -> float:
        return PAD_L + (W - PAD_L - PAD_R) * (d - d0) / (d1 - d0)

    def y(t: float) -> float:
        return PAD_T + (H - PAD_T - PAD_B) * (hi - t) / (hi - lo)

    title = escape(labels.get("title", site))
    out = [f'<svg class="trend" role="img" viewBox="0 0 {W} {H}" width="100%" aria-labelledby="t-{site}">'
           f'<title id="t-{site}">{title}</title>']
    bands = [(hi, normal_min, "band-normal", labels["normal"]), (normal_min, osteo_max, "band-low", labels["low"]),
             (osteo_max, lo, "band-osteo", labels["osteoporosis"])]
    for top, bottom, cls, name in bands:
        out.append(f'<rect class="{cls}" x="{PAD_L}" y="{y(top):.1f}" width="{W - PAD_L - PAD_R}" '
                   f'height="{max(0.0, y(bottom) - y(top)):.1f}"/>')
        out.append(f'<text class="band-label" x="{W - PAD_R - 4}" y="{y(top) + 12:.1f}" text-anchor="end">'
                   f'{escape(name)}</text>')
    for t in (normal_min, osteo_max):
        out.append(f'<line class="limit" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>'
                   f'<text class="axis" x="{PAD_L - 4}" y="{y(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    if pts:
        out.append(f'<text class="axis" x="{x(days[0]):.1f}" y="{H - 10}" text-anchor="start">'
                   f'{escape(fmt_date(pts[0]["date"]))}</text>')
        if len(pts) > 1:
            out.append(f'<text class="axis" x="{x(days[-1]):.1f}" y="{H - 10}" text-anchor="end">'
                       f'{escape(fmt_date(pts[-1]["date"]))}</text>')
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(d):.1f},{y(t):.1f}"
                        for i, (d, t) in enumerate(zip(days, ts, strict=True)))
        out.append(f'<path class="line" d="{path}"/>')
        for p, d, t in zip(pts, days, ts, strict=True):
            sig = p.get("significant")
            cls = "pt sig" if sig else "pt"
            tip = f"{fmt_date(p['date'])}: T {t:g}"
            if p.get("change_pct") is not None:
                tip += f" ({p['change_pct']:+g}% BMD" + (f", {labels['beyond_lsc']})" if sig else ")")
            out.append(f'<circle class="{cls}" cx="{x(d):.1f}" cy="{y(t):.1f}" r="{6 if sig else 4}">'
                       f'<title>{escape(tip)}</title></circle>')
            if sig:
                out.append(f'<text class="sig-label" x="{x(d):.1f}" y="{y(t) - 9:.1f}" text-anchor="middle">'
                           f'{escape(labels["lsc_mark"])}</text>')
    out.append("</svg>")
    return "".join(out)
