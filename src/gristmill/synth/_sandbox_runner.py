"""The process side of :mod:`gristmill.synth.sandbox` (run as a script: stdlib only, no gristmill import).

Three processes, so that the one running untrusted code never holds anything worth stealing:

* **P, the supervisor** (root, started by ``run_python``): reads its config from a pipe, enters new
  mount, network, IPC, UTS and PID namespaces, joins the run's memory cgroup, builds a read-only root
  (bind mounts of the Python install and system libraries, a size-capped tmpfs ``/tmp``) and forks C.
  On SIGTERM it kills C, which takes the whole PID namespace with it, and reports how D ended.
* **C, the init** (PID 1 of the new namespace): mounts its ``/proc``, chroots, forks D, reaps
  orphans, and exits when D does. When PID 1 exits the kernel kills every process left in the
  namespace: nothing D started can outlive the run.
* **D, the untrusted process**: sets rlimits, drops to a uid used by no one else (so RLIMIT_NPROC
  counts only this run), forbids new privileges, clears the environment, installs an audit hook
  that reports and refuses forbidden operations, then runs the code and the rewritten tests.

In ``fallback`` mode (not root, or namespaces unavailable) P forks D directly in a new session and
the audit hook is the boundary: it also refuses process creation, ctypes, signals to others and
file access outside the private directory. The kernel enforces ``namespaces`` mode; the audit hook
there only names what was tried.
"""
import json
import os
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x04000000, 0x08000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
SETUP_FAILED = 121  # exit code of P when isolation could not be built (the parent falls back or raises)


def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _check(rc, what):
    if rc != 0:
        import ctypes

        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def _mount(libc, src, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)), f"mount {src} on {target}")


