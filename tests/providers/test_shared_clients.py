"""Providers on the same API, key, endpoint and event loop share one SDK client and its connections."""

from __future__ import annotations

import asyncio

import pytest

from charter.providers import Request, get_provider
from charter.providers.base import _SHARED_CLIENTS
from provider_helpers import base_url_for, run


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_model_and_judge_share_a_client_until_both_close(server, kind):  # noqa: F811
    async def scenario() -> None:
        url = base_url_for(server, f"{kind}:x")
        model = get_provider(f"{kind}:model-a", base_url=url)
        judge = get_provider(f"{kind}:judge-b", base_url=url)
        other_endpoint = get_provider(f"{kind}:model-a", base_url=url + "/")
        assert model._client is judge._client
        assert other_endpoint._client is not model._client
        request = Request(messages=[{"role": "user", "content": "hi"}])
        await model.aclose()
        await model.aclose()  # a second close must not release the judge's client
        assert (await judge.complete(request)).text
        await judge.aclose()
        await other_endpoint.aclose()
        assert not _SHARED_CLIENTS.get(asyncio.get_running_loop())

    run(scenario())


def test_providers_built_outside_a_loop_keep_private_clients(server):  # noqa: F811
    first = get_provider("openai:m", base_url=server.openai_base_url)
    second = get_provider("openai:m", base_url=server.openai_base_url)
    assert first._client is not second._client and first._client_key is None

    async def use(provider) -> str:
        try:
            return (await provider.complete(Request(messages=[{"role": "user", "content": "hi"}]))).text
        finally:
            await provider.aclose()

    assert run(use(first)) and run(use(second))  # each in its own event loop


def test_clients_are_not_shared_across_event_loops(server):  # noqa: F811
    clients = []

    async def open_one() -> None:
        provider = get_provider("openai:m", base_url=server.openai_base_url)
        clients.append(provider._client)
        await provider.complete(Request(messages=[{"role": "user", "content": "hi"}]))
        await provider.aclose()

    run(open_one())
    run(open_one())
    assert clients[0] is not clients[1]
