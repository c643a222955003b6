"""`gristmill steps [NAME]`: the steps, and one step as a readable page (parameters, then its docs)."""
from __future__ import annotations

import re
import typing

import yaml
from pydantic.fields import FieldInfo
from rich.console import Console, Group
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from gristmill.step import GlobalStep, Step


def kind(cls: type[Step]) -> str:
    return "global" if issubclass(cls, GlobalStep) else "batch"


def type_name(ann) -> str:
    """``int | None``, ``list[str]``, ``one of: a, b`` for a Literal: what a recipe author writes."""
    if typing.get_origin(ann) is typing.Literal:
        return "one of: " + ", ".join(str(a) for a in typing.get_args(ann))
    if isinstance(ann, type) and not typing.get_args(ann):
        return ann.__name__
    s = str(ann).replace("typing.", "").replace("pathlib.", "")
    return re.sub(r"Literal\[([^\]]*)\]", lambda m: "{" + m.group(1).replace("'", "") + "}", s)


def default_value(f: FieldInfo, limit: int = 80) -> str:
    """The default as YAML (what goes in a recipe); ``required`` when there is none."""
    if f.is_required():
        return "required"
    v = f.default_factory() if f.default_factory is not None else f.default
    if isinstance(v, (list, tuple)) and len(v) > 6:
        shown = yaml.safe_dump(list(v[:5]), default_flow_style=True, width=10_000).strip()[:-1]
        return f"{shown}, … ({len(v)} items)]"
    s = yaml.safe_dump(v, default_flow_style=True, width=10_000).strip()
    s = s.removesuffix("\n...").removesuffix("...").strip()
    return s if len(s) <= limit else s[: limit - 1] + "…"


def rst_to_markdown(doc: str) -> str:
    """Docstrings are reST: turn its inline markup into Markdown, keep paragraphs and lists."""
    import inspect

    doc = inspect.cleandoc(doc)
    doc = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", doc)  # :func:`x`, :class:`~a.B`
    doc = doc.replace("``", "`")
    # A wrapped sentence can put ">= 0.90" or "# of ..." at the start of a line: Markdown would make it
    # a quote block or a heading, which reST never means there. Inside a paragraph the line is joined
    # to the one before (Markdown reflows paragraphs anyway, and a backslash would show inside a code
    # span that crosses the line); a paragraph that starts with one gets the character escaped.
    doc = re.sub(r"(?<=\S)\n {0,3}(?=[>#])", " ", doc)
    return re.sub(r"^( {0,3})([>#])", r"\1\\\2", doc, flags=re.M)


def params_table(cls: type[Step]) -> Table:
    t = Table(show_lines=False, expand=False, header_style="bold")
    t.add_column("parameter", style="bold", no_wrap=True)
    t.add_column("type", overflow="fold")
    t.add_column("default", overflow="fold")
    t.add_column("description", overflow="fold")
    for name, f in cls.Config.model_fields.items():
        t.add_row(name, escape(type_name(f.annotation)), escape(default_value(f)), escape(f.description or ""))
    return t


def print_step(cls: type[Step], console: Console) -> None:
    doc = rst_to_markdown(cls.__doc__ or "")
    title = Text.assemble((cls.name, "bold"), f"  ({kind(cls)} step)")
    parts = [title, Text("")]
    if cls.Config.model_fields:
        parts += [Text("Parameters", style="bold underline"), params_table(cls), Text("")]
    else:
        parts += [Text("No parameters.", style="italic"), Text("")]
    speed = speed_line(cls.name)
    if speed:
        parts += [Text("Measured speed", style="bold underline"), Text(speed), Text("")]
    parts.append(Markdown(doc or "(no description)"))
    console.print(Group(*parts))


def step_speeds() -> dict:
    """The per-step table ``benchmarks/bench_steps.py --write-json`` ships in the package
    (``gristmill/data/step_speed.json``); empty when it is missing or unreadable."""
    import json
    from importlib import resources

    try:
        return json.loads(resources.files("gristmill").joinpath("data/step_speed.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def speed_line(name: str) -> str:
    """One step's measured speed, per core, with the conditions it was measured in."""
    data = step_speeds()
    row = data.get("steps", {}).get(name)
    if row is None:
        why = data.get("not_measured", {}).get(name)
        return f"not measured ({why})" if why else ""
    def num(x: float) -> str:
        return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"
    s = f"{num(row['docs_per_s'])} docs/s and {num(row['mb_per_s'])} MB/s per core, peak RSS {row['peak_rss_mib']} MiB"
    if "peer_docs_per_s" in row:
        s += f"; {row['peer']}: {num(row['peer_docs_per_s'])} docs/s ({row['docs_per_s'] / row['peer_docs_per_s']:.1f}x)"
    return (s + f". Measured {data.get('measured', '?')} on {data.get('corpus', '?')}, one worker, load average "
            f"{data.get('load', '?')} (`{data.get('command', 'benchmarks/bench_steps.py')}`).")


def print_list(steps: dict[str, type[Step]], console: Console) -> None:
    t = Table(show_lines=True)
    t.add_column("step", style="bold", no_wrap=True)
    t.add_column("kind")
    t.add_column("parameters (default)", overflow="fold")
    t.add_column("what it does", overflow="fold")
    for n, cls in steps.items():
        params = "\n".join(f"{k} = {default_value(f, 40)}" for k, f in cls.Config.model_fields.items())
        first = " ".join(rst_to_markdown(cls.__doc__ or "").split("\n\n")[0].split())
        t.add_row(n, kind(cls), escape(params or "-"), escape(first))
    console.print(t)
    console.print("`gristmill steps NAME` prints one step in full: every parameter, its type and what it does.")
