"""`gristmill lab serve` over real HTTP on 127.0.0.1, driven by the official `openai` client."""
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    write_jsonl(root / "train.jsonl", stdlib_docs(200))
    (root / "cfg.yaml").write_text("model: {preset: tiny, n_layer: 2, d_model: 64, n_head: 2}\nthreads: 1\n"
                                   "data: [train.jsonl]\nseq_len: 64\nbatch_size: 8\ntokens: 4000\n")
    r = CliRunner().invoke(app, ["lab", "train", str(root / "cfg.yaml"), "-o", str(root / "mini")])
    assert r.exit_code == 0, r.output
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.Popen([sys.executable, "-c", "from gristmill.cli import main; main()", "lab", "serve", str(root / "mini"), "--port", str(port)],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}/v1"
        for _ in range(600):
            if p.poll() is not None:
                raise RuntimeError(p.stderr.read().decode())
            try:
                httpx.get(base + "/models", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield openai.OpenAI(base_url=base, api_key="unused", max_retries=0, timeout=120), base
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def test_models_and_completions(server):
    client, _ = server
    assert [m.id for m in client.models.list()] == ["mini"]
    r = client.completions.create(model="mini", prompt="The module", max_tokens=12, n=3, temperature=0.9, seed=5)
    assert len(r.choices) == 3 and r.usage.prompt_tokens == len("The module".encode())
    assert all(c.finish_reason in ("length", "stop") for c in r.choices)
    assert r.usage.completion_tokens <= 36
    again = client.completions.create(model="mini", prompt="The module", max_tokens=12, n=3, temperature=0.9, seed=5)
    assert [c.text for c in again.choices] == [c.text for c in r.choices]  # seed reproduces
    g1 = client.completions.create(model="mini", prompt="Return the", max_tokens=10, temperature=0)
    g2 = client.completions.create(model="mini", prompt="Return the", max_tokens=10, temperature=0)
    assert g1.choices[0].text == g2.choices[0].text and g1.choices[0].finish_reason == "length"
    # stop: the text ends before the first stop string, finish_reason says why
    full = g1.choices[0].text
    stop = full[3:5] if len(full) >= 5 and full[3:5].strip() else None
    if stop:
        s = client.completions.create(model="mini", prompt="Return the", max_tokens=10, temperature=0, stop=[stop])
        assert s.choices[0].text == full[:full.find(stop)] and s.choices[0].finish_reason == "stop"


def test_chat_and_concurrency(server):
    client, _ = server
    r = client.chat.completions.create(model="mini", messages=[{"role": "user", "content": "Hello"}], max_tokens=8, seed=1)
    assert r.choices[0].message.role == "assistant" and isinstance(r.choices[0].message.content, str)
    with ThreadPoolExecutor(6) as ex:
        outs = list(ex.map(lambda i: client.completions.create(model="mini", prompt=f"Item {i}", max_tokens=6, temperature=0),
                           range(6)))
    assert [len(o.choices) for o in outs] == [1] * 6
    solo = client.completions.create(model="mini", prompt="Item 3", max_tokens=6, temperature=0)
    assert outs[3].choices[0].text == solo.choices[0].text  # concurrent answers are the same as serial ones


def test_clear_4xx(server):
    client, base = server
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.completions.create(model="gpt-4", prompt="x", max_tokens=2)
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        client.completions.create(model="mini", prompt="x", max_tokens=0)
    with pytest.raises(openai.BadRequestError, match="temperature"):
        client.completions.create(model="mini", prompt="x", temperature=5)
    with pytest.raises(openai.BadRequestError, match="stop"):
        client.completions.create(model="mini", prompt="x", stop=["a", "b", "c", "d", "e"])
    r = httpx.post(base + "/chat/completions", json={"model": "mini"})
    assert r.status_code == 400 and "messages" in r.json()["error"]["message"]
    r = httpx.post(base + "/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
