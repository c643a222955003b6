"""Server abuse cases against a real `gristmill lab serve` (uvicorn on 127.0.0.1), issue 19 item 6.

Trains a tiny run (seconds), serves it, and sends each abusive request: what status came back, how
long the answer took, and the server's resident memory after it (VmRSS) and at peak (VmHWM). Then a
client that disconnects mid-generation (how many tokens the worker made before it stopped) and a
SIGTERM during two ~1-minute generations (seconds until the process exited).

    PYTHONPATH=src python benchmarks/bench_lab_serve_abuse.py [--work DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, machine, write_fragment  # noqa: E402

GM = [sys.executable, "-c", "from gristmill.cli import main; main()"]
LONG = {"model": "run", "prompt": "The module", "max_tokens": 2048, "n": 16, "temperature": 0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mem(pid: int) -> tuple[float, float]:
    st = dict(x.split(":", 1) for x in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in x)
    return int(st["VmRSS"].split()[0]) / 1024, int(st["VmHWM"].split()[0]) / 1024


def start(run: Path, log: Path):
    port = free_port()
    p = subprocess.Popen(GM + ["lab", "serve", str(run), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    base = f"http://127.0.0.1:{port}/v1"
    while True:
        if p.poll() is not None:
            raise SystemExit(log.read_text())
        try:
            httpx.get(base + "/models", timeout=1)
            return p, base
        except httpx.HTTPError:
            time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=WORK / "serve_abuse")
    a = ap.parse_args()
    w = a.work
    w.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import stdlib_docs, write_jsonl

    if not (w / "run" / "final.json").exists():
        write_jsonl(w / "train.jsonl", stdlib_docs(200))
        (w / "cfg.yaml").write_text("model: {preset: tiny, n_layer: 2, d_model: 64, n_head: 2}\nthreads: 1\n"
                                    "data: [train.jsonl]\nseq_len: 64\nbatch_size: 8\ntokens: 4000\n")
        subprocess.run(GM + ["lab", "train", str(w / "cfg.yaml"), "-o", str(w / "run"), "--no-progress"], check=True,
                       stdout=subprocess.DEVNULL)
    load = os.getloadavg()
    p, base = start(w / "run", w / "server.log")
    rss0 = mem(p.pid)[0]
    ok = {"model": "run", "prompt": "x", "max_tokens": 2}

    def chunked(total: int):
        yield b'{"model": "run", "prompt": "'
        for _ in range(total // 65536):
            yield b"a" * 65536

    cases = [
        ("1,000 prompts x n=16 x max_tokens=2,048 (33M tokens)", "post", {**ok, "prompt": ["hello"] * 1000, "n": 16, "max_tokens": 2048}),
        ("3 prompts x n=16 x max_tokens=2,048 (over the 32,768-token budget)", "post", {**ok, "prompt": ["a"] * 3, "n": 16, "max_tokens": 2048}),
        ("60 MB prompt (Content-Length)", "post", {**ok, "prompt": "word " * 12_000_000}),
        ("60 MB body, chunked (no Content-Length)", "raw", chunked(60 << 20)),
        ("temperature 1e-45", "post", {**ok, "temperature": 1e-45}),
        ("seed 2**64", "post", {**ok, "seed": 2 ** 64}),
        ("lone surrogate in the prompt", "raw", b'{"model": "run", "prompt": "\\ud800"}'),
        ("65 prompts", "post", {**ok, "prompt": ["a"] * 65}),
        ("unknown path", "get", "/v1/nope"),
        ("body not JSON", "raw", b'{"model": 9,'),
        ("prompt past the context (25,000 bytes; keeps the last 63 tokens)", "post", {**ok, "prompt": "long " * 5000}),
    ]
    rows = []
    for name, how, body in cases:
        t0 = time.perf_counter()
        if how == "post":
            r = httpx.post(base + "/completions", json=body, timeout=600)
        elif how == "raw":
            r = httpx.post(base + "/completions", content=body, headers={"content-type": "application/json"}, timeout=600)
        else:
            r = httpx.get(base.removesuffix("/v1") + body, timeout=60)
        dt = time.perf_counter() - t0
        rss, hwm = mem(p.pid)
        code = (r.json().get("error") or {}).get("code") if r.status_code >= 400 else "served"
        rows.append((name, r.status_code, code, dt, rss, hwm))
        print(rows[-1], flush=True)

    # streaming with the official client
    import openai

    client = openai.OpenAI(base_url=base, api_key="x", max_retries=0)
    t0 = time.perf_counter()
    chunks = list(client.completions.create(model="run", prompt="The module", max_tokens=64, temperature=0, stream=True))
    rows.append(("stream: true, openai client (64 tokens)", 200, f"{len(chunks)} chunks", time.perf_counter() - t0, *mem(p.pid)))

    # a client that disconnects: tokens made before the worker stopped, and how long it took to notice
    t0 = time.perf_counter()
    with httpx.stream("POST", base + "/completions", json={**LONG, "stream": True}, timeout=600) as r:
        next(r.iter_lines())
        t_close = time.perf_counter()
    while "generation stopped after" not in (w / "server.log").read_text():
        time.sleep(0.05)
    stop_s = time.perf_counter() - t_close
    made = [x for x in (w / "server.log").read_text().splitlines() if "generation stopped after" in x][-1].split("after ")[1]
    rows.append((f"client disconnects during n=16 x 2,048 tokens (stopped after {made})", "-", "cancelled", stop_s, *mem(p.pid)))

    # SIGTERM during two long generations
    res = {}
    th = threading.Thread(target=lambda: res.setdefault("r", httpx.post(base + "/completions", json=LONG, timeout=600).status_code))
    th.start()
    with httpx.stream("POST", base + "/completions", json={**LONG, "stream": True}, timeout=600) as r:
        lines = r.iter_lines()
        next(lines)
        time.sleep(1)
        t0 = time.perf_counter()
        p.send_signal(signal.SIGTERM)
        for _ in lines:
            pass
    p.wait()
    exit_s = time.perf_counter() - t0
    th.join()
    # uvicorn re-raises the signal once its shutdown is done, so a clean stop exits by SIGTERM (-15)
    rows.append(("SIGTERM during two n=16 x 2,048-token generations (~1 min each)",
                 "stopped (SIGTERM)" if p.returncode == -signal.SIGTERM else f"exit {p.returncode}",
                 f"in-flight: {res.get('r')}", exit_s, float("nan"), float("nan")))

    lines = [f"Machine: {machine()}; load average before the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min); "
             f"server RSS at start {rss0:.0f} MiB; tiny model (2 layers, d=64, seq_len 64, byte tokenizer), 1 torch thread "
             "per request.", "",
             "| abuse case | status | code | answered in (s) | server RSS after (MiB) | server peak RSS (MiB) |", "|---|---|---|---|---|---|"]
    for name, st, code, dt, rss, hwm in rows:
        lines.append(f"| {name} | {st} | {'null' if code is None else code} | {dt:.2f} | {'-' if rss != rss else f'{rss:.0f}'} | {'-' if hwm != hwm else f'{hwm:.0f}'} |")
    out = "\n".join(lines) + "\n"
    (w / "results.json").write_text(json.dumps({"rows": rows, "load": load}, default=str, indent=2))
    write_fragment("lab_serve_abuse", out)


if __name__ == "__main__":
    main()
