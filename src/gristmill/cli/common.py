"""What every sub-command shares: the console, the one-line error that ends a command, and writing
the report after a run. The sub-command modules import these, never each other's private names."""
from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

console = Console(width=None if sys.stdout.isatty() else 120)  # CI logs: wide enough for reasons
err_console = Console(stderr=True)


def fail(msg: str, code: int = 2) -> None:
    """Print ``error: msg`` on one line (grep-able, never cut) and end the command with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def write_report(out: Path, truth: dict | None = None) -> None:
    """Write OUT/report.html after a run. The data is complete by then, so a failure here says so."""
    from gristmill.report.html import write_report as write

    try:
        path = write(out, truth=truth)
    except Exception as e:  # noqa: BLE001 - the data is complete; say so, and fail loudly about the report
        import traceback

        traceback.print_exc()
        fail(f"the output in {out} is complete, but writing its report failed: {e!r}; "
             f"`gristmill report {out}` tries again", code=1)
    console.print(f"report: [bold]{path}[/]")
