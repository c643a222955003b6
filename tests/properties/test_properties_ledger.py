"""Property-based (Hypothesis) tests of the ledger and of re-selection, through the real CLI
(`gristmill run` and `gristmill select` via typer's CliRunner, in process) on generated JSONL inputs.

(a) Nothing is lost: for any mix of good, short, duplicate, malformed, oversize, non-string-text and
    invalid-UTF-8 lines, ``input = kept + rejected + quarantined`` and every input line appears
    exactly once across data/, rejected/ and quarantine/, in the place its kind sends it; and a run
    killed (SIGKILL, in a forked copy of the test process) at a generated rename resumes to exactly
    the uninterrupted output.
(b) Re-selection means what it says: `gristmill select` with generated thresholds equals a fresh
    `gristmill run` of the changed recipe whenever select accepts the change, and a change after the
    global step is always accepted.
"""
import gzip
import json
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import stdlib_docs
from gristmill.cli import app

KINDS = ("good", "short", "dup", "malformed", "oversize", "notext", "badutf8")
QUARANTINE = {"malformed": "malformed_json", "oversize": "too_large", "notext": "bad_text_field", "badutf8": "invalid_utf8"}
MAX_DOC_BYTES = 4000
PROPS = settings(max_examples=20, deadline=None, database=None, phases=[Phase.explicit, Phase.generate, Phase.shrink], suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args], terminal_width=400)


def write_inputs(d: Path, files: list[tuple[list[str], bool]]) -> tuple[list[Path], dict]:
    """One JSONL file per entry (gzip when asked); returns the paths and {(path, line): (kind, id)}."""
    pool = [x["text"] for x in stdlib_docs(400, 20)]
    made, expect, paths, uid = [], {}, [], 0
    for fi, (kinds, gz) in enumerate(files):
        p = d / (f"in{fi}.jsonl.gz" if gz else f"in{fi}.jsonl")
        lines = []
        for kind in kinds:
            uid += 1
            rid = f"r{uid}"
            if kind == "dup" and not made:
                kind = "good"
            if kind == "good":
                text = f"{pool[uid % len(pool)][:1500]} ({rid})"  # unique: the id is part of the text
                made.append(text)
                line = json.dumps({"id": rid, "text": text}).encode()
            elif kind == "dup":
                line = json.dumps({"id": rid, "text": made[uid % len(made)]}).encode()
            elif kind == "short":
                line = json.dumps({"id": rid, "text": f"too short {rid}"}).encode()
            elif kind == "malformed":
                line = json.dumps({"id": rid, "text": "cut here"}).encode()[:-7]
            elif kind == "oversize":
                line = json.dumps({"id": rid, "text": ("word " * MAX_DOC_BYTES)}).encode()
            elif kind == "notext":
                line = json.dumps({"id": rid, "text": uid}).encode()
            else:
                line = b'{"id": "' + rid.encode() + b'", "text": "caf\xe9 \xff"}'
            lines.append(line)
            expect[(str(p), len(lines))] = (kind, rid)
        body = b"\n".join(lines) + b"\n"
        p.write_bytes(gzip.compress(body) if gz else body)
        paths.append(p)
    return paths, expect


def run(d: Path, paths: list[Path], steps: list, name: str = "out"):
    recipe = d / f"{name}.yaml"
    recipe.write_text(yaml.safe_dump({
        "input": {"paths": [str(p) for p in paths], "id_field": "id", "max_doc_bytes": MAX_DOC_BYTES},
        "steps": steps, "output": {"path": str(d / name)},
        "errors": {"max_quarantine_fraction": 1.0}}, sort_keys=False))
    r = cli("run", recipe, "-w", "1", "--no-progress", "--no-report")
    assert r.exit_code == 0, r.output
    return json.loads((d / name / "summary.json").read_text())


def rows(out: Path, sub: str, cols: list[str]) -> list[tuple]:
    files = sorted((out / sub).glob("*.parquet"))
    got = []
    for f in files:
        t = pq.read_table(f, columns=cols)
        got += list(zip(*(t.column(c).to_pylist() for c in cols)))
    return got


