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
