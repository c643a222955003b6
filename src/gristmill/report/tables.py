"""Terminal tables for summaries (rich)."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_summary(summary: dict, out: str | None = None, console: Console | None = None) -> None:
    console = console or Console()
    inp = summary["input"] or 1
    t = Table(title=f"gristmill run{f': {out}' if out else ''}", show_lines=False)
    t.add_column("outcome")
    t.add_column("documents", justify="right")
    t.add_column("%", justify="right")
    t.add_row("input", f"{summary['input']:,}", "100.0")
    t.add_row("[green]kept", f"{summary['kept']:,}", f"{100 * summary['kept'] / inp:.1f}")
    for reason, n in sorted(summary["rejected"].items(), key=lambda kv: -kv[1]):
        t.add_row(f"[red]rejected[/] {reason}", f"{n:,}", f"{100 * n / inp:.1f}")
    # The total always shows, even when the per-kind breakdown is missing or does not add up.
    q = summary.get("quarantined", 0)
    t.add_row("[bold yellow]quarantined[/]" if q else "quarantined", f"{q:,}", f"{100 * q / inp:.1f}")
    for err, n in summary.get("quarantine_errors", {}).items():
        # step_error means a step raised: a possible bug, shown in bold red rather than as bad input
        label = f"  [bold red]{err}[/] (a step raised)" if err == "step_error" else f"  [yellow]{err}[/]"
        t.add_row(label, f"{n:,}", f"{100 * n / inp:.1f}")
    console.print(t)
    s = Table(title="steps")
    for c in ("step", "in", "out", "rejected", "errors", "seconds", "docs/s"):
        s.add_column(c, justify="left" if c == "step" else "right")
    for row in summary["steps"]:
        secs = row["seconds"] + row.get("fit_seconds", 0)
        rate = f"{row['in'] / secs:,.0f}" if secs > 0 else "-"
        e = row.get("step_errors", 0)
        s.add_row(row["step"], f"{row['in']:,}", f"{row['out']:,}", f"{row['rejected']:,}", f"[bold red]{e:,}[/]" if e else "0",
                  f"{secs:.2f}", rate)
    if summary["steps"]:
        console.print(s)
    for step, c in summary.get("counters", {}).items():
        console.print(f"[bold]{step}[/]: " + ", ".join(f"{k}={v:,}" for k, v in sorted(c.items())))
    for step, rep in summary.get("reports", {}).items():
        flat = {k: v for k, v in rep.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        console.print(f"[bold]{step}[/] report: " + ", ".join(f"{k}={v:,}" for k, v in flat.items()))
