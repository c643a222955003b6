"""The LLM generate-verify-keep loop: ``gristmill synth run CONFIG -o OUT``.

Tasks come from a procedural generator (the model solves problems whose answers are known), from a
JSONL file of problems with an ``answer`` or ``tests``, or from seed topics (the model writes a
function *and* its tests; kept only if the code passes them in the sandbox, as Llama 3 did for
code, section 4.3.1). Every reply is verified: math by sympy equivalence with the reference
(:mod:`gristmill.synth.answers`), code by its tests in :func:`gristmill.synth.sandbox.run_python`.

Every (task, sample) ends as exactly one row: kept (``train.jsonl``), a duplicate of a kept reply,
or a failure in ``failures.jsonl`` with a reason: ``unreachable``, ``timeout``, ``http_error``,
``malformed``, ``wrong_answer``, ``failing_tests`` or ``bad_task``. ``summary.json`` reconciles the
counts and gives the acceptance rate per reason. Nothing is dropped silently (unlike distilabel's
silent ``None`` batches, distilabel issue #864).
"""
from __future__ import annotations

import difflib
import json
import os
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import xxhash
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gristmill.engine.manifest import atomic_write_text
from gristmill.synth.items import normalize_key

MATH_TEMPLATE = ("Solve the following problem. Reason step by step, then give the final answer on the last line "
                 "in the form 'Answer: <answer>'.\n\nProblem: {prompt}")
CODE_TEMPLATE = "{prompt}\n\nReply with the complete function in a single ```python code block."
TOPIC_CODE_TEMPLATE = ("Write a short Python exercise about {topic}: a function with a one-line docstring, then its unit "
                       "tests. Reply with two ```python code blocks: first the function, then at least {min_tests} "
                       "plain `assert` statements that call it with literal expected values.")

TOPIC_MATH_TEMPLATE = ("Write a new multi-step word problem about {topic} with whole-number quantities, and solve it. Use "
                       "exactly this format:\nProblem: <the problem>\nSolution: <the solution, step by step>\n"
                       "Expression: <one arithmetic expression with only numbers from the problem, + - * / and "
                       "parentheses, whose value is the answer>\nAnswer: <the number>")


class ConfigError(ValueError):
    pass


class EndpointConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str = Field(description="an OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1")
    model: str
    api: Literal["chat", "completions"] = Field("chat", description="POST /chat/completions (chat models) or "
                                                "/completions (base models: the messages joined into one prompt)")
    api_key_env: str | None = Field(None, description="name of the environment variable holding the key (never the key)")
    timeout_s: float = Field(60.0, gt=0, description="per request; the openai client's default is 600 s, far above a "
                                                     "1k-token completion on a served small model")
    max_retries: int = Field(3, ge=0, description="retries after the first attempt; openai-python's DEFAULT_MAX_RETRIES "
                                                  "is 2, one more here because a local server on a shared 2-core box drops more")
    backoff_s: float = Field(1.0, ge=0, description="first backoff, doubling each retry with jitter; openai-python starts at "
                                                    "0.5 s (INITIAL_RETRY_DELAY), doubled here for the same reason")
    concurrency: int = Field(4, ge=1, description="requests in flight; 4 keeps a single local server busy without queueing")
    temperature: float = 0.0
    max_tokens: int = Field(1024, ge=1)
    seed: int | None = Field(None, description="sent as the request's seed (plus the sample index), if the server supports it")
    extra_body: dict = Field(default_factory=dict)


class TasksConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Literal["generator", "file", "topics"]
    kind: str | None = Field(None, description="generator: 'math', 'code', a generator name or a mixture")
    n: int = Field(100, ge=1, description="generator: how many problems; topics: how many per topic")
    seed: int = 0
    difficulty: int = 2
    split: Literal["train", "heldout", "all"] = Field(
        "train", description="generator: draw only problems of this split. The split is the same key hash as "
                             "`synth generate` uses, so replies kept for training never solve a held-out problem")
    heldout: float = Field(0.1, ge=0, lt=1, description="generator: the held-out fraction the split is computed with "
                                                          "(the `synth generate --heldout` default)")
    path: str | None = Field(None, description="file: JSONL with prompt and answer (math) or tests (code)")
    topics: list[str] = Field(default_factory=list)
    min_tests: int = Field(3, ge=1, description="topics: fewer asserts than this is a malformed reply")
    topic_kind: Literal["code", "math"] = Field(
        "code", description="topics: code (a function and its tests, run in the sandbox) or math (a word problem whose "
                            "answer must equal its own arithmetic expression: this checks the arithmetic, not whether "
                            "the expression models the problem)")

    @model_validator(mode="after")
    def _needs(self):
        if self.source == "generator" and not self.kind:
            raise ValueError("source: generator needs kind (e.g. kind: math)")
        if self.source == "file" and not self.path:
            raise ValueError("source: file needs path")
        if self.source == "topics" and not self.topics:
            raise ValueError("source: topics needs a non-empty topics list")
        return self


class SandboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timeout_s: float = 5
    memory_mb: int = 512
    # None: GRISTMILL_SANDBOX, else the kernel boundary this machine can build (gristmill.synth.sandbox);
    # "unsafe-audit-hook" runs model code without a sandbox and must be named to be used
    mode: Literal["auto", "namespaces", "userns", "unsafe-audit-hook"] | None = None


class LoopConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: EndpointConfig
    tasks: TasksConfig
    samples_per_task: int = Field(1, ge=1)
    system_prompt: str | None = None
    math_template: str = MATH_TEMPLATE
    code_template: str = CODE_TEMPLATE
    topic_template: str = TOPIC_CODE_TEMPLATE
    topic_math_template: str = TOPIC_MATH_TEMPLATE
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)


def format_errors(path: Path, e: ValidationError, lines: dict, models: dict, prefix: tuple = ()) -> str:
    """One line per validation error: the file, the line, the key path, and a did-you-mean for
    unknown keys (``models`` maps a key path to the model whose fields are valid there)."""
    from gristmill.config import nearest_line

    msgs = []
    for err in e.errors():
        loc = prefix + tuple(err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            model = models.get(loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields) if model else [], n=1)
            # a field of another section written at the wrong level (``api:`` at the top of a loop
            # config belongs under ``endpoint:``) is named with the section it belongs to
            home = [where for where, m in models.items() if where != loc[:-1] and str(loc[-1]) in m.model_fields]
            if home and home[0]:
                dest = ".".join(map(str, home[0]))
                msg = f"unknown field here; {loc[-1]!r} belongs under {dest}: (move it to {dest}.{loc[-1]})"
            elif home:
                msg = f"unknown field here; {loc[-1]!r} belongs at the top level of the file"
            else:
                msg = "unknown field" + (f" (did you mean {close[0]!r}?)" if close else "")
        elif err["type"] == "missing":
            msg = "required field is missing"
        ln = nearest_line(lines, loc)
        msgs.append(f"{path}{f' line {ln}' if ln else ''}: {'.'.join(map(str, loc)) or '(top)'}: {msg}")
    return "\n".join(msgs)


def load_config(path: Path) -> LoopConfig:
    from gristmill.config import read_yaml_mapping

    path = Path(path)
    data, lines = read_yaml_mapping(path, ConfigError, "config", "the config is a mapping with endpoint, tasks, ...")
    try:
        cfg = LoopConfig(**data)
    except ValidationError as e:
        models = {(): LoopConfig, ("endpoint",): EndpointConfig, ("tasks",): TasksConfig, ("sandbox",): SandboxConfig}
        raise ConfigError(format_errors(path, e, lines, models)) from None
    if cfg.endpoint.api_key_env and not os.environ.get(cfg.endpoint.api_key_env):
        raise ConfigError(f"{path}: endpoint.api_key_env names ${cfg.endpoint.api_key_env}, which is not set; export it")
    if cfg.tasks.source == "file":
        p = Path(cfg.tasks.path)
        if not p.is_absolute():
            p = (path.parent / p) if (path.parent / p).exists() else p
        if not p.exists():
            raise ConfigError(f"{path}: tasks.path {cfg.tasks.path!r} not found (relative paths are tried against the "
                              f"config's directory, then {os.getcwd()})")
        cfg.tasks.path = str(p)
    return cfg


@dataclass
class Task:
    id: str
    kind: str  # math | code | topic-code
    prompt: str  # the problem as posed to the model (before the template)
    answer: str | None = None
    tests: str | None = None
    entry_point: str | None = None
    meta: dict = field(default_factory=dict)
    reference: str | None = None  # a generator's own solution (code): never sent, never written
    cases: list | None = None  # a generator's structured tests (gristmill.synth.verdict), preferred to ``tests``


