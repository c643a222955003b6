"""The lab's view of a tokenizer: `bytes` (built in) or any Hugging Face `tokenizers` JSON file."""
from __future__ import annotations

from pathlib import Path  # noqa: F401



class LabTokenizer:
    """encode/decode with a known EOS id. `bytes` = UTF-8 bytes 0..255 plus EOS 256: needs no file
    and makes bits per byte exact; a BPE file trades that for shorter sequences."""

    def __init__(self, spec: str | Path = "bytes", eos_token: str | None = None):
        self.spec = str(spec)
        if self.spec == "bytes":
            self.hf = None
            self.vocab_size, self.eos_id = 257, 256
            return
        from gristmill.stream.tokenizer import load_tokenizer  # one EOS lookup for the stream and the lab

        self.hf, self.eos_id = load_tokenizer(spec, eos_token)
        self.vocab_size = self.hf.get_vocab_size(with_added_tokens=True)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        if self.hf is None:
            return [list(t.encode("utf-8")) for t in texts]
        return [e.ids for e in self.hf.encode_batch(texts, add_special_tokens=False)]

    def encode(self, text: str) -> list[int]:
        return self.encode_batch([text])[0]

    def decode(self, ids: list[int]) -> str:
        ids = [i for i in ids if i != self.eos_id]
        if self.hf is None:
            return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")
        return self.hf.decode(ids, skip_special_tokens=False)
