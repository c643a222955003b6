"""Plots, summary.md and claims.html of `gristmill lab claims` (gristmill.lab.claims).

The project report has no lab section, so the claims get their own page in OUT: one row per claim
(question, arms, values per seed, interval, verdict, budget) and the plots.
"""
from __future__ import annotations

import html
import statistics
from pathlib import Path


def _fmt(x, f="{:.4f}"):
    return "n/a" if x is None else f.format(x)


def write_report(res: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    claims = res["claims"]
    n = len(claims)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), dpi=110, squeeze=False)
    for ax, (name, c) in zip(axes.flat, claims.items()):
        for i, arm in enumerate((c["arms"]["treatment"], c["arms"]["control"])):
            ys = [v for v in c["values"][arm].values() if v is not None]
            ax.scatter([i] * len(ys), ys, color=f"C{i}", alpha=0.6)
            if ys:
                ax.errorbar([i + 0.15], [statistics.fmean(ys)], yerr=[statistics.stdev(ys) if len(ys) > 1 else 0],
                            fmt="o", color=f"C{i}", capsize=4, ms=8)
        ax.set_xticks([0, 1])
        ax.set_xticklabels([c["arms"]["treatment"], c["arms"]["control"]], fontsize=8)
        ax.set_xlim(-0.5, 1.6)
        ax.set_title(f"{name}: {c['verdict']}", fontsize=9)
        ax.set_ylabel(c["metric"][:48] + ("..." if len(c["metric"]) > 48 else ""), fontsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"lab claims, budget {res['budget']['name']}: seeds (dots), mean ± sd (bars)", fontsize=10)
    fig.tight_layout()
    p = out / "claims.png"
    fig.savefig(p)
    plt.close(fig)
    paths.append(str(p))
    arch = claims.get("architecture")
    if arch:
        fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
        for seed, ex in arch["extra"].items():
            cv = ex.get("curve")
            if not cv:
                continue
            ax.plot(cv["tokens"], cv["data_spread"], color="C0", alpha=0.7, label="raw vs curated (tiny)" if seed == next(iter(arch["extra"])) else None)
            ax.plot(cv["tokens"], cv["architecture_spread"], color="C1", alpha=0.7,
                    label="across deep / wide / gru (curated)" if seed == next(iter(arch["extra"])) else None)
        ax.set_xlabel("training tokens")
        ax.set_ylabel("spread of held-out bpb")
        ax.set_title("data set against architecture along training (one line per seed)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        p = out / "architecture_spread.png"
        fig.savefig(p)
        plt.close(fig)
        paths.append(str(p))
    (out / "summary.md").write_text(summary_markdown(res, paths))
    (out / "claims.html").write_text(page(res, paths))
    return paths


def _rows(res: dict) -> list[list[str]]:
    rows = []
    for name, c in res["claims"].items():
        t, k = c["arms"]["treatment"], c["arms"]["control"]
        per = "; ".join(f"{arm}: " + ", ".join(_fmt(v) for v in c["values"][arm].values()) for arm in (t, k))
        iv = f"{_fmt(c['diff_mean'], '{:+.4f}')} [{_fmt(c['interval'][0], '{:+.4f}')}, {_fmt(c['interval'][1], '{:+.4f}')}]" \
            if c["interval"] else _fmt(c["diff_mean"], "{:+.4f}")
        rows.append([name, c["question"], c["metric"], per, iv, c["verdict"]])
    return rows


def summary_markdown(res: dict, plots: list[str]) -> str:
    b = res["budget"]
    lines = [f"# lab claims ({b['name']} budget)", "",
             f"Corpus {res['corpus']} (sources {', '.join(res['sources'])}); unit budget {b['tokens']:,} tokens per arm-seed, "
             f"seeds {b['seeds']}, {b['threads']} torch thread(s), {res['seconds'] / 60:.1f} min. Interval: 95% "
             "(treatment minus control over seeds, paired t). confirmed / refuted only when the interval excludes 0.", "",
             "| claim | question | metric | values per seed | treatment - control [95% CI] | verdict |", "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in _rows(res)]
    f = res["claims"].get("factoids")
    if f and f.get("scorer_auc"):
        lines += ["", "factoid scorer AUC on labelled held-out text: " + "; ".join(f"{k} {v['auc']:.3f} (n={v['n']})"
                                                                                  for k, v in f["scorer_auc"].items())]
    lines += ["", "Plots: " + ", ".join(f"`{Path(p).name}`" for p in plots), ""]
    return "\n".join(lines)


def page(res: dict, plots: list[str]) -> str:
    e = html.escape
    body = "".join("<tr>" + "".join(f"<td>{e(x)}</td>" for x in r) + "</tr>" for r in _rows(res))
    imgs = "".join(f"<p><img src='{e(Path(p).name)}' style='max-width:100%'></p>" for p in plots)
    return (f"<!doctype html><meta charset='utf-8'><title>gristmill lab claims</title>"
            f"<h1>lab claims ({e(res['budget']['name'])} budget)</h1><table border=1 cellpadding=4>"
            "<tr><th>claim</th><th>question</th><th>metric</th><th>values per seed</th><th>diff [95% CI]</th><th>verdict</th></tr>"
            f"{body}</table>{imgs}")
