"""`gristmill synth run` against a real tiny model served by `gristmill lab serve`, and
`gristmill synth selfplay` end to end (serve -> generate -> verify -> train with replay -> eval).

The model is trained for seconds, so it mostly fails verification: the point is the plumbing —
every task is a row with a reason, nothing is lost, and the rounds chain through real runs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gristmill.cli import app
from gristmill.synth.loop import LoopConfig
from gristmill.synth.selfplay import pose_doc, served, solve_doc

REASONS = {"unreachable", "timeout", "http_error", "malformed", "wrong_answer", "failing_tests", "bad_task"}
TINY = {"preset": "tiny", "n_layer": 2, "d_model": 64, "n_head": 2}


def read(p: Path):
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A lab model trained for a few seconds on verified seed math in the loop's prompt format."""
    root = tmp_path_factory.mktemp("tiny")
    r = CliRunner().invoke(app, ["synth", "generate", "math.arithmetic", "--n", "300", "-d", "1", "-o", str(root / "seed")])
    assert r.exit_code == 0, r.output
    lcfg = LoopConfig(endpoint={"base_url": "http://x/v1", "model": "m", "api": "completions"},
                      tasks={"source": "generator", "kind": "math"}, math_template="Problem: {prompt}",
                      topic_math_template="Topic: {topic}")
    docs = []
    for it in read(root / "seed" / "train.jsonl"):
        docs.append(solve_doc(lcfg, it["prompt"], it["answer"]))
        docs.append(pose_doc(lcfg, it["metadata"]["kind"], it["prompt"], it["metadata"]["expression"], it["answer"]))
    (root / "train.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    (root / "cfg.yaml").write_text(yaml.safe_dump({"model": TINY, "data": ["train.jsonl"], "seq_len": 96, "batch_size": 16,
                                                   "tokens": 20000, "threads": 1}))
    r = CliRunner().invoke(app, ["lab", "train", str(root / "cfg.yaml"), "-o", str(root / "run")])
    assert r.exit_code == 0, r.output
    return root / "run"


def loop_yaml(path: Path, base_url: str, tasks: dict, **endpoint) -> Path:
    cfg = {"endpoint": {"base_url": base_url, "model": "tiny", "api": "completions", "timeout_s": 120, "max_retries": 1,
                        "backoff_s": 0.05, "concurrency": 2, "max_tokens": 40, **endpoint},
           "tasks": tasks, "math_template": "Problem: {prompt}", "topic_math_template": "Topic: {topic}"}
    path.write_text(yaml.safe_dump(cfg))
    return path


def check_ledger(out: Path, rows: int) -> dict:
    s = json.loads((out / "summary.json").read_text())
    kept, fails = read(out / "train.jsonl"), read(out / "failures.jsonl")
    assert s["rows"] == rows and len(kept) + s["duplicates"] + len(fails) == rows  # nothing lost
    assert s["kept"] == len(kept) and sum(v["count"] for v in s["by_reason"].values()) == rows
    for f in fails:  # every failure is a row with a reason and a detail
        assert f["reason"] in REASONS and f["detail"], f
    return s


