"""Every registered step, alone, per core (issue 24 part 1).

Builds held-out corpora from what the machine has (no download): e-mail-like text, prose
(pydoc topics, the stdlib's docstrings, /usr/share/common-licenses), documentation pages as text
(``pydoc.TextDoc``) and as HTML (``pydoc.HTMLDoc`` in a site template), and a WARC of those pages.
Each step runs alone through the real CLI (``gristmill run --workers 1 --no-report``), with the
fragment its ``example_steps`` gives (a model it needs is made there); the step's own seconds are
read from ``summary.json`` (its ``seconds`` plus ``fit_seconds`` for a global step), so reading and
writing are not charged to it. Peak RSS is the run's (driver and its worker).

Peers in the same run, where installed: ftfy (``normalize``'s repair stage alone), trafilatura
(``html_extract``), datasketch (MinHash signatures), DataTrove's filters (the heuristics).

    python benchmarks/bench_steps.py [--docs 3000] [--write-json]

``--write-json`` writes ``src/gristmill/data/step_speed.json``, which ``gristmill steps NAME`` shows.
"""
from __future__ import annotations

import argparse
import ast
import gzip
import importlib
import json
import os
import pydoc
import random
import re
import numpy as np
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

from _common import machine, write_fragment  # noqa: E402

# Steps whose work is a model's inference: the 1 MB/s per core goal does not apply to them, they
# state their own figure against the peer (issue 24).
MODEL_BASED = {"semantic_dedup", "quality_score", "language_id"}
NAMES = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth"]


# -- corpora ----------------------------------------------------------------------------------
def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if len(p.split()) >= 8]


def prose_paragraphs() -> list[str]:
    out: list[str] = []
    from pydoc_data.topics import topics

    for key in sorted(topics):
        out += _paragraphs(topics[key])
    lic = Path("/usr/share/common-licenses")
    if lic.is_dir():
        for f in sorted(lic.iterdir()):
            if f.is_file():
                out += _paragraphs(f.read_text(encoding="utf-8", errors="replace"))
    stdlib = Path(os.__file__).parent
    for f in sorted(stdlib.glob("*.py"))[:250]:
        try:
            tree = ast.parse(f.read_bytes())
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
                d = ast.get_docstring(node)
                if d:
                    out += _paragraphs(d)
    return out


def _chunks(paras: list[str], rng: random.Random, n: int, lo: int, hi: int) -> list[str]:
    docs = []
    for _ in range(n):
        k = rng.randint(lo, hi)
        start = rng.randrange(len(paras))
        docs.append("\n\n".join(paras[(start + i) % len(paras)] for i in range(k)))
    return docs


def emails(paras: list[str], rng: random.Random, n: int) -> list[str]:
    out = []
    for i in range(n):
        a, b = rng.sample(NAMES, 2)
        user = a.split()[1].lower()
        body = "\n\n".join(rng.sample(paras, rng.randint(1, 4)))
        quoted = "\n".join("> " + line for line in rng.choice(paras)[:600].split(". "))
        out.append(
            f"From: {a} <{user}{i % 97}@example.org>\nTo: {b} <{b.split()[1].lower()}@example.com>\n"
            f"Subject: Re: {rng.choice(paras)[:50]}\nDate: Mon, {1 + i % 28} Dec 2025 10:{i % 60:02d}:00 +0000\n\n"
            f"Hi {b.split()[0]},\n\n{body}\n\nOn Sunday {b} wrote:\n{quoted}\n\n"
            f"Best,\n{a}\nTel. +1 (555) 01{i % 100:02d}-{1000 + i % 9000}\n")
    return out


def doc_modules() -> list[str]:
    names = []
    for f in sorted(Path(os.__file__).parent.glob("*.py")):
        m = f.stem
        if m.startswith("_") or m in {"antigravity", "this", "__phello__"}:
            continue
        names.append(m)
    return names


def doc_pages(n: int) -> list[tuple[str, str, str]]:
    """(module, text page, HTML page) for up to n stdlib modules that import cleanly."""
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "support")]
    from fixtures_web import site_page

    out = []
    for m in doc_modules():
        if len(out) >= n:
            break
        try:
            mod = importlib.import_module(m)
            text = pydoc.plaintext.document(mod)
            page = site_page(m)
        except Exception:  # noqa: BLE001 - a module that does not import on this machine is skipped
            continue
        out.append((m, text, page))
    return out


