"""Factoid against reasoning: Phi-3's "remove superfluous factual knowledge" as a step.

Phi-3 (Abdin et al. 2024, Sec. 3) filtered web data to keep "the right level of knowledge" and
leave a small model's capacity for reasoning, e.g. removing the results of a game in the Premier
League on a given day. No peer ships this, and the paper gives no recipe, so the signals here are
explicit and measurable, all counted per 100 words with Arrow regex kernels (no per-document
Python):

- knowledge density: numbers, dates (years 1500-2099, month names), mid-sentence capitalized words
  (proper nouns), list or table lines, score lines ("3-1", "21 - 14");
- reasoning density: causal and logical connectives (because, therefore, thus, if, then, suppose,
  it follows...), explanation verbs (explain, prove, means), equations and operators, code lines.

``factoid_score = k / (k + r + 10)`` and ``reasoning_score = r / (k + r + 10)`` for densities k and r
per 100 words. The constant 10 is about the knowledge density of ordinary news prose (Brown press
reportage: median 11.6; learned writing: 4.6), so a document needs more facts than that, and few
reasoning markers, before its factoid score passes 0.5; the AUC on Brown moves by less than 0.01
for constants from 1 to 40 (``benchmarks/bench_factoid.py``). Selection is off unless asked:
``max_factoid_score`` drops documents above it (``factoid/factoid``); with ``keep_fraction`` they
are downsampled instead, deterministically by id. ``benchmarks/bench_factoid.py`` measures the
separation (AUC) on Brown press reportage against learned writing, and on Python's changelog
against its tutorials and HOWTOs; no threshold default is set because none was validated across
corpora. A trained alternative: ``gristmill quality train`` on labelled factoid/reasoning text.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from pydantic import Field

from gristmill.arrow import with_column
from gristmill.step import Step, StepConfig, register

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December|Jan\\.|Feb\\.|Aug\\.|Sept?\\.|Oct\\.|Nov\\.|Dec\\."
KNOWLEDGE = {
    "numbers": r"\d[\d,.]*",
    "dates": r"\b(?:1[5-9]\d\d|20\d\d)\b|\b(?:" + _MONTHS + r")\s+\d",
    "proper_nouns": r"[^.!?:\s\"'(]\s+[A-Z][a-z]+",
    "list_lines": r"(?m)^\s*(?:[-*•|]|\d+[.)]|[A-Z][\w ]{0,30}:\s)",
    "score_lines": r"\b\d{1,3}\s?[-–]\s?\d{1,3}\b",
}
REASONING = {
    "connectives": r"(?i)\b(?:because|therefore|thus|hence|consequently|so that|since|if|then|otherwise|which means|"
                   r"it follows|implies|in order to|as a result|suppose|assume|let us|we can|we get|we have|we see|"
                   r"why|how|however|although|whereas|instead|unless|whether|reason|cause)\b",
    "explanations": r"(?i)\b(?:explain\w*|prove\w*|proof|means|meaning|shows?|demonstrat\w+|deriv\w+|conclu\w+|"
                    r"understand\w*|example|for instance|step)\b",
    # "3-1" is a score or a range, not arithmetic: a hyphen between digits does not count here
    "math": r"[=<>≤≥±×÷∑∫√]|\b\d+\s?[+*/^]\s?\d+\b|\b[a-z]\s?[+*/^=]\s?[a-z0-9]\b",
    "code_lines": r"(?m)^\s*(?:def |class |return\b|import |from \w+ import|for .* in .*:|while .*:|if .*:\s*$|\{|\}|#include|function |>>> )",
}
_SMOOTH = 10.0  # per 100 words: see the module docstring
_WEIGHT = {"list_lines": 3.0, "score_lines": 2.0, "math": 2.0, "code_lines": 2.0}


class FactoidConfig(StepConfig):
    max_factoid_score: float | None = Field(None, ge=0, le=1, description="reject documents whose factoid_score is above this (off by default)")
    keep_fraction: float | None = Field(None, ge=0, le=1, description="with max_factoid_score: keep this share of the factoid documents (by id hash) instead of dropping all")
    seed: int = Field(0, description="seed of the downsampling hash")


@register
class Factoid(Step):
    """Knowledge and reasoning density per document, ``factoid_score`` and ``reasoning_score``
    (Phi-3, Abdin et al. 2024, Sec. 3); optionally drop or downsample mostly-factoid documents."""

    name = "factoid"
    Config = FactoidConfig
    thresholds = {"max_factoid_score": "factoid_score"}

    @classmethod
    def writes(cls, config) -> set[str]:
        return {"knowledge_density", "reasoning_density", "factoid_score", "reasoning_score"}

    def annotate(self, table: pa.Table) -> pa.Table:
        text = pc.fill_null(table.column("text"), "")
        words = pc.list_value_length(pc.utf8_split_whitespace(text)).to_numpy(zero_copy_only=False).astype(np.float64)
        per100 = 100.0 / np.maximum(words, 1.0)
        dens = {}
        t = table
        for group, patterns in (("knowledge", KNOWLEDGE), ("reasoning", REASONING)):
            total = np.zeros(table.num_rows)
            for name, pat in patterns.items():
                n = pc.count_substring_regex(text, pat).to_numpy(zero_copy_only=False).astype(np.float64)
                col = f"{'factoid' if group == 'knowledge' else 'reasoning'}_{name}"
                t = with_column(t, col, pa.array(n.astype(np.int32), pa.int32()))
                total += _WEIGHT.get(name, 1.0) * n
            dens[group] = total * per100
        k, r = dens["knowledge"], dens["reasoning"]
        t = with_column(t, "knowledge_density", pa.array(k, pa.float32()))
        t = with_column(t, "reasoning_density", pa.array(r, pa.float32()))
        t = with_column(t, "factoid_score", pa.array(k / (k + r + _SMOOTH), pa.float32()))
        t = with_column(t, "reasoning_score", pa.array(r / (k + r + _SMOOTH), pa.float32()))
        return t

    def select(self, table: pa.Table):
        c = self.config
        if c.max_factoid_score is None:
            return None
        over = pc.fill_null(pc.greater(table.column("factoid_score"), c.max_factoid_score), False).to_numpy(zero_copy_only=False)
        if c.keep_fraction is not None:
            ids = table.column("id").to_pylist()
            u = np.array([xxhash.xxh3_64_intdigest(str(i).encode(), seed=c.seed) / 2.0**64 for i in ids]) if ids else np.zeros(0)
            over = over & (u >= c.keep_fraction)
        out = np.where(over, "factoid", None)
        return pa.array(out, pa.string())
