"""Progress display for long work: the shard stages and the fits of global steps.

One bar at a time, named for what runs ("stage 2/3: minhash_dedup fit: signatures"), moving as
documents go by (not only when a whole shard or task ends), with documents, MB/s and an ETA. On a
terminal it is a rich bar; elsewhere (CI logs, pipes) a plain line every few seconds, so a long
step never sits behind one silent line.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

__all__ = ["Progress"]

# Seconds between plain log lines when not on a terminal: often enough to show a run is alive,
# rarely enough not to flood a CI log. GRISTMILL_PROGRESS_EVERY overrides it (0: every update).
LOG_EVERY = float(os.environ.get("GRISTMILL_PROGRESS_EVERY", "5"))


class Progress:
    """``start`` a bar, ``advance`` it, ``stop`` it; or ``with progress.task(...) as p: p.advance(n)``.

    ``total`` counts ``unit``s (documents, shards, files); ``docs`` and ``nbytes`` are reported
    beside it for the rate. A ``total`` of None shows a count without an ETA.
    """

    def __init__(self, enabled: bool | None = None, log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
                 console=None):
        self.tty = sys.stderr.isatty() if enabled is None else enabled
        self.log = log
        self.console = console  # rich Console for the bar (default: rich's own, on the terminal)
        self.bar = None
        self.label = ""

    def start(self, label: str, total: int | None, unit: str = "docs", shards: int | None = None) -> None:
        self.stop()
        self.label, self.total, self.unit = label, total, unit
        self.completed = self.docs = self.nbytes = self.shards_done = 0
        self.shards = shards
        self.t0 = self.last = time.monotonic()
        if self.tty:
            from rich.progress import BarColumn, Progress as RP, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.table import Column

            # The title takes what the numbers leave and is cut with an ellipsis: a long stage title
            # ("stage 1/3: read, normalize, language_id, ...") must not push the bar, counts and ETA
            # off the terminal.
            title = TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1, min_width=12))
            count = TextColumn("{task.fields[count]}", table_column=Column(no_wrap=True))
            rate = TextColumn("{task.fields[rate]}", table_column=Column(no_wrap=True))
            self.bar = RP(title, BarColumn(bar_width=24), count, rate, TimeElapsedColumn(), TimeRemainingColumn(),
                          transient=True, expand=True, **({"console": self.console} if self.console is not None else {}))
            self.bar.start()
            self.task_id = self.bar.add_task(label, total=total, count=self._count(), rate="")
        else:
            self.log(f"{label}: started ({self._count()})")

    def _quiet(self, label: str, unit: str) -> "Progress":
        self.label, self.total, self.unit, self.shards = label, 0, unit, None
        self.completed = self.docs = self.nbytes = self.shards_done = 0
        self.t0 = self.last = float("inf")  # never logs
        return self

    def _count(self) -> str:
        parts = []
        if self.shards is not None:
            parts.append(f"{self.shards_done}/{self.shards} shards")
        if self.unit != "shards":
            parts.append(f"{self.completed:,}/{self.total:,} {self.unit}" if self.total is not None else f"{self.completed:,} {self.unit}")
        if self.unit != "docs" and self.docs:
            parts.append(f"{self.docs:,} docs")
        return "  ".join(parts)

    def _rate(self, now: float) -> str:
        secs = max(now - self.t0, 1e-6)
        if self.nbytes:
            return f"{self.nbytes / 1e6 / secs:.1f} MB/s"
        if self.docs:
            return f"{self.docs / secs:,.0f} docs/s"
        return ""

    def advance(self, n: int = 0, docs: int = 0, nbytes: int = 0, shards: int = 0) -> None:
        self.completed += n
        self.docs += docs
        self.nbytes += nbytes
        self.shards_done += shards
        now = time.monotonic()
        if self.bar is not None:
            self.bar.update(self.task_id, completed=self.completed, count=self._count(), rate=self._rate(now))
        elif now - self.last >= LOG_EVERY:
            self.last = now
            eta = ""
            if self.total and self.completed:
                left = (self.total - self.completed) * (now - self.t0) / self.completed
                eta = f", ETA {left:.0f} s"
            rate = self._rate(now)
            self.log(f"{self.label}: {self._count()}{', ' + rate if rate else ''}{eta}")

    def report(self, docs: int, nbytes: int = 0) -> None:
        """Documents done (counted towards a ``docs`` total): the callback for worker reports."""
        self.advance(docs, docs=docs, nbytes=nbytes)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    @contextmanager
    def task(self, label: str, total: int | None, unit: str = "docs") -> Iterator["Progress"]:
        if total == 0:  # nothing to do (e.g. all checkpointed): no bar, no log line
            yield Progress(enabled=False, log=lambda m: None)._quiet(label, unit)
            return
        self.start(label, total, unit)
        try:
            yield self
        finally:
            self.stop()
