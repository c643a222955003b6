"""An export is one atomic unit (issue 19 item 8): a real `gristmill export` subprocess killed with
SIGKILL at random moments, and at the exact windows between its renames, leaves under the target
name the complete old export or the complete new one, byte for byte, never a mix; the next run
removes what the killed ones left. The windows are reached by a wrapper that runs the real CLI with
one function of the export module wrapped to SIGKILL the process right there (no test hook in the
product)."""
import fcntl
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gristmill
from export_world import TOKENS, cli, export_args, make_world, runner, staging_dirs, tree  # noqa: F401
from gristmill.cli import app
from gristmill.stream import MixtureDataset
from gristmill.stream.export import (MARKER, ExportError, clean_stale_exports, export_sequences, read_megatron,
                                     read_meta, read_nanogpt)

SRC = str(Path(gristmill.__file__).resolve().parents[1])
FMTS = ("nanogpt", "megatron")






@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("export_atomic"))








def env():
    e = dict(os.environ, PYTHONPATH=SRC, TOKENIZERS_PARALLELISM="false")
    return e


# Runs the real CLI; with a window name, one function of the export module is wrapped so that the
# process SIGKILLs itself exactly there.
WRAPPER = r'''
import errno, os, signal, sys
import gristmill.stream.export as E
window = sys.argv[1]
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
if window == "before_swap":
    real_swap = E._swap_in
    def swap(staging, out):
        die()
    E._swap_in = swap
elif window == "after_exchange":
    real_ex = E._exchange
    def ex(a, b):
        real_ex(a, b); die()
    E._exchange = ex
elif window.startswith("fallback"):
    def ex(a, b):
        raise OSError(errno.EINVAL, "no RENAME_EXCHANGE on this filesystem")
    E._exchange = ex
    if window == "fallback_between_renames":
        real_rename = os.rename
        def rename(a, b):
            real_rename(a, b)
            if str(b).endswith(".old"):
                die()
        os.rename = rename
from gristmill.cli import app
app(sys.argv[2:], prog_name="gristmill")
'''


