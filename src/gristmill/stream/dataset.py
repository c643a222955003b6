"""MixtureDataset: a mixture or curriculum file streamed as packed, exactly resumable sequences.

Every consumer (one per rank and DataLoader worker) runs the same small program on its own share of
each source: draw the next source *stratified* (the source whose count lags its weight most, i.e.
smooth weighted round-robin, so every prefix is within one sequence of the weights per consumer),
take ``seq_len`` tokens from that source's packed token stream (:mod:`.source_stream`), yield. All
state is a few integers per source, so ``state_dict()`` is exact and cheap, and a resumed run yields
the same ``input_ids`` as an uninterrupted one.

Proportion tolerance (documented bound, checked by the tests): per consumer, after any number of
sequences the count of each source differs from ``weight × sequences`` by less than 1; in any
window it is off by less than 2 sequences. A DataLoader with W workers interleaves W consumers, so a
window of L sequences is off by less than 2·W sequences per source (with W = 2 and L = 1,000:
under 0.4 percentage points).
"""
from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from gristmill.mix.plan import check_plan, plan_mixture
from gristmill.mix.spec import Mixture, MixtureError, load_mixture
from gristmill.stream.source_stream import SourceExhausted, SourceStream
from gristmill.stream.tokenizer import TokenizerError, load_tokenizer

# 2: units are dealt to consumers (each read once per epoch); a version-1 state strided rows, so
# its cursor means other documents
STATE_VERSION = 2