def test_synth_run_against_lab_serve(tiny_run, tmp_path):
    gen = {"source": "generator", "kind": "math.arithmetic", "difficulty": 1, "n": 6, "seed": 3}
    with served(tiny_run, "tiny", log=tmp_path / "serve.log") as base:
        cfg = loop_yaml(tmp_path / "gen.yaml", base, gen, temperature=0.8, seed=1)
        out = tmp_path / "gen"
        r = CliRunner().invoke(app, ["synth", "run", str(cfg), "-o", str(out)])
        assert r.exit_code == 0, r.output
        s = check_ledger(out, 6)
        assert s["requests_sent"] >= 6 and "unreachable" not in s["by_reason"]
        fails = read(out / "failures.jsonl")
        # the served model really answered: its text is in the rows, verified by sympy or rejected with why
        assert all(isinstance(f["response"], str) for f in fails if f["reason"] in ("malformed", "wrong_answer"))
        # a re-run pays for nothing: every reply comes from the cache, same ledger
        r = CliRunner().invoke(app, ["synth", "run", str(cfg), "-o", str(out)])
        assert r.exit_code == 0, r.output
        s2 = check_ledger(out, 6)
        assert s2["requests_sent"] == 0 and s2["cache_hits"] == 6 and s2["by_reason"] == s["by_reason"]

        # the model poses problems too (topics, math): one distinct request per draw, every one a row
        topics = {"source": "topics", "topic_kind": "math", "topics": ["add", "sub"], "n": 3}
        cfg = loop_yaml(tmp_path / "topics.yaml", base, topics, temperature=1.0, seed=5, max_tokens=60)
        r = CliRunner().invoke(app, ["synth", "run", str(cfg), "-o", str(tmp_path / "topics")])
        assert r.exit_code == 0, r.output
        s = check_ledger(tmp_path / "topics", 6)
        assert s["requests_sent"] >= 6 and s["cache_entries"] == 6
        responses = [f["response"] for f in read(tmp_path / "topics" / "failures.jsonl")] + \
                    [k["solution"] for k in read(tmp_path / "topics" / "train.jsonl")]
        assert len(set(responses)) > 1  # sampled per draw, not one cached reply repeated
    # the server is gone: a fresh run reaches nothing, says so (exit 3), and still writes every row
    r = CliRunner().invoke(app, ["synth", "run", str(tmp_path / "gen.yaml"), "-o", str(tmp_path / "down")])
    assert r.exit_code == 3, r.output
    s = check_ledger(tmp_path / "down", 6)
    assert s["by_reason"]["unreachable"]["count"] == 6


def test_init_from_continues_a_run(tiny_run, tmp_path):
    """The lab hook self-play trains through: a run that starts from another run's weights."""
    cfg = yaml.safe_load((tiny_run.parent / "cfg.yaml").read_text())
    cfg.update(data=[str(tiny_run.parent / "train.jsonl")], init_from=str(tiny_run), tokens=1500, log_every=1)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(app, ["lab", "train", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "cont")])
    assert r.exit_code == 0, r.output
    fresh = dict(cfg, init_from=None)
    (tmp_path / "f.yaml").write_text(yaml.safe_dump(fresh))
    r = CliRunner().invoke(app, ["lab", "train", str(tmp_path / "f.yaml"), "-o", str(tmp_path / "fresh")])
    assert r.exit_code == 0, r.output
    first = lambda run: json.loads((run / "log.jsonl").read_text().splitlines()[0])["loss"]  # noqa: E731
    assert first(tmp_path / "cont") < first(tmp_path / "fresh") - 1.0  # starts where the earlier run ended
    bad = dict(cfg, model={**TINY, "d_model": 32})
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(bad))
    r = CliRunner().invoke(app, ["lab", "train", str(tmp_path / "b.yaml"), "-o", str(tmp_path / "bad")])
    assert r.exit_code != 0 and "different model" in r.output


SELFPLAY = {
    "rounds": 3,
    "seed_data": {"kind": "math.arithmetic", "n": 300, "difficulty": 1},
    "train": {"model": TINY, "seq_len": 96, "batch_size": 16, "tokens": 30000, "threads": 1},
    "round_tokens": 3000,
    "loop": {"endpoint": {"temperature": 1.0, "max_tokens": 12, "concurrency": 2, "timeout_s": 120, "seed": 0},
             "tasks": {"source": "generator", "kind": "math.arithmetic", "difficulty": 1, "n": 10},
             "samples_per_task": 3, "math_template": "Problem: {prompt}", "topic_math_template": "Topic: {topic}"},
    "eval": {"n": 20, "max_new_tokens": 24},  # worked scoring, its budget cut to keep the test fast
}


