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

As a non-root user (``userns`` mode) P first enters a new *user* namespace in which it is root
(``unshare(CLONE_NEWUSER)``, its own uid and gid mapped to 0, ``setgroups`` denied) and builds the
same namespaces and root; D then drops every capability (bounding set, effective, permitted,
inheritable and ambient sets; securebits locked so no ``execve`` regains them) instead of changing
uid. Both modes then load a seccomp filter (libseccomp, :data:`DENIED_SYSCALLS`) and join a fresh
session keyring.

``unsafe-audit-hook`` (only when a caller names it) forks D directly with rlimits, the seccomp filter
and the audit hook: CPython's audit hooks are not a sandbox (PEP 578), so that mode exists for
machines where no kernel boundary can be built and the caller accepts the risk by name.

Events cross to the parent as length-prefixed records (8 hex digits, then that many bytes of JSON),
so a record the code forges or truncates cannot run into the next one: the parent stops at the first
record that does not parse, and that ends the run as ``crashed``.
"""
# Only modules that load fast: json, signal and traceback pull in re and enum (~50 ms a run on a loaded
# 2-core machine), so the config comes as marshal (from the trusted parent), events are encoded by
# _dumps below, and traceback is imported only when there is a traceback to print.
import _signal as signal
import marshal
import os
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x04000000, 0x08000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
CLONE_NEWUSER, CLONE_NEWCGROUP = 0x10000000, 0x02000000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_CAP_AMBIENT = 1, 38, 24, 28, 47
SETUP_FAILED = 121  # exit code of P when isolation could not be built (the parent raises SandboxError)
KERNEL_MODES = ("namespaces", "userns")

# Syscalls no exercise needs and every one an escape or a cross-run channel has used: the kernel's
# key store (issue 19 item 4), eBPF, userfaultfd and io_uring (the usual exploit primitives, which
# Docker's default profile and Chrome's sandbox also deny), tracing other processes, mounting or
# entering namespaces, pidfds (signalling or stealing descriptors of processes by number), device
# and FIFO nodes, kernel modules and kexec. Denied with EPERM so the code sees an ordinary error.
DENIED_SYSCALLS = (
    "keyctl", "add_key", "request_key", "bpf", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "perf_event_open", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "mount", "umount2", "umount", "pivot_root", "chroot", "unshare", "setns", "fsopen", "fsmount", "fsconfig",
    "fspick", "move_mount", "open_tree", "mount_setattr", "pidfd_open", "pidfd_send_signal", "pidfd_getfd",
    "mknod", "mknodat", "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "open_by_handle_at", "name_to_handle_at",
    "lookup_dcookie", "syslog", "vhangup", "iopl", "ioperm", "personality", "settimeofday", "clock_settime",
    "adjtimex", "clock_adjtime", "sethostname", "setdomainname", "fanotify_init", "nfsservctl",
)
_NS_FLAGS = (CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP)


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
    _mount(libc, None, dest, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | _kept_flags(host_path)
           | (0 if host_path.startswith("/dev/") else MS_NODEV))


def _kept_flags(path):
    """The source mount's noexec/atime flags: inside a user namespace they are locked, and a remount
    that would clear one fails with EPERM."""
    f = os.statvfs(path).f_flag
    out = 0
    for st, ms in ((8, MS_NOEXEC), (4, MS_NODEV), (1024, 1024), (2048, 2048), (4096, 1 << 21)):
        if f & st:
            out |= ms
    return out


def enter_userns(cfg):
    """Non-root: a user namespace where our uid and gid are 0, with the other namespaces inside it."""
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    _check(libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def build_root(cfg):
    """Namespaces and the read-only root, in P (before C exists)."""
    libc = _libc()
    if cfg["mode"] == "userns":
        enter_userns(cfg)
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
    libc = _libc()
    if cfg["mode"] in KERNEL_MODES:
        # no capability survives, not even through an execve as (namespace) root: securebits first
        # (NOROOT, NO_SETUID_FIXUP, KEEP_CAPS off, all locked), then the bounding and ambient sets
        _check(libc.prctl(PR_SET_SECUREBITS, 0x2F, 0, 0, 0), "prctl(SET_SECUREBITS)")
        for cap in range(64):
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                break  # EINVAL past the kernel's last capability
        libc.prctl(PR_CAP_AMBIENT, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL; EINVAL on kernels without ambient caps
    if os.geteuid() == 0 and cfg["mode"] == "namespaces":  # real root: a uid of its own, used by no one else
        uid = cfg["uid"]
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # from root to non-root: every capability is dropped too
    if cfg["mode"] in KERNEL_MODES:
        _capset_zero(libc)
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    # a fresh, empty session keyring (KEYCTL_JOIN_SESSION_KEYRING with no name); the filter below then
    # denies every key syscall, so nothing can reach the user keyring a later run with this uid shares
    _seccomp(cfg, libc)


def _capset_zero(libc):
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    hdr, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words
    _check(libc.capset(ctypes.byref(hdr), data), "capset(0)")


def _seccomp(cfg, libc):
    """Deny :data:`DENIED_SYSCALLS` (EPERM), clone3 (ENOSYS: glibc then uses clone, whose flags a filter
    can read) and clone with any namespace flag. Built with libseccomp (Debian's libseccomp2, which
    apt itself depends on), which also adds the architecture check a hand-written BPF filter must not forget."""
    import ctypes
    import errno

    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as e:
        raise OSError(f"libseccomp.so.2 is not installed (apt-get install libseccomp2): {e}") from None

    class Cmp(ctypes.Structure):
        _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]

    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    act_errno = lambda e: 0x00050000 | (e & 0xFFFF)  # noqa: E731 - SCMP_ACT_ERRNO
    ctx = lib.seccomp_init(0x7FFF0000)  # SCMP_ACT_ALLOW: a deny list, so ordinary programs keep working
    if not ctx:
        raise OSError("seccomp_init failed")
    try:
        keyctl = lib.seccomp_syscall_resolve_name(b"keyctl")
        if keyctl >= 0:
            libc.syscall(keyctl, 1, None)  # KEYCTL_JOIN_SESSION_KEYRING, NULL: a new anonymous session keyring
        for name in DENIED_SYSCALLS:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr >= 0:
                rc = lib.seccomp_rule_add_array(ctx, act_errno(errno.EPERM), nr, 0, None)
                if rc not in (0, -errno.EEXIST):
                    raise OSError(-rc, f"seccomp rule for {name}")
        nr = lib.seccomp_syscall_resolve_name(b"clone3")
        if nr >= 0:
            lib.seccomp_rule_add_array(ctx, act_errno(errno.ENOSYS), nr, 0, None)
        nr = lib.seccomp_syscall_resolve_name(b"clone")
        for flag in _NS_FLAGS:  # SCMP_CMP_MASKED_EQ (7): (flags & flag) == flag
            cmp = Cmp(0, 7, flag, flag)
            rc = lib.seccomp_rule_add_array(ctx, act_errno(errno.EPERM), nr, 1, ctypes.byref(cmp))
            if rc != 0:
                raise OSError(-rc, "seccomp rule for clone")
        rc = lib.seccomp_load(ctx)
        if rc != 0:
            raise OSError(-rc, f"seccomp_load: {os.strerror(-rc)}")
    finally:
        lib.seccomp_release(ctx)


_ESC = {i: f"\\u{i:04x}" for i in range(32)}
_ESC.update({ord('"'): '\\"', ord("\\"): "\\\\"})


def _dumps(o) -> str:
    """JSON for the harness's own events (dicts, lists, str, int, bool, None)."""
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if type(o) is int:
        return int.__repr__(o)
    if type(o) is str:
        return '"' + o.translate(_ESC) + '"'
    if type(o) is dict:
        return "{" + ", ".join(_dumps(str(k)) + ": " + _dumps(v) for k, v in o.items()) + "}"
    if type(o) in (list, tuple):
        return "[" + ", ".join(_dumps(v) for v in o) + "]"
    return _dumps(str(o))


