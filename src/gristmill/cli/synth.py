"""`gristmill synth ...`: procedural generators, the sandbox self-check, and the LLM loop."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Verified synthetic data: generators, a sandbox for untrusted code, an LLM generate-verify-keep loop.")
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, soft_wrap=True)  # error lines carry paths: never wrap them


def _fail(msg: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {msg}", highlight=False)
    raise typer.Exit(code)


@app.command()
def generate(kind: str = typer.Argument(..., help="'math', 'code', a generator name, or a mixture 'math.linear=2,code=1'"),
             n: int = typer.Option(..., "--n", help="items to keep (train + held-out)"),
             seed: int = typer.Option(0, "--seed", help="the same seed gives the same items"),
             difficulty: int = typer.Option(2, "--difficulty", "-d", help="1 (easiest) .. 5"),
             out: Path = typer.Option(..., "-o", "--out", help="output directory"),
             heldout: float = typer.Option(0.1, "--heldout", help="fraction of problems (by key) in heldout.jsonl"),
             workers: int = typer.Option(2, "--workers", "-w", help="concurrent sandbox runs for code items"),
             max_draws: Optional[int] = typer.Option(None, "--max-draws", help="give up after this many draws (default 20 x N)"),
             force: bool = typer.Option(False, "--force", help="replace an existing dataset in OUT"),
             formats: Optional[str] = typer.Option(None, "--format", help="math answer format(s), comma-separated: answer, "
                                                   "reversed, worked, scratchpad (Lee et al. 2023); text uses the first")):
    """Generate verified items: OUT/train.jsonl, heldout.jsonl, rejected.jsonl, summary.json."""
    from gristmill.synth.dataset import DatasetExists, generate_dataset
    from gristmill.synth.registry import UnknownGenerator

    try:
        s = generate_dataset(kind, n, seed, difficulty, out, heldout=heldout, workers=workers, max_draws=max_draws, force=force,
                              formats=formats)
    except (UnknownGenerator, DatasetExists, ValueError) as e:
        _fail(str(e))
    t = Table(title=f"synth generate {kind} (seed {seed}, difficulty {difficulty})")
    for c in ("generator", "drawn", "kept", "duplicates", "surplus", "unverified", "failing_tests"):
        t.add_column(c, justify="left" if c == "generator" else "right")
    for g, st in s["per_generator"].items():
        t.add_row(g, *(str(st.get(c, 0)) for c in ("drawn", "kept", "duplicates", "surplus", "unverified", "failing_tests")))
    console.print(t)
    console.print(f"kept {s['kept']} ({s['train']} train, {s['heldout']} held-out) of {s['drawn']} drawn -> [bold]{out}[/]")
    if s["shortfall"]:
        err_console.print(f"[yellow]warning:[/] only {s['kept']} distinct items after {s['drawn']} draws "
                          f"({s['shortfall']} short): the generators' space at this difficulty is too small for --n {n}")
        raise typer.Exit(1)


@app.command()
def generators():
    """List the registered generators and how each verifies its answers."""
    from gristmill.synth.registry import all_generators

    t = Table(show_lines=True)
    for c in ("name", "what it generates", "verified by"):
        t.add_column(c)
    for name, g in all_generators().items():
        t.add_row(name, g.description, g.verifier)
    console.print(t)


@app.command("sandbox-check")
def sandbox_check(json_out: bool = typer.Option(False, "--json", help="print JSON instead of a table")):
    """Run every attack in gristmill.synth.attacks against this machine's sandbox; exit 1 if any escaped."""
    from gristmill.synth.attacks import ATTACKS, attack_context, run_attack
    from gristmill.synth.sandbox import SandboxError, isolation_mode

    try:
        mode = isolation_mode()
    except SandboxError as e:
        _fail(str(e))
    rows = []
    with attack_context() as ctx:
        for a in ATTACKS:
            r, leak, ok = run_attack(a, ctx)
            rows.append({"attack": a.name, "status": r.status, "detail": r.detail, "mode": r.mode,
                         "contained": leak is None and ok, "leak": leak})
    if json_out:
        print(json.dumps(rows, indent=2))
    else:
        t = Table(title=f"sandbox attacks (isolation mode: {mode})")
        for c in ("attack", "status", "detail", "contained"):
            t.add_column(c)
        for r in rows:
            t.add_row(r["attack"], r["status"], r["detail"][:80],
                      "[green]yes[/]" if r["contained"] else f"[red]NO: {r['leak'] or 'unexpected status'}[/]")
        console.print(t)
    if not all(r["contained"] for r in rows):
        raise typer.Exit(1)


