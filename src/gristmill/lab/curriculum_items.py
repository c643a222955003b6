"""Verifiable problems of `lab curriculum`'s new domain, and the `on_eval` hook that scores them.

Split from gristmill.lab.curriculum (one concern per file); the experiment is described there.
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

# ---------------------------------------------------------------- verifiable items of the new domain

# a plain integer result; "= 7,768" (thousands separators) is skipped: the scorer reads plain integers
_STEP = re.compile(r"=\s*(-?\d+)(?!\d|,\d)")


def item_problems(path: str, n: int, exclude: set[str] = frozenset()):
    """Problems from held-out worked solutions: each intermediate `= N` and the final answer, with the
    text before it as the prompt. Items whose answer is not an integer at the end of `text` are skipped;
    so are items whose `prompt` is in `exclude` (seen in training)."""
    from gristmill.lab.tasks import Problem

    steps, answers, used = [], [], 0
    for ln in Path(path).read_text(encoding="utf-8").splitlines():
        if used >= n:
            break
        if not ln.strip():
            continue
        it = json.loads(ln)
        text, ans = it.get("text"), str(it.get("answer", "")).strip()
        if not isinstance(text, str) or not re.fullmatch(r"-?\d+", ans) or not text.rstrip().endswith(ans):
            continue
        if it.get("prompt") in exclude:
            continue
        used += 1
        rng = random.Random(text)
        cut = text.rstrip()[: -len(ans)].rstrip()
        answers.append(Problem(cut, int(ans), _choices(rng, int(ans))))
        for m in _STEP.finditer(cut):
            steps.append(Problem(cut[: m.start() + 1], int(m.group(1)), _choices(rng, int(m.group(1)))))
    return steps, answers


def _choices(rng: random.Random, ans: int) -> tuple[int, ...]:
    # near misses (a wrong carry, an off-by-one, a dropped digit); negatives allowed, unlike lab.tasks
    return (ans, *[ans + d for d in rng.sample([1, -1, 10, -10, 2, -2, 100, -100, 11, -9], 3)])


class Scorer:
    """The `on_eval` hook: accuracy on the new domain's verifiable problems, at every evaluation."""

    def __init__(self, tok, items: dict[str, tuple], tasks: dict[str, list], precision: str = "fp32"):
        self.tok, self.items, self.tasks, self.precision = tok, items, tasks, precision

    def __call__(self, model) -> dict:
        from gristmill.lab.tasks import score

        was = model.training
        out: dict = {}
        for name, (steps, answers) in self.items.items():
            s, a = (score(model, self.tok, ps, precision=self.precision) for ps in (steps, answers))
            out[f"{name}:steps"] = {"n": s["n"], "generate_acc": s["generate_acc"], "rank_acc": s["rank_acc"]}
            out[f"{name}:answer"] = {"n": a["n"], "generate_acc": a["generate_acc"], "rank_acc": a["rank_acc"]}
        for name, probs in self.tasks.items():
            r = score(model, self.tok, probs, precision=self.precision)
            out[name] = {"n": r["n"], "generate_acc": r["generate_acc"], "rank_acc": r["rank_acc"]}
        model.train(was)
        return {"tasks": out} if out else {}
