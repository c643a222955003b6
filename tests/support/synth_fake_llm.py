"""A real HTTP server on 127.0.0.1 that answers chat completions like a model, and fails on demand.

It knows the problems it will be asked (prompt -> correct answer or reference code) and, per
problem, a behaviour: correct, wrong, no_answer, garbage (a 200 that is not JSON), flaky500 (500
once, then correct), always500, slow (answers after the client's timeout), drop (closes the
connection without a response), bomb (code that fork-bombs). Counts every request per problem.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeModel:
    def __init__(self, table: dict[str, dict], behaviour, slow_s: float = 2.0):
        """``table``: problem prompt -> {"kind": math|code|topic, "answer"|"reference"|...};
        ``behaviour(prompt) -> str``."""
        self.table, self.behaviour, self.slow_s = table, behaviour, slow_s
        self.requests = Counter()
        self.lock = threading.Lock()
        model = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                model.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _find(self, content: str):
        for prompt, info in self.table.items():
            if prompt in content:
                return prompt, info
        return None, None

    def handle(self, h, body):
        content = body["messages"][-1]["content"] if "messages" in body else body["prompt"]
        prompt, info = self._find(content)
        with self.lock:
            self.requests[prompt] += 1
            n = self.requests[prompt]
        how = self.behaviour(prompt) if prompt else "correct"
        if how == "drop":
            h.close_connection = True
            h.connection.shutdown(2)
            return
        if how == "garbage":
            return self._send(h, 200, b"<html>502 Bad Gateway from a proxy</html>", "text/html")
        if how == "always500" or (how == "flaky500" and n == 1):
            return self._send(h, 500, b'{"error": "overloaded"}')
        if how == "slow":
            time.sleep(self.slow_s)
        text = self.reply(info, how)
        if h.path.endswith("/chat/completions"):
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        elif h.path.endswith("/completions"):
            choice = {"index": 0, "text": text, "finish_reason": "stop"}
        else:
            return self._send(h, 404, b'{"error": "not found"}')
        resp = {"id": "x", "object": "chat.completion", "model": body.get("model"), "choices": [choice],
                "usage": {"prompt_tokens": len(content.split()), "completion_tokens": len(text.split())}}
        self._send(h, 200, json.dumps(resp).encode())

    @staticmethod
    def reply(info, how) -> str:
        kind = info["kind"]
        if kind == "math":
            ans = info["answer"]
            if how == "no_answer":
                return "I think it is probably somewhere around there."
            if how == "wrong":
                ans = "x = 0, y = 0" if "=" in ans else str(int(float(ans.split("/")[0])) + 1)
            return f"Let me work through it.\nFirst I read the numbers.\nAnswer: {ans}"
        if kind == "code":
            ref = info["reference"]
            if how == "no_answer":
                return "Here is the idea in words: loop and accumulate."
            if how == "wrong":
                ref = ref.replace("return ", "return None or 0 and ")
            if how == "bomb":
                ref = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
            return f"Sure:\n```python\n{ref}```\n"
        if kind == "topic-math":
            problem = "Ana packs 3 boxes with 14 apples each and then eats 2 apples. How many apples are left?"
            expr, ans = "3 * 14 - 2", "40"
            if how == "wrong":
                ans = "41"
            if how == "cheat":
                expr = "20 + 20"  # numbers the problem never states
            if how == "no_answer":
                return f"Problem: {problem}\nThe answer is 40."
            return f"Problem: {problem}\nSolution: 3 × 14 = 42 apples packed; 42 - 2 = 40.\nExpression: {expr}\nAnswer: {ans}\n"
        # topic: the model writes a function and its tests
        fn = "def double(x):\n    \"\"\"Twice x.\"\"\"\n    return 2 * x\n"
        tests = "assert double(2) == 4\nassert double(0) == 0\nassert double(-3) == -6\n"
        if how == "wrong":
            tests = tests.replace("== 4", "== 5")
        if how == "no_answer":
            tests = "assert double(2) == 4\n"
        return f"```python\n{fn}```\nTests:\n```python\n{tests}```\n"

    @staticmethod
    def _send(h, code, data, ctype="application/json"):
        try:
            h.send_response(code)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            pass  # the client gave up (its timeout): that is the behaviour under test
