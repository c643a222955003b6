"""The step interface and the registry of steps by name.

A step is configured by a pydantic model and works on Arrow tables. It may *annotate* (return the
table with added columns) and/or *select* (return, per row, the name of the rule that rejects it,
or null to keep it). The engine prefixes rule names with the step name, so a reason reads
``gopher_quality/too_few_words``. Tag-then-select: annotation columns are stored in the output, so
thresholds can be re-applied later (``gristmill select``) without recomputing.

A :class:`GlobalStep` (dedup, classifier training) must see the whole dataset first: the engine
calls :meth:`GlobalStep.fit` on everything the previous steps kept, then runs ``annotate``/``select``
per shard as for any step.
"""
from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Iterator

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

__all__ = ["Step", "StepConfig", "GlobalStep", "FitContext", "register", "get_step", "all_steps", "UnknownStep", "position_keys"]


class StepConfig(BaseModel):
    """Base of every step's configuration; unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Step:
    """Base class for per-batch steps. Subclasses set ``name`` and ``Config`` and override
    :meth:`annotate` and/or :meth:`select`. Instances are pickled into worker processes, so keep
    heavy state (models, indexes) lazy: load it on first use, not in ``__init__``."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[StepConfig]] = StepConfig
    only_sources: list[str] | None = None  # set from the recipe's `sources:`; the engine routes rows
    # Config parameter -> the annotated column (or columns) it thresholds; the report marks it on
    # the column's histogram.
    thresholds: ClassVar[dict[str, str | tuple[str, ...]]] = {}
    # Optional Python packages the step imports, {import name: pip requirement}: the recipe check
    # reports a missing one before any work, with the install command (not a traceback after
    # stage 1). Config-dependent needs override :meth:`packages`.
    requires: ClassVar[dict[str, str]] = {}
    # The version of what the step computes. Raise it whenever a change to the step would change
    # its output for the same input and config: it is written to recipe.lock.yaml and is part of a
    # run's fingerprint (with gristmill's version), so a run resumed after an upgrade refuses to
    # mix shards made by two algorithms.
    version: ClassVar[int] = 1

    def __init__(self, config: StepConfig | None = None):
        self.config = config if config is not None else self.Config()
        self.stats: Counter[str] = Counter()

    @property
    def key(self) -> str:
        """What the ledger calls this step in this recipe: its name, or ``name#k`` for the k-th use
        of a name the recipe uses more than once (:func:`position_keys`). Reject reasons
        (``key/rule``), ``summary.json`` and the rejected files are keyed by it."""
        return self.__dict__.get("step_key") or self.name

    def annotate(self, table: pa.Table) -> pa.Table:
        """Return ``table`` with this step's columns added (or ``text`` rewritten)."""
        return table

    def select(self, table: pa.Table) -> pa.Array | None:
        """Return a string array, one entry per row: null keeps the row, a rule name rejects it.
        Return None when the step never rejects."""
        return None

    # What a step declares about itself, so the recipe check needs no step's name: the optional
    # packages it imports and the columns it reads and writes beyond id, text and source. A
    # config that failed validation is given as an unvalidated model (defaults filled in).
    @classmethod
    def packages(cls, config: StepConfig) -> dict[str, str]:
        """Optional packages this configuration needs, {import name: pip requirement}."""
        return dict(cls.requires)

    @classmethod
    def reads(cls, config: StepConfig) -> set[str]:
        """Columns besides id, text and source that this configuration reads: each must be an
        input's ``fields:`` or written by an earlier step, or the recipe fails at load."""
        return set()

    @classmethod
    def writes(cls, config: StepConfig) -> set[str]:
        """Columns this configuration adds that later steps may read (declared where a later step's
        ``reads`` can name them)."""
        return set()

    @classmethod
    def example_steps(cls, workdir: Path) -> list[dict]:
        """A small working recipe fragment that exercises this step, ``[{name: config}, ...]``,
        making any file it needs (a model, an index) under ``workdir``. The step x reader test
        matrix runs every registered step through it, so a step that needs more than its defaults
        (a model file, an earlier step's column) says so here."""
        return [{cls.name: {}}]

    def take_stats(self) -> dict[str, int]:
        """Counters gathered since the last call (for example PII replacements); they are summed
        into ``summary.json`` under ``counters.<step>``."""
        out = dict(self.stats)
        self.stats.clear()
        return out

    def __getstate__(self):
        # Lazy caches (names starting with "_") are rebuilt in the worker, not pickled.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state):
        self.__dict__.update(state)


