"""`gristmill report OUT` for a lab output: the search panel (`lab search`: predicted against measured
held-out bpb, the validation table with seeds and verdicts, the proxies) and the tokenizer panel
(`tokenizer compare`). One offline HTML file, the same escaping, charts and Content-Security-Policy as
the curation report (report/html.py, report/plots.py): every value from the results file is escaped.
"""
from __future__ import annotations

import json
from pathlib import Path

from gristmill.report.html import _e, _table
from gristmill.report.plots import ACCENT, REJECTED, _fmt, _svg, _x, nice_ticks

_CSS = ("body{font-family:system-ui,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1100px;padding:0 16px;"
        "color:#212529}table{border-collapse:collapse;margin:8px 0 16px}th,td{border-bottom:1px solid #dee2e6;padding:4px 8px;"
        "text-align:right;font-size:13px}th:first-child,td:first-child{text-align:left}.note{color:#495057;font-size:13px}"
        ".better{color:#2b8a3e}.worse{color:#c92a2a}")


def _scatter(points: list[tuple[str, float, float, bool]], xlabel: str, ylabel: str) -> str:
    """Labelled points (name, x, y, highlighted) with the y = x diagonal: proxy against target bpb."""
    w, h, left, right, top, bottom = 560, 400, 64, 120, 16, 44
    xs = [p[1] for p in points]
    ys = [p[2] for p in points]
    lo_x, hi_x = min(xs), max(xs)
    lo_y, hi_y = min(ys), max(ys)
    pad_x, pad_y = (hi_x - lo_x) * 0.08 or 0.01, (hi_y - lo_y) * 0.08 or 0.01
    lo_x, hi_x, lo_y, hi_y = lo_x - pad_x, hi_x + pad_x, lo_y - pad_y, hi_y + pad_y
    pw, ph = w - left - right, h - top - bottom

    def X(v):
        return left + (v - lo_x) / (hi_x - lo_x) * pw

    def Y(v):
        return top + ph - (v - lo_y) / (hi_y - lo_y) * ph

    body = [f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#adb5bd'/>"]
    for t in nice_ticks(lo_x, hi_x):
        body.append(f"<text x='{X(t):.1f}' y='{top + ph + 14}' text-anchor='middle'>{_x(_fmt(t))}</text>")
    for t in nice_ticks(lo_y, hi_y):
        body.append(f"<text x='{left - 6}' y='{Y(t) + 4:.1f}' text-anchor='end'>{_x(_fmt(t))}</text>")
    for p in points:
        col = REJECTED if p[3] else ACCENT
        body.append(f"<circle cx='{X(p[1]):.1f}' cy='{Y(p[2]):.1f}' r='{5 if p[3] else 3.5}' fill='{col}'/>"
                    f"<text x='{X(p[1]) + 7:.1f}' y='{Y(p[2]) + 4:.1f}' fill='{col}'>{_x(p[0])}</text>")
    body.append(f"<text x='{left + pw / 2:.1f}' y='{h - 8}' text-anchor='middle' fill='#495057'>{_x(xlabel)}</text>"
                f"<text transform='translate(14 {top + ph / 2:.1f}) rotate(-90)' text-anchor='middle' fill='#495057'>{_x(ylabel)}</text>")
    return _svg(w, h, body)


def _verdict(c: dict | None) -> str:
    from gristmill.lab.significance import verdict_text

    if not c:
        return "reference"
    cls = c.get("verdict") if c.get("verdict") in ("better", "worse") else ""
    return f"<span class='{cls}'>{_e(verdict_text(c))}</span>"


def search_panel(res: dict) -> str:
    v = res["validation"]
    arms = [a for a in ("predicted", "natural", "uniform", "best_proxy") if a in v]
    rows = []
    for a in arms:
        t = v[a]["target_bpb"]
        std = "n/a" if t.get("std") is None else f"{t['std']:.4f}"
        w = ", ".join(f"{k} {x:.2f}" for k, x in v[a]["weights"].items())
        rows.append([_e(a + (f" ({v[a]['from']})" if a == "best_proxy" else "")), _e(w), f"{v[a]['proxy_bpb']:.4f}",
                     f"{t['mean']:.4f} ± {std}", _e(", ".join(f"{s}: {x:.4f}" for s, x in v[a]["per_seed"].items())),
                     _verdict(v[a].get("vs_natural")) if a != "natural" else "reference",
                     "yes" if not v[a].get("not_below_unigram") else "<span class='worse'>NOT below</span>"])
    cfg = res["config"]
    rk = res["ranking"]
    rho = rk.get("spearman_proxy_target")
    pts = [(p["name"], p["loo_pred"], p["mean_bpb"], False) for p in res["proxies"] if p.get("loo_pred") is not None]
    chart1 = _scatter(pts, "predicted held-out bpb (leave-one-out)", "measured proxy bpb") if len(pts) >= 2 else None
    pts2 = [(a, v[a]["proxy_bpb"], v[a]["target_bpb"]["mean"], a == "predicted") for a in arms]
    chart2 = _scatter(pts2, f"proxy bpb ({cfg['proxy']['tokens']:,} tokens)",
                      f"target bpb ({cfg['target']['tokens']:,} tokens, mean over seeds)")
    prox = [[_e(p["name"]), _e(", ".join(f"{k} {x:.2f}" for k, x in p["weights"].items())), f"{p['mean_bpb']:.4f}",
             "–" if p.get("loo_pred") is None else f"{p['loo_pred']:.4f}",
             "yes" if not p.get("not_below_unigram") else "<span class='worse'>NOT below</span>"] for p in res["proxies"]]
    reg = res["regression"]
    parts = [
        "<section id='search'><h2>mixture search (lab search)</h2>",
        f"<p class='note'>{len(res['proxies'])} proxies of {cfg['proxy']['tokens']:,} tokens; regression: {_e(reg['chosen'])} "
        f"(chosen by {_e(reg['by'])}); validated at {cfg['target']['tokens']:,} tokens with seeds "
        f"{_e(', '.join(map(str, cfg['target']['seeds'])))}; {_e(res.get('parallel', ''))}.</p>",
        "<h3>validation at the target budget</h3>",
        _table(["mixture", "weights", "proxy bpb", "target bpb (mean ± std)", "per seed", "vs natural (95% interval)",
                "below unigram"], rows),
        f"<p class='note'>Spearman rank correlation of proxy against target over the {rk['n']} validated mixtures: "
        f"<b>{'n/a' if rho is None else f'{rho:.2f}'}</b> ({_e(rk.get('note', ''))}).</p>",
        "<h3>predicted against measured</h3><div>",
        *(f"<img alt='leave-one-out predicted against measured proxy bpb' src='{c}'>" for c in [chart1] if c),
        f"<img alt='proxy against target bpb of the validated mixtures' src='{chart2}'></div>",
        "<h3>proxies</h3>",
        _table(["proxy", "weights", "held-out bpb", "leave-one-out prediction", "below unigram"], prox),
        "</section>"]
    return "".join(parts)


def tokenizer_panel(res: dict) -> str:
    rows = []
    for g, per in res["groups"].items():
        for i, (name, r) in enumerate(per.items()):
            rows.append([_e(g) if i == 0 else "", _e(name), f"{res['tokenizers'][name]['vocab_size']:,}",
                         *("–" if r[k] is None else (f"{r[k]:.3f}" if k in ("bytes_per_token", "fertility") else f"{100 * r[k]:.2f}%")
                           for k in ("bytes_per_token", "fertility", "unknown_rate", "byte_fallback_rate", "vocab_use"))])
    return ("<section id='tokenizers'><h2>tokenizers (tokenizer compare)</h2>"
            f"<p class='note'>measured on the held-out {100 * res['heldout_share']:.0f}% of documents "
            f"({res['documents']['heldout']:,}; split {_e(res['split'])}); BPEs trained on the other {res['documents']['train']:,}.</p>"
            + _table(["group", "tokenizer", "vocab", "bytes/token", "tokens/word", "unknown", "byte fallback", "vocab use"], rows)
            + "</section>")


def is_lab_output(out: Path) -> bool:
    return (out / "tokenizer_compare.json").is_file() or _search_results(out) is not None


def _search_results(out: Path) -> dict | None:
    f = out / "results.json"
    if not f.is_file():
        return None
    try:
        r = json.loads(f.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return r if isinstance(r, dict) and "validation" in r and "proxies" in r else None


def write_lab_report(out: Path) -> Path:
    from gristmill.engine.atomic import atomic_write_text

    body = []
    s = _search_results(out)
    if s is not None:
        body.append(search_panel(s))
    if (out / "tokenizer_compare.json").is_file():
        body.append(tokenizer_panel(json.loads((out / "tokenizer_compare.json").read_text(encoding="utf-8"))))
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
            f"<title>gristmill lab report: {_e(out.name)}</title><style>{_CSS}</style></head><body>"
            f"<h1>gristmill lab report</h1><p class='note'>{_e(out)}</p>{''.join(body)}</body></html>")
    p = out / "report.html"
    atomic_write_text(p, page)
    return p
