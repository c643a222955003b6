"""Item 13 of issue 8: `gristmill show` says why: the reason, the rule's measured value and threshold,
the kept member of a cluster, and the valid reasons when one is unknown."""
import re

import yaml
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app


def flat(s: str) -> str:
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", s).split())


def test_show_explains_rejections_and_clusters(tmp_path):
    docs = stdlib_docs(80)
    recs = [{"id": f"d{k}", "text": d["text"]} for k, d in enumerate(docs)]
    recs += [{"id": "short1", "text": "Too short to keep, by far."}, {"id": "copy1", "text": docs[3]["text"]}]
    write_jsonl(tmp_path / "a.jsonl", recs)
    rec = tmp_path / "r.yaml"
    rec.write_text(yaml.safe_dump({"input": {"paths": [str(tmp_path / "a.jsonl")], "id_field": "id"},
                                   "steps": [{"gopher_quality": {"min_doc_words": 40, "min_alpha_words_ratio": None}}, {"exact_dedup": {}}],
                                   "output": {"path": str(tmp_path / "out")}}, sort_keys=False))
    run = lambda *a: CliRunner().invoke(app, [str(x) for x in a], terminal_width=200)
    assert run("run", rec, "-w", "1").exit_code == 0
    out = tmp_path / "out"

    r = run("show", out, "--reason", "gopher_quality/too_few_words", "-n", "50")  # --reason alone implies --rejected
    assert r.exit_code == 0, r.output
    text = flat(r.output)
    assert re.search(r"rejected: gopher_quality/too_few_words measured: gopher_word_count=\d,", text)
    assert "thresholds: min_doc_words=40, max_doc_words=100000" in text

    for prefix in ("gopher_quality", "gopher", "gopher_quality/too"):  # a step name, or any prefix of the reason
        r = run("show", out, "--rejected", "--reason", prefix, "-n", "50")
        assert r.exit_code == 0 and "rejected: gopher_quality/too_few_words" in flat(r.output), prefix

    r = run("show", out, "--reason", "gopher_qualty")
    assert r.exit_code == 2
    err = flat(r.output)
    assert "no rejected document has reason 'gopher_qualty' (did you mean 'gopher_quality'?)" in err
    assert "the reasons are: gopher_quality/too_few_words (1), exact_dedup/duplicate (1)" in err

    r = run("show", out, "--cluster", "d3")
    assert r.exit_code == 0, r.output
    panels = flat(r.output).split("d3 kept")
    assert len(panels) == 2 and panels[1].lstrip().startswith("KEPT (the member of this cluster that stays)")
    assert "copy1" in r.output and "rejected: exact_dedup/duplicate measured: exact_dup_cluster=d3" in flat(r.output)
    assert flat(r.output).index("d3 kept") < flat(r.output).index("copy1")


def test_show_makes_terminal_escapes_in_documents_visible(tmp_path):
    """Issue 19: a document's OSC 0 (title), OSC 52 (clipboard), erase, hidden-text and C1 controls
    must reach the terminal as visible text, never as escape sequences."""
    base = stdlib_docs(3)
    evil = ["\x1b]0;pwned title\x07", "\x1b]52;c;ZWNobyBoaQ==\x07", "\x1b[2J\x1b[H", "\x1b[8mhidden\x1b[0m", "\x9b31m", "\u202eevil", "\rover"]
    recs = [{"id": f"d{k}\x1b[2J", "text": e + " " + base[k % 3]["text"], "note": "n\x1b]52;c;eA==\x07"} for k, e in enumerate(evil)]
    write_jsonl(tmp_path / "a.jsonl", recs)
    rec = tmp_path / "r.yaml"
    rec.write_text(yaml.safe_dump({"input": {"paths": [str(tmp_path / "a.jsonl")], "id_field": "id", "fields": ["note"]},
                                   "steps": [{"min_length": {"min_words": 1}}], "output": {"path": str(tmp_path / "out")}}))
    run = lambda *a: CliRunner().invoke(app, [str(x) for x in a], terminal_width=200)
    assert run("run", rec, "-w", "1", "--no-report").exit_code == 0
    r = run("show", tmp_path / "out", "-n", "10", "--chars", "60")
    assert r.exit_code == 0, r.output
    bad = [c for c in r.output if (ord(c) < 32 and c not in "\n") or 0x7f <= ord(c) <= 0x9f or 0x202a <= ord(c) <= 0x202e]
    assert not bad, bad
    for shown in (r"\x1b]0;pwned title\x07", r"\x1b]52;c;ZWNobyBoaQ==\x07", r"\x1b[2J\x1b[H", r"\x1b[8mhidden", r"\x9b31m", r"\u202eevil", r"\x0dover"):
        assert shown in r.output, shown
    assert r"d0\x1b[2J" in r.output and r"note=n\x1b]52;c;eA==\x07" in r.output
