"""A labelled PII set: real prose with phone numbers, e-mail addresses and IP addresses planted in
many real-world formats, and hard negatives (dates, prices, versions, ISBNs, times, order numbers,
coordinates, ...) that look like them. Every planted string's span is known.

Phone numbers are valid numbers (checked with libphonenumber) for 20 countries, written the ways
people write them: national US styles, ``1(800)``, ``+CC``, ``00CC``, ``(0)`` trunk prefixes, dots,
spaces, dashes, E.164, extensions, and right after words or punctuation (``Phone-817-...``,
``Tel.:``). E-mails come plain, in angle brackets, after ``mailto:``, and obfuscated
(``name at domain dot com``; a kind of its own, since redacting those is an option).

    from pii_data import build
    docs = build(prose_sentences, n_docs=1500, seed=0)   # [(text, [(start, end, kind), ...]), ...]
"""
from __future__ import annotations

import ipaddress
import json
import random
from pathlib import Path

import phonenumbers

POSITIVE = ("phone", "email", "email_obfuscated", "ip")

_REGIONS = ["US", "US", "US", "GB", "DE", "FR", "IN", "AU", "JP", "BR", "MX", "ES", "IT", "NL", "CN", "ZA",
            "NG", "SE", "CH", "PL", "CA", "IE", "SG", "KR"]
_US_AREAS = ["212", "213", "305", "312", "404", "415", "512", "617", "646", "702", "713", "817", "917", "206", "303",
             "800", "888", "877", "866"]
_FIRST = ["john", "mary", "wei", "fatima", "olga", "juan", "priya", "kenji", "anna", "liam", "chloe", "omar", "sven"]
_LAST = ["smith", "garcia", "chen", "okafor", "novak", "müller", "patel", "tanaka", "rossi", "oconnor", "dubois", "kim"]
_DOMAINS = ["gmail.com", "yahoo.co.uk", "outlook.com", "mail.ru", "acme-corp.com", "cs.stanford.edu", "example.org",
            "uni-heidelberg.de", "company.co.jp", "shop.example.com.br", "protonmail.ch", "web.de", "fastmail.fm"]


def _us_number(rng: random.Random) -> phonenumbers.PhoneNumber:
    while True:
        n = rng.choice(_US_AREAS) + str(rng.randint(2, 9)) + f"{rng.randint(0, 99):02d}" + f"{rng.randint(0, 9999):04d}"
        p = phonenumbers.parse(n, "US")
        if phonenumbers.is_valid_number(p) and n[3:6] != "555":
            return p


