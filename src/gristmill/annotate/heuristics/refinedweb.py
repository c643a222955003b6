"""RefinedWeb's line-wise corrections (Penedo et al. 2023, "The RefinedWeb Dataset", Sec. 3.2 and
App. G.2), with the thresholds of DCLM's RefinedWeb reproduction (Li et al. 2024, DCLM
``baselines/baselines_configs/refinedweb.yaml``)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from gristmill.arrow import reasons_from_masks, with_column
from gristmill.step import Step, StepConfig, register

from .batch import _col, _f64, _i32, _np, _ratio, _split, _text_column
from .c4 import _join_lines
from .chars import _NONWS_CLASS, _WS, _WS_CLASS

_COUNTER = (r"^[^\pL\pN_]*\pN(?:,|\.|\pN)*[kmb]?" + _WS_CLASS + r"+(?:likes|shares|comments|retweets|reposts|quotes|"
            r"bookmarks|upvotes|downvotes|downloads|views|followers)[^\pL\pN_]*$")
# Menus: three or more short items separated by |, •, », › or ·
_NAV = r"^[^|•»›·]{1,40}(?:[|•»›·][^|•»›·]{1,40}){2,}$"
_WORD_TOKEN = _NONWS_CLASS + r"*[\pL\pN]" + _NONWS_CLASS + "*"


@register
class RefinedWebLines(Step):
    """RefinedWeb's line-wise corrections (Penedo et al. 2023, Sec. 3.2 "line-wise corrections").

    Removes lines that are mostly uppercase (more than 50 % uppercase characters, DCLM
    ``uppercase_ratio_line_modifier max_ratio=0.5``), only digits (DCLM ``numeric_ratio_line_modifier
    max_ratio=0.999999``), social counters such as "3 likes" (DCLM ``counter_line_modifier``), lines
    of fewer than ``min_words_per_line`` words (DCLM ``line_length_modifier min_length=2``), and
    navigation menus or stock boilerplate phrases (RefinedWeb's "navigation" examples; DCLM
    ``substring_line_modifier``). ``text`` is rewritten without them; the document is dropped when
    more than 5 % of its words went with them (DCLM ``word_removal_ratio_filter max_ratio=0.05``).
    Annotates ``refinedweb_lines_removed``, ``refinedweb_words_removed`` and their fraction."""

    name = "refinedweb_lines"
    thresholds = {"max_words_removed_ratio": "refinedweb_words_removed_ratio"}

    class Config(StepConfig):
        max_uppercase_ratio: float | None = Field(0.5, description="remove lines with more than this fraction of uppercase characters")
        max_numeric_ratio: float | None = Field(0.999999, description="remove lines with more than this fraction of digits")
        remove_counters: bool = Field(True, description="remove counter lines such as '12 likes' or '3 comments'")
        min_words_per_line: int | None = Field(2, description="remove lines with fewer words")
        remove_navigation: bool = Field(True, description="remove short navigation and boilerplate lines")
        boilerplate_phrases: list[str] = Field(["items in cart", "skip to content", "skip to main content",
                                          "all rights reserved", "log in to reply", "add to cart"], description="short lines containing one of these phrases are removed")
        max_words_removed_ratio: float = Field(0.05, description="reject documents that lost more than this fraction of words to line removal")
        rewrite_text: bool = Field(True, description="replace text by the surviving lines for kept documents")

    def annotate(self, table: pa.Table) -> pa.Table:
        c = self.config
        text = _text_column(table)
        n = len(table)
        lines, counts = _split(text, "\n", regex=False)
        doc = np.repeat(np.arange(n), counts)
        length = _np(pc.utf8_length(lines))
        words = _np(pc.count_substring_regex(lines, _WORD_TOKEN)) if len(lines) else np.zeros(0, np.int64)
        remove = np.zeros(len(lines), dtype=bool)
        if c.max_uppercase_ratio is not None:
            remove |= _ratio(_np(pc.count_substring_regex(lines, r"\p{Lu}")), length) > c.max_uppercase_ratio
        if c.max_numeric_ratio is not None:
            remove |= _ratio(_np(pc.count_substring_regex(lines, r"\p{Nd}")), length) > c.max_numeric_ratio
        low = pc.utf8_lower(lines)
        if c.remove_counters:
            remove |= _np(pc.match_substring_regex(low, _COUNTER))
        if c.min_words_per_line is not None:
            remove |= (words > 0) & (words < c.min_words_per_line)
        if c.remove_navigation:
            remove |= _np(pc.match_substring_regex(lines, _NAV)) & (words > 0)
            for p in c.boilerplate_phrases:
                remove |= _np(pc.match_substring(low, p.lower())) & (words <= 10)
        before = np.bincount(doc, weights=words, minlength=n)
        gone = np.bincount(doc[remove], weights=words[remove], minlength=n)
        lines_gone = np.bincount(doc[remove], minlength=n)
        self.stats["lines_removed"] += int(lines_gone.sum())
        self.stats["words_removed"] += int(gone.sum())
        t = table
        t = with_column(t, "refinedweb_lines_removed", _i32(lines_gone))
        t = with_column(t, "refinedweb_words_removed", _i32(gone))
        t = with_column(t, "refinedweb_words_removed_ratio", _f64(np.where(before > 0, gone / np.maximum(before, 1), 0.0)))
        if c.rewrite_text:
            keep = pc.is_null(self.select(t))
            new = pc.utf8_trim(_join_lines(lines, counts, ~remove), characters=_WS)
            t = with_column(t, "text", pc.if_else(pc.and_(keep, pa.array(lines_gone > 0)), new, text))
        return t

    def select(self, table: pa.Table) -> pa.Array:
        r = _col(table, "refinedweb_words_removed_ratio", self.name)
        return reasons_from_masks(len(table), [("too_many_words_removed", r > self.config.max_words_removed_ratio)])

