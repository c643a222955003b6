"""The report's charts: matplotlib (Agg, no display needed) rendered to PNG and embedded as base64,
so the page is one file that opens offline."""
from __future__ import annotations

import base64
import io

import numpy as np

KEPT, REJECTED, ACCENT = "#2b8a3e", "#c92a2a", "#1c7ed6"


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def funnel_chart(funnel: list[dict]) -> str:
    plt = _plt()
    labels = [f["stage"] for f in funnel][::-1]
    docs = [f["docs"] for f in funnel][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.42 * len(labels) + 0.8))
    bars = ax.barh(labels, docs, color=ACCENT)
    top = max(docs) if docs else 1
    for b, d in zip(bars, docs):
        ax.text(b.get_width() + top * 0.01, b.get_y() + b.get_height() / 2, f"{d:,}", va="center", fontsize=9)
    ax.set_xlim(0, top * 1.15 or 1)
    ax.set_xlabel("documents remaining after each step")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def reasons_chart(reasons: list[dict], limit: int = 20) -> str | None:
    if not reasons:
        return None
    plt = _plt()
    rows = reasons[:limit][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(rows) + 0.8))
    colors = ["#e67700" if r["step"] == "quarantine" else REJECTED for r in rows]
    ax.barh([r["reason"] for r in rows], [r["count"] for r in rows], color=colors)
    ax.set_xlabel("documents" + (f" (top {limit} reasons)" if len(reasons) > limit else ""))
    ax.tick_params(axis="y", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def histogram(d: dict) -> str:
    """Kept against rejected values of one measured column, with the selection threshold."""
    plt = _plt()
    kept, rej = d["kept"], d["rejected"]
    both = np.concatenate([kept, rej]) if len(kept) + len(rej) else np.array([0.0])
    lo, hi = np.percentile(both, 0.5), np.percentile(both, 99.5)
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
    fig, ax = plt.subplots(figsize=(4.2, 2.4))
    if len(kept):
        ax.hist(np.clip(kept, lo, hi), bins=bins, color=KEPT, alpha=0.6, label=f"kept or later ({len(kept):,})")
    if len(rej):
        ax.hist(np.clip(rej, lo, hi), bins=bins, color=REJECTED, alpha=0.6, label=f"rejected here ({len(rej):,})")
    for p, v in shown:
        ax.axvline(v, color="black", linestyle="--", linewidth=1.2, label=f"{p} = {v:g}")
    for p, v in far:
        ax.plot([], [], " ", label=f"{p} = {v:g} (off the axis)")
    ax.set_title(d["column"], fontsize=10)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def bar_chart(labels: list[str], values: list[int], xlabel: str, color: str = ACCENT) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 0.3 * len(labels) + 0.8))
    ax.barh(labels[::-1], values[::-1], color=color)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.25-document ticks
    ax.set_xlabel(xlabel)
    ax.tick_params(axis="y", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
