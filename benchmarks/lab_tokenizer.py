"""Bytes against byte-level BPE 4k / 16k / 32k at equal bytes of text seen, on held-out real prose.

Issue 21 part 3 (OpenELM: the tokenizer as a hyperparameter). Real prose from `../shared/corpora/fetch DEST`
(State of the Union, Moby Dick, Brown), split into training and held-out documents by a hash of the text
(gristmill.lab.tokenizer_compare.heldout, the split `gristmill tokenizer compare` uses), then one
`gristmill lab ablate` per text budget with one arm per tokenizer (`bytes: B`: every arm sees B bytes).
The BPEs are trained on the training split only. Verdicts against the bytes arm: lab/significance.py.

    python benchmarks/lab_tokenizer.py --corpora DEST --out OUT --bytes 250000 --seeds 0 1
    # parallel on a shared machine: one process per seed into the same OUT, then once with all seeds
    # (finished runs are skipped) to write the combined table
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from gristmill.lab.tokenizer_compare import heldout

SOURCES = ("sotu", "mobydick", "brown")
ARMS = {"bytes": "bytes", "bpe4k": "bpe:4000", "bpe16k": "bpe:16000", "bpe32k": "bpe:32000"}


def prepare(corpora: Path, out: Path, share: float = 0.1) -> None:
    (out / "prose").mkdir(parents=True, exist_ok=True)
    if (out / "prose" / "heldout.jsonl").exists():
        return
    train, test = [], []
    for s in SOURCES:
        for line in (corpora / f"{s}.jsonl").read_text(encoding="utf-8").splitlines():
            t = json.loads(line)["text"]
            (test if heldout(t, share) else train).append({"text": t, "source": s})
    for name, docs in (("train", train), ("heldout", test)):
        (out / "prose" / f"{name}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")


def config(out: Path, budget: int, seeds: list[int], seq_len: int, batch: int, max_bytes: int, names: list[str]) -> Path:
    arms = "\n".join(f"  {a}: {{data: prose/train.jsonl, tokenizer: '{ARMS[a]}'}}" for a in names)
    p = out / f"ablate-{budget}-{'-'.join(map(str, seeds))}-{len(names)}.yaml"
    p.write_text(f"""model: tiny
bytes: {budget}
seeds: {seeds}
seq_len: {seq_len}
batch_size: {batch}
threads: 1
eval: {{heldout: [prose/heldout.jsonl], max_bytes: {max_bytes}, points: 2}}
arms:
{arms}
""")
    return p


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--bytes", type=int, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-bytes", type=int, default=30_000)
    ap.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS), help="a subset (the first is the reference)")
    a = ap.parse_args()
    prepare(a.corpora, a.out)
    from rich.console import Console

    from gristmill.lab.ablate import print_ablation, run_ablation

    c = Console(width=180)
    res = run_ablation(config(a.out, a.bytes, a.seeds, a.seq_len, a.batch, a.max_bytes, a.arms), a.out / f"ablate-{a.bytes}",
                       console=c, progress=False)
    print_ablation(res, c)


if __name__ == "__main__":
    main()