@dataclass
class FitContext:
    """What a global step sees in :meth:`GlobalStep.fit`.

    ``shards`` are parquet files holding every document kept so far, in a stable order.
    ``workdir`` is private to this step in this run, survives an interrupted run, and is the place
    for spill files, checkpoints and the fitted state that ``annotate`` later loads.
    """

    shards: list[Path]
    workdir: Path
    workers: int
    log: Callable[[str], None] = print
    progress: object | None = None  # a gristmill.engine.progress.Progress; None: no display
    stage: str = ""  # what the engine calls this fit, e.g. "stage 2/3: minhash_dedup fit"

    def track(self, what: str, total: int | None, unit: str = "docs"):
        """A progress bar for one phase of the fit: ``with ctx.track("signatures", n) as bar:``
        then ``bar.advance(n, docs=n, nbytes=b)`` as work is done (``bar.report`` is the ``progress``
        callback of :func:`gristmill.engine.pool.run_tasks`)."""
        from gristmill.engine.progress import Progress

        prog = self.progress if self.progress is not None else Progress(enabled=False, log=lambda m: None)
        return prog.task(f"{self.stage}: {what}" if self.stage else what, total, unit)

    def rows(self) -> list[int]:
        """Rows of each shard (parquet metadata only), e.g. for a progress total."""
        import pyarrow.parquet as pq

        return [pq.ParquetFile(p).metadata.num_rows for p in self.shards]

    def batches(self, columns: list[str], batch_rows: int = 8192) -> Iterator[tuple[int, pa.RecordBatch]]:
        """Yield ``(shard_index, batch)`` over all shards, reading only ``columns``."""
        import pyarrow.parquet as pq

        for i, path in enumerate(self.shards):
            pf = pq.ParquetFile(path)
            for batch in pf.iter_batches(batch_size=batch_rows, columns=columns):
                yield i, batch


class GlobalStep(Step):
    """A step that needs the whole dataset before it can decide about one document."""

    def fit(self, ctx: FitContext) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def bind(self, workdir: Path) -> None:
        """Called in every process before ``annotate``/``select``: where ``fit`` left its state."""
        self.workdir = Path(workdir)

    def fitted_file(self, name: str) -> Path:
        """A file that ``fit`` left in the workdir, or a clear error when the step was never fitted."""
        wd = getattr(self, "workdir", None)
        path = Path(wd) / name if wd is not None else None
        if path is None or not path.exists():
            raise RuntimeError(f"{self.name}: no fitted state ({name}) in {wd!r}; the engine runs fit() and bind() "
                               "before annotate (re-run the recipe; an interrupted fit resumes)")
        return path

    def report(self) -> dict | None:
        """A small JSON-able report for ``summary.json`` (for example cluster sizes). By default the
        ``report.json`` that ``fit`` left in its workdir, so it survives a resumed run."""
        import json

        f = Path(getattr(self, "workdir", "")) / "report.json"
        return json.loads(f.read_text()) if getattr(self, "workdir", None) and f.exists() else None


def position_keys(names: list[str]) -> list[str]:
    """Ledger keys for a recipe's steps, by position: a name used once is its own key (so outputs
    and docs of recipes without repeats keep their reasons, e.g. ``exact_dedup/duplicate``); a name
    used more than once gets ``#1``, ``#2``... in recipe order (``exact_dedup#2/duplicate``), so
    ``exact_dedup`` on ``url`` and then on ``text`` are two entries, never one merged count."""
    seen: Counter[str] = Counter()
    total = Counter(names)
    out = []
    for n in names:
        seen[n] += 1
        out.append(n if total[n] == 1 else f"{n}#{seen[n]}")
    return out


_REGISTRY: dict[str, type[Step]] = {}


_PLUGIN_GROUP = "gristmill.steps"
_plugin_errors: list[str] = []  # plugins that failed to load: named when a recipe asks for an unknown step
_plugins_loaded = False


class UnknownStep(KeyError):
    def __init__(self, name: str):
        self.name = name
        self.suggestions = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.6)
        hint = f" (did you mean {' or '.join(repr(s) for s in self.suggestions)}?)" if self.suggestions else ""
        broken = f"; note: {'; '.join(_plugin_errors)}" if _plugin_errors else ""
        super().__init__(f"unknown step {name!r}{hint}; `gristmill steps` lists them{broken}")

    def __str__(self) -> str:
        return self.args[0]


def register(cls: type[Step]) -> type[Step]:
    """Class decorator: make a step available to recipes under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"step name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin_steps() -> None:
    from gristmill import steps_index  # noqa: F401  (imports every module that registers steps)

    _load_plugin_steps()


def _load_plugin_steps() -> None:
    """Third-party steps, registered through the entry-point group ``gristmill.steps`` (as Dolma's
    registry accepts user taggers): each entry point names a module that registers its steps with
    :func:`register` when imported, or a :class:`Step` subclass. A plugin that fails to load does
    not break the built-in steps; its error is named when a recipe asks for a step it would have
    provided."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=_PLUGIN_GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
        try:
            obj = ep.load()
            if isinstance(obj, type) and issubclass(obj, Step):
                register(obj)
        except Exception as e:  # noqa: BLE001 - third-party code: report it, keep the built-in steps
            _plugin_errors.append(f"step plugin {ep.name!r} ({ep.value}, package {dist}) failed to load: {type(e).__name__}: {e}")


def get_step(name: str) -> type[Step]:
    _load_builtin_steps()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownStep(name) from None


def all_steps() -> dict[str, type[Step]]:
    _load_builtin_steps()
    return dict(sorted(_REGISTRY.items()))
