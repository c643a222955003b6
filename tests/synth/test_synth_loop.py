"""The generate-verify-keep loop against a real HTTP server that answers like a model and fails on
demand (timeouts, 500s, garbage, dropped connections): every row accounted for, with its reason."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml
from typer.testing import CliRunner

from synth_fake_llm import FakeModel  # noqa: E402

from gristmill.cli import app  # noqa: E402
from gristmill.synth.loop import LoopConfig, build_tasks  # noqa: E402

BEHAVIOURS = ["correct", "correct", "wrong", "no_answer", "garbage", "flaky500", "always500", "slow", "drop"]
EXPECTED = {"correct": None, "flaky500": None, "wrong": "wrong_answer", "no_answer": "malformed", "garbage": "malformed",
            "always500": "http_error", "slow": "timeout", "drop": "unreachable"}


def read(p: Path):
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()] if p.exists() else []


def write_cfg(tmp_path, base_url, tasks, **endpoint):
    cfg = {"endpoint": {"base_url": base_url, "model": "fake", "timeout_s": 0.6, "max_retries": 1, "backoff_s": 0.01,
                        "concurrency": 4, **endpoint}, "tasks": tasks}
    p = tmp_path / "loop.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p, LoopConfig(**cfg)


def table_for(cfg):
    tasks, _ = build_tasks(cfg)
    return tasks, {t.prompt: {"kind": "math" if t.kind == "math" else "code", "answer": t.answer, "reference": t.reference}
                   for t in tasks}


def invoke(*args):
    r = CliRunner().invoke(app, list(args))
    return r


def test_math_loop_every_failure_is_a_row(tmp_path):
    p, cfg = write_cfg(tmp_path, "http://127.0.0.1:1/v1", {"source": "generator", "kind": "math", "n": 27, "seed": 4})
    tasks, table = table_for(cfg)
    plan = {t.prompt: BEHAVIOURS[i % len(BEHAVIOURS)] for i, t in enumerate(tasks)}
    with FakeModel(table, plan.get, slow_s=1.5) as fm:
        p, cfg = write_cfg(tmp_path, fm.base_url, {"source": "generator", "kind": "math", "n": 27, "seed": 4})
        out = tmp_path / "out"
        r = invoke("synth", "run", str(p), "-o", str(out))
        assert r.exit_code == 0, r.output
        s = json.loads((out / "summary.json").read_text())
        kept, fails = read(out / "train.jsonl"), read(out / "failures.jsonl")
        # nothing lost: every task is exactly one row
        assert s["rows"] == 27 == len(kept) + len(fails) + s["duplicates"]
        by_task = {r["metadata"]["task_id"]: None for r in kept} | {f["task_id"]: f["reason"] for f in fails}
        assert len(by_task) == 27
        for t in tasks:
            assert by_task[t.id] == EXPECTED[plan[t.prompt]], (plan[t.prompt], t.prompt)
        assert s["kept"] == sum(1 for t in tasks if EXPECTED[plan[t.prompt]] is None) == 9
        assert s["by_reason"]["timeout"]["count"] == 3 and s["by_reason"]["http_error"]["count"] == 3
        assert abs(sum(v["rate"] for v in s["by_reason"].values()) - 1) < 1e-3
        # the retries happened: flaky problems were asked twice, always-500 ones 1 + max_retries times
        for t in tasks:
            if plan[t.prompt] in ("flaky500", "always500"):
                assert fm.requests[t.prompt] == 2
        for row in kept:
            assert row["metadata"]["verifier"] == "sympy: equivalent" and row["solution"].endswith(row["answer"])
        assert all(f["detail"] for f in fails)
        assert "acceptance" in r.output and "wrong_answer" in r.output

        # a re-run pays nothing twice: verified and wrong replies come from the cache
        before = sum(fm.requests.values())
        r = invoke("synth", "run", str(p), "-o", str(out))
        s2 = json.loads((out / "summary.json").read_text())
        answered = [t for t in tasks if plan[t.prompt] in ("correct", "flaky500", "wrong", "no_answer")]
        assert s2["kept"] == s["kept"] and s2["cache_hits"] == len(answered) == 15
        # only the requests that never got an answer are sent again (1 + max_retries each)
        assert sum(fm.requests.values()) - before == s2["requests_sent"] == 2 * (27 - len(answered))


def test_unreachable_endpoint_loses_nothing(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    p, _ = write_cfg(tmp_path, f"http://127.0.0.1:{port}/v1", {"source": "generator", "kind": "math.arithmetic", "n": 5})
    r = invoke("synth", "run", str(p), "-o", str(tmp_path / "o"))
    assert r.exit_code == 3 and "never reached" in r.output, r.output  # loud, but every row is still written
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["kept"] == 0 and s["by_reason"]["unreachable"]["count"] == 5 == s["rows"]
    assert len(read(tmp_path / "o" / "failures.jsonl")) == 5


def test_code_loop_runs_replies_in_the_sandbox(tmp_path):
    p, cfg = write_cfg(tmp_path, "http://x/v1", {"source": "generator", "kind": "code", "n": 8, "seed": 2, "difficulty": 3},
                       timeout_s=5)
    tasks, table = table_for(cfg)
    code_plan = ["correct", "wrong", "no_answer", "bomb"]
    plan = {t.prompt: code_plan[i % 4] for i, t in enumerate(tasks)}
    with FakeModel(table, plan.get) as fm:
        p, cfg = write_cfg(tmp_path, fm.base_url, {"source": "generator", "kind": "code", "n": 8, "seed": 2, "difficulty": 3},
                           timeout_s=5)
        cfg_d = yaml.safe_load(p.read_text())
        cfg_d["sandbox"] = {"timeout_s": 4}  # the bombs run to it; a correct reply must not meet it on a loaded machine
        p.write_text(yaml.safe_dump(cfg_d))
        r = invoke("synth", "run", str(p), "-o", str(tmp_path / "o"))
        assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    fails = {f["task_id"]: f for f in read(tmp_path / "o" / "failures.jsonl")}
    kept = read(tmp_path / "o" / "train.jsonl")
    assert s["kept"] == len(kept) == 2
    for t in tasks:
        how = plan[t.prompt]
        if how == "correct":
            assert t.id not in fails
        elif how == "no_answer":
            assert fails[t.id]["reason"] == "malformed"
        else:
            assert fails[t.id]["reason"] == "failing_tests", fails[t.id]
            if how == "bomb":  # namespaces: it runs until the timeout; fallback: fork is refused
                assert fails[t.id]["detail"].startswith(("timeout", "blocked")), fails[t.id]["detail"]
    assert all("sandbox (" in k["metadata"]["verifier"] for k in kept)


def test_topics_the_model_writes_function_and_tests(tmp_path):
    topics = ["doubling", "halving", "tripling"]
    plan = {"doubling": "correct", "halving": "wrong", "tripling": "no_answer"}
    with FakeModel({t: {"kind": "topic"} for t in topics}, plan.get) as fm:
        p, _ = write_cfg(tmp_path, fm.base_url, {"source": "topics", "topics": topics, "n": 2}, temperature=0.8)
        r = invoke("synth", "run", str(p), "-o", str(tmp_path / "o"))
        assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    fails = read(tmp_path / "o" / "failures.jsonl")
    assert s["rows"] == 6 and s["kept"] == 2
    assert sorted(f["reason"] for f in fails) == ["failing_tests", "failing_tests", "malformed", "malformed"]
    assert all("fewer than min_tests" in f["detail"] for f in fails if f["reason"] == "malformed")


def test_task_file_with_bad_records(tmp_path):
    f = tmp_path / "tasks.jsonl"
    f.write_text("\n".join([json.dumps({"id": "a", "prompt": "What is 6 times 7?", "answer": "42"}),
                            "{not json", json.dumps({"prompt": "no answer here"}),
                            json.dumps({"id": "b", "prompt": "What is 1/2 + 1/4?", "answer": "3/4"})]) + "\n")
    table = {"What is 6 times 7?": {"kind": "math", "answer": "42"}, "What is 1/2 + 1/4?": {"kind": "math", "answer": "0.75"}}
    with FakeModel(table, lambda p: "correct") as fm:
        p, _ = write_cfg(tmp_path, fm.base_url, {"source": "file", "path": "tasks.jsonl"})
        r = invoke("synth", "run", str(p), "-o", str(tmp_path / "o"))
        assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["rows"] == 4 and s["kept"] == 2 and s["by_reason"]["bad_task"]["count"] == 2
    # the output is a gristmill dataset: a recipe reads it (and could dedup / decontaminate it)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"inputs": [{"paths": [str(tmp_path / "o" / "train.jsonl")], "id_field": "id"}],
                                      "steps": [{"exact_dedup": {}}], "output": {"path": str(tmp_path / "run")}}))
    r = invoke("run", str(recipe))
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["kept"] == 2
    bad = [f for f in read(tmp_path / "o" / "failures.jsonl") if f["reason"] == "bad_task"]
    assert {b["detail"].split(":")[0].split(" line ")[1] for b in bad} == {"2", "3"}


def test_config_errors_are_loud(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("endpoint:\n  base_url: http://127.0.0.1:1/v1\n  model: m\n  timeout: 3\ntasks:\n  source: generator\n  kind: math\n")
    r = invoke("synth", "run", str(p), "-o", str(tmp_path / "o"))
    assert r.exit_code == 2 and "line 4" in r.output and "did you mean 'timeout_s'" in r.output
    p.write_text("endpoint:\n  base_url: http://127.0.0.1:1/v1\n  model: m\n  api_key_env: GM_TEST_NO_SUCH_KEY\n"
                 "tasks:\n  source: generator\n  kind: math\n")
    r = invoke("synth", "run", str(p), "-o", str(tmp_path / "o"))
    assert r.exit_code == 2 and "GM_TEST_NO_SUCH_KEY" in r.output
    p.write_text("endpoint:\n  base_url: http://127.0.0.1:1/v1\n  model: m\ntasks:\n  source: generator\n  kind: maths\n")
    r = invoke("synth", "run", str(p), "-o", str(tmp_path / "o"))
    assert r.exit_code == 2 and "did you mean 'math'" in r.output
    p.write_text("endpoint:\n  base_url: http://127.0.0.1:1/v1\n  model: m\ntasks:\n  source: file\n")
    r = invoke("synth", "run", str(p), "-o", str(tmp_path / "o"))
    assert r.exit_code == 2 and "needs path" in r.output


def test_a_field_at_the_wrong_level_names_where_it_belongs(tmp_path):
    """Issue 20 item 9: ``api:`` at the top of a loop config said only "unknown field"."""
    p = tmp_path / "c.yaml"
    p.write_text("api: completions\nendpoint:\n  base_url: http://127.0.0.1:1/v1\n  model: m\n"
                 "tasks:\n  source: generator\n  kind: math\n  timeout_s: 3\n")
    r = invoke("synth", "run", str(p), "-o", str(tmp_path / "o"))
    out = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert "line 1: api: unknown field here; 'api' belongs under endpoint: (move it to endpoint.api)" in out
    assert "tasks.timeout_s: unknown field here; 'timeout_s' belongs under" in out  # endpoint or sandbox
    assert not (tmp_path / "o").exists()


def test_resume_after_a_crash_pays_nothing_twice(tmp_path):
    """Kill the real CLI mid-run (SIGKILL), run it again: it finishes, and no completed request is repeated."""
    p, cfg = write_cfg(tmp_path, "http://x/v1", {"source": "generator", "kind": "math.arithmetic", "n": 30, "seed": 9})
    tasks, table = table_for(cfg)
    with FakeModel(table, lambda prompt: "slowish") as fm:
        fm.slow_s = 0.0
        orig = fm.reply

        def slow_reply(info, how):
            time.sleep(0.15)  # ~30 requests / 2 in flight: the run takes ~2 s, long enough to kill it midway
            return orig(info, "correct")
        fm.reply = slow_reply
        p, cfg = write_cfg(tmp_path, fm.base_url, {"source": "generator", "kind": "math.arithmetic", "n": 30, "seed": 9},
                           concurrency=2, timeout_s=5)
        out = tmp_path / "o"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.Popen([sys.executable, "-m", "gristmill.cli", "synth", "run", str(p), "-o", str(out)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while sum(fm.requests.values()) < 10 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
        assert not (out / "summary.json").exists(), "the run finished before it could be killed"
        first = sum(fm.requests.values())
        r = invoke("synth", "run", str(p), "-o", str(out))
        assert r.exit_code == 0, r.output
        s = json.loads((out / "summary.json").read_text())
        assert s["kept"] == 30 and s["rows"] == 30
        assert s["cache_hits"] >= first - 2  # at most the 2 in flight when killed were lost
        assert max(fm.requests.values()) <= 2 and sum(fm.requests.values()) <= 30 + 2


def test_completions_api_for_base_models(tmp_path):
    _, cfg = write_cfg(tmp_path, "http://x/v1", {"source": "generator", "kind": "math.fractions", "n": 6, "seed": 1})
    tasks, table = table_for(cfg)
    with FakeModel(table, lambda p: "correct") as fm:
        p, _ = write_cfg(tmp_path, fm.base_url, {"source": "generator", "kind": "math.fractions", "n": 6, "seed": 1},
                         api="completions")
        r = invoke("synth", "run", str(p), "-o", str(tmp_path / "o"))
        assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["kept"] == 6 and sum(fm.requests.values()) == 6


def test_generator_tasks_never_include_heldout_problems(tmp_path):
    from gristmill.synth.dataset import generate_dataset

    generate_dataset("math.arithmetic", 400, 0, 1, tmp_path / "gen", heldout=0.2)
    held = {json.loads(x)["prompt"] for x in (tmp_path / "gen" / "heldout.jsonl").read_text().splitlines()}
    base = {"endpoint": {"base_url": "http://x/v1", "model": "m"}}
    train_tasks, _ = build_tasks(LoopConfig(**base, tasks={"source": "generator", "kind": "math.arithmetic", "n": 400,
                                                           "difficulty": 1, "heldout": 0.2}))
    held_tasks, _ = build_tasks(LoopConfig(**base, tasks={"source": "generator", "kind": "math.arithmetic", "n": 40,
                                                          "difficulty": 1, "heldout": 0.2, "split": "heldout"}))
    assert len(train_tasks) == 400 and len(held_tasks) == 40
    assert not ({t.prompt for t in train_tasks} & held)
    assert {t.prompt for t in held_tasks} & held  # the same problems, seen from the other side


def test_math_topics_answer_must_equal_its_own_expression(tmp_path):
    topics = ["apples", "trains", "coins", "stamps"]
    plan = {"apples": "correct", "trains": "wrong", "coins": "cheat", "stamps": "no_answer"}
    with FakeModel({t: {"kind": "topic-math"} for t in topics}, plan.get) as fm:
        p, _ = write_cfg(tmp_path, fm.base_url, {"source": "topics", "topics": topics, "n": 1, "topic_kind": "math"})
        r = invoke("synth", "run", str(p), "-o", str(tmp_path / "o"))
        assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    kept, fails = read(tmp_path / "o" / "train.jsonl"), read(tmp_path / "o" / "failures.jsonl")
    assert s["kept"] == 1 and kept[0]["prompt"].startswith("Ana packs 3 boxes") and kept[0]["answer"] == "40"
    assert kept[0]["metadata"]["expression"] == "3 * 14 - 2" and "Problem:" not in kept[0]["text"]
    reasons = {f["task_id"].split(":")[1]: (f["reason"], f["detail"]) for f in fails}
    assert reasons["trains"][0] == "wrong_answer" and reasons["coins"][0] == "malformed" and "does not state" in reasons["coins"][1]
    assert reasons["stamps"][0] == "malformed"
