"""PII redaction: e-mail addresses, IP addresses and phone numbers become placeholder tokens."""
from __future__ import annotations

import ipaddress
import re
from typing import Literal

import pyarrow as pa
from pydantic import Field

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
# Digit groups joined by single separators, optionally "+CC" and "(area)"; at least two groups
# so that bare numbers (years, ids, amounts) are never candidates. phonenumbers validates.
_PHONE = re.compile(
    r"(?<![\w+.,/-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,6}){1,4}(?![\w-]|[.,/]\d)"
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
    - Phone numbers: a regex finds digit groups with separators (7-15 digits); Google's
      libphonenumber (``phonenumbers``) keeps only numbers valid for their country, which
      rejects dates ("2024-03-15"), years and most numeric tables. Numbers without "+" are
      parsed as ``phone_region`` (default "US"). Unseparated digit strings are not redacted.
    - E-mails: a pragmatic RFC 5322 subset (dotted domain with a letter TLD), as in DataTrove.
    """

    name = "pii"

    class Config(StepConfig):
        kinds: list[Literal["email", "ipv4", "ipv6", "phone"]] = Field(["email", "ipv4", "ipv6", "phone"], description="which kinds of personal data to replace")
        email_placeholder: str = Field("<EMAIL>", description="text that replaces an e-mail address")
        ip_placeholder: str = Field("<IP_ADDRESS>", description="text that replaces an IP address")
        phone_placeholder: str = Field("<PHONE_NUMBER>", description="text that replaces a phone number")
        public_ips_only: bool = Field(True, description="replace only public IPs; private and documentation ranges stay")
        phone_region: str = Field("US", description="region used to validate numbers written without a country code")

    def _phone_ok(self, candidate: str) -> bool:
        digits = sum(ch.isdigit() for ch in candidate)
        if not 7 <= digits <= 15:
            return False
        import phonenumbers

        try:
            region = None if candidate.startswith("+") else self.config.phone_region
            return phonenumbers.is_valid_number(phonenumbers.parse(candidate, region))
        except phonenumbers.NumberParseException:
            return False

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """Return the redacted text and the number of replacements per kind."""
        c = self.config
        kinds = set(c.kinds)
        counts = {"email": 0, "ip_address": 0, "phone_number": 0}

        def sub(pattern: re.Pattern, kind: str, placeholder: str, valid, text: str) -> str:
            def repl(m: re.Match) -> str:
                s = m.group(0)
                if valid is not None and not valid(s):
                    return s
                counts[kind] += 1
                return placeholder

            return pattern.sub(repl, text)

        # E-mails first: their domains may hold digits or IP-like parts.
        if "email" in kinds and "@" in text:
            text = sub(_EMAIL, "email", c.email_placeholder, None, text)
        if "ipv4" in kinds and "." in text:
            text = sub(_IPV4, "ip_address", c.ip_placeholder, lambda s: _ip_ok(s, 4, c.public_ips_only), text)
        if "ipv6" in kinds and ":" in text:
            text = sub(_IPV6, "ip_address", c.ip_placeholder, lambda s: _ip_ok(s, 6, c.public_ips_only), text)
        if "phone" in kinds:
            text = sub(_PHONE, "phone_number", c.phone_placeholder, self._phone_ok, text)
        return text, counts

    def annotate(self, table: pa.Table) -> pa.Table:
        out, n_repl = [], []
        for value in table.column("text").to_pylist():
            if value is None:
                out.append(None)
                n_repl.append(0)
                continue
            new, counts = self.redact(value)
            total = 0
            for kind, n in counts.items():
                if n:
                    self.stats[kind] += n
                    total += n
            self.stats["docs_changed"] += total > 0
            out.append(new)
            n_repl.append(total)
        table = with_column(table, "text", pa.array(out, type=TEXT_TYPE))
        return with_column(table, "pii_replacements", pa.array(n_repl, type=pa.int32()))
