"""Verdicts the solution cannot forge (issue 19 items 2 and 3): tests become data, judged in the parent;
everything read from the child or a model is bounded, and a failure to read it is a verdict."""
from __future__ import annotations

import json
import sys

import pytest
import yaml
from typer.testing import CliRunner

from gristmill.synth.sandbox import _Channel, run_python
from gristmill.synth.verdict import plan_cases, plan_tests

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux-only")

SQ = "def sq(x):\n    return x * x\n"


@pytest.mark.parametrize("tests", [
    "assert sq(3) == 9\n",
    "assert 9 == sq(3)\n",
    "assert abs(sq(1.5) - 2.25) < 1e-9\n",
    "assert round(sq(1.1), 2) == 1.21\n",
    "import math\nassert math.isclose(sq(0.1), 0.01)\n",
    "import pytest\nassert sq(0.1) == pytest.approx(0.01)\n",
    "from pytest import approx\nassert sq(0.1) == approx(0.01)\n",
    "for x, y in [(1, 1), (2, 4), (3, 9)]:\n    assert sq(x) == y\n",
    "for i in range(5):\n    assert sq(i) == i * i\n",
    "r = sq(4)\nassert r == 16\nassert r > 15 and not r < 0\n",
    "def test_a():\n    assert sq(2) == 4\n\ndef test_b():\n    assert sq(-2) in (4, 5)\n",
    "assert isinstance(sq(2), int) and sq(2) == 4\nassert sq(2) is not None\n",
    "import pytest\nwith pytest.raises(TypeError):\n    sq('a')\nassert sq(1) == 1\n",
])
def test_translated_forms_pass_the_right_solution_and_fail_a_wrong_one(tests):
    r = run_python(SQ, tests=tests)
    assert r.status == "passed", (tests, r.detail, r.stderr)
    wrong = run_python("def sq(x):\n    return x * x + (1 if x not in (0, 'a') else 0)\n", tests=tests)
    assert wrong.status == "failed", (tests, wrong.status, wrong.detail)


def test_list_and_set_forms():
    code = "def evens(n):\n    return [x for x in range(n) if x % 2 == 0][::-1]\n"
    for tests in ("assert sorted(evens(6)) == [0, 2, 4]\n", "assert set(evens(6)) == {0, 2, 4}\n",
                  "assert len(evens(6)) == 3 and evens(6)[0] == 4\n"):
        assert run_python(code, tests=tests).status == "passed", tests
    assert run_python("def evens(n):\n    return [0, 2]\n", tests="assert sorted(evens(6)) == [0, 2, 4]\n").status == "failed"


def test_redefining_builtins_changes_nothing():
    """The three forgeries of issue 19 item 3, plus the rest of the parent's functions."""
    for code, tests in [
        ("def sqrt2():\n    return 3.0\nabs = lambda v: 0.0\n", "assert abs(sqrt2() - 1.41421) < 1e-4\n"),
        ("def area(r):\n    return 1.0\nround = lambda *a: 78.54\n", "assert round(area(5), 2) == 78.54\n"),
        ("def sq(x):\n    return 0\nrange = lambda *a: iter(())\n", "for i in range(1, 4):\n    assert sq(i) == i * i\nassert sq(0) == 0\n"),
        ("def f():\n    return [3, 1]\nimport builtins\nbuiltins.sorted = lambda v: [1, 2]\n", "assert sorted(f()) == [1, 2]\n"),
        ("def f():\n    return 1.0\nimport math\nmath.isclose = lambda *a, **k: True\n", "import math\nassert math.isclose(f(), 2.0)\n"),
    ]:
        r = run_python(code, tests=tests)
        assert r.status == "failed", (tests, r.status, r.detail)


