"""Tokenizers: load any Hugging Face ``tokenizers`` JSON file, find its EOS, train a byte-level BPE.

The tokenizer is a run-time choice (OpenELM tokenizes on the fly so the tokenizer is a
hyperparameter, Mehta et al. 2024, Sec. 3.1), so nothing is stored pre-tokenized.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

# End-of-document tokens of common tokenizer families, tried in order when the mixture names none:
# GPT-2/NeoX/Llama-3 style first, then SentencePiece-style and BERT-style.
EOS_CANDIDATES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|eos|>", "[EOS]", "<|im_end|>", "[SEP]")


class TokenizerError(ValueError):
    """A tokenizer file that does not load, or has no end-of-document token."""


def load_tokenizer(path: str | Path, eos: str | None = None):
    """The tokenizer and its EOS id; raises :class:`TokenizerError` naming the file and the fix."""
    from tokenizers import Tokenizer

    p = Path(path)
    if not p.is_file():
        raise TokenizerError(f"tokenizer {str(path)!r}: file not found; give an HF tokenizers JSON file "
                             "(train one with `gristmill tokenizer train OUT -o tok.json`)")
    try:
        tok = Tokenizer.from_file(str(p))
    except Exception as e:
        raise TokenizerError(f"tokenizer {str(path)!r} does not load as an HF tokenizers file: {e}") from None
    names = [eos] if eos else list(EOS_CANDIDATES)
    for n in names:
        i = tok.token_to_id(n)
        if i is not None:
            return tok, i
    if eos:
        raise TokenizerError(f"tokenizer {str(path)!r} has no token {eos!r}; set eos: to one of its special tokens")
    raise TokenizerError(f"tokenizer {str(path)!r} has none of the usual end-of-document tokens "
                         f"({', '.join(EOS_CANDIDATES)}); set eos: in the mixture")


def train_bpe(texts: Iterable[str], vocab_size: int, out: str | Path, min_frequency: int = 2,
              eos: str = "<|endoftext|>") -> Path:
    """Train a byte-level BPE (GPT-2's scheme, Radford et al. 2019) and save it as one JSON file.

    ``min_frequency=2`` is the default of ``tokenizers``' ``ByteLevelBPETokenizer.train``; ``eos``
    is GPT-2's end-of-text token, so the result drops into nanoGPT-style code unchanged.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[eos],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from gristmill.engine.atomic import atomic_path

    with atomic_path(out) as tmp:
        tok.save(str(tmp))
    return out


def iter_texts(paths: list[str], text_field: str = "text", max_docs: int | None = None) -> Iterator[str]:
    """Texts of curated outputs (OUT/data/*.parquet) or parquet/jsonl files, in batches of a row group."""
    from gristmill.mix.sources import Part, SourceData

    part = Part(paths=paths, text_field=text_field)
    part.scan()
    data = SourceData([part])
    import numpy as np

    n = 0
    for u in range(len(data.units)):
        texts, _ = data.read(u, np.arange(data.rows[u]))
        for t in texts:
            yield t
            n += 1
            if max_docs is not None and n >= max_docs:
                return
