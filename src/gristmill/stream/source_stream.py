"""One consumer's cursor over one source: seeded shard order, a shuffle buffer, batch tokenization.

Documents of a source are numbered in each epoch by a seeded permutation of its read units (the
*shard order*, as MosaicML Streaming and LitData shuffle shards). The units are dealt to the
consumers (all ranks × all DataLoader workers) in that order, each to the consumer with the fewest
rows so far (greedy balancing): consumer ``c`` owns whole units and reads each of them once per
epoch, so a source is read once per epoch in total, not once per consumer (issue 20: with
striding, every worker read every unit for its stride of rows). The consumers still partition
every epoch: each document exactly once, none missed. With fewer units than consumers (or a unit
too few to give each consumer a row) the source falls back to striding rows: consumer ``c`` owns
positions ``c, c+N, c+2N, ...`` of the shard order.

A consumer reads its documents ``buffer`` at a time, shuffles that buffer with a seeded
permutation, tokenizes it in one ``encode_batch`` call and appends EOS to every document. The
token stream of a consumer is thus a pure function of (seed, epoch, block), so the whole cursor is
three integers: epoch, block, and the token offset inside the block. Resuming re-reads and
re-tokenizes one block, never more; memory is one buffer of documents plus one read unit,
independent of the corpus size.
"""
from __future__ import annotations

import zlib
from itertools import chain

import numpy as np

from gristmill.mix.spec import Source


TOKENIZE_BATCH = 64  # documents per encode_batch call; see _load_block
TOKEN_DTYPE = np.int32  # ids of any real vocabulary (< 2**31); half the memory of int64


class SourceExhausted(RuntimeError):
    """A source was read ``max_epochs`` times and the mixture still wants more of it."""


def _seed(*parts) -> list[int]:
    return [zlib.crc32(str(p).encode()) if not isinstance(p, int) else p & 0xFFFFFFFF for p in parts]


