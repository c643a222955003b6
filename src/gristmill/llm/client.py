"""A chat-completions client for any OpenAI-compatible endpoint, with retries, backoff, timeouts and
an on-disk cache; every call ends in a response or a classified failure, never an exception.

Retry policy (as the official ``openai`` client does, ``_base_client.py``): connection errors,
timeouts, HTTP 408/409/429 and 5xx are retried up to ``max_retries`` times with exponential backoff
and jitter (``backoff_s * 2**attempt``, ×0.5–1.5), honouring ``Retry-After``; other 4xx are final.

The cache (SQLite in the output directory) maps a hash of (model, request body, sample index) to
the response JSON. Only complete, well-formed responses are stored, so a re-run pays for nothing it
already has and retries only what failed; after a crash the next run resumes from the cache.
"""
from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import xxhash

RETRY_STATUS = {408, 409, 429} | set(range(500, 600))


@dataclass
class Reply:
    text: str | None  # the assistant message, when there is one
    reason: str | None  # None on success; else unreachable | timeout | http_error | malformed
    detail: str = ""
    attempts: int = 0
    cached: bool = False
    usage: dict | None = None


class RequestCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")  # a crash mid-write leaves earlier entries intact
        self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, body TEXT NOT NULL)")
        self._lock = threading.Lock()

    def get(self, key: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, body: dict) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?)", (key, json.dumps(body)))

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _message_text(body, api: str = "chat") -> str:
    """The generated text of a (chat) completions body; raises ValueError when it has none."""
    if not isinstance(body, dict):
        raise ValueError("the response is not a JSON object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("the response has no choices")
    if api == "completions":
        text = choices[0].get("text")
        if not isinstance(text, str):
            raise ValueError("choices[0].text is missing or not a string")
        return text
    msg = choices[0].get("message")
    text = msg.get("content") if isinstance(msg, dict) else None
    if not isinstance(text, str):
        raise ValueError("choices[0].message.content is missing or not a string")
    return text


class ChatClient:
    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout_s: float = 60.0,
                 max_retries: int = 3, backoff_s: float = 1.0, cache: RequestCache | None = None,
                 concurrency: int = 4, extra_body: dict | None = None, api: str = "chat"):
        if api not in ("chat", "completions"):
            raise ValueError(f"api must be 'chat' or 'completions', not {api!r}")
        self.api = api
        self.url = base_url.rstrip("/") + ("/chat/completions" if api == "chat" else "/completions")
        self.model, self.max_retries, self.backoff_s, self.cache = model, max_retries, backoff_s, cache
        self.extra_body = extra_body or {}
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(timeout=httpx.Timeout(timeout_s), headers=headers,
                                 limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency))
        self.requests_sent = 0
        self._lock = threading.Lock()

    def close(self):
        self.http.close()

    def key(self, body: dict, sample: int) -> str:
        return xxhash.xxh3_128_hexdigest(json.dumps([self.model, body, sample], sort_keys=True).encode())

    def chat(self, messages: list[dict], *, sample: int = 0, **params) -> Reply:
        if self.api == "chat":
            body = {"model": self.model, "messages": messages, **self.extra_body, **params}
        else:  # a base model behind /v1/completions: the conversation as one prompt
            prompt = "\n\n".join(m["content"] for m in messages) + "\n\n"
            body = {"model": self.model, "prompt": prompt, **self.extra_body, **params}
        key = self.key(body, sample)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return Reply(_message_text(hit, self.api), None, "cache", 0, True, hit.get("usage"))
        reason, detail, retry_after = None, "", None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self._delay(attempt, retry_after))
                retry_after = None
            with self._lock:
                self.requests_sent += 1
            try:
                r = self.http.post(self.url, json=body)
            except httpx.TimeoutException as e:
                reason, detail = "timeout", f"{type(e).__name__} after {self.http.timeout.read}s"
                continue
            except httpx.HTTPError as e:  # refused, reset, or closed before a response: no answer at all
                reason, detail = "unreachable", f"{type(e).__name__}: {e}"
                continue
            if r.status_code != 200:
                reason, detail = "http_error", f"HTTP {r.status_code}: {r.text[:200]}"
                retry_after = r.headers.get("retry-after")
                if r.status_code in RETRY_STATUS:
                    continue
                return Reply(None, reason, detail, attempt + 1)
            try:
                data = r.json()
                text = _message_text(data, self.api)
            except ValueError as e:
                # garbage from a 200: retried (a flaky proxy), then reported as malformed
                reason, detail = "malformed", f"{e}: {r.text[:200]!r}"
                continue
            if self.cache is not None:
                self.cache.put(key, data)
            return Reply(text, None, "", attempt + 1, False, data.get("usage"))
        return Reply(None, reason, detail, self.max_retries + 1)

    def _delay(self, attempt: int, ra: str | None) -> float:
        if ra:
            try:
                return min(float(ra), 60.0)
            except ValueError:
                pass
        return self.backoff_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
