"""`gristmill tokenizer compare`: several tokenizers on the same held-out text, per source and per language.

OpenELM tokenizes on the fly so that the tokenizer is a hyperparameter (Mehta et al. 2024, Sec. 3.1);
this measures what each candidate does to the text before any model is trained:

- **bytes per token**: UTF-8 bytes of the text over its tokens (the compression a model's context gains);
- **fertility**: tokens per whitespace-separated word (Rust et al. 2021, "How Good is Your Tokenizer?",
  Sec. 3; meaningless for scripts without spaces, which then show a high figure);
- **unknown rate**: share of tokens that are the tokenizer's unknown token (text it cannot represent);
- **byte-fallback rate**: share of tokens that are not a whole character (a single byte of a multi-byte
  UTF-8 character: byte-level BPE's and SentencePiece's fallback for characters outside the vocabulary);
- **vocabulary use**: share of the vocabulary that occurs at least once (a large vocabulary mostly
  unused on the target text is parameters spent on nothing).

Tokenizers: ``bytes`` (the lab's built-in byte tokenizer), ``bpe:N`` (a byte-level BPE of N entries trained
here with Hugging Face ``tokenizers`` on the training split, gristmill.stream.tokenizer.train_bpe), or
any ``tokenizers`` JSON file. Every document goes to the training or the held-out split by a hash of its
text, so duplicates never straddle the split and every tokenizer is measured on the same held-out text.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAX_VOCAB = 1_000_000  # bpe:N above this is a typo, not a tokenizer this machine can train
_BPE = re.compile(r"^bpe:(\d+)$")


class CompareError(ValueError):
    """A tokenizer spec or input that cannot be used; the message names it and the fix."""


@dataclass
class Spec:
    name: str
    kind: str  # bytes | bpe | file
    vocab_size: int | None = None
    path: Path | None = None


def parse_spec(s: str) -> Spec:
    """`bytes`, `bpe:N` or a tokenizers JSON file."""
    s = s.strip()
    if s == "bytes":
        return Spec("bytes", "bytes", 257)
    m = _BPE.match(s)
    if m:
        n = int(m.group(1))
        if not 257 <= n <= MAX_VOCAB:
            raise CompareError(f"--tokenizer {s}: a byte-level BPE needs 257..{MAX_VOCAB:,} entries "
                               "(256 bytes plus the end-of-text token, and more for merges)")
        return Spec(f"bpe:{n}", "bpe", n)
    if s.startswith("bpe"):
        raise CompareError(f"--tokenizer {s!r}: write bpe:N with N the vocabulary size, e.g. bpe:4000")
    p = Path(s)
    if not p.is_file():
        raise CompareError(f"--tokenizer {s!r}: not `bytes`, not `bpe:N` and no such file "
                           "(give a Hugging Face tokenizers JSON file)")
    return Spec(p.name, "file", path=p)


class Measured:
    """A tokenizer reduced to what the comparison needs: batch encoding, the vocabulary size, which ids are
    an unknown token, which are not a whole character. No end-of-text token is required (unlike the lab)."""

    def __init__(self, spec: Spec, tokenizer_file: Path | None = None):
        self.spec = spec
        if spec.kind == "bytes":
            self.hf = None
            self.vocab_size = 257
            self.partial = np.zeros(257, dtype=bool)
            self.partial[128:256] = True  # a byte >= 0x80 is a piece of a multi-byte character
            self.unk = None
            return
        from tokenizers import Tokenizer

        f = tokenizer_file or spec.path
        try:
            self.hf = Tokenizer.from_file(str(f))
        except Exception as e:
            raise CompareError(f"--tokenizer {f}: does not load as a Hugging Face tokenizers file ({e})") from None
        self.vocab_size = self.hf.get_vocab_size(with_added_tokens=True)
        # one decode per entry: a lone piece of a multi-byte character decodes to U+FFFD under the byte-level
        # and byte-fallback decoders alike, so this needs no knowledge of the tokenizer's family
        pieces = self.hf.decode_batch([[i] for i in range(self.vocab_size)], skip_special_tokens=False)
        self.partial = np.array(["\ufffd" in p for p in pieces], dtype=bool)
        unk = getattr(self.hf.model, "unk_token", None)
        self.unk = self.hf.token_to_id(unk) if isinstance(unk, str) else None
        if self.unk is not None:
            self.partial[self.unk] = False

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        if self.hf is None:
            return [np.frombuffer(t.encode("utf-8"), dtype=np.uint8).astype(np.int64) for t in texts]
        return [np.asarray(e.ids, dtype=np.int64) for e in self.hf.encode_batch(texts, add_special_tokens=False)]


@dataclass
class Group:
    bytes: int = 0
    tokens: int = 0
    words: int = 0
    docs: int = 0
    unknown: int = 0
    fallback: int = 0
    seen: set = field(default_factory=set)

    def add(self, text: str, ids: np.ndarray, tok: Measured) -> None:
        self.bytes += len(text.encode("utf-8"))
        self.tokens += len(ids)
        self.words += len(text.split())
        self.docs += 1
        if len(ids):
            if tok.unk is not None:
                self.unknown += int((ids == tok.unk).sum())
            self.fallback += int(tok.partial[ids].sum())
            self.seen.update(np.unique(ids).tolist())

    def row(self, vocab_size: int) -> dict:
        return {"documents": self.docs, "bytes": self.bytes, "tokens": self.tokens, "words": self.words,
                "bytes_per_token": self.bytes / self.tokens if self.tokens else None,
                "fertility": self.tokens / self.words if self.words else None,
                "unknown_rate": self.unknown / self.tokens if self.tokens else None,
                "byte_fallback_rate": self.fallback / self.tokens if self.tokens else None,
                "vocab_used": len(self.seen), "vocab_use": len(self.seen) / vocab_size}


def heldout(text: str, share: float) -> bool:
    """The document's split, from a hash of its text (stable across runs, machines and input order)."""
    h = int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")
    return h / 2**64 < share


