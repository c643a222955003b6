"""The seed's claims reproduced small (issue 25): `gristmill lab claims` on real text.

    GRISTMILL_CORPORA=/work/corpora python benchmarks/lab_claims.py -o /tmp/claims [--budget quick|full] [--claims a,b]

Builds the corpora with ../shared/corpora/fetch when the folder is missing, runs the command (resumable:
re-running reuses every finished arm-seed), prints summary.md and the machine load before and after.
Figures and commands: benchmarks/RESULTS.md, "The seed's claims, reproduced small".
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

GM = [sys.executable, "-c", "from gristmill.cli import main; main()"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--budget", default="quick", choices=["quick", "full", "ci"])
    ap.add_argument("--claims", default="")
    ap.add_argument("--seeds", default="")
    a = ap.parse_args()
    corpora = Path(os.environ.get("GRISTMILL_CORPORA", "/work/corpora"))
    if not (corpora / "sotu.jsonl").exists():
        fetch = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "fetch"
        subprocess.run([str(fetch), str(corpora)], check=True)
    print("load before:", os.getloadavg())
    cmd = GM + ["lab", "claims", "--corpus", str(corpora), "-o", str(a.out), "--budget", a.budget]
    cmd += ["--claims", a.claims] if a.claims else []
    cmd += ["--seeds", a.seeds] if a.seeds else []
    subprocess.run(cmd, check=True)
    print("load after:", os.getloadavg())
    print((a.out / "summary.md").read_text())


if __name__ == "__main__":
    main()
