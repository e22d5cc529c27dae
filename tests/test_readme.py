"""The README's commands run as written, offline, and print what the README shows.

The convention, stated in the README's Install section: every ```sh and ```console block is run,
in order, from the top of a copy of the checkout, unless the line before it is
``<!-- readme-test: skip REASON -->``. In a ```sh block every line is a command (a trailing ``\\``
continues it; ``#`` lines are comments); in a ```console block the ``$ `` lines are commands and
the lines after one are excerpts of its output: each must match a line of what the command printed
(stdout and stderr), in order, where ``...`` stands for any text and a line of only ``...`` for any
lines. Commands exit 0 unless a trailing ``# exit N`` says otherwise.
"""

from __future__ import annotations

import os
import shlex
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

import click
import pytest

from helpers import REPO

README = REPO / "README.md"
SKIP = re.compile(r"^<!--\s*readme-test:\s*skip\b\s*(.*?)\s*-->$")
FENCE = re.compile(r"^```(\w*)\s*$")
EXIT = re.compile(r"#.*\bexit (\d+)\s*$")
# What the README's commands read: the shipped characters, the examples and the language files.
COPIED = ("characters", "examples", "spec")


@dataclass
class Command:
    line: int
    text: str
    exit_code: int = 0
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    line: int
    language: str
    body: list[str]
    skip_reason: str | None


def readme_blocks(text: str) -> list[Block]:
    """The README's ```sh and ```console blocks, each with the skip reason written above it."""
    blocks, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        language, start = fence.group(1), i
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        if language in ("sh", "console"):
            above = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
            skip = SKIP.match(above)
            blocks.append(Block(start + 1, language, lines[start + 1:end], skip.group(1) if skip else None))
        i = end + 1
    return blocks


def commands(block: Block) -> list[Command]:
    out: list[Command] = []
    pending = ""
    for offset, raw in enumerate(block.body, block.line + 1):
        if block.language == "console":
            if raw.startswith("$ "):
                out.append(Command(offset, raw[2:]))
            elif out and raw.strip():
                out[-1].expected.append(raw)
            continue
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        pending += raw.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        out.append(Command(offset, pending))
        pending = ""
    for command in out:
        found = EXIT.search(command.text)
        command.exit_code = int(found.group(1)) if found else 0
    return out


def _matches(pattern: str, line: str) -> bool:
    pieces = [re.escape(piece) for piece in pattern.split("...")]
    return re.fullmatch(".*?".join(pieces), line.rstrip()) is not None


def missing_excerpts(expected: list[str], printed: str) -> list[str]:
    """The expected lines not found, in order, among the printed ones (``...`` alone skips any)."""
    lines = printed.splitlines()
    position = 0
    for pattern in expected:
        if pattern.strip() == "...":
            continue
        hit = next((k for k in range(position, len(lines)) if _matches(pattern, lines[k])), None)
        if hit is None:
            return [pattern]
        position = hit + 1
    return []


def test_every_block_is_run_or_says_why_not():
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    assert len([b for b in blocks if b.skip_reason is None]) >= 5
    for block in blocks:
        assert block.skip_reason != "", f"README.md:{block.line}: a skipped block must say why"


def test_readme_commands_run_as_written(tmp_path):
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    shutil.copy2(README, workdir / "README.md")
    for name in COPIED:
        shutil.copytree(REPO / name, workdir / name)
    # Offline and keyless whatever the machine has: no key, no gateway, a cache of its own.
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    env["COLUMNS"] = "200"
    # `charter` is this interpreter's, whether or not its scripts directory is on PATH.
    prelude = f'charter() {{ "{sys.executable}" -m charter "$@"; }}\n'
    failures = []
    for block in readme_blocks(README.read_text(encoding="utf-8")):
        if block.skip_reason is not None:
            continue
        for command in commands(block):
            result = subprocess.run(["bash", "-c", prelude + command.text], cwd=workdir, env=env,
                                    capture_output=True, text=True, timeout=600)
            printed = result.stdout + result.stderr
            where = f"README.md:{command.line}: {command.text}"
            if result.returncode != command.exit_code:
                failures.append(f"{where}\n  exit {result.returncode}, README says {command.exit_code}\n"
                                f"  {printed[-1500:]}")
            elif missing := missing_excerpts(command.expected, printed):
                failures.append(f"{where}\n  output lacks {missing[0]!r}; it printed:\n{printed[-3000:]}")
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


def test_commands_not_run_still_parse():
    """A block that needs a key is not run, but its `charter` commands are real ones."""
    from test_cli_help import parse_command_line

    for block in readme_blocks(README.read_text(encoding="utf-8")):
        if block.skip_reason is None:
            continue
        for command in commands(block):
            argv = shlex.split(command.text, comments=True)
            if argv and argv[0] == "charter":
                try:
                    parse_command_line(argv)
                except click.UsageError as err:
                    pytest.fail(f"README.md:{command.line}: {command.text}: {err.format_message()}", pytrace=False)
