"""PII redaction: e-mail addresses, IP addresses and phone numbers become placeholder tokens."""
from __future__ import annotations

import difflib
import ipaddress
import re
from typing import Literal

import pyarrow as pa
from pydantic import Field, field_validator

from gristmill.arrow import TEXT_TYPE, with_column
from gristmill.step import Step, StepConfig, register

__all__ = ["PII"]

# Local part and dotted domain ending in a 2+ letter TLD. Stricter than RFC 5322 on purpose:
# quoted local parts and IP-literal domains are rare in text and mostly false positives.
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![\w-])"
)
# Candidates only; ipaddress decides. The look-arounds stop "1.2.3.4.5" (a version, an OID)
# from yielding an address out of its middle.
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
# Hex groups with 2-7 colons (optionally an embedded IPv4 tail). Not preceded by a word char or
# ':' so C++ "std::map" and "a::b" never start a candidate; times "12:30:45" fail validation.
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}|:)?(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?![\w:])"
)
# Phone candidates: runs of digit groups joined by at most one separator (space, dot, dash,
# slash) or by parentheses, optionally after "+" (or "00"). A run is the widest span; the
# number inside it is found by ``PII._phones`` (a run such as "817-271-9807 24" holds a number
# followed by something else). Not preceded by a letter or digit, or by "-"/"."/"," after a
# digit, so a run never starts inside a longer identifier; "Phone-817-..." is allowed.
# Separators include the no-break space and the en dash of typeset text ("817–271–9807").
_GROUP = r"(?:\(\d{1,4}\)|\d{1,12})"
_SEP = "[ .\\-/\u00a0\u2009\u2013\u2011]"
_PHONE_RUN = re.compile(
    rf"(?<![\w+])(?<!\d[.,/\u2013-])(?:\(\+\d{{1,3}}\)\s?|\+\s?|\b00)?{_GROUP}(?:{_SEP}?{_GROUP}){{0,9}}")
_PHONE_GROUPS = re.compile(r"\(\+?\d+\)|\d+")
# A bare 10-digit national number (11 with the leading 1) is a phone number only right after a
# word that says so: "Call 8172719807", "tel. 18005551234"; elsewhere it is an id.
_PHONE_CUE = re.compile(r"(?:call|phone|tel|telephone|fax|mobile|cell|cellphone|text|whatsapp|contact|ph|hotline|dial|number)"
                        r"\b[\s.:#-]{0,3}(?:(?:me|us|now|at|on|no|number|is)\b[\s.:-]{0,2}){0,2}$", re.IGNORECASE)
_PHONE_EXT = re.compile(r"\s*,?\s*(?:ext\.?|extension|x|#)\s*\d{1,6}(?!\w)", re.IGNORECASE)
# Countries of the North American Numbering Plan: national numbers are written 3-3-4.
_NANP = {"US", "CA", "AG", "AI", "AS", "BB", "BM", "BS", "DM", "DO", "GD", "GU", "JM", "KN", "KY", "LC", "MP", "MS",
         "PR", "SX", "TC", "TT", "VC", "VG", "VI"}
# A version, release or build number before a dotted quad means it is not an address.
_VERSION_CUE = re.compile(r"(?:\bv|\bversion|\brelease|\bbuild|\bver\.?)\s*$", re.IGNORECASE)
# Obfuscated e-mail addresses (option): "name at domain dot com", "name [at] domain [dot] org",
# "name(at)domain.com", "name @ domain . com". At least one of "at"/"dot" is spelled out or
# spaced, a plain address is left to _EMAIL, and the last label must be a common top-level
# domain, so "looked at it dot by dot" is not an address.
_AT = r"(?:\s*[\[({<]\s*at\s*[\])}>]\s*|\s+at\s+|\s*@\s*)"  # case-insensitive: "AT" too
_DOT = r"(?:\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+|\s+\.\s+|\.)"
_AT_ANCHOR = re.compile(r"\s*[\[({<]\s*at\s*[\])}>]|\sat\s|\s@\s|\s@|@\s", re.IGNORECASE)
_TLDS = r"(?:com|org|net|edu|gov|mil|int|info|biz|io|co|uk|de|fr|es|it|nl|ru|ch|jp|cn|in|au|ca|br|se|pl|eu|me|us)"
_EMAIL_OBF = re.compile(
    rf"(?<![\w.@-])[A-Za-z0-9][A-Za-z0-9._%+-]{{0,63}}{_AT}[A-Za-z0-9][A-Za-z0-9-]{{0,62}}(?:{_DOT}[A-Za-z0-9-]{{1,63}})*?"
    rf"{_DOT}{_TLDS}(?![\w@])",
    re.IGNORECASE,
)


def _ip_ok(text: str, version: int, public_only: bool) -> bool:
    # "a::b" and "ff::ee" are valid addresses but in text they are C++ scopes or hex dumps.
    if version == 6 and sum(ch not in ":." for ch in text) < 5:
        return False
    try:
        ip = ipaddress.IPv4Address(text) if version == 4 else ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return ip.is_global if public_only else True



