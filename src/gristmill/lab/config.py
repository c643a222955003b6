"""The training config (YAML), validated with errors that name the file, the field and the fix."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    heldout: list[str] = []        # files/globs of held-out clean text: bits per byte per file
    tasks: list[str] = []          # verifiable tasks (see gristmill.lab.tasks)
    every_tokens: Optional[int] = None  # default: 10 evaluations per run
    max_bytes: int = 100_000       # per held-out file: enough for a bpb stable to ~0.01 on the tiny preset


class TrainConfig(BaseModel):
    """Defaults follow nanoGPT's small-model config (config/train_shakespeare_char.py): AdamW with
    beta2 0.99 for small batches, weight decay 0.1, clip 1.0, min_lr = lr/10 at the end of cosine decay
    (also Chinchilla, Hoffmann et al. 2022). lr 2e-3 (nanoGPT uses 1e-3 for a 10M model; smaller models
    take larger steps, as in the GPT-3 paper's table 2.1)."""
    model_config = ConfigDict(extra="forbid")
    model: Union[str, dict] = "tiny"         # preset name, or {preset: tiny, n_layer: 2, ...}
    mixture: Optional[str] = None            # a mixture/curriculum YAML (gristmill.stream.MixtureDataset)
    data: list[str] = []                     # or plain files: jsonl/parquet/txt/gristmill output dirs
    tokenizer: str = "bytes"                 # `bytes` or a tokenizers JSON file
    eos_token: Optional[str] = None
    seq_len: int = Field(256, ge=2)
    batch_size: int = Field(16, ge=1)
    tokens: int = Field(1_000_000, ge=1)     # training budget
    lr: float = Field(2e-3, gt=0)
    min_lr_ratio: float = 0.1
    warmup_tokens: Optional[int] = None      # default: 5% of the budget
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    seed: int = 0
    doc_mask: bool = True                    # block attention across packed documents
    compile: bool = False                    # torch.compile: faster steps after ~a minute of compiling
    # bf16 autocast (fp32 master weights and loss) or fp32; auto = bf16 where the CPU has native bf16
    # matmul (gristmill.lab.precision). Applies to training, held-out eval, `lab eval` and generation.
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    checkpoint_every_tokens: Optional[int] = None  # default: at every evaluation
    log_every: int = 10                      # steps
    threads: Optional[int] = None            # torch threads; default: every core this process may use
    eval: EvalConfig = EvalConfig()
    # start from another run's weights (fresh optimizer, schedule and data stream): continued training,
    # e.g. each self-play round of `gristmill synth selfplay`. Resolved against the config's directory.
    init_from: Optional[str] = None

    @field_validator("model")
    @classmethod
    def _known_model(cls, v):
        """A preset name, or {preset, ...GPTConfig fields}: a misspelled key is named with the fields
        there are (a newcomer wrote nanoGPT's `n_embd`), not left to a TypeError at model build."""
        import dataclasses
        import difflib

        from gristmill.lab.model import PRESETS, GPTConfig

        if isinstance(v, dict):
            fields = {f.name for f in dataclasses.fields(GPTConfig)} - {"vocab_size", "seq_len", "eos_id", "doc_mask"}
            for k in v:
                if k != "preset" and k not in fields:
                    # nanoGPT's and Hugging Face's names for the same fields, then spelling
                    near = [{"n_embd": "d_model", "hidden_size": "d_model", "num_hidden_layers": "n_layer",
                             "num_attention_heads": "n_head", "block_size": "seq_len"}.get(str(k))] if str(k) in (
                        "n_embd", "hidden_size", "num_hidden_layers", "num_attention_heads", "block_size") else \
                        difflib.get_close_matches(str(k), sorted(fields | {"preset"}), n=1)
                    hint = f"did you mean {near[0]!r}? " if near else ""
                    raise ValueError(f"unknown model field {k!r} ({hint}fields: preset, {', '.join(sorted(fields))};"
                                     " seq_len is a top-level key)")
            name = v.get("preset", "tiny")
        else:
            name = v
        if name not in PRESETS:
            near = difflib.get_close_matches(str(name), PRESETS, n=1)
            raise ValueError(f"unknown model preset {name!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                             + f"; choose one of {', '.join(PRESETS)}")
        return v

    @model_validator(mode="after")
    def _one_source(self):
        if bool(self.mixture) == bool(self.data):
            raise ValueError("give exactly one of `mixture:` (a mixture YAML) or `data:` (a list of files)")
        return self


class ConfigError(ValueError):
    pass


def _line_of(text: str, loc: tuple) -> int | None:
    try:
        node = yaml.compose(text)
        for key in loc:
            if node is None or not isinstance(node, yaml.MappingNode):
                break
            nxt = [v for k, v in node.value if k.value == str(key)]
            if not nxt:
                break
            node = nxt[0]
        return node.start_mark.line + 1 if node is not None else None
    except yaml.YAMLError:
        return None


def parse_config(raw: dict, source: str = "config", text: str = "", model=TrainConfig):
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        msgs = []
        for err in e.errors():
            loc = tuple(err["loc"])
            where = ".".join(map(str, loc)) or "(top)"
            line = _line_of(text, loc) if text else None
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                parent = model
                for k in loc[:-1]:
                    ann = parent.model_fields.get(str(k))
                    parent = ann.annotation if ann and isinstance(ann.annotation, type) and issubclass(ann.annotation, BaseModel) else parent
                near = difflib.get_close_matches(str(loc[-1]), list(parent.model_fields), n=1)
                msg = f"unknown field {loc[-1]!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
            msgs.append(f"{source}{f' line {line}' if line else ''}: {where}: {msg}")
        raise ConfigError("\n".join(msgs)) from None


def load_config(path: Path, overrides: dict | None = None, model=TrainConfig):
    from gristmill.config import load_yaml, read_yaml_text  # the one bounded YAML loader

    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    text = read_yaml_text(path, ConfigError, "config")
    raw = load_yaml(text, str(path), ConfigError)[0] or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of fields at the top")
    raw.update(overrides or {})
    return parse_config(raw, str(path), text, model)