@pytest.mark.parametrize("tests, why", [
    ("assert sq(1) == " + "+".join(["1"] * 200_000) + "\n", "longer than"),
    ("assert sq(1) == [" + ", ".join(["1"] * 15_000) + "]\n", "tokens"),
    ("assert sq(1) == " + "-" * 100_000 + "1\n", "unary"),
    ("assert sq(1) == " + "not " * 1000 + "1\n", "unary"),
    ("assert sq(1) == " + "(" * 1000 + "1" + ")" * 1000 + "\n", "nested"),
    ("assert sq(1) == " + "+".join(["1"] * 5000) + "\n", "operators"),
    ("assert sq(1) == " + "+".join(["1"] * 120) + "\n", "nested deeper"),
    ("assert sq(1) == x" + ".y" * 5000 + "\n", "operators"),
    ("assert sq(1) == x" + "[0]" * 5000 + "\n", "operators"),
    ("x" * (300 << 10), "longer than"),
    ("def helper(v):\n    return True\nassert helper(sq(1))\n", "helper function"),
    ("assert sq(1).bit_length() == 1\n", "method call"),
    ("assert sq(sq(2)) == 16\n", "calls the solution"),
    ("while True:\n    assert sq(1) == 1\n", "While"),
    ("try:\n    sq(1)\nexcept Exception:\n    pass\n", "Try"),
    ("assert sq(2 ** 10 ** 9) == 0\n", "too large"),
    ("assert sq(1) == [x for x in range(3)]\n", "ListComp"),
    ("for i in range(10 ** 6):\n    assert sq(i) == i * i\n", "range of"),
    ("for i in range(3000):\n    assert sq(i) == i * i\n", "more than 2000 calls"),
    ("x = 1\n", "no assertion"),
    ("for i in range(100000):\n    for j in range(100000):\n        assert i == j\n", "statements once the loops"),
    ("assert 1 == 1\nassert True\n", "no assertion"),
])
def test_hostile_or_untranslatable_test_text_is_refused(tests, why):
    plan = plan_tests(tests, SQ)
    assert plan.error and why in plan.error, (why, plan.error)
    r = run_python(SQ, tests=tests)
    assert r.status == "rejected" and why in r.detail


def test_a_solution_def_named_like_a_builtin_is_the_solution():
    """``def sorted`` is tested as the solution's function; ``def abs`` cannot vouch for another call."""
    code = "def sorted(xs):\n    return list(reversed(xs))\n"
    assert run_python(code, tests="assert sorted([1, 2]) == [2, 1]\n").status == "passed"
    assert run_python(code, tests="assert sorted([1, 2]) == [1, 2]\n").status == "failed"
    r = run_python("def f():\n    return 3.0\ndef abs(v):\n    return 0.0\n", tests="assert abs(f() - 1.4) < 1e-4\n")
    assert r.status == "rejected" and "calls the solution" in r.detail


def test_generators_and_views_are_read_in_the_sandbox():
    code = "def evens(n):\n    for i in range(0, n, 2):\n        yield i\ndef keys():\n    return {'b': 1, 'a': 2}.keys()\n"
    for tests in ("assert list(evens(5)) == [0, 2, 4]\n", "assert sorted(keys()) == ['a', 'b']\n", "assert len(list(evens(100))) == 50\n"):
        assert run_python(code, tests=tests).status == "passed", tests
    # as in Python, a generator is not equal to a list
    assert run_python(code, tests="assert evens(5) == [0, 2, 4]\n").status == "failed"


def test_raises_needs_the_real_builtin_exception():
    tests = "import pytest\nwith pytest.raises(ValueError):\n    f(0)\n"
    assert run_python("def f(x):\n    raise ValueError('no')\n", tests=tests).status == "passed"
    r = run_python("class ValueError(Exception):\n    pass\ndef f(x):\n    raise ValueError()\n", tests=tests)
    assert r.status == "failed" and "not the builtin ValueError" in r.detail, r.detail
    r = run_python("def f(x):\n    return 1\n", tests=tests)
    assert r.status == "failed" and "instead of raising ValueError" in r.detail, r.detail


def test_arguments_are_bounded_in_total():
    tests = "for i in range(200):\n    assert sq(['x' * 1000000, i]) == 0\n"
    r = run_python(SQ, tests=tests)
    assert r.status == "rejected" and "arguments pass" in r.detail, r.detail


def test_structured_cases_and_comparisons():
    code = "def f(x):\n    return [x, x + 1]\ndef g(x):\n    return x / 3\n"
    cases = [{"call": "f", "args": [1], "expected": [1, 2], "compare": "exact"},
             {"call": "f", "args": [1], "expected": [2, 1], "compare": "sorted"},
             {"call": "f", "args": [1], "expected": [2, 1], "compare": "set"},
             {"call": "g", "args": [1], "expected": 0.3333, "compare": "tolerance", "tol": 1e-3}]
    r = run_python(code, cases=cases)
    assert r.status == "passed", r.detail
    bad = [dict(cases[0], expected=[1, 3])]
    r = run_python(code, cases=bad)
    assert r.status == "failed" and "got [1, 2]" in r.detail
    assert run_python(code, cases=[dict(cases[3], tol=1e-6)]).status == "failed"
    for broken, why in [([{"call": "f", "args": [1]}], "expected"), ([{"call": "f", "args": [object()], "expected": 1}], "plain"),
                        ([{"call": "f", "args": [1], "expected": 1, "compare": "fuzzy"}], "compare"), ([], "non-empty")]:
        assert why in plan_cases(broken).error
        assert run_python(code, cases=broken).status == "rejected"


