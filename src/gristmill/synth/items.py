"""A synthetic item: what every generator produces and every writer stores."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import xxhash


def normalize_key(text: str) -> str:
    """Case, whitespace and punctuation folded: two prompts that differ only in those are one item."""
    return re.sub(r"[^\w]+", " ", text.lower()).strip()


@dataclass
class Item:
    prompt: str
    solution: str  # a worked, step-by-step explanation ending in the answer
    answer: str
    generator: str
    difficulty: int
    key: str  # the problem's identity (template and numbers, not the wording): dedup and the split use it
    metadata: dict = field(default_factory=dict)
    tests: str | None = None  # code items: the unit tests the reference passed
    # code items: the same tests as data, [{"call", "args", "expected", "compare"}], for a verdict that
    # compares values without parsing test source
    cases: list[dict] | None = None

    @property
    def id(self) -> str:
        return f"{self.generator}-{xxhash.xxh64_hexdigest(normalize_key(self.key).encode())}"

    def to_record(self) -> dict:
        meta = {"generator": self.generator, "difficulty": self.difficulty, "key": self.key, **self.metadata}
        if self.tests is not None:
            meta["tests"] = self.tests
        if self.cases is not None:
            meta["cases"] = self.cases
        # ``text`` makes the file readable by `gristmill run` with no field mapping (text_field: text)
        return {"id": self.id, "prompt": self.prompt, "solution": self.solution, "answer": self.answer,
                "metadata": meta, "text": f"{self.prompt}\n\n{self.solution}"}
