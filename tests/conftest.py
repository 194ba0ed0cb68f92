"""Shared fixtures. The real Gemma tokenizer is cheap once converted (cached on disk)."""

from __future__ import annotations

import pytest

from rlm_bench.models.embedded import EmbeddedModel


@pytest.fixture(scope="session")
def embedded_model() -> EmbeddedModel:
    return EmbeddedModel()


@pytest.fixture(scope="session")
def tokenizer(embedded_model):
    return embedded_model.tokenizer


@pytest.fixture(autouse=True)
def private_response_cache(tmp_path_factory, monkeypatch):
    """Runs in tests answer from a cache of their own, never the user's."""
    path = tmp_path_factory.mktemp("response_cache") / "responses.sqlite"
    monkeypatch.setattr("rlm_bench.models.setup.default_cache_path", lambda: path)
