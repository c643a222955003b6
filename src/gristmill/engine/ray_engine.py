"""The Ray engine: the same recipe, the same run directory, its tasks on a Ray cluster.

``gristmill run RECIPE --engine ray [--address ADDR]`` runs the local engine's plan unchanged and
routes every fan-out through Ray: each shard of each stage (read with gristmill's own readers, so
quarantine is identical; every per-batch step; the atomic writes and the manifest entry) is one Ray
task, and so is each unit of work that a global step fans out over its partitions on disk (exact
dedup's hash-prefix groups; MinHash signatures, bucketing, pair verification, connected components,
star clusters and the keep decisions per cluster partition; paragraph-dedup spills and hash
ranges; semantic dedup's embedding per shard, k-means assignment and SemDeDup blocks). The driver
only coordinates: file lists, counts and small per-partition statistics.

The tasks run on a pool of long-lived worker actors (``GristmillWorker``, one per
``GRISTMILL_RAY_TASK_CPUS`` CPUs of the cluster, for the whole run): a step that needs a model
(``quality_score``, semantic dedup's embedder, ``language_id``) loads it through the per-process
cache (:mod:`gristmill.engine.model_cache`), so once per actor, not once per shard; at the end the
engine prints the loads per actor. This is Ray Data's ``map_batches(CallableClass,
concurrency=N)`` pattern (an actor pool that keeps the model), without Ray Data itself: a shard
task writes its output under a temporary name, renames it and records the unit in the manifest,
which is what makes the ledger exact and a killed run resumable; Ray Data re-blocks rows and owns
its writes, so neither guarantee would hold.

Failures: an actor whose process dies is restarted and its task run again (``max_restarts``,
``max_task_retries``); a retried shard rewrites the same files, and stale temporary names are
removed on resume. Sizing: ``GRISTMILL_RAY_TASK_CPUS`` (default 1) and
``GRISTMILL_RAY_TASK_MEMORY`` (e.g. ``4GiB``; default none: Ray does not reserve memory) are the
resources each actor reserves; Ray places actors only where they fit.

The run directory must be on storage every node sees (one machine, or NFS and the like), as for
DataTrove's and NeMo Curator's Ray executors.
"""
from __future__ import annotations

import os
import re
import sys
import time
from typing import Callable, Iterable, Iterator

from gristmill.engine.pool import RESUME_HINT, WorkerDied

# A task whose worker process dies is run again this many times (Ray's own default for tasks is 3).
TASK_RETRIES = 3
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4}


def _call(fn, initializer, initargs, item):
    if initializer is not None:
        initializer(*initargs)
    return fn(item)


def _status_kib(field: str) -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# A task's progress goes to the driver at most this often while it runs (and once at its end), so a
# bar moves inside a long task without a message per batch.
PROGRESS_EVERY_S = 0.2


class ProgressSink:
    """A Ray actor that adds up the (documents, bytes) the tasks report; the driver takes the
    totals while it waits for tasks. The local pool's children send the same figures through a
    pipe (:func:`gristmill.engine.pool.report`); a Ray task runs in another process, often on
    another node, so its reports need an actor to reach the driver: before, ``report`` was a no-op
    in a Ray worker (nothing set the per-process hook) and the bars stood still until a task ended."""

    def __init__(self):
        self.docs = self.nbytes = 0

    def add(self, docs: int, nbytes: int) -> None:
        self.docs += docs
        self.nbytes += nbytes

    def take(self) -> tuple[int, int]:
        out = (self.docs, self.nbytes)
        self.docs = self.nbytes = 0
        return out


class _Reporter:
    """The per-process hook of :func:`gristmill.engine.pool.report` inside a Ray worker: batches
    the figures and sends them to the sink every :data:`PROGRESS_EVERY_S`, fire-and-forget."""

    def __init__(self, sink):
        self.sink, self.clock = sink, time.monotonic
        self.docs = self.nbytes = 0
        self.last = self.clock()

    def __call__(self, docs: int, nbytes: int) -> None:
        self.docs += docs
        self.nbytes += nbytes
        if self.clock() - self.last >= PROGRESS_EVERY_S:
            self.flush(wait=False)

    def flush(self, wait: bool) -> None:
        if self.docs or self.nbytes or wait:
            ref = self.sink.add.remote(self.docs, self.nbytes)
            self.docs = self.nbytes = 0
            self.last = self.clock()
            if wait:  # calls from one caller run in order: after this one, all of the task's are in
                import ray

                ray.get(ref)


