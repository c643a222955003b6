"""Run untrusted, model-written Python and say what happened: ``run_python(code, tests)``.

    >>> r = run_python("def sq(x): return x * x", tests="assert sq(3) == 9")
    >>> r.status, r.mode
    ('passed', 'namespaces')

``status`` is one of ``passed | failed | timeout | memory | output_limit | crashed | blocked``;
``detail`` says why, ``stdout``/``stderr`` are the captured (capped) streams and ``mode`` names the
isolation that was active:

* ``namespaces`` (root, or wherever ``unshare`` works): new PID, mount, network, IPC and UTS
  namespaces; a chroot of read-only bind mounts (the Python install and system libraries only) with
  a size-capped private tmpfs ``/tmp``; a uid used by no one else; no new privileges; a memory
  cgroup capping the whole run when one is writable. The network namespace has no interfaces, so
  nothing, not even ctypes or a child process, can reach 127.0.0.1 of the host.
* ``fallback`` (no privileges for namespaces, or ``GRISTMILL_SANDBOX=fallback``): rlimits plus a
  CPython audit hook that refuses sockets, process creation, ctypes, signals to other processes and
  file access outside the private directory. Audit hooks are not a security boundary against
  memory-corruption exploits (PEP 578 says so), and the private directory is on the host's disk
  (each file is capped by RLIMIT_FSIZE, their total only by the timeout); use namespaces for
  hostile code.

Both modes: wall-clock and CPU timeouts, an address-space limit, a process-count limit, an output
cap, an empty environment (nothing of the parent's variables), and every process gone when
``run_python`` returns. The verdict on tests reaches the parent as data it checks itself
(:mod:`gristmill.synth.verdict`), never as a claim the code could print or write.

Defaults: ``timeout_s=5`` and ``memory_mb=512`` follow human-eval's ``check_correctness`` (timeout 3 s)
and its ``reliability_guard`` address-space limit, with headroom for this 2-core shared machine;
``max_procs=32`` allows ``multiprocessing`` pools and ``subprocess`` pipelines while stopping a fork
bomb within milliseconds; ``output_limit_bytes=1 MiB`` per stream is far above any exercise's output
(the generators' solutions print under 1 KiB) and keeps a ``print`` flood from filling memory;
``tmp_mb=64`` for the private ``/tmp`` (human-eval's guard caps no disk at all) is far above what an
exercise writes and makes a disk-filling loop end in ENOSPC within a second.
"""
from __future__ import annotations

import json
import marshal
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from gristmill.synth.verdict import judge, plan_tests

STATUSES = ("passed", "failed", "timeout", "memory", "output_limit", "crashed", "blocked")
_RUNNER = str(Path(__file__).with_name("_sandbox_runner.py"))
_SETUP_FAILED = 121
_SETUP_GRACE_S = 20.0  # interpreter start and mounts on a loaded machine; the code's clock starts at "ready"
_KILL_GRACE_S = 5.0


class SandboxError(RuntimeError):
    """The sandbox itself could not run (a bad argument or a broken machine), not the code."""


@dataclass
class SandboxResult:
    status: str
    detail: str
    stdout: str
    stderr: str
    mode: str
    returncode: int | None = None
    duration_s: float = 0.0
    blocked: list[str] = field(default_factory=list)  # forbidden operations the code tried

    def __bool__(self) -> bool:
        return self.status == "passed"


_mode_lock = threading.Lock()
_mode: str | None = None
_mode_reason = ""


def isolation_mode() -> str:
    """``namespaces`` if this machine lets us build them (probed once per process), else ``fallback``."""
    global _mode, _mode_reason
    with _mode_lock:
        if _mode is None:
            forced = os.environ.get("GRISTMILL_SANDBOX", "").strip().lower()
            if forced and forced not in ("namespaces", "fallback"):
                raise SandboxError(f"GRISTMILL_SANDBOX={forced!r}: use 'namespaces' or 'fallback'")
            if forced == "fallback":
                _mode, _mode_reason = "fallback", "GRISTMILL_SANDBOX=fallback"
            elif os.geteuid() != 0 or not sys.platform.startswith("linux"):
                _mode, _mode_reason = "fallback", "not root: namespaces need CAP_SYS_ADMIN here"
            else:
                r = _run("pass", None, 10, 256, 4, 1 << 16, 8, mode="namespaces")
                if r.returncode == _SETUP_FAILED or r.status != "passed":
                    if forced == "namespaces":
                        raise SandboxError(f"GRISTMILL_SANDBOX=namespaces but they cannot be built: {r.stderr.strip()}")
                    _mode, _mode_reason = "fallback", f"namespaces unavailable: {r.stderr.strip()[:200]}"
                else:
                    _mode, _mode_reason = "namespaces", "unshare + chroot + setuid"
        return _mode


