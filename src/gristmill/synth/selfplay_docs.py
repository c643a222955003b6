"""Self-play documents in the exact strings the synth loop sends to ``/v1/completions``, and the
held-out problems in the same format (the served loop, :mod:`gristmill.synth.selfplay`).

The model is a base model, not a chat model, so it is trained on the prompts it is later given:
``{math_template}\\n\\nAnswer: N`` to solve, ``{topic_math_template}\\n\\nProblem: ...\\nSolution:
...\\nExpression: ...\\nAnswer: N`` to pose.
"""
from __future__ import annotations

import random

from gristmill.synth.items import normalize_key
from gristmill.synth.selfplay_config import SelfPlayError

def _prompt(lcfg, kind: str, prompt: str) -> str:
    """The exact prompt the synth loop sends to /v1/completions for this task (ChatClient, api=completions)."""
    from gristmill.synth.loop import Task, _messages

    return "\n\n".join(m["content"] for m in _messages(lcfg, Task("-", kind, prompt))) + "\n\n"


def _working(solution: str) -> str:
    """A worked solution without its final `Answer:` line (and anything after it)."""
    lines = solution.rstrip().splitlines()
    last = max((i for i, ln in enumerate(lines) if ln.lstrip().lower().startswith("answer:")), default=len(lines))
    return "\n".join(lines[:last]).rstrip()


def solve_doc(lcfg, problem: str, answer: str, solution: str | None = None) -> str:
    """The solve prompt, then (with `solution`) its working, then `Answer: N`."""
    work = _working(solution) if solution else ""
    return f"{_prompt(lcfg, 'math', problem)}{work + chr(10) if work else ''}Answer: {answer}"


def pose_doc(lcfg, topic: str, problem: str, expression: str, answer: str, solution: str | None = None) -> str:
    work = _working(solution) if solution else f"{expression} = {answer}"
    return (f"{_prompt(lcfg, 'topic-math', topic)}Problem: {problem}\nSolution: {work}\n"
            f"Expression: {expression}\nAnswer: {answer}")


def heldout_problems(kind: str, difficulty: int, n: int, seed: int, heldout: float, lcfg,
                     worked: bool = False) -> tuple[list, set[str]]:
    """n distinct problems of the generator's held-out split, as lab task problems in the loop's format
    (tagged with the item's sub-kind, e.g. add/sub/mul/div), and their normalized problem texts (a
    model-posed problem equal to one of them is never trained on)."""
    from gristmill.lab.tasks import Problem, distractors
    from gristmill.synth.dataset import split_of
    from gristmill.synth.generators._verify import NotVerified
    from gristmill.synth.registry import Composite, resolve

    comp, rng, seen, out, keys = Composite(resolve(kind), seed, difficulty), random.Random(seed), set(), [], set()
    for _ in range(400 * n):  # 1 draw in 10 is held out; the rest of the bound covers a small space
        try:
            _, item = comp.draw()
        except NotVerified:
            continue
        k = normalize_key(item.key)
        if k in seen or split_of(item.key, heldout) != "heldout":
            continue
        seen.add(k)
        try:
            ans = int(item.answer)
        except ValueError:  # the lab's scoring compares integers: fractions and systems are left out
            continue
        prompt = _prompt(lcfg, "math", item.prompt) if worked else solve_doc(lcfg, item.prompt, "").removesuffix(" ")
        out.append(Problem(prompt, ans, distractors(rng, ans), tag=str(item.metadata.get("kind", "")), worked=worked))
        keys.add(normalize_key(item.prompt))
        if len(out) == n:
            return out, keys
    raise SelfPlayError(f"seed_data.kind {kind!r} at difficulty {difficulty} gave only {len(out)} integer held-out "
                        f"problems (eval.n = {n}); lower eval.n or raise the difficulty")
