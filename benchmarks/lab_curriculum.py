"""Curriculum and forgetting on real text: `gristmill lab curriculum` with web-like text in phase 1
(Brown corpus, State of the Union addresses, Moby Dick) and verified arithmetic with worked
solutions in phase 2 (`gristmill synth generate math.arithmetic`), three arms (alone, replay,
control), several seeds.

    GRISTMILL_CORPORA=/work/corpora python benchmarks/lab_curriculum.py -o /tmp/curriculum \\
        --phase1-tokens 300000 --phase2-tokens 120000 --seeds 0,1,2 --threads 1

It prepares the data (every 20th document of each corpus held out; the synth held-out split never
trained on), writes OUT/curriculum.yaml (the exact config, a file a user could have written) and
runs `gristmill lab curriculum OUT/curriculum.yaml -o OUT/run`. Re-running resumes.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from lab_fragility import split_corpora  # noqa: E402  (the same held-out split as the fragility benchmark)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--phase1-tokens", type=int, default=300_000)
    ap.add_argument("--phase2-tokens", type=int, default=120_000)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--replay", type=float, default=0.25)
    ap.add_argument("--items", type=int, default=6000, help="verified arithmetic items to generate (10%% held out)")
    ap.add_argument("--model", default="{preset: tiny, n_layer: 2, d_model: 96, n_head: 3}",
                    help="a preset name or a YAML model spec (default: 2 layers, d 96: what a shared 2-core machine trains in time)")
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--problems", type=int, default=15, help="held-out arithmetic items scored at each evaluation")
    ap.add_argument("--points", type=int, default=6)
    ap.add_argument("--heldout-bytes", type=int, default=30_000)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    out = a.out.resolve()
    corpora = split_corpora(Path(os.environ.get("GRISTMILL_CORPORA", "/work/corpora")), out / "corpora",
                            heldout_bytes=a.heldout_bytes)
    arith = out / "arith"
    if not (arith / "heldout.jsonl").exists():
        subprocess.run(["gristmill", "synth", "generate", "math.arithmetic", "--n", str(a.items), "--seed", "0",
                        "-o", str(arith)], check=True)
    seeds = ", ".join(a.seeds.split(","))
    cfg = out / "curriculum.yaml"
    cfg.write_text(f"""# written by benchmarks/lab_curriculum.py
model: {a.model}
tokenizer: {{train: {{vocab_size: {a.vocab}}}}}   # byte-level BPE on both phases' training data
seeds: [{seeds}]
seq_len: {a.seq_len}
batch_size: {a.batch_size}
{f"threads: {a.threads}" if a.threads else ""}
phase1:
  data: [{", ".join(f"corpora/{n}_train.jsonl" for n in corpora)}]
  tokens: {a.phase1_tokens}
phase2:
  data: [arith/train.jsonl]
  tokens: {a.phase2_tokens}
replay: {a.replay}
eval:
  phase1_heldout: [{", ".join(f"corpora/{n}_heldout.jsonl" for n in corpora)}]
  phase2_heldout: [arith/heldout.jsonl]
  phase2_items: [arith/heldout.jsonl]
  problems: {a.problems}
  max_bytes: {a.heldout_bytes}
  points: {a.points}
""")
    print(cfg.read_text())
    subprocess.run(["gristmill", "lab", "curriculum", str(cfg), "-o", str(out / "run"), "--no-progress"], check=True)


if __name__ == "__main__":
    main()
