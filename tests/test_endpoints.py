"""`solvers/endpoints.py`: which endpoint another group's library is handed for the run's model,
and that an embedded model's server is started once and stopped when its last adapter closes.
Starting the server is replaced here by a test double that records starts and stops; the
adapters' slow tests start the real one."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from rlm_bench.errors import UserError
from rlm_bench.models.embedded import EmbeddedModel
from rlm_bench.models.openai_backend import OpenAIModel
from rlm_bench.models.pricing import PricedModel
from rlm_bench.solvers import endpoints
from rlm_bench.solvers.endpoints import Endpoint, Endpoints


@pytest.fixture
def servers(monkeypatch):
    """Each start and stop of a (pretend) server, in order."""
    events: list[str] = []

    def start(gguf: str) -> tuple[Endpoint, ExitStack]:
        events.append(f"start {gguf}")
        stack = ExitStack()
        stack.callback(events.append, f"stop {gguf}")
        return Endpoint("http://127.0.0.1:1/v1", "served", "not-needed"), stack

    monkeypatch.setattr(endpoints, "_SERVERS", endpoints._Servers())
    monkeypatch.setattr(endpoints._Servers, "_start", staticmethod(start))
    return events


def test_adapters_share_one_server_per_model_until_the_last_closes(servers):
    model = PricedModel(EmbeddedModel(), None)
    rlms, dspy = Endpoints("rlms"), Endpoints("dspy_rlm")
    assert rlms.get(model) == dspy.get(model) == rlms.get(model)
    gguf = str(EmbeddedModel().gguf)
    assert servers == [f"start {gguf}"]
    rlms.close()
    assert servers == [f"start {gguf}"]  # dspy_rlm still holds it
    dspy.close()
    dspy.close()
    assert servers == [f"start {gguf}", f"stop {gguf}"]


def test_an_openai_compatible_model_is_handed_over_as_it_is(servers, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    served = OpenAIModel("m", base_url="http://127.0.0.1:9/v1/", endpoint="chat")
    endpoint = Endpoints("rlms").get(PricedModel(served, None))
    assert endpoint == Endpoint("http://127.0.0.1:9/v1", "m", "not-needed")
    assert servers == []
    with_key = OpenAIModel("m", base_url="http://127.0.0.1:9/v1", api_key="sk-1", endpoint="chat")
    assert Endpoints("rlms").get(with_key).api_key == "sk-1"
    assert "sk-1" not in repr(Endpoints("rlms").get(with_key))


def test_a_completions_endpoint_is_refused_with_the_option_to_set():
    base = OpenAIModel("m", base_url="http://127.0.0.1:9/v1", endpoint="completions")
    with pytest.raises(UserError, match="needs a chat endpoint.*endpoint: chat"):
        Endpoints("rlms").get(base)
