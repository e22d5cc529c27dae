"""Fixtures for the hostile-input probes: the CLI in-process and in a subprocess, and secret-looking text."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from charter.cli import main

# What a careless `extends: [.env]` reads: every value distinctive, so a test can assert none leaks.
DOTENV = "OPENAI_API_KEY=sk-live-hostile0123456789abcdef\nDB_PASSWORD=hunter2-hostile-password\n"
DOTENV_SECRETS = ("sk-live-hostile0123456789abcdef", "hunter2-hostile-password", "OPENAI_API_KEY", "DB_PASSWORD")


@pytest.fixture
def cli():
    """Runs the CLI in-process and returns click's Result (exit_code, stdout, stderr)."""

    def _invoke(*args: object, env: dict[str, str] | None = None):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, env=env)

    return _invoke


@pytest.fixture
def cli_process():
    """Runs the CLI in a child process (for inputs that would block or limits that must not touch pytest)."""

    def _run(*args: object, cwd=None, env: dict[str, str] | None = None, preexec_fn=None,
             timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "charter", *map(str, args)], capture_output=True, text=True,
                              cwd=cwd, env={**os.environ, **(env or {})}, preexec_fn=preexec_fn, timeout=timeout)

    return _run


def one_error_line(text: str) -> str:
    """The single non-empty line of ``text`` (an error output), failing the test if there are more."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]
