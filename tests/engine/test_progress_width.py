"""Issue 20 item 9: on a 120-column terminal a long stage title is cut, and the bar, the counts, the
rate and the ETA stay on the line."""
from __future__ import annotations

import io

from rich.console import Console

from gristmill.engine.progress import Progress

LONG = ("stage 1/3: read, normalize, language_id, gopher_quality, gopher_repetition, c4_quality, fineweb_quality, "
        "pii, refinedweb_lines, url_filter")


def _line(label: str, width: int = 120) -> str:
    term = Console(file=io.StringIO(), width=width, force_terminal=True)
    p = Progress(enabled=True, log=lambda m: None, console=term)
    p.start(label, 100_000, "docs", shards=12)
    p.advance(12_345, docs=12_345, nbytes=40_000_000, shards=3)
    out = Console(file=io.StringIO(), width=width)
    out.print(p.bar.make_tasks_table(p.bar.tasks))
    p.stop()
    return out.file.getvalue()


def test_long_title_is_cut_and_the_numbers_stay():
    text = _line(LONG)
    lines = text.rstrip("\n").split("\n")
    assert len(lines) == 1, text  # nothing wrapped onto a second line
    line = lines[0]
    assert len(line) <= 120
    assert "…" in line and line.startswith("stage 1/3: read, normalize")
    assert "3/12 shards" in line and "12,345/100,000 docs" in line and "MB/s" in line
    assert "━" in line  # the bar
    elapsed, eta = line.split()[-2:]
    assert elapsed.count(":") == 2 and eta.count(":") == 2  # elapsed and ETA, last on the line


def test_short_title_is_whole():
    line = _line("stage 2/2: exact_dedup")
    assert "stage 2/2: exact_dedup" in line and "…" not in line and "12,345/100,000 docs" in line
