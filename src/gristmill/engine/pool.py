"""The one worker pool: used by the engine for shards and by every global step that fans out.

What it guarantees, and why each matters for "kill it at any point and run the same command again":

- **A dead worker stops the run with a clear error.** ``concurrent.futures.ProcessPoolExecutor``
  watches every worker's sentinel, so a worker killed by the OOM killer or a user surfaces at once
  (``multiprocessing.Pool`` silently replaces it and waits forever for its lost task). The
  ``BrokenProcessPool`` becomes :class:`WorkerDied`, whose message says to run the command again.
  When the tasks are done the workers are killed, not asked to stop: the polite shutdown deadlocks
  if a worker died while idle (it holds the task queue's read lock while it waits).
- **Workers die with the parent.** Each worker asks the kernel for ``PR_SET_PDEATHSIG`` (Linux), so
  a parent killed with SIGKILL does not leave workers finishing tasks nobody waits for.
- **Nothing to leak.** Workers are forked: with the fork start method CPython unlinks its
  semaphores at once and never starts a ``resource_tracker``, so a killed parent leaves no tracker
  process and no "leaked semaphore objects" warning (the spawn start method registers every
  semaphore with a tracker process that outlives the parent).
- **Ctrl-C stops now.** Workers ignore SIGINT (the terminal sends it to the whole process group);
  the parent turns it into KeyboardInterrupt at a safe point within a quarter second and, on that
  or any error, cancels queued tasks and kills the running workers instead of letting them finish. Unfinished tasks are simply not marked done, and their
  temporary files are removed on resume (:func:`gristmill.engine.atomic.clean_stale_temps`).
- **Progress from inside a task.** A task calls :func:`report` (documents, bytes) as it goes; the
  parent passes the figures to its ``progress`` callback, so a bar moves within one big task.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, TypeVar

__all__ = ["WorkerDied", "run_tasks", "report", "use_backend"]

T = TypeVar("T")
R = TypeVar("R")

RESUME_HINT = "finished work is saved: run the same command again to resume"


class WorkerDied(RuntimeError):
    """A worker process ended without finishing its task (killed, or out of memory)."""


_REPORT: Callable[[int, int], None] | None = None
# Another executor for every fan-out (the Ray engine sets one); None means local worker processes.
_BACKEND = None


class use_backend:
    """``with use_backend(b):`` routes every :func:`run_tasks` call, the engine's shard stages and the
    global steps' fan-outs alike, through ``b.run_tasks`` (same signature)."""

    def __init__(self, backend):
        self.backend = backend

    def __enter__(self):
        global _BACKEND
        self.prev, _BACKEND = _BACKEND, self.backend
        return self.backend

    def __exit__(self, *exc):
        global _BACKEND
        _BACKEND = self.prev


def report(docs: int = 0, nbytes: int = 0) -> None:
    """Tell the parent's progress display that this task got through ``docs`` documents / ``nbytes``
    bytes. A no-op outside :func:`run_tasks`; never raises (progress is never worth failing work)."""
    r = _REPORT
    if r is not None:
        try:
            r(docs, nbytes)
        except Exception:  # noqa: BLE001
            pass


def die_with_parent(parent: int) -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: best effort
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _worker_init(parent: int, queue, initializer, initargs) -> None:
    global _REPORT
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C means
    die_with_parent(parent)
    # A SimpleQueue writes in the caller (one small write, atomic on a pipe), so every report of a
    # task is in the pipe before the task's result is sent and the parent's last drain sees it. A
    # Queue hands it to a feeder thread that may not have run when the parent kills the workers:
    # the progress of the last tasks was lost on a loaded machine.
    _REPORT = lambda d, b: queue.put((d, b))  # noqa: E731
    if initializer is not None:
        initializer(*initargs)


def _kill(ex: ProcessPoolExecutor) -> None:
    """Stop now: drop queued tasks, SIGKILL the workers (a half-written file of theirs has a temp name)."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    manager = getattr(ex, "_executor_manager_thread", None)
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        try:
            p.kill()
        except Exception:  # noqa: BLE001 - already gone
            pass
    for p in procs:
        p.join(5)
    # Let the executor's manager thread see the dead workers and finish now: if it is still closing
    # its wake-up pipe when the interpreter exits, CPython 3.11's exit hook writes to the closed
    # pipe and prints an "OSError: Bad file descriptor" traceback after our clean error message.
    if manager is not None:
        manager.join(10)


def run_tasks(fn: Callable[[T], R], items: Iterable[T], workers: int,
              progress: Callable[[int, int], None] | None = None,
              initializer: Callable | None = None, initargs: tuple = ()) -> Iterator[R]:
    """Run ``fn`` on each item in up to ``workers`` processes; yield results as tasks finish (in
    completion order). With one worker or one item everything runs in this process.

    ``fn`` and the items must be picklable. An exception in a task stops the pool and propagates;
    a worker that dies raises :class:`WorkerDied`.
    """
    global _REPORT
    items = list(items)
    if not items:
        return
    if _BACKEND is not None:
        yield from _BACKEND.run_tasks(fn, items, workers, progress=progress, initializer=initializer, initargs=initargs)
        return
    if workers <= 1 or len(items) == 1:
        prev, _REPORT = _REPORT, progress
        try:
            if initializer is not None:
                initializer(*initargs)
            for it in items:
                yield fn(it)
        finally:
            _REPORT = prev
        return

    ctx = mp.get_context("fork")
    queue = ctx.SimpleQueue()
    # Ctrl-C while the pool runs only sets a flag, and the loop below raises KeyboardInterrupt
    # within one poll. The default handler raises wherever the main thread is: inside an at-fork
    # hook Python prints "Exception ignored" and carries on, so the run went on to the end; and a
    # worker forked at that moment inherits the handler before it can ignore SIGINT.
    interrupted = threading.Event()
    installed = threading.current_thread() is threading.main_thread()
    if installed:
        old_handler = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.set())

    def drain() -> None:
        while not queue.empty():
            d, b = queue.get()
            if progress is not None:
                progress(d, b)

    ex = ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=ctx, initializer=_worker_init,
                             initargs=(os.getpid(), queue, initializer, initargs))
    def died() -> BaseException:
        if interrupted.is_set():  # a worker forked just as Ctrl-C came, and took it
            return KeyboardInterrupt()
        return WorkerDied(f"a worker process died (killed, or out of memory); {RESUME_HINT}")

    try:
        try:  # a worker can die while tasks are still being submitted, too
            pending = {ex.submit(fn, it) for it in items}
        except BrokenProcessPool:
            raise died() from None
        while pending:
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            if interrupted.is_set():
                raise KeyboardInterrupt
            drain()
            for f in done:
                try:
                    res = f.result()
                except BrokenProcessPool:
                    raise died() from None
                yield res
        drain()
        if interrupted.is_set():
            raise KeyboardInterrupt
    finally:
        if installed:
            signal.signal(signal.SIGINT, old_handler)
        # Done, failed, interrupted or abandoned: either way no task is left that we wait for, so the
        # workers are killed rather than asked to stop. (The polite shutdown sends each worker a
        # sentinel through the task queue; an idle worker waits for its next task holding that
        # queue's read lock, and if it was killed there the other workers never get their sentinel
        # and shutdown() joins them forever. The kill battery hung on exactly that.)
        _kill(ex)
        queue.close()
