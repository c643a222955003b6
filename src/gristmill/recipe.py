"""Recipe schema and loading.

A recipe is YAML: inputs, steps with parameters, output. It is validated completely before any
work starts, and every error names the file, the line and what to do. The resolved recipe (every
default filled in) is what the engine runs and what it writes to ``recipe.lock.yaml``.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gristmill import __version__
from gristmill.step import Step, UnknownStep, get_step

# The input spec belongs with the readers (gristmill.io.spec); re-exported here for recipe users.
from gristmill.io.spec import FORMATS, InputSpec, expand_paths  # noqa: E402,F401


class RecipeError(ValueError):
    """A recipe problem found before any work starts; the message names file, line and fix."""


class OutputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = "out/run"
    keep_rejected: bool = True
    shard_mb: int = Field(128, gt=0, description="large uncompressed inputs are split into shards of this size")
    batch_rows: int = Field(2000, gt=0, description="rows per Arrow batch inside a shard: bounds memory")


class ErrorPolicy(BaseModel):
    """When failures stop being bad input and become a bug or a misconfiguration: the run fails.

    A step that raises on a document quarantines it (``step_error``) and the run goes on, since one
    malformed page must not cost a whole crawl. But a step that raises on many documents is broken,
    and quarantining them all would look like a clean run. A step therefore fails the run when its
    errors in one shard exceed ``max(min_step_errors, max_step_error_rate * documents of the
    shard)``, or exceed ``max_step_errors`` at any point. The defaults are those issue 8 asks for
    (1% of a shard, 100 documents), with a floor of 10 so that a small shard with one bad document
    is not failed by the rate: on the held-out crawls of issue 8 a broken step failed every document
    it saw (450 of 450), while real bad input through the readers is quarantined before any step
    runs and a step error is rare. ``max_quarantine_fraction``: over half of the input in quarantine
    means the input is misread (a wrong ``text_field`` quarantines 100%), so the run fails and names
    the most common cause."""

    model_config = ConfigDict(extra="forbid")

    max_step_errors: int = Field(100, ge=0, description="a step failing on more documents than this fails the run")
    max_step_error_rate: float = Field(0.01, ge=0.0, le=1.0, description="fraction of a shard's documents a step may fail on")
    min_step_errors: int = Field(10, ge=0, description="errors always tolerated in a shard, whatever its size")
    max_quarantine_fraction: float = Field(0.5, ge=0.0, le=1.0, description="over this fraction of the input quarantined fails the run")


class StepSpec(BaseModel):
    name: str
    config: dict[str, Any]
    sources: list[str] | None = None  # apply only to documents of these sources; others pass untouched
    line: int | None = None

    def build(self) -> Step:
        cls = get_step(self.name)
        step = cls(cls.Config(**self.config))
        step.only_sources = self.sources
        return step


class Recipe(BaseModel):
    inputs: list[InputSpec]
    steps: list[StepSpec]
    output: OutputSpec
    errors: ErrorPolicy = Field(default_factory=ErrorPolicy)
    source_file: str | None = None

    def build_steps(self) -> list[Step]:
        return [s.build() for s in self.steps]

    def resolved(self) -> dict:
        """The recipe with every default filled in, as written to recipe.lock.yaml."""
        return {
            "gristmill_version": __version__,
            "inputs": [i.model_dump() for i in self.inputs],
            "steps": [{s.name: {**s.config, **({"sources": s.sources} if s.sources else {})}} for s in self.steps],
            "output": self.output.model_dump(),
            "errors": self.errors.model_dump(),
        }

    def protected_paths(self) -> list[Path]:
        """The files this recipe reads (and the recipe itself): what ``--fresh`` must never delete."""
        out = [Path(f) for spec in self.inputs for f, _ in expand_paths(spec)]
        out += [Path(spec_path.split("*")[0]) for spec in self.inputs for spec_path in spec.paths]
        if self.source_file and Path(self.source_file).exists():
            out.append(Path(self.source_file))
        return out

    def fingerprint(self) -> str:
        """What decides the output: inputs and steps, not the output path or the version."""
        d = self.resolved()
        d.pop("gristmill_version")
        d.pop("errors")  # when to give up does not change what a finished run wrote
        d["output"] = {k: v for k, v in d["output"].items() if k != "path"}
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _source_names(inputs: list[InputSpec]) -> set[str]:
    """Every value the ``source`` column can take: an input's ``source:``, else its files' names."""
    from gristmill.io.readers import default_source  # readers import this module

    names: set[str] = set()
    for spec in inputs:
        if spec.source:
            names.add(spec.source)
        elif spec.format == "text":  # a text directory is one source, named after the directory
            names.add(default_source(spec, Path(spec.paths[0].rstrip("/"))))
        else:
            names.update(default_source(spec, f) for f, _ in expand_paths(spec))
    return names


# ---------------------------------------------------------------------------------------------
# Loading with line numbers


def _line_index(node: yaml.Node, prefix: tuple = ()) -> dict[tuple, int]:
    """Map every key path in a YAML node tree to its 1-based line."""
    lines = {prefix: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = prefix + (k.value,)
            lines[key] = k.start_mark.line + 1
            for sub, ln in _line_index(v, key).items():
                if sub != key:
                    lines[sub] = ln
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            lines.update(_line_index(v, prefix + (i,)))
    return lines


def _nearest_line(lines: dict[tuple, int], loc: tuple) -> int | None:
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def _pydantic_messages(err: ValidationError) -> list[tuple[tuple, str]]:
    out = []
    for e in err.errors():
        loc = tuple(e["loc"])
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown parameter"
        elif e["type"] == "missing":
            msg = "required parameter is missing"
        elif e["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")  # pydantic's prefix for a validator's own message
        out.append((loc, msg))
    return out


def read_yaml_mapping(path: str | os.PathLike, error: type[Exception], what: str, shape: str) -> tuple[dict, dict]:
    """``(data, lines)`` of a YAML file that must hold a mapping; every problem raises ``error``
    naming the file (and the line when YAML knows it). ``lines`` maps key paths to line numbers,
    so the caller's validation errors can point at the line. Recipes, mixture files and synth
    configs all read their files through here."""
    path = Path(path)
    if not path.exists():
        raise error(f"{path}: {what} file not found")
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise error(f"{path}{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise error(f"{path}: {shape}")
    return data, (_line_index(node) if node is not None else {})


def load_recipe(path: str | os.PathLike, check_inputs: bool = True) -> Recipe:
    """Parse and validate a recipe file. Raises :class:`RecipeError` with file:line on problems."""
    data, lines = read_yaml_mapping(path, RecipeError, "recipe", "a recipe is a mapping with keys input, steps, output")
    return recipe_from_dict(data, str(path), lines, check_inputs)


def _check_score_columns(declared: list[tuple[int, str, dict]], inputs: list[InputSpec], err) -> None:
    """A selector on a score column that no earlier step writes and no input carries would fail on
    every document (a step error deep in the run); say so at load time, naming the step to add.
    Steps count as written even when their own parameters are wrong (that has its own error)."""
    carried = {f for spec in inputs for f in spec.fields}
    written: set[str] = set()
    for i, name, params in declared:
        col = params.get("column", "quality_score")
        if name == "quality_select" and col not in written and col not in carried:
            err(("steps", i, name), f"no earlier step writes the column {col!r} and no input carries it in "
                f"fields: put 'quality_score: {{model: MODEL}}' before quality_select (or list {col!r} in an input's fields)")
        if name == "quality_score":
            written.add(col)


def recipe_from_dict(data: dict, where: str = "<recipe>", lines: dict | None = None, check_inputs: bool = True) -> Recipe:
    lines = lines or {}
    errors: list[str] = []

    def err(loc: tuple, msg: str):
        ln = _nearest_line(lines, loc)
        errors.append(f"{where}{f' line {ln}' if ln else ''}: {'.'.join(map(str, loc))}: {msg}")

    unknown = set(data) - {"input", "inputs", "steps", "output", "errors"}
    for k in sorted(unknown):
        err((k,), "unknown section (expected input, steps, output, errors)")

    raw_inputs = data.get("inputs", data.get("input"))
    key = "inputs" if "inputs" in data else "input"
    if raw_inputs is None:
        err((), "missing section 'input' (which files to read)")
        raw_inputs = []
    if isinstance(raw_inputs, dict):
        raw_inputs, single = [raw_inputs], True
    else:
        single = False
    inputs: list[InputSpec] = []
    for i, ri in enumerate(raw_inputs):
        loc0 = (key,) if single else (key, i)
        try:
            spec = InputSpec(**(ri or {}))
        except (ValidationError, TypeError) as e:
            if isinstance(e, TypeError):
                err(loc0, "each input is a mapping with paths, format, ...")
            else:
                for loc, msg in _pydantic_messages(e):
                    err(loc0 + loc, msg)
            continue
        if check_inputs:
            for j, pattern in enumerate(spec.paths):
                if not expand_paths(spec.model_copy(update={"paths": [pattern]})):
                    err(loc0 + ("paths", j), f"no {spec.format} input matches {pattern!r} (relative to {os.getcwd()}); check the path")
            from gristmill.io.preflight import field_problems  # it reads data, which imports this module

            for field_key, msg in field_problems(spec):
                err(loc0 + (field_key,), msg)
        inputs.append(spec)

    known_sources = _source_names(inputs) if check_inputs and len(inputs) == len(raw_inputs) else None
    steps: list[StepSpec] = []
    raw_steps = data.get("steps") or []
    if not isinstance(raw_steps, list):
        err(("steps",), "steps is a list, e.g. '- min_length: {min_words: 50}'")
        raw_steps = []
    declared: list[tuple[int, str, dict]] = []  # every step as written, valid or not: (index, name, params)
    for i, rs in enumerate(raw_steps):
        if isinstance(rs, str):
            rs = {rs: {}}
        if not isinstance(rs, dict) or len(rs) != 1:
            err(("steps", i), "each step is one mapping 'name: {params}'")
            continue
        (name, params), = rs.items()
        declared.append((i, name, params if isinstance(params, dict) else {}))
        params = params or {}
        ln = _nearest_line(lines, ("steps", i))
        try:
            cls = get_step(name)
        except UnknownStep as e:
            err(("steps", i), str(e))
            continue
        if not isinstance(params, dict):
            err(("steps", i, name), "parameters are a mapping, e.g. {min_words: 50}")
            continue
        params = dict(params)
        sources = params.pop("sources", None)
        if sources is not None and (not isinstance(sources, list) or not all(isinstance(x, str) for x in sources)):
            err(("steps", i, name, "sources"), "sources is a list of source names, e.g. [web]")
            continue
        if sources is not None and known_sources is not None:
            # A misspelt source would silently turn the step off for every document.
            for s_name in sources:
                if s_name not in known_sources:
                    close = difflib.get_close_matches(s_name, sorted(known_sources), n=1, cutoff=0.6)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    err(("steps", i, name, "sources"), f"no input has source {s_name!r}{hint}; the sources are "
                        f"{', '.join(sorted(known_sources)) or '(none)'} (set input.source to name one)")
        try:
            cfg = cls.Config(**params)
        except ValidationError as e:
            for loc, msg in _pydantic_messages(e):
                fields = ", ".join(cls.Config.model_fields)
                err(("steps", i, name) + loc, f"{msg} for step {name!r} (parameters: {fields})")
            continue
        steps.append(StepSpec(name=name, config=cfg.model_dump(mode="json"), sources=sources, line=ln))

    _check_score_columns(declared, inputs, err)
    try:
        output = OutputSpec(**(data.get("output") or {}))
    except ValidationError as e:
        for loc, msg in _pydantic_messages(e):
            err(("output",) + loc, msg)
        output = OutputSpec()
    try:
        policy = ErrorPolicy(**(data.get("errors") or {}))
    except (ValidationError, TypeError) as e:
        for loc, msg in (_pydantic_messages(e) if isinstance(e, ValidationError) else [((), "errors is a mapping")]):
            err(("errors",) + loc, f"{msg} (parameters: {', '.join(ErrorPolicy.model_fields)})")
        policy = ErrorPolicy()
    if errors:
        raise RecipeError("\n".join(errors))
    return Recipe(inputs=inputs, steps=steps, output=output, errors=policy, source_file=where)
