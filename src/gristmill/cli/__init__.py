"""The `gristmill` command: run/select/show/stats/steps/report/demo in :mod:`.main`, one module per
sub-command group (mix, stream: tokenizer and export, quality, lab, synth), sharing :mod:`.common`."""
from gristmill.cli.main import app, main

__all__ = ["app", "main"]