@app.command("run")
def run_cmd(config: Path = typer.Argument(..., help="loop config YAML (endpoint, tasks, ...)"),
            out: Path = typer.Option(..., "-o", "--out", help="output directory; re-running on it reuses its request cache")):
    """Generate with an OpenAI-compatible endpoint, verify (sympy / sandbox), keep: OUT/train.jsonl, failures.jsonl, summary.json."""
    from gristmill.synth.loop import ConfigError, load_config, run_loop
    from gristmill.synth.registry import UnknownGenerator
    from gristmill.synth.sandbox import SandboxError

    try:
        cfg = load_config(config)
    except ConfigError as e:
        _fail(str(e))
    from contextlib import nullcontext

    from rich.progress import Progress

    bar = Progress(console=err_console, transient=True) if err_console.is_terminal else nullcontext()
    try:
        with bar:
            if isinstance(bar, Progress):
                task = bar.add_task("requests", total=None)
                s = run_loop(cfg, out, progress=lambda done, total: bar.update(task, completed=done, total=total))
            else:
                s = run_loop(cfg, out)
    except UnknownGenerator as e:
        _fail(f"{config}: tasks.kind: {e}")
    except SandboxError as e:
        _fail(f"{config}: sandbox: {e}")
    except KeyboardInterrupt:
        _fail("interrupted; finished requests are cached: run the same command again to resume", code=130)
    t = Table(title=f"synth run: {s['rows']} rows, model {s['model']}")
    t.add_column("outcome")
    t.add_column("rows", justify="right")
    t.add_column("share", justify="right")
    for reason, v in s["by_reason"].items():
        t.add_row(reason, str(v["count"]), f"{100 * v['rate']:.1f}%")
    console.print(t)
    console.print(f"kept {s['kept']} of {s['rows']} (acceptance {100 * s['acceptance']:.1f}%); {s['requests_sent']} requests sent, "
                  f"{s['cache_hits']} answered from the cache -> [bold]{out}[/]"
                  + (f"; code ran in the sandbox mode [bold]{s['sandbox_mode']}[/]" if s.get("sandbox_mode") else ""))
    if s["rows"] and s["by_reason"].get("unreachable", {}).get("count") == s["rows"]:
        _fail(f"{config}: endpoint.base_url {cfg.endpoint.base_url} was never reached (every row is 'unreachable'); "
              "is the server up? The rows are in failures.jsonl", code=3)


def _parse_sets(sets: list[str]) -> dict:
    """`--set a.b=v` pairs as a nested dict (values parsed as YAML scalars)."""
    import yaml

    out: dict = {}
    for s in sets:
        key, eq, val = s.partition("=")
        if not eq or not key.strip():
            _fail(f"--set {s!r}: use KEY=VALUE, e.g. --set rounds=3 or --set start.tokens=200000")
        node = out
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(val)
    return out


