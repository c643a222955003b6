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

**An export is one atomic unit.** Its files only make sense together (a ``.bin`` with another run's
``.idx`` points past its end; nanoGPT's ``train.bin`` beside an older ``val.bin`` silently trains on
a different split), and their consumers (nanoGPT's ``train.py``, Megatron) check nothing. So the
whole export is built in a staging directory beside the target, ``.<name>.gristmill-export.<pid>.tmp``,
and put in place with one ``renameat2(RENAME_EXCHANGE)``, which swaps the two directories atomically
(Linux >= 3.15 on ext4, xfs, btrfs, tmpfs); the old export is then removed. A process killed at any
point leaves the complete old export or the complete new one under the target name, never a mix.
We chose the directory swap over a manifest that readers check because external readers would
still see the mix; the manifest exists as well (``meta.json`` ``files``: bytes and sha256 of every
file, written last), and gristmill's own readers check the sizes (and the hashes on request).
On a filesystem without ``RENAME_EXCHANGE`` the swap is two renames (target to ``...<pid>.old``,
staging to target); a kill between them leaves the target absent (never mixed) and the next export
puts the old one back first.

A staging directory carries a marker file (``.gristmill-export``) that its writer holds an
``flock`` on; the next export to the same target removes staging directories whose marker is not
locked (their writer is dead), and nothing else. gristmill replaces a target only if it is empty or
is one of its own exports (the marker, or the ``meta.json`` an older gristmill wrote) holding only
export files; anything else is refused before work starts.

``meta.pkl`` is a pickle because nanoGPT's ``train.py`` reads ``vocab_size`` from one. gristmill
writes it (a plain dict) and never reads it back: every gristmill reader uses ``meta.json``.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import pickle
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

VAL_FRACTION = 0.0005  # nanoGPT data/openwebtext/prepare.py: train_test_split(test_size=0.0005)
MEGATRON_HEADER = b"MMIDIDX\x00\x00"
MEGATRON_VERSION = 1
MEGATRON_DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32, 8: np.uint16}
MEGATRON_CODES = {np.dtype(v): k for k, v in MEGATRON_DTYPES.items()}

MARKER = ".gristmill-export"
MARKER_BODY = {"gristmill": "export", "version": 1}
EXPORT_FILES = {"nanogpt": ("train.bin", "val.bin", "meta.json", "meta.pkl"),
                "megatron": ("train_text_document.bin", "train_text_document.idx", "val_text_document.bin",
                             "val_text_document.idx", "meta.json")}
_STAGING = re.compile(r"^\.(?P<name>.+)\.gristmill-export\.(?P<pid>\d+)\.(?P<kind>tmp|old)$")
_OLD_TEMP = re.compile(r"^\..+\.\d+\.tmp$")  # engine.atomic's temp shape: what an older gristmill's killed export left inside
_RENAME_EXCHANGE = 2  # linux/fs.h


class ExportError(ValueError):
    """An export target gristmill must not replace, or an export whose files do not match its manifest."""


def nanogpt_dtype(vocab_size: int):
    return np.uint16 if vocab_size <= 1 << 16 else np.uint32


def megatron_dtype(vocab_size: int):
    return np.uint16 if vocab_size < 65500 else np.int32


# -- the atomic unit ----------------------------------------------------------------------------------


def _staging_path(out: Path, kind: str = "tmp") -> Path:
    return out.with_name(f".{out.name}.gristmill-export.{os.getpid()}.{kind}")


def _write_marker(d: Path) -> None:
    (d / MARKER).write_text(json.dumps(MARKER_BODY))


def _has_marker(d: Path) -> bool:
    try:
        return json.loads((d / MARKER).read_text()) == MARKER_BODY
    except (OSError, ValueError, UnicodeDecodeError):
        return False


