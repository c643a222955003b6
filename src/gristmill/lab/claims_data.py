"""The data every `lab claims` experiment trains on, built once per output directory from real text.

* **split**: each JSON Lines file of the corpus directory is one source; every 10th document (by
  position) is held out, one held-out file per source, as in `benchmarks/lab_fragility.py`.
* **raw**: the training documents plus what crawls carry, planted at fixed shares so curation has
  something to remove: exact duplicates (RefinedWeb, Penedo et al. 2023, Fig. 2: exact and fuzzy dedup
  remove about half of what survives filtering), boilerplate pages and gibberish (the junk C4's and
  Gopher's rules target, Raffel et al. 2020 Sec. 2.2, Rae et al. 2021 App. A).
* **curated**: `raw` through gristmill's own web filters and dedup (the engine, as `gristmill run`
  does), so the curated arm is what a user of the shipped recipe gets.
* **math**: verified worked solutions from `gristmill synth`'s math generators (training seed) and a
  held-out set from another seed with no shared problem key.

Documents are bounded (`MAX_DOC_BYTES`, `max_docs` per source) so a large corpus cannot blow the
budget. Every file is written to a temporary name and renamed (engine/atomic.py): a killed build
leaves no half file, and a finished one is reused.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from gristmill.engine.atomic import atomic_path

MAX_DOC_BYTES = 200_000   # a longer document is cut: one chapter of Moby Dick is ~30 KB
HOLDOUT_EVERY = 10
# planted noise, shares of the real training documents
DUP_SHARE, JUNK_SHARE, GIBBERISH_SHARE = 0.3, 0.15, 0.1

WEB_RECIPE = {
    "steps": [{"language_id": {"languages": ["en"], "min_score": 0.65}}, {"gopher_repetition": {}},
              {"gopher_quality": {}}, {"c4_quality": {}}, {"exact_dedup": {}}, {"minhash_dedup": {}}],
}


def _write_jsonl(path: Path, docs: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    return str(path)


def read_jsonl(path: Path, max_docs: int | None = None) -> list[dict]:
    """Documents with a non-empty string `text`; a bad line is skipped, not a crash (counted by caller)."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for ln in f:
            if max_docs is not None and len(out) >= max_docs:
                break
            try:
                d = json.loads(ln)
            except json.JSONDecodeError:
                continue
            if isinstance(d, dict) and isinstance(d.get("text"), str) and d["text"].strip():
                out.append({**d, "text": d["text"][:MAX_DOC_BYTES]})
    return out


def _junk(rng: random.Random, i: int) -> str:
    lines = ["Click here to subscribe to our newsletter!", "Buy cheap watches online best price free shipping",
             "Home | About | Contact | Privacy Policy | Terms", "Copyright 2024 All rights reserved.",
             "Login to see more deals. Limited offer!!!"]
    return "\n".join(rng.choice(lines) for _ in range(rng.randint(8, 30))) + f"\nref {i}"


def _gibberish(rng: random.Random) -> str:
    return " ".join("".join(rng.choice("qxzjkvwbp") for _ in range(rng.randint(3, 12))) for _ in range(rng.randint(60, 300)))


def build(corpus: Path, out: Path, max_docs: int, sources: list[str] | None = None) -> dict:
    """Split, plant, curate; returns the file map (cached in OUT/data/files.json)."""
    d = out / "data"
    manifest = d / "files.json"
    if manifest.exists():
        return json.loads(manifest.read_text())
    files = sorted(corpus.glob("*.jsonl"))
    if sources:
        files = [f for f in files if f.stem in sources]
    if not files:
        raise ValueError(f"{corpus}: no .jsonl files with a `text` field (build one with ../shared/corpora/fetch DEST)")
    train, heldout = [], {}
    for f in files:
        docs = read_jsonl(f, max_docs)
        if len(docs) < 2 * HOLDOUT_EVERY:
            continue  # too small to hold anything out
        h = [x for i, x in enumerate(docs) if i % HOLDOUT_EVERY == 0]
        heldout[f.stem] = _write_jsonl(d / "heldout" / f"{f.stem}.jsonl", [{"id": x.get("id", f"{f.stem}-{i}"), "text": x["text"]}
                                                                          for i, x in enumerate(h)])
        train += [{"id": f"{f.stem}-{i}", "text": x["text"], "source": f.stem} for i, x in enumerate(docs) if i % HOLDOUT_EVERY]
    if not heldout:
        raise ValueError(f"{corpus}: every source has fewer than {2 * HOLDOUT_EVERY} documents")
    rng = random.Random(0)
    raw = list(train)
    raw += [dict(x, id=x["id"] + f"-dup{k}") for k, x in enumerate(rng.sample(train, int(DUP_SHARE * len(train))))]
    raw += [{"id": f"junk-{i}", "text": _junk(rng, i), "source": "junk"} for i in range(int(JUNK_SHARE * len(train)))]
    raw += [{"id": f"gib-{i}", "text": _gibberish(rng), "source": "junk"} for i in range(int(GIBBERISH_SHARE * len(train)))]
    rng.shuffle(raw)
    res = {"heldout": heldout, "clean": _write_jsonl(d / "clean.jsonl", train), "raw": _write_jsonl(d / "raw.jsonl", raw)}
    res["curated"] = curate(Path(res["raw"]), d)
    res["math"], res["math_heldout"] = math_items(d, n_train=max(200, len(train)), n_heldout=200)
    res["sources"] = sorted(heldout)
    with atomic_path(manifest) as tmp:
        Path(tmp).write_text(json.dumps(res, indent=2))
    return res


def curate(raw: Path, d: Path) -> str:
    """`raw` through the web filters and dedup with gristmill's engine; the kept documents as JSON Lines."""
    from gristmill.engine.local import run
    from gristmill.lab.data import read_texts
    from gristmill.recipe import recipe_from_dict

    run_dir = d / "curate_run"
    recipe = recipe_from_dict({"inputs": [{"paths": [str(raw)], "id_field": "id", "source": "web"}], **WEB_RECIPE,
                               "output": {"path": str(run_dir)}}, where="lab claims curation")
    run(recipe, run_dir, workers=1, progress=False, log=lambda m: None)
    kept = read_texts([str(run_dir)])
    return _write_jsonl(d / "curated.jsonl", [{"id": f"cur-{i}", "text": t} for i, t in enumerate(kept)])


def math_items(d: Path, n_train: int, n_heldout: int) -> tuple[str, str]:
    """Verified worked solutions (gristmill.synth math generators, difficulty 1); held-out problems
    share no key with the training ones."""
    from gristmill.synth.registry import Composite, resolve

    def draw(seed: int, n: int, skip: set[str]) -> list[dict]:
        c, out, keys = Composite(resolve("math"), seed, 1), [], set()
        for _ in range(n * 20):
            _, it = c.draw()
            if it.key in skip or it.key in keys:
                continue
            keys.add(it.key)
            out.append({"id": it.id, "prompt": it.prompt, "text": f"{it.prompt}\n{it.solution}", "answer": it.answer, "key": it.key})
            if len(out) == n:
                break
        return out

    held = draw(1_000_003, n_heldout, set())
    tr = draw(7, n_train, {x["key"] for x in held})
    return _write_jsonl(d / "math.jsonl", tr), _write_jsonl(d / "math_heldout.jsonl", held)
