"""`gristmill select` with a threshold before dedup against a full `gristmill run` of the changed
recipe (issue 21 part 1): identical outputs, and the time ratio.

Corpora: the demo corpus (``build_demo_corpus``), and a synthetic-but-real-text corpus of
``--docs`` documents: prose paragraphs of the standard library's docstrings and pydoc topics (as
the demo harvests them) shuffled into documents of 2-6 paragraphs, with planted exact copies
(whitespace/punctuation variants), near copies (a word changed, a few added) and noisy documents
(numbers between the words, which gopher_quality rejects). The recipe is the demo's (normalize,
language_id, gopher_*, fineweb_quality, pii, exact_dedup, minhash_dedup). Both commands run
through the CLI in a fresh process with ``--no-report`` (the HTML report costs both the same, ~30 s
on a loaded machine), on the same machine one after the other.

    PYTHONPATH=src python benchmarks/bench_reselect.py --docs 100000 --work /tmp/bench_reselect
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

CHANGES = [("tighten", "gopher_quality", "min_doc_words", 100), ("loosen", "gopher_quality", "min_alpha_words_ratio", 0.7)]


def synthetic(dest: Path, n_docs: int, seed: int = 0, files: int = 4) -> list[Path]:
    from gristmill.demo.stdlib_text import _prose_paragraphs, harvest

    rng = random.Random(seed)
    prose, extra, _, _ = harvest(Path(sysconfig.get_paths()["stdlib"]), random.Random(seed), 1000, 0, 0)
    paras = [p for t, _ in prose + extra for p in _prose_paragraphs(t) if len(p.split()) >= 12]
    docs: list[dict] = []
    while len(docs) < n_docs:
        k = len(docs)
        r = rng.random()
        if r < 0.06 and docs:  # exact copy of an earlier document, spacing and punctuation changed
            src = docs[rng.randrange(len(docs))]["text"]
            docs.append({"id": f"x{k}", "text": src.replace(". ", ".  ") + " ."})
        elif r < 0.12 and docs:  # near copy: one word changed, a few appended
            w = docs[rng.randrange(len(docs))]["text"].split()
            w[rng.randrange(len(w))] = f"w{k}"
            docs.append({"id": f"n{k}", "text": " ".join(w + ["as", "noted", "above", f"v{k}"])})
        elif r < 0.15:  # noisy: numbers between the words (gopher's alpha-words ratio ~0.67)
            w = "\n\n".join(rng.sample(paras, 3)).split(" ")
            docs.append({"id": f"z{k}", "text": " ".join(f"{x} {j}" if j % 2 == 0 else x for j, x in enumerate(w))})
        else:
            docs.append({"id": f"d{k}", "text": "\n\n".join(rng.sample(paras, rng.randint(2, 6)))})
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    per = -(-len(docs) // files)
    for i in range(files):
        p = dest / f"part{i}.jsonl"
        with open(p, "w", encoding="utf-8") as f:
            for d in docs[i * per: (i + 1) * per]:
                f.write(json.dumps(d) + "\n")
        out.append(p)
    return out


def outcome(d: Path) -> dict:
    kept = [pq.read_table(p) for p in sorted((d / "data").glob("*.parquet"))]
    kept = pa.concat_tables(kept, promote_options="permissive") if kept else None
    rejected = {}
    for p in sorted((d / "rejected").glob("*.parquet")):
        t = pq.read_table(p, columns=["id", "reject_reason"])
        rejected.update(zip(t["id"].to_pylist(), t["reject_reason"].to_pylist()))
    clusters = {c: dict(zip(kept["id"].to_pylist(), kept[c].to_pylist())) for c in
                ("exact_dup_cluster", "exact_dup_cluster_size", "dup_cluster", "dup_cluster_size")
                if kept is not None and c in kept.column_names}
    s = json.loads((d / "summary.json").read_text())
    return {"kept": sorted(kept["id"].to_pylist()) if kept is not None else [], "rejected": rejected, "clusters": clusters,
            "counts": {k: s[k] for k in ("input", "kept", "rejected", "quarantined")}, "reports": s.get("reports", {})}


def cli(*args: str, reuse: Path | None = None) -> float:
    """Wall seconds of one gristmill command in a fresh process. With ``reuse`` (a run's output), a
    time recorded earlier for the same command is returned instead when that output is complete."""
    times = Path(reuse).parent / "times.json" if reuse else None
    key = " ".join(args)
    if reuse and (Path(reuse) / "summary.json").exists() and times.exists() and key in json.loads(times.read_text()):
        return json.loads(times.read_text())[key]
    t = _cli(*args)
    if reuse:
        old = json.loads(times.read_text()) if times.exists() else {}
        times.write_text(json.dumps({**old, key: t}))
    return t


def _cli(*args: str) -> float:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "gristmill", *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"gristmill {' '.join(args)} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return time.perf_counter() - t0


def bench(name: str, recipe: dict, work: Path, workers: int, reuse: bool = False) -> list[dict]:
    base = work / "out"
    recipe = {**recipe, "output": {**recipe["output"], "path": str(base)}}
    (work / "base.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    t_base = cli("run", str(work / "base.yaml"), "-w", str(workers), "--fresh", "--no-report", reuse=base if reuse else None)
    src = json.loads((base / "summary.json").read_text())
    cache = sum(v["bytes"] for v in src["refit_cache"].values())
    rows = []
    for tag, step, param, value in CHANGES:
        changed = yaml.safe_load(yaml.safe_dump(recipe))
        for st in changed["steps"]:
            if next(iter(st)) == step:
                st[step] = {**(st[step] or {}), param: value}
        changed["output"]["path"] = str(work / f"run_{tag}")
        (work / f"{tag}.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))
        t_sel = cli("select", str(base), "-o", str(work / f"sel_{tag}"), "--set", f"{step}.{param}={value}", "--fresh",
                    "-w", str(workers), "--no-report")
        t_run = cli("run", str(work / f"{tag}.yaml"), "-w", str(workers), "--fresh", "--no-report",
                    reuse=work / f"run_{tag}" if reuse else None)
        a, b = outcome(work / f"sel_{tag}"), outcome(work / f"run_{tag}")
        same = {k: a[k] == b[k] for k in a}
        sel = json.loads((work / f"sel_{tag}" / "summary.json").read_text())
        rows.append({"corpus": name, "documents": src["input"], "change": f"{step}.{param}={value}", "kept_before": src["kept"],
                     "kept_after": b["counts"]["kept"], "identical": all(same.values()), "differs": [k for k, v in same.items() if not v],
                     "refitted": sorted(sel.get("refitted", {})), "select_s": round(t_sel, 1), "run_s": round(t_run, 1),
                     "ratio": round(t_run / t_sel, 1), "source_run_s": round(t_base, 1), "cache_mb": round(cache / 1e6, 2)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--demo-docs", type=int, default=3000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench_reselect"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--skip-demo", action="store_true")
    ap.add_argument("--reuse-runs", action="store_true", help="time only select again; keep finished runs and their times")
    a = ap.parse_args()
    from gristmill.demo import build_demo_corpus
    from gristmill.demo.run import demo_recipe_dict

    print(machine(), "| load:", os.getloadavg(), flush=True)
    rows = []
    if not a.skip_demo:
        build_demo_corpus(a.work / "demo" / "corpus", n_docs=a.demo_docs)
        rows += bench("demo", demo_recipe_dict(a.work / "demo" / "corpus", a.work / "demo" / "out"), a.work / "demo", a.workers, a.reuse_runs)
    if a.docs:
        t0 = time.perf_counter()
        files = (sorted((a.work / "syn" / "corpus").glob("part*.jsonl")) if a.reuse_runs else []) or synthetic(a.work / "syn" / "corpus", a.docs)
        print(f"built {a.docs} documents in {time.perf_counter() - t0:.0f} s", flush=True)
        recipe = demo_recipe_dict(a.work / "demo" / "corpus", a.work / "syn" / "out")
        recipe["inputs"] = [{"paths": [str(f)], "id_field": "id", "source": "web"} for f in files]
        rows += bench("synthetic", recipe, a.work / "syn", a.workers, a.reuse_runs)
    print("load after:", os.getloadavg())
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
