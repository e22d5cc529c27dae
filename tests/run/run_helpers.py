"""Fixtures for the runner tests: a starter spec, a scripted fake server, keys and a private cache."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from charter.cli import main
from charter.testing import FakeServer, ModelScript

from conftest import ANTHROPIC_KEY, OPENAI_KEY  # noqa: F401  (re-exported to the tests)
_REPLY = re.compile(r"<reply-([0-9a-f]+)>\n(.*?)\n</reply-\1>", re.S)


def reply_under_grading(messages: list) -> str:
    """The reply a judge request asks to grade (from the monitor's fenced block)."""
    user = [m["content"] for m in messages if m["role"] == "user"][0]
    match = _REPLY.search(user)
    return match.group(2) if match else ""


def verdict(score: int, reason: str = "scripted") -> str:
    return json.dumps({"clauses": {}, "violated": [], "reason": reason, "score": score})


def scoring_judge(model: str, messages: list) -> str:
    """Fails replies containing BAD (score 2), passes the rest (score 9)."""
    return verdict(2 if "BAD" in reply_under_grading(messages) else 9)


@pytest.fixture
def server(env, monkeypatch):
    with FakeServer({"judge": ModelScript(reply=scoring_judge)}) as running:
        monkeypatch.setenv("OPENAI_BASE_URL", running.openai_base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", running.anthropic_base_url)
        yield running


def charter(*args: str):
    """Runs the CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
