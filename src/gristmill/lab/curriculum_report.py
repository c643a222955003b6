"""Plots, the table and summary.md of a `lab curriculum` experiment (gristmill.lab.curriculum).

Split from gristmill.lab.curriculum (one concern per file).
"""
from __future__ import annotations

import statistics
from pathlib import Path

from gristmill.lab.ablate import pm, unigram_flag
from gristmill.lab.curriculum_config import ARM_HELP

# ---------------------------------------------------------------- plots, table, summary

COLORS = {"alone": "C3", "replay": "C0", "control": "C7"}


def _band(ax, arm: str, seeds: list[dict], ys_of, label: str, scale: float):
    import numpy as np

    n = min(len(s["curve"]["tokens"]) for s in seeds)
    x = np.array(seeds[0]["curve"]["tokens"][:n]) / scale
    ys = np.array([ys_of(s)[:n] for s in seeds], dtype=float)
    flagged = any(s.get("not_below_unigram") for s in seeds)  # drawn dotted and named: a model that learned little
    ax.plot(x, ys.mean(0), color=COLORS[arm], lw=2, ls=":" if flagged else "-",
            label=label + ("  [NOT below unigram]" if flagged else ""))
    if len(seeds) > 1:
        ax.fill_between(x, ys.min(0), ys.max(0), color=COLORS[arm], alpha=0.18, lw=0)


