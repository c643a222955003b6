"""The sandbox, attacked for real: every attack in gristmill.synth.attacks in this process's kernel
boundary (root: namespaces; any other user: userns; tests/synth/test_synth_attacks_nonroot.py reruns them as
a non-root user), plus the ordinary behaviour a verifier relies on (verdicts, output, limits, cleanup)
and the fail-closed choice of mode."""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from gristmill.synth import sandbox
from gristmill.synth.attacks import ATTACKS, attack_context, run_attack
from gristmill.synth.sandbox import SandboxError, isolation_mode, run_python

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux-only")


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    with attack_context(str(tmp_path_factory.mktemp("attack"))) as c:
        yield c


def _leftovers():
    """Sandbox temp roots and cgroups that outlived their run."""
    import tempfile

    roots = list(Path(tempfile.gettempdir()).glob(f"gristmill-sandbox-{os.getpid()}-*"))
    cg = sandbox._memory_cgroup()
    groups = list(cg[0].glob(f"gristmill-sandbox-{os.getpid()}-*")) if cg else []
    return roots + groups


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_contained(attack, ctx):
    r, leak, expected = run_attack(attack, ctx)
    assert leak is None, f"{attack.name}: {leak} ({r.status}: {r.detail})"
    assert expected, f"{attack.name}: status {r.status!r} ({r.detail}); expected one of {attack.expect}"
    assert r.mode == isolation_mode() and r.mode in sandbox.KERNEL_MODES
    # set by test_synth_attacks_nonroot.py: the catalogue must run in the boundary it asked for
    assert r.mode == os.environ.get("GRISTMILL_EXPECT_MODE", r.mode)
    assert r.status != "passed" or attack.tests is None


def test_kernel_mode_chosen_for_this_user():
    expect = "namespaces" if os.geteuid() == 0 else "userns"
    if os.environ.get("GRISTMILL_SANDBOX"):
        pytest.skip("GRISTMILL_SANDBOX forces a mode")
    assert isolation_mode() == expect
    r = run_python("import os\nprint(sorted(os.listdir('/')))\n")
    assert r.mode == expect and r.status == "passed"
    assert "etc" not in r.stdout and "home" not in r.stdout and "work" not in r.stdout, r.stdout
    if expect == "userns":  # a real user namespace: our uid is root inside, and only that one uid is mapped
        r = run_python("print(open('/proc/self/uid_map').read().split())\n")
        assert r.stdout.strip() == str(["0", str(os.getuid()), "1"]), r.stdout


def test_userns_mode_works_for_root_too():
    """The non-root boundary, built here whoever we are (the non-root test runs it as a real other user)."""
    r = run_python("def sq(x):\n    return x * x\n", tests="assert sq(3) == 9\n", mode="userns")
    assert (r.status, r.mode) == ("passed", "userns"), (r.detail, r.stderr)
    # a child process (no audit hook there) meets the empty network namespace
    r = run_python("import subprocess, sys\nsys.exit(subprocess.run([sys.executable, '-c', \"import socket; "
                   "socket.create_connection(('1.1.1.1', 53), timeout=1)\"]).returncode)\n", mode="userns")
    assert r.status == "failed" and "Network is unreachable" in r.stderr, (r.detail, r.stderr)


def test_fail_closed_without_a_kernel_boundary(monkeypatch):
    """No boundary: SandboxError naming the fix, never a silent run under the audit hook."""
    for m in ("namespaces", "userns"):
        monkeypatch.setitem(sandbox._probed, (m, os.geteuid()), (False, "crashed: unshare: Operation not permitted"))
    monkeypatch.delenv("GRISTMILL_SANDBOX", raising=False)
    with pytest.raises(SandboxError, match="no kernel-level sandbox.*unsafe-audit-hook"):
        run_python("print(1)")
    with pytest.raises(SandboxError, match="no kernel-level sandbox"):
        isolation_mode()
    # the old name does not quietly select the unsafe mode
    monkeypatch.setenv("GRISTMILL_SANDBOX", "fallback")
    with pytest.raises(SandboxError, match="fallback is gone"):
        run_python("print(1)")
    monkeypatch.setenv("GRISTMILL_SANDBOX", "bogus")
    with pytest.raises(SandboxError, match="bogus"):
        run_python("print(1)")
    # named, the unsafe mode runs, and every result says so
    monkeypatch.setenv("GRISTMILL_SANDBOX", "unsafe-audit-hook")
    r = run_python("def sq(x):\n    return x * x\n", tests="assert sq(3) == 9\n")
    assert (r.status, r.mode) == ("passed", "unsafe-audit-hook"), r.detail
    monkeypatch.delenv("GRISTMILL_SANDBOX")
    assert run_python("print(1)", mode="unsafe-audit-hook").mode == "unsafe-audit-hook"


