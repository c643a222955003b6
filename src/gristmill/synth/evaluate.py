"""pass@k of generated programs, judged in the sandbox.

The estimator is Chen et al. 2021 ("Evaluating Large Language Models Trained on Code", the Codex
paper, section 2.1): draw ``n >= k`` samples per problem, count the ``c`` that pass every test, and
estimate ``pass@k = 1 - C(n - c, k) / C(n, k)``, averaged over problems. It is unbiased where
``1 - (1 - c/n)^k`` is not; the product form below is the paper's numerically stable one.

Each distinct program of a problem runs once (samples often repeat; the verdict of a program on fixed
tests does not change), in :func:`gristmill.synth.sandbox.run_python` against the problem's structured
cases, so a program that redefines ``len`` or prints "passed" is judged like any other.
"""
from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``c`` of ``n`` samples correct (Chen et al. 2021)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    p = 1.0
    for i in range(n - c + 1, n + 1):
        p *= 1.0 - k / i
    return 1.0 - p


def _cases(rec: dict) -> list:
    cases = rec.get("cases") or (rec.get("metadata") or {}).get("cases")
    if not isinstance(cases, list) or not cases:
        raise ValueError(f"record {rec.get('id')!r} has no structured test cases (metadata.cases)")
    return cases


def evaluate_programs(recs: list[dict], programs: list[list[str]], ks: tuple[int, ...] = (1, 5),
                      workers: int = 2, timeout_s: float = 5.0) -> dict:
    """pass@k for each k in ``ks`` over problems ``recs`` (code records with ``metadata.cases``) and
    ``programs[i]``, the samples for ``recs[i]`` (all problems need the same count ``n >= max(ks)``).
    Returns ``{"n_problems", "samples", "pass@k": {k: mean}, "status": Counter of verdicts over samples,
    "problems": [{id, n, correct, distinct}]}``."""
    from gristmill.synth.sandbox import run_python

    if len(recs) != len(programs):
        raise ValueError(f"{len(recs)} problems but {len(programs)} lists of programs")
    sizes = {len(p) for p in programs}
    if len(sizes) > 1:
        raise ValueError(f"every problem needs the same number of samples (got {sorted(sizes)})")
    n = sizes.pop() if sizes else 0
    if recs and any(not 1 <= k <= n for k in ks):
        raise ValueError(f"every k in {ks} must be between 1 and the samples per problem ({n})")
    cases = [_cases(r) for r in recs]  # a record without tests fails here, before any sandbox run
    jobs = {(i, prog) for i, progs in enumerate(programs) for prog in progs}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futs = {job: pool.submit(run_python, job[1], cases=cases[job[0]], timeout_s=timeout_s) for job in sorted(jobs)}
        verdict = {job: f.result().status for job, f in futs.items()}
    status: Counter = Counter()
    rows, sums = [], {k: 0.0 for k in ks}
    for i, (rec, progs) in enumerate(zip(recs, programs)):
        sts = [verdict[(i, p)] for p in progs]
        status.update(sts)
        c = sum(s == "passed" for s in sts)
        for k in ks:
            sums[k] += pass_at_k(n, c, k)
        rows.append({"id": rec.get("id"), "n": n, "correct": c, "distinct": len(set(progs))})
    m = max(1, len(recs))
    return {"n_problems": len(recs), "samples": n, "pass@k": {k: sums[k] / m for k in ks}, "status": dict(status),
            "sandbox_runs": len(jobs), "problems": rows}