class _Reporter:
    def __init__(self, fd):
        self.fd = fd
        self.seen = set()

    def send(self, **ev):
        # backslashreplace turns a lone surrogate into a \\udcXX escape, which JSON reads back
        data = _dumps(ev).encode("utf-8", "backslashreplace")
        data = b"%08x" % len(data) + data  # one write: a record of up to PIPE_BUF bytes is never interleaved
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

    fallback = cfg["mode"] not in KERNEL_MODES  # the audit hook is all there is
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
        try:
            return {"i": int.__repr__(v)}
        except ValueError:  # past sys.int_info.str_digits_check_threshold: hex has no such limit and is linear
            return {"ix": int.__format__(v, "x")}
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
    if type(v) in _ITER_TYPES:  # exactly these builtin types: a generator's body runs here, in the sandbox
        items = []
        for x in v:
            if len(items) >= _ITER_MAX:
                return {"u": f"an iterator of more than {_ITER_MAX} items"}
            items.append(_encode(x, depth + 1))
        return {"it": items}
    return {"u": type(v).__qualname__}


def _gen():
    yield


# generators, map/filter/zip/enumerate/reversed and range/dict views: tests read them with list(), sorted(), ...
_ITER_TYPES = frozenset({type(_gen()), map, filter, zip, enumerate, reversed, range, type({}.keys()), type({}.values()),
                         type({}.items()), type(iter([])), type(iter(())), type(iter(range(0))), type(iter(""))})
_ITER_MAX = 100_000