def run_python(code: str, tests: str | None = None, timeout_s: float = 5, memory_mb: int = 512, *,
               max_procs: int = 32, output_limit_bytes: int = 1 << 20, tmp_mb: int = 64) -> SandboxResult:
    """Run ``code`` (then ``tests``, if given) in the sandbox; see the module docstring."""
    if not isinstance(code, str):
        raise SandboxError(f"code must be a str, not {type(code).__name__}")
    if tests is not None and not isinstance(tests, str):
        raise SandboxError(f"tests must be a str or None, not {type(tests).__name__}")
    if not timeout_s > 0:
        raise SandboxError(f"timeout_s must be > 0 (got {timeout_s})")
    if memory_mb < 64:
        raise SandboxError(f"memory_mb must be >= 64: the interpreter alone needs ~30 MB of address space (got {memory_mb})")
    if max_procs < 1:
        raise SandboxError(f"max_procs must be >= 1 (got {max_procs})")
    return _run(code, tests, timeout_s, memory_mb, max_procs, output_limit_bytes, tmp_mb, mode=isolation_mode())


# ------------------------------------------------------------------------------------------ cgroup


def _memory_cgroup() -> tuple[Path, int] | None:
    """Our own memory cgroup directory if we may create children in it: (path, cgroup version)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        if "memory" in ctrls.split(","):
            base = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            if (base / "memory.limit_in_bytes").exists() and os.access(base, os.W_OK):
                return base, 1
    for line in lines:
        if line.startswith("0::"):
            base = Path("/sys/fs/cgroup") / line[3:].lstrip("/")
            if (base / "cgroup.controllers").exists() and "memory" in (base / "cgroup.subtree_control").read_text() \
                    and os.access(base, os.W_OK):
                return base, 2
    return None


class _Cgroup:
    """A child memory cgroup capping the run's total memory (all its processes, and its tmpfs pages)."""

    def __init__(self, memory_mb: int):
        self.path = None
        found = _memory_cgroup()
        if not found:
            return
        base, self.version = found
        path = base / f"gristmill-sandbox-{os.getpid()}-{random.randrange(1 << 30)}"
        limit = str((memory_mb + 96) << 20)  # + P and C, two small Python processes sharing D's pages
        try:
            path.mkdir()
            if self.version == 1:
                (path / "memory.limit_in_bytes").write_text(limit)
                try:
                    (path / "memory.memsw.limit_in_bytes").write_text(limit)
                except OSError:
                    pass
            else:
                (path / "memory.max").write_text(limit)
                (path / "memory.swap.max").write_text("0")
            self.path = path
        except OSError:
            try:
                path.rmdir()
            except OSError:
                pass

    def oom_kills(self) -> int:
        if not self.path:
            return 0
        try:
            text = (self.path / ("memory.oom_control" if self.version == 1 else "memory.events")).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            k, _, v = line.partition(" ")
            if k == "oom_kill":
                return int(v)
        return 0

    def remove(self) -> None:
        if not self.path:
            return
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.02)


# ------------------------------------------------------------------------------------------ running


def _python_binary() -> str:
    v = sys.version_info
    cand = Path(sys.base_prefix) / "bin" / f"python{v.major}.{v.minor}"
    return str(cand) if cand.exists() else os.path.realpath(sys.executable)


def _ro_paths() -> list[str]:
    paths = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"]
    for p in (sys.base_prefix, os.path.dirname(os.path.dirname(_python_binary()))):
        p = os.path.realpath(p)
        if not any(p == q or p.startswith(q + "/") for q in ("/usr", "/lib", "/lib64", "/bin")) and p not in paths:
            paths.append(p)
    return paths


