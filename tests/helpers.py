"""Constants and plain helpers shared by the tests (fixtures live in the conftest.py files).

Importable from every test module as ``helpers`` (pyproject puts tests/ on the path). The root
conftest's names are not imported from ``conftest``: each directory's conftest.py is imported under
that same module name, so ``from conftest import ...`` would depend on collection order.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHARACTERS = REPO / "characters"

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


def charter(*args: object):
    """Runs the CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    from click.testing import CliRunner

    from charter.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
