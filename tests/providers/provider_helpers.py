"""Helpers for the provider tests (the ``keys`` and ``server`` fixtures are in the root conftest.py)."""

from __future__ import annotations

import asyncio

from fakeserver import FakeServer


def base_url_for(server: FakeServer, model: str) -> str:
    return server.anthropic_base_url if model.startswith("anthropic:") else server.openai_base_url


def run(coroutine):
    return asyncio.run(coroutine)