def test_selfplay_rounds(tmp_path):
    (tmp_path / "sp.yaml").write_text(yaml.safe_dump(SELFPLAY))
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["synth", "selfplay", str(tmp_path / "sp.yaml"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    rounds = res["rounds"]
    assert [x["round"] for x in rounds] == [0, 1, 2, 3]
    assert (out / "selfplay.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    seed_prompts = {x["prompt"] for x in read(out / "seed" / "train.jsonl")}
    for x in rounds:
        assert x["eval"]["n"] + x["eval"]["contaminated_skipped"] == 20 and 0 <= x["eval"]["generate_acc"] <= 1
    for x in rounds[1:]:
        lp = x["loop"]
        assert lp["rows"] == 30  # 10 tasks x 3 samples, every one a row
        assert sum(v["count"] for v in lp["by_reason"].values()) == 30
        assert sum(x["kept_rows"].values()) == lp["kept"]  # every verified row trained on or set aside with why
        rd = out / f"round_{x['round']}"
        fails = read(rd / "loop" / "failures.jsonl")
        assert all(f["reason"] in REASONS for f in fails)
        if x["trained"]:  # continued from the previous round's model, with replay of earlier documents
            conf = json.loads((rd / "model" / "config.json").read_text())
            assert conf["init_from"] == str(Path(rounds[x["round"] - 1]["model"] if x["round"] > 1 else out / "round_0" / "model").resolve())
            assert x["docs"]["replay"] >= 1 and len(read(rd / "train.jsonl")) == x["docs"]["new"] + x["docs"]["replay"]
        else:
            assert x["model"] == rounds[x["round"] - 1].get("model", str(out / "round_0" / "model"))
    # held-out problems never come from the seed's training split
    held = read(out / "seed" / "heldout.jsonl")
    assert held and not seed_prompts & {h["prompt"] for h in held}
    # a re-run skips finished rounds and reports the same figures
    r = CliRunner().invoke(app, ["synth", "selfplay", str(tmp_path / "sp.yaml"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "results.json").read_text())["rounds"] == rounds


@pytest.mark.parametrize("patch, needle", [
    ({"round_tokns": 5}, "unknown field (did you mean 'round_tokens'?)"),
    ({"loop": {**SELFPLAY["loop"], "endpoint": {"base_url": "http://x/v1"}}}, "loop.endpoint.base_url: leave it out"),
    ({"train": {**SELFPLAY["train"], "data": ["x.jsonl"]}}, "train: leave out data/mixture"),
    ({"train": {**SELFPLAY["train"], "tokenz": 3}}, "train.tokenz: unknown field (did you mean 'tokens'?)"),
    ({"loop": {**SELFPLAY["loop"], "tasks": {"source": "topics", "topic_kind": "math", "topics": ["addition"], "n": 1}}},
     "'addition' (did you mean 'add'?) never appear in the seed data"),
])
def test_selfplay_config_errors(tmp_path, patch, needle):
    (tmp_path / "sp.yaml").write_text(yaml.safe_dump({**SELFPLAY, **patch}))
    r = CliRunner().invoke(app, ["synth", "selfplay", str(tmp_path / "sp.yaml"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and needle in r.output, r.output
    assert "sp.yaml" in r.output


def test_selfplay_trains_on_what_verifies(tmp_path):
    """The training branch, made certain: each round's generations come from a real HTTP server
    (tests/support/synth_fake_llm.py) that answers some problems right and some wrong, in place of the
    seconds-trained model, which verifies nothing. Kept rows are trained on with replay, from the
    previous round's weights; wrong ones are rows with reasons."""
    from contextlib import contextmanager

    from synth_fake_llm import FakeModel

    from gristmill.synth.loop import build_tasks

    cfg = json.loads(json.dumps(SELFPLAY))
    cfg["round_tokens"] = 1500
    (tmp_path / "sp.yaml").write_text(yaml.safe_dump(cfg))
    table, plan = {}, {}
    for r in (1, 2, 3):  # the problems each round's loop will pose (tasks.seed + round)
        lc = LoopConfig(endpoint={"base_url": "http://x/v1", "model": "m"}, tasks={**cfg["loop"]["tasks"], "seed": r})
        for i, t in enumerate(build_tasks(lc)[0]):
            table[t.prompt] = {"kind": "math", "answer": t.answer}
            plan[t.prompt] = "correct" if i % 2 == 0 else "wrong"

    @contextmanager
    def fake_serve(run, name, log=None):
        assert (Path(run) / "ckpt" / "meta.json").is_file()  # the round's model exists before it would be served
        with FakeModel(table, plan.get) as fm:
            yield fm.base_url

    from gristmill.synth.selfplay import run_selfplay

    out = tmp_path / "out"
    res = run_selfplay(tmp_path / "sp.yaml", out, log=lambda m: None, serve=fake_serve)
    rounds = res["rounds"]
    prev = out / "round_0" / "model"
    for x in rounds[1:]:
        assert x["loop"]["rows"] == 30 and x["loop"]["kept"] == 5  # the 5 right answers (x1 after dedup of 3 samples)
        assert x["loop"]["duplicates"] == 10 and x["loop"]["by_reason"]["wrong_answer"]["count"] == 15
        assert x["trained"] and x["kept_rows"] == {"trained": 5, "heldout_problem": 0, "seen_before": 0}
        rd = out / f"round_{x['round']}"
        docs = [d["text"] for d in read(rd / "train.jsonl")]
        assert x["docs"] == {"new": 5, "replay": 5} and len(docs) == 10  # replay 0.5: as many old as new
        new = docs[:5]
        # worked: the model's own verified working is trained on (STaR), then its answer line
        assert all(d.startswith("Problem: ") and "\n\nLet me work through it.\nFirst I read the numbers.\nAnswer: " in d
                   for d in new)
        conf = json.loads((rd / "model" / "config.json").read_text())
        assert conf["init_from"] == str(prev.resolve()) and conf["tokens"] == 1500
        prev = rd / "model"
    seed_docs = set(read(out / "seed.jsonl") and [d["text"] for d in read(out / "seed.jsonl")])
    r3 = [d["text"] for d in read(out / "round_3" / "train.jsonl")][5:]
    earlier = seed_docs | {d["text"] for r in (1, 2) for d in read(out / f"round_{r}" / "train.jsonl")}
    assert set(r3) <= earlier  # replay comes from what was trained on before
    assert rounds[-1]["tokens"] == rounds[0]["tokens"] + 3 * 1500


# ---------------------------------------------------------------- in-process self-play (--demo)

# a 2 x 64 model at batch 8 x 32 bytes: ~240 optimizer steps in the start budget, enough to write
# well-formed answers and get a few right when sampled (acceptance ~0.005), in about a minute
DEMO_SMALL = ["--set", "model={preset: tiny, n_layer: 2, d_model: 64, n_head: 2}", "--set", "batch_size=8",
              "--set", "seq_len=32", "--set", "threads=1", "--set", "start.items=1500", "--set", "start.tokens=60000",
              "--set", "rounds=3", "--set", "problems=64", "--set", "k=16", "--set", "round_tokens=3000",
              "--set", "eval_n=12", "--set", "max_difficulty=2", "--set", "arms=[verified,unverified,none,pose]",
              "--set", "promote_at=0.001"]


def test_selfplay_demo_mechanism(tmp_path):
    """`synth selfplay --demo` at a CI budget: every round's fields, acceptance > 0 somewhere, training
    happened (tokens > 0, the round's checkpoint past step 0, init_from the previous round), only
    verified answers in the verified arm's new data, everything in the unverified arm's, the held-out
    problems never posed. Accuracy values are not asserted."""
    from gristmill.synth.selfplay_pose import parse_posed
    from gristmill.synth.selfplay_rounds import draw, verify

    out = tmp_path / "demo"
    r = CliRunner().invoke(app, ["synth", "selfplay", "--demo", "-o", str(out), *DEMO_SMALL])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    assert (out / "selfplay.png").stat().st_size > 1000
    rounds = res["rounds"]
    assert [x["round"] for x in rounds] == [1, 2, 3]
    for x in rounds:
        assert {"round", "posed", "accepted", "acceptance", "tokens", "heldout_accuracy"} <= set(x)
        assert x["posed"] == 64 and x["tokens"] > 0 and x["step"] > 0
        assert set(x["heldout"]["by_difficulty"]) == {"1", "2"}
        cfg = json.loads((Path(x["model"]) / "config.json").read_text())
        assert cfg["init_from"]  # continued from the previous model, not trained afresh
    assert any(x["accepted"] > 0 and x["acceptance"] > 0 for x in rounds)
    assert rounds[0]["difficulty"] == 1
    for a, b in zip(rounds, rounds[1:]):  # one level up exactly when the round's acceptance reached promote_at
        assert b["difficulty"] == min(2, a["difficulty"] + (a["acceptance"] >= 0.001))
    assert json.loads((Path(rounds[1]["model"]) / "config.json").read_text())["init_from"] == str(Path(rounds[0]["model"]).resolve())
    held_items = [it for d in (1, 2) for it in draw("math.arithmetic", d, 12, 1_000_003 + d, 0.1, "heldout")]
    held = {it.prompt for it in held_items}
    for arm in ("verified", "unverified"):
        for rr in range(1, 4):
            samples = read(out / arm / f"round_{rr}" / "samples.jsonl")
            assert not held & {s["prompt"] for s in samples}
            new = [d["text"] for d in read(out / arm / f"round_{rr}" / "new.jsonl")]
            ok = {f"{s['prompt']}\nAnswer: {a}" for s in samples for a, v in zip(s["samples"], s["verified"]) if v}
            # the verdicts are sympy's on the reversed answers (a posed-problem parse of the generator's prompt
            # rebuilds its expression from the integers alone)
            assert all(v == verify(parse_posed(s["prompt"])[0], a, "reversed")
                       for s in samples if s["kind"] != "mixed" for a, v in zip(s["samples"], s["verified"]))
            if arm == "verified":
                assert set(new) == ok  # exactly the verified samples, nothing else
            else:
                assert len(new) == sum(a is not None for s in samples for a in s["samples"])
    assert all(x["posed"] == 0 and x["tokens"] > 0 for x in res["arms"]["none"])
    # pose and solve: every attempt is accounted for; only well-formed, new, training-side problems
    # the model solved sometimes but not always are trained on, with exactly their verified answers
    from gristmill.synth.dataset import split_of
    from gristmill.synth.items import normalize_key

    start_keys = {normalize_key(it.key) for it in draw("math.arithmetic", 1, 1500, 0, 0.1, "train", max_draws=1500)}
    posed_keys = []
    for x in res["arms"]["pose"]:
        assert x["posed"] == 64 and x["well_formed_new"] + sum(x["posed_dropped"].values()) == 64
        samples = read(out / "pose" / f"round_{x['round']}" / "samples.jsonl")
        assert len(samples) == x["well_formed_new"] and x["trivial"] + x["unsolved"] + x["kept_problems"] == len(samples)
        for s in samples:
            item, why = parse_posed(s["prompt"])
            assert item is not None and normalize_key(item.key) == s["key"] and split_of(item.key, 0.1) == "train"
            assert s["fate"] == ("kept" if 0 < sum(s["verified"]) < len(s["verified"]) else
                                 "trivial" if all(s["verified"]) else "unsolved")
            assert s["verified"] == [verify(item, a, "reversed") for a in s["samples"]]
        posed_keys += [s["key"] for s in samples]
        new = {d["text"] for d in read(out / "pose" / f"round_{x['round']}" / "new.jsonl")}
        assert new == {f"{s['prompt']}\nAnswer: {a}" for s in samples if s["fate"] == "kept"
                       for a, v in zip(s["samples"], s["verified"]) if v}
        assert x["kept_share"] == x["kept_problems"] / 64
    assert posed_keys and len(posed_keys) == len(set(posed_keys))  # never the same problem twice
    assert not set(posed_keys) & (start_keys | {normalize_key(it.key) for it in held_items})
    # a re-run skips the finished rounds: nothing is trained again, the results are the same
    mtime = (Path(rounds[-1]["model"]) / "final.json").stat().st_mtime_ns
    r = CliRunner().invoke(app, ["synth", "selfplay", "--demo", "-o", str(out), *DEMO_SMALL])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "results.json").read_text())["arms"] == res["arms"]
    assert (Path(rounds[-1]["model"]) / "final.json").stat().st_mtime_ns == mtime
    # the verifier is the generator's sympy check, not string equality with the reference
    it = draw("math.arithmetic", 1, 1, 5, 0.1, "train")[0]
    assert verify(it, it.answer) and verify(it, f"{int(it.answer):,}") and not verify(it, str(int(it.answer) + 1))
    assert not verify(it, None) and not verify(it, "__import__('os')")
    planted = tmp_path / "planted"  # model text is never evaluated by sympify
    assert not verify(it, f"__import__('pathlib').Path('{planted}').touch()") and not planted.exists()


def test_selfplay_demo_bad_settings(tmp_path):
    r = CliRunner().invoke(app, ["synth", "selfplay", "--demo", "-o", str(tmp_path / "o"), "--set", "k=0"])
    assert r.exit_code == 2 and "k" in r.output
    r = CliRunner().invoke(app, ["synth", "selfplay", "--demo", "-o", str(tmp_path / "o"), "--set", "nonsense"])
    assert r.exit_code == 2 and "KEY=VALUE" in r.output
    r = CliRunner().invoke(app, ["synth", "selfplay", "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--demo" in r.output
