"""`gristmill lab eval`: bits per byte per held-out file, and accuracy on verifiable tasks."""
from __future__ import annotations

from pathlib import Path

from gristmill.lab.data import EvalSet, bits_per_byte, read_texts, unigram_bpb
from gristmill.lab.tasks import contaminated, problems, score


def training_texts(cfg, base: Path, cwd: Path = Path(".")):
    """Every document the run could have trained on (for the contamination check)."""
    if cfg.data:
        yield from read_texts(cfg.data, base)
        return
    from gristmill.mix.sources import expand_source_paths
    from gristmill.mix.spec import load_mixture

    mix = load_mixture(cfg.mixture if Path(cfg.mixture).is_absolute() else base / cfg.mixture)
    for ph in mix.phases:
        for s in ph.sources:
            if s.spec is not None and s.spec.path:
                pats = [p if Path(p).is_absolute() else str(cwd / p) for p in s.spec.path]
                yield from read_texts([str(p) for p in expand_source_paths(pats)])


def evaluate_run(run: Path, data: list[str], tasks: list[str], n_problems: int = 200,
                 max_bytes: int = 200_000, check_training: bool = True) -> dict:
    from gristmill.lab.train import load_run

    model, tok, cfg, state = load_run(run)
    return evaluate_model(model, tok, cfg, state["counts"], data, tasks, n_problems, max_bytes,
                          base=Path(state["config"].get("_base", ".")), cwd=Path(state["config"].get("_cwd", ".")),
                          check_training=check_training)


def evaluate_model(model, tok, cfg, counts, data, tasks, n_problems=200, max_bytes=200_000, base=Path("."),
                   cwd=Path("."), check_training=True) -> dict:
    from gristmill.lab.precision import autocast, resolve

    precision = resolve(getattr(cfg, "precision", "fp32"))
    out: dict = {"bpb": {}, "unigram_bpb": {}, "tasks": {}, "precision": precision}
    if data:
        for es in EvalSet.from_paths(data, tok, model.config.seq_len, max_bytes):
            with autocast(precision):
                out["bpb"][es.name] = round(bits_per_byte(model, es), 5)
            out["unigram_bpb"][es.name] = round(unigram_bpb(counts, es), 5)
    if tasks:
        probs = {t: problems(t, n_problems) for t in tasks}
        dirty: set[str] = set()
        if check_training:
            allp = [p for ps in probs.values() for p in ps]
            dirty = contaminated(allp, training_texts(cfg, base, cwd))
        for t, ps in probs.items():
            clean = [p for p in ps if p.prompt not in dirty]
            out["tasks"][t] = {**score(model, tok, clean, precision=precision), "contaminated_skipped": len(ps) - len(clean)}
    return out
