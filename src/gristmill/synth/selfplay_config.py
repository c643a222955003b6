"""The served self-play loop's config (``gristmill synth selfplay CONFIG``): schema and loader.

Every error names the config file and line (:func:`gristmill.config.load_yaml`, the one bounded YAML
loader); the loop itself is :mod:`gristmill.synth.selfplay`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PLACEHOLDER_URL = "http://selfplay.invalid/v1"  # replaced each round by the served model's address


class SelfPlayError(ValueError):
    pass


class SeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field("math.arithmetic", description="generator (or mixture) of the seed data and the held-out problems")
    n: int = Field(2000, ge=1, description="seed items drawn (train + held-out split; only the train split "
                                           "is used); chosen for a round 0 of minutes on 2 cores, not tuned for accuracy")
    difficulty: int = 1
    seed: int = 0


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(100, ge=1, description="held-out problems scored per round: 100 gives accuracy +-0.05 (1 s.e. at 50%)")
    seed: int = Field(1_000_003, description="draws the held-out problems (the lab's EVAL_SEED); the same every round")
    max_new_tokens: Optional[int] = Field(None, ge=1, description="decoding budget per problem (default: the lab's "
                                                                   "WORKED_BUDGET for worked solutions, else the answer's length)")


class SelfPlayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rounds: int = Field(3, ge=1, description="three: the minimum issue 13 asks to report")
    worked: bool = Field(True, description="documents carry the generator's worked solution (column steps, carries, long "
                                           "division) before `Answer: N`, and scoring decodes the solution up to that line: a "
                                           "scratchpad makes arithmetic learnable by small transformers (Nye et al. 2021, 'Show "
                                           "Your Work'; Lee et al. 2023, 'Teaching Arithmetic to Small Transformers'); false: "
                                           "`Answer: N` alone")
    start_from: Optional[str] = Field(None, description="a finished `gristmill lab train` run (relative to this file) used as "
                                                        "round 0 instead of training one on the seed data")
    seed_data: SeedConfig = Field(default_factory=SeedConfig)
    train: dict = Field(description="the lab training config of round 0 (gristmill lab train fields; `data:` is the seed)")
    round_tokens: int = Field(200_000, ge=1, description="tokens trained per self-play round; about a "
                                                                     "minute at the ~5k tokens/s of the tiny preset on a shared 2-core box")
    round_lr: Optional[float] = Field(None, gt=0, description="peak lr of the rounds (default: train.lr / 2: re-warming to a "
                                                               "lower peak forgets less, Ibrahim et al. 2024, 'Simple and Scalable "
                                                               "Strategies to Continually Pre-train LLMs')")
    replay: float = Field(0.5, ge=0, lt=1, description="share of each round's documents drawn from earlier data; 0.5 "
                                                        "is the 1:1 new:old ratio of Rolnick et al. 2019")
    heldout: float = Field(0.1, gt=0, lt=1, description="held-out fraction of the key hash (the `synth generate` default)")
    loop: dict = Field(description="a `synth run` config; endpoint.base_url and model are filled in each round")
    eval: EvalConfig = Field(default_factory=EvalConfig)


def load_config(path: Path):
    """(SelfPlayConfig, the round-0 TrainConfig, the LoopConfig template); every error names the line."""
    from gristmill.lab.config import TrainConfig
    from gristmill.config import line_index
    from gristmill.synth.loop import EndpointConfig, LoopConfig, SandboxConfig, TasksConfig, format_errors

    path = Path(path)
    from gristmill.config import load_yaml, read_yaml_text  # the one bounded YAML loader

    data, node = load_yaml(read_yaml_text(path, SelfPlayError, "config"), str(path), SelfPlayError)
    if not isinstance(data, dict):
        raise SelfPlayError(f"{path}: the config is a mapping with rounds, train, loop, ...")
    lines = line_index(node) if node is not None else {}
    try:
        cfg = SelfPlayConfig(**data)
    except ValidationError as e:
        raise SelfPlayError(format_errors(path, e, lines, {(): SelfPlayConfig, ("seed_data",): SeedConfig,
                                                             ("eval",): EvalConfig})) from None
    train = dict(cfg.train)
    if train.get("data") or train.get("mixture"):
        raise SelfPlayError(f"{path} line {line_index(node).get(('train',), '?')}: train: leave out data/mixture: "
                            "round 0 trains on the seed data (seed_data:), later rounds on what the model earned")
    if cfg.start_from:
        run = Path(cfg.start_from) if Path(cfg.start_from).is_absolute() else path.parent / cfg.start_from
        from gristmill.lab.train import has_checkpoint

        if not has_checkpoint(run):
            raise SelfPlayError(f"{path} line {lines.get(('start_from',), '?')}: start_from: {run} is not a finished lab run "
                                "(no ckpt/); train it first or leave start_from out to train round 0 on the seed data")
        cfg.start_from = str(run.resolve())
    train["data"] = ["seed.jsonl"]
    try:
        tcfg = TrainConfig.model_validate(train)
    except ValidationError as e:
        raise SelfPlayError(format_errors(path, e, lines, {("train",): TrainConfig}, ("train",))) from None
    loop = json.loads(json.dumps(cfg.loop))
    ep = loop.setdefault("endpoint", {})
    for k in ("base_url", "model"):
        if k in ep:
            raise SelfPlayError(f"{path} line {lines.get(('loop', 'endpoint', k), '?')}: loop.endpoint.{k}: leave it out; "
                                "self-play serves each round's model itself")
    if ep.get("api", "completions") != "completions":
        raise SelfPlayError(f"{path} line {lines.get(('loop', 'endpoint', 'api'), '?')}: loop.endpoint.api: the lab "
                            "model is a base model: use `completions` (the default here)")
    ep.update(base_url=PLACEHOLDER_URL, model="selfplay", api="completions")
    try:
        lcfg = LoopConfig(**loop)
    except ValidationError as e:
        raise SelfPlayError(format_errors(path, e, lines, {("loop",): LoopConfig, ("loop", "endpoint"): EndpointConfig,
                                                            ("loop", "tasks"): TasksConfig, ("loop", "sandbox"): SandboxConfig},
                                           ("loop",))) from None
    if lcfg.tasks.source == "file":
        raise SelfPlayError(f"{path}: loop.tasks.source: use `topics` (topic_kind: math: the model poses problems) or "
                            "`generator` (the model solves training-split problems)")
    if lcfg.tasks.source == "topics" and lcfg.tasks.topic_kind != "math":
        raise SelfPlayError(f"{path}: loop.tasks.topic_kind: self-play scores math; use topic_kind: math")
    return cfg, tcfg, lcfg