def _intl_number(rng: random.Random, region: str) -> phonenumbers.PhoneNumber:
    types = [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
    for _ in range(200):
        ex = phonenumbers.example_number_for_type(region, rng.choice(types)) or phonenumbers.example_number(region)
        nsn = str(ex.national_number)
        keep = max(2, len(nsn) - rng.randint(3, 5))
        cand = nsn[:keep] + "".join(str(rng.randint(0, 9)) for _ in range(len(nsn) - keep))
        p = phonenumbers.parse("+" + str(ex.country_code) + cand, None)
        if phonenumbers.is_valid_number(p):
            return p
    return ex


def phone(rng: random.Random) -> tuple[str, str]:
    """(number as written, an extension suffix or "")."""
    region = rng.choice(_REGIONS)
    F = phonenumbers.PhoneNumberFormat
    if region == "US" or (region == "CA" and rng.random() < 0.5):
        p = _us_number(rng)
        d = str(p.national_number)
        a, b, c = d[:3], d[3:6], d[6:]
        s = rng.choice([
            f"{a}-{b}-{c}", f"({a}) {b}-{c}", f"({a}){b}-{c}", f"{a}.{b}.{c}", f"{a} {b} {c}", f"1-{a}-{b}-{c}",
            f"1({a}) {b}-{c}", f"1 ({a}) {b}-{c}", f"+1 {a}-{b}-{c}", f"+1 ({a}) {b}-{c}", f"+1.{a}.{b}.{c}",
            f"+1{a}{b}{c}", f"1.{a}.{b}.{c}", f"+1-{a}-{b}-{c}", f"{a}/{b}-{c}", f"{a}\u2013{b}\u2013{c}",
            f"({a})\u00a0{b}-{c}", f"+1\u00a0{a}\u00a0{b}\u00a0{c}",
        ])
    else:
        p = _intl_number(rng, region)
        intl = phonenumbers.format_number(p, F.INTERNATIONAL)
        style = rng.randrange(7)
        if style == 0:
            s = intl
        elif style == 1:
            s = phonenumbers.format_number(p, F.E164)
        elif style == 2:
            s = "00" + intl[1:]
        elif style == 3:
            s = intl.replace(" ", "-")
        elif style == 4:
            s = intl.replace(" ", ".").replace("-", ".")
        elif style == 6:  # the country code in brackets: "(+44) 20 7946 0958"
            cc, rest = intl.split(" ", 1)
            s = f"({cc}) {rest}"
        else:  # the national trunk prefix in brackets, as in "+44 (0)20 7946 0958"
            cc, rest = intl.split(" ", 1)
            s = f"{cc} (0){rest}" if region in ("GB", "DE", "NL", "CH", "IT", "AU", "IE", "ZA") else intl
    if region == "US" and rng.random() < 0.06:  # unseparated, after a word that says it is a number
        return str(p.national_number), ""
    ext = ""
    if rng.random() < 0.12:
        e = str(rng.randint(1, 9999))
        ext = rng.choice([f" ext. {e}", f" x{e}", f" ext {e}", f", ext. {e}", f" extension {e}"])
    return s, ext


def email(rng: random.Random) -> str:
    f, l, dom = rng.choice(_FIRST), rng.choice(_LAST), rng.choice(_DOMAINS)
    l = l.replace("ü", "u")
    local = rng.choice([f"{f}.{l}", f"{f[0]}{l}", f"{f}_{l}{rng.randint(1, 99)}", f"{f}+news", f"{l}.{f}",
                        f"{f}{rng.randint(1970, 2005)}", f"{f[0]}.{l}", f"info", f"{f}-{l}"])
    addr = f"{local}@{dom}"
    return addr.upper() if rng.random() < 0.05 else (addr.capitalize() if rng.random() < 0.1 else addr)


def email_obfuscated(rng: random.Random) -> str:
    f, l = rng.choice(_FIRST), rng.choice(_LAST).replace("ü", "u")
    name, host, tld = rng.choice([f"{f}.{l}", f"{f}{l[0]}", f"{l}"]), rng.choice(["gmail", "acme-corp", "yahoo", "fastmail"]), rng.choice(["com", "org", "net", "de"])
    return rng.choice([
        f"{name} at {host} dot {tld}", f"{name} [at] {host} [dot] {tld}", f"{name}(at){host}(dot){tld}",
        f"{name} AT {host} DOT {tld}", f"{name} @ {host} . {tld}", f"{name}[at]{host}.{tld}", f"{name} {{at}} {host} {{dot}} {tld}",
    ])


def ip(rng: random.Random) -> str:
    while True:
        if rng.random() < 0.7:
            a = ipaddress.IPv4Address(rng.getrandbits(32))
        else:
            a = ipaddress.IPv6Address((rng.choice([0x2001_4860, 0x2606_4700, 0x2a00_1450, 0x2400_cb00]) << 96)
                                      | (rng.getrandbits(16) << 80) | (rng.getrandbits(16) if rng.random() < 0.5 else rng.getrandbits(64)))
        if a.is_global:
            return str(a) if rng.random() < 0.8 or a.version == 4 else a.exploded


# ---------------------------------------------------------------- hard negatives
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]