def _read_paths() -> list[str]:
    """What fallback mode lets the code read: the Python install, shared libraries, random devices."""
    return sorted({os.path.realpath(p) for p in (sys.base_prefix, "/usr/lib", "/usr/lib64", "/usr/share/zoneinfo",
                                                 "/etc/localtime", "/dev/null", "/dev/urandom", "/dev/zero")})


def _run(code, tests, timeout_s, memory_mb, max_procs, output_limit, tmp_mb, *, mode) -> SandboxResult:
    t0 = time.monotonic()
    plan = plan_tests(tests, code) if tests is not None else None
    if plan is not None and plan.error:
        return SandboxResult("failed", plan.error, "", "", mode)
    root = tempfile.mkdtemp(prefix="gristmill-sandbox-")
    uid = random.randrange(200_000, 260_000)  # a uid of its own: RLIMIT_NPROC then counts only this run
    cg = _Cgroup(memory_mb) if mode == "namespaces" else _Cgroup.__new__(_Cgroup)
    if mode != "namespaces":
        cg.path = None
    os.chmod(root, 0o700)
    chan_r, chan_w = os.pipe()
    cfg_r, cfg_w = os.pipe()
    st_r, st_w = os.pipe()
    cfg = {"mode": mode, "code": code, "tests": plan.source if plan else None,
           "test_functions": plan.functions if plan else [], "candidate": plan.candidate if plan else None, "timeout_s": timeout_s, "memory_mb": memory_mb,
           "max_procs": max_procs, "tmp_mb": tmp_mb, "uid": uid, "root": root,
           "tmp": "/tmp" if mode == "namespaces" else root, "chan_fd": chan_w, "python": _python_binary(),
           "ro_paths": _ro_paths(), "read_paths": _read_paths(), "cgroup": str(cg.path) if cg.path else None}
    try:
        proc = subprocess.Popen([sys.executable, "-I", "-S", _RUNNER, str(cfg_r), str(st_w)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=(cfg_r, st_w, chan_w), start_new_session=True,
                                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    except OSError as e:
        for fd in (chan_r, chan_w, cfg_r, cfg_w, st_r, st_w):
            os.close(fd)
        cg.remove()
        shutil.rmtree(root, ignore_errors=True)
        raise SandboxError(f"cannot start the sandbox runner: {e}") from e
    for fd in (chan_w, cfg_r, st_w):
        os.close(fd)
    writer = threading.Thread(target=_write_all, args=(cfg_w, marshal.dumps(cfg)), daemon=True)
    writer.start()
    try:
        out = _Collector(proc, chan_r, st_r, output_limit)
        out.loop(t0 + timeout_s + _SETUP_GRACE_S, timeout_s)
    finally:
        if proc.poll() is None:
            _stop(proc)
        proc.wait()
        writer.join(timeout=5)
        oom = cg.oom_kills()
        cg.remove()
        shutil.rmtree(root, ignore_errors=True)
    res = out.result(plan, mode, proc.returncode, oom)
    res.duration_s = time.monotonic() - t0
    return res


def _write_all(fd: int, data: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError:
        pass  # the runner died before reading its config: its exit status tells why


def _stop(proc: subprocess.Popen) -> None:
    """Ask P to kill C (and with it the PID namespace) and report; SIGKILL its group if it does not."""
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=_KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    except OSError:
        pass


class _Collector:
    """Reads stdout, stderr, the event channel and P's status report until all close, or a limit hits."""

    CHANNEL_LIMIT = 64 << 20  # events carry test values; 64 MiB bounds a flood of fake ones

    def __init__(self, proc, chan_r, st_r, output_limit):
        self.proc, self.limit = proc, output_limit
        self.bufs = {"stdout": bytearray(), "stderr": bytearray(), "chan": bytearray(), "status": bytearray()}
        self.fds = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr", chan_r: "chan", st_r: "status"}
        self.owned = (chan_r, st_r)
        self.over = None  # which stream passed its cap
        self.timed_out = False
        self.ready_at = None

    def loop(self, setup_deadline, timeout_s):
        sel = selectors.DefaultSelector()
        for fd in self.fds:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        deadline = setup_deadline
        open_fds = set(self.fds)
        killed_at = None
        try:
            while open_fds:
                now = time.monotonic()
                if killed_at is None and now >= deadline:
                    self.timed_out = True
                    killed_at = now
                    threading.Thread(target=_stop, args=(self.proc,), daemon=True).start()
                if killed_at is not None and now - killed_at > _KILL_GRACE_S * 2:
                    break  # something outside the namespace holds a pipe: stop waiting for EOF
                wait = max(0.0, deadline - now) if killed_at is None else 0.2
                for key, _ in sel.select(timeout=min(wait, 0.5)):
                    fd = key.fd
                    try:
                        chunk = os.read(fd, 1 << 16)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        sel.unregister(fd)
                        open_fds.discard(fd)
                        continue
                    name = self.fds[fd]
                    buf = self.bufs[name]
                    cap = self.CHANNEL_LIMIT if name == "chan" else self.limit
                    room = cap - len(buf)
                    buf += chunk[:max(room, 0)] if name != "status" else chunk
                    if name == "chan" and self.ready_at is None and b'"ev": "ready"' in buf:
                        self.ready_at = time.monotonic()
                        deadline = min(deadline, self.ready_at + timeout_s)
                    if name != "status" and len(chunk) > room and killed_at is None:
                        self.over = name
                        killed_at = time.monotonic()
                        threading.Thread(target=_stop, args=(self.proc,), daemon=True).start()
        finally:
            sel.close()
            for fd in self.owned:
                os.close(fd)

    def events(self) -> list[dict]:
        evs = []
        for line in bytes(self.bufs["chan"]).split(b"\n"):
            if line.strip():
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue  # a torn line (the process was killed mid-write) or junk: never a pass
                if isinstance(ev, dict):
                    evs.append(ev)
        return evs

    def result(self, plan, mode, returncode, oom) -> SandboxResult:
        so = self.bufs["stdout"].decode("utf-8", "replace")
        se = self.bufs["stderr"].decode("utf-8", "replace")
        evs = self.events()
        blocked = [e.get("what", "?") for e in evs if e.get("ev") == "blocked"]
        d_status = None
        try:  # "<C's wait status> <D's wait status>" from P (trusted); -1: D was never reaped
            d_status = int(bytes(self.bufs["status"]).split()[1])
            d_status = None if d_status < 0 else d_status
        except (ValueError, IndexError):
            pass
        d_code = os.waitstatus_to_exitcode(d_status) if isinstance(d_status, int) else None

        def res(status, detail):
            return SandboxResult(status, detail, so, se, mode, returncode=d_code, blocked=blocked)

        if returncode == _SETUP_FAILED or d_code == _SETUP_FAILED:
            if any(e.get("ev") == "ready" for e in evs):
                pass  # the code itself exited 121: judged below like any exit status
            else:
                return SandboxResult("crashed", f"the sandbox could not start: {se.strip()[-500:]}", so, se, mode,
                                     returncode=_SETUP_FAILED)
        if blocked:  # the most telling fact about a run: name it first, and what else happened after
            then = ("output cap" if self.over else "memory limit" if oom or any(e.get("ev") == "memory" for e in evs)
                    else "timeout" if self.timed_out else None)
            return res("blocked", "; ".join(blocked[:5]) + (f" (then: {then})" if then else ""))
        if self.over:
            return res("output_limit", f"{self.over} passed the {self.limit if self.over != 'chan' else self.CHANNEL_LIMIT} byte cap")
        if any(e.get("ev") == "memory" for e in evs) or oom:
            return res("memory", "the memory limit was hit" + (" (the cgroup OOM-killed a process)" if oom else " (MemoryError)"))
        if self.timed_out or d_code == -signal.SIGXCPU:
            return res("timeout", "CPU time limit" if d_code == -signal.SIGXCPU and not self.timed_out else "wall-clock timeout")
        if d_code is not None and d_code < 0:
            try:
                name = signal.Signals(-d_code).name
            except ValueError:
                name = str(-d_code)
            return res("crashed", f"killed by {name}")
        code_err = next((e.get("error") for e in evs if e.get("ev") == "code_error"), None)
        if code_err:
            return res("failed", f"the code raised {code_err}")
        if plan is not None:
            status, detail = judge(plan, evs)
            if status == "passed" and d_code != 0:
                return res("failed", f"the tests passed but the process exited with status {d_code}")
            return res(status, detail)
        if d_code != 0:
            return res("failed", f"exit status {d_code}")
        if not any(e.get("ev") == "done" for e in evs):
            return res("failed", "the code stopped before it finished")
        return res("passed", "ran to the end")
