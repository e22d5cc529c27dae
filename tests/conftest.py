from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHARACTERS = REPO / "characters"
SHARED_REFERENCE = REPO.parent / "shared" / "reference"

MINIMAL = """\
charter: 1
id: mini
name: Mini
values:
  - {id: honesty, description: I say what I believe is true.}
  - {id: kindness, description: I care how my words land.}
rules:
  - id: no-lies
    text: Never state something you believe is false.
    strength: hard
    serves: [honesty]
"""


# Test keys: distinctive, so a test can assert they reach no file, log or report.
OPENAI_KEY = "sk-test-openai-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"


@pytest.fixture
def env(tmp_path: Path, monkeypatch) -> Path:
    """Test keys in the environment, no base-URL overrides, a private response cache, tmp_path as cwd."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "OPENAI_COMPATIBLE_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
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


# CI installs every tool the suite can use (chromium, promptfoo, inspect_ai) and sets
# CHARTER_NO_SKIP=1, so a test that skips there means a missing install step, not a pass.
_SKIPPED: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _SKIPPED.append(f"{report.nodeid}: {report.longrepr[2] if isinstance(report.longrepr, tuple) else ''}")


def pytest_collectreport(report):
    pytest_runtest_logreport(report)


def pytest_sessionfinish(session, exitstatus):
    import os

    if os.environ.get("CHARTER_NO_SKIP") and _SKIPPED and exitstatus == 0:
        print("\nCHARTER_NO_SKIP is set, and these tests skipped:\n  " + "\n  ".join(_SKIPPED))
        session.exitstatus = 1
