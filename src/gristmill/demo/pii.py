"""PII planted in real prose: e-mail addresses on reserved ``example.*`` domains, fictional phone
numbers and documentation-range IP addresses, each listed as ground truth."""
from __future__ import annotations

import random

from gristmill.demo.noise import cap

_FIRST = ["jane", "john", "maria", "wei", "aisha", "lars", "sofia", "omar", "emma", "raj", "lucia", "tom"]
_LAST = ["doe", "smith", "garcia", "chen", "khan", "nielsen", "rossi", "haddad", "brown", "patel", "lopez", "meyer"]


def _email(rng: random.Random) -> str:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    user = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}", f"{first}_{last}"])
    return f"{user}@{rng.choice(['example.com', 'example.org', 'example.net', 'mail.example.com'])}"


def _phone(rng: random.Random) -> str:
    area, line = rng.choice([202, 312, 415, 617, 713]), f"01{rng.randint(0, 99):02d}"  # 555-01xx: NANP fiction
    return rng.choice([f"({area}) 555-{line}", f"+1-{area}-555-{line}", f"{area}.555.{line}",
                       f"+44 20 7946 0{rng.randint(0, 999):03d}"])  # Ofcom's range for drama


def _ip(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return f"2001:db8::{rng.randint(1, 0xffff):x}"
    net = rng.choice(["192.0.2", "198.51.100", "203.0.113"])
    return f"{net}.{rng.randint(1, 254)}"


def _pii_sentence(rng: random.Random) -> tuple[str, list[dict]]:
    name = f"{cap(rng.choice(_FIRST))} {cap(rng.choice(_LAST))}"
    kind = rng.randrange(5)
    if kind == 0:
        e = _email(rng)
        return f"For questions about this, contact {name} at {e}.", [{"type": "email", "value": e}]
    if kind == 1:
        p = _phone(rng)
        return f"You can reach our support desk at {p} on weekdays.", [{"type": "phone", "value": p}]
    if kind == 2:
        ip = _ip(rng)
        return f"The request was logged from {ip} at 09:14.", [{"type": "ip", "value": ip}]
    if kind == 3:
        e, p = _email(rng), _phone(rng)
        return (f"Questions? Email {e} or call {name} at {p}.",
                [{"type": "email", "value": e}, {"type": "phone", "value": p}])
    e, ip = _email(rng), _ip(rng)
    return (f"Reported by {e} (client address {ip}).", [{"type": "email", "value": e}, {"type": "ip", "value": ip}])


def with_pii(text: str, rng: random.Random) -> tuple[str, list[dict]]:
    paras = text.split("\n\n")
    found: list[dict] = []
    for _ in range(rng.randint(1, 3)):
        sentence, items = _pii_sentence(rng)
        found += items
        i = rng.randrange(len(paras))
        paras[i] = paras[i] + " " + sentence
    return "\n\n".join(paras), found


# The bytes 0x81 0x8D 0x8F 0x90 0x9D have no cp1252 character; real-world decoders (browsers, ftfy's
# "sloppy-windows-1252") map them to the C1 control of the same value, and so do we.
