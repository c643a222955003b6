"""substring_dedup (exact-substring dedup, Lee et al. 2022) on real text: speed, peak memory, and its
decisions against an independent reference, at 10 MB and 100 MB (and 1 GB with a sampled reference).

The corpus is real text that ships with Python: the standard library's sources, then the
installed packages' sources (sorted paths, one document per file, files over 1 MB skipped), cut at
the target size. It repeats itself naturally (licence headers, vendored copies, generated code).
On top, 100 spans of 60-150 tokens that occur nowhere else are each planted in 3 documents.

Each size runs `gristmill run` (the CLI, `-w 2`, default `memory_mb`, and `memory_mb: 64` to force
many pieces and the merge across them) in a child process; wall time and the peak RSS of the
largest process (the driver, a worker or a suffix-array child: ``RUSAGE_CHILDREN``) are recorded.

The reference is the definition, computed another way: a token goes iff a window of 50 tokens
covering it (in its document) occurred earlier in corpus order; windows are Python tuple hashes,
first occurrences come from ``np.unique``. Reported: planted-span recall (later copies gone, first
copies whole), documents whose output differs from the reference (0 means no false removal and no
miss anywhere), and removed tokens.

Past ``--reference-up-to`` MB (100: the full reference takes 400 s and several GB there, over an
hour at 1 GB) only the default ``memory_mb`` runs, and the reference is computed for a random
sample of documents (``--sample``, half drawn from those gristmill changed) against the whole
corpus in one streaming pass: a sampled document differing from it, and whether gristmill removed
more there (a span removed that was not repeated earlier) or less (a miss), is counted, not assumed.
The Python sources hold ~400 MB; past them the corpus continues with other real text on the
machine (see ``more_files``), never a file repeated. The corpus is deleted afterwards (``--keep``
keeps it).

    python benchmarks/bench_substring.py [--sizes 10 100]
    python benchmarks/bench_substring.py --sizes 1000 --reference-up-to 100 [--sample 300]

There is no peer in this table: the Google tool (deduplicate-text-datasets) and DataTrove's
``ExactSubstr``, which drives it, need the Rust binary built from that repository, which no
package index ships.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import random
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, machine, write_fragment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
N = 50


def real_files() -> list[Path]:
    std = Path(sysconfig.get_paths()["stdlib"])
    site = Path(sysconfig.get_paths()["purelib"])
    files = sorted(p for p in std.rglob("*.py") if "site-packages" not in p.parts)
    files += sorted(site.rglob("*.py"))
    return files


def more_files() -> list[tuple[str, Path]]:
    """Other real text on the machine, used only once the Python sources above run out (they hold
    ~400 MB of UTF-8 under 1 MB): the Google Cloud SDK's Python sources, C headers, man pages
    (troff, decompressed), package documentation and the Rust toolchain's HTML documentation, each
    source's files in sorted order."""
    out: list[tuple[str, Path]] = []
    sdk = Path("/usr/lib/google-cloud-sdk")
    out += [("cloud-sdk .py", p) for p in sorted(sdk.rglob("*.py"))] if sdk.is_dir() else []
    out += [("C headers", p) for p in sorted(Path("/usr/include").rglob("*.h"))]
    out += [("man pages", p) for p in sorted(Path("/usr/share/man").rglob("*")) if p.is_file()]
    out += [("/usr/share/doc", p) for p in sorted(Path("/usr/share/doc").rglob("*")) if p.is_file()]
    out += [("Rust docs (HTML)", p) for p in sorted(Path.home().glob(".rustup/toolchains/*/share/doc/**/*.html"))]
    return out


def _read(p: Path) -> str | None:
    try:
        if p.is_symlink() or p.stat().st_size > 1_000_000:
            return None
        raw = p.read_bytes()
        if p.suffix == ".gz":
            raw = gzip.GzipFile(fileobj=io.BytesIO(raw)).read(4_000_001)  # bounded: a 1 MB .gz may hold a bomb
            if len(raw) > 4_000_000:
                return None
        t = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        return None
    return t if t.strip() and "\x00" not in t else None


