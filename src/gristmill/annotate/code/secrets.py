"""Secret redaction for source code: keys, tokens, private keys and passwords in assignments.

The patterns follow the plugins of Yelp's ``detect-secrets`` (``detect_secrets/plugins/``:
``aws.py``, ``github_token.py``, ``private_key.py``, ``slack.py``, ``stripe.py``, ``jwt.py``,
``keyword.py`` and the ``high_entropy_strings.py`` Shannon-entropy test), which BigCode also
used to build its PII redaction set for StarCoder (Li et al. 2023, section 4). Learnt from, not
copied: each pattern matches the documented shape of the credential.

Assignments (``password = "..."``, ``"api_key": "..."``) are redacted only when the value looks
random: at least ``min_secret_length`` characters, no whitespace, and a Shannon entropy of at
least ``min_entropy`` bits per character (detect-secrets flags hex strings from 3.0 and base64
from 4.5; 3.0 here because the keyword already says it is a secret). This keeps
``password = "password"``, ``token = "<your token>"``, ``token_type = "quoted-string"`` (only
letters and separators: a word, not a key) and environment look-ups, which are what clean code
holds.
"""
from __future__ import annotations

import math
import re
from collections import Counter

import pyarrow as pa
from pydantic import Field

from gristmill.annotate.pii import redact_text_column, replace_spans
from gristmill.step import Step, StepConfig, register

# kind -> pattern; the whole match is the secret unless the pattern has a group named "secret".
PATTERNS: dict[str, re.Pattern] = {
    "private_key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]{0,20000}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
                              r"|-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "aws_access_key": re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    "aws_secret_key": re.compile(r"(?i)aws.{0,20}?(?:secret|key).{0,20}?['\"](?P<secret>[0-9a-zA-Z/+]{40})['\"]"),
    "github_token": re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{36}\b|\bgithub_pat_[A-Za-z0-9_]{22,255}\b"),
    "slack_token": re.compile(r"\bxox(?:a|b|p|o|s|r)-(?:\d+-)+[a-zA-Z0-9-]{10,}\b"),
    "stripe_key": re.compile(r"\b(?:r|s)k_live_[0-9a-zA-Z]{24,}\b"),
    "google_api_key": re.compile(r"\bAIza[0-9A-Za-z\-_]{35}(?![0-9A-Za-z_-])"),
    "jwt": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
}
# detect-secrets' KeywordDetector: a secret-sounding name, an assignment, a quoted value. The name
# starts at a word start (the lookbehind): tried at every offset of a 100 kB identifier-like run,
# the pattern would backtrack quadratically.
_KEYWORD = re.compile(
    r"(?i)(?<![\w.-])(?P<name>[\w.-]*?(?:password|passwd|pwd|secret|token|api_?key|access_?key|auth_?key|private_?key|credentials?)[\w.-]*)"
    r"['\"]?\]?\s*(?::=|=>|=|:)\s*[bru]{0,2}(?P<q>['\"])(?P<secret>[^'\"\s\\]{1,500})(?P=q)")


# Letters joined by separators: an identifier, a word list, a path or a URL ("quoted-string",
# "mailbox-list", "http://example.org/x", a colour "#ansiblue"), never a generated key. A secret
# has a digit or a symbol inside it.
_WORDY = re.compile(r"[#@$]?[A-Za-z]+(?:[-_./:@][A-Za-z]*)*")


def shannon_entropy(s: str) -> float:
    """Bits per character of ``s`` (detect-secrets' ``calculate_shannon_entropy``)."""
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values()) if n else 0.0


@register
class SecretsRedact(Step):
    """Replace secrets with a placeholder (rewrites ``text``; annotates ``secrets_replacements``;
    counters per kind: ``private_key``, ``aws_access_key``, ``aws_secret_key``, ``github_token``,
    ``slack_token``, ``stripe_key``, ``google_api_key``, ``jwt``, ``password_assignment``). See the
    module docstring for the sources of the patterns and of the entropy test."""

    name = "secrets_redact"

    class Config(StepConfig):
        placeholder: str = Field("<SECRET>", description="text that replaces a secret ('{kind}' is replaced by its kind)")
        kinds: list[str] = Field([*PATTERNS, "password_assignment"], description="which kinds to redact")
        min_secret_length: int = Field(8, ge=1, description="shortest value of a password/token assignment that is redacted")
        min_entropy: float = Field(3.0, ge=0, description="bits per character an assigned value needs to count as a secret "
                                   "(detect-secrets: hex 3.0, base64 4.5)")

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Non-overlapping (start, end, kind) of the secrets in ``text``, in order."""
        c = self.config
        found = []
        for kind, rx in PATTERNS.items():
            if kind in c.kinds:
                for m in rx.finditer(text):
                    s, e = m.span("secret") if "secret" in rx.groupindex else m.span()
                    found.append((s, e, kind))
        if "password_assignment" in c.kinds:
            for m in _KEYWORD.finditer(text):
                v = m.group("secret")
                if (len(v) >= c.min_secret_length and shannon_entropy(v) >= c.min_entropy and not _WORDY.fullmatch(v)
                        and not v.startswith(("$", "%", "{", "<"))):
                    found.append((*m.span("secret"), "password_assignment"))
        out, end = [], -1
        for s, e, kind in sorted(found, key=lambda f: (f[0], -f[1])):
            if s >= end:
                out.append((s, e, kind))
                end = e
        return out

    def redact(self, text: str) -> tuple[str, Counter]:
        return replace_spans(text, self.find(text), lambda kind: self.config.placeholder.replace("{kind}", kind), Counter())

    def annotate(self, table: pa.Table) -> pa.Table:
        return redact_text_column(table, self.redact, self.stats, "secrets_replacements")

    @classmethod
    def writes(cls, config) -> set[str]:
        return {"secrets_replacements"}