def test_integers_past_4300_digits_are_results():
    code = "def big(n):\n    return 7 ** n\n"
    r = run_python(code, cases=[{"call": "big", "args": [20000], "expected": 7 ** 20000}])
    assert r.status == "passed", r.detail
    r = run_python(code, tests="assert big(20000) == 7 ** 20000\nassert big(20000) % 10 == 1\n")
    assert r.status == "passed", r.detail
    r = run_python(code, cases=[{"call": "big", "args": [20000], "expected": 7 ** 20000 + 1}])
    assert r.status == "failed" and "unencodable" not in r.detail


def test_whole_programs_by_stdin_and_stdout():
    prog = "import sys\nnums = [int(x) for x in sys.stdin.read().split()]\nprint(sum(nums))\nprint('bye')\n"
    cases = [{"stdin": "1 2 3\n", "stdout": "6\nbye\n"}, {"stdin": "10\n20\n", "stdout": "30   bye", "compare": "whitespace"}]
    r = run_python(prog, cases=cases)
    assert r.status == "passed" and "2 program case(s)" in r.detail, r.detail
    r = run_python(prog, cases=[{"stdin": "1 2\n", "stdout": "4\nbye\n"}])
    assert r.status == "failed" and "case 0" in r.detail and "'3\\nbye\\n'" in r.detail
    assert run_python(prog, cases=[{"stdin": "1", "stdout": "1 bye"}]).status == "failed"  # exact by default
    assert plan_cases([{"stdin": "1", "stdout": "1", "compare": "regex"}]).error


def test_channel_parser_is_bounded():
    ch = _Channel()
    ch.feed(b"%08x" % 200001 + b"[" * 200000 + b"\n")
    assert ch.error and "not JSON" in ch.error and "RecursionError" in ch.error
    ch = _Channel()
    ch.feed(b"[" * 200000)
    assert ch.error and "header" in ch.error
    ch = _Channel()
    ch.feed(b"%08x" % (64 << 20))
    assert ch.error and "cap" in ch.error
    ch = _Channel()  # a record split across reads is reassembled; an unfinished one at the end is an error
    rec = json.dumps({"ev": "ready"}).encode()
    data = b"%08x" % len(rec) + rec
    for i in range(len(data)):
        ch.feed(data[i:i + 1])
    assert ch.events == [{"ev": "ready"}] and not ch.error
    ch.feed(b"0000")
    ch.close(killed=False)
    assert ch.error and "unfinished" in ch.error


def test_no_exception_escapes_run_python_on_a_hostile_channel():
    for payload in ("b'[' * 200000", "b'%08x' % 200001 + b'[' * 200000", "b'%08x' % 12 + b'{\"ev\": \"res'",
                    "b'%08x' % 40 + b'{\"ev\": \"result\", \"i\": 0, \"v\": {\"i\": \"x\"}}    '"):
        code = f"import os\ndef sq(x):\n    for fd in range(3, 64):\n        try:\n            os.write(fd, {payload})\n        except OSError:\n            pass\n    return x * x\n"
        r = run_python(code, tests="assert sq(3) == 9\n")
        assert r.status == "crashed" and "channel" in r.detail, (payload, r.status, r.detail)


