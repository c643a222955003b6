"""Self-play that improves a model, with its controls: `gristmill synth selfplay --demo` per seed and arm.

    python benchmarks/bench_selfplay.py [-o DIR] [--seeds 0,1] [--arms verified,unverified,none] [--set KEY=VALUE ...]

Per seed, the start model is trained once (`--set arms=[]`), then every arm continues from that same
run (`start.run`) in its own process, so the arms run side by side on the 2 cores and start from
identical weights. Every arm trains the same tokens per round (`round_tokens`). Writes DIR/results.json
(every round of every arm and seed, the machine's load), DIR/selfplay_bench.png and a Markdown table on
stdout. The budget is `gristmill.synth.selfplay_rounds.RoundsConfig`'s defaults unless --set says otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import WORK, machine  # noqa: E402

GM = [sys.executable, "-c", "from gristmill.cli import main; main()", "synth", "selfplay", "--demo"]


def _sets(pairs: list[str]) -> list[str]:
    return [x for p in pairs for x in ("--set", p)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--out", type=Path, default=WORK / "selfplay")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--arms", default="verified,unverified,none")
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--start-run", action="append", default=[], metavar="SEED=RUN",
                    help="use a finished start run for a seed instead of training one")
    ap.add_argument("--report-only", action="store_true", help="only collect DIR/sS/ARM/results.json into the report")
    a = ap.parse_args()
    seeds, arms = [int(s) for s in a.seeds.split(",")], a.arms.split(",")
    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    given = {int(k): Path(v) for k, v in (x.split("=", 1) for x in a.start_run)}
    starts = {} if a.report_only else {
        s: subprocess.Popen(GM + ["-o", str(out / f"s{s}" / "start")] + _sets(a.sets + [f"seed={s}", "arms=[]"]),
                            stdout=open(out / f"s{s}_start.log", "w"), stderr=subprocess.STDOUT) for s in seeds if s not in given}
    procs = []
    for s in [] if a.report_only else seeds:
        if s in starts and starts[s].wait():
            raise SystemExit(f"seed {s}: the start model failed (see {out / f's{s}_start.log'})")
        run = given.get(s) or out / f"s{s}" / "start" / "start" / "model"
        for arm in arms:
            procs.append((s, arm, subprocess.Popen(
                GM + ["-o", str(out / f"s{s}" / arm)] + _sets(a.sets + [f"seed={s}", f"arms=[{arm}]", f"start.run={run}"]),
                stdout=open(out / f"s{s}_{arm}.log", "w"), stderr=subprocess.STDOUT)))
    for s, arm, p in procs:
        if p.wait():
            raise SystemExit(f"seed {s} arm {arm} failed (see {out / f's{s}_{arm}.log'})")
    res = {"machine": machine(), "sets": a.sets, "seeds": {}}
    if not a.report_only:  # the load while the runs ran; a report-only pass did not see it
        res.update(load_before=load_before, load_after=os.getloadavg())
    for s in seeds:
        per = {arm: _arm_results(out / f"s{s}" / arm, arm) for arm in arms}
        first = next(iter(per.values()))
        res["seeds"][str(s)] = {"start": first["start"], "config": first["config"],
                                "arms": {arm: r["arms"][arm] for arm, r in per.items()}}
    res["verdicts"] = verdicts(res)
    (out / "results.json").write_text(json.dumps(res, indent=1))
    print(table(res))
    print()
    print(verdict_table(res))
    plot(res, out / "selfplay_bench.png")
    print(f"results: {out / 'results.json'}")


def _arm_results(d: Path, arm: str) -> dict:
    """An arm's results.json, or (a run still going: --report-only) its finished rounds so far."""
    if (d / "results.json").exists():
        return json.loads((d / "results.json").read_text())
    rounds = sorted((json.loads(p.read_text()) for p in d.glob(f"{arm}/round_*/result.json")), key=lambda r: r["round"])
    return {"start": json.loads((d / "start" / "result.json").read_text()),
            "config": json.loads((d / "config.json").read_text()), "arms": {arm: rounds}}