def run_export(world: Path, args: list[str], window: str = "none", kill_after: float | None = None) -> int:
    script = world / "kill_wrapper.py"
    script.write_text(WRAPPER)
    p = subprocess.Popen([sys.executable, str(script), window, *args], env=env(), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    if kill_after is not None:
        try:
            p.wait(kill_after)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
    out, _ = p.communicate(timeout=600)
    return p.returncode




def assert_old_or_new(out: Path, old: dict, new: dict) -> str:
    got = tree(out)
    got.pop(MARKER, None)
    if got == old:
        return "old"
    assert got == new, f"{out}: neither the old nor the new export: " + ", ".join(
        f"{k}: {'old' if v == old.get(k) else 'new' if v == new.get(k) else 'other'}" for k, v in got.items())
    return "new"


@pytest.mark.parametrize("fmt", FMTS)
def test_killed_export_leaves_old_or_new_never_a_mix(world, fmt, tmp_path):
    out, ref = tmp_path / "exp", tmp_path / "ref"
    cli(*export_args(world, 0, out, fmt))
    # an older gristmill's killed export left a temp file inside: it goes with the old export
    (out / ".train.bin.99999.tmp").write_bytes(b"partial")
    old = tree(out)
    old.pop(MARKER, None)
    cli(*export_args(world, 1, ref, fmt))
    new = tree(ref)
    new.pop(MARKER, None)
    assert old.keys() - new.keys() == {".train.bin.99999.tmp"} and old != new

    t0 = time.monotonic()
    assert run_export(world, export_args(world, 1, tmp_path / "timing", fmt)) == 0
    full = time.monotonic() - t0
    rng = random.Random(fmt)
    seen = []
    windows = ["before_swap", "after_exchange"] + [None] * 2
    for w in windows:
        if w is None:  # a random moment of the whole run, startup and build included
            rc = run_export(world, export_args(world, 1, out, fmt), kill_after=rng.uniform(0.2, full))
        else:
            rc = run_export(world, export_args(world, 1, out, fmt), window=w)
            assert rc == -signal.SIGKILL
        seen.append((w, rc, assert_old_or_new(out, old, new)))
        if rc == 0:  # the random kill came too late: put the old export back for the next round
            shutil.rmtree(out)
            cli(*export_args(world, 0, out, fmt))
            (out / ".train.bin.99999.tmp").write_bytes(b"partial")
    assert ("before_swap", -9, "old") in seen and ("after_exchange", -9, "new") in seen, seen
    killed = [s for s in seen if s[1] == -signal.SIGKILL]
    assert len(killed) >= 3, seen
    # the next run removes every staging directory of the killed ones and puts the new export in place
    cli(*export_args(world, 1, out, fmt))
    assert staging_dirs(out) == []
    assert assert_old_or_new(out, old, new) == "new"
    assert not (out / ".train.bin.99999.tmp").exists()
    stream = [ex["input_ids"].numpy() for ex in MixtureDataset(world / "mix1.yaml", tokens=TOKENS)]
    back = export_sequences(out, verify=True)
    assert len(back) == len(stream) and all(np.array_equal(a[:len(b)], b) for a, b in zip(stream, back))


@pytest.mark.parametrize("fmt", FMTS)
def test_fallback_two_renames_recovers_the_old_export(world, fmt, tmp_path):
    """Without RENAME_EXCHANGE (the filesystem refuses it), a kill between the two renames leaves the
    target absent, never mixed; the next run puts the old export back first, then swaps in the new."""
    out, ref = tmp_path / "exp", tmp_path / "ref"
    tokens = 64 * 500
    cli(*export_args(world, 0, out, fmt, tokens))
    old = tree(out)
    old.pop(MARKER, None)
    cli(*export_args(world, 1, ref, fmt, tokens))
    new = tree(ref)
    new.pop(MARKER, None)
    assert run_export(world, export_args(world, 1, out, fmt, tokens), window="fallback_between_renames") == -signal.SIGKILL
    assert not out.exists()
    assert sorted(p.name.rsplit(".", 1)[1] for p in staging_dirs(out)) == ["old", "tmp"]  # old export, finished new one
    clean_stale_exports(out)
    assert assert_old_or_new(out, old, new) == "old" and staging_dirs(out) == []
    assert run_export(world, export_args(world, 1, out, fmt, tokens), window="fallback") == 0
    assert assert_old_or_new(out, old, new) == "new" and staging_dirs(out) == []


def test_refuses_a_directory_that_is_not_its_export(world, tmp_path):
    """gristmill replaces only its own exports: a project folder (even with a meta.json), or an export
    with a user's file beside it, is refused before any work, and nothing in it is touched."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "meta.json").write_text(json.dumps({"format": "nanogpt", "mine": True}))
    (proj / "train.bin").write_bytes(b"user data")
    r = cli(*export_args(world, 0, proj, "nanogpt", 64 * 50), ok=False)
    assert r.exit_code != 0 and "not a gristmill export" in r.output
    assert tree(proj) == {"meta.json": json.dumps({"format": "nanogpt", "mine": True}).encode(), "train.bin": b"user data"}

    exp = tmp_path / "exp"
    cli(*export_args(world, 0, exp, "nanogpt", 64 * 50))
    (exp / "notes.txt").write_text("mine")
    before = tree(exp)
    r = cli(*export_args(world, 1, exp, "nanogpt", 64 * 50), ok=False)
    assert r.exit_code != 0 and "notes.txt" in r.output
    assert tree(exp) == before and staging_dirs(exp) == []

    r = runner.invoke(app, export_args(world, 1, exp.parent, "nanogpt", 64 * 50))  # a parent of the export
    assert r.exit_code != 0 and "not a gristmill export" in r.output
    cwd = os.getcwd()
    try:
        (exp / "notes.txt").unlink()
        os.chdir(exp)
        r = cli(*export_args(world, 1, Path("."), "nanogpt", 64 * 50), ok=False)
        assert r.exit_code != 0 and "current directory" in r.output
    finally:
        os.chdir(cwd)

    f = tmp_path / "file"
    f.write_text("x")
    r = cli(*export_args(world, 0, f, "nanogpt", 64 * 50), ok=False)
    assert r.exit_code != 0 and "not a directory" in r.output and f.read_text() == "x"


def test_only_dead_gristmill_staging_is_removed(world, tmp_path):
    out = tmp_path / "exp"
    cli(*export_args(world, 0, out, "nanogpt", 64 * 50))
    # named like a staging directory but without the marker: a user's, never touched
    users = tmp_path / ".exp.gristmill-export.123.tmp"
    users.mkdir()
    (users / "keep.txt").write_text("mine")
    # a staging directory whose writer is alive (holds the marker's lock): left alone
    live = tmp_path / ".exp.gristmill-export.124.tmp"
    live.mkdir()
    (live / MARKER).write_text(json.dumps({"gristmill": "export", "version": 1}))
    dead = tmp_path / ".exp.gristmill-export.125.tmp"
    shutil.copytree(live, dead)
    (dead / "train.bin").write_bytes(b"\0" * 10)
    fd = os.open(live / MARKER, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        cli(*export_args(world, 1, out, "nanogpt", 64 * 50))
        assert users.exists() and (users / "keep.txt").read_text() == "mine"
        assert live.exists() and not dead.exists()
    finally:
        os.close(fd)
    assert clean_stale_exports(out) == [live]


def test_staging_of_a_writer_killed_before_its_marker_is_removed(world, tmp_path):
    """Killed between creating its staging directory and writing (or locking) the marker, an export
    leaves a directory with nothing or a torn marker in it: removed once its pid is dead, and only then."""
    out = tmp_path / "exp"
    cli(*export_args(world, 0, out, "nanogpt", 64 * 50))
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    dead = p.pid
    empty = tmp_path / f".exp.gristmill-export.{dead}.tmp"
    empty.mkdir()
    torn = tmp_path / f".exp.gristmill-export.{4_194_305}.tmp"  # above the kernel's PID_MAX_LIMIT: no such process
    torn.mkdir()
    (torn / MARKER).write_text('{"gristmill": "exp')
    alive = tmp_path / f".exp.gristmill-export.{os.getppid()}.tmp"  # a live process's: maybe mid-creation
    alive.mkdir()
    content = tmp_path / f".exp.gristmill-export.{4_194_306}.tmp"  # files, no marker: not ours to judge
    content.mkdir()
    (content / "train.bin").write_bytes(b"x")
    cli(*export_args(world, 1, out, "nanogpt", 64 * 50))
    assert not empty.exists() and not torn.exists()
    assert alive.exists() and (content / "train.bin").exists()


def test_readers_refuse_a_mixed_export(world, tmp_path):
    """A directory assembled from two exports (what a killed old-style export left) is refused by
    gristmill's readers, naming the file, instead of read as one."""
    a, b = tmp_path / "a", tmp_path / "b"
    cli(*export_args(world, 0, a, "nanogpt", 64 * 300))
    cli(*export_args(world, 1, b, "nanogpt", 64 * 600))
    shutil.copy(b / "train.bin", a / "train.bin")
    with pytest.raises(ExportError, match="train.bin.*mixes two exports"):
        read_nanogpt(a)
    with pytest.raises(ExportError, match="train.bin"):
        export_sequences(a)
    # same size, other bytes: the sizes pass, the hashes catch it
    c = tmp_path / "c"
    cli(*export_args(world, 1, c, "nanogpt", 64 * 300))
    shutil.copy(c / "val.bin", a / "val.bin")
    (a / "train.bin").write_bytes((c / "train.bin").read_bytes())
    read_meta(a)
    with pytest.raises(ExportError, match="sha256"):
        read_meta(a, verify=True)

    # Megatron: the new .bin (shorter) beside the old .idx: sequences past the end are refused
    m_old, m_new = tmp_path / "m_old", tmp_path / "m_new"
    cli(*export_args(world, 0, m_old, "megatron", 64 * 900))
    cli(*export_args(world, 1, m_new, "megatron", 64 * 300))
    shutil.copy(m_new / "train_text_document.bin", m_old / "train_text_document.bin")
    with pytest.raises(ValueError, match="point past the end"):
        read_megatron(m_old / "train_text_document")
    idx = m_new / "train_text_document.idx"
    raw = bytearray(idx.read_bytes())
    n_seq = struct.unpack_from("<Q", raw, 18)[0]
    struct.pack_into("<q", raw, 34 + 4 * n_seq + 8 * (n_seq - 1), 2**63 - 2)  # the last pointer: its end overflows int64
    idx.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="point past the end"):
        read_megatron(m_new / "train_text_document")
    idx = m_old / "train_text_document.idx"
    idx.write_bytes(idx.read_bytes()[:40])  # truncated index: counts larger than the file
    with pytest.raises(ValueError, match="more than the file holds"):
        read_megatron(m_old / "train_text_document")


