"""`gristmill quality annotate`: label a sample of documents with any OpenAI-compatible model.

The default rubric is additive, 0 to 5 points for educational value, in the style FineWeb-Edu used
with Llama-3-70B (Penedo et al. 2024, Sec. 3.6.1; the reply ends with "Educational score: N").
Requests go through :class:`gristmill.llm.client.ChatClient`: concurrent, retried with
backoff, timed out, and cached on disk by content, so a re-run pays for nothing twice and resumes
after a crash. Every sampled document ends as one row: a score, or the reason it has none
(unreachable, timeout, http_error, malformed, unparseable) with the detail.
"""
from __future__ import annotations

import json
import random
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gristmill.engine.atomic import atomic_write_text

DEFAULT_RUBRIC = """Below is an extract from a web page. Judge whether it would be useful for teaching at \
primary to secondary school level, using this additive 5-point system. Points add up as each \
criterion is met:

- Add 1 point if the extract gives some basic information relevant to an educational topic, even \
if it also holds ads, navigation or other irrelevant material.
- Add another point if it addresses elements relevant to education but does not align closely \
with educational standards; it may mix educational and non-educational content or give only a \
superficial overview.
- Award a third point if it suits educational use and introduces key concepts of a school \
curriculum; it is coherent, though it may be incomplete or hold some extraneous information.
- Grant a fourth point if it is highly relevant and beneficial for learning at school level, with a \
clear and consistent writing style, like a chapter of a textbook or a tutorial, with substantial \
educational content and little that is irrelevant.
- Bestow a fifth point if it is outstanding for teaching: detailed reasoning, easy to follow, and \
free of non-educational or overly complex material.

The extract:
<extract>
{text}
</extract>

Briefly justify your total in under 100 words, then end with the line "Educational score: <points>"."""

_SCORE = re.compile(r"(?i)(?:educational\s+)?score\s*[:=]\s*\**\s*([0-5](?:\.\d+)?)")


def parse_score(reply: str) -> float | None:
    """The last "score: N" in the reply, 0 <= N <= 5; None when there is none."""
    hits = _SCORE.findall(reply or "")
    return float(hits[-1]) if hits else None


def sample_documents(specs: list[str], n: int, seed: int, text_field: str = "text", id_field: str | None = "id") -> list[dict]:
    """A seeded uniform sample of ``n`` documents (all of them when fewer) with their ids."""
    from gristmill.quality.examples import tables

    rows = []
    for path, t in tables(specs, text_field):
        ids = t.column(id_field).to_pylist() if id_field and id_field in t.column_names else [f"{path.name}:{i}" for i in range(t.num_rows)]
        rows.extend({"id": str(i), "text": x} for i, x in zip(ids, t.column(text_field).to_pylist()) if isinstance(x, str))
    rng = random.Random(seed)
    return rows if len(rows) <= n else rng.sample(rows, n)


def annotate(docs: list[dict], out: Path, *, base_url: str, model: str, rubric: str = DEFAULT_RUBRIC,
             max_chars: int = 6000, concurrency: int = 8, timeout_s: float = 60.0, max_retries: int = 3,
             backoff_s: float = 1.0, api_key: str | None = None, temperature: float = 0.0, progress=None) -> dict:
    """Annotate ``docs`` into ``out/annotations.jsonl`` and ``out/summary.json``; returns the summary."""
    from gristmill.llm.client import ChatClient, RequestCache

    if "{text}" not in rubric:
        raise ValueError("the rubric must contain {text} where the document goes")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache = RequestCache(out / "cache.sqlite")
    client = ChatClient(base_url, model, api_key=api_key, timeout_s=timeout_s, max_retries=max_retries,
                        backoff_s=backoff_s, cache=cache, concurrency=concurrency)

    def one(doc: dict) -> dict:
        prompt = rubric.replace("{text}", doc["text"][:max_chars])
        r = client.chat([{"role": "user", "content": prompt}], temperature=temperature, max_tokens=300)
        row = {"id": doc["id"], "text": doc["text"], "score": None, "reason": r.reason, "detail": r.detail,
               "attempts": r.attempts, "cached": r.cached, "reply": r.text}
        if r.reason is None:
            s = parse_score(r.text)
            if s is None:
                row.update(reason="unparseable", detail="no 'Educational score: N' (0-5) in the reply")
            else:
                row["score"] = s
        if progress:
            progress()
        return row

    try:
        with ThreadPoolExecutor(concurrency) as pool:
            rows = list(pool.map(one, docs))
    finally:
        client.close()
        cache.close()
    atomic_write_text(out / "annotations.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    reasons = Counter(r["reason"] or "scored" for r in rows)
    scores = Counter(r["score"] for r in rows if r["score"] is not None)
    summary = {"documents": len(rows), "scored": reasons.pop("scored", 0), "failed": dict(reasons),
               "score_distribution": {str(k): v for k, v in sorted(scores.items())},
               "requests_sent": client.requests_sent, "cached": sum(r["cached"] for r in rows),
               "endpoint": base_url, "model": model}
    if summary["scored"] + sum(summary["failed"].values()) != len(docs):  # nothing is lost, or it is a bug
        raise RuntimeError(f"annotation ledger mismatch: {len(docs)} documents, {summary}")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    return summary