def table(res: dict) -> str:
    rows = ["| seed | arm | round | difficulty | posed | accepted | acceptance | pass@k | tokens | held-out acc | per level |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    # pose arm: posed = problems the model wrote; the share kept (well formed, new, solve rate in (0, 1))
    # is in results.json (kept_share, posed_dropped, trivial, unsolved)
    for s, d in res["seeds"].items():
        st = d["start"]
        rows.append(f"| {s} | start | 0 | 1 | - | - | - | - | {st['tokens']:,} | {st['heldout']['accuracy']:.3f} | "
                    + " / ".join(f"{v['accuracy']:.3f}" for v in st["heldout"]["by_difficulty"].values()) + " |")
        for arm, rounds in d["arms"].items():
            for r in rounds:
                acc = "-" if r["acceptance"] is None else f"{r['acceptance']:.3f}"
                pk = f"{r['pass_at_k']:.3f}" if r.get("pass_at_k") is not None else "-"
                if arm == "pose":
                    pk = f"kept {r['kept_problems']}/{r['posed']}"
                rows.append(f"| {s} | {arm} | {r['round']} | {r['difficulty'] or '-'} | {r['posed']} | {r['accepted']} | {acc} | "
                            f"{pk} | {r['tokens']:,} | {r['heldout_accuracy']:.3f} | "
                            + " / ".join(f"{v['accuracy']:.3f}" for v in r["heldout"]["by_difficulty"].values()) + " |")
    return "\n".join(rows)


def verdicts(res: dict) -> dict:
    """Per round, the self-play arms (verified, pose) against each control and against their own start,
    held-out accuracy over all levels, paired over seeds (`gristmill.lab.significance`: paired Student-t,
    higher is better)."""
    from gristmill.lab.significance import compare

    seeds = res["seeds"]
    arms = sorted({a for d in seeds.values() for a in d["arms"]})
    n_rounds = max((len(r) for d in seeds.values() for r in d["arms"].values()), default=0)
    acc = {a: {r: {s: d["arms"][a][r - 1]["heldout_accuracy"] for s, d in seeds.items()
                   if a in d["arms"] and len(d["arms"][a]) >= r} for r in range(1, n_rounds + 1)} for a in arms}
    start = {s: d["start"]["heldout"]["accuracy"] for s, d in seeds.items()}
    out = {}
    for a in ("verified", "pose"):
        if a not in acc:
            continue
        for r in range(1, n_rounds + 1):
            row = {"start": compare(acc[a][r], start, lower_is_better=False)}
            for c in arms:
                if c != a:
                    row[c] = compare(acc[a][r], acc[c][r], lower_is_better=False)
            out[f"{a} round {r}"] = row
    return out


def verdict_table(res: dict) -> str:
    from gristmill.lab.significance import verdict_text

    v = res.get("verdicts") or {}
    cols = sorted({c for row in v.values() for c in row}, key=lambda c: (c != "start", c))
    rows = ["| arm, round | " + " | ".join(f"vs {c}" for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for k, row in v.items():
        rows.append(f"| {k} | " + " | ".join(verdict_text(row.get(c), "{:+.3f}") if c in row else "-" for c in cols) + " |")
    return "\n".join(rows)


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    colors = {"verified": "C0", "unverified": "C3", "reference": "C2", "none": "C7", "pose": "C1"}
    for s, d in res["seeds"].items():
        for arm, rounds in d["arms"].items():
            ys = [d["start"]["heldout"]["accuracy"]] + [r["heldout_accuracy"] for r in rounds]
            ax.plot(range(len(ys)), ys, "o-" if s == "0" else "s--", color=colors.get(arm), label=f"{arm} (seed {s})")
    ax.set_xlabel("round (0 = start model)")
    ax.set_xticks(range(1 + max(len(r) for d in res["seeds"].values() for r in d["arms"].values())))
    ax.set_ylabel("held-out accuracy (greedy, all levels)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
