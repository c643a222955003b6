"""Export a mixture's stream to nanoGPT's flat token files or Megatron-LM's indexed dataset, and read both back.

Both exports hold exactly the sequences :class:`~gristmill.stream.MixtureDataset` yields on one
consumer (rank 0 of 1, no workers), in order, so a round trip equals the stream.

* **nanoGPT** (``train.bin``, ``val.bin``): a flat array of ``uint16`` token ids (``uint32`` when the
  vocabulary does not fit), as karpathy/nanoGPT's ``data/openwebtext/prepare.py`` writes and
  ``train.py`` memory-maps; ``meta.pkl`` holds ``vocab_size`` as nanoGPT's ``train.py`` reads it.
  Sequences are written whole (the padded last sequence of an unbudgeted mixture included). Every
  k-th sequence goes to ``val.bin`` with k = round(1 / val_fraction), so validation spans the whole
  mix; the default fraction 0.0005 is nanoGPT's ``test_size`` for OpenWebText.
* **Megatron** (``PREFIX.bin`` + ``PREFIX.idx``): Megatron-LM's ``MMapIndexedDataset`` layout
  (``megatron/core/datasets/indexed_dataset.py``): the index starts with ``MMIDIDX\\0\\0``, version 1,
  a dtype code, the sequence and document counts, then int32 sequence lengths, int64 byte pointers
  and int64 document indices. Each packed sequence is one sequence and one document, stored without
  its padding; dtype ``uint16`` below 65,500 tokens of vocabulary, else ``int32`` (Megatron's
  ``DType.optimal_dtype``).
"""
from __future__ import annotations

import json
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from gristmill.engine.atomic import atomic_path, tmp_path

VAL_FRACTION = 0.0005  # nanoGPT data/openwebtext/prepare.py: train_test_split(test_size=0.0005)
MEGATRON_HEADER = b"MMIDIDX\x00\x00"
MEGATRON_VERSION = 1
MEGATRON_DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32, 8: np.uint16}
MEGATRON_CODES = {np.dtype(v): k for k, v in MEGATRON_DTYPES.items()}


def nanogpt_dtype(vocab_size: int):
    return np.uint16 if vocab_size <= 1 << 16 else np.uint32


def megatron_dtype(vocab_size: int):
    return np.uint16 if vocab_size < 65500 else np.int32


class _Sink:
    """Append-only binary file written under a temporary name and renamed when complete."""

    def __init__(self, path: Path, dtype):
        self.path, self.dtype = path, np.dtype(dtype)
        self.tmp = tmp_path(path)  # renamed in close(); a killed export leaves only a temp name
        self.f = open(self.tmp, "wb")
        self.n = 0

    def write(self, arr: np.ndarray) -> None:
        a = np.asarray(arr).astype(self.dtype, copy=False)
        self.f.write(a.tobytes())
        self.n += len(a)

    add = write

    def truncate_last(self, k: int) -> np.ndarray:
        """Remove and return the last ``k`` items (moving a sequence from train to val)."""
        self.f.flush()
        size = self.dtype.itemsize
        self.f.seek(-k * size, 2)
        pos = self.f.tell()
        self.f.close()
        with open(self.tmp, "rb") as r:
            r.seek(pos)
            tail = np.frombuffer(r.read(), self.dtype)
        with open(self.tmp, "r+b") as w:
            w.truncate(pos)
        self.f = open(self.tmp, "ab")
        self.n -= k
        return tail

    def close(self) -> None:
        self.f.close()
        self.tmp.replace(self.path)


class _MegatronWriter:
    def __init__(self, prefix: Path, dtype):
        self.prefix, self.dtype = prefix, np.dtype(dtype)
        self.bin = _Sink(prefix.with_name(prefix.name + ".bin"), dtype)
        self.lengths: list[int] = []

    def add(self, seq: np.ndarray) -> None:
        self.bin.write(seq)
        self.lengths.append(len(seq))

    def close(self) -> None:
        self.bin.close()
        lengths = np.array(self.lengths, np.int32)
        pointers = np.zeros(len(lengths), np.int64)
        if len(lengths) > 1:
            pointers[1:] = np.cumsum(lengths[:-1].astype(np.int64)) * self.dtype.itemsize
        docs = np.arange(len(lengths) + 1, dtype=np.int64)  # one document per sequence; starts with 0
        idx = self.prefix.with_name(self.prefix.name + ".idx")
        with atomic_path(idx) as tmp, open(tmp, "wb") as f:
            f.write(MEGATRON_HEADER)
            f.write(struct.pack("<Q", MEGATRON_VERSION))
            f.write(struct.pack("<B", MEGATRON_CODES[self.dtype]))
            f.write(struct.pack("<Q", len(lengths)))
            f.write(struct.pack("<Q", len(docs)))
            f.write(lengths.tobytes())
            f.write(pointers.tobytes())
            f.write(docs.tobytes())


