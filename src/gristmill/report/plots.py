"""The report's charts: small SVG drawings embedded as base64 ``data:`` images, so the page is one
file that opens offline and no script runs inside a chart (an SVG shown through ``<img>`` never
runs scripts, and the page's Content-Security-Policy admits only ``data:`` images).

The charts are written directly rather than through matplotlib: a run's report draws one
histogram per measured column (about 30 for the four heuristic families), and matplotlib's import
and layout took 5 to 6 s of CPU for them, more than the curation itself on 4,000 documents
(issue 24). Every label that comes from data (reasons, languages, column names) is XML-escaped.
"""
from __future__ import annotations

import base64
import math
from html import escape

import numpy as np

KEPT, REJECTED, ACCENT, QUARANTINE = "#2b8a3e", "#c92a2a", "#1c7ed6", "#e67700"
FONT = "font-family='system-ui,Segoe UI,Roboto,Helvetica,Arial,sans-serif'"
CHAR_W = 6.2  # average advance of an 11 px sans-serif glyph, to size label columns without a font engine


def _x(s) -> str:
    return escape(str(s), quote=True)


def _svg(width: float, height: float, body: list[str]) -> str:
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width:.0f}' height='{height:.0f}' "
           f"viewBox='0 0 {width:.0f} {height:.0f}' {FONT} font-size='11'>"
           f"<rect width='100%' height='100%' fill='#fff'/>{''.join(body)}</svg>")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def nice_ticks(lo: float, hi: float, n: int = 5, integer: bool = False) -> list[float]:
    """About ``n`` round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten)."""
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    if integer:
        step = max(1, round(step))
    first = math.ceil(lo / step - 1e-9) * step
    ticks, v = [], first
    while v <= hi + step * 1e-9 and len(ticks) < 50:
        ticks.append(round(v, 12))
        v += step
    return ticks