class GristmillWorker:
    """A Ray actor that runs gristmill tasks one at a time; a long-lived process, so the models its
    steps load stay loaded (per-process cache) across the shards and stages of a run.

    Each task's peak memory is measured (Linux): the process's peak RSS is reset before the task
    (``/proc/self/clear_refs``) and read after it, so the engine can report the largest task of
    each kind, what ``GRISTMILL_RAY_TASK_MEMORY`` should cover."""

    def run(self, fn, initializer, initargs, item, sink=None):
        from gristmill.engine import pool

        reporter = _Reporter(sink) if sink is not None else None
        pool._REPORT = reporter
        try:
            return self._run(fn, initializer, initargs, item)
        finally:
            pool._REPORT = None
            if reporter is not None:
                try:
                    reporter.flush(wait=True)
                except Exception:  # noqa: BLE001 - progress is never worth failing a task
                    pass

    def _run(self, fn, initializer, initargs, item):
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
        except OSError:
            pass
        start = _status_kib("VmRSS:")
        res = _call(fn, initializer, initargs, item)
        return res, getattr(fn, "__name__", type(fn).__name__), start, _status_kib("VmHWM:")

    def model_loads(self) -> dict:
        from gristmill.engine.model_cache import loads

        return loads()


def parse_memory(text: str, what: str = "GRISTMILL_RAY_TASK_MEMORY") -> int:
    """``4GiB``, ``500MB``, ``2e9`` -> bytes; a clear error otherwise."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", text or "")
    if not m or m.group(2).lower() not in _UNITS:
        raise RuntimeError(f"{what}={text!r}: give a size such as 4GiB, 500MB or 2000000000 (bytes)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def task_resources() -> tuple[float, int | None]:
    """(CPUs, memory bytes or None) each worker actor reserves, from the environment."""
    raw = os.environ.get("GRISTMILL_RAY_TASK_CPUS", "1")
    try:
        cpus = float(raw)
        if cpus <= 0:
            raise ValueError
    except ValueError:
        raise RuntimeError(f"GRISTMILL_RAY_TASK_CPUS={raw!r}: give a positive number of CPUs per task, e.g. 1 or 0.5") from None
    mem = os.environ.get("GRISTMILL_RAY_TASK_MEMORY")
    return cpus, (parse_memory(mem) if mem else None)


class RayBackend:
    """Runs :func:`gristmill.engine.pool.run_tasks` calls on a pool of Ray worker actors,
    ``workers`` tasks in flight (at most as many actors as the cluster's CPUs hold)."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise RuntimeError("--engine ray needs Ray: pip install 'ray[data]'") from None
        self.ray = ray
        self.task_cpus, self.task_memory = task_resources()
        self.started_here = not ray.is_initialized()
        if self.started_here:
            kw = {"address": address} if address else {"num_cpus": num_cpus}
            # the workers import this same gristmill: pass the driver's import path along
            env = {"env_vars": {"PYTHONPATH": os.environ["PYTHONPATH"]}} if os.environ.get("PYTHONPATH") else None
            try:
                ray.init(include_dashboard=False, log_to_driver=False, runtime_env=env, **kw)
            except ConnectionError as e:
                raise RuntimeError(f"--address {address}: no Ray cluster answers there ({e}); start one with "
                                   "`ray start --head` or leave out --address to start a local one") from None
        opts = {"num_cpus": self.task_cpus, "max_restarts": TASK_RETRIES, "max_task_retries": TASK_RETRIES}
        if self.task_memory:
            opts["memory"] = self.task_memory
        self._actor_cls = ray.remote(**opts)(GristmillWorker)
        self._actors: list = []
        self._sink = None  # the ProgressSink actor, made on the first fan-out that shows progress
        self.task_peaks: dict[str, tuple[int, int]] = {}  # task function -> (RSS before, peak RSS) in KiB, largest
        self._lost = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError,
                      ray.exceptions.RayActorError)

    def cpus(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def nodes(self) -> int:
        return sum(1 for n in self.ray.nodes() if n.get("Alive"))

    def _pool(self, n: int) -> list:
        """``n`` worker actors (created on first need, kept for the run), capped by what the
        cluster's CPUs hold, so no actor waits forever for resources."""
        cpus = self.cpus()
        if self.task_cpus > cpus:
            raise RuntimeError(f"GRISTMILL_RAY_TASK_CPUS={self.task_cpus:g} but the cluster has {cpus} CPUs; "
                               f"set it to at most {cpus}")
        cap = max(1, int(cpus // self.task_cpus))
        while len(self._actors) < min(n, cap):
            self._actors.append(self._actor_cls.remote())
        return self._actors[: min(n, cap)]

    def run_tasks(self, fn: Callable, items: Iterable, workers: int, progress=None, initializer=None,
                  initargs: tuple = ()) -> Iterator:
        ray = self.ray
        items = list(items)
        idle = list(self._pool(max(1, min(workers, len(items)))))
        queue = list(reversed(items))
        pending: dict = {}  # task ref -> actor running it
        fn_ref = ray.put(fn)  # one copy in the object store, not one per task
        if progress is not None and self._sink is None:
            self._sink = ray.remote(num_cpus=0)(ProgressSink).remote()
        sink = self._sink if progress is not None else None

        def drain() -> None:
            if sink is not None:
                d, b = ray.get(sink.take.remote())
                if d or b:
                    progress(d, b)

        try:
            while queue or pending:
                while queue and idle:
                    actor = idle.pop()
                    pending[actor.run.remote(fn_ref, initializer, initargs, queue.pop(), sink)] = actor
                done, _ = ray.wait(list(pending), num_returns=1, timeout=0.25)
                drain()
                for ref in done:
                    actor = pending.pop(ref)
                    try:
                        res = ray.get(ref)
                    except self._lost as e:
                        raise WorkerDied(f"a Ray worker died {TASK_RETRIES + 1} times on one task ({type(e).__name__}); "
                                         f"{RESUME_HINT}") from None
                    except ray.exceptions.RayTaskError as e:
                        raise e.as_instanceof_cause() from None
                    idle.append(actor)
                    res, name, start, peak = res
                    if peak >= self.task_peaks.get(name, (0, 0))[1]:
                        self.task_peaks[name] = (start, peak)
                    yield res
        finally:
            if pending:  # Ctrl-C or an error: stop the running tasks now (an actor task cannot be
                # force-cancelled, so its actor goes; the next fan-out starts a fresh one)
                busy = set(map(id, pending.values()))
                for actor in pending.values():
                    ray.kill(actor, no_restart=True)
                self._actors = [a for a in self._actors if id(a) not in busy]

    def model_loads(self) -> list[dict]:
        """Per worker actor: its process id and the models it loaded (kind -> count)."""
        if not self._actors:
            return []
        try:
            return self.ray.get([a.model_loads.remote() for a in self._actors], timeout=30)
        except Exception:  # noqa: BLE001 - a report, never worth failing the run
            return []

    def shutdown(self) -> None:
        per_actor = self.model_loads()
        kinds = sorted({k for r in per_actor for k in r["loads"]})
        if kinds:
            figures = "; ".join(f"{k} " + ", ".join(str(r["loads"].get(k, 0)) for r in per_actor) for k in kinds)
            print(f"ray: model loads per worker actor ({len(per_actor)} actors): {figures}", file=sys.stderr)
        if self.task_peaks:
            figures = ", ".join(f"{name} {peak / 1024:.0f} ({start / 1024:.0f})"
                                for name, (start, peak) in sorted(self.task_peaks.items(), key=lambda kv: -kv[1][1]))
            print(f"ray: peak RSS of the largest task of each kind, MiB (the worker's RSS before it): {figures}",
                  file=sys.stderr)
        for a in self._actors:
            try:
                self.ray.kill(a, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._actors = []
        if self._sink is not None:
            try:
                self.ray.kill(self._sink, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
            self._sink = None
        if self.started_here:
            self.ray.shutdown()
