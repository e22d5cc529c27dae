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
