"""The attack catalogue as a real non-root user (issue 19: "test as a non-root user in CI").

As root, this creates a system user (``gristmill-sbx``) if it is missing, lets it traverse to the
interpreter and the source tree (``o+x`` on the directories that lack it, restored afterwards), and
reruns the sandbox's attack tests under that uid with ``setpriv``: there the boundary must be the
unprivileged user namespace (``userns``), and every attack must still be contained. Not root: the
ordinary run of tests/synth/test_synth_sandbox.py already is the non-root run.
"""
from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux-only")

USER = "gristmill-sbx"
ROOT = Path(__file__).resolve().parents[2]


def _user():
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    r = subprocess.run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"cannot create the test user {USER}: {r.stderr.strip()}")
    return pwd.getpwnam(USER)


@contextmanager
def _traversable(paths):
    """Others may search every directory above (and at) ``paths`` while the block runs."""
    changed = []
    try:
        for p in paths:
            p = Path(os.path.realpath(p))
            for d in [*reversed(p.parents), p]:
                st = os.stat(d)
                if stat.S_ISDIR(st.st_mode) and not st.st_mode & stat.S_IXOTH:
                    os.chmod(d, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
                    changed.append((d, stat.S_IMODE(st.st_mode)))
        yield changed
    finally:
        for d, mode in reversed(changed):
            os.chmod(d, mode)


def test_attack_catalogue_as_a_non_root_user():
    if os.geteuid() != 0:
        pytest.skip("not root: tests/synth/test_synth_sandbox.py runs the catalogue as this non-root user already")
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("setpriv (util-linux) is not installed")
    u = _user()
    home = tempfile.mkdtemp(prefix="gristmill-sbx-")
    os.chown(home, u.pw_uid, u.pw_gid)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRISTMILL_SANDBOX", "PYTEST_"))}
    env.update(HOME=home, TMPDIR=home, PYTHONPATH=str(ROOT / "src"), GRISTMILL_EXPECT_MODE="userns",
               PYTHONDONTWRITEBYTECODE="1")
    cmd = [setpriv, f"--reuid={u.pw_uid}", f"--regid={u.pw_gid}", "--clear-groups", "--",
           sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
           str(ROOT / "tests" / "synth" / "test_synth_sandbox.py"), "-k",
           "attack_contained or kernel_mode_chosen or seccomp_and_keyring or userns_mode_works or ordinary_programs "
           "or concurrent_runs or limits_are_parameters"]
    try:
        with _traversable([sys.executable, sys.base_prefix, sys.prefix, ROOT / "src", ROOT / "tests"]):
            r = subprocess.run(cmd, cwd=home, env=env, capture_output=True, text=True, timeout=900)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    from gristmill.synth.attacks import ATTACKS

    assert f"{len(ATTACKS) + 6} passed" in out, out[-2000:]  # every attack and the ordinary programs, none skipped
