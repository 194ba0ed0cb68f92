"""A `Tokenizer` over a Hugging Face fast tokenizer, loaded from a local folder.

Counting goes straight to the Rust `tokenizers` backend: the transformers wrapper converts every
encoding into Python objects, which made up three quarters of the time to count the units of a
1M-token haystack. Both give the same ids.
"""

from __future__ import annotations

from pathlib import Path


class HFTokenizer:
    def __init__(self, folder: Path, name: str) -> None:
        from transformers import AutoTokenizer

        self.name = name
        self.hf = AutoTokenizer.from_pretrained(str(folder))
        self._backend = self.hf.backend_tokenizer

    def encode(self, text: str) -> list[int]:
        return self._backend.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.hf.decode(ids, skip_special_tokens=True)

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def count_many(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        encodings = self._backend.encode_batch_fast(texts, add_special_tokens=False)
        return [len(e.ids) for e in encodings]
