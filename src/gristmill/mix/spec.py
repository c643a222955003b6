"""Mixture and curriculum files: schema, loading, validation with file/line errors.

A mixture names sources (curated outputs or parquet/jsonl files), each with a ``weight`` or a
``tokens:`` budget, an optional ``where:`` filter and a repetition cap. A curriculum has
``phases:``, each with its own sources and a ``tokens:`` budget; a source with ``replay: PHASE``
(or ``PHASE.SOURCE``) re-reads an earlier phase's data (Phi-3's phase 2 replays phase-1 data,
Abdin et al. 2024, Sec. 2). The same data (files, text field and filter) named in several phases
keeps one cursor: a later phase continues where the earlier one stopped, so nothing repeats before
its epoch ends, and ``max_epochs`` counts epochs over the whole run. Everything is checked before any work starts; errors name the file,
the line and the fix, as recipes do (``gristmill.recipe``).
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gristmill.mix.sources import Part, SourceData, SourceError
from gristmill.mix.where import WhereError
from gristmill.config import nearest_line, pydantic_messages, read_yaml_mapping


class MixtureError(ValueError):
    """A mixture problem found before any work starts; the message names file, line and fix."""


class SourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    path: list[str] | None = Field(None, description="gristmill output dir(s), parquet/jsonl files or globs (relative to the current directory)")
    replay: list[str] | None = Field(None, description="earlier phase(s) whose sources this one re-reads: PHASE or PHASE.SOURCE")
    weight: float | None = Field(None, ge=0, description="share of the phase's sequences (normalized over sources)")
    tokens: int | None = Field(None, gt=0, description="a token budget instead of a weight")
    where: str | None = Field(None, description="filter over stored columns, e.g. \"quality_score >= 0.5\"")
    max_epochs: int = Field(1, ge=1, description="how often the source may be read in full (default 1: never repeat)")
    text_field: str = "text"

    @field_validator("path", "replay", mode="before")
    @classmethod
    def _one(cls, v):
        return [v] if isinstance(v, str) else v


class PhaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    tokens: int | None = Field(None, gt=0, description="tokens this phase streams (required except for the last phase)")
    sources: list[SourceSpec] = Field(min_length=1)


class MixtureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[SourceSpec] | None = None
    phases: list[PhaseSpec] | None = None
    tokenizer: str | None = Field(None, description="an HF tokenizers JSON file; overridable at run time")
    seq_len: int = Field(1024, ge=2, description="tokens per packed sequence")
    seed: int = 0
    tokens: int | None = Field(None, gt=0, description="total budget of a single-phase mixture")
    allow_repeat: bool = Field(False, description="let sources repeat past max_epochs instead of failing")
    shuffle_buffer: int = Field(
        1000, ge=1, description="documents per shuffle buffer; bounds memory. 1000 is the default buffer of "
                                "Hugging Face datasets' IterableDataset.shuffle")
    eos: str | None = Field(None, description="the end-of-document token; found in the tokenizer when absent")


@dataclass
class Source:
    """A resolved source: its data, its share, and the key of the stream that reads it."""

    name: str
    weight: float
    max_epochs: int
    data: SourceData
    key: str  # sources with the same data share one cursor across phases; replays get their own
    line: int | None = None
    spec: SourceSpec | None = None


@dataclass
class Phase:
    name: str
    tokens: int | None
    sources: list[Source]


@dataclass
class Mixture:
    path: str
    spec: MixtureSpec
    phases: list[Phase]

    @property
    def is_curriculum(self) -> bool:
        return self.spec.phases is not None

    def fingerprint(self) -> str:
        d = self.spec.model_dump(exclude={"tokenizer", "seq_len", "seed"})
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_mixture(path: str | os.PathLike, **overrides) -> Mixture:
    """Parse and validate a mixture file; ``overrides`` (tokenizer=, seq_len=, seed=, ...) win over the file."""
    path = Path(path)
    data, lines = read_yaml_mapping(path, MixtureError, "mixture",
                                    "a mixture is a mapping with sources: (or phases:), tokenizer, seq_len, seed")
    return mixture_from_dict(data, str(path), lines, overrides)


def mixture_from_dict(data: dict, where: str = "<mixture>", lines: dict | None = None, overrides: dict | None = None) -> Mixture:
    lines = lines or {}
    errors: list[str] = []

    def err(loc: tuple, msg: str):
        ln = nearest_line(lines, loc)
        errors.append(f"{where}{f' line {ln}' if ln else ''}: {'.'.join(map(str, loc)) or '(top)'}: {msg}")

    def fail():
        raise MixtureError("\n".join(errors))

    known = list(MixtureSpec.model_fields)
    for k in list(data):
        if k not in known:
            close = difflib.get_close_matches(str(k), known, n=1, cutoff=0.6)
            err((k,), f"unknown key{f' (did you mean {close[0]!r}?)' if close else ''}; keys: {', '.join(known)}")
    data = {k: v for k, v in data.items() if k in known}
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        spec = MixtureSpec(**data)
    except ValidationError as e:
        for loc, msg in pydantic_messages(e):
            if loc and loc[-1] in SourceSpec.model_fields and msg == "unknown parameter":
                pass
            if msg == "unknown parameter":
                fields = SourceSpec.model_fields if "sources" in loc else MixtureSpec.model_fields
                close = difflib.get_close_matches(str(loc[-1]), list(fields), n=1, cutoff=0.6)
                msg = f"unknown key{f' (did you mean {close[0]!r}?)' if close else ''}"
            err(loc, msg)
        fail()
    if errors:
        fail()
    if (spec.sources is None) == (spec.phases is None):
        err((), "give either sources: (one mixture) or phases: (a curriculum), not both or neither")
        fail()

    raw_phases = spec.phases if spec.phases is not None else [PhaseSpec(name="main", tokens=spec.tokens, sources=spec.sources)]
    ploc = (lambda i: ("phases", i)) if spec.phases is not None else (lambda i: ())
    names = [p.name or f"phase{i + 1}" for i, p in enumerate(raw_phases)]
    if spec.phases is not None and spec.tokens is not None:
        err(("tokens",), "a curriculum gives tokens: per phase, not at the top")
    if len(set(names)) != len(names):
        err(("phases",), f"phase names must be unique: {names}")
    phases: list[Phase] = []
    built: dict[str, list[Source]] = {}
    for i, (ps, pname) in enumerate(zip(raw_phases, names)):
        if spec.phases is not None and ps.tokens is None and i < len(raw_phases) - 1:
            err(ploc(i), f"phase {pname!r} needs tokens: (only the last phase may run until a source runs out)")
        seen_names: set[str] = set()
        sources: list[Source] = []
        for j, ss in enumerate(ps.sources):
            loc = ploc(i) + ("sources", j)
            if ss.name in seen_names:
                err(loc + ("name",), f"source name {ss.name!r} is used twice in this phase")
            seen_names.add(ss.name)
            if (ss.path is None) == (ss.replay is None):
                err(loc, f"source {ss.name!r}: give path: (the data) or replay: (an earlier phase), exactly one")
                continue
            if (ss.weight is None) == (ss.tokens is None):
                err(loc, f"source {ss.name!r}: give weight: or tokens:, exactly one")
                continue
            parts: list[Part] = []
            if ss.path is not None:
                part = Part(paths=ss.path, text_field=ss.text_field, where=ss.where)
                try:
                    part.scan()
                except SourceError as e:
                    err(loc + ("path",), str(e))
                    continue
                except WhereError as e:
                    err(loc + ("where",), str(e))
                    continue
                parts = [part]
                key = "data:" + hashlib.sha256(json.dumps([[str(f.resolve()) for f in part.files], ss.text_field, ss.where]).encode()).hexdigest()[:12]
            else:
                ok = True
                for ref in ss.replay:
                    ph, _, sname = ref.partition(".")
                    if ph not in built:
                        close = difflib.get_close_matches(ph, list(built), n=1, cutoff=0.5)
                        err(loc + ("replay",), f"replay {ref!r}: no earlier phase {ph!r}"
                            f"{f' (did you mean {close[0]!r}?)' if close else ''}; earlier phases: {', '.join(built) or 'none'}")
                        ok = False
                        continue
                    chosen = [s for s in built[ph] if not sname or s.name == sname]
                    if not chosen:
                        err(loc + ("replay",), f"replay {ref!r}: phase {ph!r} has no source {sname!r} "
                            f"(sources: {', '.join(s.name for s in built[ph])})")
                        ok = False
                    for s in chosen:
                        for p in s.data.parts:
                            if ss.where:
                                q = Part(paths=p.paths, text_field=p.text_field,
                                         where=f"({p.where}) and ({ss.where})" if p.where else ss.where)
                                try:
                                    q.scan()
                                except (SourceError, WhereError) as e:
                                    err(loc + ("where",), str(e))
                                    ok = False
                                    continue
                                parts.append(q)
                            else:
                                parts.append(p)
                if not ok or not parts:
                    continue
                key = f"replay:{pname}.{ss.name}"
            weight = float(ss.weight if ss.weight is not None else ss.tokens)
            sources.append(Source(name=ss.name, weight=weight, max_epochs=ss.max_epochs, data=SourceData(parts),
                                  key=key, line=nearest_line(lines, loc), spec=ss))
        if sources:
            kinds = {s.spec.tokens is not None for s in sources}
            if len(kinds) > 1:
                err(ploc(i) + ("sources",), "mix weight: and tokens: in one phase is ambiguous; use one of them for every source")
            elif kinds == {True}:
                total = sum(s.spec.tokens for s in sources)
                if ps.tokens is not None and ps.tokens != total:
                    err(ploc(i) + ("tokens",), f"tokens: {ps.tokens} differs from the sum of the sources' budgets ({total})")
                ps = ps.model_copy(update={"tokens": total})
            if sum(s.weight for s in sources) <= 0:
                err(ploc(i) + ("sources",), "all weights are zero; give at least one source a positive weight")
            total_w = sum(s.weight for s in sources) or 1.0
            for s in sources:
                s.weight = s.weight / total_w
        built[pname] = sources
        phases.append(Phase(name=pname, tokens=ps.tokens, sources=sources))
    if errors:
        fail()
    return Mixture(path=where, spec=spec, phases=phases)
