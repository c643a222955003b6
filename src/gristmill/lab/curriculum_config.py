"""The `lab curriculum` config (YAML): phases, replay share, evaluation; arms of the experiment.

Split from gristmill.lab.curriculum (one concern per file); the experiment is described there.
"""
from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

ARMS = ("alone", "replay", "control")
ARM_HELP = {"alone": "new domain only", "replay": "new domain + phase-1 replay", "control": "phase-1 data only"}


class PhaseData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: list[str] = Field(min_length=1)   # jsonl/parquet files, globs or gristmill output dirs
    tokens: int = Field(..., ge=1)
    lr: Optional[float] = Field(None, gt=0)  # default: the top-level lr (phase 2 re-warms to it)


class CurriculumEval(BaseModel):
    """`max_bytes` is `lab train`'s (a bpb stable to ~0.01 on the tiny preset); `points: 8` and
    `problems: 50` were chosen on CPU time: every evaluation scores each problem by greedy generation
    and a 4-way ranking, and 50 problems give an accuracy to about ±7 points (binomial standard error)."""
    model_config = ConfigDict(extra="forbid")
    phase1_heldout: list[str] = Field(min_length=1)  # held-out phase-1 text: forgetting
    phase2_heldout: list[str] = []   # held-out new-domain text: gain in bpb
    phase2_items: list[str] = []     # held-out worked-solution items (jsonl with text + answer): step/answer accuracy
    tasks: list[str] = []            # verifiable tasks of gristmill.lab.tasks
    problems: int = Field(50, ge=1)  # items (and task problems) scored at each evaluation
    max_bytes: int = Field(100_000, ge=1000)
    points: int = Field(8, ge=2)     # evaluations along phase 2: the curve's resolution

    @model_validator(mode="after")
    def _some_gain(self):
        if not (self.phase2_heldout or self.phase2_items or self.tasks):
            raise ValueError("name how the new domain is measured: phase2_heldout (files), phase2_items (held-out "
                             "worked solutions) and/or tasks")
        return self


class CurriculumConfig(BaseModel):
    """`seq_len`, `batch_size`, `lr` default to `lab train`'s (nanoGPT's small-model settings).
    `replay: 0.25`: Ibrahim et al. 2024 (Sec. 5) find 5% replay enough for a weak distribution shift and
    25% needed for a strong one (English -> German); web text -> arithmetic is a strong shift.
    `tokenizer`: byte-level BPE trained on both phases' training data, so neither domain is split into
    more tokens than the other by construction; MixtureDataset streams tokenizers JSON files only."""
    model_config = ConfigDict(extra="forbid")
    model: Union[str, dict] = "tiny"
    tokenizer: Union[str, dict] = {"train": {"vocab_size": 4096}}
    seeds: list[int] = Field([0], min_length=1)
    phase1: PhaseData
    phase2: PhaseData
    replay: float = Field(0.25, gt=0, lt=1)  # share of phase-2 sequences drawn from phase-1 data (replay arm)
    eval: CurriculumEval
    seq_len: int = Field(256, ge=8)
    batch_size: int = Field(16, ge=1)
    lr: Optional[float] = Field(None, gt=0)
    threads: Optional[int] = None
    precision: Literal["auto", "bf16", "fp32"] = "auto"  # as in `lab train` (gristmill.lab.precision)
    compile: bool = False
    # confidence intervals over seeds: paired Student t (default) or a bootstrap (lab/significance.py)
    significance: Literal["t", "bootstrap"] = "t"