def _bind_ro(libc, root, host_path):
    """Bind ``host_path`` read-only at the same path under ``root`` (symlinks are recreated as symlinks)."""
    dest = root + host_path
    if os.path.islink(host_path):
        os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
        if not os.path.lexists(dest):
            os.symlink(os.readlink(host_path), dest)
        return
    if not os.path.exists(host_path):
        return
    if os.path.isdir(host_path):
        os.makedirs(dest, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
        open(dest, "a").close()
    _mount(libc, host_path, dest, None, MS_BIND | MS_REC)
    _mount(libc, None, dest, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | (0 if host_path.startswith("/dev/") else MS_NODEV))


def build_root(cfg):
    """Namespaces and the read-only root, in P (before C exists)."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID), "unshare")
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount propagates back to the host
    root = cfg["root"]
    _mount(libc, "gm-sandbox", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for p in cfg["ro_paths"]:
        _bind_ro(libc, root, p)
    for dev in ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"):
        _bind_ro(libc, root, dev)
    os.makedirs(root + "/tmp", exist_ok=True)
    os.makedirs(root + "/proc", exist_ok=True)
    _mount(libc, "gm-tmp", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={cfg['tmp_mb']}m,mode=0700,uid={cfg['uid']},gid={cfg['uid']}")
    os.makedirs(root + "/dev/shm", exist_ok=True)  # multiprocessing's semaphores live here
    _mount(libc, "gm-shm", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
           f"size={max(1, cfg['tmp_mb'] // 4)}m,mode=0700,uid={cfg['uid']},gid={cfg['uid']}")
    _mount(libc, None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def join_cgroup(cfg):
    if cfg.get("cgroup"):
        with open(os.path.join(cfg["cgroup"], "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))


# ----------------------------------------------------------------------------------------- D


def _drop(cfg):
    import resource

    mem = cfg["memory_mb"] << 20
    cpu = max(1, int(cfg["timeout_s"] + 0.999)) + 1
    for lim, val in ((resource.RLIMIT_AS, (mem, mem)), (resource.RLIMIT_CPU, (cpu, cpu + 1)),
                     (resource.RLIMIT_FSIZE, (cfg["tmp_mb"] << 20,) * 2), (resource.RLIMIT_NOFILE, (256, 256)),
                     (resource.RLIMIT_CORE, (0, 0)), (resource.RLIMIT_NPROC, (cfg["max_procs"],) * 2)):
        resource.setrlimit(lim, val)
    if os.geteuid() == 0 and cfg["mode"] == "namespaces":  # fallback keeps the caller's uid: it must read its Python
        uid = cfg["uid"]
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # from root to non-root: every capability is dropped too
    libc = _libc()
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")


class _Reporter:
    def __init__(self, fd):
        self.fd = fd
        self.seen = set()

    def send(self, **ev):
        data = (json.dumps(ev, ensure_ascii=False, default=str) + "\n").encode()
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            pass

    def blocked(self, what):
        if what not in self.seen and len(self.seen) < 50:
            self.seen.add(what)
            self.send(ev="blocked", what=what)
        raise PermissionError(f"gristmill sandbox: {what} is not allowed")


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _install_hook(cfg, rep):
    import resource

    fallback = cfg["mode"] == "fallback"
    tmp = os.path.realpath(cfg["tmp"])
    read_ok = tuple(cfg["read_paths"]) + (tmp,)
    me = os.getpid()
    proc_events = {"os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system", "subprocess.Popen", "pty.spawn"}
    path_events = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.chmod", "os.chown",
                   "os.truncate", "os.utime", "shutil.rmtree", "shutil.move", "shutil.copyfile", "os.chdir"}
    net_events = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"}
    real = os.path.realpath
    getrlimit = resource.getrlimit

    def inside(path, roots):
        if isinstance(path, int):
            return True
        if isinstance(path, bytes):
            path = path.decode("utf-8", "surrogateescape")
        p = real(os.fspath(path))
        return any(p == r or p.startswith(r.rstrip("/") + "/") for r in roots)

    def hook(event, args):
        if event in net_events:
            addr = args[1] if len(args) > 1 else "?"
            rep.blocked(f"network ({event} {addr!r})")
        elif event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & _WRITE_FLAGS)
            if path is None:
                return
            if writing and not inside(path, (tmp, "/dev/null") + (("/dev/shm",) if not fallback else ())):
                rep.blocked(f"write outside the sandbox tmp ({os.fsdecode(path) if not isinstance(path, int) else path})")
            if fallback and not inside(path, read_ok):
                rep.blocked(f"read outside the sandbox ({os.fsdecode(path)})")
        elif event == "resource.setrlimit":
            res, lim = args
            soft, hard = getrlimit(res)
            new = tuple(-1 if v == resource.RLIM_INFINITY else v for v in lim)
            cur = tuple(-1 if v == resource.RLIM_INFINITY else v for v in (soft, hard))
            if any((n == -1 and c != -1) or (c != -1 and n > c) for n, c in zip(new, cur)):
                rep.blocked(f"raising its own limits (resource {res} to {lim})")
        elif event in ("import",) and fallback and args[0] in ("ctypes", "_ctypes", "cffi"):
            rep.blocked(f"ctypes ({args[0]})")
        elif event.startswith("ctypes.") and fallback:
            rep.blocked(f"ctypes ({event})")
        elif fallback and event in proc_events:
            rep.blocked(f"starting a process ({event})")
        elif fallback and event in ("os.kill", "os.killpg", "signal.pthread_kill") and args and args[0] != me:
            rep.blocked(f"signalling another process ({event} {args[0]})")
        elif fallback and event in path_events:
            paths = [a for a in args if isinstance(a, (str, bytes, os.PathLike))]
            if paths and not all(inside(p, (tmp,)) for p in paths):
                rep.blocked(f"file operation outside the sandbox tmp ({event} {paths[0]!r})")

    for m in [m for m in sys.modules if m == "ctypes" or m.startswith("ctypes.") or m == "_ctypes"]:
        del sys.modules[m]  # P and C used ctypes; D must import it afresh so the hook sees it
    sys.addaudithook(hook)


# The value encoding: only the data of builtin types crosses to the parent, read through the base
# type's own methods, so an object cannot pass itself off as the expected value (no __eq__, __repr__
# or __iter__ of the code under test is ever called).
def _encode(v, depth=0):
    if depth > 50:
        return {"u": "too deep"}
    if v is None:
        return {"n": 1}
    if isinstance(v, bool):
        return {"b": bool(int.__index__(v))}
    if isinstance(v, int):
        return {"i": int.__repr__(v)}
    if isinstance(v, float):
        return {"f": float.__repr__(v)}
    if isinstance(v, complex):
        return {"c": [float.__repr__(complex.real.__get__(v)), float.__repr__(complex.imag.__get__(v))]}
    if isinstance(v, str):
        return {"s": str.__str__(v)}
    if isinstance(v, (bytes, bytearray)):
        return {"y": bytes(memoryview(v)).hex()}
    if isinstance(v, list):
        return {"l": [_encode(x, depth + 1) for x in list.__iter__(v)]}
    if isinstance(v, tuple):
        return {"t": [_encode(x, depth + 1) for x in tuple.__iter__(v)]}
    if isinstance(v, dict):
        return {"d": [[_encode(k, depth + 1), _encode(x, depth + 1)] for k, x in dict.items(v)]}
    if isinstance(v, frozenset):
        return {"fs": [_encode(x, depth + 1) for x in frozenset.__iter__(v)]}
    if isinstance(v, set):
        return {"set": [_encode(x, depth + 1) for x in set.__iter__(v)]}
    return {"u": type(v).__qualname__}


def harness(cfg, chan):
    rep = _Reporter(chan)
    import builtins
    import traceback

    _install_hook(cfg, rep)

    def gm_check(site, values):
        try:
            enc = [_encode(v) for v in values]
        except MemoryError:
            raise
        except BaseException as e:  # noqa: BLE001 - an encoding failure is a failed check, never a pass
            enc = [{"u": f"unencodable: {type(e).__name__}"}]
        rep.send(ev="check", site=site, values=enc)

    import linecache

    for name, src in (("<solution>", cfg["code"]), ("<tests>", cfg.get("tests") or "")):
        linecache.cache[name] = (len(src), None, src.splitlines(True), name)  # tracebacks show the lines
    ns = {"__name__": "__main__", "__builtins__": builtins}
    rep.send(ev="ready")

    def run_unit(kind, fn):
        try:
            fn()
            return None
        except MemoryError:
            rep.send(ev="memory", where=kind)
            return "MemoryError"
        except BaseException as e:  # noqa: BLE001 - SystemExit and KeyboardInterrupt inside a test fail it too
            # lookup_lines=False: reading the harness's own source would trip the fallback read policy
            frames = traceback.StackSummary.from_list(
                [f for f in traceback.StackSummary.extract(traceback.walk_tb(e.__traceback__), lookup_lines=False)
                 if f.filename.startswith("<")])
            sys.stderr.write("Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
                             + "".join(traceback.format_exception_only(type(e), e)))
            return f"{type(e).__name__}: {e}"[:2000]

    err = run_unit("code", lambda: exec(compile(cfg["code"], "<solution>", "exec"), ns))
    if err is not None:
        rep.send(ev="code_error", error=err)
        _flush_exit(1)
    if cfg.get("tests") is not None:
        ns["__gm_check__"] = gm_check
        units = [("<tests>", lambda: exec(compile(cfg["tests"], "<tests>", "exec"), ns))]
        for name in cfg["test_functions"]:
            units.append((name, lambda name=name: ns[name]()))
        for i, (name, fn) in enumerate(units):
            rep.send(ev="unit_start", unit=i)
            err = run_unit(name, fn)
            rep.send(ev="unit_end", unit=i, ok=err is None, error=err)
    rep.send(ev="done")
    _flush_exit(0)


def _flush_exit(code):
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except BaseException:  # noqa: BLE001
            pass
    os._exit(code)


def run_d(cfg, chan):
    """In D: limits, identity, environment, then the harness. Never returns."""
    try:
        os.environ.clear()  # unsetenv for each: the C-level environment is emptied too
        os.environ.update({"PATH": "/usr/bin:/bin", "HOME": cfg["tmp"], "TMPDIR": cfg["tmp"], "LANG": "C.UTF-8",
                           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8"})
        os.chdir(cfg["tmp"])
        fd_null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(fd_null, 0)
        os.close(fd_null)
        os.closerange(3, chan)
        os.closerange(chan + 1, 65536)
        sys.executable = cfg["python"]
        sys.argv = ["<solution>"]
        sys.path = [p for p in sys.path if p]
        _drop(cfg)
    except BaseException as e:  # noqa: BLE001
        sys.stderr.write(f"gristmill sandbox setup failed in the child: {e!r}\n")
        _flush_exit(SETUP_FAILED)
    try:
        harness(cfg, chan)
    except BaseException:  # noqa: BLE001
        _flush_exit(1)


# ----------------------------------------------------------------------------------------- P and C


def main():
    cfg_fd, status_fd = int(sys.argv[1]), int(sys.argv[2])
    with os.fdopen(cfg_fd, "rb") as f:
        cfg = json.loads(f.read())
    chan = cfg["chan_fd"]
    ns_mode = cfg["mode"] == "namespaces"
    try:
        join_cgroup(cfg)
        if ns_mode:
            build_root(cfg)
    except BaseException as e:  # noqa: BLE001
        sys.stderr.write(f"gristmill sandbox: cannot build the isolation: {e}\n")
        os._exit(SETUP_FAILED)

    r_c, w_c = os.pipe()  # C -> P: D's raw wait status
    child = os.fork()
    if child == 0:
        os.close(r_c)
        os.close(status_fd)
        try:
            if ns_mode:
                run_c(cfg, chan, w_c)
            else:
                os.close(w_c)
                os.setsid()  # fallback: D leads its own session; P kills that process group at the end
                run_d(cfg, chan)
        finally:
            os._exit(SETUP_FAILED)
    os.close(w_c)
    os.close(chan)

    def on_term(signum, frame):
        try:
            os.kill(child, signal.SIGKILL)
            if not ns_mode:
                os.killpg(child, signal.SIGKILL)
        except OSError:
            pass

    signal.signal(signal.SIGTERM, on_term)
    while True:
        try:
            _, st = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            st = 0
            break
    if not ns_mode:
        try:
            os.killpg(child, signal.SIGKILL)  # anything D left behind in its session
        except OSError:
            pass
    d_status = os.read(r_c, 64).decode() if ns_mode else str(st)
    os.write(status_fd, json.dumps({"c_status": st, "d_status": int(d_status) if d_status else None}).encode())
    os._exit(0)


def run_c(cfg, chan, w_c):
    libc = _libc()
    try:
        _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
        _mount(libc, "proc", cfg["root"] + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        os.chroot(cfg["root"])
        os.chdir("/")
        os.setsid()  # D then shares no process group with P outside the namespace
    except BaseException as e:  # noqa: BLE001
        sys.stderr.write(f"gristmill sandbox: cannot enter the sandbox root: {e}\n")
        os._exit(SETUP_FAILED)
    d = os.fork()
    if d == 0:
        os.close(w_c)
        run_d(cfg, chan)
    os.close(chan)
    d_status = None
    while d_status is None:  # PID 1 reaps every orphan; it leaves when D does
        try:
            pid, st = os.wait()
        except ChildProcessError:
            break
        if pid == d:
            d_status = st
    os.write(w_c, str(d_status if d_status is not None else 0).encode())
    os._exit(0)  # PID 1 exits: the kernel kills whatever is left in the namespace


if __name__ == "__main__":
    main()