def test_meta_pkl_is_written_for_nanogpt_and_never_read(world, tmp_path):
    """nanoGPT's train.py reads vocab_size from meta.pkl, so the export writes it (a plain dict); no
    gristmill reader unpickles it: a malicious meta.pkl of the same size runs nothing."""
    import pickle
    import pickletools

    out = tmp_path / "exp"
    cli(*export_args(world, 0, out, "nanogpt", 64 * 100))
    body = (out / "meta.pkl").read_bytes()
    ops = {op.name for op, _, _ in pickletools.genops(body)}
    assert not ops & {"GLOBAL", "STACK_GLOBAL", "REDUCE", "INST", "OBJ", "NEWOBJ"}  # data only
    assert pickle.loads(body) == {"vocab_size": read_meta(out)["vocab_size"]}
    pwned = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {pwned}",))

    evil = pickle.dumps(Evil())
    assert len(evil) > len(body)
    (out / "meta.pkl").write_bytes(evil)
    with pytest.raises(ExportError, match="meta.pkl"):
        export_sequences(out)
    cli("mix", "report", world / "mix0.yaml", out, "--json")
    assert not pwned.exists()
    src = Path(gristmill.__file__).parent
    readers = [p for p in src.rglob("*.py") if "pickle.load" in p.read_text() or "pickle.Unpickler" in p.read_text()]
    assert readers == [], readers