def negative(rng: random.Random, kind: str) -> str:
    r = rng.randint
    if kind == "date":
        y, m, d = r(1950, 2030), r(1, 12), r(1, 28)
        return rng.choice([f"{y}-{m:02d}-{d:02d}", f"{m:02d}/{d:02d}/{y}", f"{d:02d}.{m:02d}.{y}", f"{y}/{m:02d}/{d:02d}",
                           f"{_MONTHS[m - 1]} {d}, {y}", f"{d:02d}-{m:02d}-{y}", f"{y}-{y + r(1, 5)}", f"{m}/{d}/{y % 100:02d}",
                           f"{d} {_MONTHS[m - 1][:3]} {y}"])
    if kind == "price":
        v = r(1, 9_999_999)
        return rng.choice([f"${v:,}.{r(0, 99):02d}", f"€{v % 10000},{r(0, 99):02d}", f"USD {v:,}.00", f"£{v:,}",
                           f"{v:,}.{r(0, 99):02d} EUR".replace(",", " "), f"${v // 100:,} million", f"Rs. {v:,}/-",
                           f"{v:,} ₽".replace(",", "."), f"${r(1, 999)}.{r(0, 99):02d} - ${r(1000, 9999)}.{r(0, 99):02d}"])
    if kind == "version":
        return rng.choice([f"{r(0, 4)}.{r(0, 20)}.{r(0, 30)}", f"v{r(1, 12)}.{r(0, 30)}.{r(0, 200)}",
                           f"version {r(1, 10)}.{r(0, 9)}.{r(0, 9)}.{r(0, 999)}", f"{r(1, 10)}.{r(0, 9)}.{r(10000, 30000)}.{r(1, 999)}",
                           f"release {r(2000, 2030)}.{r(1, 12):02d}.{r(1, 9)}", f"build {r(1, 9)}.{r(0, 9)}.{r(0, 9)}-{r(100, 999)}"])
    if kind == "isbn":
        isbn = _isbn13(rng)
        return rng.choice([f"ISBN {isbn}", f"ISBN-13: {isbn}", isbn, f"ISBN {isbn.replace('-', ' ')}", f"ISBN 0-{r(100, 999)}-{r(10000, 99999)}-{r(0, 9)}"])
    if kind == "time":
        h, m, s = r(0, 23), r(0, 59), r(0, 59)
        return rng.choice([f"{h:02d}:{m:02d}:{s:02d}", f"{h}:{m:02d}", f"{h}:{m:02d}-{(h + 2) % 24}:{m:02d}", f"{h:02d}:{m:02d}:{s:02d}.{r(0, 999):03d}",
                           f"{r(1, 12)}:{m:02d} p.m.", f"T{h:02d}:{m:02d}:{s:02d}Z"])
    if kind == "order":
        return rng.choice([f"#{r(100, 999)}-{r(1000000, 9999999)}-{r(1000000, 9999999)}", f"INV-{r(2015, 2026)}-{r(0, 999999):06d}",
                           f"PO {r(4500000000, 4599999999)}", f"ticket {r(2015, 2026)}-{r(0, 9999):04d}-{r(0, 999):03d}",
                           f"{r(1000, 9999)}-{r(1000, 9999)}-{r(1000, 9999)}-{r(1000, 9999)}", f"case no. {r(10, 99)}-cv-{r(1000, 99999)}",
                           f"order {r(100000, 999999)}-{r(10, 99)}", f"tracking 1Z {r(100, 999)} {r(100, 999)} {r(10, 99)} {r(1000, 9999)} {r(100, 999)}",
                           f"SKU {r(100, 999)}-{r(100, 999)}-{r(10, 99)}"])
    if kind == "coordinates":
        la, lo = rng.uniform(-89, 89), rng.uniform(-179, 179)
        return rng.choice([f"{la:.4f}, {lo:.4f}", f"{abs(la):.4f}° {'N' if la > 0 else 'S'}, {abs(lo):.4f}° {'E' if lo > 0 else 'W'}",
                           f"({la:.5f}, {lo:.5f})", f"lat {la:.4f} lon {lo:.4f}",
                           f"{int(abs(la))}°{r(0, 59)}′{r(0, 59)}″N {int(abs(lo))}°{r(0, 59)}′{r(0, 59)}″W", f"{la:.6f},{lo:.6f}"])
    if kind == "number":  # statistics, ranges, sizes, references, ZIP+4, page ranges
        return rng.choice([f"{r(1000, 99999):,} {r(100, 999)}".replace(",", " "), f"pages {r(1, 400)}-{r(401, 900)}",
                           f"{r(1, 9)} {r(100, 999)} {r(100, 999)}", f"ZIP {r(10000, 99999)}-{r(1000, 9999)}",
                           f"{r(640, 3840)} x {r(480, 2160)}", f"{r(1, 40)}:{r(1, 50)}", f"{r(1, 99)}.{r(1, 99)}.{r(1, 99)}",
                           f"{r(100, 999)}-{r(10, 99)}", f"{r(1900, 2030)} {r(1900, 2030)} {r(1900, 2030)}",
                           f"{r(1, 999):,}.{r(0, 9)} km²", f"doi:10.{r(1000, 9999)}/{r(100000, 999999)}"])
    if kind == "private_ip":  # not PII by design (loopback, private, documentation ranges)
        return rng.choice(["127.0.0.1", f"10.{r(0, 255)}.{r(0, 255)}.{r(1, 254)}", f"192.168.{r(0, 255)}.{r(1, 254)}",
                           f"172.{r(16, 31)}.{r(0, 255)}.{r(1, 254)}", "::1", f"fe80::{r(1, 0xffff):x}", f"2001:db8::{r(1, 0xffff):x}"])
    raise ValueError(kind)


