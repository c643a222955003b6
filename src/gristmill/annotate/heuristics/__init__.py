"""Published heuristic quality rules: Gopher, C4, FineWeb, and RefinedWeb-style line corrections.

Every step annotates the values it measures (prefixed columns) and selects on those columns only, so
a new threshold means re-running selection, not recomputing. Decisions match DataTrove 0.10's
filters (``benchmarks/bench_heuristics.py`` measures the agreement) but are computed batch-wise:
Arrow/numpy for everything that counts lines, paragraphs and duplicates; the word split, the
per-token facts and Gopher's n-gram counts run in compiled kernels (``gristmill/_native.pyx``)
when they are built, and in pure Python with the same results when they are not.

Words: DataTrove splits English with spaCy's rule tokenizer (``spacy.blank("en")``). The ratios below
count punctuation tokens too, so a whitespace split would shift them; :func:`split_words` ports
spaCy's tokenizer loop and English rules (prefixes, suffixes, infixes, exceptions, URLs), so the
tokens are spaCy's without spaCy at run time.

The package keeps one concept per module, as DataTrove's ``filters/`` and Dolma's ``taggers/`` do:
:mod:`.gopher`, :mod:`.c4`, :mod:`.fineweb` and :mod:`.refinedweb` hold the rule families;
:mod:`.spacy_rules`, :mod:`.tokenizer` and :mod:`.native` the word tokenizer (its data, its Python
loop and the bridge to the compiled matcher); :mod:`.backend` which of the two runs; :mod:`.words`
the vocabulary of token ids; :mod:`.batch` and :mod:`.chars` the shared helpers.
"""
from __future__ import annotations

from .backend import BACKEND, pure_python
from .c4 import C4Quality, count_sentences
from .fineweb import FineWebQuality
from .gopher import GOPHER_STOP_WORDS, GopherQuality, GopherRepetition
from .refinedweb import RefinedWebLines
from .words import split_words

__all__ = ["GopherQuality", "GopherRepetition", "C4Quality", "FineWebQuality", "RefinedWebLines", "split_words",
           "count_sentences", "pure_python", "BACKEND", "GOPHER_STOP_WORDS"]
