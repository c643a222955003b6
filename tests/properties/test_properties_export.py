"""Property-based (Hypothesis) test of the atomic export with generated kill points: a forked copy
of this process runs the real export over an older export and SIGKILLs itself right before or after
the n-th call of one of the export's filesystem operations (a block of tokens written, a small file
written, the marker, an fsync of a directory, a rename, the exchange, the removal of the old
export), with or without RENAME_EXCHANGE available. Whatever the point, the target then holds the
complete old export or the complete new one, byte for byte (without RENAME_EXCHANGE it may be
absent between the two renames, and the next export's recovery puts the old one back), and the next
export leaves the new one and no staging directory. Forking keeps it in process: no interpreter
start per example."""
import errno
import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

import gristmill.stream.export as E
from export_world import cli, export_args, make_world, staging_dirs, tree
from gristmill.stream.export import MARKER

TOKENS = 64 * 400
OPS = ("write", "small", "marker", "fsync_dir", "rename", "exchange", "rmtree")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the forked child tokenizes alone
    root = make_world(tmp_path_factory.mktemp("prop_export"))
    refs = {}
    for fmt in ("nanogpt", "megatron"):
        for seed in (0, 1):
            d = root / f"ref-{fmt}-{seed}"
            cli(*export_args(root, seed, d, fmt, TOKENS))
            refs[fmt, seed] = d
    return root, refs


@contextmanager
def counting(on_call):
    """Wrap the export's filesystem operations; ``on_call(op, phase)`` runs before and after each."""
    targets = {"write": (E._Sink, "write"), "small": (E, "_write_small"), "marker": (E, "_write_marker"),
               "fsync_dir": (E, "_fsync_dir"), "rename": (os, "rename"), "exchange": (E, "_exchange"),
               "rmtree": (shutil, "rmtree")}
    saved = {op: getattr(obj, name) for op, (obj, name) in targets.items()}

    def wrap(op, fn):
        def inner(*a, **kw):
            on_call(op, "before")
            r = fn(*a, **kw)
            on_call(op, "after")
            return r
        return inner

    try:
        for op, (obj, name) in targets.items():
            setattr(obj, name, wrap(op, saved[op]))
        yield
    finally:
        for op, (obj, name) in targets.items():
            setattr(obj, name, saved[op])


def no_exchange(a, b):
    raise OSError(errno.EINVAL, "no RENAME_EXCHANGE on this filesystem")


def export_in_child(root: Path, out: Path, fmt: str, fallback: bool, op: str, nth: int, phase: str) -> int:
    """Fork; the child exports the new stream over ``out`` and dies at the chosen call. Returns the
    child's wait status."""
    pid = os.fork()
    if pid == 0:  # the child never returns to pytest
        try:
            seen = {}

            def on_call(o, ph):
                if o == op and ph == phase:
                    seen[o] = seen.get(o, 0) + 1
                    if seen[o] == nth:
                        os.kill(os.getpid(), signal.SIGKILL)

            from gristmill.stream import MixtureDataset

            if fallback:
                E._exchange = no_exchange
            ds = MixtureDataset(root / "mix1.yaml", tokens=TOKENS, rank=0, world_size=1)
            with counting(on_call):
                E.export_stream(ds, out, fmt, val_fraction=0.01)
            os._exit(0)
        except BaseException:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    return status


@pytest.fixture(scope="module")
def op_counts(world):
    """How often each operation runs in one export over an old one, per format and mode."""
    root, refs = world
    counts = {}
    for fmt in ("nanogpt", "megatron"):
        for fallback in (False, True):
            with tempfile.TemporaryDirectory(dir=root) as tmp:
                out = Path(tmp) / "exp"
                shutil.copytree(refs[fmt, 0], out)
                c = {}
                saved = E._exchange
                if fallback:
                    E._exchange = no_exchange
                try:
                    with counting(lambda o, ph: ph == "before" and c.__setitem__(o, c.get(o, 0) + 1)):
                        cli(*export_args(root, 1, out, fmt, TOKENS))
                finally:
                    E._exchange = saved
                counts[fmt, fallback] = c
    return counts


@settings(max_examples=25, deadline=None, database=None, phases=[Phase.explicit, Phase.generate, Phase.shrink], derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(["nanogpt", "megatron"]), fallback=st.booleans(), op=st.sampled_from(OPS),
       pick=st.integers(0, 10**6), phase=st.sampled_from(["before", "after"]))
def test_killed_export_is_old_or_new(world, op_counts, fmt, fallback, op, pick, phase):
    root, refs = world
    counts = op_counts[fmt, fallback]
    if not counts.get(op):
        op = "write"  # an operation this mode never runs (the exchange without RENAME_EXCHANGE)
    if fallback and op == "exchange":
        phase = "before"  # the refused exchange raises: there is no point after it
    nth = 1 + pick % counts[op]
    old, new = tree(refs[fmt, 0]), tree(refs[fmt, 1])
    for t in (old, new):
        t.pop(MARKER, None)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        out = Path(tmp) / "exp"
        shutil.copytree(refs[fmt, 0], out)
        status = export_in_child(root, out, fmt, fallback, op, nth, phase)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
        if fallback and not out.exists():
            event("target absent between the fallback's renames")
            E.clean_stale_exports(out)
        got = tree(out)
        got.pop(MARKER, None)
        assert got in (old, new), (op, nth, phase, sorted(got))
        event(f"left the {'old' if got == old else 'new'} export")
        cli(*export_args(root, 1, out, fmt, TOKENS))
        got = tree(out)
        got.pop(MARKER, None)
        assert got == new and staging_dirs(out) == []
