"""The retrieval baseline: BM25 over parts of the context, the question as the query, the best
`k` parts in one prompt, answered as `direct` answers.

The RLM paper has no retrieval-only baseline; BM25 appears there as CodeAct's tool
(`codeact.py`). This is the plain RAG reading of it, for the comparison with `direct` (all of
the text) and the RLM (the model picks what to read): a fixed-size prompt at every length.

- Parts are cut on boundaries (`bm25_index.ChunkIndex`), so a needle or record is never split
  between two parts, and ranked without English stopwords.
- A part that shares no word with the question (BM25 score 0) is not a hit: padding the prompt
  with arbitrary parts would be `direct` on a random sample of the text.
- The hits go into the prompt in **context order**, not rank order: the prompt is then a
  sub-sequence of the text, as `direct`'s cut context is, so the two differ only in what was
  left out, and records or sentences that follow each other in the text still do (parts that
  touch are joined back together; a gap is marked as `direct` marks its cut).
- Hits are kept best first while they fit the model's window with the question and the reply;
  the rest are dropped and counted in the notes.

Trace: the answer call (depth 0; no span, since it read several) and under it a `retrieve` node
per part in the prompt, with its span, rank and BM25 score. Neither is scored as a part answer;
whether the right part was retrieved is read from the spans.
"""

from __future__ import annotations

import asyncio

from rlm_bench.errors import UserError
from rlm_bench.models.base import Model
from rlm_bench.solvers import SOLVERS
from rlm_bench.solvers.base import Result, Trace
from rlm_bench.solvers.bm25_index import ChunkIndex, Hit
from rlm_bench.solvers.direct import ELISION
from rlm_bench.solvers.forms import answer_overhead, ask, check_form, pick_form
from rlm_bench.solvers.prompts import parse_answer
from rlm_bench.tasks.base import Sample
from rlm_bench.tokens import Tokenizer

MIN_CHUNK_TOKENS = 16


@SOLVERS.register("retrieval")
class Retrieval:
    """`k`: parts in the prompt at most; `chunk_tokens`: about how long a part is; `form`:
    `auto`, `chat` or `completion` (`solvers/forms.py`)."""

    name = "retrieval"
    description = "BM25 top-k parts of the context in one prompt"

    def __init__(self, k: int = 4, chunk_tokens: int = 512, form: str = "auto") -> None:
        if k < 1 or chunk_tokens < MIN_CHUNK_TOKENS:
            raise UserError(
                f"retrieval solver needs k >= 1 and chunk_tokens >= {MIN_CHUNK_TOKENS} "
                f"(got k={k}, chunk_tokens={chunk_tokens})"
            )
        self.k = k
        self.chunk_tokens = chunk_tokens
        self.form = check_form(self.name, form)

    async def solve(self, sample: Sample, model: Model) -> Result:
        query, tok = sample.query, model.tokenizer
        form = pick_form(self.form, model)
        # Indexing a long context takes seconds: off the event loop other samples share.
        index = await asyncio.to_thread(
            ChunkIndex, sample.context, sample.actual_length, self.chunk_tokens
        )
        hits = [hit for hit in index.search(query.question, self.k) if hit.score > 0]
        budget = model.context_window - answer_overhead(form, model, query) - query.max_tokens - 8
        kept = fit_hits(hits, budget, tok)
        completion = await ask(form, model, query, join_in_order(kept))
        answer = parse_answer(completion.text, query)
        trace = Trace()
        root = trace.record_call(completion, parent=None, depth=0, span=None, answer=answer)
        for hit in kept:
            trace.add(
                parent=root.id, depth=1, kind="retrieve", span=(hit.start, hit.end), answer=None,
                query=query.question, rank=hit.rank, retrieval_score=hit.score,
            )  # fmt: skip
        notes = {"parts": len(index), "hits": len(hits), "kept": len(kept)}
        unparsed = completion.text if answer is None and completion.text.strip() else None
        return Result(prediction=answer, trace=trace, notes=notes, unparsed=unparsed)


def fit_hits(hits: list[Hit], budget: int, tokenizer: Tokenizer) -> list[Hit]:
    """The best hits, in rank order, while their texts (and the marks between them) fit in
    `budget` tokens; the first that does not fit ends the list, so a lower-ranked part never
    takes the place of a better one."""
    kept: list[Hit] = []
    used = 0
    for hit in hits:
        cost = tokenizer.count(hit.text) + tokenizer.count(ELISION)
        if used + cost > budget:
            break
        kept.append(hit)
        used += cost
    return kept


def join_in_order(hits: list[Hit]) -> str:
    """The hits' texts in context order: parts that touch run on, a gap is an elision mark."""
    text, end = "", None
    for hit in sorted(hits, key=lambda h: h.start):
        if end is not None and hit.start != end:
            text += ELISION
        text += hit.text
        end = hit.end
    return text
