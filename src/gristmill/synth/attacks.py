"""A catalogue of real attacks on :func:`gristmill.synth.sandbox.run_python`, each with its own check
that it was contained. The tests run every one; ``gristmill synth sandbox-check`` prints the table
for the machine at hand (which isolation mode is active, and what each attack achieved).

The context gives the attacks something real to aim at: a TCP server and an abstract Unix socket
that count connections, a secret file and a secret environment variable of the parent, a path
outside the sandbox to write, and the parent's own PID.
"""
from __future__ import annotations

import os
import secrets
import socket
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator


@dataclass
class AttackContext:
    port: int
    unix_name: str
    secret_path: str
    secret: str
    env_secret: str
    outside_path: str
    marker: str
    parent_pid: int
    connections: list = field(default_factory=list)

    def fmt(self) -> dict:
        return {"port": self.port, "unix_name": self.unix_name, "secret_path": self.secret_path,
                "outside_path": self.outside_path, "marker": self.marker, "parent_pid": self.parent_pid,
                "python": sys.executable}


def _serve(sock: socket.socket, hits: list, stop: threading.Event) -> None:
    sock.settimeout(0.1)
    while not stop.is_set():
        try:
            c, addr = sock.accept()
        except (TimeoutError, socket.timeout):
            continue
        except OSError:
            return
        hits.append(addr)
        c.close()


@contextmanager
def attack_context(workdir: str | None = None) -> Iterator[AttackContext]:
    """Start the targets; stop them (and remove the files) on exit, whatever happens."""
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="gristmill-attack-")
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    unix = socket.socket(socket.AF_UNIX)
    unix_name = f"gristmill-attack-{secrets.token_hex(6)}"
    unix.bind("\0" + unix_name)
    unix.listen(16)
    secret = "SECRET-" + secrets.token_hex(16)
    env_secret = "ENVSECRET-" + secrets.token_hex(16)
    sp = Path(workdir) / "secret.txt"
    sp.write_text(secret)
    ctx = AttackContext(tcp.getsockname()[1], unix_name, str(sp), secret, env_secret, str(Path(workdir) / "pwned.txt"),
                        "gmorphan" + secrets.token_hex(6), os.getpid())
    stop = threading.Event()
    threads = [threading.Thread(target=_serve, args=(s, ctx.connections, stop), daemon=True) for s in (tcp, unix)]
    for t in threads:
        t.start()
    old_env = os.environ.get("GRISTMILL_ATTACK_SECRET")
    os.environ["GRISTMILL_ATTACK_SECRET"] = env_secret
    try:
        yield ctx
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=2)
        tcp.close()
        unix.close()
        if old_env is None:
            os.environ.pop("GRISTMILL_ATTACK_SECRET", None)
        else:
            os.environ["GRISTMILL_ATTACK_SECRET"] = old_env
        if own:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


def processes_with(marker: str) -> list[int]:
    """PIDs whose command line contains ``marker`` (to prove an orphan did not survive)."""
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{d}/cmdline").read_bytes():
                    found.append(int(d))
            except OSError:
                pass
    return found


@dataclass
class Attack:
    name: str
    code: str
    expect: tuple[str, ...]  # statuses that count as contained-and-reported
    check: Callable[[AttackContext, object], str | None] = lambda ctx, r: None  # None, or what leaked
    tests: str | None = None
    timeout_s: float = 2
    memory_mb: int = 256


def _no_leak(ctx: AttackContext, r) -> str | None:
    """Common checks after every attack: nothing reached the targets, nothing of the parent leaked."""
    if ctx.connections:
        return f"{len(ctx.connections)} connection(s) reached the test server"
    if os.path.exists(ctx.outside_path):
        return f"{ctx.outside_path} was written"
    for s in (ctx.secret, ctx.env_secret):
        if s in r.stdout or s in r.stderr or s in r.detail:
            return "a secret of the parent reached the output"
    if processes_with(ctx.marker):
        return f"process(es) {processes_with(ctx.marker)} outlived the run"
    if not Path(ctx.secret_path).read_text() == ctx.secret:
        return "the secret file was changed"
    return None


