"""A fake model server speaking the OpenAI and Anthropic wire formats, for tests, benchmarks and demos.

It is test support, not product, so it lives under tests/ and stays out of the wheel. Import it with
tests/ on ``sys.path`` (pytest puts it there; benchmarks add it themselves), or run it as a process
from the repository root: ``python tests/fakeserver --port 0``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fakeserver.server import FAULTS, FakeServer, LoggedRequest, ModelScript, main

__all__ = ["FAULTS", "FakeServer", "LoggedRequest", "ModelScript", "command", "main"]


def command(*options: str) -> list[str]:
    """The argv that runs the server as a process of its own (it prints "... listening on URL")."""
    return [sys.executable, str(Path(__file__).resolve().parent), *options]
