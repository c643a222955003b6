"""Which implementation the heuristic steps run on: the compiled kernels or pure Python.

One object, :data:`BACKEND`, holds the choice; every caller reads it there, so switching (for
:func:`pure_python`) is one call, not a swap of several module globals."""
from __future__ import annotations

from contextlib import contextmanager

from . import native
from .tokenizer import _tokenize_chunk


class Backend:
    """``kernels``: the ``gristmill._native`` module or None; ``tokenizer``: its compiled spaCy
    matcher or None; ``tokenize``: the chunk tokenizer in use (the compiled one when it is built,
    identical tokens)."""

    def __init__(self):
        self._compiled = (native.kernels, native._native_tokenizer())
        self.use_compiled(True)

    def use_compiled(self, on: bool) -> None:
        # The matcher is None when the extension is missing or the patterns do not fit it (the
        # Python loop gives the same tokens); the other kernels are used whenever they are built.
        self.kernels, self.tokenizer = self._compiled if on else (None, None)
        self.tokenize = self.tokenizer.tokenize if self.tokenizer is not None else _tokenize_chunk

    @property
    def compiled(self) -> bool:
        return self.kernels is not None


BACKEND = Backend()


@contextmanager
def pure_python():
    """Run the heuristic steps without the compiled kernels inside this block (same results;
    the benchmarks and tests use it to measure and check the fallback). Not thread-safe."""
    from .words import _clear_caches
    was = BACKEND.compiled
    BACKEND.use_compiled(False)
    try:
        _clear_caches()
        yield
    finally:
        BACKEND.use_compiled(was)
        _clear_caches()
