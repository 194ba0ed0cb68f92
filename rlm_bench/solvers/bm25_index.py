"""BM25 over the parts of one context, with `bm25s`: what the retrieval and CodeAct baselines
search.

The context is cut into parts of about `chunk_tokens` tokens on natural boundaries
(`splitting.split_span`, so no record or needle is cut in two), each part keeps its character
span, and a query returns the best parts with their scores. The spans go into the trace, so
the evaluator can tell whether the part that held the answer was retrieved.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlm_bench.solvers.splitting import split_span

STOPWORDS = "en"
"""Ranked without English stopwords, as bm25s's own examples do: a question's "what", "the" and
"is" would otherwise outweigh its one rare word."""


@dataclass(frozen=True)
class Hit:
    """One retrieved part: its rank (0 is best), BM25 score and character span."""

    rank: int
    score: float
    start: int
    end: int
    text: str


class ChunkIndex:
    """The parts of `context` cut to about `chunk_tokens` tokens (from the sample's measured
    tokens per character), indexed once; `search` is cheap to call many times."""

    def __init__(self, context: str, actual_length: int, chunk_tokens: int) -> None:
        import bm25s

        parts = max(1, round(actual_length / max(chunk_tokens, 1)))
        self.context = context
        self.spans = split_span(context, 0, len(context), parts) if context else [(0, 0)]
        self._texts = [context[start:end] for start, end in self.spans]
        corpus = bm25s.tokenize(self._texts, stopwords=STOPWORDS, show_progress=False)
        self._index = None  # a context of no indexable word (empty, or stopwords only)
        if corpus.vocab:
            self._index = bm25s.BM25()
            self._index.index(corpus, show_progress=False)

    def __len__(self) -> int:
        return len(self.spans)

    def search(self, query: str, k: int) -> list[Hit]:
        """The `k` best parts for `query` (all of them when there are fewer), best first. A
        query with no indexed word (or only stopwords) scores every part 0 and returns the first
        ones in order."""
        import bm25s
        import numpy as np

        k = max(1, min(k, len(self.spans)))
        (words,) = bm25s.tokenize(
            [query], stopwords=STOPWORDS, return_ids=False, show_progress=False
        )
        if self._index is None or not words:
            scores = np.zeros(len(self.spans), dtype=np.float32)
        else:
            scores = self._index.get_scores(words)
        # stable, so equal scores keep the context's order: a reproducible ranking for ties
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            Hit(rank, float(scores[doc]), *self.spans[doc], self._texts[doc])
            for rank, doc in enumerate(int(d) for d in order)
        ]
