"""`gristmill lab serve`: a trained run behind an OpenAI-compatible HTTP API (FastAPI + uvicorn).

Endpoints: GET /v1/models, POST /v1/completions, POST /v1/chat/completions, with temperature,
max_tokens, stop, n and seed. Shapes follow the OpenAI API reference so the official `openai`
client works unchanged. Errors come back as OpenAI-style `{"error": {...}}` with 400 (bad request),
404 (unknown model) or 422-free validation (mapped to 400, as OpenAI does).

Requests run in FastAPI's thread pool: inference under `torch.no_grad` is thread-safe, so requests
proceed concurrently. Prompts longer than the model's context keep their last `seq_len` tokens.
"""
from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Optional, Union

import torch
from pydantic import BaseModel, ConfigDict, Field

MAX_TOKENS_CAP = 2048  # per request; a tiny model at ~100 tokens/s would take minutes beyond this
MAX_N = 16


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send fields we ignore (user, logit_bias=None...)
    model: str
    prompt: Union[str, list[str]]
    max_tokens: int = Field(16, ge=1, le=MAX_TOKENS_CAP)  # OpenAI's default for completions
    temperature: float = Field(1.0, ge=0.0, le=2.0)       # OpenAI's default and range
    stop: Optional[Union[str, list[str]]] = None
    n: int = Field(1, ge=1, le=MAX_N)
    seed: Optional[int] = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: Optional[int] = Field(None, ge=1, le=MAX_TOKENS_CAP)
    max_completion_tokens: Optional[int] = Field(None, ge=1, le=MAX_TOKENS_CAP)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    stop: Optional[Union[str, list[str]]] = None
    n: int = Field(1, ge=1, le=MAX_N)
    seed: Optional[int] = None


def chat_prompt(messages: list[Message]) -> str:
    """A plain transcript: the model was trained on text, not a chat template."""
    return "".join(f"{m.role}: {m.content}\n" for m in messages) + "assistant:"


class Engine:
    def __init__(self, run: Path, name: str | None = None):
        from gristmill.lab.train import load_run

        from gristmill.lab import checkpoint

        self.model, self.tok, self.cfg, _ = load_run(run)
        self.name = name or Path(run).resolve().name
        self.created = int((checkpoint.require(run) / "meta.json").stat().st_mtime)

    @torch.no_grad()
    def complete(self, prompt: str, max_tokens: int, temperature: float, stop: list[str], n: int,
                 seed: int | None) -> list[tuple[str, str, int, int]]:
        """n (text, finish_reason, prompt_tokens, completion_tokens)."""
        ids = self.tok.encode(prompt)[-(self.model.config.seq_len - 1):] or [self.tok.eos_id]
        g = torch.Generator()
        g.manual_seed(seed if seed is not None else int.from_bytes(uuid.uuid4().bytes[:6], "little"))
        eos = self.tok.eos_id

        def hit_stop(_row: int, new: list[int]) -> bool:
            return bool(stop) and new[-1] != eos and any(x in self.tok.decode(new) for x in stop)

        # the n choices decode together: one batch through the KV cache (GPT.generate). fp32 whatever the
        # run trained in: decoding a few rows is overhead-bound, and bf16 autocast's casts made it slower
        # (benchmarks/RESULTS.md, lab speed: generation)
        gens = self.model.generate([ids] * n, max_tokens, temperature=temperature, generator=g, stop_ids={eos},
                                   stop_fn=hit_stop)
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


def build_app(engine: Engine):
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    app = FastAPI(title="gristmill lab", version="1")

    def error(status: int, message: str, param: str | None = None, code: str | None = None):
        kind = {400: "invalid_request_error", 404: "invalid_request_error"}.get(status, "server_error")
        return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _bad(_req: Request, exc: RequestValidationError):
        e = exc.errors()[0]
        loc = ".".join(str(x) for x in e["loc"] if x != "body")
        return error(400, f"{loc}: {e['msg']}" if loc else e["msg"], param=loc or None)

    def check(req) -> JSONResponse | list[str]:
        if req.model != engine.name:
            return error(404, f"The model {req.model!r} does not exist; this server has {engine.name!r}", "model", "model_not_found")
        stop = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
        if len(stop) > 4 or any(not s for s in stop):
            return error(400, "stop: up to 4 non-empty strings", "stop")
        return stop

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": engine.name, "object": "model", "created": engine.created, "owned_by": "gristmill"}]}

    @app.get("/v1/models/{model_id}")
    def model(model_id: str):
        if model_id != engine.name:
            return error(404, f"The model {model_id!r} does not exist", "model", "model_not_found")
        return {"id": engine.name, "object": "model", "created": engine.created, "owned_by": "gristmill"}

    @app.post("/v1/completions")
    def completions(req: CompletionRequest):
        stop = check(req)
        if isinstance(stop, JSONResponse):
            return stop
        prompts = [req.prompt] if isinstance(req.prompt, str) else req.prompt
        if not prompts:
            return error(400, "prompt: give a string or a non-empty list of strings", "prompt")
        choices, pt, ct = [], 0, 0
        for i, p in enumerate(prompts):
            for j, (text, reason, a, b) in enumerate(engine.complete(p, req.max_tokens, req.temperature, stop, req.n,
                                                                      None if req.seed is None else req.seed + i)):
                choices.append({"text": text, "index": i * req.n + j, "logprobs": None, "finish_reason": reason})
                pt, ct = pt + (a if j == 0 else 0), ct + b
        return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
                "model": engine.name, "choices": choices,
                "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}}

    @app.post("/v1/chat/completions")
    def chat(req: ChatRequest):
        stop = check(req)
        if isinstance(stop, JSONResponse):
            return stop
        max_tokens = req.max_completion_tokens or req.max_tokens or 256
        res = engine.complete(chat_prompt(req.messages), max_tokens, req.temperature, stop + ["\nuser:"], req.n, req.seed)
        choices = [{"index": j, "message": {"role": "assistant", "content": text.strip()}, "logprobs": None,
                    "finish_reason": reason} for j, (text, reason, _, _) in enumerate(res)]
        pt, ct = res[0][2], sum(r[3] for r in res)
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": engine.name, "choices": choices,
                "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}}

    return app


def serve(run: Path, host: str = "127.0.0.1", port: int = 8000, name: str | None = None, log_level: str = "info"):
    import uvicorn

    from gristmill.lab.train import use_all_cores

    use_all_cores()
    uvicorn.run(build_app(Engine(run, name)), host=host, port=port, log_level=log_level)
