"""Model-based quality: ``quality_score`` annotates, ``quality_select`` keeps by score.

Tag, then select: the score is stored, so ``gristmill select --set quality_select.min_score=0.7``
re-selects without scoring again. Selection by ``top_percent`` needs every score first (DCLM keeps
the top 10 % of its fastText scores, Li et al. 2024, Sec. 4.3), so ``quality_select`` is a global
step: its fit reads the scores of everything kept so far and fixes the threshold.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator, model_validator

from gristmill.arrow import texts, with_column
from gristmill.step import FitContext, GlobalStep, Step, StepConfig, register

__all__ = ["QualityScore", "QualitySelect"]


class QualityScoreConfig(StepConfig):
    model: str = Field(description="model file from `gristmill quality train`")
    column: str = Field("quality_score", description="the column the score is written to")

    @field_validator("model")
    @classmethod
    def _loads(cls, v: str) -> str:
        from gristmill.quality.model import load_cached

        load_cached(v)  # a missing or corrupt model fails at recipe load (and forked workers inherit it)
        return v


@register
class QualityScore(Step):
    """Score each document with a trained quality model (``gristmill quality train``): higher means
    more like the positives. The fast family is DCLM's hashed-bigram linear classifier; the
    embedding family is FineWeb-Edu's embedding + linear head (see ``gristmill.quality.model``)."""

    name = "quality_score"
    Config = QualityScoreConfig

    @classmethod
    def example_steps(cls, workdir: Path) -> list[dict]:
        """A fast model trained in a second on prose against keyboard-mash junk."""
        import random

        from gristmill.quality.model import train

        path = Path(workdir) / "quality-example.bin"
        if not path.exists():
            rng = random.Random(0)
            words = "the of a model data text is that which for an each step document word".split()
            good = [" ".join(rng.choice(words) for _ in range(40)) + "." for _ in range(30)]
            bad = ["".join(rng.choice("qwxzjk!$ 0123") for _ in range(120)) for _ in range(30)]
            train(good + bad, np.r_[np.ones(30), np.zeros(30)], "fast").save(path)
        return [{cls.name: {"model": str(path)}}]

    @classmethod
    def writes(cls, config) -> set[str]:
        return {config.column}

    def _model(self):
        # once per worker process or Ray actor, not once per shard (the step is pickled per task)
        from gristmill.quality.model import load_cached

        return load_cached(self.config.model)

    def annotate(self, table: pa.Table) -> pa.Table:
        scores = self._model().score(texts(table)) if table.num_rows else np.zeros(0, np.float32)
        return with_column(table, self.config.column, pa.array(scores, pa.float32()))


class QualitySelectConfig(StepConfig):
    min_score: float | None = Field(None, description="keep documents scoring at least this")
    top_percent: float | None = Field(None, gt=0, le=100, description="keep the best-scoring percent of documents (DCLM: 10)")
    per_source: bool = Field(False, description="with top_percent: the percent applies within each source")
    column: str = Field("quality_score", description="the score column to select on")

    @model_validator(mode="after")
    def _one(self):
        if (self.min_score is None) == (self.top_percent is None):
            raise ValueError("set exactly one of min_score or top_percent")
        if self.per_source and self.top_percent is None:
            raise ValueError("per_source applies to top_percent only")
        return self


@register
class QualitySelect(GlobalStep):
    """Keep documents by quality score: ``min_score`` (a fixed threshold) or ``top_percent`` (the
    best-scoring share of the corpus, optionally per source). Rejects as
    ``quality_select/low_quality``. Documents with no score (a source the scorer skipped) are kept."""

    name = "quality_select"
    Config = QualitySelectConfig
    thresholds = {"min_score": "quality_score"}

    @classmethod
    def example_steps(cls, workdir: Path) -> list[dict]:
        return QualityScore.example_steps(workdir) + [{cls.name: {"top_percent": 50}}]

    @classmethod
    def reads(cls, config) -> set[str]:
        return {config.column}

    def fit(self, ctx: FitContext) -> None:
        c = self.config
        wd = Path(ctx.workdir)
        scored: dict[str, int] = {}
        if c.top_percent is None:
            thr = {"*": c.min_score}
        else:
            by_source: dict[str, list[np.ndarray]] = {}
            for _i, batch in ctx.batches([c.column, "source"]):
                if c.column not in batch.schema.names:
                    raise RuntimeError(f"quality_select: no column {c.column!r}; put quality_score before it in the recipe")
                s = pc.fill_null(pc.cast(batch.column(c.column), pa.float64()), np.nan).to_numpy(zero_copy_only=False)
                if not c.per_source:
                    by_source.setdefault("*", []).append(s)
                    continue
                src = batch.column("source")
                for key in pc.unique(src).to_pylist():
                    m = pc.fill_null(pc.equal(src, key), False).to_numpy(zero_copy_only=False)
                    by_source.setdefault(key, []).append(s[m])
            thr = {}
            for key, parts in by_source.items():
                v = np.concatenate(parts)
                v = v[np.isfinite(v)]
                scored[key] = len(v)
                thr[key] = float(np.quantile(v, 1 - c.top_percent / 100, method="higher")) if len(v) else None
        from gristmill.engine.atomic import atomic_write_text

        atomic_write_text(wd / "thresholds.json", json.dumps(thr))
        rule = f"min_score={c.min_score:g}" if c.top_percent is None else f"top_percent={c.top_percent:g}" + (" per source" if c.per_source else "")
        atomic_write_text(wd / "report.json", json.dumps({"rule": rule, "thresholds": thr, **({"scored": scored} if scored else {})}))

    @staticmethod
    def refit_cache(workdir: Path) -> dict | None:
        """``gristmill select`` re-fits this step from the stored score column alone: nothing to cache."""
        return {"files": 0, "bytes": 0} if (Path(workdir) / "thresholds.json").exists() else None

    def select(self, table: pa.Table) -> pa.Array:
        c = self.config
        thr = json.loads(self.fitted_file("thresholds.json").read_text()) if c.top_percent is not None else {"*": c.min_score}
        score = table.column(c.column)
        if c.per_source and c.top_percent is not None:
            keys = table.column("source").to_pylist()
            t = pa.array([thr.get(k) for k in keys], pa.float64())
        else:
            t = pa.array([thr.get("*")] * table.num_rows, pa.float64())
        low = pc.fill_null(pc.less(pc.cast(score, pa.float64()), t), False)
        return pc.if_else(low, pa.scalar("low_quality"), pa.scalar(None, pa.string()))
