"""Shared fixtures for the provider tests: a fake server per test and keys in the environment."""

from __future__ import annotations

import asyncio

import pytest

from charter.testing import FakeServer

from conftest import ANTHROPIC_KEY, OPENAI_KEY  # noqa: F401  (re-exported to the tests)


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "OPENAI_COMPATIBLE_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server(keys):
    with FakeServer() as running:
        yield running


def base_url_for(server: FakeServer, model: str) -> str:
    return server.anthropic_base_url if model.startswith("anthropic:") else server.openai_base_url


def run(coroutine):
    return asyncio.run(coroutine)
