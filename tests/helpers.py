"""Constants and plain helpers shared by the tests (fixtures live in the conftest.py files).

Importable from every test module as ``helpers`` (pyproject puts tests/ on the path). The root
conftest's names are not imported from ``conftest``: each directory's conftest.py is imported under
that same module name, so ``from conftest import ...`` would depend on collection order.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
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
def many_rules(rules: int, extra: str = "") -> str:
    """MINIMAL with ``rules`` more rules (about 150 bytes each), ``extra`` appended to its first rule:
    a spec large enough for the worker processes of a build or a load (charter._fork)."""
    lines = [MINIMAL.rstrip("\n") + extra]
    for n in range(rules):
        lines.append(f"  - id: rule-{n}\n    text: Never claim anything false about case number {n} of the refunds.\n"
                     f"    strength: default\n    serves: [honesty]")
    return "\n".join(lines) + "\n"


OPENAI_KEY = "sk-test-openai-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"


def charter(*args: object):
    """Runs the CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    from click.testing import CliRunner

    from charter.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# The grading request's line naming the clauses to grade (charter.run.judging.SCOPE_LINE).
_ASKED_LINE = re.compile(r"^Grade exactly these clauses[^\n]*$", re.M)
_TICKED_REF = re.compile(r"`((?:value|rule|trait|tension):[^`]+)`")


def asked_clauses(messages: list) -> list[str]:
    """The clause ids a judge request (fake-server ``messages``) asks to grade."""
    user = next((m["content"] for m in messages if m["role"] == "user"), "")
    line = _ASKED_LINE.search(user)
    return _TICKED_REF.findall(line.group(0)) if line else []


def judge_verdict(messages: list, score: int, reason: str = "scripted") -> str:
    """A scripted judge's verdict: every clause the request asks about passes, with ``score``
    (a verdict grading none of them would be a grading error)."""
    clauses = {ref: "pass" for ref in asked_clauses(messages)}
    return json.dumps({"clauses": clauses, "violated": [], "reason": reason, "score": score})


def interruptible(command: list[str], **popen_options) -> subprocess.Popen:
    """A child process that Ctrl-C (SIGINT) interrupts, whatever this process does with SIGINT.

    An ignored signal stays ignored across exec, and a library a test in the same pytest worker
    drives can leave SIGINT ignored there: the child would then never see the Ctrl-C a test sends
    it. A handled signal is reset to its default across exec, so the child is started while this
    process handles SIGINT (Python's own handler), and the earlier handling is put back after.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(command, **popen_options)
    finally:
        signal.signal(signal.SIGINT, previous)