def test_synth_run_with_hostile_replies_writes_its_failures_and_exits_0(tmp_path):
    """End to end: a fake OpenAI-compatible server answers topic tasks with a 200k-term test, 100k minus
    signs, a channel flood and a forged abs; `gristmill synth run` records each as a failure, exit 0."""
    from synth_fake_llm import FakeModel

    from gristmill.cli import app

    fn = "def double(x):\n    return 2 * x + 1\n"
    hostile = {
        "summing": (fn, "assert double(1) == 3\nassert double(2) == 5\nassert double(0) == " + "+".join(["0"] * 200_000) + "\n"),
        "negating": (fn, "assert double(1) == 3\nassert double(2) == 5\nassert double(0) == " + "-" * 100_000 + "1\n"),
        "flooding": ("import os\ndef double(x):\n    for fd in range(3, 64):\n        try:\n            os.write(fd, b'[' * 200000 + b'\\n')\n"
                     "        except OSError:\n            pass\n    return 2 * x\n",
                     "assert double(1) == 2\nassert double(2) == 4\nassert double(0) == 0\n"),
        "forging": ("def double(x):\n    return 0\nabs = lambda v: 0\n",
                    "assert abs(double(1) - 2) < 1e-9\nassert abs(double(2) - 4) < 1e-9\nassert abs(double(3) - 6) < 1e-9\n"),
        "honest": ("def double(x):\n    return 2 * x\n", "assert double(1) == 2\nassert double(2) == 4\nassert abs(double(3) - 6) < 1e-9\n"),
    }

    class Hostile(FakeModel):  # answers each topic with the reply named after it
        reply = staticmethod(lambda info, how: "```python\n{}```\nTests:\n```python\n{}```\n".format(*hostile[how]))

    topics = list(hostile)
    with Hostile({t: {"kind": "topic"} for t in topics}, lambda prompt: prompt) as fm:
        cfg = {"endpoint": {"base_url": fm.base_url, "model": "fake", "timeout_s": 30, "max_retries": 0, "concurrency": 2},
               "tasks": {"source": "topics", "topics": topics, "n": 1}, "sandbox": {"timeout_s": 5}}
        p = tmp_path / "loop.yaml"
        p.write_text(yaml.safe_dump(cfg))
        for attempt in range(2):  # the rerun replays the cached replies and must not crash either
            r = CliRunner().invoke(app, ["synth", "run", str(p), "-o", str(tmp_path / "o")])
            assert r.exit_code == 0, (r.output, r.exception)
            fails = {f["prompt"]: f for f in map(json.loads, (tmp_path / "o" / "failures.jsonl").read_text().splitlines())}
            kept = [json.loads(x) for x in (tmp_path / "o" / "train.jsonl").read_text().splitlines()]
            assert len(kept) == 1 and "double(x):\n    return 2 * x" in kept[0]["answer"]
            assert fails["summing"]["reason"] == "rejected_tests" and "longer than" in fails["summing"]["detail"]
            assert fails["negating"]["reason"] == "rejected_tests" and "unary" in fails["negating"]["detail"]
            assert fails["flooding"]["reason"] == "failing_tests" and fails["flooding"]["detail"].startswith("crashed")
            assert fails["forging"]["reason"] == "failing_tests" and fails["forging"]["detail"].startswith("failed")
            s = json.loads((tmp_path / "o" / "summary.json").read_text())
            assert s["sandbox_mode"] in ("namespaces", "userns") and s["sandbox_mode"] in r.output


def test_task_file_with_structured_cases(tmp_path):
    """A task file's code tasks may carry structured cases; malformed cases and a line nested past
    json's limit are bad tasks with a reason, and the run still writes everything and exits 0."""
    from synth_fake_llm import FakeModel

    from gristmill.cli import app

    ok_prompt, wrong_prompt = "Write add(a, b) returning the sum.", "Write mul(a, b) returning the product."
    lines = [json.dumps({"id": "add", "prompt": ok_prompt, "entry_point": "add",
                         "cases": [{"call": "add", "args": [2, 3], "expected": 5},
                                   {"call": "add", "args": [0.1, 0.2], "expected": 0.3, "compare": "tolerance", "tol": 1e-9}]}),
             json.dumps({"id": "mul", "prompt": wrong_prompt, "entry_point": "mul",
                         "cases": [{"call": "mul", "args": [2, 3], "expected": 6}]}),
             json.dumps({"id": "bad", "prompt": "x", "cases": [{"call": "f", "args": 3, "expected": 1}]}),
             '{"id": "deep", "prompt": "y", "tests": ' + "[" * 100_000 + "]" * 100_000 + "}"]
    (tmp_path / "tasks.jsonl").write_text("\n".join(lines) + "\n")
    table = {ok_prompt: {"kind": "code", "reference": "def add(a, b):\n    return a + b\n"},
             wrong_prompt: {"kind": "code", "reference": "def mul(a, b):\n    return a + b\n"}}
    with FakeModel(table, lambda p: "correct") as fm:
        cfg = {"endpoint": {"base_url": fm.base_url, "model": "fake", "timeout_s": 30, "max_retries": 0},
               "tasks": {"source": "file", "path": str(tmp_path / "tasks.jsonl")}}
        (tmp_path / "loop.yaml").write_text(yaml.safe_dump(cfg))
        r = CliRunner().invoke(app, ["synth", "run", str(tmp_path / "loop.yaml"), "-o", str(tmp_path / "o")])
        assert r.exit_code == 0, (r.output, r.exception)
    fails = {f["task_id"]: f for f in map(json.loads, (tmp_path / "o" / "failures.jsonl").read_text().splitlines())}
    kept = [json.loads(x) for x in (tmp_path / "o" / "train.jsonl").read_text().splitlines()]
    assert [k["metadata"]["task_id"] for k in kept] == ["add"]
    assert "2 call(s), 2 check(s)" in kept[0]["metadata"]["verifier"]
    assert fails["mul"]["reason"] == "failing_tests" and "got 5" in fails["mul"]["detail"]
    assert fails["tasks.jsonl:3"]["reason"] == "bad_task" and "args must be a list" in fails["tasks.jsonl:3"]["detail"]
    assert fails["tasks.jsonl:4"]["reason"] == "bad_task" and "RecursionError" not in r.output
