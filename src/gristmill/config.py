"""The one loader for every YAML config (recipes, mixtures, lab, synth and self-play configs).

Bounded before parsing finishes, so a hostile file cannot hang or crash the command: size, nesting
depth, alias count and the node count with every alias expanded ("billion laughs") are capped, a
recursive alias is refused, non-finite numbers are rejected by key and line, and UTF-16/32 or binary
files are named as such. Errors carry the file and line (:func:`line_index`, :func:`nearest_line`)
and pydantic's messages in plain words (:func:`pydantic_messages`).
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


def line_index(node: yaml.Node, prefix: tuple = ()) -> dict[tuple, int]:
    """Map every key path in a YAML node tree to its 1-based line."""
    lines = {prefix: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = prefix + (k.value,)
            lines[key] = k.start_mark.line + 1
            for sub, ln in line_index(v, key).items():
                if sub != key:
                    lines[sub] = ln
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            lines.update(line_index(v, prefix + (i,)))
    return lines


def nearest_line(lines: dict[tuple, int], loc: tuple) -> int | None:
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def pydantic_messages(err: ValidationError) -> list[tuple[tuple, str]]:
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


# Bounds on what a config file may make the loader do. A recipe is a page of YAML: these are far
# above any real one and far below what hurts. PyYAML shares an aliased node rather than copying
# it, so "billion laughs" (nine levels of ten aliases each) costs nothing to parse but 10^9 nodes
# to anything that walks the result (validation, the fingerprint, the lock), and a recursive alias
# (`a: &a [*a]`) never ends; both are refused here, before anything walks the data.
MAX_YAML_BYTES = 4 << 20
MAX_YAML_DEPTH = 64
MAX_YAML_ALIASES = 1000
MAX_YAML_NODES = 100_000  # nodes of the document with every alias expanded
_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


def read_yaml_text(path: str | os.PathLike, error: type[Exception], what: str) -> str:
    """The text of a YAML config file, or ``error`` naming the file: missing, too large, UTF-16 or
    UTF-32, binary, or not UTF-8 (with the line of the first bad byte)."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} file not found")
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise error(f"{path}: {size:,} bytes is too large for a {what} file (at most {MAX_YAML_BYTES:,})")
    raw = path.read_bytes()
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            raise error(f"{path}: the file is {enc}; save the {what} as UTF-8 (e.g. `iconv -f {enc} -t UTF-8`)")
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise error(f"{path} line {line}: NUL bytes: this is a binary file or UTF-16 without a byte-order mark, "
                    f"not a YAML {what}; save it as UTF-8 text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise error(f"{path} line {line}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
                    f"save the {what} as UTF-8") from None


def load_yaml(text: str, where: str, error: type[Exception]) -> tuple[Any, yaml.Node | None]:
    """``(data, node)`` of YAML ``text`` within the bounds above, every number finite; any problem
    raises ``error`` naming ``where`` and the line. The one way gristmill parses a config file."""
    def fail(mark, msg: str):
        raise error(f"{where}{f' line {mark.line + 1}' if mark is not None else ''}: {msg}")

    try:
        depth = aliases = 0
        for ev in yaml.parse(text, Loader=yaml.SafeLoader):  # events: no recursion, nothing expanded
            if isinstance(ev, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    fail(ev.start_mark, f"nested more than {MAX_YAML_DEPTH} levels deep; a config is never this deep")
            elif isinstance(ev, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(ev, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_YAML_ALIASES:
                    fail(ev.start_mark, f"more than {MAX_YAML_ALIASES} aliases (*name); write the values out")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        fail(mark, f"not valid YAML: {getattr(e, 'problem', None) or e}")
    if node is None:
        return None, None
    _check_node_graph(node, fail)
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, OverflowError) as e:  # e.g. a timestamp out of range
        fail(getattr(e, "problem_mark", None), f"not valid YAML: {getattr(e, 'problem', None) or e}")
    return data, node


_FLOAT_TAG = "tag:yaml.org,2002:float"


def _check_node_graph(root: yaml.Node, fail) -> None:
    """Refuse a recursive alias, a document that expands past MAX_YAML_NODES, and a non-finite
    number (``.inf``, ``.nan``, ``1e999``: a weight or threshold that is not a number would
    otherwise surface as a confusing error far from the file). Iterative, and each distinct node
    is visited once, so the check itself is linear in the file."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    state: dict[int, int] = {}  # 1: its subtree is being explored, 2: done
    key_of: dict[int, str] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        nid = id(node)
        kids = ([x for kv in node.value for x in kv] if isinstance(node, yaml.MappingNode)
                else list(node.value) if isinstance(node, yaml.SequenceNode) else [])
        if closing:
            size[nid] = 1 + sum(size[id(k)] for k in kids)
            depth[nid] = 1 + max((depth[id(k)] for k in kids), default=0)
            state[nid] = 2
            if depth[nid] > MAX_YAML_DEPTH:  # aliases nested in aliases deepen the expanded document
                fail(node.start_mark, f"aliases nest this more than {MAX_YAML_DEPTH} levels deep; write the values out")
            if size[nid] > MAX_YAML_NODES:
                fail(node.start_mark, f"aliases expand this to more than {MAX_YAML_NODES:,} values (a 'billion laughs' "
                                      "document); write the values out instead of nesting aliases")
            continue
        if state.get(nid) == 2:
            continue
        if state.get(nid) == 1:
            fail(node.start_mark, "recursive alias: an anchor (&name) is used inside its own value")
        state[nid] = 1
        if isinstance(node, yaml.ScalarNode) and node.tag == _FLOAT_TAG:
            v = node.value.replace("_", "").lower()
            try:
                finite = v.lstrip("+-") not in (".inf", ".nan") and (":" in v or math.isfinite(float(v)))
            except ValueError:
                finite = True  # a form PyYAML reads and Python's float() does not; its value is finite
            if not finite:
                key = key_of.get(nid)
                fail(node.start_mark, f"{key + ': ' if key else ''}{node.value} is not a finite number "
                                      "(.inf, .nan and overflowing numbers are not allowed)")
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    key_of.setdefault(id(v), k.value)
        stack.append((node, True))
        stack.extend((k, False) for k in kids)


def read_yaml_mapping(path: str | os.PathLike, error: type[Exception], what: str, shape: str) -> tuple[dict, dict]:
    """``(data, lines)`` of a YAML file that must hold a mapping; every problem raises ``error``
    naming the file (and the line when YAML knows it). ``lines`` maps key paths to line numbers,
    so the caller's validation errors can point at the line. Recipes, mixture files and synth
    configs all read their files through here (lab and self-play configs through
    :func:`read_yaml_text` and :func:`load_yaml`), within the bounds above."""
    path = Path(path)
    data, node = load_yaml(read_yaml_text(path, error, what), str(path), error)
    if not isinstance(data, dict):
        raise error(f"{path}: {shape}")
    return data, (line_index(node) if node is not None else {})
