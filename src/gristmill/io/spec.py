"""An input of a recipe: where its files are, their format, and how records become documents.

It lives with the readers (``gristmill.recipe`` re-exports it), so that ``gristmill.io`` needs
nothing from the recipe module and a recipe loads the readers' spec, not the other way round.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gristmill.io.fields import canonical
from gristmill.io.paths import JSONL, PARQUET, TEXT, expand

FORMATS = ("jsonl", "parquet", "text", "warc", "code")


class InputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(min_length=1, description="files, directories or globs; relative to the current directory")
    format: Literal["jsonl", "parquet", "text", "warc", "code"] = "jsonl"
    text_field: str = "text"
    id_field: str | Literal[False] | None = Field(
        None, description="the field holding each record's id; by default a record's own 'id' is used when it has one, "
        "and '<file>:<line>' is derived where it has none; false: always derive")
    source: str | None = Field(None, description="name of this input; defaults to the file name without extensions")
    fields: list[str] | dict[str, str] = Field(
        default_factory=list, description="extra fields to carry into the output: a list of names, or names with a type "
        "(string, int64, float64, bool, json); undeclared types are sampled from the first records (gristmill.io.fields)")
    max_doc_bytes: int = Field(
        10_000_000, gt=0, description="larger documents are quarantined (no real page is 10 MB of text)"
    )

    @field_validator("paths", mode="before")
    @classmethod
    def _one_path(cls, v):
        return [v] if isinstance(v, str) else v

    @field_validator("fields")
    @classmethod
    def _field_types(cls, v):
        return {k: canonical(t) for k, t in v.items()} if isinstance(v, dict) else v

    def declared_field_types(self) -> dict[str, str]:
        return dict(self.fields) if isinstance(self.fields, dict) else {}


def expand_paths(spec: InputSpec) -> list[tuple[Path, str]]:
    """Each matching file with its id prefix: the path relative to the glob's fixed part
    (gristmill.io.paths, the one expander). A pattern that matches nothing is reported elsewhere."""
    if spec.format == "code":  # a repository tree: vendored and generated directories are pruned
        from gristmill.io.code_tree import code_files

        return code_files(spec.paths)
    exts = {"text": TEXT, "jsonl": JSONL + (".gz", ".zst"), "parquet": PARQUET, "warc": (".warc", ".warc.gz", ".gz")}[spec.format]
    return expand(spec.paths, exts, strict=False)
