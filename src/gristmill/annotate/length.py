"""Document length: the cheapest filter, and the one every pipeline starts with."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from gristmill.arrow import reasons_from_masks, with_column
from gristmill.step import Step, StepConfig, register


def word_counts(text: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Whitespace-separated words per document, computed in Arrow (no Python loop)."""
    trimmed = pc.utf8_trim_whitespace(text)
    n = pc.list_value_length(pc.utf8_split_whitespace(trimmed))
    n = pc.if_else(pc.equal(pc.binary_length(trimmed), 0), 0, n)  # "" splits into [""]: zero words, not one
    return pc.fill_null(n, 0).to_numpy(zero_copy_only=False).astype(np.int64)


@register
class MinLength(Step):
    """Drop documents that are too short (or too long) in whitespace-separated words.

    Default ``min_words=50`` and ``max_words=100_000`` are Gopher's document-length bounds
    (Rae et al. 2021, "Scaling Language Models", Appendix A.1.1). Annotates ``word_count``."""

    name = "min_length"
    thresholds = {"min_words": "word_count", "max_words": "word_count"}

    class Config(StepConfig):
        min_words: int = Field(50, description="reject documents with fewer whitespace-separated words")
        max_words: int | None = Field(100_000, description="reject documents with more words (null: no upper bound)")

    def annotate(self, table: pa.Table) -> pa.Table:
        return with_column(table, "word_count", pa.array(word_counts(table.column("text")), pa.int64()))

    def select(self, table: pa.Table) -> pa.Array:
        wc = table.column("word_count").to_numpy()
        rules = [("too_short", wc < self.config.min_words)]
        if self.config.max_words is not None:
            rules.append(("too_long", wc > self.config.max_words))
        return reasons_from_masks(len(table), rules)