def _unlocked(d: Path) -> bool:
    """True when no live process holds the staging directory's marker lock (its writer is gone)."""
    try:
        fd = os.open(d / MARKER, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops the lock we may have taken


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _stale(out: Path) -> list[tuple[Path, str]]:
    """Staging and old directories for ``out`` left by dead exports: the name pattern, a real
    directory, and either the marker with no live writer holding its lock, or nothing in it but a
    (possibly half-written) marker from a writer whose process is gone (killed between ``mkdir``
    and taking the lock)."""
    found = []
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return found
    for e in entries:
        m = _STAGING.match(e.name)
        if not (m and m["name"] == out.name and e.is_dir(follow_symlinks=False)):
            continue
        p = Path(e.path)
        if _has_marker(p):
            if _unlocked(p):
                found.append((p, m["kind"]))
        elif m["kind"] == "tmp" and int(m["pid"]) != os.getpid() and not _pid_alive(int(m["pid"])):
            try:
                if set(os.listdir(p)) <= {MARKER}:
                    found.append((p, m["kind"]))
            except OSError:
                pass
    return found


def clean_stale_exports(out: str | os.PathLike) -> list[Path]:
    """Recover ``out`` after killed exports: put back an old export that a fallback swap left
    between its two renames, then remove the staging directories of dead writers. Returns what was removed."""
    out = Path(os.path.abspath(out))
    stale = _stale(out)
    if not os.path.lexists(out):
        olds = [p for p, kind in stale if kind == "old"]
        if olds:
            os.rename(olds[0], out)
            stale = [(p, k) for p, k in stale if p != olds[0]]
    removed = []
    for p, _ in stale:
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def _legacy_meta(d: Path) -> bool:
    """An export an older gristmill wrote (before the marker): its meta.json's own keys."""
    try:
        meta = json.loads((d / "meta.json").read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(meta, dict) and meta.get("format") in EXPORT_FILES and {"val_every", "sequences", "state"} <= meta.keys()


def check_target(out: str | os.PathLike) -> Path:
    """The absolute target directory, if gristmill may replace it: absent, empty, or one of its own
    exports holding only export files (and temporary files of killed exports). Raises ExportError otherwise."""
    out = Path(os.path.abspath(out))
    if out.is_symlink():
        out = out.resolve()
    if not out.exists():
        return out
    cwd = Path.cwd().resolve()
    if out.resolve() == cwd or out.resolve() in cwd.parents:
        raise ExportError(f"{out}: is the current directory or holds it; the export replaces the whole directory, "
                          "so run from outside it")
    if not out.is_dir():
        raise ExportError(f"{out}: exists and is not a directory; choose a new directory for the export")
    names = os.listdir(out)
    if not names:
        return out
    if not (_has_marker(out) or _legacy_meta(out)):
        raise ExportError(f"{out}: not empty and not a gristmill export (no {MARKER} marker or export meta.json); "
                          "choose a new or empty directory, gristmill replaces only its own exports")
    known = {n for files in EXPORT_FILES.values() for n in files} | {MARKER}
    foreign = sorted(n for n in names if n not in known and not _OLD_TEMP.match(n))
    if foreign:
        raise ExportError(f"{out}: holds files an export does not write ({', '.join(foreign[:5])}); the export "
                          "replaces the whole directory, so move them out or choose another directory")
    return out


def _exchange(a: Path, b: Path) -> None:
    """Swap two directories in one step: renameat2(2) with RENAME_EXCHANGE."""
    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), str(a))


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_in(staging: Path, out: Path) -> None:
    """Put the finished ``staging`` directory at ``out``, replacing any old export there."""
    _fsync_dir(staging)
    if not os.path.lexists(out):
        os.rename(staging, out)
    else:
        if not _has_marker(out):
            _write_marker(out)  # so a kill before the old export is removed leaves it recognisable as ours
        try:
            _exchange(staging, out)
            old = staging
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
                raise
            old = _staging_path(out, "old")  # no RENAME_EXCHANGE here: two renames, undone by clean_stale_exports
            os.rename(out, old)
            os.rename(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(out.parent)


# -- writers ------------------------------------------------------------------------------------------


class _Sink:
    """An append-only binary file that hashes what it writes (for the manifest)."""

    def __init__(self, path: Path, dtype):
        self.path, self.dtype = path, np.dtype(dtype)
        self.f = open(path, "wb")
        self.sha = hashlib.sha256()
        self.bytes = 0

    def write(self, arr: np.ndarray) -> None:
        b = np.asarray(arr).astype(self.dtype, copy=False).tobytes()
        self.f.write(b)
        self.sha.update(b)
        self.bytes += len(b)

    def close(self) -> dict:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        return {self.path.name: {"bytes": self.bytes, "sha256": self.sha.hexdigest()}}


class _NanoWriter:
    def __init__(self, out: Path, name: str, dtype):
        self.bin = _Sink(out / f"{name}.bin", dtype)
        self.count = 0

    def add(self, seq: np.ndarray) -> None:
        self.bin.write(seq)
        self.count += 1

    def close(self) -> dict:
        return self.bin.close()


class _MegatronWriter(_NanoWriter):
    def __init__(self, out: Path, name: str, dtype):
        super().__init__(out, name, dtype)
        self.idx = out / f"{name}.idx"
        self.lengths: list[int] = []

    def add(self, seq: np.ndarray) -> None:
        super().add(seq)
        self.lengths.append(len(seq))

    def close(self) -> dict:
        files = self.bin.close()
        lengths = np.array(self.lengths, np.int32)
        pointers = np.zeros(len(lengths), np.int64)
        if len(lengths) > 1:
            pointers[1:] = np.cumsum(lengths[:-1].astype(np.int64)) * self.bin.dtype.itemsize
        docs = np.arange(len(lengths) + 1, dtype=np.int64)  # one document per sequence; starts with 0
        body = b"".join([MEGATRON_HEADER, struct.pack("<Q", MEGATRON_VERSION), struct.pack("<B", MEGATRON_CODES[self.bin.dtype]),
                         struct.pack("<Q", len(lengths)), struct.pack("<Q", len(docs)),
                         lengths.tobytes(), pointers.tobytes(), docs.tobytes()])
        with open(self.idx, "wb") as f:
            f.write(body)
            os.fsync(f.fileno())
        files[self.idx.name] = {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
        return files


def _write_small(d: Path, name: str, body: bytes) -> dict:
    with open(d / name, "wb") as f:
        f.write(body)
        os.fsync(f.fileno())
    return {name: {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}}


def export_stream(ds, out: str | Path, fmt: str, max_tokens: int | None = None, val_fraction: float = VAL_FRACTION,
                  progress=None) -> dict:
    """Write ``ds``'s stream (a MixtureDataset on one consumer) to ``out`` as one atomic unit (see
    the module docstring); returns the meta written. Raises ExportError before any work when ``out``
    is not gristmill's to replace."""
    if fmt not in ("nanogpt", "megatron"):
        raise ValueError(f"unknown export format {fmt!r} (nanogpt or megatron)")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction={val_fraction} must be between 0 and 1")
    out = check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_exports(out)
    staging = _staging_path(out)
    try:
        staging.mkdir()
    except FileExistsError:  # a dead process that had our pid, killed before its marker; or not ours at all
        if not set(os.listdir(staging)) <= {MARKER}:
            raise ExportError(f"{staging}: exists and is not a staging directory gristmill can reuse; remove it") from None
        shutil.rmtree(staging)
        staging.mkdir()
    lock = None
    try:
        _write_marker(staging)
        lock = os.open(staging / MARKER, os.O_RDONLY)
        fcntl.flock(lock, fcntl.LOCK_EX)  # held until we exit: a live export's staging is never taken for stale
        meta = _build(ds, staging, fmt, max_tokens, val_fraction, progress)
        check_target(out)  # again: the target must still be ours to replace after the (long) build
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if lock is not None:
            os.close(lock)
    return meta


def _build(ds, d: Path, fmt: str, max_tokens: int | None, val_fraction: float, progress) -> dict:
    k = max(2, round(1 / val_fraction))
    V = ds.vocab_size
    if fmt == "nanogpt":
        dt, W = nanogpt_dtype(V), _NanoWriter
        train, val = W(d, "train", dt), W(d, "val", dt)
    else:
        dt, W = megatron_dtype(V), _MegatronWriter
        train, val = W(d, "train_text_document", dt), W(d, "val_text_document", dt)
    n = tokens = 0
    pending = None  # the newest train sequence, held back: it moves to val if val would stay empty
    it = iter(ds)
    while max_tokens is None or tokens + ds.seq_len <= max_tokens:  # check first: the state must not run ahead
        ex = next(it, None)
        if ex is None:
            break
        ids = ex["input_ids"].numpy()
        seq = ids if fmt == "nanogpt" else ids[:ex["num_tokens"]]
        if n % k == k - 1:
            val.add(seq)
        else:
            if pending is not None:
                train.add(pending)
            pending = seq
        n += 1
        tokens += ex["num_tokens"]
        if progress:
            progress(ex["num_tokens"])
    moved_last = pending is not None and val.count == 0 and train.count >= 1
    if pending is not None:
        (val if moved_last else train).add(pending)
    files = {**train.close(), **val.close()}
    if fmt == "nanogpt":
        files.update(_write_small(d, "meta.pkl", pickle.dumps({"vocab_size": V})))  # for nanoGPT; gristmill never reads it
    meta = {"format": fmt, "dtype": np.dtype(dt).name, "vocab_size": V, "seq_len": ds.seq_len, "eos_id": ds.eos_id,
            "sequences": n, "tokens": tokens, "val_every": k, "val_last_moved": moved_last,
            "mixture": str(ds.mix.path), "tokenizer": str(ds.tokenizer_path), "state": ds.state_dict(),
            "files": files}
    _write_small(d, "meta.json", json.dumps(meta, indent=1).encode())
    return meta


# -- readers ------------------------------------------------------------------------------------------


def read_meta(out: str | Path, verify: bool = False) -> dict:
    """An export's ``meta.json``, after checking every file it lists against its size (and, with
    ``verify``, its sha256). Raises ExportError naming the file when they disagree: the files are
    not one export."""
    out = Path(out)
    p = out / "meta.json"
    try:
        meta = json.loads(p.read_text())
    except FileNotFoundError:
        raise ExportError(f"{out}: no meta.json; not a gristmill export") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise ExportError(f"{p}: unreadable ({e}); re-run the export") from None
    if not isinstance(meta, dict) or meta.get("format") not in EXPORT_FILES:
        raise ExportError(f"{p}: not a gristmill export's meta (format nanogpt or megatron); re-run the export")
    for name, want in (meta.get("files") or {}).items():
        f = out / name
        try:
            size = f.stat().st_size
        except OSError:
            raise ExportError(f"{f}: listed in {p} but missing; re-run the export") from None
        if size != want["bytes"]:
            raise ExportError(f"{f}: {size:,} bytes, but {p} lists {want['bytes']:,}; the directory mixes two exports, re-run it")
        if verify:
            h = hashlib.sha256()
            with open(f, "rb") as r:
                for chunk in iter(lambda: r.read(1 << 20), b""):
                    h.update(chunk)
            if h.hexdigest() != want["sha256"]:
                raise ExportError(f"{f}: sha256 differs from {p}; the directory mixes two exports, re-run it")
    return meta


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
    """Open ``PREFIX.idx`` / ``PREFIX.bin``; raises ValueError when the index is not Megatron's format
    or points outside the ``.bin`` (an index from another export than the data)."""
    prefix = Path(str(prefix).removesuffix(".idx").removesuffix(".bin"))
    idx = Path(str(prefix) + ".idx")
    buf = np.memmap(idx, mode="r", dtype=np.uint8) if idx.stat().st_size else np.zeros(0, np.uint8)
    if len(buf) < 34 or bytes(buf[:9]) != MEGATRON_HEADER:
        raise ValueError(f"{idx}: not a Megatron MMapIndexedDataset index (bad magic)")
    version, = struct.unpack("<Q", bytes(buf[9:17]))
    if version != MEGATRON_VERSION:
        raise ValueError(f"{idx}: index version {version}, expected {MEGATRON_VERSION}")
    code, = struct.unpack("<B", bytes(buf[17:18]))
    n_seq, = struct.unpack("<Q", bytes(buf[18:26]))
    n_doc, = struct.unpack("<Q", bytes(buf[26:34]))
    if code not in MEGATRON_DTYPES:
        raise ValueError(f"{idx}: unknown dtype code {code}")
    off = 34
    if off + 12 * n_seq + 8 * n_doc > len(buf):  # counts from the header, bounded by the file before any allocation
        raise ValueError(f"{idx}: header counts {n_seq:,} sequences and {n_doc:,} documents, more than the file holds")
    lengths = np.frombuffer(buf, np.int32, n_seq, off)
    off += 4 * n_seq
    pointers = np.frombuffer(buf, np.int64, n_seq, off)
    off += 8 * n_seq
    docs = np.frombuffer(buf, np.int64, n_doc, off)
    dtype = np.dtype(MEGATRON_DTYPES[code])
    binp = Path(str(prefix) + ".bin")
    size = binp.stat().st_size
    if n_seq and (lengths.min() < 0 or pointers.min() < 0 or int(pointers.max()) > size  # before the sum can overflow
                  or int((pointers + lengths.astype(np.int64) * dtype.itemsize).max()) > size):
        raise ValueError(f"{idx}: sequences point past the end of {binp} ({size:,} bytes); "
                         "the index and the data come from different exports")
    data = np.memmap(binp, mode="r", dtype=dtype) if size else np.zeros(0, dtype)
    return MegatronIndexed(prefix, dtype, lengths, pointers, docs, data)


def read_nanogpt(out: str | Path, verify: bool = False) -> dict[str, np.ndarray]:
    """``{"train": memmap, "val": memmap}`` of a nanoGPT export, dtype from its meta (checked by :func:`read_meta`)."""
    out = Path(out)
    meta = read_meta(out, verify)
    dt = np.dtype(meta["dtype"])
    return {s: (np.memmap(out / f"{s}.bin", mode="r", dtype=dt) if (out / f"{s}.bin").stat().st_size else np.zeros(0, dt))
            for s in ("train", "val")}


def export_sequences(out: str | Path, verify: bool = False) -> list[np.ndarray]:
    """The exported sequences back in stream order (train and val re-interleaved), for either format."""
    out = Path(out)
    meta = read_meta(out, verify)
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