def build(target_mb: int, dest: Path, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    docs, total = [], 0
    for p in real_files():
        try:
            if p.stat().st_size > 1_000_000:
                continue
            t = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if not t.strip():
            continue
        docs.append({"id": str(p), "text": t})
        total += len(t.encode())
        if total >= target_mb * 1_000_000:
            break
    sources = {"Python sources (stdlib, site-packages)": total}
    if total < target_mb * 1_000_000:
        # Past the Python sources: other real text, never a file repeated (identical contents are
        # read once), so the corpus repeats itself only as the machine's text does.
        seen = {hashlib.sha1(d["text"].encode("utf-8", "surrogatepass")).digest() for d in docs}
        for src, p in more_files():
            t = _read(p)
            if t is None:
                continue
            h = hashlib.sha1(t.encode("utf-8", "surrogatepass")).digest()
            if h in seen:
                continue
            seen.add(h)
            docs.append({"id": str(p), "text": t})
            n = len(t.encode("utf-8", "surrogatepass"))
            total += n
            sources[src] = sources.get(src, 0) + n
            if total >= target_mb * 1_000_000:
                break
    (dest.mkdir(parents=True, exist_ok=True), (dest / "sources.json").write_text(json.dumps(sources)))
    vocab = [f"{a}{b}" for a in ("zor", "quel", "mirt", "vash", "plon", "drex", "kiv", "tusk") for b in ("an", "ok", "el", "ix", "um")]
    planted = []
    for s in range(100):
        span = " ".join(rng.choice(vocab) + str(rng.randrange(10**6)) for _ in range(rng.randrange(30, 76)))  # 2 tokens a word
        where = sorted(rng.sample(range(len(docs)), 3))
        for w in where:
            t = docs[w]["text"]
            cut = t.find("\n", rng.randrange(len(t))) if t else -1
            cut = len(t) if cut < 0 else cut
            docs[w]["text"] = t[:cut] + "\n" + span + "\n" + t[cut:]
        planted.append({"span": span, "docs": [docs[w]["id"] for w in where]})
    dest.mkdir(parents=True, exist_ok=True)
    half = len(docs) // 2  # two input files: two shards, so the merge across shards is exercised too
    for name, part in (("a.jsonl", docs[:half]), ("b.jsonl", docs[half:])):
        with open(dest / name, "w", encoding="utf-8") as f:
            for d in part:
                f.write(json.dumps(d) + "\n")
    (dest / "planted.json").write_text(json.dumps(planted))
    return docs


def reference(docs: list[dict]) -> dict[str, tuple[str, int]]:
    from gristmill.dedup.substring import remove_token_spans, tokenize_spans

    # Words only here (Match objects for 20M tokens would take gigabytes); offsets are
    # recomputed below for the documents that lose something.
    hashes, owner = [], []
    for d in docs:
        w = [m.group() for m in tokenize_spans(d["text"])]
        hashes.extend(hash(tuple(w[k:k + N])) for k in range(len(w) - N + 1))
        owner.append((max(0, len(w) - N + 1), len(w)))
    h = np.asarray(hashes, np.int64)
    del hashes
    _, first, inv = np.unique(h, return_index=True, return_inverse=True)
    dup = first[inv] != np.arange(len(h))
    out, pos = {}, 0
    for d, (nw, ntok) in zip(docs, owner):
        ks = np.flatnonzero(dup[pos:pos + nw])
        pos += nw
        if not len(ks):
            out[d["id"]] = (d["text"], 0)
            continue
        gone = np.zeros(ntok, bool)
        for k in ks:
            gone[k:k + N] = True
        edges = np.flatnonzero(np.diff(np.r_[0, gone.astype(np.int8), 0]))
        cut = list(zip(edges[::2].tolist(), edges[1::2].tolist()))
        out[d["id"]] = (remove_token_spans(d["text"], tokenize_spans(d["text"]), cut), int(gone.sum()))
    return out


def run(dest: Path, name: str, cfg: str) -> dict:
    recipe = dest / f"{name}.yaml"
    recipe.write_text(f"""
inputs:
  - {{paths: ["{dest}/a.jsonl"], id_field: id, source: a}}
  - {{paths: ["{dest}/b.jsonl"], id_field: id, source: b}}
steps:
  - substring_dedup: {cfg}
output: {{path: "{dest}/{name}"}}
""")
    t0 = time.perf_counter()
    # A fresh wrapper per run, so its RUSAGE_CHILDREN peak is this run's alone (the largest of the
    # driver, its workers and their suffix-array children: each waits for its children).
    p = subprocess.run([sys.executable, "-c", WRAP, sys.executable, "-m", "gristmill", "run", str(recipe), "-w", "2",
                        "--no-report", "--no-progress", "--fresh"],
                       capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    wall = time.perf_counter() - t0
    res = json.loads(p.stdout.strip().splitlines()[-1])
    if res["rc"] != 0:
        raise RuntimeError(p.stderr[-3000:])
    summary = json.loads((dest / name / "summary.json").read_text())
    step = next(s for s in summary["steps"] if s["step"] == "substring_dedup")
    return {"wall": wall, "fit": step.get("fit_seconds", 0.0), "peak_mib": res["peak_kb"] / 1024, "cpu": res["cpu"], "summary": summary, "out": dest / name}


WRAP = ("import json, resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'rc': p.returncode, 'peak_kb': u.ru_maxrss, 'cpu': u.ru_utime + u.ru_stime}))\n")


def read_output(out: Path) -> dict[str, dict]:
    rows = {}
    for sub in ("data", "rejected"):
        for f in sorted((out / sub).glob("*.parquet")):
            for r in pq.read_table(f, columns=["id", "text", "substr_dup_tokens"]).to_pylist():
                rows[r["id"]] = r
    return rows


def evaluate(out: Path, docs: list[dict], ref: dict | None, planted: list[dict]) -> dict:
    rows = read_output(out)
    differ = sum(rows[i]["text"] != t for i, (t, _) in ref.items()) if ref is not None else None
    later = found = first_kept = 0
    for p in planted:
        first, *rest = p["docs"]
        first_kept += p["span"] in rows[first]["text"]
        for i in rest:
            later += 1
            found += p["span"] not in rows[i]["text"] and not (set(p["span"].split()) & set(rows[i]["text"].split()))
    return {"differ": differ, "recall": found / later, "first_kept": first_kept / len(planted),
            "removed_tokens": sum(r["substr_dup_tokens"] or 0 for r in rows.values()),
            "ref_removed_tokens": sum(n for _, n in ref.values()) if ref is not None else None}


def _window_hashes(toks: list[str]) -> np.ndarray:
    """64-bit hashes of every window of N tokens (a polynomial over per-token hashes, wrapping)."""
    if len(toks) < N:
        return np.zeros(0, np.uint64)
    x = np.fromiter((hash(t) for t in toks), np.int64, len(toks)).view(np.uint64)
    h = np.zeros(len(toks) - N + 1, np.uint64)
    P = np.uint64(1_000_003)
    for i in range(N):
        h = h * P + x[i:i + len(h)]
    return h


def sample_reference(docs: list[dict], rows: dict[str, dict], sample: int, seed: int = 0) -> dict:
    """The reference's definition for a random sample of the documents, checked against the whole
    corpus without holding every window: one pass hashes each document's windows of N tokens in
    corpus order and keeps the first position of every window hash the sample holds; a sampled
    document's token goes iff a window covering it occurred earlier. The rebuilt text must equal
    gristmill's output; a document where gristmill removed tokens the reference keeps is a false
    removal (removed but not repeated earlier), one where it kept tokens the reference removes a
    miss. Window hashes are 64-bit (a chance collision is ~1e-5 at 1 GB); the sample is drawn from
    the documents gristmill changed (where a false removal can be) and from all documents (where a
    miss can be), half each."""
    from gristmill.dedup.substring import _TOKEN, remove_token_spans, tokenize_spans

    rng = random.Random(seed)
    changed = [i for i, d in enumerate(docs) if rows[d["id"]]["text"] != d["text"]]
    picked = sorted(set(rng.sample(changed, min(sample // 2, len(changed))))
                    | set(rng.sample(range(len(docs)), min(sample - sample // 2, len(docs)))))
    hashes = {i: _window_hashes(_TOKEN.findall(docs[i]["text"])) for i in picked}
    W = np.unique(np.concatenate(list(hashes.values()) + [np.zeros(0, np.uint64)]))
    first = np.full(len(W), np.iinfo(np.int64).max, np.int64)
    for i, d in enumerate(docs):  # the one pass over the corpus, in corpus order
        h = hashes[i] if i in hashes else _window_hashes(_TOKEN.findall(d["text"]))
        if not len(h) or not len(W):
            continue
        j = np.minimum(np.searchsorted(W, h), len(W) - 1)
        hit = W[j] == h
        np.minimum.at(first, j[hit], (np.int64(i) << 32) + np.flatnonzero(hit).astype(np.int64))
    differ = false = missed = ref_tokens = 0
    for i in picked:
        d, h = docs[i], hashes[i]
        toks = tokenize_spans(d["text"])
        gone = np.zeros(len(toks), bool)
        if len(h):
            earlier = first[np.searchsorted(W, h)] < (np.int64(i) << 32) + np.arange(len(h), dtype=np.int64)
            for k in np.flatnonzero(earlier):
                gone[k:k + N] = True
        ref_tokens += int(gone.sum())
        edges = np.flatnonzero(np.diff(np.r_[0, gone.astype(np.int8), 0]))
        want = remove_token_spans(d["text"], toks, list(zip(edges[::2].tolist(), edges[1::2].tolist()))) if gone.any() else d["text"]
        got = rows[d["id"]]["text"]
        if got != want:
            differ += 1
            ntok = rows[d["id"]]["substr_dup_tokens"] or 0
            false += int(ntok > gone.sum())
            missed += int(ntok < gone.sum())
    return {"docs": len(picked), "changed_docs_in_corpus": len(changed), "differ": differ,
            "removed_more_than_ref": false, "removed_less_than_ref": missed, "ref_removed_tokens": ref_tokens,
            "removed_tokens": sum(rows[docs[i]["id"]]["substr_dup_tokens"] or 0 for i in picked)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100], help="MB of text")
    ap.add_argument("--reference-up-to", type=int, default=100, metavar="MB",
                    help="run the full reference (hours and many GB past ~100 MB) only up to this size; larger "
                         "sizes run the default memory_mb only and check false removals on a sample")
    ap.add_argument("--sample", type=int, default=300, help="documents checked against the reference past --reference-up-to")
    ap.add_argument("--keep", action="store_true", help="keep the built corpus (deleted by default)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    lines = [f"Machine: {machine()}. `gristmill run -w 2`; real Python sources, 100 planted spans x 3 copies; "
             f"reference = 50-token windows by tuple hash (independent of the suffix arrays).\n",
             "| text | memory_mb | pieces | tokens | wall s | CPU s (all processes) | fit s | peak RSS MiB (largest process) | "
             "planted recall | first copy kept | docs differing from reference | tokens removed (ref) | load after |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for mb in args.sizes:
        dest = WORK / "substring" / f"{mb}mb"
        docs = build(mb, dest)
        planted = json.loads((dest / "planted.json").read_text())
        full = mb <= args.reference_up_to
        t0 = time.perf_counter()
        ref = reference(docs) if full else None
        t_ref = time.perf_counter() - t0
        nbytes = sum(len(d["text"].encode()) for d in docs)
        sources = json.loads((dest / "sources.json").read_text())
        for label, cfg in (("1024 (default)", "{}"), ("64", "{memory_mb: 64}"))[:2 if full else 1]:
            r = run(dest, f"out_{label.split()[0]}", cfg)
            ev = evaluate(r["out"], docs, ref, planted)
            if not full:
                t1 = time.perf_counter()
                fr = sample_reference(docs, read_output(r["out"]), args.sample)
                note = (f"<!-- {mb} MB: no full reference; sources (MB): "
                        + ", ".join(f"{k} {v / 1e6:.0f}" for k, v in sources.items())
                        + f". Sampled reference ({time.perf_counter() - t1:.0f} s): {json.dumps(fr)} -->")
                print(note, flush=True)
            rep = r["summary"]["reports"]["substring_dedup"]
            line = (f"| {nbytes / 1e6:.0f} MB ({len(docs):,} docs) | {label} | {rep['pieces']} | {rep['tokens']:,} | {r['wall']:.1f} | "
                    f"{r['cpu']:.1f} | {r['fit']:.1f} | "
                    f"{r['peak_mib']:.0f} | {ev['recall']:.3f} | "
                    f"{ev['first_kept']:.2f} | "
                    + (f"{ev['differ']} | {ev['removed_tokens']:,} ({ev['ref_removed_tokens']:,}) |" if full else
                       f"sample of {fr['docs']} docs: {fr['differ']} ({fr['removed_more_than_ref']} removing more) | "
                       f"{ev['removed_tokens']:,} (sample {fr['removed_tokens']:,} vs ref {fr['ref_removed_tokens']:,}) |"))
            line += f" load {open('/proc/loadavg').read().split()[0]} |"
            print(line, flush=True)
            lines.append(line)
            if not full:
                lines.append(note)
        lines.append(f"<!-- reference at {mb} MB: {t_ref:.0f} s -->" if full else f"<!-- {mb} MB: reference skipped (--reference-up-to {args.reference_up_to}) -->")
        if not args.keep:
            shutil.rmtree(dest)  # the corpus and outputs this run built (GBs at 1 GB)
    write_fragment("substring", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