def quarantined(out: Path) -> list[tuple]:
    got = []
    for f in sorted((out / "quarantine").glob("*.jsonl")):
        got += [(r["path"], r["line"], r["kind"]) for r in map(json.loads, f.read_text().splitlines())]
    return got


files_st = st.lists(st.tuples(st.lists(st.sampled_from(KINDS), min_size=1, max_size=30), st.booleans()),
                    min_size=1, max_size=3)


@PROPS
@given(files=files_st)
def test_every_input_line_ends_in_exactly_one_place(files):
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        paths, expect = write_inputs(d, files)
        s = run(d, paths, [{"min_length": {"min_words": 10}}, {"exact_dedup": {}}])
        out = d / "out"
        kept = [r[0] for r in rows(out, "data", ["id"])]
        rejected = rows(out, "rejected", ["id", "reject_step", "reject_reason"])
        quar = quarantined(out)
        assert s["input"] == len(expect)
        assert s["input"] == s["kept"] + sum(s["rejected"].values()) + s["quarantined"]
        assert s["kept"] == len(kept) and sum(s["rejected"].values()) == len(rejected) and s["quarantined"] == len(quar)

        by_id = {rid: (key, kind) for key, (kind, rid) in expect.items()}
        placed = Counter()
        for rid in kept:
            placed[by_id[rid][0]] += 1
            assert by_id[rid][1] in ("good", "dup"), rid
        for rid, step, reason in rejected:
            placed[by_id[rid][0]] += 1
            kind = by_id[rid][1]
            assert (kind, step) in {("short", "min_length"), ("good", "exact_dedup"), ("dup", "exact_dedup")}, (rid, kind, reason)
        for path, line, qkind in quar:
            placed[(path, line)] += 1
            assert QUARANTINE[expect[(path, line)][0]] == qkind, (path, line, qkind)
        assert placed == Counter(expect.keys())  # every line exactly once
        kinds = Counter(kind for kind, _ in expect.values())
        assert s["rejected"].get("exact_dedup/duplicate", 0) == kinds["dup"]  # one of each identical pair goes


@PROPS
@given(files=st.lists(st.sampled_from(("good", "good", "dup", "short", "malformed")), min_size=5, max_size=60),
       words=st.lists(st.integers(5, 400), min_size=60, max_size=60),
       before=st.integers(1, 60), after=st.integers(1, 200), new_before=st.integers(1, 60), new_after=st.integers(1, 200))
def test_select_after_dedup_equals_a_fresh_run(files, words, before, after, new_before, new_after):
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        paths, _ = write_inputs(d, [(files, False)])
        # documents of generated lengths, so the thresholds cut through them
        lines = paths[0].read_bytes().splitlines()
        cut = []
        for k, line in enumerate(lines):
            try:
                rec = json.loads(line)
            except ValueError:
                cut.append(line)
                continue
            rec["text"] = " ".join(rec["text"].split()[:words[k % len(words)]] + [rec["id"]])
            cut.append(json.dumps(rec).encode())
        paths[0].write_bytes(b"\n".join(cut) + b"\n")

        def steps(b, a):
            return [{"min_length": {"min_words": b}}, {"exact_dedup": {}}, {"gopher_quality": {"min_doc_words": a}}]

        run(d, paths, steps(before, after), "out")
        for sets, name in ([[f"gopher_quality.min_doc_words={new_after}"], "re_after"],
                           [[f"min_length.min_words={new_before}", f"gopher_quality.min_doc_words={new_after}"], "re_both"]):
            args = ["select", d / "out", "-o", d / name, "--no-report"]
            for s in sets:
                args += ["--set", s]
            r = cli(*args)
            if r.exit_code != 0:
                assert name == "re_both" and r.exit_code == 2 and "nothing was written" in " ".join(r.output.split()), r.output
                assert not (d / name).exists()
                continue
            fresh = run(d, paths, steps(new_before if name == "re_both" else before, new_after), f"fresh_{name}")
            re_s = json.loads((d / name / "summary.json").read_text())
            for k in ("input", "kept", "rejected", "quarantined"):
                assert re_s[k] == fresh[k], (name, k, re_s[k], fresh[k])
            assert sorted(rows(d / name, "data", ["id"])) == sorted(rows(d / f"fresh_{name}", "data", ["id"]))
            cols = ["id", "reject_step", "reject_reason"]
            assert sorted(rows(d / name, "rejected", cols)) == sorted(rows(d / f"fresh_{name}", "rejected", cols))


