"""The Ray engine: the same recipe, the same run directory, its tasks on a Ray cluster.

``gristmill run RECIPE --engine ray [--address ADDR]`` runs the local engine's plan unchanged and
routes every fan-out through Ray: each shard of each stage (read with gristmill's own readers, so
quarantine is identical; every per-batch step; the atomic writes and the manifest entry) is one Ray
task, and so is each unit of work that a global step fans out over its partitions on disk (exact
dedup's hash-prefix groups; MinHash signatures, bucketing, pair verification, connected components
and star clusters; paragraph-dedup spills and hash ranges; semantic dedup's k-means assignment and
SemDeDup blocks). The driver only coordinates: file lists, counts, and the final decisions.

Why Ray core tasks rather than Ray Data's ``map_batches``: a shard task writes its output under a
temporary name, renames it and records the unit in the manifest, which is what makes the ledger
exact and a killed run resumable; Ray Data re-blocks rows and owns its own writes, so neither
guarantee would hold. Tasks are retried by Ray when a worker process dies (``max_retries``); a
retried shard rewrites the same files, and stale temporary names are removed on resume.

The run directory must be on storage every node sees (one machine, or NFS and the like), as for
DataTrove's and NeMo Curator's Ray executors.
"""
from __future__ import annotations

import os
from typing import Callable, Iterable, Iterator

from gristmill.engine.pool import RESUME_HINT, WorkerDied

# A task whose worker process dies is run again this many times (Ray's own default is 3).
TASK_RETRIES = 3


def _call(fn, initializer, initargs, item):
    if initializer is not None:
        initializer(*initargs)
    return fn(item)


class RayBackend:
    """Runs :func:`gristmill.engine.pool.run_tasks` calls as Ray tasks, ``workers`` in flight."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise RuntimeError("--engine ray needs Ray: pip install 'ray[data]'") from None
        self.ray = ray
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
        self._remote = ray.remote(max_retries=TASK_RETRIES, retry_exceptions=False)(_call)

    def cpus(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def nodes(self) -> int:
        return sum(1 for n in self.ray.nodes() if n.get("Alive"))

    def run_tasks(self, fn: Callable, items: Iterable, workers: int, progress=None, initializer=None,
                  initargs: tuple = ()) -> Iterator:
        ray = self.ray
        items = list(items)
        limit = max(1, min(workers, len(items)))
        queue = list(reversed(items))
        pending: list = []
        fn_ref = ray.put(fn)  # one copy in the object store, not one per task
        try:
            while queue or pending:
                while queue and len(pending) < limit:
                    pending.append(self._remote.remote(fn_ref, initializer, initargs, queue.pop()))
                done, pending = ray.wait(pending, num_returns=1, timeout=0.25)
                for ref in done:
                    try:
                        res = ray.get(ref)
                    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                            ray.exceptions.ObjectLostError) as e:
                        raise WorkerDied(f"a Ray worker died {TASK_RETRIES + 1} times on one task ({type(e).__name__}); "
                                         f"{RESUME_HINT}") from None
                    except ray.exceptions.RayTaskError as e:
                        raise e.as_instanceof_cause() from None
                    yield res
        finally:
            for ref in pending:  # Ctrl-C or an error: stop the rest now
                ray.cancel(ref, force=True)

    def shutdown(self) -> None:
        if self.started_here:
            self.ray.shutdown()