def _item_cases(item) -> list | None:
    """The structured cases a code generator attaches to its items, if it does."""
    cases = getattr(item, "cases", None)
    if cases is None and isinstance(getattr(item, "metadata", None), dict):
        cases = item.metadata.get("cases")
    return cases if isinstance(cases, list) and cases else None


def build_tasks(cfg: LoopConfig) -> tuple[list[Task], list[dict]]:
    """The tasks, and a failure row for each task-file record that is not a usable task."""
    t = cfg.tasks
    tasks, bad = [], []
    if t.source == "generator":
        from gristmill.synth.dataset import split_of
        from gristmill.synth.generators._verify import NotVerified
        from gristmill.synth.registry import Composite, resolve

        comp = Composite(resolve(t.kind), t.seed, t.difficulty)
        seen = set()
        draws = 0
        while len(tasks) < t.n and draws < 50 * t.n:  # 50: a held-out-only draw keeps 1 in 10
            draws += 1
            try:
                gname, item = comp.draw()
            except NotVerified:
                continue
            k = normalize_key(item.key)
            if k in seen or (t.split != "all" and split_of(item.key, t.heldout) != t.split):
                continue
            seen.add(k)
            is_code = item.tests is not None
            tasks.append(Task(item.id, "code" if is_code else "math", item.prompt, None if is_code else item.answer,
                              item.tests, item.metadata.get("entry_point"), {"generator": gname}, item.answer,
                              _item_cases(item)))
    elif t.source == "file":
        with open(t.path, encoding="utf-8") as f:
            for ln, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    if not isinstance(rec, dict) or not isinstance(rec.get("prompt"), str):
                        raise ValueError("needs a string 'prompt'")
                    if rec.get("tests") is None and rec.get("answer") is None and rec.get("cases") is None:
                        raise ValueError("needs 'answer' (math), or 'tests' or 'cases' (code)")
                    if rec.get("cases") is not None:
                        from gristmill.synth.verdict import plan_cases

                        why = plan_cases(rec["cases"]).error
                        if why:
                            raise ValueError(f"cases: {why}")
                except (ValueError, RecursionError) as e:  # RecursionError: a line nested past json's limit
                    bad.append({"task_id": f"{Path(t.path).name}:{ln}", "sample": None, "reason": "bad_task",
                                "detail": f"{t.path} line {ln}: {e}", "raw": line[:500]})
                    continue
                tid = str(rec.get("id") or f"{Path(t.path).name}:{ln}")
                if rec.get("tests") is not None or rec.get("cases") is not None:
                    tests = str(rec["tests"]) if rec.get("tests") is not None else None
                    tasks.append(Task(tid, "code", rec["prompt"], None, tests, rec.get("entry_point"), {"line": ln},
                                      cases=rec.get("cases")))
                else:
                    tasks.append(Task(tid, "math", rec["prompt"], str(rec["answer"]), meta={"line": ln}))
    else:
        for topic in t.topics:
            for i in range(t.n):
                tasks.append(Task(f"topic:{topic}:{i}", f"topic-{t.topic_kind}", topic, meta={"topic": topic, "index": i}))
    return tasks, bad


def _messages(cfg: LoopConfig, task: Task) -> list[dict]:
    if task.kind == "math":
        content = cfg.math_template.format(prompt=task.prompt)
    elif task.kind == "code":
        content = cfg.code_template.format(prompt=task.prompt)
    elif task.kind == "topic-math":
        content = cfg.topic_math_template.format(topic=task.prompt)
    else:
        content = cfg.topic_template.format(topic=task.prompt, min_tests=cfg.tasks.min_tests)
    msgs = [{"role": "system", "content": cfg.system_prompt}] if cfg.system_prompt else []
    return msgs + [{"role": "user", "content": content}]


