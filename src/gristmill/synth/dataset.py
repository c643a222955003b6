"""Writing a synthetic dataset: draw, verify, deduplicate, split, write; every draw accounted for.

Layout of ``OUT`` (JSON Lines, readable by ``gristmill run`` with ``id_field: id``):

* ``train.jsonl`` and ``heldout.jsonl``: ``{id, prompt, solution, answer, metadata, text}``;
* ``rejected.jsonl``: every draw that was not kept, with ``reason`` (``unverified``, ``failing_tests``,
  ``generator_error``) and detail; duplicates are counted, not written;
* ``summary.json``: ``drawn = kept + duplicates + rejected``, per generator and per reason.

The held-out split is decided by a hash of the problem's *key* (template and numbers, not the
wording), never by position: the same problem lands in the same split in every run and with every
seed, so no held-out problem is ever a training problem, even across separately generated sets.
"""
from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import xxhash

from gristmill.engine.manifest import atomic_write_text
from gristmill.synth.formats import check_format, document, render, verify_all
from gristmill.synth.generators._verify import NotVerified
from gristmill.synth.items import Item, normalize_key
from gristmill.synth.registry import Composite, resolve

SPLIT_SALT = "gristmill-heldout-v1"


def split_of(key: str, heldout: float) -> str:
    h = xxhash.xxh64_intdigest((SPLIT_SALT + normalize_key(key)).encode()) / 2 ** 64
    return "heldout" if h < heldout else "train"


def _verify_code(item: Item, timeout_s: float) -> tuple[bool, str]:
    from gristmill.synth.sandbox import run_python

    from gristmill.synth.loop import _item_cases

    cases = _item_cases(item)  # structured tests when the generator gives them; its assert text otherwise
    r = run_python(item.answer, tests=None if cases else item.tests, cases=cases, timeout_s=timeout_s)
    return r.status == "passed", f"{r.status}: {r.detail} [sandbox {r.mode}]"


def _check_formats(formats: str | None, kind: str) -> list[str]:
    """The answer formats asked for, each known; only math generators have them (fails before work)."""
    if not formats:
        return []
    fmts = [check_format(f.strip()) for f in formats.split(",") if f.strip()]
    other = [g for g in resolve(kind) if not g.startswith("math.")]
    if other:
        raise ValueError(f"--format applies to math generators only; {', '.join(other)} write code (drop --format "
                         "or generate them separately)")
    return list(dict.fromkeys(fmts))


class DatasetExists(RuntimeError):
    pass


