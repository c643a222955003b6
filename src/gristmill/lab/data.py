"""Where the lab's tokens come from: a mixture through `gristmill.stream.MixtureDataset`, or plain
text files packed here (jsonl/parquet/txt, or a gristmill output directory), plus held-out sets."""
from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import torch

from gristmill.lab.tokenizer import LabTokenizer


def expand(patterns: list[str] | str, base: Path | None = None) -> list[Path]:
    """Files named by paths, globs or directories (gristmill.io.paths; a gristmill output dir
    contributes data/*.parquet)."""
    from gristmill.io.paths import JSONL, PARQUET, TEXT, PathsError, expand as expand_paths

    try:
        return [f for f, _ in expand_paths(patterns, JSONL + PARQUET + TEXT + (".gz", ".zst"), base=base)]
    except PathsError as e:
        if e.kind == "missing":
            raise ValueError(f"{e.pattern}: no such file (paths resolve against {base or Path.cwd()})") from None
        raise ValueError(f"{e.pattern}: a directory with no .jsonl/.parquet/.txt files and no data/") from None


def _open_text(p: Path):
    if p.name.endswith(".gz"):
        return gzip.open(p, "rt", encoding="utf-8")
    if p.name.endswith(".zst"):
        import zstandard

        return io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(open(p, "rb")), encoding="utf-8")
    return open(p, encoding="utf-8")


def read_texts(patterns: list[str] | str, base: Path | None = None, text_field: str = "text") -> list[str]:
    """Every document's text, in file order. A record without a string `text` is an error: the lab
    reads curated outputs, where that cannot happen, so it means the wrong file was named."""
    texts: list[str] = []
    for p in expand(patterns, base):
        name = p.name.removesuffix(".gz").removesuffix(".zst")
        if name.endswith(".parquet"):
            import pyarrow.parquet as pq

            col = pq.read_table(p, columns=[text_field]).column(text_field).to_pylist()
            texts += [t for t in col if isinstance(t, str) and t]
        elif name.endswith((".jsonl", ".json")):
            from gristmill.io.readers import json_lines  # gzip/zstd by content; a wrong format says what it is

            for i, line in json_lines(p):
                try:
                    rec = json.loads(line)
                except (ValueError, RecursionError) as e:
                    raise ValueError(f"{p} line {i}: not JSON ({e})") from None
                t = rec.get(text_field) if isinstance(rec, dict) else None
                if not isinstance(t, str):
                    raise ValueError(f"{p} line {i}: no string field {text_field!r}")
                if t:
                    texts.append(t)
        else:  # a text file is one document
            with _open_text(p) as f:
                texts.append(f.read())
    if not texts:
        raise ValueError(f"{patterns}: no documents")
    return texts


class PackedTexts(torch.utils.data.IterableDataset):
    """Documents (each followed by EOS) concatenated and cut into `seq_len` windows; every epoch a
    fresh seeded document order. The state is the number of windows taken, so a resume is exact and
    O(1). Holds the tokenized corpus in memory: meant for lab-sized files; mixtures of any size go
    through `MixtureDataset`."""

    def __init__(self, texts: list[str], tokenizer: LabTokenizer, seq_len: int, seed: int = 0):
        self.docs = [np.asarray(ids + [tokenizer.eos_id], dtype=np.int64) for ids in tokenizer.encode_batch(texts)]
        self.epoch_len = int(sum(len(d) for d in self.docs))
        if self.epoch_len < seq_len:
            raise ValueError(f"the data holds {self.epoch_len} tokens, fewer than one sequence of {seq_len}")
        self.seq_len, self.seed, self.taken = seq_len, seed, 0
        self._cache: dict[int, np.ndarray] = {}

    def _epoch(self, e: int) -> np.ndarray:
        if e not in self._cache:
            perm = np.random.default_rng([self.seed, e]).permutation(len(self.docs))
            self._cache = {k: v for k, v in self._cache.items() if k == e - 1}
            self._cache[e] = np.concatenate([self.docs[i] for i in perm])
        return self._cache[e]

    def window(self, k: int) -> np.ndarray:
        start, end = k * self.seq_len, (k + 1) * self.seq_len
        parts, pos = [], start
        while pos < end:
            e, off = divmod(pos, self.epoch_len)
            take = min(end - pos, self.epoch_len - off)
            parts.append(self._epoch(e)[off:off + take])
            pos += take
        return np.concatenate(parts)

    def __iter__(self):
        while True:
            w = self.window(self.taken)
            self.taken += 1
            yield {"input_ids": torch.from_numpy(w), "source": "data"}

    def state_dict(self) -> dict:
        return {"taken": self.taken}

    def load_state_dict(self, s: dict) -> None:
        self.taken = int(s["taken"])