def read_documents(inputs: list[str], text_field: str = "text", language_field: str = "language",
                   max_docs: int | None = None, max_bytes: int | None = None) -> list[tuple[str, str | None, str]]:
    """(source, language or None, text) of every document, reading at most ``max_docs`` documents and
    ``max_bytes`` of text per input. A source is one input as named (a gristmill output, a file, a glob);
    the language is the stored column (gristmill's ``langid`` writes ``language``) when the files have it."""
    from gristmill.mix.sources import Part, SourceError

    out: list[tuple[str, str | None, str]] = []
    names: dict[str, int] = {}
    for inp in inputs:
        part = Part(paths=[inp], text_field=text_field)
        try:
            part.scan()
        except SourceError as e:
            raise CompareError(str(e)) from None
        p = Path(inp.rstrip("/"))
        name = p.name.split(".")[0] if p.name != "data" else p.parent.name
        names[name] = names.get(name, 0) + 1
        if names[name] > 1:
            name = f"{name}#{names[name] - 1}"
        has_lang = language_field in part.columns
        cols = [text_field] + ([language_field] if has_lang else [])
        n = nbytes = 0
        for u in range(len(part.units)):
            fi, g, rows, a, b = part.units[u]
            f = part.files[fi]
            if g >= 0:
                import pyarrow.parquet as pq

                t = pq.ParquetFile(f).read_row_group(g, columns=cols)
            else:
                from gristmill.io.units import UnitError, read_jsonl_unit

                try:
                    t = read_jsonl_unit(f, a, b, rows)
                except UnitError as e:
                    raise CompareError(str(e)) from None
            texts = t.column(text_field).to_pylist()
            langs = (t.column(language_field).to_pylist() if has_lang and language_field in t.column_names
                     else [None] * len(texts))
            for text, lang in zip(texts, langs):
                if not isinstance(text, str) or not text:
                    continue  # a null or non-string text is not a document to measure
                out.append((name, lang if isinstance(lang, str) and lang else None, text))
                n += 1
                nbytes += len(text.encode("utf-8", "surrogatepass"))
                if (max_docs is not None and n >= max_docs) or (max_bytes is not None and nbytes >= max_bytes):
                    break
            else:
                continue
            break
    if not out:
        raise CompareError(f"{', '.join(inputs)}: no documents")
    return out


