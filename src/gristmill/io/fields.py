"""A schema per input for the carried ``fields:``: declared, or sampled from the first records.

Without it, each batch's types came from that batch alone, and the first batch of a shard fixed the
output file's schema: an integer column that later holds ``0.5`` failed the run with ArrowInvalid,
and a column that was null in the first batch became strings. Now every shard of an input reads its
fields with one type, resolved before any shard is read:

- declared: ``fields: {score: float64, url: string}`` (the list form ``fields: [score, url]`` stays);
- else sampled: the first :data:`SAMPLE_RECORDS` records (at most :data:`SAMPLE_BYTES`) of the input's
  first files and the heads of up to 64 planned shards. Types widen over the sample as Arrow's permissive
  promotion does: null fits anything, int64 widens to float64; strings mixed with numbers, or
  nested values, become ``json`` (the value as JSON text, a string as itself).

A value that does not fit its field's type (``0.5`` in a sampled int64 field, ``"n/a"`` in a float64
one) quarantines its record with the reason and the declaration that would keep it. A field still
without a value after the sample is read as ``json``, which fits every value.
"""
from __future__ import annotations

import json
import math

import pyarrow as pa

TYPES = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(), "json": pa.string()}
ALIASES = {"str": "string", "int": "int64", "integer": "int64", "float": "float64", "double": "float64", "number": "float64",
           "boolean": "bool", "any": "json"}
SAMPLE_RECORDS = 100_000
SAMPLE_BYTES = 16 << 20
SHARD_HEAD_BYTES = 1 << 20
_INT64 = (-(1 << 63), (1 << 63) - 1)


def canonical(name: str) -> str:
    """The canonical type name for a declared one; raises ValueError naming the choices."""
    n = str(name).strip().lower()
    n = ALIASES.get(n, n)
    if n not in TYPES:
        raise ValueError(f"unknown field type {name!r}; use one of {', '.join(TYPES)}")
    return n


def kind_of(v) -> str | None:
    """The JSON kind of one value: None for null."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64" if _INT64[0] <= v <= _INT64[1] else "float64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    return "json"


def widen(a: str | None, b: str | None) -> str | None:
    """The narrowest type holding both (None: nothing seen yet)."""
    if a is None or a == b:
        return b if a is None else a
    if b is None:
        return a
    if {a, b} == {"int64", "float64"}:
        return "float64"
    return "json"


def fit(v, typ: str):
    """``(value as stored, None)`` or ``(None, reason)`` when ``v`` does not fit ``typ``."""
    if v is None:
        return None, None
    k = kind_of(v)
    if typ == "json":
        return (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)), None
    if k == typ:
        return v, None
    if typ == "float64" and k == "int64":
        return float(v), None
    if typ == "float64" and isinstance(v, int) and not isinstance(v, bool):  # past int64: still a number
        return float(v), None
    shown = json.dumps(v)[:60] if k != "json" else type(v).__name__
    return None, f"{shown} is {'an integer out of int64 range' if isinstance(v, int) and k == 'float64' else 'a ' + (k or 'null')}, not {typ}"


def arrow_type(typ: str) -> pa.DataType:
    return TYPES[typ]


def column(values: list, typ: str) -> pa.Array:
    """Values already passed through :func:`fit` as one Arrow array of the field's type."""
    return pa.array(values, TYPES[typ])


def conform(col: pa.ChunkedArray | pa.Array, typ: str) -> pa.ChunkedArray | pa.Array | None:
    """An Arrow column (from Arrow's own JSON reader) cast to ``typ`` when every value fits without
    loss, else None (the caller reads the block record by record and quarantines what does not fit)."""
    t = col.type
    if pa.types.is_null(t):
        return pa.nulls(len(col), TYPES[typ])
    want = TYPES[typ]
    if t == want:
        return col
    if typ in ("json", "string") and pa.types.is_large_string(t):
        return col.cast(want)
    if typ == "json":
        return None
    if typ == "float64" and pa.types.is_floating(t):
        return col.cast(want)
    if typ == "float64" and pa.types.is_integer(t):
        try:
            return col.cast(want, safe=True)  # safe: fails on an int that float64 cannot hold exactly
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    if typ == "int64" and pa.types.is_integer(t):
        return col.cast(want)
    return None


class Sampler:
    """Accumulates the kinds seen per field over sampled records."""

    def __init__(self, names):
        self.types: dict[str, str | None] = {n: None for n in names}

    def add(self, rec: dict) -> None:
        for n in self.types:
            v = rec.get(n)
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                self.types[n] = widen(self.types[n], kind_of(v))

    def resolved(self, declared: dict[str, str]) -> dict[str, str]:
        return {n: declared.get(n) or t or "json" for n, t in self.types.items()}