def open_stream(cfg, tok: LabTokenizer, base: Path, tokens_needed: int | None = None):
    """The training stream a config names: `mixture:` (MixtureDataset) or `data:` (PackedTexts)."""
    if cfg.mixture:
        try:
            from gristmill.stream import MixtureDataset
        except ImportError as e:  # the stream package is issue 10; say so rather than fail obscurely
            raise ValueError(f"mixture: {cfg.mixture}: gristmill.stream is not available ({e}); "
                             "use `data:` with files instead") from e
        if tok.hf is None:
            raise ValueError("mixture: MixtureDataset needs a tokenizers JSON file, not `tokenizer: bytes`")
        mix = Path(cfg.mixture) if Path(cfg.mixture).is_absolute() else base / cfg.mixture
        # the budget goes to the stream so it plans repetition up front and fails early when a source
        # would have to repeat past its cap; a curriculum's phases carry their own budgets
        from gristmill.mix.spec import load_mixture

        m = load_mixture(str(mix))
        budget = None if m.is_curriculum else tokens_needed
        ds = MixtureDataset(str(mix), tokenizer=tok.spec, seq_len=cfg.seq_len, seed=cfg.seed, tokens=budget)
        # a curriculum's phases cap what it can give (whole sequences per phase, as MixtureDataset counts
        # them): known before training, so a budget past it is said up front (lab/train.py)
        ds.planned_sequences = (sum(max(1, p.tokens // cfg.seq_len) for p in m.phases)
                                if m.is_curriculum and all(p.tokens for p in m.phases) else None)
        return ds
    return PackedTexts(read_texts(cfg.data, base), tok, cfg.seq_len, cfg.seed)


class EvalSet:
    """A held-out set cut into windows, with its UTF-8 byte count (each EOS counts one byte, the
    separator any tokenizer must predict), so bits per byte compare across tokenizers."""

    def __init__(self, name: str, texts: list[str], tok: LabTokenizer, seq_len: int, max_bytes: int):
        kept, n = [], 0
        for t in texts:  # a deterministic prefix of the set, so every eval sees the same bytes
            if n >= max_bytes:
                break
            kept.append(t)
            n += len(t.encode("utf-8")) + 1
        self.name, self.n_bytes, self.n_docs = name, n, len(kept)
        ids = np.concatenate([np.asarray(x + [tok.eos_id], dtype=np.int64) for x in tok.encode_batch(kept)])
        # windows of seq_len+1 overlapping by one token: every token but the very first is predicted once
        L = seq_len
        starts = range(0, max(len(ids) - 1, 1), L)
        self.windows = [torch.from_numpy(ids[s:s + L + 1]) for s in starts if len(ids[s:s + L + 1]) >= 2]
        self.tokens = torch.from_numpy(ids[1:])  # the predicted tokens, for the unigram baseline

    @classmethod
    def from_paths(cls, patterns, tok, seq_len, max_bytes, base=None) -> list["EvalSet"]:
        sets = []
        for p in expand(patterns, base):
            name = p.name.split(".")[0] if p.parent.name != "data" else p.parent.parent.name
            sets.append(cls(name, read_texts([str(p)]), tok, seq_len, max_bytes))
        names = [s.name for s in sets]
        seen: dict[str, int] = {}
        for s in sets:  # the same name twice: number them (each set keeps its own key in bpb dicts)
            if names.count(s.name) > 1:
                seen[s.name] = seen.get(s.name, -1) + 1
                s.name = f"{s.name}#{seen[s.name]}"
        return sets


@torch.no_grad()
def bits_per_byte(model, es: EvalSet, batch_size: int = 16) -> float:
    import math

    was = model.training
    model.eval()
    nll = 0.0
    wins = es.windows
    for i in range(0, len(wins), batch_size):
        chunk = wins[i:i + batch_size]
        for w in ([chunk] if len({len(x) for x in chunk}) == 1 else [[x] for x in chunk]):
            b = torch.stack(w)
            _, loss = model(b[:, :-1], b[:, 1:], reduction="sum")
            nll += float(loss)
    model.train(was)
    return nll / math.log(2) / es.n_bytes


def unigram_bpb(counts: torch.Tensor, es: EvalSet) -> float:
    """Bits per byte of a unigram model fit on the training tokens (add-one smoothing, Laplace)."""
    p = (counts.double() + 1) / (counts.double().sum() + counts.numel())
    return float(-torch.log2(p[es.tokens]).sum()) / es.n_bytes