def build(dest: Path, n_docs: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    paras = prose_paragraphs()
    pages = doc_pages(max(40, n_docs // 20))
    third = n_docs // 3
    text_docs = ([("email", t) for t in emails(paras, rng, third)]
                 + [("prose", t) for t in _chunks(paras, rng, third, 2, 12)]
                 + [("docs", t) for _m, t, _h in pages])
    # cycle the doc pages in with small edits so each family has weight
    while len(text_docs) < n_docs:
        m, t, _h = rng.choice(pages)
        text_docs.append(("docs", t.replace(m, m.upper(), 1)))
    rng.shuffle(text_docs)
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / "text.jsonl", "w", encoding="utf-8") as f:
        for i, (src, t) in enumerate(text_docs):
            # a URL per document, so url_filter has a column to read (the family as the host)
            f.write(json.dumps({"id": f"t{i}", "text": t, "family": src, "url": f"https://{src}.example.org/{i}.html"}) + "\n")
    from gristmill.io.warc import write_warc

    with gzip.open(dest / "pages.jsonl.gz", "wt", encoding="utf-8") as f:
        for m, _t, h in pages:
            f.write(json.dumps({"id": f"p-{m}", "text": "", "html": h}) + "\n")
    write_warc(dest / "pages.warc.gz", [(f"https://docs.example.org/{m}.html", h.encode("utf-8"),
                                         {"Content-Type": "text/html; charset=utf-8"}) for m, _t, h in pages])
    return {"text_docs": len(text_docs), "text_bytes": sum(len(t.encode()) for _s, t in text_docs),
            "pages": len(pages), "html_bytes": sum(len(h.encode()) for _m, _t, h in pages)}


# -- one step, one run ------------------------------------------------------------------------
def inputs_for(step: str, corpus: Path) -> list[dict]:
    if step == "html_extract":
        return [{"paths": [str(corpus / "pages.jsonl.gz")], "source": "pages", "fields": ["html"]},
                {"paths": [str(corpus / "pages.warc.gz")], "format": "warc", "source": "warc"}]
    return [{"paths": [str(corpus / "text.jsonl")], "source": "text", "fields": ["family", "url"]}]


def run_step(name: str, corpus: Path, work: Path, info: dict) -> dict:
    import yaml

    from gristmill.step import get_step

    cls = get_step(name)
    wd = work / name
    wd.mkdir(parents=True, exist_ok=True)
    try:
        steps = cls.example_steps(wd)
    except Exception as e:  # noqa: BLE001 - e.g. a model that is not on this machine
        return {"step": name, "error": f"{type(e).__name__}: {e}"[:200]}
    recipe = {"inputs": inputs_for(name, corpus), "steps": steps, "output": {"path": str(wd / "out")}}
    (wd / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "gristmill", "run", str(wd / "recipe.yaml"), "--workers", "1",
                          "--no-report", "--no-progress", "--fresh"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    out = p.stdout.read()
    # wait4: the run's CPU time and peak RSS, its worker processes included
    _pid, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        last = [ln for ln in out.strip().splitlines() if ln.strip()]
        return {"step": name, "error": (last[-1] if last else f"exit {p.returncode}")[:200]}
    summary = json.loads((wd / "out" / "summary.json").read_text())
    row = [r for r in summary["steps"] if r["step"] == name or r["step"].startswith(name + "#")][-1]
    secs = row["seconds"] + row.get("fit_seconds", 0.0)
    cpu = ru.ru_utime + ru.ru_stime
    share = min(1.0, cpu / wall) if wall > 0 else 1.0
    nbytes = info["html_bytes"] * 2 if name == "html_extract" else info["text_bytes"]
    docs = row["in"]
    core_s = max(secs * share, 1e-9)  # the step's seconds on the core it was given (the machine is shared)
    return {"step": name, "docs": docs, "mb": nbytes / 1e6, "seconds": round(secs, 3), "cpu_share": round(share, 2),
            "docs_s": docs / core_s, "mb_s": nbytes / 1e6 / core_s, "rss_mib": ru.ru_maxrss / 1024,
            "fragment": [list(f)[0] for f in steps]}


# -- peers, in this process, CPU time ---------------------------------------------------------
def _cpu(fn, *a) -> float:
    t0 = time.process_time()
    fn(*a)
    return time.process_time() - t0


def peers(corpus: Path, info: dict) -> dict[str, dict]:
    """The peer's figure for a step, docs/s and MB/s per CPU second, where the peer is installed."""
    out: dict[str, dict] = {}
    texts = [json.loads(line)["text"] for line in open(corpus / "text.jsonl", encoding="utf-8")]
    mb = info["text_bytes"] / 1e6
    try:
        import ftfy
        from gristmill.annotate.normalize import Normalize

        cfg = Normalize()._fixer_config()
        sec = _cpu(lambda: [ftfy.fix_text(t, config=cfg) for t in texts])
        out["normalize"] = {"peer": f"ftfy {ftfy.__version__} fix_text alone (same settings)", "docs_s": len(texts) / sec, "mb_s": mb / sec}
    except ImportError:
        pass
    try:
        import trafilatura

        # a sample: trafilatura takes seconds per large page on a shared core
        pages = [json.loads(line)["html"] for line in gzip.open(corpus / "pages.jsonl.gz", "rt", encoding="utf-8")][:12]
        sec = _cpu(lambda: [trafilatura.extract(h) for h in pages])
        out["html_extract"] = {"peer": f"trafilatura {trafilatura.__version__} extract() ({len(pages)} of the pages)",
                               "docs_s": len(pages) / sec, "mb_s": sum(len(h.encode()) for h in pages) / 1e6 / sec}
    except ImportError:
        pass
    try:
        import datasketch
        from datasketch import MinHash

        sub = texts[:200]  # datasketch is slow; 200 documents are enough for a rate
        def sketch(t: str):
            w = t.lower().split()
            return MinHash.bulk([[" ".join(w[i:i + 5]).encode() for i in range(max(1, len(w) - 4))]], num_perm=128)

        sec = _cpu(lambda: [sketch(t) for t in sub])
        out["minhash_dedup"] = {"peer": f"datasketch {datasketch.__version__} MinHash.bulk, 5-grams, 128 perms (signatures only)",
                                "docs_s": len(sub) / sec, "mb_s": sum(len(t.encode()) for t in sub) / 1e6 / sec}
    except ImportError:
        pass
    try:
        import sklearn
        from gristmill.quality.model import FAST_FEATURES, fast_dot

        coef = np.random.default_rng(0).normal(size=FAST_FEATURES).astype(np.float32)
        sec = _cpu(lambda: fast_dot(texts, coef, native=False))
        out["quality_score"] = {"peer": f"scikit-learn {sklearn.__version__} HashingVectorizer + dot (the pre-fix path)",
                                "docs_s": len(texts) / sec, "mb_s": mb / sec}
    except ImportError:
        pass
    return out


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}" if x >= 1 else f"{x:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--steps", nargs="*")
    ap.add_argument("--write-json", action="store_true")
    args = ap.parse_args()
    from gristmill.step import all_steps

    load_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="bench-steps-") as tmp:
        corpus = Path(tmp) / "corpus"
        info = build(corpus, args.docs)
        print(info, flush=True)
        for name in args.steps or list(all_steps()):
            r = run_step(name, corpus, Path(tmp) / "runs", info)
            print(r, flush=True)
            (notes if "error" in r else rows).append(r)
        peer = peers(corpus, info)
    load_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = [f"{machine()}. Load: `{load_before}` before, `{load_after}` after.",
             f"Corpus: {info['text_docs']} text documents, {info['text_bytes'] / 1e6:.1f} MB (e-mail-like, prose, "
             f"documentation pages as text); {info['pages']} HTML pages ({info['html_bytes'] / 1e6:.1f} MB) as JSONL and "
             "again as a WARC for `html_extract`. One worker (`--workers 1 --no-report`), the step's own seconds from "
             "summary.json times the run's CPU share (CPU time / wall time), i.e. per core.", "",
             "| step | docs | docs/s per core | MB/s per core | peak RSS MiB | peer (same run, CPU time) | peer docs/s | gristmill / peer |",
             "|---|---:|---:|---:|---:|---|---:|---:|"]
    for r in sorted(rows, key=lambda r: r["mb_s"]):
        pe = peer.get(r["step"])
        flag = "" if r["mb_s"] >= 1 or r["step"] in MODEL_BASED else " (below 1 MB/s)"
        lines.append(f"| `{r['step']}`{flag} | {r['docs']} | {_fmt(r['docs_s'])} | {_fmt(r['mb_s'])} | {r['rss_mib']:.0f} | "
                     + (f"{pe['peer']} | {_fmt(pe['docs_s'])} | {r['docs_s'] / pe['docs_s']:.1f}x |" if pe else "- | - | - |"))
    for r in notes:
        lines.append(f"\nNot measured: `{r['step']}`: {r['error']}")
    text = "\n".join(lines) + "\n"
    write_fragment("bench_steps", text)
    if args.write_json:
        data = {"measured": time.strftime("%Y-%m-%d"), "machine": machine(), "load": load_before.split("load average:")[-1].strip(),
                "command": "python benchmarks/bench_steps.py --write-json",
                "corpus": f"{info['text_docs']} documents, {info['text_bytes'] / 1e6:.1f} MB (e-mail, prose, doc pages); "
                          f"html_extract: {info['pages'] * 2} pages",
                "steps": {r["step"]: {"docs_per_s": round(r["docs_s"], 1), "mb_per_s": round(r["mb_s"], 2),
                                      "peak_rss_mib": round(r["rss_mib"]),
                                      **({"peer": peer[r["step"]]["peer"], "peer_docs_per_s": round(peer[r["step"]]["docs_s"], 1)}
                                         if r["step"] in peer else {})} for r in rows},
                "not_measured": {r["step"]: r["error"] for r in notes}}
        dest = ROOT / "src" / "gristmill" / "data" / "step_speed.json"
        dest.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        print(f"wrote {dest}")


if __name__ == "__main__":
    main()
