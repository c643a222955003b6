"""`gristmill tokenizer train|compare` and `gristmill export`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from gristmill.cli.common import console, fail as _fail

_print = console.print

tokenizer_app = typer.Typer(name="tokenizer", no_args_is_help=True, help="Train and compare tokenizers on curated outputs.")
export_app = typer.Typer()


@tokenizer_app.command("train")
def train(outs: list[Path] = typer.Argument(..., help="curated outputs (OUT dirs: their data/*.parquet) or parquet/jsonl files"),
          vocab_size: int = typer.Option(..., "--vocab-size", help="vocabulary size, special tokens included"),
          out: Path = typer.Option(..., "-o", "--out", help="tokenizer JSON to write"),
          min_frequency: int = typer.Option(2, "--min-frequency", help="minimum pair count for a merge (tokenizers' default 2)"),
          text_field: str = typer.Option("text", "--text-field"),
          max_docs: Optional[int] = typer.Option(None, "--max-docs", help="train on the first N documents only"),
          eos: str = typer.Option("<|endoftext|>", "--eos", help="end-of-document special token")):
    """Train a byte-level BPE with Hugging Face `tokenizers` on curated outputs."""
    from gristmill.mix.sources import SourceError
    from gristmill.stream.tokenizer import iter_texts, train_bpe

    if vocab_size < 257:
        _fail(f"--vocab-size {vocab_size}: a byte-level BPE needs at least 256 byte tokens plus EOS (257)")
    try:
        texts = iter_texts([str(p) for p in outs], text_field, max_docs)
        first = next(texts, None)
        if first is None:
            _fail(f"{', '.join(map(str, outs))}: no documents to train on")
        import itertools

        train_bpe(itertools.chain([first], texts), vocab_size, out, min_frequency, eos)
    except SourceError as e:
        _fail(str(e))
    from tokenizers import Tokenizer

    _print(f"wrote [bold]{out}[/] (vocabulary {Tokenizer.from_file(str(out)).get_vocab_size():,}, EOS {eos!r})")


@tokenizer_app.command("compare")
def compare(inputs: list[str] = typer.Argument(..., help="curated outputs or parquet/jsonl files; each one is a source"),
            tokenizer: list[str] = typer.Option(..., "--tokenizer", "-t", help="bytes | bpe:N (trained here) | tokenizers JSON; repeat"),
            out: Path = typer.Option(..., "-o", "--out", help="directory for tokenizer_compare.json and the trained BPEs"),
            heldout_share: float = typer.Option(0.1, "--heldout-share", help="share of documents held out (by a hash of the text)"),
            text_field: str = typer.Option("text", "--text-field"),
            language_field: str = typer.Option("language", "--language-field", help="stored language column, used when present"),
            max_docs: Optional[int] = typer.Option(None, "--max-docs", help="read at most N documents per input"),
            max_bytes: int = typer.Option(50_000_000, "--max-bytes", help="read at most this much text per input"),
            min_frequency: int = typer.Option(2, "--min-frequency", help="BPE: minimum pair count for a merge"),
            as_json: bool = typer.Option(False, "--json", help="print the JSON instead of the table")):
    """Compare tokenizers on held-out text: bytes per token, tokens per word, unknown and byte-fallback
    rates, vocabulary use; per source and per language."""
    import json as _json

    from gristmill.lab.tokenizer_compare import CompareError, compare as _compare, print_compare

    try:
        res = _compare(inputs, tokenizer, out, heldout_share, text_field, language_field, max_docs, max_bytes,
                       min_frequency, say=None if as_json else (lambda m: _print(m, highlight=False)))
    except CompareError as e:
        _fail(str(e))
    if as_json:
        typer.echo(_json.dumps(res, indent=2))
    else:
        print_compare(res, console)
        _print(f"wrote [bold]{out / 'tokenizer_compare.json'}[/]")


@export_app.command("export")
def export(mix: Path = typer.Argument(..., help="mixture or curriculum YAML"),
           out: Path = typer.Option(..., "-o", "--out", help="output directory"),
           fmt: str = typer.Option(..., "--format", help="nanogpt | megatron"),
           tokens: Optional[int] = typer.Option(None, "--tokens", help="stop after this many tokens (and the budget of a single-phase mixture)"),
           tokenizer: Optional[Path] = typer.Option(None, "--tokenizer", "-t", help="HF tokenizers JSON (overrides tokenizer:)"),
           seq_len: Optional[int] = typer.Option(None, "--seq-len"),
           val_fraction: float = typer.Option(0.0005, "--val-fraction", help="share of sequences in val (nanoGPT's 0.0005)")):
    """Write the mixture's stream as nanoGPT train.bin/val.bin or a Megatron-LM indexed dataset (.bin/.idx).

    The export replaces OUT as one unit (built beside it, then swapped in): a killed export leaves
    the old export or the new one, never a mix."""
    from gristmill.mix.spec import MixtureError
    from gristmill.stream import MixtureDataset, SourceExhausted
    from gristmill.stream.export import ExportError, check_target, export_stream

    if fmt not in ("nanogpt", "megatron"):
        _fail(f"--format {fmt!r}: choose nanogpt or megatron")
    if seq_len is not None and seq_len < 2:
        _fail(f"--seq-len {seq_len}: a sequence needs at least 2 tokens")
    if not 0 < val_fraction < 1:
        _fail(f"--val-fraction {val_fraction}: must be between 0 and 1")
    try:
        check_target(out)  # before the mixture loads: a directory we may not replace fails first
    except ExportError as e:
        _fail(f"-o {e}")
    try:
        m_tokens = None
        from gristmill.mix.spec import load_mixture

        m = load_mixture(mix, tokenizer=str(tokenizer) if tokenizer else None, seq_len=seq_len)
        if tokens is not None and not m.is_curriculum:
            m_tokens = tokens
        ds = MixtureDataset(m, tokens=m_tokens, rank=0, world_size=1)
        meta = export_stream(ds, out, fmt, max_tokens=tokens if m.is_curriculum else None, val_fraction=val_fraction)
    except (MixtureError, SourceExhausted, ExportError) as e:
        _fail(str(e))
    _print(f"wrote {meta['sequences']:,} sequences, {meta['tokens']:,} tokens ({meta['dtype']}) to [bold]{out}[/] as {fmt}")
