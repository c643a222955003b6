"""A crawl-sized run on one machine (issue 24 part 3): the web recipe over 1, 3 and 10 GB of JSONL.

The corpus is built on the fly, file by file, from the machine's real text (the corpora of
``../shared/corpora/fetch``: Brown, State of the Union, Moby Dick, varied sentences, the Python docs'
reStructuredText sources; gettext catalogues for non-English) in the shares crawl_like.py plants:

- real documents: 3-6 runs of 2-8 consecutive sentences of one real source each, so documents are
  coherent prose and two documents rarely share more than one run (no unplanted near duplicates);
  40% get navigation/footer lines inside (crawl_like's ``_with_boilerplate_lines``);
- exact duplicates (10% of bytes) and near duplicates (10%, crawl_like's ``_near_dup``) of real
  documents written earlier, the source id in the field ``of``;
- non-English (gettext strings joined into pages), spam, boilerplate and gibberish (crawl_like's
  generators; a pool drawn once and cut at a random point per document, because drawing 700 MB of
  random characters one by one in Python would take longer than the run).

The recipe is recipes/web.yaml's text steps plus exact and MinHash dedup (the issue's list):
normalize, language_id, gopher_repetition, gopher_quality, c4_quality, fineweb_quality, pii,
exact_dedup, minhash_dedup, with 2 workers. Measured: wall time per stage (from the run's own stage
lines), peak RSS of every process of the run (sampled from /proc every 0.5 s), peak disk used in the
output directory, CPU seconds of the whole process tree, throughput per core (input MB / CPU s).

``--kill 2`` then runs the same recipe into a fresh directory, SIGKILLs the whole run twice at
random points, resumes it with the same command and compares a digest of the output (kept ids and
texts, rejected ids and reasons, quarantine, ledger, per-step counts, dedup reports) with the
uninterrupted run's.

    python benchmarks/bench_10gb.py --gb 1 3 10 [--kill 2] [--work /tmp/gm10] [--keep]

Everything it writes lives under ``--work`` and is deleted at the end unless ``--keep``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import corpora_dir, machine, write_fragment  # noqa: E402
from crawl_like import _boilerplate, _gibberish, _near_dup, _spam, _with_boilerplate_lines, gettext_strings  # noqa: E402

SHARES = {"real": 0.45, "exact_dup": 0.10, "near_dup": 0.10, "non_english": 0.10, "spam": 0.09,
          "boilerplate": 0.09, "gibberish": 0.07}
STEPS = [{"normalize": {}}, {"language_id": {"languages": ["en"], "min_score": 0.5}}, {"gopher_repetition": {}},
         {"gopher_quality": {}}, {"c4_quality": {}}, {"fineweb_quality": {}}, {"pii": {}}, {"exact_dedup": {}},
         {"minhash_dedup": {}}]
FILE_BYTES = 50_000_000  # 50 MB input files: 20 per GB, enough units for 2 workers to share
GM = [sys.executable, "-m", "gristmill"]


# -- the corpus ------------------------------------------------------------------------------------
def _sentences(corpora: Path) -> list[list[str]]:
    """Real sentences, grouped by source document (order kept, so runs of them read as prose)."""
    split = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
    docs = []
    for name in ("brown", "sotu", "mobydick", "sentences", "pydocs"):
        p = corpora / f"{name}.jsonl"
        if not p.exists():
            raise SystemExit(f"{p} missing: build the corpora with ../shared/corpora/fetch {corpora}")
        for line in open(p, encoding="utf-8"):
            r = json.loads(line)
            text = r.get("reference") if name == "pydocs" else r.get("text")
            if not text:
                continue
            for para in re.split(r"\n\s*\n", text):
                s = [x.strip() for x in split.split(" ".join(para.split())) if len(x.strip()) > 20]
                if len(s) >= 2:
                    docs.append(s)
    return docs


def _non_english(rng: random.Random) -> list[str]:
    """gettext catalogues' translated strings, 20 to a page."""
    pages = []
    for _lang, strings in sorted(gettext_strings(sorted(Path("/usr/share/locale").rglob("*.mo"))).items()):
        for i in range(0, len(strings) - 10, 20):
            pages.append(" ".join(strings[i:i + 20]))
    rng.shuffle(pages)
    return pages or ["Dies ist ein kurzer deutscher Text ohne Katalog."]