def _outputs(out: Path) -> tuple:
    return (sorted(rows(out, "data", ["id"])), sorted(rows(out, "rejected", ["id", "reject_step", "reject_reason"])),
            sorted(quarantined(out)))


def killed_then_resumed(d: Path, paths: list[Path], steps: list, expect: dict, at, after: bool) -> None:
    """Run into ``ref`` uninterrupted (counting its renames), then in a forked copy of this process
    into ``out``, SIGKILLed right before or after the rename ``at(renames)`` picks (by position);
    then the same command again, which must resume to ``ref``'s exact output and ledger."""
    import os
    import signal

    renames = []
    real = os.replace

    def counting(a, b, *args, **kw):
        renames.append(str(b).replace(str(d / "ref"), ""))
        return real(a, b, *args, **kw)

    os.replace = counting
    try:
        ref = run(d, paths, steps, "ref")
    finally:
        os.replace = real
    nth = at(renames)
    pid = os.fork()
    if pid == 0:  # the child never returns to pytest
        try:
            seen = [0]

            def dying(a, b, *args, **kw):
                seen[0] += 1
                if seen[0] == nth and not after:
                    os.kill(os.getpid(), signal.SIGKILL)
                r = real(a, b, *args, **kw)
                if seen[0] == nth:
                    os.kill(os.getpid(), signal.SIGKILL)
                return r

            os.replace = dying
            run(d, paths, steps, "out")
            os._exit(0)
        except BaseException:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    s = run(d, paths, steps, "out")  # the same command again: resumes
    for k in ("input", "kept", "rejected", "quarantined"):
        assert s[k] == ref[k], (k, s[k], ref[k], renames[nth - 1], after)
    assert s["input"] == len(expect) == s["kept"] + sum(s["rejected"].values()) + s["quarantined"]
    assert _outputs(d / "out") == _outputs(d / "ref")


@settings(PROPS, max_examples=10)
@given(files=files_st, pick=st.integers(0, 10**6), after=st.booleans())
def test_a_run_killed_at_any_write_resumes_to_the_same_ledger(files, pick, after):
    """(a) with kill points: a forked copy of this process runs `gristmill run` (one worker: in
    process) and SIGKILLs itself right before or after its n-th rename of a finished file (every unit
    of work a run records ends in one); the same command run again ends with exactly the output of an
    uninterrupted run, and the ledger holds."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        paths, expect = write_inputs(d, files)
        steps = [{"min_length": {"min_words": 10}}, {"exact_dedup": {}}, {"minhash_dedup": {}}]
        killed_then_resumed(d, paths, steps, expect, lambda renames: 1 + pick % len(renames), after)


@pytest.mark.parametrize("after", [False, True])
@pytest.mark.parametrize("step", ["exact_dedup", "minhash_dedup"])
def test_killed_between_a_dedup_result_and_its_report(tmp_path, step, after):
    """Found by the property above: exact_dedup wrote result.parquet before report.json, and a run
    killed between the two resumed into FileNotFoundError (the result marks the fit done). Now the
    result is written last, as minhash_dedup does; killed right before or after the report, both resume."""
    paths, expect = write_inputs(tmp_path, [(["good", "dup", "good", "dup", "malformed"], False)])

    def before_report(renames):
        return next(k + 1 for k, r in enumerate(renames) if step in r and r.endswith("/report.json"))

    killed_then_resumed(tmp_path, paths, [{"exact_dedup": {}}] if step == "exact_dedup" else [{step: {}}], expect,
                        before_report, after=after)
