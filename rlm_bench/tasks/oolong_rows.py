"""Which OOLONG row a sample is: benchmark rows come in fixed context lengths, so a sample's
requested length picks a length bucket, and the seed and index pick a row within it.

The rule, the same for both splits:
1. Every candidate row has a bucket: OOLONG-synth's nominal `context_len` (1024, 2048, ...);
   for OOLONG-real, whose table has no lengths, the power of two nearest its context's token
   count in the model under test (the reference measures dnd contexts with the model's own
   tokenizer too).
2. The bucket is the task's `bucket` option when set, else the bucket nearest the requested
   length by ratio (the buckets double), the smaller one on a tie.
3. The bucket's rows are sorted by `id` (so a local copy in another row order gives the same
   samples), shuffled by a generator seeded with the task, the seed and the bucket alone, and
   the sample is row `index` of that order, wrapping around past the last row.

The order does not depend on the index, so indices 0..n-1 of one seed are n different rows;
lengths that map to the same bucket get the same rows.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from rlm_bench.errors import UserError
from rlm_bench.tasks.dataset_loading import open_table


def open_rows(
    task: str,
    options: Any,
    *,
    columns: Sequence[str],
    default_split: str,
    config: str | None = None,
) -> Any:
    """The table an OOLONG task draws its rows from: its `data` at its `split`, with the columns
    it reads, after its `bucket` option is checked."""
    if options.bucket < 0:
        raise UserError(f"task {task}: option 'bucket' must be 0 or more")
    return open_table(
        options.data,
        label=f"task {task}",
        split=options.split or None,
        config=config,
        columns=columns,
        default_split=default_split,
    )


def nearest_bucket(buckets: Iterable[int], length: int) -> int:
    """The bucket closest to `length` by ratio, the smaller one on a tie."""
    return min(sorted(set(buckets)), key=lambda bucket: abs(math.log2(bucket / max(length, 1))))


def power_of_two_bucket(tokens: int) -> int:
    """The power of two nearest `tokens` by ratio: 2^k holds counts in [2^(k-1/2), 2^(k+1/2))."""
    return 2 ** round(math.log2(max(tokens, 1)))


class RowBuckets:
    """Candidate rows grouped by bucket, each group in `id` order."""

    def __init__(self, rows: Sequence[int], buckets: Sequence[int], ids: Sequence[Any]) -> None:
        groups: dict[int, list[int]] = defaultdict(list)
        for row, bucket in zip(rows, buckets, strict=True):
            groups[bucket].append(row)
        self.groups = {b: sorted(r, key=lambda row: ids[row]) for b, r in sorted(groups.items())}

    @property
    def buckets(self) -> list[int]:
        return list(self.groups)

    def choose(self, length: int, bucket: int | None) -> int:
        return bucket if bucket else nearest_bucket(self.groups, length)

    def pick(self, task: str, bucket: int, seed: int, index: int) -> int:
        """The row `index` of the bucket's order for `seed`."""
        order = list(self.groups[bucket])
        random.Random(f"{task}:order:{seed}:{bucket}").shuffle(order)
        return order[index % len(order)]
