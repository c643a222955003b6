"""`gristmill lab train`: AdamW, warmup + cosine, held-out bits per byte against tokens, checkpoints
that resume exactly (same losses as an uninterrupted run), deterministic for a seed.

RUN/ holds config.json (the resolved config), log.jsonl (one line per logged step and per
evaluation), ckpt/ (model and optimizer tensors in safetensors, data-stream state, unigram counts and
RNG state in JSON: lab/checkpoint.py) and final.json. final.json and ckpt/ always describe the same
model: a stream that ends before `tokens:` still gets its checkpoint and evaluation at the step reached,
and final.json says it stopped early. The directory is locked while a run writes it (the engine's
`exclusive_output`), so two `lab train` on one output refuse instead of interleaving their logs.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import torch

from gristmill.engine.atomic import atomic_write_text
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


def load_run(run: Path):
    """(model, tokenizer, config, state) of a finished or partial run; `state` holds the checkpoint's meta
    (config, step, tokens, stream, ...) with `counts` as a tensor. Reads safetensors and JSON only."""
    from gristmill.lab import checkpoint

    run = Path(run)
    for attempt in range(3):  # a training run may swap its checkpoint in while we read: read the new one
        ck = checkpoint.require(run)
        try:
            meta = checkpoint.read_meta(ck)
            try:
                cfg = TrainConfig.model_validate({k: v for k, v in meta["config"].items() if not k.startswith("_")})
                tok = LabTokenizer(meta["tokenizer"], cfg.eos_token)
                model = GPT(GPTConfig(**meta["model_config"]))
            except (TypeError, ValueError, AttributeError) as e:
                raise checkpoint.CheckpointError(f"{ck}/meta.json: {e}") from None
            checkpoint.load_weights(ck, model)
            break
        except FileNotFoundError:
            if attempt == 2:
                raise
            time.sleep(0.5)
    model.eval()
    state = {**meta, "counts": checkpoint.counts_of(meta, tok.vocab_size)}
    return model, tok, cfg, state


def _init_weights(model: GPT, run: Path) -> None:
    """Copy the weights of another run into `model` (same architecture and vocabulary, else a clear error)."""
    from gristmill.lab import checkpoint

    ck = checkpoint.require(run, what="init_from: ")
    meta = checkpoint.read_meta(ck)
    if meta["model_config"] != model.config.to_dict():
        diff = {k: (v, meta["model_config"].get(k)) for k, v in model.config.to_dict().items() if meta["model_config"].get(k) != v}
        raise ValueError(f"init_from: {run} holds a different model (this config vs that run: {diff}); "
                         "use the same model, seq_len and tokenizer")
    checkpoint.load_weights(ck, model)


def read_log_lines(log_file: Path) -> list[str]:
    """The log's complete lines. A kill mid-write leaves a torn last line: dropped (the step it
    described is redone after the checkpoint). A bad line elsewhere is not ours to drop: an error."""
    if not log_file.exists():
        return []
    raw = log_file.read_text(encoding="utf-8", errors="replace")
    lines = raw.split("\n")
    out = []
    for i, ln in enumerate(lines):
        if not ln.strip():
            continue
        try:
            rec = json.loads(ln)
            if not isinstance(rec, dict) or not isinstance(rec.get("step"), int):
                raise ValueError("no integer step")
        except ValueError as e:
            if i == len(lines) - 1:  # after the last newline: the unterminated, torn line
                break
            raise RunMismatch(f"{log_file} line {i + 1}: not a log record ({e}); move the file away or use --fresh") from None
        out.append(ln)
    return out


def train(cfg: TrainConfig, out: Path, base: Path = Path("."), fresh: bool = False,
          progress: bool | None = None, console=None, eval_sets: list[EvalSet] | None = None,
          on_eval=None) -> dict:
    """`on_eval(model)` -> dict of extra metrics logged with each evaluation (e.g. task accuracy along
    the curve, `gristmill lab curriculum`)."""
    from gristmill.engine.manifest import OutputBusy, exclusive_output

    out = Path(out)
    try:
        with exclusive_output(out):
            return _train(cfg, out, base, fresh, progress, console, eval_sets, on_eval)
    except OutputBusy as e:
        raise RunMismatch(str(e)) from None


def _say(console, msg: str) -> None:
    """A warning the user must see: on the run's console, else on stderr."""
    if console is not None:
        console.print(f"[bold yellow]{msg}[/]", highlight=False)
    else:
        print(msg, file=sys.stderr)