def test_seccomp_and_keyring_in_every_mode():
    code = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\n"
            "print('add_key', libc.syscall(248, b'user', b'k', b'v', 1, -4), ctypes.get_errno())\n"
            "print('keyctl', libc.syscall(250, 0, -3, 0), ctypes.get_errno())\n"  # KEYCTL_GET_KEYRING_ID @s
            "print('bpf', libc.syscall(321, 0, 0, 0), ctypes.get_errno())\n"
            "print('seccomp', open('/proc/self/status').read().split('Seccomp:')[1].split()[0])\n")
    for m in ("namespaces" if os.geteuid() == 0 else "userns", "userns", "unsafe-audit-hook"):
        r = run_python(code, mode=m) if m != "unsafe-audit-hook" else None
        if r is None:  # the unsafe mode refuses ctypes in its hook; the filter is still there for child processes
            r = run_python("import subprocess, sys\nsubprocess.run([sys.executable, '-c', " + repr(code) + "])\n", mode=m)
            assert r.status == "blocked"
            continue
        lines = dict(line.split(" ", 1) for line in r.stdout.splitlines())
        assert lines["add_key"] == "-1 1" and lines["keyctl"] == "-1 1" and lines["bpf"] == "-1 1", (m, r.stdout, r.stderr)
        assert lines["seccomp"] == "2", r.stdout  # SECCOMP_MODE_FILTER


def test_verdicts_on_tests():
    code = "def add(a, b):\n    return a + b\n"
    r = run_python(code, tests="assert add(2, 3) == 5\nassert add('a', 'b') == 'ab'\n")
    assert r.status == "passed", r.detail
    assert "2 check(s)" in r.detail
    r = run_python(code, tests="assert add(2, 3) == 5\nassert add(2, 2) == 5\n")
    assert r.status == "failed" and "line 2" in r.detail and "got 4" in r.detail
    # pytest-style test functions, chained comparisons, membership, truth tests
    tests = ("def test_small():\n    assert add(1, 1) == 2\n    assert 0 < add(1, 1) <= 2\n"
             "def test_members():\n    assert add(1, 2) in (3, 4)\n    assert add(0, 0) is not None\n    assert add(1, 0)\n")
    assert run_python(code, tests=tests).status == "passed"
    r = run_python("def add(a, b):\n    return a - b\n", tests=tests)
    assert r.status == "failed" and "assert add(1, 1) == 2: got 0" in r.detail, r.detail
    # a statement the parent cannot evaluate by itself is refused, with the line and the reason
    r = run_python(code, tests="def test_boom():\n    raise ValueError('x')\n")
    assert r.status == "rejected" and "line 2" in r.detail and "Raise" in r.detail, r.detail
    # a call that raises fails the verdict, naming the call
    r = run_python(code, tests="assert add(1, None) == 1\n")
    assert r.status == "failed" and "add(1, None) raised TypeError" in r.detail, r.detail
    # floats, nested containers, bytes, sets and dicts compare by value in the parent
    r = run_python("def f():\n    return {'a': [1.5, (2, b'x')], 'b': {3}}\n",
                   tests="assert f() == {'a': [1.5, (2, b'x')], 'b': {3}}\n")
    assert r.status == "passed", r.detail


def test_tests_that_do_not_parse_fail_cleanly():
    r = run_python("x = 1", tests="assert x ==")
    assert r.status == "rejected" and "do not" in r.detail


def test_code_errors_and_output():
    r = run_python("print('hello')\nimport sys\nprint('warn', file=sys.stderr)\n")
    assert (r.status, r.stdout, r.stderr) == ("passed", "hello\n", "warn\n")
    r = run_python("def f():\n    return 1 / 0\nf()\n")
    assert r.status == "failed" and "ZeroDivisionError" in r.detail
    assert '<solution>", line 2' in r.stderr and "return 1 / 0" in r.stderr and "_sandbox_runner" not in r.stderr
    r = run_python("import sys\nsys.exit(3)\n")
    assert r.status == "failed" and "SystemExit: 3" in r.detail
    r = run_python("x = (\n")
    assert r.status == "failed" and "SyntaxError" in r.detail