def plot_curriculum(results: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = results["arms"]
    cfg = results["config"]
    nseeds = len(cfg["seeds"])
    tok2 = cfg["phase2"]["tokens"]
    scale, unit = (1e6, "millions") if tok2 >= 2e6 else (1e3, "thousands")
    band = f"line = mean, band = min..max over {nseeds} seeds" if nseeds > 1 else "1 seed"
    paths = []

    # 1. forgetting against phase-2 tokens
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=120)
    for arm, a in arms.items():
        ss = list(a["seeds"].values())
        _band(ax, arm, ss, lambda s: [v - s["curve"]["phase1_mean_bpb"][0] for v in s["curve"]["phase1_mean_bpb"]],
              f"{arm}: {ARM_HELP[arm]}" + (f" ({cfg['replay']:.0%} replay)" if arm == "replay" else "")
              + f"  end {a['forgetting']['mean']:+.3f}"
              + (f"; vs alone: {a['vs_alone']['forgetting']['verdict']}" if "forgetting" in a.get("vs_alone", {}) else ""), scale)
    ax.axhline(0, color="k", lw=0.8, ls="--")
    ax.set_xlabel(f"phase-2 tokens ({unit})")
    ax.set_ylabel("phase-1 held-out bpb minus its end-of-phase-1 value")
    ax.set_title(f"Forgetting: rise of phase-1 held-out bits per byte (higher = more forgotten)\n{band}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(_save(fig, out / "forgetting_vs_tokens.png"))

    # 2. gain against phase-2 tokens: new-domain bpb and accuracy panels
    some = next(iter(next(iter(arms.values()))["seeds"].values()))
    panels = (["bpb"] if "phase2_mean_bpb" in some["curve"] else []) + list(some["curve"].get("tasks", {}))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.4), dpi=120, squeeze=False)
    for ax, p in zip(axes[0], panels):
        for arm, a in arms.items():
            ss = list(a["seeds"].values())
            if p == "bpb":
                _band(ax, arm, ss, lambda s: s["curve"]["phase2_mean_bpb"], f"{arm}: end {a['phase2_bpb_end']['mean']:.3f}", scale)
            else:  # greedy exact match (solid) and 4-way likelihood ranking (dotted, chance 25%)
                _band(ax, arm, ss, lambda s, p=p: s["curve"]["tasks"][p]["generate_acc"],
                      f"{arm} greedy: end {a['tasks'][p]['generate_acc']['end']['mean']:.0%}", scale)
                ys = [s["curve"]["tasks"][p]["rank_acc"] for s in ss]
                n = min(map(len, ys))
                ax.plot([t / scale for t in ss[0]["curve"]["tokens"][:n]], [statistics.fmean(y[i] for y in ys) for i in range(n)],
                        color=COLORS[arm], ls=":", lw=1.5, label=f"{arm} ranked: end {a['tasks'][p]['rank_acc']['end']['mean']:.0%}")
        if p == "bpb":
            ax.set_ylabel("new-domain held-out bpb (lower = better)")
            ax.set_title("Gain: new-domain held-out bits per byte", fontsize=10)
        else:
            ax.axhline(0.25, color="k", lw=0.8, ls="--")
            ax.set_ylabel("accuracy")
            what = (f"{p[:-6]}: each intermediate result (= N)" if p.endswith(":steps") else
                    f"{p[:-7]}: final answer after the worked steps" if p.endswith(":answer") else f"task {p}")
            ax.set_title(f"Gain: {what}\n{results['problems'].get(p, '?')} held-out problems", fontsize=10)
        ax.set_xlabel(f"phase-2 tokens ({unit}); 0 = end of phase 1")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(band + ("; accuracy: solid = greedy exact match, dotted = answer ranked first of 4 (dashed line = chance)"
                         if len(panels) > 1 or panels[:1] != ["bpb"] else ""), fontsize=9)
    fig.tight_layout()
    paths.append(_save(fig, out / "gain_vs_tokens.png"))

    # 3. the trade-off: forgetting against gain, one point per seed, mean ± std per arm
    if panels:
        key = "bpb" if panels[0] == "bpb" else panels[0]

        def gain(s):
            return s["gain_bpb"] if key == "bpb" else s["tasks"][key]["generate_acc"]["gain"]
        fig, ax = plt.subplots(figsize=(6.8, 5), dpi=120)
        for arm, a in arms.items():
            ss = list(a["seeds"].values())
            xs, ys = [gain(s) for s in ss], [s["forgetting"] for s in ss]
            ax.scatter(xs, ys, color=COLORS[arm], alpha=0.45, s=25)
            ax.errorbar([statistics.fmean(xs)], [statistics.fmean(ys)],
                        xerr=[statistics.stdev(xs) if len(xs) > 1 else 0], yerr=[statistics.stdev(ys) if len(ys) > 1 else 0],
                        fmt="o", ms=9, color=COLORS[arm], capsize=4, label=f"{arm}: {ARM_HELP[arm]}")
        ax.axhline(0, color="k", lw=0.8, ls="--")
        ax.axvline(0, color="k", lw=0.8, ls="--")
        ax.set_xlabel("gain: fall of new-domain held-out bpb" if key == "bpb" else f"gain: rise of {key} accuracy")
        ax.set_ylabel("forgetting: rise of phase-1 held-out bpb")
        ax.set_title("Forgetting against gain after phase 2 (better = right and low)\n"
                     "small dots = seeds, large = mean ± std", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(_save(fig, out / "forgetting_vs_gain.png"))
    return paths


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.savefig(path)
    plt.close(fig)
    return str(path)


def _pm(s: dict, fmt: str = "{:+.4f}") -> str:
    return pm(s, fmt)


def _rows(results: dict) -> tuple[list[str], list[list[str]]]:
    from gristmill.lab.significance import verdict_text

    arms = results["arms"]
    some = next(iter(arms.values()))
    tasks = list(some["tasks"])
    cols = ["arm", "phase-2 data", "forgetting", "phase-1 bpb"]
    if "gain_bpb" in some:
        cols += ["gain", "new-domain bpb"]
    cols += [f"{t} acc (greedy / ranked)" for t in tasks]
    cols += ["forgetting vs alone (diff [95% CI])", "vs unigram baseline"]
    rows = []
    for arm, a in arms.items():
        share = a["consumed_share"]
        what = {"alone": "new", "replay": f"new {share.get('new', 0):.1%} + phase-1 {share.get('phase1', 0):.1%}",
                "control": "phase-1"}[arm]
        r = [arm, what, _pm(a["forgetting"]), _pm(a["phase1_bpb_end"], "{:.4f}")]
        if "gain_bpb" in some:
            r += [_pm(a["gain_bpb"]), _pm(a["phase2_bpb_end"], "{:.4f}")]
        r += [f"{a['tasks'][t]['generate_acc']['end']['mean']:.2f} / {a['tasks'][t]['rank_acc']['end']['mean']:.2f}" for t in tasks]
        vs = a.get("vs_alone", {}).get("forgetting")
        r += [verdict_text(vs, "{:+.3f}") if vs else "reference", unigram_flag(a)]
        rows.append(r)
    return cols, rows


def print_curriculum(results: dict, console) -> None:
    from rich.table import Table

    cfg = results["config"]
    cols, rows = _rows(results)
    t = Table(title=f"phase 2: {cfg['phase2']['tokens']:,} tokens per arm after {cfg['phase1']['tokens']:,} phase-1 tokens "
                    f"(mean ± std over {len(cfg['seeds'])} seeds)", caption="forgetting = rise of phase-1 held-out bpb over "
              "phase 2; gain = fall of new-domain held-out bpb; bpb and greedy accuracy at the end of phase 2")
    for c in cols:
        t.add_column(c, justify="left" if c in ("arm", "phase-2 data") else "right")
    for r in rows:
        t.add_row(*r)
    console.print(t)
    bad1 = [seed for seed, v in results["phase1"].items() if v.get("not_below_unigram")]
    bad = [arm for arm, a in results["arms"].items() if a.get("not_below_unigram")] + [f"phase 1 (seed {s})" for s in bad1]
    if bad:
        console.print(f"[bold yellow]warning:[/] {', '.join(bad)}: not clearly below the unigram baseline; forgetting and "
                      "gain measured on a model that learned little mean little (train longer or check the data)", highlight=False)


def summary_markdown(results: dict, config: Path, out: Path) -> str:
    cfg = results["config"]
    cols, rows = _rows(results)
    p1 = results["phase1"]
    ends = [statistics.fmean(v["bpb"][k] for k in results["eval_sets"]["phase1"]) for v in p1.values()]
    unis = [statistics.fmean(v["unigram_bpb"][k] for k in results["eval_sets"]["phase1"]) for v in p1.values()]
    lines = [f"# Curriculum and forgetting: `{config}`", "",
             f"Phase 1: {cfg['phase1']['tokens']:,} tokens of {', '.join(Path(p).name for p in cfg['phase1']['data'])}; "
             f"phase-1 held-out bpb at its end {statistics.fmean(ends):.4f} (unigram baseline {statistics.fmean(unis):.4f}). "
             f"Phase 2: {cfg['phase2']['tokens']:,} tokens per arm from that checkpoint; replay share {cfg['replay']:.0%}. "
             f"Seeds {cfg['seeds']}; model {cfg['model']}; precision {results['precision']}.", "",
             "forgetting = phase-1 held-out bpb at the end of phase 2 minus at the end of phase 1 (higher = more forgotten); "
             "gain = new-domain held-out bpb fall over phase 2 (higher = learned more); accuracies (mean over seeds) are greedy "
             "exact match / likelihood ranking of the answer among 4 choices (chance 0.25) on held-out problems. The phase-2 data column is the share of sequences each arm consumed (its stream re-read).", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    from gristmill.lab.significance import verdict_text

    sig = [f"- {arm} vs alone, {key}: {verdict_text(c, '{:+.4f}')}" + (f" ({c['method']})" if c.get("method") else "")
           for arm in ("replay", "control") for key, c in results["arms"][arm].get("vs_alone", {}).items() if key != "reference"]
    if sig:
        lines += ["", "Differences against `alone` over seeds (95% interval of arm minus alone; better/worse only when the "
                  "interval excludes 0; seeds to resolve: paired t-test at 80% power, Cohen 1988):", ""] + sig
    lines += ["", "Plots: " + ", ".join(f"`{Path(p).name}`" for p in results["plots"]), ""]
    return "\n".join(lines)
