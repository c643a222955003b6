"""Item 12 of issue 8: `gristmill steps NAME` is a readable page for every registered step."""
import re

import pytest
from typer.testing import CliRunner

from gristmill.cli import app
from gristmill.step import all_steps

STEPS = sorted(n for n, c in all_steps().items() if c.__module__.startswith("gristmill."))


def test_every_parameter_of_every_step_has_a_description():
    missing = [f"{n}.{p}" for n in STEPS for p, f in all_steps()[n].Config.model_fields.items() if not (f.description or "").strip()]
    assert not missing, f"add Field(description=...) to: {missing}"


def words(s: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z_]{2,}", s)


@pytest.mark.parametrize("name", STEPS)
def test_step_page(name):
    cls = all_steps()[name]
    r = CliRunner().invoke(app, ["steps", name])
    assert r.exit_code == 0, r.output
    out = r.output
    assert "PydanticUndefined" not in out and "``" not in out and ":func:" not in out
    flat = " ".join(re.sub(r"[│┃┏┓┗┛┡┩━─└┘┌┐╇╈┳┻┼├┤]", " ", out).split())
    for p, f in cls.Config.model_fields.items():
        assert re.search(rf"(^|\s){re.escape(p)}\s", flat), p
        assert all(w in flat for w in words(f.description)[:4]), (p, f.description)
    doc_words = words(cls.__doc__ or "")
    assert all(w in flat for w in doc_words[-6:]), "the docstring is cut"  # the page ends with the whole docstring
    assert max(len(line) for line in out.splitlines()) > 80 or len(cls.__doc__ or "") < 400  # not squeezed into 80 columns


def test_step_list_and_unknown_name():
    r = CliRunner().invoke(app, ["steps"])
    assert r.exit_code == 0 and "PydanticUndefined" not in r.output and "against = []" in r.output
    r = CliRunner().invoke(app, ["steps", "gopher_qualty"])
    assert r.exit_code == 2 and "did you mean 'gopher_quality'" in r.output


@pytest.mark.parametrize("name,text", [("minhash_dedup", ">= 0.998 and recall"), ("html_extract", ">= 0.90 on every family"),
                                       ("decontaminate", ">= min_matches")])
def test_a_line_starting_with_ge_is_text_not_a_quote(name, text):
    """Issue 20 item 9: a wrapped ``>= 0.90`` at the start of a docstring line rendered as a quote block."""
    r = CliRunner().invoke(app, ["steps", name], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    line = next(l for l in r.output.splitlines() if text in l)
    assert "▌" not in line and "\\>" not in line


def test_markdown_escapes_only_what_reST_never_means():
    from gristmill.report.steps_page import rst_to_markdown

    md = rst_to_markdown("Keep a document when its score is\n>= 0.5 and\n# of words > 3.\n\n>= starts this one\n\n    >>> code stays\n")
    assert md.splitlines()[0] == "Keep a document when its score is >= 0.5 and # of words > 3."
    assert md.splitlines()[2] == "\\>= starts this one" and md.splitlines()[-1] == "    >>> code stays"
