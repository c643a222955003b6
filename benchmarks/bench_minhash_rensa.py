"""MinHash signatures: gristmill against rensa's ``RMinHash`` (Rust), one run, same shingles
(issue 24 part 2's anchor; goal >= 2x rensa).

Both get the same normalized text (gristmill's ``shingle_text``), word 5-grams and 128
permutations; the permutations themselves cannot be shared (each library draws its own from its
seed). Three timings, CPU seconds of this process, median of ``--repeat``:

- gristmill: normalized text -> signatures with the compiled kernel (``signatures_from_text``, the
  step's path), and the numpy path it replaced (``shingle_hashes`` + ``signatures``);
- rensa from strings: the 5-gram strings (built in Python, not timed) -> ``digest_matrix_from_token_sets``;
- rensa per document: one ``RMinHash`` per document (``update`` + ``digest``), the API the earlier anchor used;
- rensa from hashes: gristmill's own shingle hashes -> ``digest_matrix_from_flat_token_hashes``
  (signatures only, the fairest like-for-like), against gristmill's ``signatures`` alone.

    python benchmarks/bench_minhash_rensa.py [--docs 3000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from _common import machine, write_fragment  # noqa: E402

NUM_PERM, NGRAM = 128, 5


def _cpu(fn):
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import json

    try:
        import rensa
    except ImportError:
        write_fragment("bench_minhash_rensa", "rensa is not installed (`pip install rensa==0.5.0`): not measured.\n")
        return

    import bench_steps
    from gristmill.dedup._normalize import shingle_text
    from gristmill.dedup._shingle import perm_params, shingle_hashes, signatures, signatures_from_text

    with tempfile.TemporaryDirectory() as tmp:
        info = bench_steps.build(Path(tmp), args.docs)
        texts = [json.loads(line)["text"] for line in open(Path(tmp) / "text.jsonl", encoding="utf-8")]
    mb = info["text_bytes"] / 1e6
    norm = [shingle_text(t) for t in texts]
    grams = []
    for t in norm:
        w = t.split()
        grams.append([" ".join(w[i:i + NGRAM]) for i in range(len(w) - NGRAM + 1)] or ([" ".join(w)] if w else []))
    a, b = perm_params(NUM_PERM, 1)
    h, offs = shingle_hashes(norm, NGRAM)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    arr = pa.array(norm, type=pa.large_string())
    assert (signatures_from_text(arr, NGRAM, a, b)[0] == signatures(h, offs, a, b)).all(), "kernel differs from numpy"
    res: dict[str, list[float]] = {k: [] for k in ("ours", "ours_numpy", "ours_sig", "rensa_str", "rensa_hash", "rensa_obj")}

    def per_doc():
        for g in grams:
            m = rensa.RMinHash(num_perm=NUM_PERM, seed=42)
            m.update(g)
            m.digest()
    for _ in range(args.repeat):
        res["ours"].append(_cpu(lambda: signatures_from_text(arr, NGRAM, a, b))[0])
        res["ours_numpy"].append(_cpu(lambda: signatures(*shingle_hashes(arr, NGRAM), a, b))[0])
        res["ours_sig"].append(_cpu(lambda: signatures(h, offs, a, b))[0])
        res["rensa_str"].append(_cpu(lambda: rensa.RMinHash.digest_matrix_from_token_sets(grams, NUM_PERM, 42))[0])
        res["rensa_obj"].append(_cpu(per_doc)[0])
        res["rensa_hash"].append(_cpu(lambda: rensa.RMinHash.digest_matrix_from_flat_token_hashes(h, offs.astype(np.uint64), NUM_PERM, 42))[0])
    med = {k: statistics.median(v) for k, v in res.items()}
    ver = getattr(rensa, "__version__", None) or subprocess.run([sys.executable, "-m", "pip", "show", "rensa"], capture_output=True,
                                                              text=True).stdout.split("Version:")[-1].split()[0]
    rows = [("gristmill compiled kernel `signatures_from_text` (normalized text in)", med["ours"]),
            ("gristmill numpy path `shingle_hashes` + `signatures` (normalized text in; the fallback)", med["ours_numpy"]),
            (f"rensa {ver} `digest_matrix_from_token_sets` (5-gram strings in)", med["rensa_str"]),
            (f"rensa {ver} one `RMinHash` per document, `update` + `digest` (5-gram strings in)", med["rensa_obj"]),
            ("gristmill numpy `signatures` alone (shingle hashes in)", med["ours_sig"]),
            (f"rensa {ver} `digest_matrix_from_flat_token_hashes` (the same shingle hashes in)", med["rensa_hash"])]
    lines = [f"{machine()}; load `{load}`. {len(texts)} documents, {mb:.1f} MB (bench_steps.py's corpus), "
             f"{len(h):,} word {NGRAM}-gram shingles, {NUM_PERM} permutations, one process, CPU seconds, median of {args.repeat}.", "",
             "| implementation | CPU s | MB/s | docs/s |", "|---|---:|---:|---:|"]
    lines += [f"| {n} | {s:.3f} | {mb / s:.1f} | {len(texts) / s:,.0f} |" for n, s in rows]
    best = min(med["rensa_str"], med["rensa_obj"])
    lines += ["", f"Ratios, compiled kernel (the step's path), text in: **{med['rensa_str'] / med['ours']:.2f}x** rensa's batch API, "
              f"**{med['rensa_obj'] / med['ours']:.2f}x** its per-document `RMinHash` (against rensa's faster API in this run: "
              f"**{best / med['ours']:.2f}x**); against rensa from ready shingle hashes (its hashing not counted, ours counted) "
              f"**{med['rensa_hash'] / med['ours']:.2f}x**. The numpy fallback: **{med['rensa_str'] / med['ours_numpy']:.2f}x** "
              f"rensa's batch API; its `signatures` alone **{med['rensa_hash'] / med['ours_sig']:.2f}x** rensa from the same hashes."]
    write_fragment("bench_minhash_rensa", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
