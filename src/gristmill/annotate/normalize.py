"""Text normalization steps: they rewrite ``text`` and never drop a document.

``normalize`` repairs broken Unicode (mojibake, HTML-less encoding errors) with ftfy, applies NFC,
removes control characters and collapses whitespace. ``normalize_whitespace`` only does the last
part, for text that is known to be clean Unicode already (much cheaper than ftfy).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Literal

import pyarrow as pa
from pydantic import Field

from gristmill.arrow import TEXT_TYPE, with_column
from gristmill.step import Step, StepConfig, register

__all__ = ["Normalize", "NormalizeWhitespace", "collapse_whitespace", "remove_control_chars", "ftfy_fix"]

# Every whitespace character except "\n": tabs, NBSP, ideographic space, ... become one space.
_HSPACE = re.compile(r"[^\S\n]+")
_LINE_EDGES = re.compile(r" ?\n ?")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_ASCII_HSPACE = [c for c in map(chr, range(128)) if c.isspace() and c not in " \n\r"]


def collapse_whitespace(text: str) -> str:
    """Unify line ends, collapse horizontal whitespace to one space, strip every line, allow at
    most one blank line in a row (paragraph breaks survive, layout padding does not)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Each substitution runs only where it can change something (exact guards, found with a
    # substring search, which is several times faster than a regex pass that replaces every space
    # by a space): in ASCII text the only horizontal whitespace besides " " is _ASCII_HSPACE.
    if not text.isascii() or "  " in text or any(c in text for c in _ASCII_HSPACE):
        text = _HSPACE.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = _LINE_EDGES.sub("\n", text)
    if "\n\n\n" in text:
        text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


# C0/C1 control characters carry no text; tab, newline and carriage return are whitespace that
# collapse_whitespace handles. The BOM and the object replacement char are format debris from
# file concatenation and PDF/HTML extraction.
_CONTROL_TABLE = {
    cp: None
    for cp in list(range(0x00, 0x20)) + list(range(0x7F, 0xA0)) + [0xFEFF, 0xFFFC]
    if cp not in (0x09, 0x0A, 0x0D)
}


def remove_control_chars(text: str) -> str:
    return text.translate(_CONTROL_TABLE)


def ftfy_fix(text: str, config) -> str:
    """``ftfy.fix_text(text, config=config)``, the same result, without ftfy's per-line work where
    it can have none.

    ``fix_text`` cuts the text into segments (each line, and lines longer than
    ``config.max_decode_length`` into pieces of that length) and runs ``fix_and_explain`` on each:
    about 25 us of Python per line even when nothing changes, which held ``normalize`` to ~500
    documents/s per core on 8 KB pages (benchmarks/RESULTS.md, "Every step, per core"). With the settings :class:`Normalize` uses (``unescape_html``
    off), every stage ftfy runs on a segment needs a non-ASCII character (mojibake, C1 controls,
    surrogates, byte A0 residue) except ``remove_terminal_escapes``, which needs ESC. So a segment
    that is ASCII without ESC comes back unchanged and is skipped here; the rest go through ftfy's
    own ``fix_and_explain``, segment by segment exactly as ``fix_text`` cuts them (ftfy 6.x,
    ``ftfy/__init__.py``). ``tests/engine/test_step_speed.py`` checks the identity against ``fix_text``.
    """
    if text.isascii() and "\x1b" not in text:
        return text
    from ftfy import fix_and_explain

    out = []
    pos = 0
    n = len(text)
    limit = config.max_decode_length
    while pos < n:
        brk = text.find("\n", pos) + 1
        if brk == 0:
            brk = n
        if brk - pos > limit:
            brk = pos + limit
        seg = text[pos:brk]
        out.append(seg if seg.isascii() and "\x1b" not in seg else fix_and_explain(seg, config)[0])
        pos = brk
    return "".join(out)


def _rewrite(step: Step, table: pa.Table, fix) -> pa.Table:
    values = table.column("text").to_pylist()
    out = []
    changed = 0
    for value in values:
        if value is None:
            out.append(None)
            continue
        new = fix(value)
        changed += new != value
        out.append(new)
    step.stats["changed_docs"] += changed
    return with_column(table, "text", pa.array(out, type=TEXT_TYPE))


@register
class Normalize(Step):
    """Repair and normalize Unicode text in place (rewrites ``text``).

    Stages, each switchable: ``fix_unicode`` runs ``ftfy.fix_text`` with the conservative
    settings of DataTrove's ``FTFYFormatter`` (datatrove/pipeline/formatters/ftfy.py): fix
    mojibake and encoding errors, but do not uncurl quotes, fold full-width characters or
    ligatures, because models should see those forms as they occur. ``unicode_form`` defaults to
    NFC, the form the web mostly uses already (W3C Character Model, "Normalization"), so the
    rewrite is lossless for readers; NFKC would fold e.g. "²" to "2". ``remove_control`` drops
    C0/C1 controls (except tab/newline), BOMs and U+FFFC. ``collapse_whitespace`` is
    :func:`collapse_whitespace`. Counters: ``changed_docs`` and one per stage that changed text.
    """

    name = "normalize"

    class Config(StepConfig):
        fix_unicode: bool = Field(True, description="repair mojibake and broken encodings with ftfy")
        unicode_form: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = Field("NFC", description="Unicode normal form to apply (null: leave as is)")
        remove_control: bool = Field(True, description="remove control characters other than newline and tab")
        collapse_whitespace: bool = Field(True, description="collapse runs of spaces and of blank lines")

    def _fixer_config(self):
        cfg = getattr(self, "_ftfy_config", None)
        if cfg is None:
            from ftfy import TextFixerConfig

            cfg = self._ftfy_config = TextFixerConfig(
                # Extracted text can legitimately contain "&amp;" (e.g. pages about HTML).
                unescape_html=False,
                uncurl_quotes=False,
                fix_latin_ligatures=False,
                fix_character_width=False,
                fix_line_breaks=False,
                # Done by our own stages, so each can be switched and counted separately.
                remove_control_chars=False,
                normalization=None,
                explain=False,
            )
        return cfg

    def _fix(self, text: str) -> str:
        c = self.config
        if c.fix_unicode:
            new = ftfy_fix(text, self._fixer_config())
            if new != text:
                self.stats["fixed_unicode"] += 1
                text = new
        if c.unicode_form and not unicodedata.is_normalized(c.unicode_form, text):
            text = unicodedata.normalize(c.unicode_form, text)
            self.stats["unicode_form"] += 1
        if c.remove_control:
            new = remove_control_chars(text)
            if len(new) != len(text):
                self.stats["removed_control"] += 1
                text = new
        if c.collapse_whitespace:
            new = collapse_whitespace(text)
            if new != text:
                self.stats["collapsed_whitespace"] += 1
                text = new
        return text

    def annotate(self, table: pa.Table) -> pa.Table:
        return _rewrite(self, table, self._fix)


@register
class NormalizeWhitespace(Step):
    """Whitespace-only normalization (rewrites ``text``): unify line ends, collapse runs of
    spaces/tabs to one space, strip each line, keep at most 2 consecutive newlines (one blank
    line, i.e. a paragraph break). Counter: ``changed_docs``."""

    name = "normalize_whitespace"

    class Config(StepConfig):
        pass

    def annotate(self, table: pa.Table) -> pa.Table:
        return _rewrite(self, table, collapse_whitespace)
