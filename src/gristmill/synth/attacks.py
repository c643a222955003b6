"""A catalogue of real attacks on :func:`gristmill.synth.sandbox.run_python`, each with its own check
that it was contained. The tests run every one; ``gristmill synth sandbox-check`` prints the table
for the machine at hand (which isolation mode is active, and what each attack achieved).

The context gives the attacks something real to aim at: a TCP server and an abstract Unix socket
that count connections, a secret file and a secret environment variable of the parent, a path
outside the sandbox to write, the parent's own PID and a sibling process of the same user.

Issue 19 added the escapes found against the audit-hook "fallback" (reporter tamper through
``gc``, subinterpreters, ``_posixsubprocess.fork_exec``, pidfds, FIFOs and device nodes, listing the
host's root, the user keyring), the verdict forgeries (redefining ``abs``, ``round`` or ``range``;
forged, unterminated or deeply nested records on the event channel), and test text built to break
the parent's parser. Each new attack *fails* (raises) when it is contained, so the verdict of a
contained attack is never ``passed``; ``check`` then looks for the leak on the host side.
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
    sibling_pid: int = 0  # a process of the caller's user, which no attack may signal

    def fmt(self) -> dict:
        return {"port": self.port, "unix_name": self.unix_name, "secret_path": self.secret_path,
                "outside_path": self.outside_path, "marker": self.marker, "parent_pid": self.parent_pid,
                "python": sys.executable, "sibling_pid": self.sibling_pid}


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
    import subprocess

    sibling = subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    ctx.sibling_pid = sibling.pid
    try:
        yield ctx
    finally:
        sibling.kill()
        sibling.wait()
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


def _cgroup_available(mode: str) -> bool:
    from gristmill.synth import sandbox

    return mode == "namespaces" and sandbox._memory_cgroup() is not None


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
    for suffix in (".fifo", ".node", ".sh"):
        if os.path.lexists(ctx.outside_path + suffix):
            return f"{ctx.outside_path + suffix} was created"
    if ctx.sibling_pid and not _alive(ctx.sibling_pid):
        return f"the sibling process {ctx.sibling_pid} was killed"
    return None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] not in ("Z", "X")
    except OSError:
        return False


# what a sandbox root may hold: the system directories it binds, and the Python install's top directory
def _sandbox_root_names() -> set:
    names = {"bin", "dev", "lib", "lib32", "lib64", "proc", "sbin", "tmp", "usr"}
    for p in (sys.base_prefix, os.path.realpath(sys.executable)):
        parts = Path(os.path.realpath(p)).parts
        if len(parts) > 1:
            names.add(parts[1])
    return names


def _host_tree_seen(ctx, r) -> str | None:
    import json

    try:
        seen = set(json.loads(r.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return None
    extra = seen - _sandbox_root_names()
    return f"the code listed the host's root: {sorted(extra)[:8]}" if extra else None


def _keyring_persists(ctx, r) -> str | None:
    """A second run, later, looks for the key the attack tried to add to its user keyring."""
    from gristmill.synth.sandbox import run_python

    later = run_python(_KEY_READ.format(**ctx.fmt()), timeout_s=5, mode=r.mode)
    if ctx.marker in later.stdout.replace("desc", ""):
        return f"a later run read the key from the keyring: {later.stdout[:200]!r}"
    return None


_KEY_ADD = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\n"
            "k = libc.syscall(248, b'user', b'gm-{marker}', b'{marker}', len('{marker}'), -4)\n"  # add_key, KEY_SPEC_USER_KEYRING
            "print('add_key', k, ctypes.get_errno())\nif k < 0:\n    raise SystemExit('contained: add_key refused')\n")
_KEY_READ = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\n"
             "k = libc.syscall(250, 10, -4, b'user', b'gm-{marker}', 0)\n"  # keyctl(KEYCTL_SEARCH, @u, ...)
             "buf = ctypes.create_string_buffer(256)\nn = libc.syscall(250, 11, k, buf, 256) if k > 0 else -1\n"  # KEYCTL_READ
             "print('found', k, buf.raw[:max(n, 0)].decode(errors='replace'))\n")

_CHANNEL_WRITE = ("import os\ndef sq(x):\n    return 0\npayload = {payload}\nfor fd in range(3, 256):\n    try:\n"
                  "        os.write(fd, payload)\n    except OSError:\n        pass\n")


ATTACKS = [
    Attack("fork bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
           ("timeout", "blocked"), timeout_s=1),
    Attack("infinite loop", "while True:\n    pass\n", ("timeout",), timeout_s=1),
    Attack("allocate 10 GB", "x = bytearray(10 * 1024 ** 3)\nprint(len(x))\n", ("memory",)),
    Attack("allocate 10 GB in 64 MB steps", "keep = []\nwhile True:\n    keep.append(bytearray(64 << 20))\n", ("memory",)),
    # each process stays under its own RLIMIT_AS; only the run's memory cgroup sees the total (1.6 GB > 256 MB)
    Attack("allocate 1.6 GB across 8 processes", "import os, time\nkids = []\nfor i in range(8):\n    pid = os.fork()\n"
           "    if pid == 0:\n        b = bytearray(200 << 20)\n        for j in range(0, len(b), 4096):\n            b[j] = 1\n"
           "        time.sleep(3)\n        os._exit(0)\n    kids.append(pid)\nfor k in kids:\n    os.waitpid(k, 0)\n",
           ("memory", "blocked", "timeout", "passed", "failed"), timeout_s=30,  # a loaded machine forks slowly; the cgroup acts well before
           check=lambda ctx, r: None if r.status in ("memory", "blocked") or not _cgroup_available(r.mode) else
           f"the cgroup should have stopped it (status {r.status})"),
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
           "addr = struct.pack('=H', 2) + addr[2:]\nprint('connect', libc.connect(s, addr, 16))\ncaps = open('/proc/self/status').read().split('CapEff:')[1].split()[0]\n"
           "assert int(caps, 16) != 0, 'still unprivileged: no capability (uid %d)' % libc.getuid()\n",
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
    Attack("user namespace, then a chroot escape to the host's files",
           "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nprint('unshare', libc.unshare(0x10000000), ctypes.get_errno())\n"
           "os.makedirs('x', exist_ok=True)\nprint('chroot', libc.chroot(b'x'), ctypes.get_errno())\nfor _ in range(40):\n    os.chdir('..')\n"
           "libc.chroot(b'.')\nprint(open({secret_path!r}).read())\n", ("failed", "blocked")),
    Attack("forge the verdict: read the expected value from the tests",
           "import linecache, re, sys\ndef sq(x):\n    src = ''.join(linecache.getlines('<tests>'))\n"
           "    for f in (sys._getframe(1), sys._getframe(2)):\n        src += repr(f.f_code.co_consts) + repr(f.f_locals)\n"
           "    nums = [int(n) for n in re.findall(r'\\b(\\d{{3,}})\\b', src)]\n    return nums[0] if nums else 0\n",
           ("failed",), tests="assert sq(12) == 144\n"),
    Attack("forge the verdict: print it and exit before the tests",
           "import os\ndef sq(x):\n    return 0\nprint('passed')\nprint('{{\"status\": \"passed\"}}')\nos._exit(0)\n",
           ("failed",), tests="assert sq(12) == 144\n"),
    Attack("forge the verdict: an object equal to everything",
           "class Any:\n    def __eq__(self, o):\n        return True\n    __hash__ = object.__hash__\n"
           "    def __repr__(self):\n        return '144'\ndef sq(x):\n    return Any()\n", ("failed",), tests="assert sq(12) == 144\n"),
    Attack("forge the verdict: write fake events to every descriptor",
           "import os\ndef sq(x):\n    return 0\nfake = b'{{\"ev\": \"unit_start\", \"unit\": 0}}\\n{{\"ev\": \"unit_end\", \"unit\": 0, \"ok\": true}}\\n"
           "{{\"ev\": \"done\"}}\\n'\nfor fd in range(1, 300):\n    try:\n        os.write(fd, fake)\n    except OSError:\n        pass\nos._exit(0)\n",
           ("failed", "crashed"), tests="assert sq(12) == 144\n"),
    Attack("forge the verdict: exit 0 from inside the test", "import sys\ndef sq(x):\n    sys.exit(0)\n", ("failed",),
           tests="assert sq(12) == 144\n"),
    Attack("forge the verdict: patch the harness's check function",
           "import builtins\ndef sq(x):\n    g = __import__('sys')._getframe(1).f_globals\n    g['__gm_check__'] = lambda *a: None\n    return 0\n",
           ("failed",), tests="assert sq(12) == 144\nassert sq(3) == 9\n"),
]


# issue 19, item 1: the audit-hook escapes, each now behind the kernel boundary
ATTACKS += [
    Attack("tamper with the harness's reporter through gc, then escape",
           "import gc\nfor o in gc.get_objects():\n    if type(o).__name__ == '_Reporter':\n"
           "        o.blocked = lambda what: None\n        o.send = lambda **k: None\n"
           "import socket, os\ngot = []\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=1); got.append('net')\n"
           "except OSError as e:\n    print('net', e)\ntry:\n    print(open({secret_path!r}).read()); got.append('read')\n"
           "except OSError as e:\n    print('read', e)\ntry:\n    open({outside_path!r}, 'w').write('pwned'); got.append('write')\n"
           "except OSError as e:\n    print('write', e)\n"
           "def sq(x):\n    return 0\n", ("failed", "crashed", "blocked"), tests="assert sq(3) == 9\n"),
    Attack("run code in a subinterpreter (no audit hook there)",
           "import _xxsubinterpreters as si\ni = si.create()\n"
           "si.run_string(i, \"import socket\\ntry:\\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\\n"
           "except OSError:\\n    pass\\ntry:\\n    open({outside_path!r}, 'w').write('pwned')\\nexcept OSError:\\n    pass\\n\")\n"
           "raise SystemExit('contained: the subinterpreter reached nothing')\n", ("failed", "blocked")),
    Attack("_posixsubprocess.fork_exec a shell that reads the secret and writes outside",
           "import _posixsubprocess, os, sys\nr, w = os.pipe()\n"
           "cmd = b'cat {secret_path} > {outside_path}; cat {secret_path}; echo x > {outside_path}.sh'\n"
           "pid = _posixsubprocess.fork_exec([b'/bin/sh', b'-c', cmd], [b'/bin/sh'], True, (), None, None,"
           " -1, -1, -1, -1, -1, -1, r, w, True, False, -1, None, None, None, -1, None, False)\n"
           "os.close(w)\nos.waitpid(pid, 0)\nraise SystemExit('contained: the shell ran inside the sandbox')\n",
           ("failed", "blocked")),
    Attack("kill a sibling process through a pidfd",
           "import os, signal\nfd = os.pidfd_open({sibling_pid})\nsignal.pidfd_send_signal(fd, signal.SIGKILL)\n",
           ("failed", "blocked")),
    Attack("kill a sibling process by pid (also through ctypes)",
           "import os, signal, ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nprint(libc.kill({sibling_pid}, 9))\n"
           "os.kill({sibling_pid}, signal.SIGKILL)\n", ("failed", "blocked")),
    Attack("mkfifo and mknod outside the tmp dir",
           "import os, stat\nerrs = []\nfor f in (lambda: os.mkfifo({outside_path!r} + '.fifo'),"
           " lambda: os.mknod({outside_path!r} + '.node', stat.S_IFIFO | 0o600), lambda: os.mkfifo('/tmp/inside.fifo')):\n"
           "    try:\n        f()\n    except OSError as e:\n        errs.append(str(e))\nif len(errs) == 3:\n"
           "    raise SystemExit('contained: ' + '; '.join(errs))\n", ("failed", "blocked")),
    Attack("list the host's root directory",
           "import json, os\nprint(json.dumps(sorted(os.listdir('/'))))\n"
           "if 'etc' not in os.listdir('/') and 'home' not in os.listdir('/'):\n    raise SystemExit('contained: no host tree')\n",
           ("failed", "blocked"), check=_host_tree_seen),
    Attack("add a key to the user keyring for a later run", _KEY_ADD, ("failed", "blocked"), check=_keyring_persists),
    Attack("mount, unshare and setns from the code",
           "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nres = [libc.unshare(0x10000000), libc.unshare(0x00020000),"
           " libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), libc.setns(0, 0), libc.syscall(321, 0, 0, 0)]\n"  # 321: bpf
           "print(res)\nif all(x != 0 for x in res):\n    raise SystemExit('contained: all refused')\n", ("failed", "blocked")),
    Attack("userfaultfd, io_uring and perf_event_open",
           "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nres = [libc.syscall(323, 0), libc.syscall(425, 8, None),"
           " libc.syscall(298, None, 0, -1, -1, 0)]\nprint(res)\nif all(x < 0 for x in res):\n"
           "    raise SystemExit('contained: all refused')\n", ("failed", "blocked")),
    Attack("ptrace a sibling process",
           "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nr = libc.ptrace(16, {sibling_pid}, None, None)\n"  # PTRACE_ATTACH
           "if r != 0:\n    raise SystemExit('contained: ptrace refused')\n", ("failed", "blocked")),
    Attack("memory bomb in one allocation", "x = b'x' * (8 << 30)\n", ("memory",)),
    # the x32 ABI numbers its syscalls with bit 30 set: a filter that checks only the numbers misses them
    Attack("key and namespace syscalls through the x32 ABI",
           "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\n"
           "res = [libc.syscall(0x40000000 + 248, b'user', b'k', b'v', 1, -4), libc.syscall(0x40000000 + 272, 0x10000000)]\n"
           "if all(x < 0 for x in res):\n    raise SystemExit('contained: refused')\n", ("crashed", "failed", "blocked")),
]

# issue 19, items 2 and 3: forged verdicts and a hostile event channel (each solution is wrong)
ATTACKS += [
    Attack("forge the verdict: redefine abs", "def sqrt2():\n    return 3.0\nabs = lambda v: 0.0\n", ("failed",),
           tests="assert abs(sqrt2() - 1.41421) < 1e-4\n"),
    Attack("forge the verdict: redefine round", "def area(r):\n    return 1.0\nround = lambda *a: 78.54\n", ("failed",),
           tests="assert round(area(5), 2) == 78.54\n"),
    Attack("forge the verdict: redefine range to skip a loop of asserts",
           "def sq(x):\n    return 0\nrange = lambda *a: iter(())\n", ("failed",),
           tests="for i in range(1, 4):\n    assert sq(i) == i * i\nassert sq(0) == 0\n"),
    Attack("forge the verdict: redefine sorted, set and len",
           "def evens(n):\n    return [1]\nsorted = lambda v: [0, 2]\nset = lambda v: {{0, 2}}\nlen = lambda v: 2\n", ("failed",),
           tests="assert sorted(evens(3)) == [0, 2]\nassert set(evens(3)) == {{0, 2}}\nassert len(evens(3)) == 2\n"),
    Attack("forge the verdict: an unterminated JSON string swallows the next record",
           _CHANNEL_WRITE.format(payload="b'0000ffff{{\"ev\": \"x\", \"s\": \"'"), ("crashed", "failed"),
           tests="assert sq(3) == 9\n"),
    Attack("forge the verdict: an unterminated string without a header (newline framing)",
           _CHANNEL_WRITE.format(payload="b'{{\"ev\": \"result\", \"i\": 0, \"v\": {{\"s\": \"'"), ("crashed", "failed"),
           tests="assert sq(3) == 9\n"),
    Attack("forge the verdict: a well-formed result record before the real one",
           _CHANNEL_WRITE.format(payload="b'%08x' % len(b'{{\"ev\": \"result\", \"i\": 0, \"v\": {{\"i\": \"9\"}}}}') + "
                                          "b'{{\"ev\": \"result\", \"i\": 0, \"v\": {{\"i\": \"9\"}}}}'"),
           ("crashed", "failed"), tests="assert sq(3) == 9\n"),
    Attack("channel flood: 200,000 nested brackets with a valid header",
           _CHANNEL_WRITE.format(payload="b'%08x' % 200001 + b'[' * 200000 + b'\\n'"), ("crashed",),
           tests="assert sq(3) == 9\n"),
    Attack("channel flood: 200,000 brackets raw", _CHANNEL_WRITE.format(payload="b'[' * 200000 + b'\\n'"), ("crashed",),
           tests="assert sq(3) == 9\n"),
    Attack("channel flood: 100 MB of records",
           "import os\ndef sq(x):\n    return 0\nrec = b'%08x' % 65536 + b'\"' + b'x' * 65534 + b'\"'\nfor fd in range(3, 256):\n"
           "    try:\n        for _ in range(1600):\n            os.write(fd, rec)\n    except OSError:\n        pass\n",
           ("output_limit", "crashed"), tests="assert sq(3) == 9\n", timeout_s=10),
    Attack("test text: a 200,000-term sum", "def f(x):\n    return 0\n", ("rejected",),
           tests="assert f(1) == " + "+".join(["1"] * 200_000) + "\n"),
    Attack("test text: 100,000 unary minus signs", "def f(x):\n    return 0\n", ("rejected",),
           tests="assert f(1) == " + "-" * 100_000 + "1\n"),
    Attack("test text: 100,000 nested lists", "def f(x):\n    return 0\n", ("rejected",),
           tests="assert f(1) == " + "[" * 100_000 + "]" * 100_000 + "\n"),
    Attack("test text: a helper that hides the check", "def f(x):\n    return 0\n", ("rejected",),
           tests="def ok(v):\n    return True\nassert ok(f(1))\n"),
]


def run_attack(attack: Attack, ctx: AttackContext, **kw):
    """Run one attack; return (result, what leaked or None, whether the status was one expected)."""
    from gristmill.synth.sandbox import run_python

    tests = attack.tests.format(**ctx.fmt()) if attack.tests and len(attack.tests) < 10_000 else attack.tests
    r = run_python(attack.code.format(**ctx.fmt()), tests=tests, timeout_s=attack.timeout_s,
                   memory_mb=attack.memory_mb, **kw)
    leak = _no_leak(ctx, r) or attack.check(ctx, r)
    return r, leak, r.status in attack.expect
