"""`gristmill lab train`: AdamW, warmup + cosine, held-out bits per byte against tokens, checkpoints
that resume exactly (same losses as an uninterrupted run), deterministic for a seed.

RUN/ holds config.json (the resolved config), log.jsonl (one line per logged step and per
evaluation), ckpt.pt (model, optimizer, data-stream state, unigram counts) and final.json.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import torch

from gristmill.lab.config import TrainConfig
from gristmill.lab.data import EvalSet, bits_per_byte, open_stream, unigram_bpb
from gristmill.lab.model import GPT, GPTConfig
from gristmill.lab.precision import autocast, resolve
from gristmill.lab.tokenizer import LabTokenizer


class RunMismatch(ValueError):
    pass


def use_all_cores(n: int | None = None) -> int:
    n = n or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
    torch.set_num_threads(n)
    return n


def build_model(cfg: TrainConfig, tok: LabTokenizer) -> GPT:
    spec = {"preset": cfg.model} if isinstance(cfg.model, str) else dict(cfg.model)
    preset = spec.pop("preset", "tiny")
    gc = GPTConfig.preset(preset, vocab_size=tok.vocab_size, seq_len=cfg.seq_len, eos_id=tok.eos_id,
                          doc_mask=cfg.doc_mask, **spec)
    return GPT(gc)


def _public(d: dict) -> dict:
    return {k: v for k, v in d.items() if not k.startswith("_")}


def lr_at(cfg: TrainConfig, tokens: int) -> float:
    """Linear warmup, then cosine decay to lr*min_lr_ratio at the end of the budget (in tokens, so the
    schedule does not depend on the batch shape)."""
    warm = cfg.warmup_tokens if cfg.warmup_tokens is not None else cfg.tokens // 20
    if tokens < warm:
        return cfg.lr * (tokens + 1) / warm
    frac = min(1.0, (tokens - warm) / max(1, cfg.tokens - warm))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def make_optimizer(model: GPT, cfg: TrainConfig) -> torch.optim.AdamW:
    # no weight decay on norms (nanoGPT: decay only tensors with dim >= 2)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": other, "weight_decay": 0.0}], lr=cfg.lr, betas=cfg.betas)


def _atomic_save(obj, path: Path) -> None:
    from gristmill.engine.atomic import atomic_path

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_run(run: Path):
    """(model, tokenizer, config, checkpoint) of a finished or partial run."""
    ck = run / "ckpt.pt"
    if not ck.is_file():
        raise FileNotFoundError(f"{run}: no ckpt.pt (is this a `gristmill lab train` output directory?)")
    state = torch.load(ck, map_location="cpu", weights_only=False)
    cfg = TrainConfig.model_validate({k: v for k, v in state["config"].items() if not k.startswith("_")})
    tok = LabTokenizer(state["tokenizer"], cfg.eos_token)
    model = GPT(GPTConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    model.eval()
    return model, tok, cfg, state


def _init_weights(model: GPT, run: Path) -> None:
    """Copy the weights of another run into `model` (same architecture and vocabulary, else a clear error)."""
    ck = run / "ckpt.pt"
    if not ck.is_file():
        raise FileNotFoundError(f"init_from: {run}: no ckpt.pt (give a `gristmill lab train` run directory)")
    st = torch.load(ck, map_location="cpu", weights_only=False)
    if st["model_config"] != model.config.to_dict():
        diff = {k: (v, st["model_config"].get(k)) for k, v in model.config.to_dict().items() if st["model_config"].get(k) != v}
        raise ValueError(f"init_from: {run} holds a different model (this config vs that run: {diff}); "
                         "use the same model, seq_len and tokenizer")
    model.load_state_dict(st["model"])


def train(cfg: TrainConfig, out: Path, base: Path = Path("."), fresh: bool = False,
          progress: bool | None = None, console=None, eval_sets: list[EvalSet] | None = None) -> dict:
    out = Path(out)
    threads = use_all_cores(cfg.threads)
    precision = resolve(cfg.precision)
    # the tokenizer path is stored resolved, so eval/serve find it from anywhere
    tok_spec = cfg.tokenizer if cfg.tokenizer == "bytes" or Path(cfg.tokenizer).is_absolute() else str((base / cfg.tokenizer).resolve())
    tok = LabTokenizer(tok_spec, cfg.eos_token)
    resolved = {**cfg.model_dump(mode="json"), "_base": str(Path(base).resolve()),
                "_cwd": str(Path.cwd()),  # mixtures resolve source paths against the working directory
                "_precision": precision}  # what `auto` meant on this machine
    cfg_file, log_file, ck_file = out / "config.json", out / "log.jsonl", out / "ckpt.pt"
    if fresh and out.exists():
        for f in (cfg_file, log_file, ck_file, out / "final.json"):
            f.unlink(missing_ok=True)
    if cfg_file.exists() and _public(json.loads(cfg_file.read_text())) != _public(resolved):
        raise RunMismatch(f"{out} holds a run with a different config; use another -o or --fresh")
    out.mkdir(parents=True, exist_ok=True)
    cfg_file.write_text(json.dumps(resolved, indent=2))

    torch.manual_seed(cfg.seed)
    model = build_model(cfg, tok)
    opt = make_optimizer(model, cfg)
    tokens_per_step = cfg.batch_size * (cfg.seq_len - 1)
    total_steps = math.ceil(cfg.tokens / tokens_per_step)
    stream = open_stream(cfg, tok, base, tokens_needed=total_steps * cfg.batch_size * cfg.seq_len)
    if eval_sets is None:
        eval_sets = EvalSet.from_paths(cfg.eval.heldout, tok, cfg.seq_len, cfg.eval.max_bytes, base) if cfg.eval.heldout else []
    counts = torch.zeros(tok.vocab_size, dtype=torch.long)
    every_eval = cfg.eval.every_tokens or max(tokens_per_step, cfg.tokens // 10)
    every_ck = cfg.checkpoint_every_tokens or every_eval
    step, tokens = 0, 0
    if cfg.init_from and not ck_file.exists():
        _init_weights(model, Path(cfg.init_from) if Path(cfg.init_from).is_absolute() else Path(base) / cfg.init_from)
    if ck_file.exists():  # resume: model, optimizer, stream position, counts; the log is cut back to match
        st = torch.load(ck_file, map_location="cpu", weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optim"])
        stream.load_state_dict(st["stream"])
        counts, step, tokens = st["counts"], st["step"], st["tokens"]
        torch.set_rng_state(st["rng"])
        if step >= total_steps and (out / "final.json").exists():
            return json.loads((out / "final.json").read_text())
    lines = [ln for ln in log_file.read_text().splitlines() if json.loads(ln)["step"] <= step] if log_file.exists() else []
    log_file.write_text("".join(ln + "\n" for ln in lines))
    log = open(log_file, "a")

    def write(rec):
        log.write(json.dumps(rec) + "\n")
        log.flush()

    def evaluate():
        rec = {"kind": "eval", "step": step, "tokens": tokens, "bpb": {}, "unigram_bpb": {}}
        for es in eval_sets:
            with autocast(precision):
                rec["bpb"][es.name] = round(bits_per_byte(model, es), 5)
            rec["unigram_bpb"][es.name] = round(unigram_bpb(counts, es), 5)
        write(rec)
        return rec

    def checkpoint():
        _atomic_save({"model": model.state_dict(), "optim": opt.state_dict(), "stream": stream.state_dict(),
                      "counts": counts, "step": step, "tokens": tokens, "rng": torch.get_rng_state(),
                      "config": resolved, "model_config": model.config.to_dict(), "tokenizer": tok_spec}, ck_file)

    fwd = torch.compile(model) if cfg.compile else model
    model.train()
    it = iter(stream)
    bar = None
    if progress if progress is not None else sys.stdout.isatty():
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("[bold]train"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} tokens"),
                       TextColumn("{task.fields[msg]}"), TimeRemainingColumn(), console=console)
        task = bar.add_task("train", total=total_steps * tokens_per_step, completed=tokens, msg="")
        bar.start()
    last_eval = evaluate() if step == 0 and eval_sets else None
    t0, t_tokens = time.perf_counter(), tokens
    loss = None
    try:
        while step < total_steps:
            try:
                batch = torch.stack([next(it)["input_ids"] for _ in range(cfg.batch_size)]).long()
            except StopIteration:  # a curriculum whose phases hold fewer tokens than `tokens:`
                break
            counts += torch.bincount(batch[:, 1:].reshape(-1), minlength=tok.vocab_size)
            for g in opt.param_groups:
                g["lr"] = lr_at(cfg, tokens)
            with autocast(precision):  # matmuls in bf16, the loss in fp32 (lab/linear_ce.py)
                _, loss = fwd(batch[:, :-1], batch[:, 1:])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            step += 1
            tokens += tokens_per_step
            if step % cfg.log_every == 0 or step == total_steps:
                dt = time.perf_counter() - t0
                write({"kind": "train", "step": step, "tokens": tokens, "loss": round(loss.item(), 5),
                       "lr": lr_at(cfg, tokens - tokens_per_step), "tok_s": round((tokens - t_tokens) / max(dt, 1e-9))})
            if eval_sets and (tokens // every_eval != (tokens - tokens_per_step) // every_eval or step == total_steps):
                last_eval = evaluate()
            if tokens // every_ck != (tokens - tokens_per_step) // every_ck or step == total_steps:
                checkpoint()
            if bar:
                msg = f"loss {float(loss):.3f}"
                if last_eval:
                    msg += "  bpb " + " ".join(f"{k} {v:.3f}" for k, v in last_eval["bpb"].items())
                bar.update(task, completed=tokens, msg=msg)
    finally:
        if bar:
            bar.stop()
        log.close()
    final = {"step": step, "tokens": tokens, "threads": threads, "precision": precision, "compile": cfg.compile,
             "params": model.n_params(),
             "params_non_embedding": model.n_params(embedding=False),
             "bpb": last_eval["bpb"] if last_eval else {}, "unigram_bpb": last_eval["unigram_bpb"] if last_eval else {},
             "train_loss": round(loss.item(), 5) if loss is not None else None}
    (out / "final.json").write_text(json.dumps(final, indent=2))
    return final


def read_log(run: Path) -> list[dict]:
    return [json.loads(ln) for ln in (Path(run) / "log.jsonl").read_text().splitlines() if ln.strip()]
