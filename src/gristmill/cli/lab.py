"""`gristmill lab ...`: train, eval, ablate, curriculum, search, serve, quantize."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Train tiny GPTs on your data and prove it helped.")
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, soft_wrap=True)  # messages name paths: never break them


def _fail(msg: str, code: int = 2):
    err_console.print(f"[bold red]error:[/] {msg}", highlight=False)
    raise typer.Exit(code)


def _csv(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


@app.command()
def train(config: Path = typer.Argument(..., help="training config YAML"),
          out: Path = typer.Option(..., "-o", "--out", help="run directory (resumes if it holds a checkpoint)"),
          fresh: bool = typer.Option(False, "--fresh", help="discard an existing run in OUT"),
          tokens: Optional[int] = typer.Option(None, "--tokens", help="override the config's token budget"),
          seed: Optional[int] = typer.Option(None, "--seed", help="override the config's seed"),
          progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="progress bar (default: on a terminal)")):
    """Train a model on a mixture (or files); log train loss and held-out bits per byte against tokens."""
    from gristmill.lab.config import ConfigError, load_config
    from gristmill.lab.train import RunMismatch, train as run_train

    over = {k: v for k, v in {"tokens": tokens, "seed": seed}.items() if v is not None}
    try:
        cfg = load_config(config, over)
        final = run_train(cfg, out, base=config.parent, fresh=fresh, progress=progress, console=console)
    except (ConfigError, RunMismatch, ValueError, FileNotFoundError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _fail(f"interrupted; run the same command again to resume from {out}/ckpt", code=130)
    _print_final(final, out)


def _print_final(final: dict, out: Path):
    from rich.table import Table

    console.print(f"trained {final['tokens']:,} tokens ({final['params']:,} parameters, {final['threads']} threads); "
                  f"final train loss {final['train_loss']}")
    if final["bpb"]:
        t = Table(title="held-out bits per byte")
        t.add_column("eval set")
        t.add_column("model", justify="right")
        t.add_column("unigram (train tokens)", justify="right")
        t.add_column("vs unigram", justify="left")
        flagged = final.get("not_below_unigram", [])
        for k, v in final["bpb"].items():
            t.add_row(k, f"{v:.4f}", f"{final['unigram_bpb'][k]:.4f}", "[bold red]NOT below[/]" if k in flagged else "below")
        console.print(t)
        _warn_unigram(flagged)
    console.print(f"run: [bold]{out}[/]  (log.jsonl, ckpt/, final.json)")


def _warn_unigram(flagged: list[str]) -> None:
    from gristmill.lab.evaluate import UNIGRAM_MARGIN

    if flagged:
        console.print(f"[bold yellow]warning:[/] on {', '.join(flagged)} the model is not clearly below its unigram baseline "
                      f"(less than {UNIGRAM_MARGIN:.0%} under it): it has learned little beyond token frequencies, so "
                      "comparisons on these sets mean little; train longer or check the data", highlight=False)


@app.command("eval")
def eval_cmd(run: Path = typer.Argument(..., help="a `gristmill lab train` run directory"),
             data: list[str] = typer.Option([], "--data", help="held-out files or globs (repeat or comma-separate): bits per byte per file"),
             tasks: str = typer.Option("", "--tasks", help="comma-separated verifiable tasks: arithmetic, word_problems"),
             n: int = typer.Option(200, "-n", help="problems per task (the same seeded held-out problems every time)"),
             max_bytes: int = typer.Option(200_000, "--max-bytes", help="bytes read per held-out file"),
             out: Optional[Path] = typer.Option(None, "-o", "--out", help="write the results as JSON here (default RUN/eval.json)")):
    """Held-out bits per byte per file and accuracy on verifiable tasks (greedy generation and likelihood ranking)."""
    from gristmill.lab.evaluate import evaluate_run
    from gristmill.lab.tasks import get_task

    files = [f for d in data for f in _csv(d)]
    names = _csv(tasks)
    if not files and not names:
        _fail("nothing to evaluate: give --data FILES and/or --tasks NAMES")
    try:
        for t in names:
            get_task(t)
        res = evaluate_run(run, files, names, n, max_bytes)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    (out or run / "eval.json").write_text(json.dumps(res, indent=2))
    print_eval(res)


def print_eval(res: dict):
    from rich.table import Table

    if res["bpb"]:
        t = Table(title="held-out bits per byte")
        for c in ("eval set", "model", "unigram (train tokens)", "vs unigram"):
            t.add_column(c, justify="left" if c in ("eval set", "vs unigram") else "right")
        flagged = res.get("not_below_unigram", [])
        for k, v in res["bpb"].items():
            t.add_row(k, f"{v:.4f}", f"{res['unigram_bpb'][k]:.4f}", "[bold red]NOT below[/]" if k in flagged else "below")
        console.print(t)
        _warn_unigram(flagged)
    if res["tasks"]:
        t = Table(title="verifiable tasks (held-out problems)")
        for c in ("task", "problems", "generate acc", "rank acc (1 of 4)", "skipped: seen in training"):
            t.add_column(c, justify="left" if c == "task" else "right")
        for k, v in res["tasks"].items():
            t.add_row(k, str(v["n"]), f"{v['generate_acc']:.3f}", f"{v['rank_acc']:.3f}", str(v["contaminated_skipped"]))
        console.print(t)


@app.command()
def ablate(config: Path = typer.Argument(..., help="ablation YAML: model, tokens or bytes, seeds, tokenizer, eval, arms (each may name its own tokenizer)"),
           out: Path = typer.Option(..., "-o", "--out", help="output directory (runs/, results.json, bpb_*.png)"),
           progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="progress bars (default: on a terminal)")):
    """Train every arm x seed at an equal token (or text) budget; held-out bpb curves, token efficiency, plots."""
    from gristmill.lab.ablate import print_ablation, run_ablation
    from gristmill.lab.config import ConfigError

    try:
        res = run_ablation(config, out, console=console, progress=progress)
    except (ConfigError, ValueError, FileNotFoundError) as e:
        _fail(str(e))
    print_ablation(res, console)
    console.print(f"results: [bold]{out / 'results.json'}[/]; plots: " + ", ".join(res["plots"]))


@app.command()
def curriculum(config: Path = typer.Argument(..., help="curriculum YAML: model, tokenizer, seeds, phase1, phase2, replay, eval"),
               out: Path = typer.Option(..., "-o", "--out", help="output directory (runs/, results.json, plots, summary.md); resumes"),
               progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="progress bars (default: on a terminal)")):
    """Phase 1 on one domain, then three arms at equal phase-2 tokens (new domain alone, with phase-1 replay,
    phase-1 control): forgetting (rise of phase-1 held-out bpb) against gain on the new domain."""
    from gristmill.lab.config import ConfigError
    from gristmill.lab.curriculum import print_curriculum, run_curriculum
    from gristmill.lab.train import RunMismatch

    try:
        res = run_curriculum(config, out, console=console, progress=progress)
    except (ConfigError, RunMismatch, ValueError, FileNotFoundError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _fail(f"interrupted; run the same command again to resume from the checkpoints in {out}/runs", code=130)
    print_curriculum(res, console)
    console.print(f"results: [bold]{out / 'results.json'}[/]; summary: {res['summary']}; plots: " + ", ".join(res["plots"]))


@app.command()
def search(config: Path = typer.Argument(..., help="search YAML: sources, search, proxy, target, eval (see recipes/lab-search-quick.yaml)"),
           out: Path = typer.Option(..., "-o", "--out", help="output directory (proxies/, target/, results.json, search.mix.yaml, plots); resumes"),
           workers: Optional[int] = typer.Option(None, "--workers", min=1, help="runs in flight (default: the config's workers; with --engine ray, the cluster's CPUs)"),
           engine: str = typer.Option("local", "--engine", help="local (worker processes) or ray (each run a Ray task)"),
           address: Optional[str] = typer.Option(None, "--address", help="with --engine ray: a running cluster (HOST:PORT or auto); default: start a local one")):
    """Choose mixture weights with proxy models (RegMix): train one small run per sampled mixture, fit a
    regression to held-out bpb, predict the best, and validate it at the target budget against natural and uniform."""
    from gristmill.cli.main import _run_on  # the one way `run` and `select` pick an engine
    from gristmill.lab.config import ConfigError, load_config
    from gristmill.lab.search import SearchConfig, print_search, run_search
    from gristmill.lab.train import RunMismatch

    try:
        load_config(config, model=SearchConfig)  # a bad config fails before a Ray cluster starts
        res = _run_on(engine, address, lambda w: run_search(config, out, console=console, workers=w, engine=engine), workers)
    except (ConfigError, RunMismatch, ValueError, FileNotFoundError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _fail(f"interrupted; run the same command again to resume (finished proxies in {out}/proxies are skipped)", code=130)
    print_search(res, console)
    console.print(f"results: [bold]{out / 'results.json'}[/]; mixture: {res['mixture']}; plots: " + ", ".join(res["plots"]))


@app.command()
def serve(run: Path = typer.Argument(..., help="a `gristmill lab train` run directory"),
          port: int = typer.Option(8000, "--port", help="TCP port"),
          host: str = typer.Option("127.0.0.1", "--host", help="interface to bind (default: this machine only)"),
          name: Optional[str] = typer.Option(None, "--name", help="model id clients ask for (default: the run directory's name)")):
    """Serve a run over an OpenAI-compatible API: /v1/models, /v1/completions, /v1/chat/completions."""
    from gristmill.lab.serve import Engine, serve as run_server

    try:
        engine = Engine(run, name)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    console.print(f"serving [bold]{engine.name}[/] on http://{host}:{port}/v1")
    run_server(engine, host, port)


@app.command()
def quantize(run: Path = typer.Argument(..., help="a `gristmill lab train` run directory"),
             bits: str = typer.Option("8,4,3,2", "--bits", help="comma-separated bit widths"),
             method: str = typer.Option("rtn,gptq", "--method", help="rtn and/or gptq"),
             group_size: Optional[int] = typer.Option(None, "--group-size", help="columns per scale (default: one scale per output channel)"),
             data: list[str] = typer.Option([], "--data", help="held-out files (default: the run's eval.heldout)"),
             tasks: str = typer.Option("", "--tasks", help="comma-separated verifiable tasks to score too"),
             lora_steps: int = typer.Option(0, "--lora-steps", help="train LoRA adapters on each quantized model for N steps and report the gap recovered"),
             max_bytes: Optional[int] = typer.Option(None, "--max-bytes", min=1, help="bytes read per held-out file (default: the run's eval.max_bytes, so fp32 matches its final evaluation)"),
             out: Path = typer.Option(..., "-o", "--out", help="output directory: one run dir per method x bits, results.json, bpb_vs_bits.png")):
    """Post-training quantization (RTN, GPTQ) of the linear layers; bpb and task accuracy against bit width."""
    from rich.table import Table

    from gristmill.lab.quantize import run_quantize

    try:
        b = [int(x) for x in _csv(bits)]
    except ValueError:
        _fail(f"--bits {bits!r}: give integers, e.g. 8,4,3,2")
    methods = _csv(method)
    for m in methods:
        if m not in ("rtn", "gptq"):
            _fail(f"--method {m!r}: choose rtn and/or gptq")
    if any(not 2 <= x <= 8 for x in b):
        _fail(f"--bits {bits}: each width must be between 2 and 8")
    if group_size is not None and group_size < 1:
        _fail("--group-size must be positive")
    try:
        res = run_quantize(run, out, b, methods, group_size, [f for d in data for f in _csv(d)], _csv(tasks), console=console,
                           lora_steps=lora_steps, max_bytes=max_bytes)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    t = Table(title=f"quantization of {run}")
    lora = any("lora" in r for r in res["rows"])
    cols = ["method", "bits", "layer error (rel.)", *res["rows"][0]["bpb"], *[f"{k} rank acc" for k in res["rows"][0]["tasks"]],
            *(["bpb + LoRA (mean)", "gap recovered"] if lora else [])]
    for c in cols:
        t.add_column(c, justify="left" if c == "method" else "right")
    for r in res["rows"]:
        t.add_row(r["method"], str(r["bits"]), f"{r['recon_error']:.2e}", *[f"{v:.4f}" for v in r["bpb"].values()],
                  *[f"{v['rank_acc']:.3f}" for v in r["tasks"].values()],
                  *([f"{r['lora']['mean_bpb']:.4f}" if "lora" in r else "-",
                     f"{r['lora']['gap_recovered']:.0%}" if r.get("lora", {}).get("gap_recovered") is not None else "-"] if lora else []))
    console.print(t)
    per = res["bytes"]["per_file"]
    console.print("every bpb above rests on the first " + f"{res['bytes']['max_bytes_per_file']:,} bytes of each held-out file: "
                  + ", ".join(f"{k} {v['bytes']:,} bytes ({v['documents']} documents)" for k, v in per.items()), highlight=False)
    rf = res["run_final"]
    if rf["bpb"]:
        console.print(f"the run's own final evaluation (final.json): {', '.join(f'{k} {v:.4f}' for k, v in rf['bpb'].items())} "
                      f"over its eval.max_bytes {rf['max_bytes_per_file']:,} in {rf['precision']}", highlight=False)
    console.print(f"results: [bold]{out / 'results.json'}[/]; plot: {res['plot']}")


@app.command()
def demo(out: Path = typer.Option(Path("lab-demo"), "-o", "--out", help="output directory"),
         tokens: int = typer.Option(100_000, "--tokens", help="training tokens per arm and seed"),
         seeds: str = typer.Option("0,1,2", "--seeds", help="comma-separated seeds"),
         model: str = typer.Option("tiny", "--model", help="model preset"),
         threads: Optional[int] = typer.Option(None, "--threads", help="torch threads (default: every core)"),
         progress: Optional[bool] = typer.Option(None, "--progress/--no-progress")):
    """Raw crawl-like corpus -> curate -> train raw vs curated at equal tokens -> eval -> results, plots, summary.md."""
    from gristmill.lab.demo import run_lab_demo

    try:
        run_lab_demo(out, tokens, [int(s) for s in _csv(seeds)], model, threads, console=console, progress=progress)
    except ValueError as e:
        _fail(str(e))


@app.command()
def claims(corpus: Path = typer.Option(..., "--corpus", help="folder of .jsonl real text, one file per source (../shared/corpora/fetch DEST)"),
           out: Path = typer.Option(..., "-o", "--out", help="output folder (resumes: finished runs and claims are reused)"),
           quick: bool = typer.Option(False, "--quick", help="the quick budget (~30 min on 2 cores); default: the full budget"),
           budget: Optional[str] = typer.Option(None, "--budget", help="quick, full or ci (ci: seconds, a test of the mechanism only)"),
           which: str = typer.Option("", "--claims", help="comma-separated claims (default: all; see the module docstring)"),
           seeds: str = typer.Option("", "--seeds", help="override the budget's seeds, e.g. 0,1,2"),
           tokens: Optional[int] = typer.Option(None, "--tokens", help="override the budget's tokens per arm-seed"),
           threads: int = typer.Option(1, "--threads", help="torch threads per process")):
    """Reproduce the seed's claims (data over architecture, factoids, two phases, LoRA after quantization,
    curation at scale, and the lab's earlier ones) with seeds, a control, a 95% interval and a verdict;
    writes claims.json, plots, summary.md and claims.html."""
    from gristmill.lab.claims import BUDGETS, CLAIMS, run_claims

    name = budget or ("quick" if quick else "full")
    if name not in BUDGETS:
        _fail(f"--budget {name}: choose one of {', '.join(BUDGETS)}")
    bad = [c for c in _csv(which) if c not in CLAIMS]
    if bad:
        _fail(f"--claims: unknown {', '.join(bad)}; choose from {', '.join(CLAIMS)}")
    if not corpus.is_dir():
        _fail(f"--corpus {corpus}: not a folder (build one with ../shared/corpora/fetch DEST)")
    try:
        sd = [int(s) for s in _csv(seeds)] or None
    except ValueError:
        _fail(f"--seeds {seeds}: expected integers, e.g. 0,1,2")
    try:
        res = run_claims(corpus, out, name, _csv(which) or None, sd, tokens, threads, console=console)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _fail(f"interrupted; run the same command again to resume from {out}", code=130)
    for n, c in res["claims"].items():
        console.print(f"{n}: [bold]{c['verdict']}[/]  ({c['arms']['treatment']} - {c['arms']['control']}: "
                      f"{c['diff_mean'] if c['diff_mean'] is None else round(c['diff_mean'], 4)})", highlight=False)
    console.print(f"wrote {out / 'claims.json'}, {out / 'summary.md'}, {out / 'claims.html'}")