def replace_spans(text: str, spans, placeholder, counts: dict) -> tuple[str, dict]:
    """``text`` with each ``(start, end, kind)`` span (sorted, not overlapping) replaced by
    ``placeholder(kind)``; ``counts[kind]`` goes up by one per replacement. Shared by the PII and the
    secrets redactors."""
    parts, pos = [], 0
    for s, e, kind in spans:
        parts += [text[pos:s], placeholder(kind)]
        counts[kind] = counts.get(kind, 0) + 1
        pos = e
    if not parts:
        return text, counts
    parts.append(text[pos:])
    return "".join(parts), counts


def redact_text_column(table: pa.Table, redact, stats, count_column: str) -> pa.Table:
    """``table`` with ``text`` passed through ``redact(text) -> (text, counts per kind)``, the number of
    replacements per document in ``count_column``, and ``stats`` counting kinds and changed documents.
    Per document in Python: the matchers are regexes and validators with no batch form."""
    out, n_repl = [], []
    for value in table.column("text").to_pylist():
        if value is None:
            out.append(None)
            n_repl.append(0)
            continue
        new, counts = redact(value)
        total = 0
        for kind, n in counts.items():
            if n:
                stats[kind] += n
                total += n
        stats["docs_changed"] += total > 0
        out.append(new)
        n_repl.append(total)
    table = with_column(table, "text", pa.array(out, type=TEXT_TYPE))
    return with_column(table, count_column, pa.array(n_repl, type=pa.int32()))

