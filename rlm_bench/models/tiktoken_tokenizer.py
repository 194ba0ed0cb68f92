"""A `Tokenizer` over a tiktoken encoding: OpenAI models' own, and the stand-in other hosted
backends measure lengths with. Special-token text inside a context (an "<|endoftext|>" in a
haystack) is counted as plain text, as a hosted API sees it."""

from __future__ import annotations

from rlm_bench.errors import UserError, first_line


class TiktokenTokenizer:
    """OpenAI models' own tokenizer. tiktoken downloads its BPE file on first use, so it is
    loaded only when a count is needed, and an offline machine gets a fix, not a traceback."""

    def __init__(self, encoding, name: str) -> None:
        self._encoding = encoding
        self.name = name

    @classmethod
    def load(cls, model: str) -> TiktokenTokenizer:
        encoding_name = tiktoken_encoding_name(model)
        try:
            import tiktoken

            encoding = tiktoken.get_encoding(encoding_name)
        except Exception as exc:
            raise UserError(
                f"cannot load the tiktoken encoding {encoding_name} for {model} "
                f"(tiktoken downloads it on first use: {first_line(str(exc))[:120]}); "
                "pass tokenizer=<local Hugging Face tokenizer folder>"
            ) from None
        return cls(encoding, f"tiktoken:{encoding_name}")

    def encode(self, text: str) -> list[int]:
        return self._encoding.encode_ordinary(text)

    def decode(self, ids: list[int]) -> str:
        return self._encoding.decode(ids)

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))

    def count_many(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self._encoding.encode_ordinary_batch(texts)]


def tiktoken_encoding_name(model: str) -> str:
    """The model's encoding when tiktoken knows the name, else `o200k_base` (current OpenAI
    models' encoding): an approximation for other servers' models, named as such in run.json."""
    try:
        from tiktoken.model import encoding_name_for_model

        return encoding_name_for_model(model)
    except (ImportError, KeyError):
        return "o200k_base"
