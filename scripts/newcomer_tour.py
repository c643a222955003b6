"""A newcomer's tour: the README top to bottom, through the CLI, on data the test suite never builds.

The data is made here from what any Debian/Python machine holds and that no fixture uses: the
licence texts in /usr/share/common-licenses (real prose), e-mails written around paragraphs of
them, the standard library's documentation rendered to real HTML pages by :mod:`pydoc` (served as a
WARC, as a crawl hands them over), a Parquet file of prose with its own ids, and a directory of
plain-text files. Every command a new user would type from the README runs as a subprocess, and
each one's promise is checked: the ledger reconciles, original ids survive, a threshold change
re-selects, the report is written, a mixture streams into an export, a tiny model trains on it,
a quality model trains, synthetic data is generated and verified, and misspellings fail loudly.

    python scripts/newcomer_tour.py WORKDIR      # exit 0 when every stop of the tour holds

CI runs it through tests/test_newcomer_tour.py.
"""
from __future__ import annotations

import argparse
import glob
import gzip
import io
import json
import os
import pydoc
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

GM = [sys.executable, "-m", "gristmill"]


class TourFailed(AssertionError):
    pass


def check(cond, what: str) -> None:
    if not cond:
        raise TourFailed(what)


def gm(*args, cwd: Path, ok: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    t0 = time.monotonic()
    p = subprocess.run([*GM, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "COLUMNS": "120", "HF_HUB_OFFLINE": "1"})
    print(f"  $ gristmill {' '.join(map(str, args))}  -> {p.returncode} ({time.monotonic() - t0:.1f} s)", flush=True)
    if ok and p.returncode != 0:
        raise TourFailed(f"gristmill {' '.join(map(str, args))} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    if not ok and p.returncode == 0:
        raise TourFailed(f"gristmill {' '.join(map(str, args))} should have failed:\n{p.stdout[-2000:]}")
    return p


# ---------------------------------------------------------------------------------------------
# Held-out data


def _licence_paragraphs() -> list[str]:
    paras = []
    for f in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.isdir(f) or os.path.islink(f):
            continue
        text = Path(f).read_text(encoding="utf-8", errors="replace")
        for p in text.split("\n\n"):
            p = " ".join(p.split())
            if len(p.split()) >= 40 and sum(c.isalpha() for c in p) > 0.7 * len(p):
                paras.append(p)
    if len(paras) < 40:  # not Debian: the stdlib's own licence and topics are prose too
        import pydoc_data.topics as topics
        for t in topics.topics.values():
            for p in t.split("\n\n"):
                p = " ".join(p.split())
                if len(p.split()) >= 40:
                    paras.append(p)
    return paras


def _emails(paras: list[str], rng: random.Random, n: int) -> list[dict]:
    names = ["ada", "linus", "grace", "ken", "barbara", "guido", "margaret", "dennis"]
    out = []
    for i in range(n):
        a, b = rng.sample(names, 2)
        body = "\n\n".join(rng.sample(paras, 2))
        subject = " ".join(body.split()[:6])
        text = (f"From: {a}@example.org\nTo: {b}@example.net\nSubject: Re: {subject}\n\n"
                f"Hi {b.title()},\n\n{textwrap.fill(body, 76)}\n\nBest,\n{a.title()}\n")
        out.append({"id": f"mail-{i:04d}", "text": text, "thread": i // 3})
    out.append({"id": "mail-spam", "text": "BUY NOW!!! " * 60, "thread": -1})
    out.append({"id": "mail-dup", "text": out[0]["text"], "thread": 0})
    return out


def _html_pages(n: int) -> list[tuple[str, str]]:
    pages = []
    for mod in ["json", "textwrap", "difflib", "heapq", "bisect", "shlex", "fractions", "statistics", "string",
                "calendar", "glob", "fnmatch", "colorsys", "sched", "queue", "base64"][:n]:
        try:
            obj = __import__(mod)
            html = pydoc.HTMLDoc().page(f"Python: module {mod}", pydoc.HTMLDoc().docmodule(obj))
        except Exception:  # noqa: BLE001 - a module this Python lacks is simply not a page
            continue
        pages.append((f"https://docs.example.org/library/{mod}.html", html))
    return pages


def _write_warc(path: Path, pages: list[tuple[str, str]]) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=True)
        for url, html in pages:
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(html.encode("utf-8")),
                                                http_headers=headers))


def build_data(root: Path) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(20261207)
    paras = _licence_paragraphs()
    data = root / "data"
    (data / "notes").mkdir(parents=True, exist_ok=True)
    mails = _emails(paras, rng, 60)
    with gzip.open(data / "mail.jsonl.gz", "wt", encoding="utf-8") as f:
        for r in mails:
            f.write(json.dumps(r) + "\n")
        f.write("{not json\n")  # one broken line: quarantined, never lost
    prose = [{"id": f"lic-{i}", "text": "\n\n".join(paras[i:i + 3])} for i in range(0, min(len(paras) - 3, 150), 3)]
    pq.write_table(pa.Table.from_pylist(prose), data / "prose.parquet")
    for i in range(8):
        (data / "notes" / f"note{i}.txt").write_text("\n\n".join(rng.sample(paras, 3)) + "\n", encoding="utf-8")
    pages = _html_pages(16)
    _write_warc(data / "docs.warc.gz", pages)
    return {"mail": len(mails) + 1, "prose": len(prose), "notes": 8, "docs": len(pages)}


RECIPE = """\
inputs:
  - {paths: [data/mail.jsonl.gz], format: jsonl, text_field: text, source: mail, fields: [thread]}
  - {paths: [data/prose.parquet], format: parquet, source: prose}
  - {paths: [data/notes], format: text, source: notes}
  - {paths: [data/docs.warc.gz], format: warc, source: docs}
steps:
  - html_extract: {sources: [docs]}
  - normalize: {}
  - language_id: {languages: [en], min_score: 0.5}
  - gopher_repetition: {sources: [mail, prose, notes]}   # documentation pages fail Gopher's prose rules (issue 23)
  - gopher_quality: {sources: [mail, prose, notes]}
  - exact_dedup: {}
  - min_length: {min_words: 30}
output:
  path: out/tour
  keep_rejected: true
"""


def tour(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    print("data:", build_data(root), flush=True)
    (root / "recipe.yaml").write_text(RECIPE)

    print("1. curate", flush=True)
    gm("--version", cwd=root)
    gm("steps", cwd=root)
    gm("steps", "gopher_quality", cwd=root)
    p = gm("run", "recipe.yaml", "--workers", "2", cwd=root)
    summary = json.loads((root / "out/tour/summary.json").read_text())
    rejected = sum(summary["rejected"].values())
    quarantined = sum(summary["quarantined"].values()) if isinstance(summary["quarantined"], dict) else summary["quarantined"]
    check(summary["input"] == summary["kept"] + rejected + quarantined, f"ledger does not reconcile: {summary}")
    check(quarantined >= 1, "the broken JSON line was not quarantined")
    check(summary["kept"] > 0 and rejected > 0, f"nothing kept or nothing rejected: {summary}")
    check((root / "out/tour/report.html").exists(), "run wrote no report.html")
    check((root / "out/tour/recipe.lock.yaml").exists(), "no recipe.lock.yaml")
    import pyarrow.parquet as pq

    kept = pq.read_table(root / "out/tour/data").to_pydict()
    check(any(i.startswith("mail-") for i in kept["id"]), "e-mails lost their own ids")
    check("mail-dup" not in kept["id"], "the duplicate e-mail was kept")
    check("mail-spam" not in kept["id"], "the spam e-mail was kept")
    check(any(s == "docs" for s in kept["source"]), "no documentation page survived extraction")
    gm("stats", "out/tour", cwd=root)
    p = gm("show", "out/tour", "--rejected", "-n", "2", cwd=root)
    check("\x1b]" not in p.stdout, "show wrote a raw terminal escape")
    gm("show", "out/tour", "--reason", "gopher_quality", "-n", "1", cwd=root)
    # a stricter threshold from the stored column: re-selection keeps exactly the documents above it
    counts = sorted(kept["word_count"])
    cut = counts[len(counts) // 2]
    p = gm("select", "out/tour", "-o", "out/tour_sel", "--set", f"min_length.min_words={cut}", cwd=root)
    sel = json.loads((root / "out/tour_sel/summary.json").read_text())
    want = sum(c >= cut for c in counts)
    check(sel["kept"] == want, f"select min_words={cut} kept {sel['kept']}, the stored word counts say {want}")
    gm("report", "out/tour", cwd=root)

    print("2. mistakes a newcomer makes fail loudly, naming the fix", flush=True)
    (root / "typo.yaml").write_text(RECIPE.replace("  - gopher_quality:", "  - gopher_qualty:"))
    p = gm("run", "typo.yaml", "-o", "out/typo", cwd=root, ok=False)
    check("gopher_quality" in p.stderr + p.stdout, "a misspelled step gave no did-you-mean")
    (root / "nofield.yaml").write_text(RECIPE.replace("text_field: text", "text_field: body"))
    gm("run", "nofield.yaml", "-o", "out/nofield", cwd=root, ok=False)
    check(not (root / "out/nofield/data").exists() or not any((root / "out/nofield/data").iterdir()),
          "a wrong text_field still wrote data")

    print("3. mix, stream, export", flush=True)
    gm("tokenizer", "train", "out/tour", "--vocab-size", "512", "-o", "tok.json", cwd=root)
    (root / "mix.yaml").write_text("sources:\n  - {name: tour, path: out/tour, weight: 1.0, max_epochs: 20}\n"
                                   "tokenizer: tok.json\nseq_len: 64\nseed: 0\n")
    gm("mix", "plan", "mix.yaml", cwd=root)
    gm("export", "mix.yaml", "-o", "exp", "--format", "nanogpt", "--tokens", "20000", cwd=root)
    check((root / "exp/train.bin").stat().st_size > 0, "export wrote an empty train.bin")

    print("4. the lab", flush=True)
    (root / "eval").mkdir(exist_ok=True)
    with open(root / "eval/held.jsonl", "w") as f:
        for p_ in _licence_paragraphs()[-20:]:
            f.write(json.dumps({"text": p_}) + "\n")
    (root / "train.yaml").write_text("model: {preset: tiny, n_layer: 1, d_model: 64, n_head: 2}\nmixture: mix.yaml\ntokenizer: tok.json\n"
                                     "tokens: 20000\nseq_len: 64\nbatch_size: 8\neval: {heldout: [eval/held.jsonl], max_bytes: 5000}\n")
    (root / "nanogpt.yaml").write_text((root / "train.yaml").read_text().replace("d_model", "n_embd"))
    p = gm("lab", "train", "nanogpt.yaml", "-o", "runs/typo", cwd=root, ok=False)
    check("d_model" in p.stderr and "Traceback" not in p.stderr, f"nanoGPT's n_embd gave no hint: {p.stderr[-800:]}")
    gm("lab", "train", "train.yaml", "-o", "runs/a", cwd=root)
    final = json.loads((root / "runs/a/final.json").read_text())
    check(final, "lab train wrote an empty final.json")
    gm("lab", "eval", "runs/a", "--data", "eval/held.jsonl", cwd=root)

    print("5. quality and synthetic data", flush=True)
    gm("quality", "train", "--pos", "data/prose.parquet", "--neg", "out/tour/rejected", "--family", "fast", "-o", "q.bin", cwd=root)
    gm("quality", "info", "q.bin", cwd=root)
    gm("synth", "generate", "math", "--n", "50", "--seed", "0", "-o", "out/math", cwd=root)
    gm("synth", "generate", "code", "--n", "10", "-o", "out/code", cwd=root)
    print("tour: every stop held", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", type=Path)
    args = ap.parse_args(argv)
    try:
        tour(args.workdir.resolve())
    except TourFailed as e:
        print(f"tour FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