def _progress_line(tokens: int, total: int, t_tokens: int, dt: float, loss: float) -> str:
    rate = (tokens - t_tokens) / max(dt, 1e-9)
    eta = f", ETA {(total - tokens) / rate:.0f} s" if rate > 0 and tokens < total else ""
    return f"train: {tokens:,}/{total:,} tokens, {rate:,.0f} tokens/s, loss {loss:.3f}{eta}"


def _train(cfg, out, base, fresh, progress, console, eval_sets, on_eval) -> dict:
    from gristmill.engine.progress import LOG_EVERY
    from gristmill.lab import checkpoint

    threads = use_all_cores(cfg.threads)
    precision = resolve(cfg.precision)
    # the tokenizer path is stored resolved, so eval/serve find it from anywhere
    tok_spec = cfg.tokenizer if cfg.tokenizer == "bytes" or Path(cfg.tokenizer).is_absolute() else str((base / cfg.tokenizer).resolve())
    tok = LabTokenizer(tok_spec, cfg.eos_token)
    resolved = {**cfg.model_dump(mode="json"), "_base": str(Path(base).resolve()),
                "_cwd": str(Path.cwd()),  # mixtures resolve source paths against the working directory
                "_precision": precision}  # what `auto` meant on this machine
    cfg_file, log_file, final_file = out / "config.json", out / "log.jsonl", out / "final.json"
    if fresh and out.exists():
        for f in (cfg_file, log_file, final_file, out / "ckpt.pt"):
            f.unlink(missing_ok=True)
        for d in (checkpoint.NAME, checkpoint.NEW, checkpoint.OLD):
            if (out / d).is_dir():
                shutil.rmtree(out / d)
    if (out / "ckpt.pt").exists() and not checkpoint.exists(out):
        raise RunMismatch(checkpoint.legacy_message(out))
    checkpoint.repair(out)
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
    cap = getattr(stream, "planned_sequences", None)
    if cap is not None and cap < total_steps * cfg.batch_size:
        _say(console, f"warning: the curriculum's phases hold {cap:,} sequences ({cap // cfg.batch_size:,} steps of "
                      f"{cfg.batch_size}), fewer than `tokens: {cfg.tokens:,}` needs ({total_steps:,} steps); training will "
                      "stop when the stream ends, with the learning-rate schedule set for the full budget")
    if eval_sets is None:
        eval_sets = EvalSet.from_paths(cfg.eval.heldout, tok, cfg.seq_len, cfg.eval.max_bytes, base) if cfg.eval.heldout else []
    counts = torch.zeros(tok.vocab_size, dtype=torch.long)
    every_eval = cfg.eval.every_tokens or max(tokens_per_step, cfg.tokens // 10)
    every_ck = cfg.checkpoint_every_tokens or every_eval
    step, tokens = 0, 0
    ck = checkpoint.find(out)
    if cfg.init_from and ck is None:
        _init_weights(model, Path(cfg.init_from) if Path(cfg.init_from).is_absolute() else Path(base) / cfg.init_from)
    if ck is not None:  # resume: model, optimizer, stream position, counts; the log is cut back to match
        meta = checkpoint.read_meta(ck)
        checkpoint.load_weights(ck, model)
        checkpoint.load_optimizer(ck, opt, meta)
        stream.load_state_dict(meta["stream"])
        counts, step, tokens = checkpoint.counts_of(meta, tok.vocab_size), meta["step"], meta["tokens"]
        torch.set_rng_state(checkpoint.rng_from_json(meta["rng"]))
        if final_file.exists():
            final = json.loads(final_file.read_text())
            if final.get("step") == step:  # finished (or stopped early) at this checkpoint: nothing to do
                return final
    final_file.unlink(missing_ok=True)  # from here on, the run is past whatever an old final.json described
    # without a checkpoint nothing of an earlier attempt survives: its step-0 evaluation is redone
    lines = [ln for ln in read_log_lines(log_file) if json.loads(ln)["step"] <= step] if ck is not None else []
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
        if on_eval:
            rec.update(on_eval(model))
        write(rec)
        return rec

    saved_step = step if ck is not None else None

    def save_checkpoint():
        nonlocal saved_step
        checkpoint.save(out, model, {"step": step, "tokens": tokens, "stream": stream.state_dict(),
                                     "rng": checkpoint.rng_to_json(torch.get_rng_state()), "config": resolved,
                                     "model_config": model.config.to_dict(), "tokenizer": tok_spec,
                                     "schedule": {"tokens": cfg.tokens, "lr": lr_at(cfg, max(tokens - tokens_per_step, 0))}},
                        optimizer=opt, counts=counts)
        saved_step = step

    fwd = torch.compile(model) if cfg.compile else model
    model.train()
    it = iter(stream)
    bar = None
    show = progress if progress is not None else sys.stdout.isatty()
    if show:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("[bold]train"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} tokens"),
                       TextColumn("{task.fields[msg]}"), TimeRemainingColumn(), console=console)
        task = bar.add_task("train", total=total_steps * tokens_per_step, completed=tokens, msg="")
        bar.start()
    # off a terminal (CI, a pipe, nohup) a plain line every few seconds, as `gristmill run` does
    lines_off_tty = progress is None and not show
    # a run killed after its last checkpoint but before final.json resumes at the end: its evaluation at
    # that step is already in the log, and final.json must carry it (not an empty bpb)
    kept = [r for r in map(json.loads, lines) if r.get("kind") == "eval" and r["step"] == step]
    last_eval = evaluate() if step == 0 and eval_sets else (kept[-1] if kept and eval_sets else None)
    t0, t_tokens = time.perf_counter(), tokens
    last_line = t0
    loss_v = None
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
            loss_v = loss.detach().item()  # detached: float() of a tensor that requires grad warns
            step += 1
            tokens += tokens_per_step
            if step % cfg.log_every == 0 or step == total_steps:
                dt = time.perf_counter() - t0
                write({"kind": "train", "step": step, "tokens": tokens, "loss": round(loss_v, 5),
                       "lr": lr_at(cfg, tokens - tokens_per_step), "tok_s": round((tokens - t_tokens) / max(dt, 1e-9))})
            if eval_sets and (tokens // every_eval != (tokens - tokens_per_step) // every_eval or step == total_steps):
                last_eval = evaluate()
            if tokens // every_ck != (tokens - tokens_per_step) // every_ck or step == total_steps:
                save_checkpoint()
            if bar:
                msg = f"loss {loss_v:.3f}"
                if last_eval:
                    msg += "  bpb " + " ".join(f"{k} {v:.3f}" for k, v in last_eval["bpb"].items())
                bar.update(task, completed=tokens, msg=msg)
            elif lines_off_tty and time.perf_counter() - last_line >= LOG_EVERY:
                last_line = time.perf_counter()
                print(_progress_line(tokens, total_steps * tokens_per_step, t_tokens, last_line - t0, loss_v),
                      file=sys.stderr, flush=True)
        # the model that exists is the one at this step: evaluate and checkpoint it, so final.json,
        # ckpt/ and what eval/serve/quantize load are one model (also after a resume at the last step)
        if eval_sets and (last_eval is None or last_eval["step"] != step):
            last_eval = evaluate()
        if saved_step != step:
            save_checkpoint()
    finally:
        if bar:
            bar.stop()
        log.close()
    final = {"step": step, "tokens": tokens, "threads": threads, "precision": precision, "compile": cfg.compile,
             "params": model.n_params(),
             "params_non_embedding": model.n_params(embedding=False),
             "bpb": last_eval["bpb"] if last_eval else {}, "unigram_bpb": last_eval["unigram_bpb"] if last_eval else {},
             "train_loss": round(loss_v, 5) if loss_v is not None else None}
    from gristmill.lab.evaluate import not_below_unigram

    final["not_below_unigram"] = not_below_unigram(final["bpb"], final["unigram_bpb"])
    if step < total_steps:
        final["stopped_early"] = {"reason": "the training stream ended (its phases or data hold fewer tokens than `tokens:`)",
                                  "tokens_planned": total_steps * tokens_per_step, "tokens_trained": tokens,
                                  "note": "the learning-rate schedule was set for the planned budget, so it never decayed fully"}
        msg = (f"warning: the training stream ended at {tokens:,} of {total_steps * tokens_per_step:,} planned tokens "
               f"(step {step} of {total_steps}); the checkpoint, evaluation and final.json are at step {step}. "
               "Give the data more tokens or lower `tokens:`")
        _say(console, msg)
    atomic_write_text(final_file, json.dumps(final, indent=2))
    return final


def has_checkpoint(run: Path) -> bool:
    from gristmill.lab import checkpoint

    return checkpoint.exists(run)


def read_log(run: Path) -> list[dict]:
    return [json.loads(ln) for ln in read_log_lines(Path(run) / "log.jsonl")]
