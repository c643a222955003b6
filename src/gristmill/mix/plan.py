"""Planning a mixture: documents and tokens per source, planned tokens, epochs needed.

Tokens are counted with the chosen tokenizer (each document plus its EOS). A source with more
than ``sample_docs`` documents is estimated from a seeded sample of at least that many documents
(whole read units in random order), scaled by its row count: 10,000 documents put the relative
standard error of a mean document length well under 1% for natural text.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


from gristmill.mix.spec import Mixture, MixtureError

SAMPLE_DOCS = 10_000  # the floor for estimates; also where exact counting stops being cheap


@dataclass
class SourcePlan:
    phase: str
    source: str
    docs: int
    tokens: int
    exact: bool
    weight: float
    planned_tokens: float | None  # None: an unbudgeted phase with allow_repeat runs until stopped
    epochs_needed: float | None
    max_epochs: int
    warning: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def count_source(data, tokenizer, sample_docs: int = SAMPLE_DOCS, seed: int = 0) -> tuple[int, int, bool]:
    """(documents, tokens incl. one EOS each, exact?) of a source after its filters.

    Read units in a seeded random order until ``sample_docs`` documents are seen (all of a small
    source), tokenizing unit by unit so memory stays at one unit."""
    import numpy as np

    # one document at a time, not encode_batch: encode_batch starts the tokenizer's thread pool, and
    # `tokenizers` then turns parallelism off in every DataLoader worker forked afterwards
    def encode(texts, add_special_tokens):
        return [tokenizer.encode(t, add_special_tokens=add_special_tokens) for t in texts]

    order = np.random.default_rng(seed).permutation(len(data.units))
    docs = n_tok = rows_read = 0
    for u in order:
        texts, _ = data.read(int(u), np.arange(data.rows[u]))
        rows_read += int(data.rows[u])
        docs += len(texts)
        for i in range(0, len(texts), 64):
            n_tok += sum(len(e.ids) + 1 for e in encode(texts[i:i + 64], add_special_tokens=False))
        if docs >= sample_docs:
            break
    if rows_read >= data.total_rows:
        return docs, n_tok, True
    scale = data.total_rows / max(rows_read, 1)
    return int(round(docs * scale)), int(round(n_tok * scale)), False


_COUNTS: dict[tuple, tuple[int, int, bool]] = {}  # in-process memo: rebuilding a dataset (resume) recounts nothing


def counted_source(s, tokenizer, sample_docs: int, seed: int) -> tuple[int, int, bool]:
    files = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for p in s.data.parts for f in p.files)
    key = (files, tuple((p.text_field, p.where) for p in s.data.parts), tokenizer.to_str(), sample_docs, seed)
    if key not in _COUNTS:
        _COUNTS[key] = count_source(s.data, tokenizer, sample_docs, seed)
    return _COUNTS[key]


def plan_mixture(mix: Mixture, tokenizer, total_tokens: int | None = None, sample_docs: int = SAMPLE_DOCS) -> list[SourcePlan]:
    """The plan per phase and source. ``total_tokens`` overrides a single-phase mixture's budget."""
    counts: dict[str, tuple[int, int, bool]] = {}
    used: dict[str, float] = {}  # planned tokens per stream key so far (phases sharing data continue it)
    rows: list[SourcePlan] = []
    allow = mix.spec.allow_repeat
    for pi, ph in enumerate(mix.phases):
        for s in ph.sources:
            if s.key not in counts:
                counts[s.key] = counted_source(s, tokenizer, sample_docs, mix.spec.seed)
        budget = ph.tokens if not (total_tokens and len(mix.phases) == 1) else total_tokens
        if budget is None:
            # unbudgeted: the phase ends when the first source reaches its cap
            limits = [(counts[s.key][1] * s.max_epochs - used.get(s.key, 0.0)) / s.weight for s in ph.sources if s.weight > 0]
            budget = None if allow else max(0.0, min(limits))
        for s in ph.sources:
            docs, toks, exact = counts[s.key]
            planned = None if budget is None else s.weight * budget
            before = used.get(s.key, 0.0)
            if planned is not None:
                used[s.key] = before + planned
            need = None if planned is None else (used[s.key] / toks if toks else math.inf)
            warn = None
            if docs == 0:
                warn = "no document passes the where: filter"
            elif need is not None and need > s.max_epochs + 1e-9:
                warn = (f"needs {need:.2f} epochs, above max_epochs={s.max_epochs}"
                        + ("; repeats (allow_repeat: true)" if allow else "; raise max_epochs, lower the budget or set allow_repeat: true"))
            rows.append(SourcePlan(ph.name, s.name, docs, toks, exact, s.weight, planned, need, s.max_epochs, warn))
    return rows


def check_plan(mix: Mixture, rows: list[SourcePlan]) -> None:
    """Fail before any work when a source holds no documents or a budget needs forbidden repetition."""
    problems = []
    for r in rows:
        src = next(s for p in mix.phases if p.name == r.phase for s in p.sources if s.name == r.source)
        where = f"{mix.path}{f' line {src.line}' if src.line else ''}: phase {r.phase!r} source {r.source!r}"
        if r.docs == 0:
            problems.append(f"{where}: no document passes where: {src.spec.where!r}; loosen the filter")
        elif r.warning and not mix.spec.allow_repeat and r.epochs_needed is not None and r.epochs_needed > r.max_epochs:
            problems.append(f"{where}: the budget needs {r.planned_tokens:,.0f} tokens = {r.epochs_needed:.2f} epochs of its "
                            f"{r.tokens:,} tokens, above max_epochs={r.max_epochs}; raise max_epochs, lower tokens:, "
                            "or set allow_repeat: true")
    if problems:
        raise MixtureError("\n".join(problems))


def tokens_per_source(state_or_states) -> dict:
    """Sum the per-source token counters of one or more MixtureDataset states (any nesting)."""
    out: dict[str, dict[str, int]] = {}

    def walk(x):
        if isinstance(x, dict):
            if x.get("gristmill_mixture_state"):
                for ph, d in x["tokens"].items():
                    for s, n in d.items():
                        out.setdefault(ph, {}).setdefault(s, 0)
                        out[ph][s] += int(n)
                return
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    walk(state_or_states)
    return out