ATTACKS = [
    Attack("fork bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
           ("timeout", "blocked"), timeout_s=1),
    Attack("infinite loop", "while True:\n    pass\n", ("timeout",), timeout_s=1),
    Attack("allocate 10 GB", "x = bytearray(10 * 1024 ** 3)\nprint(len(x))\n", ("memory",)),
    Attack("allocate 10 GB in 64 MB steps", "keep = []\nwhile True:\n    keep.append(bytearray(64 << 20))\n", ("memory",)),
    Attack("connect to a 127.0.0.1 server", "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n",
           ("blocked",)),
    Attack("connect to 127.0.0.1 from a child process (no audit hook there)",
           "import subprocess, sys\n"
           "r = subprocess.run([sys.executable, '-c', \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=1)\"])\n"
           "sys.exit(r.returncode)\n", ("failed", "blocked")),
    Attack("connect to the host's abstract Unix socket",
           "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('\\0{unix_name}')\n", ("blocked", "failed")),
    # the sandbox has its own /tmp: a host path under /tmp is simply absent there ("failed")
    Attack("write outside the tmp dir", "open({outside_path!r}, 'w').write('pwned')\n", ("blocked", "failed")),
    Attack("write outside the tmp dir from a shell", "import subprocess, sys\n"
           "sys.exit(subprocess.run(['/bin/sh', '-c', 'echo pwned > {outside_path}']).returncode)\n", ("failed", "blocked")),
    Attack("read the test's secret file", "print(open({secret_path!r}).read())\n", ("failed", "blocked")),
    Attack("read the parent's environment", "import os\nprint(dict(os.environ))\nprint(open('/proc/self/environ').read())\n"
           "import glob\nfor p in glob.glob('/proc/*/environ'):\n    try:\n        print(p, open(p).read())\n"
           "    except OSError as e:\n        print(p, e)\n", ("passed", "failed", "blocked")),
    Attack("read other processes' command lines", "import glob\nfor p in glob.glob('/proc/*/cmdline'):\n    print(p, open(p).read())\n"
           "print(open('/proc/{parent_pid}/cmdline').read())\n", ("failed", "blocked")),
    Attack("print 1 GB", "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n",
           ("output_limit",)),
    Attack("print 1 GB to stderr", "import os\nchunk = b'x' * (1 << 20)\nfor _ in range(1024):\n    os.write(2, chunk)\n",
           ("output_limit",)),
    Attack("kill the parent process", "import os, signal\n"
           "for pid in (os.getppid(), 1, {parent_pid}):\n    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError as e:\n"
           "        print(pid, e)\nos.kill(-1, signal.SIGKILL)\n", ("crashed", "failed", "blocked")),
    Attack("raise its own limits", "import resource\nresource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n"
           "x = bytearray(2 << 30)\n", ("blocked", "memory")),
    Attack("raise its own limits through prlimit in a shell",
           "import subprocess, sys\nr = subprocess.run(['prlimit', '--pid', str(__import__('os').getpid()), '--as=unlimited'])\n"
           "x = bytearray(2 << 30)\n", ("memory", "failed", "blocked")),
    Attack("ctypes into libc", "import ctypes, ctypes.util, socket\nlibc = ctypes.CDLL(None, use_errno=True)\n"
           "print('setuid', libc.setuid(0), 'uid', libc.getuid())\nprint('kill', libc.kill({parent_pid}, 9), libc.kill(1, 9))\n"
           "print('mount', libc.mount(b'none', b'/tmp', b'tmpfs', 0, None))\n"
           "fd = libc.open({outside_path!r}.encode(), 0o101, 0o644)\nprint('open', fd)\n"
           "s = libc.socket(2, 1, 0)\nimport struct\naddr = struct.pack('!HH4s8x', 2, {port}, bytes([127, 0, 0, 1]))\n"
           "addr = struct.pack('=H', 2) + addr[2:]\nprint('connect', libc.connect(s, addr, 16))\nassert libc.getuid() == 0, 'still unprivileged'\n",
           ("blocked", "failed")),
    Attack("sleep past the timeout", "import time\ntime.sleep(100)\n", ("timeout",), timeout_s=1),
    Attack("orphan child that outlives its parent",
           "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'],"
           " start_new_session=True)\nprint('parent leaves')\n", ("passed", "blocked")),
    Attack("double-fork daemon", "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
           "        os.execv('/bin/sh', ['sh', '-c', 'sleep 60; echo {marker}'])\n    os._exit(0)\nos.wait()\ntime.sleep(0.2)\n",
           ("passed", "blocked")),
    Attack("thread bomb", "import threading, time\nts = []\nwhile True:\n    t = threading.Thread(target=time.sleep, args=(30,))\n"
           "    t.start()\n    ts.append(t)\n", ("failed", "memory", "timeout", "blocked")),
    Attack("fill the tmp disk", "with open('/tmp/big' if __import__('os').path.isdir('/tmp') else 'big', 'wb') as f:\n"
           "    for _ in range(1024):\n        f.write(b'x' * (1 << 20))\n", ("failed", "crashed", "blocked")),
    Attack("stop itself (SIGSTOP)", "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\n", ("timeout",), timeout_s=1),
    Attack("deep recursion", "import sys\nsys.setrecursionlimit(10 ** 7)\ndef f(n):\n    return f(n + 1) + 1\nf(0)\n",
           ("crashed", "memory", "failed", "timeout"), timeout_s=1),
    Attack("segfault through ctypes", "import ctypes\nctypes.string_at(0)\n", ("crashed", "blocked")),
    Attack("write into the Python install", "import os, sys\np = os.path.join(sys.base_prefix, '{marker}')\n"
           "open(p, 'w').write('pwned')\n", ("blocked", "failed"),
           check=lambda ctx, r: "the Python install was written" if os.path.exists(os.path.join(sys.base_prefix, ctx.marker)) else None),
    Attack("replace a stdlib module from a shell", "import subprocess, sys, os\np = os.path.join(os.path.dirname(os.__file__), '{marker}.py')\n"
           "sys.exit(subprocess.run(['/bin/sh', '-c', 'echo x > ' + p]).returncode)\n", ("failed", "blocked"),
           check=lambda ctx, r: "the stdlib was written" if os.path.exists(os.path.join(os.path.dirname(os.__file__), ctx.marker + ".py")) else None),
    Attack("forge the verdict: print it and exit before the tests",
           "import os\ndef sq(x):\n    return 0\nprint('passed')\nprint('{{\"status\": \"passed\"}}')\nos._exit(0)\n",
           ("failed",), tests="assert sq(12) == 144\n"),
    Attack("forge the verdict: an object equal to everything",
           "class Any:\n    def __eq__(self, o):\n        return True\n    __hash__ = object.__hash__\n"
           "    def __repr__(self):\n        return '144'\ndef sq(x):\n    return Any()\n", ("failed",), tests="assert sq(12) == 144\n"),
    Attack("forge the verdict: write fake events to every descriptor",
           "import os\ndef sq(x):\n    return 0\nfake = b'{{\"ev\": \"unit_start\", \"unit\": 0}}\\n{{\"ev\": \"unit_end\", \"unit\": 0, \"ok\": true}}\\n"
           "{{\"ev\": \"done\"}}\\n'\nfor fd in range(1, 300):\n    try:\n        os.write(fd, fake)\n    except OSError:\n        pass\nos._exit(0)\n",
           ("failed",), tests="assert sq(12) == 144\n"),
    Attack("forge the verdict: exit 0 from inside the test", "import sys\ndef sq(x):\n    sys.exit(0)\n", ("failed",),
           tests="assert sq(12) == 144\n"),
    Attack("forge the verdict: patch the harness's check function",
           "import builtins\ndef sq(x):\n    g = __import__('sys')._getframe(1).f_globals\n    g['__gm_check__'] = lambda *a: None\n    return 0\n",
           ("failed",), tests="assert sq(12) == 144\nassert sq(3) == 9\n"),
]


def run_attack(attack: Attack, ctx: AttackContext, **kw):
    """Run one attack; return (result, what leaked or None, whether the status was one expected)."""
    from gristmill.synth.sandbox import run_python

    r = run_python(attack.code.format(**ctx.fmt()), tests=attack.tests, timeout_s=attack.timeout_s,
                   memory_mb=attack.memory_mb, **kw)
    leak = _no_leak(ctx, r) or attack.check(ctx, r)
    return r, leak, r.status in attack.expect
