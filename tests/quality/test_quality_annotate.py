"""`gristmill quality annotate` against a real HTTP server on 127.0.0.1 that answers like a model and
fails in every way (unreachable, timeouts, 500s, garbage, unparseable replies), then
`quality train --from-annotations` on what it scored."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import stdlib_docs, write_jsonl  # noqa: E402
from synth_fake_llm import FakeModel  # noqa: E402

GRISTMILL = [sys.executable, "-m", "gristmill"]
BEHAVIOURS = ["correct", "correct", "correct", "no_answer", "garbage", "flaky500", "always500", "slow", "drop"]
EXPECTED = {"correct": None, "flaky500": None, "no_answer": "unparseable", "garbage": "malformed", "always500": "http_error",
            "slow": "timeout", "drop": "unreachable"}


class Rater(FakeModel):
    """Scores a document by a rule the test knows: longer stdlib docstrings get more points."""

    @staticmethod
    def reply(info, how) -> str:
        if how == "no_answer":
            return "This extract is interesting but I would rather not say."
        return f"The extract explains a module clearly enough.\nEducational score: {info['score']}"

    def _find(self, content):
        for key, info in self.table.items():
            if key in content:
                return key, info
        return None, None


def _cli(*args):
    return subprocess.run(GRISTMILL + [str(a) for a in args], capture_output=True, text=True)


def test_annotate_every_failure_is_a_row_and_train_from_it(tmp_path):
    docs = [{"id": f"d{i}", "text": d["text"]} for i, d in enumerate(stdlib_docs(45))]
    write_jsonl(tmp_path / "docs.jsonl", docs)
    table = {d["text"][:200]: {"score": min(5, len(d["text"].split()) // 40)} for d in docs}
    plan = {d["text"][:200]: BEHAVIOURS[i % len(BEHAVIOURS)] for i, d in enumerate(docs)}
    out = tmp_path / "ann"
    with Rater(table, plan.get, slow_s=1.5) as fm:
        args = ["quality", "annotate", tmp_path / "docs.jsonl", "--endpoint", fm.base_url, "--model", "fake", "-o", out,
                "--sample", "45", "--timeout", "0.5", "--retries", "1", "--concurrency", "6"]
        r = _cli(*args)
        assert r.returncode == 0, r.stdout + r.stderr
        rows = [json.loads(x) for x in (out / "annotations.jsonl").read_text().splitlines()]
        assert len(rows) == 45 and {x["id"] for x in rows} == {d["id"] for d in docs}  # nothing dropped
        for row, d in zip(sorted(rows, key=lambda x: int(x["id"][1:])), docs):
            want = EXPECTED[plan[d["text"][:200]]]
            assert row["reason"] == want, (row, want)
            if want is None:
                assert row["score"] == table[d["text"][:200]]["score"]
        s = json.loads((out / "summary.json").read_text())
        assert s["scored"] == 20 and s["failed"] == {"unparseable": 5, "malformed": 5, "http_error": 5, "timeout": 5, "unreachable": 5}
        before = dict(fm.requests)
        # a re-run pays nothing twice: scored rows come from the cache
        r = _cli(*args)
        assert r.returncode == 0
        s2 = json.loads((out / "summary.json").read_text())
        assert s2["cached"] >= 15 and s2["scored"] == 20
        answered = [k for k, how in plan.items() if how in ("correct", "flaky500", "no_answer")]
        assert all(fm.requests[k] == before[k] for k in answered)  # complete replies were not asked again
        assert all(fm.requests[k] > before[k] for k, how in plan.items() if how in ("garbage", "always500", "slow"))
    # the endpoint is gone: every row says unreachable, and the command fails loudly
    r = _cli("quality", "annotate", tmp_path / "docs.jsonl", "--endpoint", "http://127.0.0.1:9/v1", "--model", "fake",
             "-o", tmp_path / "ann2", "--sample", "5", "--retries", "0")
    assert r.returncode == 1 and "no document was scored" in " ".join(r.stderr.split())
    rows = [json.loads(x) for x in (tmp_path / "ann2" / "annotations.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and {x["reason"] for x in rows} == {"unreachable"}
    # distil the scored rows into an embedding regressor
    r = _cli("quality", "train", "--from-annotations", out, "--family", "embedding", "-o", tmp_path / "edu.bin")
    assert r.returncode == 0, r.stderr
    meta = json.loads(_cli("quality", "info", tmp_path / "edu.bin").stdout)
    assert meta["task"] == "regression" and meta["examples"] == 20 and "rmse" in meta["metrics"]