def verify(cfg: LoopConfig, task: Task, text: str) -> tuple[str | None, str, str | None]:
    """(failure reason or None, detail, the extracted answer or code)."""
    from gristmill.synth.answers import equivalent, extract_answer, extract_code

    if task.kind == "math":
        got = extract_answer(text)
        if got is None:
            return "malformed", "no 'Answer:' line, \\boxed{} or '####' in the reply", None
        try:
            ok = equivalent(got, task.answer)
        except Exception as e:  # noqa: BLE001 - Unparseable, or sympy choking on free text
            return "malformed", f"the answer {got[:80]!r} is not a value sympy can read ({type(e).__name__})", got
        return (None, "sympy: equivalent", got) if ok else ("wrong_answer", f"got {got[:80]!r}, expected {task.answer!r}", got)

    if task.kind == "topic-math":
        return _verify_topic_math(text)

    from gristmill.synth.sandbox import run_python

    if task.kind == "code":
        code = extract_code(text, task.entry_point)
        if code is None:
            return "malformed", "no ```python code block in the reply", None
        tests = task.tests
    else:
        import re

        from gristmill.synth.answers import _CODE_RE

        blocks = _CODE_RE.findall(text)
        if len(blocks) < 2:
            return "malformed", f"expected two ```python blocks (function, tests), got {len(blocks)}", None
        code, tests = blocks[0], blocks[1]
        n_asserts = len(re.findall(r"^\s*assert\b", tests, re.M))
        if n_asserts < cfg.tasks.min_tests:
            return "malformed", f"{n_asserts} assert(s) in the tests block, fewer than min_tests={cfg.tasks.min_tests}", code
    r = run_python(code, tests=None if task.cases else tests, cases=task.cases, timeout_s=cfg.sandbox.timeout_s,
                   memory_mb=cfg.sandbox.memory_mb, mode=cfg.sandbox.mode)
    if r.status == "passed":
        return None, f"sandbox ({r.mode}): {r.detail}", code + ("" if task.kind == "code" else "\n# tests\n" + tests)
    if r.status == "rejected":  # the model's tests are not evidence the parent can evaluate
        return "rejected_tests", f"sandbox ({r.mode}): {r.detail}"[:500], code
    return "failing_tests", f"{r.status}: {r.detail} [sandbox {r.mode}]"[:500], code


_SECTION = re.compile(r"(?ims)^\s*problem\s*:\s*(?P<problem>.+?)^\s*solution\s*:\s*(?P<solution>.+?)"
                      r"^\s*expression\s*:\s*(?P<expr>[^\n]+)")
_ARITH = re.compile(r"[0-9+\-*/(). ]+")
_NUM = re.compile(r"\d+(?:\.\d+)?")


def _verify_topic_math(text: str):
    """A model-written word problem: its answer must equal its own expression, built from its own numbers."""
    from gristmill.synth.answers import equivalent, extract_answer

    m = _SECTION.search(text)
    got = extract_answer(text)
    if not m or got is None:
        return "malformed", "expected 'Problem:', 'Solution:', 'Expression:' and 'Answer:' sections", None
    problem, solution, expr = m["problem"].strip(), m["solution"].strip(), m["expr"].strip().replace("×", "*").replace("÷", "/")
    if not _ARITH.fullmatch(expr) or not re.search(r"\d\s*[-+*/]\s*\(?\s*\d", expr):
        return "malformed", f"the expression {expr[:80]!r} is not arithmetic on numbers", None
    stray = [n for n in _NUM.findall(expr) if not re.search(rf"(?<![\d.]){re.escape(n)}(?![\d.])", problem.replace(",", ""))]
    if stray:
        return "malformed", f"the expression uses {stray[:3]} which the problem does not state", None
    try:
        ok = equivalent(got, expr)
    except Exception as e:  # noqa: BLE001 - Unparseable, or sympy choking on free text
        return "malformed", f"the answer {got[:80]!r} is not a value sympy can read ({type(e).__name__})", None
    if not ok:
        return "wrong_answer", f"the answer {got!r} is not the value of its own expression {expr}", None
    return None, f"sympy: answer = {expr}", {"problem": problem, "solution": solution, "answer": got, "expression": expr}