def export_stream(ds, out: str | Path, fmt: str, max_tokens: int | None = None, val_fraction: float = VAL_FRACTION,
                  progress=None) -> dict:
    """Write ``ds``'s stream (a MixtureDataset on one consumer) to ``out``; returns the meta written."""
    if fmt not in ("nanogpt", "megatron"):
        raise ValueError(f"unknown export format {fmt!r} (nanogpt or megatron)")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction={val_fraction} must be between 0 and 1")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    k = max(2, round(1 / val_fraction))
    V = ds.vocab_size
    if fmt == "nanogpt":
        dt = nanogpt_dtype(V)
        train, val = _Sink(out / "train.bin", dt), _Sink(out / "val.bin", dt)
    else:
        dt = megatron_dtype(V)
        train, val = _MegatronWriter(out / "train_text_document", dt), _MegatronWriter(out / "val_text_document", dt)
    n = 0
    tokens = 0
    it = iter(ds)
    while max_tokens is None or tokens + ds.seq_len <= max_tokens:  # check first: the state must not run ahead
        ex = next(it, None)
        if ex is None:
            break
        ids = ex["input_ids"].numpy()
        seq = ids if fmt == "nanogpt" else ids[:ex["num_tokens"]]
        (val if n % k == k - 1 else train).add(seq)
        n += 1
        tokens += ex["num_tokens"]
        if progress:
            progress(ex["num_tokens"])
    moved_last = False
    if fmt == "nanogpt" and val.n == 0 and train.n >= 2 * ds.seq_len:
        val.write(train.truncate_last(ds.seq_len))
        moved_last = True
    if fmt == "megatron" and not val.lengths and len(train.lengths) >= 2:
        last = train.lengths.pop()
        val.add(train.bin.truncate_last(last))
        moved_last = True
    train.close()
    val.close()
    state = ds.state_dict()
    meta = {"format": fmt, "dtype": np.dtype(dt).name, "vocab_size": V, "seq_len": ds.seq_len, "eos_id": ds.eos_id,
            "sequences": n, "tokens": tokens, "val_every": k, "val_last_moved": moved_last,
            "mixture": str(ds.mix.path), "tokenizer": str(ds.tokenizer_path), "state": state}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    if fmt == "nanogpt":
        with open(out / "meta.pkl", "wb") as f:
            pickle.dump({"vocab_size": V}, f)
    return meta


# -- readers ------------------------------------------------------------------------------------------


@dataclass
class MegatronIndexed:
    """A Megatron-LM ``MMapIndexedDataset`` read with numpy memory maps: ``ds[i]`` is sequence i."""

    prefix: Path
    dtype: np.dtype
    lengths: np.ndarray
    pointers: np.ndarray
    document_indices: np.ndarray
    data: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        start = int(self.pointers[i]) // self.dtype.itemsize
        return self.data[start:start + int(self.lengths[i])]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))


def read_megatron(prefix: str | Path) -> MegatronIndexed:
    """Open ``PREFIX.idx`` / ``PREFIX.bin``; raises ValueError when the index is not Megatron's format."""
    prefix = Path(str(prefix).removesuffix(".idx").removesuffix(".bin"))
    idx = Path(str(prefix) + ".idx")
    buf = np.memmap(idx, mode="r", dtype=np.uint8)
    if bytes(buf[:9]) != MEGATRON_HEADER:
        raise ValueError(f"{idx}: not a Megatron MMapIndexedDataset index (bad magic)")
    version, = struct.unpack("<Q", bytes(buf[9:17]))
    if version != MEGATRON_VERSION:
        raise ValueError(f"{idx}: index version {version}, expected {MEGATRON_VERSION}")
    code, = struct.unpack("<B", bytes(buf[17:18]))
    n_seq, = struct.unpack("<Q", bytes(buf[18:26]))
    n_doc, = struct.unpack("<Q", bytes(buf[26:34]))
    off = 34
    lengths = np.frombuffer(buf, np.int32, n_seq, off)
    off += 4 * n_seq
    pointers = np.frombuffer(buf, np.int64, n_seq, off)
    off += 8 * n_seq
    docs = np.frombuffer(buf, np.int64, n_doc, off)
    dtype = np.dtype(MEGATRON_DTYPES[code])
    binp = Path(str(prefix) + ".bin")
    data = np.memmap(binp, mode="r", dtype=dtype) if binp.stat().st_size else np.zeros(0, dtype)
    return MegatronIndexed(prefix, dtype, lengths, pointers, docs, data)


def read_nanogpt(out: str | Path) -> dict[str, np.ndarray]:
    """``{"train": memmap, "val": memmap}`` of a nanoGPT export, dtype from its meta."""
    out = Path(out)
    meta = json.loads((out / "meta.json").read_text())
    dt = np.dtype(meta["dtype"])
    return {s: (np.memmap(out / f"{s}.bin", mode="r", dtype=dt) if (out / f"{s}.bin").stat().st_size else np.zeros(0, dt))
            for s in ("train", "val")}


def export_sequences(out: str | Path) -> list[np.ndarray]:
    """The exported sequences back in stream order (train and val re-interleaved), for either format."""
    out = Path(out)
    meta = json.loads((out / "meta.json").read_text())
    if meta["format"] == "nanogpt":
        parts = read_nanogpt(out)
        L = meta["seq_len"]
        train = [parts["train"][i:i + L] for i in range(0, len(parts["train"]), L)]
        val = [parts["val"][i:i + L] for i in range(0, len(parts["val"]), L)]
    else:
        train = list(read_megatron(out / "train_text_document"))
        val = list(read_megatron(out / "val_text_document"))
    k, n = meta["val_every"], meta["sequences"]
    seqs, ti, vi = [], 0, 0
    for i in range(n):
        if meta["val_last_moved"] and i == n - 1:
            seqs.append(val[vi])
        elif i % k == k - 1:
            seqs.append(val[vi]); vi += 1
        else:
            seqs.append(train[ti]); ti += 1
    return seqs
