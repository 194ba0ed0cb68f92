"""A `Tokenizer` over a Hugging Face fast tokenizer, loaded from a local folder."""

from __future__ import annotations

from pathlib import Path


class HFTokenizer:
    def __init__(self, folder: Path, name: str) -> None:
        from transformers import AutoTokenizer

        self.name = name
        self.hf = AutoTokenizer.from_pretrained(str(folder))

    def encode(self, text: str) -> list[int]:
        return self.hf(text, add_special_tokens=False)["input_ids"]

    def decode(self, ids: list[int]) -> str:
        return self.hf.decode(ids, skip_special_tokens=True)

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def count_many(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in self.hf(texts, add_special_tokens=False)["input_ids"]]