def run_loop(cfg: LoopConfig, out: Path, progress=None) -> dict:
    from gristmill.llm.client import ChatClient, RequestCache

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.lock.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    tasks, bad = build_tasks(cfg)
    sandbox_mode = None
    if any(t.kind in ("code", "topic-code") for t in tasks):
        from gristmill.synth.sandbox import isolation_mode

        sandbox_mode = isolation_mode(cfg.sandbox.mode)  # SandboxError before any request when none can be built
    e = cfg.endpoint
    cache = RequestCache(out / "cache.sqlite")
    client = ChatClient(e.base_url, e.model, api_key=os.environ.get(e.api_key_env) if e.api_key_env else None,
                        timeout_s=e.timeout_s, max_retries=e.max_retries, backoff_s=e.backoff_s, cache=cache,
                        concurrency=e.concurrency, extra_body=e.extra_body, api=e.api)
    jobs = [(t, s) for t in tasks for s in range(cfg.samples_per_task)]
    t0 = time.monotonic()

    def one(job):
        task, s = job
        # topic tasks repeat one prompt n times: the draw index keeps their requests (seed, cache key) apart,
        # else every copy would be the first one's cached reply
        k = task.meta.get("index", 0) * cfg.samples_per_task + s if task.kind.startswith("topic-") else s
        params = {"temperature": e.temperature, "max_tokens": e.max_tokens}
        if e.seed is not None:
            params["seed"] = e.seed + k
        reply = client.chat(_messages(cfg, task), sample=k, **params)
        if reply.reason:
            return task, s, reply, reply.reason, reply.detail, None
        reason, detail, extracted = verify(cfg, task, reply.text)
        return task, s, reply, reason, detail, extracted

    kept, failures, dup = [], list(bad), 0
    seen = set()
    cache_hits = 0
    try:
        with ThreadPoolExecutor(max_workers=e.concurrency) as pool:
            for i, (task, s, reply, reason, detail, extracted) in enumerate(pool.map(one, jobs)):
                cache_hits += reply.cached
                if progress:
                    progress(i + 1, len(jobs))
                if reason:
                    failures.append({"task_id": task.id, "sample": s, "reason": reason, "detail": detail,
                                     "attempts": reply.attempts, "prompt": task.prompt, "response": reply.text})
                    continue
                k = (task.id, normalize_key(reply.text))
                if k in seen:
                    dup += 1
                    continue
                seen.add(k)
                rid = f"{task.id}~{xxhash.xxh64_hexdigest(reply.text.encode())}"
                if task.kind == "topic-math":  # the model wrote the problem too: split its reply
                    kept.append({"id": rid, "prompt": extracted["problem"],
                                 "solution": f"{extracted['solution']}\nAnswer: {extracted['answer']}",
                                 "answer": extracted["answer"],
                                 "metadata": {"task_id": task.id, "kind": task.kind, "sample": s, "model": e.model,
                                              "expression": extracted["expression"], "verifier": detail, **task.meta},
                                 "text": f"{extracted['problem']}\n\n{extracted['solution']}\nAnswer: {extracted['answer']}"})
                    continue
                kept.append({"id": rid, "prompt": task.prompt if task.kind != "topic-code" else f"Topic: {task.prompt}",
                             "solution": reply.text, "answer": extracted,
                             "metadata": {"task_id": task.id, "kind": task.kind, "sample": s, "model": e.model,
                                          "reference": task.answer, "tests": task.tests, "verifier": detail, **task.meta},
                             "text": (task.prompt + "\n\n" + reply.text) if task.kind != "topic-code" else reply.text})
    finally:
        client.close()
        n_cached = len(cache)
        cache.close()
    atomic_write_text(out / "train.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
    atomic_write_text(out / "failures.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in failures))
    by_reason = Counter(f["reason"] for f in failures)
    total = len(jobs) + len(bad)
    summary = {"tasks": len(tasks), "bad_tasks": len(bad), "samples_per_task": cfg.samples_per_task, "rows": total,
               "kept": len(kept), "duplicates": dup, "acceptance": round(len(kept) / total, 4) if total else 0.0,
               "by_reason": {"kept": {"count": len(kept), "rate": round(len(kept) / total, 4) if total else 0.0},
                             "duplicate": {"count": dup, "rate": round(dup / total, 4) if total else 0.0},
                             **{r: {"count": c, "rate": round(c / total, 4)} for r, c in sorted(by_reason.items())}},
               "requests_sent": client.requests_sent, "cache_hits": cache_hits, "cache_entries": n_cached,
               "seconds": round(time.monotonic() - t0, 2), "model": e.model, "base_url": e.base_url,
               "sandbox_mode": sandbox_mode}
    if len(kept) + dup + len(failures) != total:
        raise AssertionError(f"synth run ledger mismatch: {len(kept)} + {dup} + {len(failures)} != {total} (a bug)")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary
