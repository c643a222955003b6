"""Verifiable tasks: seeded generators of problems with exact answers, scored two ways.

* **generate**: greedy decoding after the prompt, the first integer in the output checked against
  the answer (the exact-match scoring of GSM8K, Cobbe et al. 2021);
* **rank**: the answer and three distractors scored by the model's log-likelihood of each
  continuation, argmax wins (the multiple-choice scoring of lm-evaluation-harness).

A *worked* problem (``Problem.worked``) is answered with a scratchpad, as the synthetic generators'
solutions are written (Nye et al. 2021, "Show Your Work"; Lee et al. 2023, "Teaching Arithmetic to
Small Transformers"): greedy decoding runs until the model has written an ``Answer: N`` line (or the
budget ends) and N is checked; the rank score compares the choices as the value after the model's
own working up to ``Answer:``. Results then carry accuracy per ``Problem.tag`` too.

Held-out problems come from `EVAL_SEED`; training data for a task (`write_task_data`) comes from
other seeds and drops any problem whose prompt is in the held-out set, and `gristmill lab eval`
checks the run's training text for every held-out prompt and scores only the clean ones.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

import torch

EVAL_SEED = 1_000_003  # held-out problems; training generators must use other seeds


@dataclass(frozen=True)
class Problem:
    prompt: str
    answer: int
    choices: tuple[int, ...]  # answer first
    tag: str = ""             # reported separately (e.g. the generator's sub-kind: add, sub, mul, div)
    worked: bool = False      # answered by a worked solution ending in an `Answer: N` line

    @property
    def text(self) -> str:  # the problem as a training document
        return f"{self.prompt} {self.answer}"


def distractors(rng: random.Random, ans: int) -> tuple[int, ...]:
    # near misses that a model with the wrong carry or the wrong operand would produce
    out: list[int] = []
    for d in rng.sample([1, -1, 10, -10, 2, -2, 100, -100, 11, -9], 10):
        if ans + d >= 0 and ans + d not in out and len(out) < 3:
            out.append(ans + d)
    return (ans, *out)


def arithmetic(rng: random.Random) -> Problem:
    """Two operands of 2-4 digits; +, - (non-negative results) or x with a 1-2 digit factor."""
    op = rng.choice("+-x")
    if op == "x":
        a, b = rng.randint(10, 999), rng.randint(2, 99)
        ans = a * b
    else:
        a, b = rng.randint(10, 9999), rng.randint(10, 9999)
        if op == "-" and b > a:
            a, b = b, a
        ans = a + b if op == "+" else a - b
    return Problem(f"Q: What is {a} {'*' if op == 'x' else op} {b}?\nA:", ans, distractors(rng, ans))


_NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Farah", "Gus", "Hana", "Ivan", "Jo", "Kemal", "Lena", "Mo", "Nia"]
_THINGS = ["apples", "books", "coins", "stamps", "marbles", "pencils", "shells", "cards", "eggs", "stickers"]


def word_problems(rng: random.Random) -> Problem:
    """One-step and two-step problems over small integers (GSM8K-style, far simpler)."""
    n, t = rng.choice(_NAMES), rng.choice(_THINGS)
    a, b, c = rng.randint(2, 60), rng.randint(2, 40), rng.randint(2, 9)
    kind = rng.randrange(4)
    if kind == 0:
        q, ans = f"{n} has {a} {t} and gets {b} more. How many {t} does {n} have now?", a + b
    elif kind == 1:
        a = a + b
        q, ans = f"{n} has {a} {t} and gives away {b}. How many {t} are left?", a - b
    elif kind == 2:
        q, ans = f"{n} buys {c} bags with {b} {t} in each bag. How many {t} is that?", b * c
    else:
        q, ans = f"{n} has {a} {t}, gets {b} more, then loses {c}. How many {t} does {n} have?", a + b - c
    return Problem(f"Q: {q}\nA:", ans, distractors(rng, ans))


TASKS = {"arithmetic": arithmetic, "word_problems": word_problems}


def get_task(name: str):
    if name not in TASKS:
        import difflib

        near = difflib.get_close_matches(name, TASKS, n=1)
        raise ValueError(f"unknown task {name!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                         + f"; tasks: {', '.join(TASKS)}")
    return TASKS[name]


def problems(name: str, n: int, seed: int = EVAL_SEED) -> list[Problem]:
    """n distinct problems (by prompt) from a seeded generator."""
    gen, rng, seen, out = get_task(name), random.Random(f"{name}:{seed}"), set(), []
    for _ in range(n * 50):
        p = gen(rng)
        if p.prompt not in seen:
            seen.add(p.prompt)
            out.append(p)
            if len(out) == n:
                break
    return out


def write_task_data(name: str, n: int, seed: int, heldout_n: int = 500) -> list[dict]:
    """Training documents for a task, never a held-out prompt (the first `heldout_n` eval problems)."""
    if seed == EVAL_SEED:
        raise ValueError(f"seed {seed} is the held-out seed; choose another")
    held = {p.prompt for p in problems(name, heldout_n)}
    return [{"id": f"{name}-{seed}-{i}", "text": p.text} for i, p in enumerate(x for x in problems(name, n + heldout_n, seed) if x.prompt not in held) if i < n]


_INT = re.compile(r"-?\d+")


@torch.no_grad()
def score(model, tok, probs: list[Problem], max_new_tokens: int | None = None, batch_size: int = 64,
          precision: str = "fp32", rank: bool = True) -> dict:
    """Accuracy by greedy generation and by likelihood ranking of the choices (`rank=False`: greedy
    only, and `rank_acc` is None), with `by_tag` when the problems carry tags. Generation decodes
    `batch_size` problems at once (`GPT.generate`: KV cache, per-row stop at newline or EOS).
    Worked problems go to :func:`score_worked`."""
    from gristmill.lab.precision import autocast

    if any(p.worked for p in probs):
        return score_worked(model, tok, probs, max_new_tokens, batch_size=batch_size, precision=precision)
    model.eval()
    gen_ok = rank_ok = 0
    tags: dict[str, list[int]] = {}
    nl = set(tok.encode("\n")) | {tok.eos_id}
    ctxs = [tok.encode(p.prompt) for p in probs]
    for i in range(0, len(probs), batch_size):
        chunk = probs[i:i + batch_size]
        budget = max_new_tokens or max(len(tok.encode(f" {p.answer}")) + 2 for p in chunk)
        outs = model.generate(ctxs[i:i + batch_size], budget, temperature=0.0, stop_ids=nl, precision=precision)
        for p, out in zip(chunk, outs):
            out = out[:max_new_tokens or len(tok.encode(f" {p.answer}")) + 2]  # each problem's own budget
            cut = next((j for j, t in enumerate(out) if t in nl), len(out))
            m = _INT.search(tok.decode(out[:cut]))
            ok = bool(m) and int(m.group()) == p.answer
            gen_ok += ok
            t = tags.setdefault(p.tag, [0, 0])
            t[0], t[1] = t[0] + 1, t[1] + ok
    with autocast(precision):
        for p, ctx in zip(probs if rank else [], ctxs):
            # the choices of one problem in one forward pass, right-padded: a causal model's scores of
            # the real tokens do not depend on what follows them
            fulls, ks = [], []
            for ch in p.choices:
                cont = tok.encode(f"{p.prompt} {ch}")[len(ctx):] if tok.hf is None else tok.encode(f" {ch}")
                full = (ctx + cont)[-(model.config.seq_len + 1):]  # keep the tail that fits the model
                fulls.append(full)
                ks.append(len(full) - len(cont))
            width = max(map(len, fulls))
            ids = torch.tensor([f + f[-1:] * (width - len(f)) for f in fulls])
            logp = torch.log_softmax(model(ids[:, :-1]).float(), -1)
            lls = [float(logp[j, k - 1:len(f) - 1].gather(1, ids[j, k:len(f), None]).sum()) for j, (f, k) in enumerate(zip(fulls, ks))]
            rank_ok += max(range(len(lls)), key=lls.__getitem__) == 0
    n = max(1, len(probs))
    res = {"n": len(probs), "generate_acc": gen_ok / n, "rank_acc": rank_ok / n if rank else None}
    if any(tags):
        res["by_tag"] = {k: {"n": v[0], "generate_acc": v[1] / v[0]} for k, v in sorted(tags.items())}
    return res


def contaminated(probs: list[Problem], texts) -> set[str]:
    """Held-out prompts whose question appears verbatim in any training text."""
    # the question without its wrapper (`Q: ... A:` or `Problem: ...`), so a problem quoted in another
    # format (e.g. a self-play `Problem: ...\nSolution:` document) is found too
    qs = {p.prompt.removeprefix("Q: ").removesuffix("\nA:").strip().removeprefix("Problem: "): p.prompt for p in probs}
    hit: set[str] = set()
    for t in texts:
        for q, prompt in qs.items():
            if prompt not in hit and q in t:
                hit.add(prompt)
    return hit


# ---------------------------------------------------------------- worked solutions

_ANSWER_LINE = re.compile(r"(?m)^Answer:[ \t]*(-?[\d,]*\d)[ \t]*\.?[ \t]*(?:\n|$)")
WORKED_BUDGET = 448  # new tokens: the longest difficulty-1 math.arithmetic solution is ~400 bytes


def _answer_done(text: str) -> bool:
    m = _ANSWER_LINE.search(text)
    return bool(m) and text[m.end() - 1] == "\n"


def _decode_worked(model, tok, ctxs: list[list[int]], budget: int, precision: str = "fp32") -> list[str]:
    """Greedy decoding of each prompt up to its completed `Answer: N` line, EOS, or the budget (one
    batch, KV-cached: `GPT.generate` stops each row on its own)."""
    nl = tok.encode("\n")[-1]
    outs = model.generate(ctxs, budget, temperature=0.0, stop_ids={tok.eos_id}, precision=precision,
                          stop_fn=lambda r, new: new[-1] == nl and _answer_done(tok.decode(new)))
    texts = []
    for out in outs:
        out = out[:out.index(tok.eos_id)] if tok.eos_id in out else out
        text = tok.decode(out)
        m = _ANSWER_LINE.search(text)
        texts.append(text[:m.end()].rstrip("\n") if m and text[m.end() - 1] == "\n" else text)
    return texts


@torch.no_grad()
def score_worked(model, tok, probs: list[Problem], max_new_tokens: int | None = None, samples: list | None = None,
                 batch_size: int = 64, precision: str = "fp32") -> dict:
    """Accuracy of worked solutions (greedy to the `Answer: N` line), overall and per `tag`; rank: the
    choices scored as the value after the model's own working. `samples`, if a list, receives
    (problem, generated text, correct) for every problem."""
    from gristmill.lab.precision import autocast

    model.eval()
    gen_ok = rank_ok = 0
    tags: dict[str, list[int]] = {}
    for i in range(0, len(probs), batch_size):
        chunk = probs[i:i + batch_size]
        texts = _decode_worked(model, tok, [tok.encode(p.prompt) for p in chunk], max_new_tokens or WORKED_BUDGET, precision)
        for p, text in zip(chunk, texts):
            m = _ANSWER_LINE.search(text + "\n")
            ok = bool(m) and int(m.group(1).replace(",", "")) == p.answer
            head = text[:m.start()] if m else (text.rstrip("\n") + "\n" if text.strip() else "")
            ctx = tok.encode(p.prompt + head + "Answer:")
            lls = []
            for ch in p.choices:
                cont = tok.encode(f"{p.prompt}{head}Answer: {ch}")[len(ctx):] if tok.hf is None else tok.encode(f" {ch}")
                full = (ctx + cont)[-(model.config.seq_len + 1):]  # keep the tail that fits the model
                ids, k = torch.tensor([full]), len(full) - len(cont)
                with autocast(precision):
                    logp = torch.log_softmax(model(ids[:, :-1])[0].float(), -1)
                lls.append(float(logp[k - 1:].gather(1, ids[0, k:, None]).sum()))
            rk = max(range(len(lls)), key=lls.__getitem__) == 0
            gen_ok, rank_ok = gen_ok + ok, rank_ok + rk
            t = tags.setdefault(p.tag, [0, 0, 0])
            t[0], t[1], t[2] = t[0] + 1, t[1] + ok, t[2] + rk
            if samples is not None:
                samples.append((p, text, ok))
    n = max(1, len(probs))
    return {"n": len(probs), "generate_acc": gen_ok / n, "rank_acc": rank_ok / n,
            "by_tag": {k: {"n": v[0], "generate_acc": v[1] / v[0], "rank_acc": v[2] / v[0]} for k, v in sorted(tags.items())}}


# ---------------------------------------------------------------- answer formats (synth.formats)

def _format_done(text: str, line: str) -> bool:
    """True once ``text`` holds a finished line starting with ``line`` (the answer line of a format)."""
    i = text.find(line)
    return i >= 0 and (i == 0 or text[i - 1] == "\n") and "\n" in text[i:]


@torch.no_grad()
def score_format(model, tok, items: list[dict], fmt: str, batch_size: int = 64, precision: str = "fp32",
                 samples: list | None = None, budget_scale: float = 1.5) -> dict:
    """Greedy accuracy of math items (synth records) answered in answer format ``fmt``: the prompt and a
    newline, decoded until the format's answer line is finished (``Answer: N``, or ``Answer (reversed):
    N``), EOS, or a budget of ``budget_scale`` x the reference completion's tokens + 8; the answer is
    parsed (un-reversed) and confirmed by sympy from the problem's statement (:func:`gristmill.synth.
    formats.check`). Per ``metadata.kind`` and per difficulty in ``by_tag`` / ``by_difficulty``;
    ``samples``, if a list, receives {id, kind, difficulty, completion, correct, reason} per item."""
    from gristmill.synth import formats as F

    F.check_format(fmt)
    model.eval()
    line, nl = F.stop_line(fmt), tok.encode("\n")[-1]
    ok_n, tags, diffs = 0, {}, {}
    for i in range(0, len(items), batch_size):
        chunk = items[i:i + batch_size]
        budget = max(int(budget_scale * len(tok.encode(F.render(r, fmt)))) + 8 for r in chunk)
        outs = model.generate([tok.encode(r["prompt"] + "\n") for r in chunk], budget, temperature=0.0,
                              stop_ids={tok.eos_id}, precision=precision,
                              stop_fn=lambda r, new: new[-1] == nl and _format_done(tok.decode(new), line))
        for r, out in zip(chunk, outs):
            out = out[:out.index(tok.eos_id)] if tok.eos_id in out else out
            text = tok.decode(out)
            ok, why = F.check(r, fmt, text)
            ok_n += ok
            meta = r.get("metadata") or {}
            for d, key in ((tags, meta.get("kind", "")), (diffs, str(meta.get("difficulty", "")))):
                t = d.setdefault(key, [0, 0])
                t[0], t[1] = t[0] + 1, t[1] + ok
            if samples is not None:
                samples.append({"id": r.get("id"), "kind": meta.get("kind"), "difficulty": meta.get("difficulty"),
                                "completion": text, "correct": ok, "reason": why})
    n = max(1, len(items))
    return {"n": len(items), "format": fmt, "generate_acc": ok_n / n,
            "by_tag": {k: {"n": v[0], "generate_acc": v[1] / v[0]} for k, v in sorted(tags.items())},
            "by_difficulty": {k: {"n": v[0], "generate_acc": v[1] / v[0]} for k, v in sorted(diffs.items())}}


# ---------------------------------------------------------------- code (synth code.expressions)

CODE_HEAD = "def f(xs):\n    return "


def code_document(rec: dict) -> str:
    """A `code.expressions` record as a training document: its specification (prose and two example
    calls), then the one-line program. Evaluation prompts with everything up to the expression."""
    return f"{rec['prompt']}{CODE_HEAD}{rec['metadata']['expression']}\n"


@torch.no_grad()
def sample_code(model, tok, recs: list[dict], n: int, temperature: float = 0.8, seed: int = 0,
                max_new_tokens: int = 96, precision: str = "fp32") -> list[list[str]]:
    """``n`` programs per record: the model continues ``prompt + "def f(xs):\\n    return "`` to the end of
    the line (sampled at ``temperature``; ``n == 1`` with temperature 0 is greedy). Each program is
    returned whole (``def f(xs): return <line>``) for the sandbox."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    nl = set(tok.encode("\n")) | {tok.eos_id}
    out: list[list[str]] = []
    for r in recs:
        ctx = tok.encode(r["prompt"] + CODE_HEAD)
        gens = model.generate([ctx] * n, max_new_tokens, temperature=temperature, generator=g, stop_ids=nl,
                              precision=precision)
        progs = []
        for ids in gens:
            cut = next((j for j, t in enumerate(ids) if t in nl), len(ids))
            progs.append(CODE_HEAD + tok.decode(ids[:cut]) + "\n")
        out.append(progs)
    return out