class MixtureDataset(IterableDataset):
    """A torch ``IterableDataset`` of ``{"input_ids": LongTensor[seq_len], "source": str, ...}``.

    Args:
        mixture: a mixture or curriculum YAML file (or a loaded :class:`~gristmill.mix.spec.Mixture`).
        tokenizer: an HF ``tokenizers`` JSON file; overrides the file's ``tokenizer:``.
        seq_len, seed: override the file's values.
        rank, world_size: this process's data-parallel rank; by default taken from
            ``torch.distributed`` when it is initialized, else 0 and 1.
        document_boundaries: also yield ``doc_starts`` (bool, True at each document's first token)
            and ``doc_ids`` (the document's number in its source, -1 on padding) so a trainer can
            block cross-document attention.
        tokens: a total token budget for a single-phase mixture (overrides ``tokens:``).
        check: plan the budgets before streaming and fail early when one needs forbidden repetition.

    ``state_dict()`` / ``load_state_dict()`` describe the iterator of *this* process. With DataLoader
    workers each worker holds its own iterator, so save and load through torchdata's
    ``StatefulDataLoader``, which calls them inside every worker; resume with the same world size
    and ``num_workers`` (the state names its consumer and refuses another).

    Each example also carries ``phase`` and ``num_tokens`` (``seq_len`` except for the padded last
    sequence of a mixture without a budget, which ends when its first source runs out).
    """

    def __init__(self, mixture, tokenizer: str | os.PathLike | None = None, seq_len: int | None = None,
                 seed: int | None = None, *, rank: int | None = None, world_size: int | None = None,
                 document_boundaries: bool = False, tokens: int | None = None, check: bool = True):
        super().__init__()
        if seq_len is not None and seq_len < 2:
            raise MixtureError(f"seq_len={seq_len}: a sequence needs at least 2 tokens (an input and its target)")
        if isinstance(mixture, Mixture):
            self.mix = mixture
        else:
            overrides = {"tokenizer": str(tokenizer) if tokenizer else None, "seq_len": seq_len, "seed": seed}
            self.mix = load_mixture(mixture, **overrides)
        if tokens is not None:
            if self.mix.is_curriculum:
                raise MixtureError(f"{self.mix.path}: tokens= overrides a single-phase mixture; a curriculum's phases carry their budgets")
            import dataclasses

            self.mix = dataclasses.replace(self.mix, phases=[dataclasses.replace(self.mix.phases[0], tokens=int(tokens))])
        spec = self.mix.spec
        if not spec.tokenizer:
            raise MixtureError(f"{self.mix.path}: no tokenizer; set tokenizer: in the file or pass tokenizer=")
        self.tokenizer_path = spec.tokenizer
        self.seq_len = spec.seq_len
        self.seed = spec.seed
        self.document_boundaries = document_boundaries
        self._rank, self._world = rank, world_size
        if (rank is None) != (world_size is None):
            raise ValueError("give both rank= and world_size=, or neither")
        if world_size is not None and not (0 <= rank < world_size):
            raise ValueError(f"rank={rank} is outside world_size={world_size}")
        try:
            self._tok, self.eos_id = load_tokenizer(spec.tokenizer, spec.eos)
        except TokenizerError as e:
            raise MixtureError(f"{self.mix.path}: {e}") from None
        self.vocab_size = self._tok.get_vocab_size()
        self._tok_hash = hashlib.sha256(Path(spec.tokenizer).read_bytes()).hexdigest()[:16]
        if check and any(p.tokens is not None for p in self.mix.phases):
            check_plan(self.mix, plan_mixture(self.mix, self._tok))
        self._state: dict | None = None
        self._resume: dict | None = None

    # -- pickling for DataLoader workers: the tokenizer is reloaded in each process -----------------

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_tok"] = None
        return d

    def _tokenizer(self):
        if self._tok is None:
            self._tok, _ = load_tokenizer(self.tokenizer_path, self.mix.spec.eos)
        return self._tok

    # -- who am I ------------------------------------------------------------------------------------

    def _consumer(self) -> tuple[int, int]:
        rank, world = self._rank, self._world
        if rank is None:
            rank, world = 0, 1
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        return rank * nw + wid, world * nw

    def _fingerprint(self) -> str:
        budgets = ",".join(str(p.tokens) for p in self.mix.phases)
        return f"{self.mix.fingerprint()}-{self._tok_hash}-{self.seq_len}-{self.seed}-{budgets}"

    def _fresh_state(self, c: int, n: int) -> dict:
        return {"gristmill_mixture_state": STATE_VERSION, "fingerprint": self._fingerprint(), "consumer": c, "consumers": n,
                "phase": 0, "emitted": 0, "counts": {}, "streams": {}, "tokens": {}, "done": False}

    # -- state ---------------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """The exact position of the live iterator (a fresh start if none); plain ints and strings."""
        if self._state is not None:
            return copy.deepcopy(self._state)
        if self._resume is not None:
            return copy.deepcopy(self._resume)
        c, n = self._consumer()
        return self._fresh_state(c, n)

    def load_state_dict(self, state: dict) -> None:
        """Make the next ``iter()`` continue exactly where the saved iterator stopped."""
        if not isinstance(state, dict) or not state.get("gristmill_mixture_state"):
            raise ValueError("not a MixtureDataset state (expected the dict MixtureDataset.state_dict() returns)")
        if state["gristmill_mixture_state"] != STATE_VERSION:
            raise ValueError(f"this state was saved by a gristmill whose stream assigned documents differently (state version "
                             f"{state['gristmill_mixture_state']}, this one reads {STATE_VERSION}); restart the epoch or resume "
                             "with the gristmill that saved it")
        if state["fingerprint"] != self._fingerprint():
            raise ValueError("this state belongs to a different mixture, tokenizer, seq_len or seed "
                             f"({state['fingerprint']} vs {self._fingerprint()}); resume with the same settings")
        self._resume = copy.deepcopy(state)
        self._state = None

    # -- iteration -----------------------------------------------------------------------------------

    def _quota(self, phase_tokens: int | None, c: int, n: int) -> int | None:
        if phase_tokens is None:
            return None
        total = max(1, phase_tokens // self.seq_len)  # whole sequences: a budget is never exceeded
        return total // n + (1 if c < total % n else 0)

    def __iter__(self):
        c, n = self._consumer()
        st = self._resume if self._resume is not None else self._fresh_state(c, n)
        self._resume = None
        if (st["consumer"], st["consumers"]) != (c, n):
            raise ValueError(f"state was saved by consumer {st['consumer']} of {st['consumers']} (rank x worker); this is "
                             f"{c} of {n}: resume with the same world size and num_workers")
        self._state = st
        return self._generate(st, c, n)

    def _generate(self, st: dict, c: int, n: int):
        tok = self._tokenizer()
        spec = self.mix.spec
        L = self.seq_len
        streams: dict[str, SourceStream] = {}
        while not st["done"] and st["phase"] < len(self.mix.phases):
            ph = self.mix.phases[st["phase"]]
            quota = self._quota(ph.tokens, c, n)
            w = np.array([s.weight for s in ph.sources])
            for s in ph.sources:
                if s.key not in streams:
                    streams[s.key] = SourceStream(s, c, n, spec.shuffle_buffer, self.seed, tok, self.eos_id,
                                                  spec.allow_repeat, self.document_boundaries, st["streams"].get(s.key))
                else:  # the same data in a later phase continues its cursor under this phase's cap
                    streams[s.key].src = s
            counts = st["counts"]
            ptok = st["tokens"].setdefault(ph.name, {})
            while quota is None or st["emitted"] < quota:
                # stratified draw: the source furthest behind its share of the next sequence
                lag = w * (st["emitted"] + 1) - np.array([counts.get(s.name, 0) for s in ph.sources])
                lag[w <= 0] = -np.inf
                src = ph.sources[int(np.argmax(lag))]
                ss = streams[src.key]
                toks, ids, starts = ss.take(L)
                st["streams"][src.key] = ss.state()
                if len(toks) < L:
                    if quota is not None:
                        st["done"] = True
                        raise SourceExhausted(
                            f"{self.mix.path}: phase {ph.name!r} source {src.name!r} ran out after max_epochs={src.max_epochs} "
                            f"with {quota - st['emitted']} of this consumer's {quota} sequences still to give; raise "
                            "max_epochs, lower tokens:, or set allow_repeat: true")
                    st["done"] = True
                    if len(toks):
                        counts[src.name] = counts.get(src.name, 0) + 1
                        st["emitted"] += 1
                        ptok[src.name] = ptok.get(src.name, 0) + len(toks)
                        yield self._example(toks, ids, starts, src.name, ph.name)
                    return
                counts[src.name] = counts.get(src.name, 0) + 1
                st["emitted"] += 1
                ptok[src.name] = ptok.get(src.name, 0) + L
                yield self._example(toks, ids, starts, src.name, ph.name)
            st["phase"] += 1
            st["emitted"] = 0
            st["counts"] = {}
        st["done"] = True

    def _example(self, toks, ids, starts, source: str, phase: str) -> dict:
        k = len(toks)
        L = self.seq_len
        if k < L:
            toks = np.concatenate([toks, np.full(L - k, self.eos_id, np.int64)])
            if ids is not None:
                ids = np.concatenate([ids, np.full(L - k, -1, np.int64)])
                starts = np.concatenate([starts, np.zeros(L - k, bool)])
        ex = {"input_ids": torch.from_numpy(np.ascontiguousarray(toks, dtype=np.int64)), "source": source,
              "phase": phase, "num_tokens": k}
        if ids is not None:
            ex["doc_ids"] = torch.from_numpy(np.ascontiguousarray(ids))
            ex["doc_starts"] = torch.from_numpy(np.ascontiguousarray(starts))
        return ex