def _isbn13(rng: random.Random) -> str:
    d = [9, 7, 8] + [rng.randint(0, 9) for _ in range(9)]
    d.append((10 - sum(x * (1 if i % 2 == 0 else 3) for i, x in enumerate(d)) % 10) % 10)
    s = "".join(map(str, d))
    return f"{s[:3]}-{s[3]}-{s[4:7]}-{s[7:12]}-{s[12]}"


NEGATIVE = ("date", "price", "version", "isbn", "time", "order", "coordinates", "number", "private_ip")

_PHONE_CTX = ["Call {} 24 hours a day.", "Call {} today.", "Phone-{} is mine.", "Tel.: {}", "Tel:{}", "phone {},",
              "reach me at {} or by mail.", "({}) ", "Fax {}.", "Mobile/WhatsApp: {}", "call us on {} between 9 and 5.",
              "☎ {}", "Contact: {};", "the number is {}.", "Ph: {} (office)", "Hotline {}!", "on {} (24/7)",
              "Questions? {}", "Phone number: {}. Directions are on our site.", "T {} | F {}"]
_EMAIL_CTX = ["Write to {}.", "E-mail: {}", "<{}>", "mailto:{}", "contact {} for details,", "({})", "Email me at {}!",
              "Send your CV to {}; we reply within a week.", "{} wrote:", "cc: {},"]
_IP_CTX = ["Connection from {} refused.", "IP: {}", "The server at {} answered.", "[{}]", "host {} port 8080", "client {},",
           "from {} (blocked)"]
_NEG_CTX = ["on {}", "{}", "was {}.", "({})", "see {},", "at {}", "{};", "- {} -"]


def build(sentences: list[str], n_docs: int = 1500, seed: int = 0) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """Documents of 3-8 real sentences with 1-3 planted strings each (entities or hard negatives,
    half and half). Spans cover the PII itself, not the extension or context around it."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        parts: list[str] = []
        spans: list[tuple[int, int, str]] = []
        pos = 0

        def add(s: str) -> None:
            nonlocal pos
            parts.append(s)
            pos += len(s)

        sent = rng.sample(sentences, rng.randint(3, 8))
        slots = sorted(rng.sample(range(len(sent) + 1), rng.randint(1, 3)))
        for i in range(len(sent) + 1):
            if i in slots:
                if rng.random() < 0.5:
                    kind = rng.choices(POSITIVE, weights=[5, 3, 1, 2])[0]
                    ctx = rng.choice({"phone": _PHONE_CTX, "email": _EMAIL_CTX, "email_obfuscated": _EMAIL_CTX, "ip": _IP_CTX}[kind])
                    pieces = ctx.split("{}")
                    for j, lead in enumerate(pieces[:-1]):
                        add(lead)
                        if kind == "phone":
                            val, ext = phone(rng)
                        else:
                            val, ext = {"email": email, "email_obfuscated": email_obfuscated, "ip": ip}[kind](rng), ""
                        spans.append((pos, pos + len(val), kind))
                        add(val + ext)
                    add(pieces[-1] + " ")
                else:
                    kind = rng.choice(NEGATIVE)
                    val = negative(rng, kind)
                    lead, tail = rng.choice(_NEG_CTX).split("{}")
                    add(lead)
                    spans.append((pos, pos + len(val), kind))
                    add(val + tail + " ")
            if i < len(sent):
                add(sent[i].strip() + " ")
        docs.append(("".join(parts).rstrip(), spans))
    return docs


def real_sentences(corpora: Path) -> list[str]:
    """Real prose sentences: the varied-sentences corpus, Brown and State of the Union text."""
    out = []
    for name in ("sentences", "brown", "sotu"):
        for k, line in enumerate(open(corpora / f"{name}.jsonl")):
            if name != "sentences" and k % 5:
                continue
            for s in json.loads(line)["text"].replace("\n", " ").split(". "):
                s = " ".join(s.split())
                if 6 <= len(s.split()) <= 40:
                    out.append(s if s.endswith((".", "?", "!")) else s + ".")
    return out
