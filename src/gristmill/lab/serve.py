"""`gristmill lab serve`: a trained run behind an OpenAI-compatible HTTP API (FastAPI + uvicorn).

Endpoints: GET /v1/models, POST /v1/completions, POST /v1/chat/completions, with temperature,
max_tokens, stop, n, seed and `stream` (server-sent events, as the OpenAI API streams: `data: {chunk}`
lines and a final `data: [DONE]`). Shapes follow the OpenAI API reference so the official `openai`
client works unchanged. Every error, including an unknown path and a body that is not JSON, comes back
as OpenAI's `{"error": {"message", "type", "param", "code"}}` with a 4xx status.

Every request is bounded before any work starts, so no request can hold the machine for long:
- the body: at most `MAX_BODY_BYTES` (413 beyond it, checked while reading, chunked bodies too);
- the work: prompts x n x max_tokens at most `MAX_REQUEST_TOKENS`, at most `MAX_PROMPTS` prompts;
- the context: a prompt keeps its last `seq_len - 1` tokens (what the model can attend to).
Generation stops at the next token when the client disconnects or the server is asked to stop
(SIGTERM/SIGINT), so a shutdown takes about one decoding step, not the rest of every request.

Requests decode in worker threads: inference under `torch.no_grad` is thread-safe, so requests proceed
concurrently.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Optional, Union

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request  # module level: FastAPI resolves endpoint annotations here

MAX_TOKENS_CAP = 2048  # per choice; a tiny model at ~100 tokens/s would take minutes beyond this
MAX_N = 16
MAX_PROMPTS = 64
# one request's whole budget: one prompt at the caps above (16 x 2048). A request over it could keep
# a core busy for hours (1,000 prompts x 16 x 2,048 = 33M tokens, issue 19)
MAX_REQUEST_TOKENS = MAX_N * MAX_TOKENS_CAP
MAX_BODY_BYTES = 1 << 20  # 1 MiB: ~250k words of prompt, far past any lab model's context
# below this a temperature overflows float32 logits (1e-45 is subnormal: logits / t = inf, softmax NaN)
MIN_TEMPERATURE = 1e-3
INT64 = (-(2 ** 63), 2 ** 63 - 1)
SHUTDOWN_GRACE_S = 3  # uvicorn's graceful-shutdown timeout: the backstop after generations are told to stop

log = logging.getLogger("uvicorn.error")


def _utf8(v):
    """Lone surrogates (JSON allows `\\ud800`) cannot be encoded: refuse them here, not in the tokenizer."""
    for s in ([v] if isinstance(v, str) else v or []):
        if isinstance(s, str):
            try:
                s.encode("utf-8")
            except UnicodeEncodeError as e:
                raise ValueError(f"not valid Unicode text (a lone surrogate at position {e.start})") from None
    return v


def _temperature(t: float) -> float:
    if 0 < t < MIN_TEMPERATURE:
        raise ValueError(f"give 0 (greedy) or at least {MIN_TEMPERATURE}; smaller values overflow the sampling")
    return t


class _Request(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send fields we ignore (user, logit_bias=None...)
    model: str
    temperature: float = Field(1.0, ge=0.0, le=2.0, allow_inf_nan=False)  # OpenAI's default and range
    stop: Optional[Union[str, list[str]]] = None
    n: int = Field(1, ge=1, le=MAX_N)
    seed: Optional[int] = Field(None, ge=INT64[0], le=INT64[1])  # what torch.manual_seed takes
    stream: bool = False
    stream_options: Optional[dict] = None

    check_temperature = field_validator("temperature")(_temperature)
    check_text = field_validator("model", "stop")(_utf8)


class CompletionRequest(_Request):
    prompt: Union[str, list[str]]
    max_tokens: int = Field(16, ge=1, le=MAX_TOKENS_CAP)  # OpenAI's default for completions

    check_prompt = field_validator("prompt")(_utf8)

    @field_validator("prompt")
    @classmethod
    def few_prompts(cls, v):
        if isinstance(v, list) and len(v) > MAX_PROMPTS:
            raise ValueError(f"{len(v)} prompts; at most {MAX_PROMPTS} per request")
        return v


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str

    check_message = field_validator("role", "content")(_utf8)


class ChatRequest(_Request):
    messages: list[Message] = Field(min_length=1)
    max_tokens: Optional[int] = Field(None, ge=1, le=MAX_TOKENS_CAP)
    max_completion_tokens: Optional[int] = Field(None, ge=1, le=MAX_TOKENS_CAP)


def chat_prompt(messages: list[Message]) -> str:
    """A plain transcript: the model was trained on text, not a chat template."""
    return "".join(f"{m.role}: {m.content}\n" for m in messages) + "assistant:"


class Cancelled(Exception):
    pass


class Engine:
    def __init__(self, run: Path, name: str | None = None):
        from gristmill.lab import checkpoint
        from gristmill.lab.train import load_run

        self.model, self.tok, self.cfg, _ = load_run(run)
        self.name = name or Path(run).resolve().name
        self.created = int((checkpoint.require(run) / "meta.json").stat().st_mtime)
        self.shutdown = threading.Event()  # set on SIGTERM: every generation stops at its next token

    @torch.no_grad()
    def complete(self, prompt: str, max_tokens: int, temperature: float, stop: list[str], n: int,
                 seed: int | None, cancel: threading.Event | None = None,
                 on_text=None) -> list[tuple[str, str, int, int]]:
        """n (text, finish_reason, prompt_tokens, completion_tokens). `cancel` set: stop at the next
        token and raise Cancelled. `on_text(row, text_so_far)` after each token (streaming)."""
        ids = self.tok.encode(prompt)[-(self.model.config.seq_len - 1):] or [self.tok.eos_id]
        g = torch.Generator()
        # torch seeds are 64-bit unsigned: a negative int64 seed maps onto that range one to one
        g.manual_seed(seed % 2 ** 64 if seed is not None else int.from_bytes(uuid.uuid4().bytes[:6], "little"))
        eos = self.tok.eos_id

        def stopped() -> bool:
            return self.shutdown.is_set() or (cancel is not None and cancel.is_set())

        def hit_stop(row: int, new: list[int]) -> bool:
            if stopped():
                return True
            if on_text is not None and new[-1] != eos:
                on_text(row, self.tok.decode(new))
            return bool(stop) and new[-1] != eos and any(x in self.tok.decode(new) for x in stop)

        # the n choices decode together: one batch through the KV cache (GPT.generate). fp32 whatever the
        # run trained in: decoding a few rows is overhead-bound, and bf16 autocast's casts made it slower
        # (benchmarks/RESULTS.md, lab speed: generation)
        gens = self.model.generate([ids] * n, max_tokens, temperature=temperature, generator=g, stop_ids={eos},
                                   stop_fn=hit_stop)
        if stopped():
            raise Cancelled(f"after {sum(map(len, gens))} tokens")
        out = []
        for gen in gens:
            reason = "length"
            if gen and gen[-1] == eos:
                gen, reason = gen[:-1], "stop"
            text = self.tok.decode(gen)
            if stop:
                cut = min((text.find(x) for x in stop if x in text), default=-1)
                if cut >= 0:
                    text, reason = text[:cut], "stop"
            out.append((text, reason, len(ids), len(gen)))
        return out


def _stable(text: str, stop: list[str], chat: bool) -> str:
    """The part of a growing decoded text that can be sent now: never past a stop string (or the part of
    one that may be forming), nor a trailing replacement character (half a UTF-8 sequence), nor (chat)
    whitespace that the final answer strips."""
    cut = min((text.find(x) for x in stop if x in text), default=-1)
    if cut >= 0:
        text = text[:cut]
    else:
        hold = max((len(x) - 1 for x in stop), default=0)
        text = text[:len(text) - hold] if hold else text
    text = text.rstrip("\ufffd")
    if chat:
        text = text.strip()
    return text


class BodyLimit:
    """ASGI middleware: read at most `limit` bytes of a request body (Content-Length or chunked), answer
    413 beyond it, and hand the app the buffered body followed by the connection's own messages (so a
    disconnect is still seen)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._too_large(send)
        chunks, size, more = [], 0, True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunks.append(msg.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await self._too_large(send)
            more = msg.get("more_body", False)
        body = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay():
            return body.pop() if body else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send):
        data = json.dumps({"error": {"message": f"request body over {self.limit:,} bytes", "type": "invalid_request_error",
                                     "param": None, "code": "request_too_large"}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": data})


def build_app(engine: Engine, max_body_bytes: int = MAX_BODY_BYTES):
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    app = FastAPI(title="gristmill lab", version="1")

    def error(status: int, message: str, param: str | None = None, code: str | None = None):
        kind = "invalid_request_error" if 400 <= status < 500 else "server_error"
        return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _bad(_req: Request, exc: RequestValidationError):
        e = exc.errors()[0]
        if e.get("type") == "json_invalid":  # loc is ("body", offset): an offset is not a parameter
            pos = e["loc"][1] if len(e["loc"]) > 1 else "?"
            reason = (e.get("ctx") or {}).get("error", "invalid JSON")
            return error(400, f"the request body is not valid JSON ({reason} at character {pos})", code="invalid_json")
        loc = ".".join(str(x) for x in e["loc"] if x != "body")
        msg = e["msg"].removeprefix("Value error, ")
        return error(400, f"{loc}: {msg}" if loc else msg, param=loc or None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(req: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            return error(404, f"no such endpoint: {req.method} {req.url.path} (this server has /v1/models, "
                              "/v1/completions, /v1/chat/completions)", code="unknown_url")
        return error(exc.status_code, str(exc.detail))

    def check(req, prompts: int, max_tokens: int) -> JSONResponse | list[str]:
        if req.model != engine.name:
            return error(404, f"The model {req.model!r} does not exist; this server has {engine.name!r}", "model", "model_not_found")
        stop = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
        if len(stop) > 4 or any(not s for s in stop):
            return error(400, "stop: up to 4 non-empty strings", "stop")
        if prompts * req.n * max_tokens > MAX_REQUEST_TOKENS:
            return error(400, f"{prompts} prompt(s) x n={req.n} x max_tokens={max_tokens} = {prompts * req.n * max_tokens:,} "
                              f"tokens; at most {MAX_REQUEST_TOKENS:,} per request (split the work over requests)",
                         "max_tokens", "request_too_large")
        return stop

    async def run(request: Request, fn):
        """fn(cancel) in a worker thread; cancel is set when the client goes away or this coroutine is
        cancelled (uvicorn's shutdown), so the generation stops at its next token."""
        cancel = threading.Event()
        task = asyncio.ensure_future(asyncio.to_thread(fn, cancel))
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=0.25)
                if done:
                    return task.result()
                if await request.is_disconnected():
                    cancel.set()
                    try:
                        await task
                    except Cancelled as e:
                        log.info("generation cancelled: the client disconnected %s", e)
                    return None
        finally:
            cancel.set()

    def unavailable(e: Cancelled):
        log.info("generation cancelled: the server is shutting down %s", e)
        return error(503, "the server is shutting down", code="shutting_down")

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": engine.name, "object": "model", "created": engine.created, "owned_by": "gristmill"}]}

    @app.get("/v1/models/{model_id}")
    def model(model_id: str):
        if model_id != engine.name:
            return error(404, f"The model {model_id!r} does not exist", "model", "model_not_found")
        return {"id": engine.name, "object": "model", "created": engine.created, "owned_by": "gristmill"}

    def sse(request: Request, jobs, make_chunk, usage: bool, final_text):
        """Server-sent events for `jobs` [(index0, prompt_args)], each job's n choices streamed as they grow."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()

        def work():
            try:
                for base, args in jobs:
                    res = engine.complete(*args, cancel=cancel,
                                          on_text=lambda row, text, b=base: loop.call_soon_threadsafe(queue.put_nowait, ("text", b + row, text)))
                    loop.call_soon_threadsafe(queue.put_nowait, ("done", base, res))
            except Cancelled as e:
                log.info("generation stopped %s", e)
                loop.call_soon_threadsafe(queue.put_nowait, ("cancelled", 0, e))
            except Exception as e:  # noqa: BLE001 -- reported in the stream, never a dead connection
                loop.call_soon_threadsafe(queue.put_nowait, ("failed", 0, e))
            loop.call_soon_threadsafe(queue.put_nowait, ("end", 0, None))

        async def events():
            thread = asyncio.ensure_future(asyncio.to_thread(work))
            sent: dict[int, str] = {}
            pt = ct = 0
            finished = False
            try:
                while True:
                    try:
                        kind, idx, val = await asyncio.wait_for(queue.get(), timeout=0.25)
                    except asyncio.TimeoutError:
                        if await request.is_disconnected():
                            return
                        continue
                    if kind == "text":
                        stable = final_text(val, stable=True)
                        old = sent.get(idx, "")
                        if stable.startswith(old) and len(stable) > len(old):
                            sent[idx] = stable
                            yield "data: " + json.dumps(make_chunk(idx, stable[len(old):], None, first=not old)) + "\n\n"
                    elif kind == "done":
                        for j, (text, reason, a, b) in enumerate(val):
                            i = idx + j
                            text = final_text(text, stable=False)
                            old = sent.get(i, "")
                            rest = text[len(old):] if text.startswith(old) else ""
                            yield "data: " + json.dumps(make_chunk(i, rest, reason, first=not old)) + "\n\n"
                            pt, ct = pt + (a if j == 0 else 0), ct + b
                    elif kind == "cancelled":
                        finished = True
                        log.info("generation cancelled: the server is shutting down (stream) %s", val)
                        yield "data: " + json.dumps({"error": {"message": "the server is shutting down", "type": "server_error",
                                                               "param": None, "code": "shutting_down"}}) + "\n\n"
                        return
                    elif kind == "failed":
                        finished = True
                        log.exception("generation failed", exc_info=val)
                        yield "data: " + json.dumps({"error": {"message": f"generation failed: {val}", "type": "server_error",
                                                               "param": None, "code": None}}) + "\n\n"
                        return
                    else:
                        break
                if usage:
                    yield "data: " + json.dumps({**make_chunk(0, "", None, first=False), "choices": [],
                                                 "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}}) + "\n\n"
                yield "data: [DONE]\n\n"
                finished = True
            finally:
                # a client gone mid-stream (Starlette cancels this generator when it sees the disconnect):
                # the worker stops at its next token
                cancel.set()
                if not finished:
                    log.info("generation cancelled: the client disconnected (stream)")
                del thread

        return StreamingResponse(events(), media_type="text/event-stream", headers={"cache-control": "no-cache"})

    def want_usage(req) -> bool:
        return bool((req.stream_options or {}).get("include_usage"))

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest, request: Request):
        prompts = [req.prompt] if isinstance(req.prompt, str) else req.prompt
        if not prompts:
            return error(400, "prompt: give a string or a non-empty list of strings", "prompt")
        stop = check(req, len(prompts), req.max_tokens)
        if isinstance(stop, JSONResponse):
            return stop
        seeds = [None if req.seed is None else req.seed + i for i in range(len(prompts))]
        cid, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
        if req.stream:
            def chunk(i, text, reason, first):
                return {"id": cid, "object": "text_completion", "created": created, "model": engine.name,
                        "choices": [{"text": text, "index": i, "logprobs": None, "finish_reason": reason}]}

            jobs = [(i * req.n, (p, req.max_tokens, req.temperature, stop, req.n, seeds[i])) for i, p in enumerate(prompts)]
            return sse(request, jobs, chunk, want_usage(req),
                       lambda t, stable: _stable(t, stop, chat=False) if stable else t)

        def work(cancel):
            return [engine.complete(p, req.max_tokens, req.temperature, stop, req.n, seeds[i], cancel=cancel)
                    for i, p in enumerate(prompts)]

        try:
            results = await run(request, work)
        except Cancelled as e:
            return unavailable(e)
        if results is None:
            return error(400, "the client disconnected", code="client_disconnected")
        choices, pt, ct = [], 0, 0
        for i, res in enumerate(results):
            for j, (text, reason, a, b) in enumerate(res):
                choices.append({"text": text, "index": i * req.n + j, "logprobs": None, "finish_reason": reason})
                pt, ct = pt + (a if j == 0 else 0), ct + b
        return {"id": cid, "object": "text_completion", "created": created,
                "model": engine.name, "choices": choices,
                "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}}

    @app.post("/v1/chat/completions")
    async def chat(req: ChatRequest, request: Request):
        max_tokens = req.max_completion_tokens or req.max_tokens or 256
        stop = check(req, 1, max_tokens)
        if isinstance(stop, JSONResponse):
            return stop
        prompt, stops = chat_prompt(req.messages), stop + ["\nuser:"]
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if req.stream:
            def chunk(i, text, reason, first):
                delta = ({"role": "assistant", "content": text} if first else {"content": text}) if text or first else {}
                return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": engine.name,
                        "choices": [{"index": i, "delta": delta, "logprobs": None, "finish_reason": reason}]}

            return sse(request, [(0, (prompt, max_tokens, req.temperature, stops, req.n, req.seed))], chunk, want_usage(req),
                       lambda t, stable: _stable(t, stops, chat=True) if stable else t.strip())
        try:
            res = await run(request, lambda cancel: engine.complete(prompt, max_tokens, req.temperature, stops, req.n,
                                                                    req.seed, cancel=cancel))
        except Cancelled as e:
            return unavailable(e)
        if res is None:
            return error(400, "the client disconnected", code="client_disconnected")
        choices = [{"index": j, "message": {"role": "assistant", "content": text.strip()}, "logprobs": None,
                    "finish_reason": reason} for j, (text, reason, _, _) in enumerate(res)]
        pt, ct = res[0][2], sum(r[3] for r in res)
        return {"id": cid, "object": "chat.completion", "created": created,
                "model": engine.name, "choices": choices,
                "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}}

    return BodyLimit(app, max_body_bytes)


def serve(engine: Engine, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info"):
    import uvicorn

    from gristmill.lab.train import use_all_cores

    use_all_cores()

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            engine.shutdown.set()  # generations in worker threads stop at their next token
            super().handle_exit(sig, frame)

    config = uvicorn.Config(build_app(engine), host=host, port=port, log_level=log_level,
                            timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
    Server(config).run()
