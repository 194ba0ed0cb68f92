"""`serve`: an embedded model on an OpenAI-compatible API (`models/serving.py`)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve", help="serve an embedded model on an OpenAI-compatible API (transformers serve)"
    )
    serve.add_argument(
        "--model", default="embedded",
        help="embedded (default, Gemma 3 270M), embedded:<name>, gguf:<path> or a .gguf path",
    )  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--continuous-batching",
        action="store_true",
        help="batch calls in flight together (faster under load; greedy answers may differ)",
    )


def run(args: argparse.Namespace) -> int:
    from rlm_bench.models.serving import serve

    serve(args.host, args.port, model=args.model, continuous_batching=args.continuous_batching)
    return 0