def test_ordinary_programs_work():
    """What legitimate code needs: its tmp dir, the stdlib, subprocesses (namespaces), threads, time."""
    code = ("import json, os, tempfile, threading, time, pathlib\n"
            "p = pathlib.Path(tempfile.gettempdir()) / 'x.json'\np.write_text(json.dumps([1, 2]))\n"
            "assert json.loads(p.read_text()) == [1, 2]\n"
            "t = threading.Thread(target=time.sleep, args=(0.05,)); t.start(); t.join()\n"
            "print(sorted(k for k in os.environ))\n")
    r = run_python(code)
    assert r.status == "passed", (r.detail, r.stderr)
    assert "GRISTMILL" not in r.stdout and "PYTHONPATH" not in r.stdout
    if r.mode in sandbox.KERNEL_MODES:
        r = run_python("import subprocess, sys\nprint(subprocess.run([sys.executable, '-c', 'print(6 * 7)'],"
                       " capture_output=True, text=True).stdout.strip())\n"
                       "from multiprocessing import Pool\nwith Pool(2) as p:\n    print(sum(p.map(abs, [-1, -2])))\n")
        assert r.status == "passed" and r.stdout.split() == ["42", "3"], (r.detail, r.stderr)


def test_limits_are_parameters():
    assert run_python("x = bytearray(150 << 20)", memory_mb=128).status == "memory"
    assert run_python("x = bytearray(150 << 20)", memory_mb=512).status == "passed"
    assert run_python("print('x' * 5000)", output_limit_bytes=1000).status == "output_limit"
    assert run_python("import time\ntime.sleep(0.3)", timeout_s=5).status == "passed"


def test_bad_arguments_fail_loudly():
    with pytest.raises(SandboxError, match="timeout_s"):
        run_python("pass", timeout_s=0)
    with pytest.raises(SandboxError, match="memory_mb"):
        run_python("pass", memory_mb=8)
    with pytest.raises(SandboxError, match="code must be a str"):
        run_python(b"pass")


def test_concurrent_runs_and_no_leftovers():
    before = set(_leftovers())
    results = [None] * 6

    def go(i):
        results[i] = run_python(f"def f():\n    return {i}\n", tests=f"assert f() == {i}\n")

    threads = [threading.Thread(target=go, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in results] == ["passed"] * 6
    assert set(_leftovers()) <= before


def test_human_eval_style_check_function():
    tests = ("METADATA = {}\n\ndef check(candidate):\n    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True\n"
             "    assert candidate([1.0, 2.0, 3.0], 0.5) == False\n")
    good = ("def has_close_elements(numbers, threshold):\n    return any(i != j and abs(a - b) < threshold\n"
            "               for i, a in enumerate(numbers) for j, b in enumerate(numbers))\n")
    r = run_python(good, tests)
    assert r.status == "passed" and "2 check(s)" in r.detail, r.detail
    assert run_python(good.replace("< threshold", "> threshold"), tests).status == "failed"
    # tests that call check themselves are run as written
    assert run_python(good, tests + "check(has_close_elements)\n").status == "passed"
    # a helper the parent would have to trust is refused, not run
    r = run_python("def f():\n    return 1\n", "def helper():\n    assert f() == 1\n")
    assert r.status == "rejected" and "helper function" in r.detail


def test_sandbox_check_cli(monkeypatch):
    """`gristmill synth sandbox-check --json` on a few attacks (all of them run in the tests above)."""
    import json

    from typer.testing import CliRunner

    from gristmill.cli import app
    from gristmill.synth import attacks

    picked = [a for a in ATTACKS if a.name in ("connect to a 127.0.0.1 server", "print 1 GB",
                                               "forge the verdict: an object equal to everything")]
    monkeypatch.setattr(attacks, "ATTACKS", picked)
    r = CliRunner().invoke(app, ["synth", "sandbox-check", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [x["attack"] for x in rows] == [a.name for a in picked]
    assert all(x["contained"] and x["mode"] == isolation_mode() for x in rows)
    assert {x["status"] for x in rows} == {"blocked", "output_limit", "failed"}