class SourceStream:
    def __init__(self, source: Source, consumer: int, consumers: int, buffer: int, seed: int, tokenizer, eos: int,
                 allow_repeat: bool, with_ids: bool, state: dict | None = None):
        self.src, self.c, self.n = source, consumer, consumers
        self.data = source.data
        self.buffer, self.seed, self.tok, self.eos = buffer, seed, tokenizer, eos
        self.allow_repeat, self.with_ids = allow_repeat, with_ids
        if self.data.total_rows < consumers:
            raise SourceExhausted(
                f"source {source.name!r} has {self.data.total_rows} documents, fewer than the {consumers} consumers "
                f"(ranks x DataLoader workers) that share it; use fewer workers or more data")
        st = state or {"epoch": 0, "block": 0, "pos": 0}
        self.epoch, self.block, self.pos = st["epoch"], st["block"], st["pos"]
        self.tokens: np.ndarray | None = None
        self.ids: np.ndarray | None = None
        self.starts: np.ndarray | None = None
        self._unit_cache: tuple[int, object] | None = None
        self._layout: tuple[int, np.ndarray, np.ndarray, bool] | None = None
        self._empty_blocks = 0
        self.docs_read = 0

    @property
    def mine(self) -> int:
        """Documents this consumer owns in the current epoch."""
        units, bounds, strided = self._epoch_layout(self.epoch)
        if strided:
            return max(0, (self.data.total_rows - self.c + self.n - 1) // self.n)
        return int(bounds[-1])

    def state(self) -> dict:
        return {"epoch": self.epoch, "block": self.block, "pos": self.pos}

    # -- reading -----------------------------------------------------------------------------------

    def _epoch_layout(self, epoch: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """(units in read order, their cumulative row bounds, strided?) of this consumer in ``epoch``."""
        if self._layout is not None and self._layout[0] == epoch:
            return self._layout[1:]
        order = np.random.default_rng(_seed(self.seed, self.src.key, "units", epoch)).permutation(len(self.data.units))
        rows = self.data.rows[order]
        strided = True
        if len(order) >= self.n:
            loads = np.zeros(self.n, np.int64)
            owner = np.empty(len(order), np.int64)
            for p, r in enumerate(rows.tolist()):  # greedy: the least loaded consumer, lowest number on a tie
                k = int(np.argmin(loads))
                owner[p] = k
                loads[k] += r
            if loads.min() > 0:
                strided = False
                order, rows = order[owner == self.c], rows[owner == self.c]
        bounds = np.concatenate([[0], np.cumsum(rows)])
        self._layout = (epoch, order, bounds, strided)
        return order, bounds, strided

    def _load_block(self) -> None:
        """Tokenize the current block (documents ``block*buffer ...`` of this consumer in this epoch)."""
        order, bounds, strided = self._epoch_layout(self.epoch)
        lo = self.block * self.buffer
        hi = min(lo + self.buffer, self.mine)
        g = np.arange(lo, hi, dtype=np.int64)
        if strided:
            g = self.c + self.n * g  # positions in the epoch's shard order
        upos = np.searchsorted(bounds, g, side="right") - 1
        texts: list[str] = []
        ids: list[np.ndarray] = []
        for p in np.unique(upos):  # ascending: units in shard order
            sel = g[upos == p] - bounds[p]
            unit = int(order[p])
            t, d = self._read(unit, sel)
            texts += t
            ids.append(d)
        doc_ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        perm = np.random.default_rng(_seed(self.seed, self.src.key, "buffer", self.epoch, self.c, self.block)).permutation(len(texts))
        texts = [texts[i] for i in perm]
        doc_ids = doc_ids[perm]
        self.docs_read = len(texts)
        if not texts:
            self.tokens = np.zeros(0, TOKEN_DTYPE)
            self.ids = self.starts = None
            return
        lens = np.empty(len(texts), np.int64)
        chunks = []
        # tokenize in sub-batches so the tokenizer's Encoding objects (token strings, offsets: ~10x
        # the ids) never exist for a whole buffer at once; 64 documents keep both cores busy
        for i in range(0, len(texts), TOKENIZE_BATCH):
            part = texts[i:i + TOKENIZE_BATCH]
            enc = self._encode(part)
            seqs = [e.ids for e in enc]
            n_ids = sum(map(len, seqs))
            arr = np.empty(n_ids + len(seqs), TOKEN_DTYPE)
            plens = np.fromiter(map(len, seqs), np.int64, len(seqs)) + 1
            ends = np.cumsum(plens)
            body = np.ones(len(arr), bool)
            body[ends - 1] = False
            arr[body] = np.fromiter(chain.from_iterable(seqs), TOKEN_DTYPE, n_ids)
            arr[ends - 1] = self.eos
            chunks.append(arr)
            lens[i:i + len(part)] = plens
            del enc, seqs
        self.tokens = np.concatenate(chunks)
        if self.with_ids:
            ends = np.cumsum(lens)
            self.ids = np.repeat(doc_ids, lens)
            self.starts = np.zeros(len(self.tokens), bool)
            self.starts[ends - lens] = True
        else:
            self.ids = self.starts = None

    def _encode(self, texts: list[str]):
        fast = getattr(self.tok, "encode_batch_fast", None)  # tokenizers >= 0.21: no offsets, same ids
        return fast(texts, add_special_tokens=False) if fast else self.tok.encode_batch(texts, add_special_tokens=False)

    def _read(self, unit: int, rows: np.ndarray):
        # one unit cached: consecutive blocks of a consumer mostly fall in the same row group
        if self._unit_cache is None or self._unit_cache[0] != unit:
            pi, u = self.data.units[unit]
            self._unit_cache = None  # release the previous unit before reading the next
            self._unit_cache = (unit, self.data.parts[pi].read_unit(u))
        table = self._unit_cache[1]
        return self.data.read_table(unit, table, rows)

    def _advance(self) -> bool:
        """Move to the next block; False when the source is used up (its cap reached)."""
        self.block += 1
        self.pos = 0
        self.tokens = None
        if self.block * self.buffer >= self.mine:
            if self.epoch + 1 >= self.src.max_epochs and not self.allow_repeat:
                self.block -= 1  # stay at the end of the last block: the state still says "used up"
                self.pos = -1
                return False
            self.epoch += 1
            self.block = 0
        return True

    # -- taking ------------------------------------------------------------------------------------

    def take(self, n: int):
        """Up to ``n`` tokens (fewer only when the source is used up), their doc ids and start flags."""
        toks, ids, starts = [], [], []
        need = n
        while need > 0:
            if self.pos < 0:
                break
            if self.tokens is None:
                self._load_block()
                if len(self.tokens) == 0:
                    self._empty_blocks += 1
                    if self._empty_blocks > 2 * (self.mine // self.buffer + 1) * max(1, self.src.max_epochs):
                        raise SourceExhausted(f"source {self.src.name!r}: no document of this consumer passes its where: filter")
                    if not self._advance():
                        break
                    continue
                self._empty_blocks = 0
            if self.pos >= len(self.tokens):
                if not self._advance():
                    break
                continue
            k = min(need, len(self.tokens) - self.pos)
            toks.append(self.tokens[self.pos:self.pos + k])
            if self.with_ids:
                ids.append(self.ids[self.pos:self.pos + k])
                starts.append(self.starts[self.pos:self.pos + k])
            self.pos += k
            need -= k
        cat = (lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt))
        return cat(toks, TOKEN_DTYPE), (cat(ids, np.int64) if self.with_ids else None), (cat(starts, bool) if self.with_ids else None)

    @property
    def exhausted(self) -> bool:
        return self.pos < 0