def _selfplay_demo(out: Path, sets: list[str]) -> None:
    from pydantic import ValidationError

    from gristmill.lab.checkpoint import CheckpointError
    from gristmill.lab.train import RunMismatch
    from gristmill.synth.selfplay_rounds import RoundsConfig, run_rounds

    try:
        cfg = RoundsConfig.model_validate(_parse_sets(sets))
    except ValidationError as e:
        _fail("--set: " + "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()))
    if cfg.start.run and not (Path(cfg.start.run) / "final.json").is_file():
        _fail(f"--set start.run={cfg.start.run}: not a finished `gristmill lab train` run (no final.json)")
    try:
        res = run_rounds(cfg, out, log=lambda m: err_console.print(m, highlight=False))
    except (RunMismatch, CheckpointError, ValueError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _fail("interrupted; run the same command again to resume (finished rounds are kept)", code=130)
    t = Table(title=f"self-play (in-process), held-out per level: {res['heldout_n']}")
    for c in ("arm", "round", "difficulty", "posed", "accepted", "acceptance", "tokens", "held-out acc", "per level"):
        t.add_column(c, justify="right")
    s = res["start"]["heldout"]
    t.add_row("start", "0", "1", "-", "-", "-", f"{res['start']['tokens']:,}", f"{s['accuracy']:.3f}",
              " ".join(f"{v['accuracy']:.2f}" for v in s["by_difficulty"].values()))
    for arm, rounds in res["arms"].items():
        for r in rounds:
            posed = f"{r['posed']} (kept {r['kept_problems']})" if arm == "pose" else str(r["posed"])
            t.add_row(arm, str(r["round"]), str(r["difficulty"] or "-"), posed, str(r["accepted"]),
                      "-" if r["acceptance"] is None else f"{r['acceptance']:.3f}", f"{r['tokens']:,}",
                      f"{r['heldout_accuracy']:.3f}",
                      " ".join(f"{v['accuracy']:.2f}" for v in r["heldout"]["by_difficulty"].values()))
    console.print(t)
    console.print(f"results: [bold]{out / 'results.json'}[/]; plot: {res['plot']}")


@app.command("selfplay")
def selfplay_cmd(config: Optional[Path] = typer.Argument(None, help="self-play YAML for the served loop: rounds, seed_data, "
                                                                    "train, round_tokens, replay, loop, eval (not with --demo)"),
                 out: Path = typer.Option(..., "-o", "--out", help="output directory; a re-run skips finished rounds"),
                 demo: bool = typer.Option(False, "--demo", help="in-process self-play on arithmetic: train a start model, "
                                                                  "then rounds of sample / verify / train, with the controls"),
                 sets: list[str] = typer.Option([], "--set", help="--demo settings, e.g. --set rounds=3 --set start.tokens=200000 "
                                                                   "--set arms=[verified,none] (fields: gristmill.synth.selfplay_rounds.RoundsConfig)")):
    """Self-play: keep what the verifier accepts, train on it with replay, score held-out problems; per round.

    With CONFIG: serve the lab model and run the synth loop against it. With --demo: the in-process loop."""
    if demo:
        if config is not None:
            _fail("--demo takes no CONFIG; change its settings with --set KEY=VALUE")
        return _selfplay_demo(out, sets)
    if config is None:
        _fail("give a self-play CONFIG, or --demo")
    if sets:
        _fail("--set applies to --demo only; edit CONFIG instead")
    from gristmill.lab.config import ConfigError as LabConfigError
    from gristmill.lab.train import RunMismatch
    from gristmill.synth.registry import UnknownGenerator
    from gristmill.synth.selfplay import SelfPlayError, run_selfplay

    try:
        res = run_selfplay(config, out, log=lambda m: err_console.print(m, highlight=False))
    except (SelfPlayError, UnknownGenerator, LabConfigError, RunMismatch, FileNotFoundError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _fail("interrupted; run the same command again to resume (finished rounds are kept)", code=130)
    t = Table(title=f"self-play: {res['heldout_problems']} held-out problems")
    for c in ("round", "rows", "acceptance", "trained on (new + replay docs)", "held-out acc (greedy)", "held-out acc (rank)"):
        t.add_column(c, justify="right")
    for r in res["rounds"]:
        lp = r.get("loop")
        t.add_row(str(r["round"]), str(lp["rows"]) if lp else "-", f"{lp['acceptance']:.3f}" if lp else "-",
                  f"{r['docs'].get('new', r['docs'].get('seed'))} + {r['docs'].get('replay', 0)}",
                  f"{r['eval']['generate_acc']:.3f}", f"{r['eval']['rank_acc']:.3f}")
    console.print(t)
    console.print(f"results: [bold]{out / 'results.json'}[/]; plot: {res['plot']}")
