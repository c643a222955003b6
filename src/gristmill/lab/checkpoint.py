"""Lab checkpoints without pickle: tensors in safetensors, everything else in JSON.

A run's checkpoint is the directory ``RUN/ckpt/``:

- ``model.safetensors``: the model's weights (``safetensors.torch.save_model``, which stores the tied
  input/output embedding once);
- ``optim.safetensors``: the optimizer's per-parameter tensors, flattened as ``state.<i>.<name>``
  (absent from a quantized copy, which is never trained further);
- ``meta.json``: config, model config, tokenizer, step, tokens, data-stream position, unigram counts,
  the torch RNG state as a list of bytes, the optimizer's param groups (the schedule's current lr).

This is the layout nanochat (``checkpoint_manager.py``: model/optimizer tensors plus a JSON meta file)
and torchtitan use. Loading never unpickles anything: ``torch.load`` on a ``ckpt.pt`` can run any code
the file's author chose (an object's ``__reduce__``), so a pre-safetensors ``ckpt.pt`` is refused with
a message instead of opened.

A checkpoint replaces the previous one as a unit: the new directory is written as ``.ckpt.new/``
(``meta.json`` last), the old one is renamed to ``.ckpt.old/``, the new one to ``ckpt/``, and the old
one removed. A kill between the two renames leaves ``.ckpt.old/``, which :func:`find` reads (and the
next save replaces), so a reader always sees one complete checkpoint, never a model of one step beside
the optimizer of another. Readers never rename anything: only the trainer, under the run's lock, writes.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

NAME, NEW, OLD = "ckpt", ".ckpt.new", ".ckpt.old"
FORMAT = "gristmill-lab-checkpoint"
VERSION = 1
MAX_META_BYTES = 64 << 20  # meta.json holds counts over the vocabulary and the stream state: MBs at most


class CheckpointError(ValueError):
    pass


def legacy_message(run: Path) -> str:
    return (f"{run}/ckpt.pt is a pickle checkpoint from an older gristmill; it is not loaded because unpickling a file "
            "runs whatever code its author put in it. Train the run again (`gristmill lab train CONFIG -o RUN --fresh`) "
            "to write the safe format (ckpt/: model.safetensors, optim.safetensors, meta.json)")


def find(run: Path) -> Path | None:
    """The run's complete checkpoint directory, or None: ``ckpt/``, else the ``.ckpt.old/`` that a kill
    between the renames of :func:`save` left (or that a save in progress is about to remove)."""
    run = Path(run)
    for d in (run / NAME, run / OLD):
        if (d / "meta.json").is_file():
            return d
    return None


def repair(run: Path) -> None:
    """Finish what a killed :func:`save` left: ``.ckpt.old/`` back to ``ckpt/``, a partial ``.ckpt.new/``
    removed. Only the trainer calls it, holding the run's lock."""
    run = Path(run)
    cur, old, new = run / NAME, run / OLD, run / NEW
    if not (cur / "meta.json").is_file() and (old / "meta.json").is_file():
        if cur.exists():
            shutil.rmtree(cur)
        old.rename(cur)
    if new.exists():
        shutil.rmtree(new)


def exists(run: Path) -> bool:
    return find(run) is not None


def require(run: Path, what: str = "") -> Path:
    """The checkpoint directory, or a clear error (a legacy ``ckpt.pt`` named as such)."""
    ck = find(run)
    if ck is not None:
        return ck
    if (Path(run) / "ckpt.pt").exists():
        raise CheckpointError(f"{what}{legacy_message(run)}")
    raise FileNotFoundError(f"{what}{run}: no checkpoint (ckpt/meta.json); is this a `gristmill lab train` output directory?")


def _flatten_optim(sd: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"state.{idx}.{k}"] = v.contiguous()
            else:
                scalars[f"{idx}.{k}"] = v
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def _unflatten_optim(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        _, idx, name = key.split(".", 2)
        state.setdefault(int(idx), {})[name] = v
    for key, v in meta.get("scalars", {}).items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def save(run: Path, model: torch.nn.Module, meta: dict, optimizer: torch.optim.Optimizer | None = None,
         counts: torch.Tensor | None = None) -> Path:
    """Write ``RUN/ckpt/`` as one unit. ``meta`` must be JSON (plain numbers, strings, lists, dicts)."""
    from safetensors.torch import save_file, save_model

    run = Path(run)
    new, cur, old = run / NEW, run / NAME, run / OLD
    if new.exists():
        shutil.rmtree(new)  # a killed save's leftover: never complete, since meta.json comes last
    new.mkdir(parents=True)
    save_model(model, str(new / "model.safetensors"))
    meta = {"format": FORMAT, "version": VERSION, **meta}
    if optimizer is not None:
        tensors, ometa = _flatten_optim(optimizer.state_dict())
        save_file(tensors, str(new / "optim.safetensors"))
        meta["optimizer"] = ometa
    if counts is not None:
        meta["unigram_counts"] = counts.tolist()
    (new / "meta.json").write_text(json.dumps(meta))
    if cur.exists():
        if old.exists():
            shutil.rmtree(old)
        cur.rename(old)
    new.rename(cur)
    if old.exists():
        shutil.rmtree(old)
    return cur


def read_meta(ck: Path) -> dict:
    f = Path(ck) / "meta.json"
    if f.stat().st_size > MAX_META_BYTES:
        raise CheckpointError(f"{f}: {f.stat().st_size:,} bytes, more than a lab checkpoint's meta can hold ({MAX_META_BYTES:,})")
    try:
        meta = json.loads(f.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{f}: not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{f}: not a gristmill lab checkpoint (no \"format\": {FORMAT!r})")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{f}: checkpoint version {meta.get('version')!r}; this gristmill reads version {VERSION}")
    for k in ("config", "model_config", "tokenizer", "step", "tokens"):
        if k not in meta:
            raise CheckpointError(f"{f}: no {k!r}")
    return meta


def load_weights(ck: Path, model: torch.nn.Module) -> None:
    from safetensors.torch import load_model

    try:
        load_model(model, str(Path(ck) / "model.safetensors"), strict=True)
    except (RuntimeError, OSError) as e:  # safetensors' header errors and shape mismatches surface as these
        raise CheckpointError(f"{ck}/model.safetensors: {e}") from None


def load_optimizer(ck: Path, optimizer: torch.optim.Optimizer, meta: dict) -> None:
    from safetensors.torch import load_file

    f = Path(ck) / "optim.safetensors"
    if "optimizer" not in meta or not f.is_file():
        raise CheckpointError(f"{ck}: no optimizer state (a quantized or exported copy cannot be trained further)")
    optimizer.load_state_dict(_unflatten_optim(load_file(str(f)), meta["optimizer"]))


def counts_of(meta: dict, vocab_size: int) -> torch.Tensor:
    c = meta.get("unigram_counts")
    if c is None:
        return torch.zeros(vocab_size, dtype=torch.long)
    if not isinstance(c, list) or len(c) != vocab_size:
        raise CheckpointError(f"unigram_counts: expected {vocab_size} counts")
    return torch.tensor(c, dtype=torch.long)


def rng_to_json(state: torch.Tensor) -> list[int]:
    return state.tolist()


def rng_from_json(x: list[int]) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.uint8)