def compare(inputs: list[str], tokenizers: list[str], out: Path, heldout_share: float = 0.1,
            text_field: str = "text", language_field: str = "language", max_docs: int | None = None,
            max_bytes: int | None = 50_000_000, min_frequency: int = 2, say=None) -> dict:
    """Train what needs training on the training split, measure every tokenizer on the held-out split and
    write OUT/tokenizer_compare.json (trained BPEs: OUT/bpe-N.json, usable as `--tokenizer` or in the lab)."""
    if not 0 < heldout_share < 1:
        raise CompareError(f"--heldout-share {heldout_share}: must be between 0 and 1 (0.1 holds out a tenth)")
    specs = [parse_spec(s) for s in tokenizers]
    if len({s.name for s in specs}) < len(specs):
        raise CompareError(f"--tokenizer given twice: {', '.join(tokenizers)}")
    docs = read_documents(inputs, text_field, language_field, max_docs, max_bytes)
    train = [d for d in docs if not heldout(d[2], heldout_share)]
    test = [d for d in docs if heldout(d[2], heldout_share)]
    if not test or not train:
        raise CompareError(f"{len(docs)} document(s): too few to split {heldout_share:.0%} held out "
                           "(give more documents or change --heldout-share)")
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"inputs": inputs, "heldout_share": heldout_share, "documents": {"train": len(train), "heldout": len(test)},
                     "split": "by blake2b of the document text", "tokenizers": {}, "groups": {}}
    languages = sorted({d[1] for d in test if d[1]})
    for spec in specs:
        f = None
        if spec.kind == "bpe":
            from gristmill.stream.tokenizer import train_bpe

            f = out / f"bpe-{spec.vocab_size}.json"
            if say:
                say(f"training {spec.name} on {len(train):,} documents")
            train_bpe((d[2] for d in train), spec.vocab_size, f, min_frequency)
        tok = Measured(spec, f)
        groups: dict[str, Group] = defaultdict(Group)
        for i in range(0, len(test), 256):
            chunk = test[i:i + 256]
            for (src, lang, text), ids in zip(chunk, tok.encode_batch([d[2] for d in chunk])):
                keys = ["all", f"source={src}"]
                if lang:
                    keys += [f"language={lang}", f"source={src} language={lang}"]
                for k in keys:
                    groups[k].add(text, ids, tok)
        results["tokenizers"][spec.name] = {"kind": spec.kind, "vocab_size": tok.vocab_size,
                                            "file": str(f or spec.path) if (f or spec.path) else None,
                                            "trained_on": ({"documents": len(train), "min_frequency": min_frequency}
                                                           if spec.kind == "bpe" else None)}
        for k, g in groups.items():
            results["groups"].setdefault(k, {})[spec.name] = g.row(tok.vocab_size)
    results["languages"] = languages
    from gristmill.engine.atomic import atomic_path

    with atomic_path(out / "tokenizer_compare.json") as tmp:
        Path(tmp).write_text(json.dumps(results, indent=2))
    return results


def print_compare(results: dict, console) -> None:
    from rich.table import Table

    def f(v, fmt):
        return "-" if v is None else fmt.format(v)

    order = sorted(results["groups"], key=lambda k: (k != "all", k.startswith("source=") and "language=" in k, k))
    t = Table(title=f"tokenizers on the held-out {results['heldout_share']:.0%} "
                    f"({results['documents']['heldout']:,} documents; trained on the other {results['documents']['train']:,})")
    for c, j in (("group", "left"), ("tokenizer", "left"), ("vocab", "right"), ("bytes/token", "right"),
                 ("tokens/word", "right"), ("unknown", "right"), ("byte fallback", "right"), ("vocab use", "right")):
        t.add_column(c, justify=j)
    for k in order:
        for i, (name, r) in enumerate(results["groups"][k].items()):
            t.add_row(k if i == 0 else "", name, f"{results['tokenizers'][name]['vocab_size']:,}",
                      f(r["bytes_per_token"], "{:.3f}"), f(r["fertility"], "{:.3f}"), f(r["unknown_rate"], "{:.2%}"),
                      f(r["byte_fallback_rate"], "{:.2%}"), f(r["vocab_use"], "{:.1%}"),
                      end_section=i == len(results["groups"][k]) - 1)
    console.print(t)