def generate_dataset(kind: str, n: int, seed: int, difficulty: int, out: Path, *, heldout: float = 0.1,
                     workers: int = 2, max_draws: int | None = None, force: bool = False,
                     code_timeout_s: float = 5.0, formats: str | None = None) -> dict:
    """Draw until ``n`` distinct verified items are kept (train + held-out) or ``max_draws`` (default
    ``20 * n``) is reached; a shortfall is reported in the summary, never padded.

    Defaults: ``heldout=0.1`` gives 500 evaluation problems per 5,000 generated, the size of the
    MATH benchmark's common MATH-500 subset (Lightman et al. 2023, "Let's Verify Step by Step");
    ``max_draws=20*n`` stops a generator whose space is nearly exhausted after a bounded amount of
    work (at difficulty 1, 2-digit arithmetic repeats after a few thousand draws); ``workers=2``
    matches this project's 2-core machines (each sandbox run is one process).

    ``formats`` (``"reversed"`` or a list ``"answer,reversed,worked,scratchpad"``, math generators only):
    each record carries ``formats: {name: completion}`` and its ``text`` is the prompt with the first
    one (:mod:`gristmill.synth.formats`, after Lee et al. 2023); every format of every item is parsed
    back and confirmed by sympy, and an item one of whose formats does not verify is rejected as
    ``unverified``."""
    fmts = _check_formats(formats, kind)
    if n < 1:
        raise ValueError(f"--n must be >= 1 (got {n})")
    if not 0 <= heldout < 1:
        raise ValueError(f"--heldout must be in [0, 1) (got {heldout})")
    weights = resolve(kind)
    comp = Composite(weights, seed, difficulty)
    out = Path(out)
    if (out / "summary.json").exists() and not force:
        raise DatasetExists(f"{out} already holds a dataset (summary.json); pass --force to replace it")
    out.mkdir(parents=True, exist_ok=True)
    max_draws = max_draws or 20 * n
    seen: set[str] = set()
    kept: list[tuple[str, Item]] = []
    rejected: list[dict] = []
    stats = {g: Counter() for g in weights}
    drawn = 0
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        while len(kept) < n and drawn < max_draws:
            want = min(max_draws - drawn, n - len(kept))
            batch = []
            for _ in range(want):
                drawn += 1
                try:
                    gname, item = comp.draw()
                    if fmts:
                        try:
                            verify_all(item)
                        except NotVerified as e:
                            e.generator = gname
                            raise
                except NotVerified as e:
                    gname = getattr(e, "generator", None) or "?"
                    rejected.append({"reason": "unverified", "generator": gname, "detail": str(e)})
                    continue
                batch.append((gname, item))
            # code: verify in the sandbox, concurrently, then accept in draw order (reproducible)
            # a duplicate of a kept item (or of an earlier draw in this batch) is counted below without a
            # sandbox run: near a small space's end most draws are duplicates, and each run costs ~0.5 s
            # (a repeat within the batch shares its first copy's verdict: same key, same specification)
            futs, by_key = {}, {}
            for i, (g, it) in enumerate(batch):
                k = normalize_key(it.key)
                if it.tests is not None and k not in seen:
                    if k not in by_key:
                        by_key[k] = pool.submit(_verify_code, it, code_timeout_s)
                    futs[i] = by_key[k]
            for i, (gname, item) in enumerate(batch):
                st = stats[gname]
                st["drawn"] += 1
                k = normalize_key(item.key)
                if k in seen:
                    st["duplicates"] += 1
                    continue
                if i in futs:
                    ok, detail = futs[i].result()
                    if not ok:
                        st["failing_tests"] += 1
                        rejected.append({"reason": "failing_tests", "generator": gname, "key": item.key, "detail": detail,
                                         "item": item.to_record()})
                        continue
                if len(kept) >= n:
                    st["surplus"] += 1  # verified but beyond n: not written, counted
                    continue
                seen.add(k)
                kept.append((split_of(item.key, heldout), item))
                st["kept"] += 1
    finally:
        pool.shutdown(wait=True)
    for r in rejected:
        if r["reason"] == "unverified":
            stats.setdefault(r["generator"], Counter())["unverified"] += 1
    files = {"train": [], "heldout": []}
    for split, item in kept:
        rec = item.to_record()
        if fmts:
            rec["formats"] = {f: render(item, f) for f in fmts}
            rec["text"] = document(item, fmts[0])
            rec["metadata"]["format"] = fmts[0]
        files[split].append(json.dumps(rec, ensure_ascii=False))
    for split, lines in files.items():
        atomic_write_text(out / f"{split}.jsonl", "".join(line + "\n" for line in lines))
    atomic_write_text(out / "rejected.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejected))
    by_reason = Counter(r["reason"] for r in rejected)
    summary = {
        "kind": kind, "weights": weights, "formats": fmts, "n": n, "seed": seed, "difficulty": difficulty, "heldout_fraction": heldout,
        "drawn": drawn, "kept": len(kept), "train": len(files["train"]), "heldout": len(files["heldout"]),
        "duplicates": sum(s["duplicates"] for s in stats.values()), "surplus": sum(s["surplus"] for s in stats.values()),
        "rejected": dict(by_reason), "per_generator": {g: dict(s) for g, s in stats.items()},
        "shortfall": max(0, n - len(kept)),
    }
    # nothing is lost: every draw is kept, a duplicate, surplus, or rejected with a reason
    accounted = summary["kept"] + summary["duplicates"] + summary["surplus"] + sum(by_reason.values())
    if accounted != drawn:
        raise AssertionError(f"synth ledger mismatch: drawn {drawn} != accounted {accounted} (a bug)")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary
