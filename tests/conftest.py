"""Fixtures shared by the whole suite: keys and a private cache, a working directory, a starter
spec, a spec writer and the fake model server. Directories script the server by overriding
``server_options`` in their own conftest.py (or a test module does, for itself)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from fakeserver import FakeServer
from helpers import ANTHROPIC_KEY, OPENAI_KEY


@pytest.fixture(autouse=True, scope="session")
def _private_cache_home(tmp_path_factory):
    """No test reads or writes the user's response cache, and xdist workers never share one: each
    worker has its own base temp dir. Tests that count model calls take a per-test cache from
    ``keys``, so no cached answer leaks from one test into another."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@pytest.fixture
def keys(tmp_path: Path, monkeypatch) -> None:
    """The test keys in the environment, no base-URL overrides or other credentials, and a
    response cache of this test's own."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "OPENAI_COMPATIBLE_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def env(keys, tmp_path: Path, monkeypatch) -> Path:
    """``keys``, with tmp_path as the working directory; returns tmp_path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def spec_file(env: Path) -> Path:
    """The `charter init` starter spec, written as ada.yaml."""
    from charter.scaffold import starter_spec
    from charter.spec.schema import schema_path

    path = env / "ada.yaml"
    path.write_text(starter_spec("ada", str(path), schema_path()), encoding="utf-8")
    return path


@pytest.fixture
def write(tmp_path: Path, monkeypatch):
    """Write a spec file (dedented) under tmp_path, the working directory, and return its relative path."""
    monkeypatch.chdir(tmp_path)

    def _write(name: str, text: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path.relative_to(tmp_path)

    return _write


@pytest.fixture
def server_options() -> dict:
    """Keyword arguments for the ``server`` fixture's FakeServer (scripts per model, default, batch polls)."""
    return {}


@pytest.fixture
def server(env, monkeypatch, server_options):
    """The fake model server on a free port, started for this test, with both SDKs' base URLs
    pointing at it (commands need no --base-url) and the ``env`` environment."""
    with FakeServer(**server_options) as running:
        monkeypatch.setenv("OPENAI_BASE_URL", running.openai_base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", running.anthropic_base_url)
        yield running


# CI installs every tool the suite can use (chromium, promptfoo, inspect_ai) and sets
# CHARTER_NO_SKIP=1, so a test that skips there means a missing install step, not a pass.
# An expected failure (xfail) is not a skip: it marks a check waiting for other work to land.
_SKIPPED: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPPED.append(f"{report.nodeid}: {report.longrepr[2] if isinstance(report.longrepr, tuple) else ''}")


def pytest_collectreport(report):
    pytest_runtest_logreport(report)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CHARTER_NO_SKIP") and _SKIPPED and exitstatus == 0:
        print("\nCHARTER_NO_SKIP is set, and these tests skipped:\n  " + "\n  ".join(_SKIPPED))
        session.exitstatus = 1
