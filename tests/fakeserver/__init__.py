"""A fake model server speaking the OpenAI and Anthropic wire formats, for tests, benchmarks and demos.

It is test support, not product, so it lives under tests/ and stays out of the wheel. Import it with
tests/ on ``sys.path`` (pytest puts it there; benchmarks add it themselves), or run it as a process
from the repository root: ``python tests/fakeserver --port 0``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fakeserver.server import FAULTS, FakeServer, LoggedRequest, ModelScript, main

__all__ = ["FAULTS", "FakeServer", "LoggedRequest", "ModelScript", "command", "main", "start"]


def command(*options: str) -> list[str]:
    """The argv that runs the server as a process of its own (it prints "... listening on URL")."""
    return [sys.executable, str(Path(__file__).resolve().parent), *options]


def start(*options: str) -> tuple[subprocess.Popen, str]:
    """The server as a process of its own, started with ``options``: (the process, its base URL).
    The caller kills the process when done."""
    process = subprocess.Popen(command("--port", "0", *options), stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("fake model server listening on "):
        process.kill()
        raise RuntimeError(f"the fake server did not start: {line!r}")
    return process, line.rsplit(" ", 1)[1].strip()