def _fmt(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    a = abs(v)
    return f"{v:.3g}" if a < 1e-3 or a >= 1e5 else f"{v:.4g}"


def _hbars(labels: list[str], values: list[float], colors: list[str], xlabel: str, width: int = 620,
           value_labels: bool = True) -> str:
    """Horizontal bars, first label on top, with a value axis of whole numbers (these are counts)."""
    n = len(labels)
    left = min(300, 12 + CHAR_W * max((len(str(l)) for l in labels), default=4))
    right, top, row = 60, 8, 22
    plot_w = width - left - right
    height = top + row * max(n, 1) + 40
    vmax = max([v for v in values if v is not None] or [0]) or 1
    ticks = nice_ticks(0, vmax, 5, integer=True)
    vmax = max(vmax, ticks[-1])
    body = []
    for t in ticks:
        x = left + plot_w * t / vmax
        body.append(f"<line x1='{x:.1f}' y1='{top}' x2='{x:.1f}' y2='{top + row * n}' stroke='#e9ecef'/>"
                    f"<text x='{x:.1f}' y='{top + row * n + 14}' text-anchor='middle' fill='#495057'>{_fmt(t)}</text>")
    for i, (lab, v, c) in enumerate(zip(labels, values, colors)):
        y = top + row * i
        w = plot_w * (v or 0) / vmax
        body.append(f"<text x='{left - 6}' y='{y + row / 2 + 4:.1f}' text-anchor='end'>{_x(lab)}</text>"
                    f"<rect x='{left}' y='{y + 3}' width='{w:.1f}' height='{row - 6}' fill='{c}'/>")
        if value_labels:
            body.append(f"<text x='{left + w + 4:.1f}' y='{y + row / 2 + 4:.1f}' fill='#212529'>{_fmt(v or 0)}</text>")
    body.append(f"<line x1='{left}' y1='{top}' x2='{left}' y2='{top + row * n}' stroke='#495057'/>"
                f"<text x='{left + plot_w / 2:.1f}' y='{height - 6}' text-anchor='middle' fill='#495057'>{_x(xlabel)}</text>")
    return _svg(width, height, body)


def funnel_chart(funnel: list[dict]) -> str:
    return _hbars([f["stage"] for f in funnel], [f["docs"] for f in funnel], [ACCENT] * len(funnel),
                  "documents remaining after each step")


def reasons_chart(reasons: list[dict], limit: int = 20) -> str | None:
    if not reasons:
        return None
    rows = reasons[:limit]
    colors = [QUARANTINE if r["step"] == "quarantine" else REJECTED for r in rows]
    return _hbars([r["reason"] for r in rows], [r["count"] for r in rows], colors,
                  "documents" + (f" (top {limit} reasons)" if len(reasons) > limit else ""))


def bar_chart(labels: list[str], values: list[int], xlabel: str, color: str = ACCENT) -> str:
    return _hbars(list(labels), list(values), [color] * len(labels), xlabel, width=520)


def histogram(d: dict) -> str:
    """Kept against rejected values of one measured column, with the selection threshold."""
    kept, rej = np.asarray(d["kept"], dtype=float), np.asarray(d["rejected"], dtype=float)
    both = np.concatenate([kept, rej]) if len(kept) + len(rej) else np.array([0.0])
    lo, hi = float(np.percentile(both, 0.5)), float(np.percentile(both, 99.5))
    if hi <= lo:
        hi = lo + 1
    # a threshold near the data widens the axis to show it; one far outside (max_doc_words=100000
    # against documents of a few hundred words) is named in the legend instead of squashing the plot
    span = hi - lo
    shown = [(p, v) for p, v in d.get("thresholds", []) if lo - span <= v <= hi + span]
    far = [(p, v) for p, v in d.get("thresholds", []) if (p, v) not in shown]
    for _p, v in shown:
        lo, hi = min(lo, v), max(hi, v)
    bins = np.linspace(lo, hi, 41)
    hk = np.histogram(np.clip(kept, lo, hi), bins=bins)[0] if len(kept) else np.zeros(40, int)
    hr = np.histogram(np.clip(rej, lo, hi), bins=bins)[0] if len(rej) else np.zeros(40, int)
    width, height, left, right, top = 340, 200, 44, 10, 22
    legend = ([(KEPT, f"kept or later ({len(kept):,})")] if len(kept) else []) + \
             ([(REJECTED, f"rejected here ({len(rej):,})")] if len(rej) else []) + \
             [("#000", f"{p} = {v:g}") for p, v in shown] + [(None, f"{p} = {v:g} (off the axis)") for p, v in far]
    plot_h = height - top - 30
    height += 14 * len(legend)
    plot_w = width - left - right
    ymax = int(max(hk.max(initial=0), hr.max(initial=0))) or 1
    yt = nice_ticks(0, ymax, 4, integer=True)
    ymax = max(ymax, yt[-1])
    sx = lambda v: left + plot_w * (v - lo) / (hi - lo)  # noqa: E731
    sy = lambda c: top + plot_h * (1 - c / ymax)  # noqa: E731
    body = [f"<text x='{width / 2:.0f}' y='14' text-anchor='middle' font-size='12'>{_x(d['column'])}</text>"]
    for t in yt:
        body.append(f"<line x1='{left}' y1='{sy(t):.1f}' x2='{width - right}' y2='{sy(t):.1f}' stroke='#f1f3f5'/>"
                    f"<text x='{left - 4}' y='{sy(t) + 3:.1f}' text-anchor='end' font-size='9' fill='#495057'>{_fmt(t)}</text>")
    for counts, color in ((hk, KEPT), (hr, REJECTED)):
        for i in np.flatnonzero(counts):
            x0, x1 = sx(bins[i]), sx(bins[i + 1])
            body.append(f"<rect x='{x0:.1f}' y='{sy(counts[i]):.1f}' width='{max(x1 - x0, 0.5):.1f}' "
                        f"height='{plot_h * counts[i] / ymax:.1f}' fill='{color}' fill-opacity='0.6'/>")
    for t in nice_ticks(lo, hi, 4):
        if lo <= t <= hi:
            body.append(f"<text x='{sx(t):.1f}' y='{top + plot_h + 12}' text-anchor='middle' font-size='9' fill='#495057'>{_fmt(t)}</text>")
    body.append(f"<line x1='{left}' y1='{top + plot_h}' x2='{width - right}' y2='{top + plot_h}' stroke='#495057'/>")
    for _p, v in shown:
        body.append(f"<line x1='{sx(v):.1f}' y1='{top}' x2='{sx(v):.1f}' y2='{top + plot_h}' stroke='#000' "
                    "stroke-width='1.2' stroke-dasharray='4 3'/>")
    y = top + plot_h + 30
    for color, text in legend:
        if color == "#000":
            mark = f"<line x1='{left}' y1='{y - 4}' x2='{left + 14}' y2='{y - 4}' stroke='#000' stroke-dasharray='4 3'/>"
        elif color:
            mark = f"<rect x='{left}' y='{y - 9}' width='14' height='9' fill='{color}' fill-opacity='0.6'/>"
        else:
            mark = ""
        body.append(f"{mark}<text x='{left + 20}' y='{y}' font-size='10'>{_x(text)}</text>")
        y += 14
    return _svg(width, height, body)