@register
class PII(Step):
    """Replace e-mail addresses, IPv4/IPv6 addresses and phone numbers with placeholders
    (rewrites ``text``; annotates ``pii_replacements``, counters ``email``, ``ip_address``,
    ``phone_number``).

    - IP candidates are validated with the stdlib ``ipaddress``. With ``public_ips_only``
      (default True, as DataTrove's ``PIIFormatter(only_remove_public_ips=True)``,
      datatrove/pipeline/formatters/pii.py) loopback, private, link-local, documentation and
      reserved addresses (127.0.0.1, 10.0.0.1, 192.168.1.1, ::1, 2001:db8::1) are kept: they
      identify nobody and are common in technical text. Version strings such as "3.11.7" have
      too few parts to be candidates; "1.2.3.4.5" is never split into an address.
    - Phone numbers: a regex finds runs of digit groups (separated by one space, dot, dash or
      slash, or parenthesized, optionally after "+" or "00"); inside a run the longest stretch
      of groups that Google's libphonenumber (``phonenumbers``) accepts as a valid number is the
      number, so "Call 817-271-9807 24 hours a day" loses the number and keeps "24". Numbers
      without "+"/"00" are parsed as ``phone_region`` (default "US"); for North American regions
      they must also be grouped 3-3-4 as North Americans write them ("(817) 271-9807",
      "817.271.9807", "1(800) 827-5722", "1-800-827-5722"), which rejects dates, ISBNs, order and
      part numbers that happen to be valid digit strings. A trailing extension ("ext. 204",
      "x12") goes with the number. Unseparated national digit strings are not redacted (without
      "+" they are indistinguishable from ids). Chosen on ``benchmarks/bench_pii.py``: planted
      numbers of 20 countries in 30 written forms inside real prose, against dates, prices,
      versions, ISBNs, times, order numbers and coordinates.
    - E-mails: a pragmatic RFC 5322 subset (dotted domain with a letter TLD), as in DataTrove.
      ``obfuscated_emails`` (default False: "at"/"dot" spelled out is rare and its patterns touch
      ordinary prose) also redacts "name at domain dot com", "name [at] domain [dot] org",
      "name(at)domain.com" and similar, when the last label is a common top-level domain.
    - Dotted quads right after "v", "version", "release" or "build" are version numbers, not IPs.
    """

    name = "pii"

    class Config(StepConfig):
        kinds: list[Literal["email", "ipv4", "ipv6", "phone"]] = Field(["email", "ipv4", "ipv6", "phone"], description="which kinds of personal data to replace")
        email_placeholder: str = Field("<EMAIL>", description="text that replaces an e-mail address")
        ip_placeholder: str = Field("<IP_ADDRESS>", description="text that replaces an IP address")
        phone_placeholder: str = Field("<PHONE_NUMBER>", description="text that replaces a phone number")
        public_ips_only: bool = Field(True, description="replace only public IPs; private and documentation ranges stay")
        phone_region: str = Field("US", description="region used to validate numbers written without a country code")
        obfuscated_emails: bool = Field(False, description="also replace spelled-out addresses such as 'name at domain dot com'")

        @field_validator("phone_region")
        @classmethod
        def _known_region(cls, v):
            import phonenumbers

            if v.upper() in phonenumbers.SUPPORTED_REGIONS:
                return v.upper()
            if v not in phonenumbers.SUPPORTED_REGIONS:
                close = ["GB"] if v.upper() == "UK" else difflib.get_close_matches(v.upper(), sorted(phonenumbers.SUPPORTED_REGIONS), n=1)
                raise ValueError(f"phone_region: unknown region {v!r}; use an ISO 3166 code such as 'US', 'GB'"
                                 + (f" (did you mean {close[0]!r}?)" if close else ""))
            return v

    def _phone_ok(self, candidate: str, groups: list[int], cued: bool = False) -> bool:
        """``candidate``: a stretch of a run; ``groups``: the digit count of each of its groups;
        ``cued``: a word such as "call" or "tel" stands right before it."""
        digits = sum(groups)
        if not 7 <= digits <= 15:
            return False
        intl = candidate.startswith(("+", "00", "(+"))
        if intl:
            candidate = "+" + candidate.lstrip("+0 ") if candidate.startswith("00") else candidate.replace("(+", "+", 1)
        elif self.config.phone_region in _NANP:
            g = groups[1:] if len(groups) > 1 and groups[0] == 1 else groups
            if g != [3, 3, 4] and not (cued and (g == [10] or groups == [11])):
                return False
        elif len(groups) < 2:
            return False
        import phonenumbers

        try:
            return phonenumbers.is_valid_number(phonenumbers.parse(candidate, None if intl else self.config.phone_region))
        except phonenumbers.NumberParseException:
            return False

    def _phones(self, text: str) -> list[tuple[int, int]]:
        out = []
        for m in _PHONE_RUN.finditer(text):
            run, base = m.group(0), m.start()
            if sum(ch.isdigit() for ch in run) < 7:
                continue
            groups = [(g.start(), g.end(), sum(ch.isdigit() for ch in g.group(0))) for g in _PHONE_GROUPS.finditer(run)]
            cued = bool(_PHONE_CUE.search(text, max(0, base - 24), base))
            i = 0
            while i < len(groups):
                # a number starts the run or follows a space (not "-"/"." inside an identifier)
                if i and not run[groups[i][0] - 1].isspace():
                    i += 1
                    continue
                hit = None
                for j in range(min(len(groups), i + 8), i, -1):  # longest stretch first
                    e = groups[j - 1][1]
                    if j < len(groups) and not run[e].isspace():
                        continue  # it would end inside an identifier ("817-271-9807-24")
                    s0 = 0 if i == 0 else groups[i][0]
                    if self._phone_ok(run[s0:e], [g[2] for g in groups[i:j]], cued and i == 0):
                        hit = (s0, e, j)
                        break
                if hit is None:
                    i += 1
                    continue
                s0, e, i = hit
                end = base + e
                ext = _PHONE_EXT.match(text, end)
                out.append((base + s0, ext.end() if ext else end))
        return out

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """PII spans ``(start, end, kind)`` in ``text``, sorted and non-overlapping; kind is
        ``email``, ``ip_address`` or ``phone_number``. E-mails are found first (their domains may
        hold digits or IP-like parts), then IPs, then phone numbers."""
        c = self.config
        kinds = set(c.kinds)
        found: list[tuple[int, int, str]] = []

        def add(s: int, e: int, kind: str) -> None:
            if not any(a < e and s < b for a, b, _ in found):
                found.append((s, e, kind))

        if "email" in kinds and "@" in text:
            for m in _EMAIL.finditer(text):
                add(m.start(), m.end(), "email")
        if "email" in kinds and c.obfuscated_emails:
            # anchored on the "at" token, then matched from the start of the word before it:
            # far cheaper than trying the whole pattern at every position of the text
            for a in _AT_ANCHOR.finditer(text):
                start = a.start()
                while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "._%+-"):
                    start -= 1
                while start < a.start() and not text[start].isalnum():
                    start += 1
                m = _EMAIL_OBF.match(text, start)
                if m and not _EMAIL.fullmatch(m.group(0)):
                    add(m.start(), m.end(), "email")
        if "ipv4" in kinds and "." in text:
            for m in _IPV4.finditer(text):
                if _ip_ok(m.group(0), 4, c.public_ips_only) and not _VERSION_CUE.search(text, max(0, m.start() - 12), m.start()):
                    add(m.start(), m.end(), "ip_address")
        if "ipv6" in kinds and ":" in text:
            for m in _IPV6.finditer(text):
                if _ip_ok(m.group(0), 6, c.public_ips_only):
                    add(m.start(), m.end(), "ip_address")
        if "phone" in kinds:
            for s, e in self._phones(text):
                add(s, e, "phone_number")
        return sorted(found)

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """Return the redacted text and the number of replacements per kind."""
        c = self.config
        placeholder = {"email": c.email_placeholder, "ip_address": c.ip_placeholder, "phone_number": c.phone_placeholder}
        counts = {"email": 0, "ip_address": 0, "phone_number": 0}
        return replace_spans(text, self.find(text), placeholder.__getitem__, counts)

    def annotate(self, table: pa.Table) -> pa.Table:
        return redact_text_column(table, self.redact, self.stats, "pii_replacements")