def harness(cfg, chan):
    """Run the code, then each call the parent asked for; send back plain values, never a verdict."""
    rep = _Reporter(chan)
    import builtins

    real = {n: getattr(builtins, n) for n in dir(builtins)}  # before the code can replace any of them
    mro_of = type.__dict__["__mro__"].__get__  # read from type itself: a metaclass cannot lie about it
    _install_hook(cfg, rep)
    ns = {"__name__": "__main__", "__builtins__": builtins}
    rep.send(ev="ready")

    def explain(e):
        import linecache
        import traceback

        for name, src in (("<solution>", cfg["code"]),):
            linecache.cache[name] = (len(src), None, src.splitlines(True), name)  # tracebacks show the lines
        # lookup_lines=False: reading the harness's own source would trip the unsafe mode's read policy
        frames = traceback.StackSummary.from_list(
            [f for f in traceback.StackSummary.extract(traceback.walk_tb(e.__traceback__), lookup_lines=False)
             if f.filename.startswith("<")])
        sys.stderr.write("Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
                         + "".join(traceback.format_exception_only(type(e), e)))

    def exc_info(e):
        # the names of the *real* builtin exception classes it is an instance of: a class the code
        # names ValueError is not one
        kinds = [n for c in mro_of(type(e)) if isinstance(n := type.__dict__["__name__"].__get__(c), str) and real.get(n) is c]
        try:
            msg = str.__str__(BaseException.__str__(e))[:500]
        except BaseException:  # noqa: BLE001
            msg = "?"
        return kinds, f"{type.__dict__['__name__'].__get__(type(e))}: {msg}"[:600]

    try:
        exec(compile(cfg["code"], "<solution>", "exec"), ns)
    except MemoryError:
        rep.send(ev="memory", where="code")
        _flush_exit(1)
    except BaseException as e:  # noqa: BLE001 - SystemExit included: the code must run to its end
        explain(e)
        rep.send(ev="code_error", error=exc_info(e)[1])
        _flush_exit(1)
    for i, (name, packed) in enumerate(cfg.get("calls") or ()):
        fn = ns.get(name)
        if not callable(fn):
            rep.send(ev="result", i=i, error=f"NameError: the code defines no function {name!r}", kinds=["NameError"])
            continue
        args, kwargs = marshal.loads(packed)  # fresh copies: one call cannot change another's arguments
        try:
            v = fn(*args, **kwargs)
        except MemoryError:
            rep.send(ev="memory", where=name)
            _flush_exit(1)
        except BaseException as e:  # noqa: BLE001 - SystemExit and KeyboardInterrupt inside a call fail it too
            try:
                explain(e)  # the traceback goes to stderr, for whoever reads the failure
            except BaseException:  # noqa: BLE001
                pass
            kinds, msg = exc_info(e)
            rep.send(ev="result", i=i, error=msg, kinds=kinds)
            continue
        try:
            enc = _encode(v)
        except MemoryError:
            rep.send(ev="memory", where=name)
            _flush_exit(1)
        except BaseException as e:  # noqa: BLE001 - an encoding failure is a failed call, never a pass
            enc = {"u": f"unencodable: {type(e).__name__}"}
        rep.send(ev="result", i=i, v=enc)
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
        if cfg.get("stdin") is not None:  # a whole program's input: a private file, unlinked once open
            path = os.path.join(cfg["tmp"], ".gristmill-stdin")
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, cfg["stdin"])
            os.lseek(fd, 0, 0)
            os.unlink(path)
        else:
            fd = os.open("/dev/null", os.O_RDONLY)
        os.dup2(fd, 0)
        os.close(fd)
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
    except BaseException as e:  # noqa: BLE001
        try:
            sys.stderr.write(f"gristmill sandbox: the harness stopped: {type(e).__name__}\n")
        except BaseException:  # noqa: BLE001
            pass
        _flush_exit(1)


# ----------------------------------------------------------------------------------------- P and C


def main():
    cfg_fd, status_fd = int(sys.argv[1]), int(sys.argv[2])
    with os.fdopen(cfg_fd, "rb") as f:
        cfg = marshal.loads(f.read())  # written by run_python itself, never by the code under test
    chan = cfg["chan_fd"]
    ns_mode = cfg["mode"] in KERNEL_MODES
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
                os.setsid()  # unsafe mode: D leads its own session; P kills that process group at the end
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
    os.write(status_fd, f"{st} {int(d_status) if d_status else -1}".encode())
    os._exit(0)


def run_c(cfg, chan, w_c):
    libc = _libc()
    try:
        _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
        try:
            _mount(libc, "proc", cfg["root"] + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        except OSError:
            # in a user namespace the kernel refuses a new /proc where the host's is partly masked (as in
            # many containers); the code then runs without /proc, which costs it nothing it needs
            if cfg["mode"] != "userns":
                raise
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
