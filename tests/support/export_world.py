"""Shared by the export tests: a curated source, a tokenizer and two mixtures whose streams differ
(`make_world`), the CLI runner, and helpers to read an export directory and its staging leftovers."""
from pathlib import Path

import yaml
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app

runner = CliRunner()


def cli(*args, ok=True):
    r = runner.invoke(app, [str(a) for a in args])
    if ok:
        assert r.exit_code == 0, (r.output, r.exception)
    return r


def make_world(root: Path) -> Path:
    """One curated source (made by `gristmill run`), a tokenizer trained on it, two mixtures whose
    streams differ (seeds 0 and 1): an old and a new export are then told apart byte for byte."""
    write_jsonl(root / "web.jsonl", stdlib_docs(1500, 20))
    (root / "web.yaml").write_text(yaml.safe_dump({
        "inputs": [{"paths": [str(root / "web.jsonl")], "id_field": "id", "source": "web"}],
        "steps": [{"min_length": {"min_words": 20}}],
        "output": {"path": str(root / "out" / "web"), "batch_rows": 100}}))
    cli("run", root / "web.yaml", "--workers", "1", "--no-progress")
    cli("tokenizer", "train", root / "out" / "web", "--vocab-size", "600", "-o", root / "tok.json")
    for seed in (0, 1):
        (root / f"mix{seed}.yaml").write_text(yaml.safe_dump({
            "tokenizer": str(root / "tok.json"), "seq_len": 64, "seed": seed, "shuffle_buffer": 16,
            "sources": [{"name": "web", "path": str(root / "out" / "web"), "weight": 1.0, "max_epochs": 50}]}))
    return root


TOKENS = 64 * 3000  # enough sequences that a random kill often lands inside the build


def export_args(world: Path, seed: int, out: Path, fmt: str, tokens: int = TOKENS) -> list[str]:
    return ["export", str(world / f"mix{seed}.yaml"), "-o", str(out), "--format", fmt, "--tokens", str(tokens),
            "--val-fraction", "0.01"]


def tree(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())} if d.exists() else {}


def staging_dirs(out: Path) -> list[Path]:
    return [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.gristmill-export.")]