class Builder:
    def __init__(self, corpora: Path, seed: int = 0):
        self.rng = random.Random(seed)
        self.docs = _sentences(corpora)
        self.titles = [d[0][:70] for d in self.docs[:5000]]
        self.pools = {"spam": [_spam(self.rng) for _ in range(400)],
                      "boilerplate": [_boilerplate(self.rng, self.titles) for _ in range(400)],
                      "gibberish": [_gibberish(self.rng) for _ in range(400)],
                      "non_english": _non_english(self.rng)}
        self.recent: list[tuple[str, str]] = []  # (id, text) of real documents already written
        self.n = 0

    def real(self) -> str:
        rng, parts = self.rng, []
        for _ in range(rng.randint(3, 6)):
            d = rng.choice(self.docs)
            k = rng.randint(2, 8)
            i = rng.randrange(max(1, len(d) - k + 1))
            parts.append(" ".join(d[i:i + k]))
        text = "\n\n".join(parts)
        return _with_boilerplate_lines(text, rng) if rng.random() < 0.4 else text

    def junk(self, kind: str) -> str:
        t = self.rng.choice(self.pools[kind])
        cut = self.rng.randrange(len(t) // 2 + 1)
        return t[cut:] + "\n" + t[:cut]  # a rotation: the same kind of text, rarely byte-identical

    def record(self) -> dict:
        kinds, weights = zip(*SHARES.items())
        kind = self.rng.choices(kinds, weights)[0] if self.recent else "real"
        self.n += 1
        rid = f"d{self.n}"
        if kind == "real":
            text = self.real()
            if len(self.recent) < 20000:
                self.recent.append((rid, text))
            else:
                self.recent[self.rng.randrange(20000)] = (rid, text)
            return {"id": rid, "text": text, "kind": kind}
        if kind in ("exact_dup", "near_dup"):
            of, text = self.rng.choice(self.recent)
            return {"id": rid, "text": text if kind == "exact_dup" else _near_dup(text, self.rng), "kind": kind, "of": of}
        return {"id": rid, "text": self.junk(kind), "kind": kind}

    def write(self, dest: Path, total_bytes: int) -> dict:
        dest.mkdir(parents=True, exist_ok=True)
        written, i, counts = 0, 0, {}
        while written < total_bytes:
            got = 0
            path = dest / f"part-{i:04d}.jsonl"
            with open(path.with_suffix(".tmp"), "w", encoding="utf-8") as f:
                while got < FILE_BYTES and written + got < total_bytes:
                    r = self.record()
                    line = json.dumps(r, ensure_ascii=False) + "\n"
                    f.write(line)
                    got += len(line.encode())
                    counts[r["kind"]] = counts.get(r["kind"], 0) + 1
            path.with_suffix(".tmp").rename(path)
            written += got
            i += 1
        return {"files": i, "bytes": written, "documents": counts}


# -- running and watching -----------------------------------------------------------------------------
def _tree(root: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for st in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(st.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(st.parent.name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _rss(pid: int) -> tuple[str, int]:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:80]
    except OSError:
        return "", 0
    m = re.search(r"VmRSS:\s+(\d+) kB", status)
    return cmd, int(m.group(1)) * 1024 if m else 0


def _du(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total


class Watch(threading.Thread):
    """Peak RSS per process (by pid) and of the tree together, and peak disk under ``out``."""

    def __init__(self, root: int, out: Path):
        super().__init__(daemon=True)
        self.root, self.out, self.stop = root, out, threading.Event()
        self.peak: dict[int, tuple[str, int]] = {}
        self.peak_total = 0
        self.peak_disk = 0

    def run(self):
        tick = 0
        while not self.stop.is_set():
            total = 0
            for pid in _tree(self.root):
                cmd, rss = _rss(pid)
                total += rss
                if rss > self.peak.get(pid, ("", 0))[1]:
                    self.peak[pid] = (cmd, rss)
            self.peak_total = max(self.peak_total, total)
            if tick % 20 == 0:
                self.peak_disk = max(self.peak_disk, _du(self.out))
            tick += 1
            self.stop.wait(0.5)


def _cpu_children() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


_STAGE = re.compile(r"^(stage \d+/\d+: [^:(]+?)(?:: (?:started|signatures|LSH|candidate).*|\s*\(.*)?$")


def _stage_starts(log: Path, since: int, starts: dict, now: float) -> None:
    with open(log, "rb") as f:
        f.seek(since)
        for line in f.read().decode(errors="replace").splitlines():
            m = _STAGE.match(line.strip())
            if m:
                starts.setdefault(m.group(1).strip(), now)


def run(recipe: Path, out: Path, log: Path, kill_after: float | None = None) -> dict:
    """One `gristmill run` (2 workers) in its own session; SIGKILL of the group after ``kill_after`` s."""
    cpu0, t0 = _cpu_children(), time.monotonic()
    with open(log, "ab") as fh:
        p = subprocess.Popen([*GM, "run", str(recipe), "-o", str(out), "-w", "2", "--no-progress"],
                             stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    w = Watch(p.pid, out)
    w.start()
    starts: dict[str, float] = {}  # "stage k/n: what" -> seconds after start when it first appeared
    seen = log.stat().st_size
    killed = False
    while p.poll() is None:
        time.sleep(0.5)
        _stage_starts(log, seen, starts, time.monotonic() - t0)
        if kill_after is not None and time.monotonic() - t0 >= kill_after:
            os.killpg(p.pid, signal.SIGKILL)
            killed = True
            p.wait()
            break
    w.stop.set()
    w.join()
    wall = time.monotonic() - t0
    _stage_starts(log, seen, starts, wall)
    order = sorted(starts.items(), key=lambda kv: kv[1])
    stages = {name: round((order[i + 1][1] if i + 1 < len(order) else wall) - t, 1) for i, (name, t) in enumerate(order)}
    return {"rc": p.returncode, "killed": killed, "wall": wall, "cpu": _cpu_children() - cpu0, "stage_wall": stages,
            "peak_rss": {str(pid): v for pid, v in w.peak.items() if v[1] > 0}, "peak_total": w.peak_total,
            "peak_disk": w.peak_disk}


def digest(out: Path) -> dict:
    """What must be identical between an interrupted+resumed run and an uninterrupted one, streamed."""
    import pyarrow.parquet as pq

    s = json.loads((out / "summary.json").read_text())

    def table_digest(d: Path, cols: list[str]) -> str:
        rows = []
        for f in sorted(d.glob("*.parquet")):
            pf = pq.ParquetFile(f)
            for b in pf.iter_batches(columns=cols, batch_size=65536):
                vals = [b.column(c).to_pylist() for c in cols]
                rows.extend(hashlib.sha1("\0".join(map(str, r)).encode()).hexdigest() for r in zip(*vals))
        rows.sort()
        return hashlib.sha1("".join(rows).encode()).hexdigest() + f" ({len(rows)} rows)"

    quarantine = sorted(line for p in (out / "quarantine").glob("*.jsonl") for line in p.read_text().splitlines())
    return {"kept": table_digest(out / "data", ["id", "text"]),
            "rejected": table_digest(out / "rejected", ["id", "reject_reason"]),
            "quarantine": hashlib.sha1("\n".join(quarantine).encode()).hexdigest(),
            "ledger": {k: s[k] for k in ("input", "kept", "rejected", "quarantined", "quarantine_errors")},
            "steps": [(r["step"], r["in"], r["out"]) for r in s["steps"]], "reports": s.get("reports")}


def planted(out: Path, corpus: list[Path]) -> dict:
    """Planted duplicates removed by dedup or kept, and the share of each kind kept."""
    import pyarrow.parquet as pq

    kept = set()
    for f in (out / "data").glob("*.parquet"):
        kept.update(pq.read_table(f, columns=["id"]).column("id").to_pylist())
    by_kind: dict[str, list[int]] = {}
    for f in corpus:
        for line in open(f, encoding="utf-8"):
            r = json.loads(line)
            k = by_kind.setdefault(r["kind"], [0, 0])
            k[0] += 1
            k[1] += r["id"] in kept
    return {k: {"documents": v[0], "kept": v[1]} for k, v in by_kind.items()}


def fragment(doc: dict) -> str:
    """The markdown for RESULTS.md from results/bench_10gb.json (every figure from the measured runs)."""
    mib = 2 ** 20
    lines = [f"{doc['machine']}. Recipe: {', '.join(next(iter(s)) for s in STEPS)}; 2 workers, `--no-progress`.", "",
             "| input | documents | wall s | CPU s (all processes) | MB/s per core | peak RSS parent MiB | peak RSS per worker MiB (max) "
             "| processes seen | peak RSS all processes MiB | peak disk in output dir MB | output MB | kept | load avg before -> after |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in doc["runs"]:
        peaks = list(r["peak_rss"].values())  # the run's own process first (the tree is walked from it)
        docs = sum(v["documents"] for v in (r.get("planted") or {}).values())
        lines.append(f"| {r['input_bytes'] / 1e9:.2f} GB ({r['files']} files) | {docs:,} | {r['wall']:.0f} | {r['cpu']:.0f} | "
                     f"{r['input_bytes'] / 1e6 / r['cpu']:.2f} | {peaks[0][1] / mib:.0f} | {max(p[1] for p in peaks[1:]) / mib:.0f} | "
                     f"{len(peaks)} | {r['peak_total'] / mib:.0f} | {r['peak_disk'] / 1e6:.0f} | {r['disk_out'] / 1e6:.0f} | "
                     f"{r['kept']:,} | {r['load_before'][0]:.0f} -> {r['load_after'][0]:.0f} |")
    lines += ["", "Wall seconds per stage (from the run's own stage lines):", ""]
    for r in doc["runs"]:
        lines.append(f"- {r['input_bytes'] / 1e9:.2f} GB: " + "; ".join(f"{k} {v:.0f}" for k, v in r["stage_wall"].items()))
    lines += ["", "Planted kinds kept (of all documents of the kind):", ""]
    for r in doc["runs"]:
        if r.get("planted"):
            lines.append(f"- {r['input_bytes'] / 1e9:.2f} GB: " + ", ".join(
                f"{k} {v['kept']:,}/{v['documents']:,}" for k, v in sorted(r["planted"].items())))
    for r in doc["runs"]:
        k = r.get("kill_resume")
        if k:
            lines += ["", f"Kill and resume at {r['input_bytes'] / 1e9:.2f} GB: SIGKILL of the whole run after "
                      + " and ".join(f"{x['after_s']:.0f} s" for x in k["kills"])
                      + f" (two separate starts, each resuming the last), then the same command to the end ({k['resume_wall']:.0f} s): "
                      + ("**output identical** to the uninterrupted run (kept ids and texts, rejected ids and reasons, quarantine, "
                         "ledger, per-step counts, dedup reports)." if k["identical"] else "**output differs**.")]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, nargs="+", default=[1, 3, 10])
    ap.add_argument("--kill", type=int, default=0, help="kills before the resume (on the smallest size)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/gristmill-bench-10gb"))
    ap.add_argument("--corpora", type=Path, default=corpora_dir())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--fragment-only", action="store_true", help="rewrite results/bench_10gb.md from results/bench_10gb.json")
    a = ap.parse_args()
    if a.fragment_only:
        write_fragment("bench_10gb", fragment(json.loads((HERE / "results" / "bench_10gb.json").read_text())))
        return
    a.work.mkdir(parents=True, exist_ok=True)
    results = []
    res_path = HERE / "results" / "bench_10gb.json"
    res_path.parent.mkdir(exist_ok=True)
    try:
        # One corpus of the largest size; a smaller size is its first files (the same documents).
        t0 = time.monotonic()
        corpus = a.work / "in"
        built = Builder(a.corpora, a.seed).write(corpus, int(max(a.gb) * 1e9))
        build_s = time.monotonic() - t0
        print(f"built {built['bytes'] / 1e9:.2f} GB in {built['files']} files, {build_s:.0f} s", flush=True)
        files = sorted(corpus.glob("*.jsonl"))
        for gb in sorted(a.gb):
            d = a.work / f"{gb:g}gb"
            d.mkdir(parents=True, exist_ok=True)
            mine = files[:max(1, round(gb * 1e9 / FILE_BYTES))]
            comp = {"bytes": sum(f.stat().st_size for f in mine), "files": len(mine), "documents": {}}
            recipe = d / "recipe.yaml"
            recipe.write_text(json.dumps({"input": {"paths": [str(f) for f in mine], "id_field": "id"},
                                          "steps": STEPS, "output": {"path": str(d / "out"), "keep_rejected": True}}))
            load0 = os.getloadavg()
            r = run(recipe, d / "out", d / "run.log")
            load1 = os.getloadavg()
            summ = json.loads((d / "out" / "summary.json").read_text()) if r["rc"] == 0 else {}
            row = {"gb": gb, "input_bytes": comp["bytes"], "files": comp["files"], "documents": None,
                   "build_seconds": round(build_s, 1), "load_before": load0, "load_after": load1, **r,
                   "steps": summ.get("steps"), "kept": summ.get("kept"), "rejected": summ.get("rejected"),
                   "summary_seconds": summ.get("seconds"), "disk_input": sum(f.stat().st_blocks * 512 for f in mine), "disk_out": _du(d / "out"),
                   "planted": planted(d / "out", mine) if r["rc"] == 0 else None,
                   }
            print(json.dumps({k: v for k, v in row.items() if k not in ("peak_rss",)}), flush=True)
            if a.kill and r["rc"] == 0 and gb == min(a.gb):
                ref = digest(d / "out")
                k_out = d / "out-killed"
                kills = []
                for i in range(a.kill):
                    at = random.Random(a.seed + i).uniform(0.1, 0.9) * r["wall"]
                    kr = run(recipe, k_out, d / "killed.log", kill_after=at)
                    kills.append({"after_s": round(at, 1), "finished_first": not kr["killed"], "rc": kr["rc"]})
                rr = run(recipe, k_out, d / "killed.log")
                same = rr["rc"] == 0 and digest(k_out) == ref
                row["kill_resume"] = {"kills": kills, "resume_rc": rr["rc"], "resume_wall": rr["wall"], "identical": same}
                print(json.dumps(row["kill_resume"]), flush=True)
                shutil.rmtree(k_out, ignore_errors=True)
            results.append(row)
            res_path.write_text(json.dumps({"machine": machine(), "runs": results}, indent=1, default=str))
            write_fragment("bench_10gb", fragment(json.loads(res_path.read_text())))
            if not a.keep:
                shutil.rmtree(d, ignore_errors=True)
    finally:
        if not a.keep:
            shutil.rmtree(a.work, ignore_errors=True)


if __name__ == "__main__":
    main()
