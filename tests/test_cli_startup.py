"""What a command imports is part of its speed: `charter --help`, `validate`, `lint` and `build` start
without the model SDKs, the runner or jsonschema (issue 14).

Each command runs in a fresh interpreter that writes the names in ``sys.modules`` at exit.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner
from helpers import REPO

from charter.cli import COMMANDS, SUMMARIES, main

TUTOR = REPO / "characters" / "tutor.yaml"

# Never needed offline: the SDKs and their HTTP stack, the runner, the providers, synthesis.
OFFLINE_NEVER = ("openai", "anthropic", "httpx", "httpcore", "charter.run", "charter.providers", "charter.synth",
                 "charter.report", "sqlite3", "asyncio")

CHILD = r"""
import atexit, json, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
from charter.cli import main
main(sys.argv[2:], prog_name="charter")
"""


def modules_after(tmp_path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    subprocess.run([sys.executable, "-c", CHILD, str(out), *args], cwd=tmp_path, capture_output=True, check=False)
    return set(json.loads(out.read_text()))


def imported(modules: set[str], names) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_help_imports_no_command_and_no_front_end(tmp_path):
    modules = modules_after(tmp_path, "--help")
    assert imported(modules, (*OFFLINE_NEVER, "charter.spec", "charter.targets", "charter.lint", "yaml", "jsonschema",
                              "jsonschema_rs", "regex", "importlib.metadata", "charter.cli.run")) == []


@pytest.mark.parametrize("command", [["validate", str(TUTOR)], ["lint", str(TUTOR)], ["build", "-q", str(TUTOR), "-o", "out"]],
                         ids=lambda c: c[0])
def test_offline_commands_import_no_sdk_runner_or_jsonschema(tmp_path, command):
    modules = modules_after(tmp_path, *command)
    assert "charter.spec.loader" in modules  # the command did run
    assert imported(modules, (*OFFLINE_NEVER, "jsonschema")) == []


def test_an_invalid_spec_is_explained_by_jsonschema(tmp_path):
    (tmp_path / "bad.yaml").write_text("charter: 1\nid: x\nname: X\nvalues: nope\n", encoding="utf-8")
    assert "jsonschema" in modules_after(tmp_path, "validate", "bad.yaml")


def test_the_version_is_one_constant_the_installed_metadata_agrees_with(tmp_path):
    """`charter.__version__` is written once and pyproject.toml reads it from there, so no command
    imports importlib.metadata to know it, and the installed distribution says the same."""
    from importlib.metadata import version

    import charter

    assert "importlib.metadata" not in modules_after(tmp_path, "build", "-q", str(TUTOR), "-o", "out")
    assert version("charter-spec") == charter.__version__
    result = subprocess.run([sys.executable, "-m", "charter", "--version"], capture_output=True, text=True, check=True)
    assert result.stdout == f"charter, version {charter.__version__}\n"


def test_the_listed_summaries_are_the_commands_own(monkeypatch):
    """`--help` lists SUMMARIES instead of importing every command: each is its command's first paragraph,
    so the listing is the one click would print from the commands themselves, at any width."""
    assert set(SUMMARIES) == set(COMMANDS)
    ctx = click.Context(main)
    real = {name: main.get_command(ctx, name) for name in COMMANDS}
    for name, command in real.items():
        first = inspect.cleandoc(command.help or "").split("\n\n")[0]
        assert " ".join(SUMMARIES[name].split()) == " ".join(first.split()), name
        assert not command.short_help and not command.hidden and not command.deprecated, name
    for width in (50, 80, 120):
        lazy = click.HelpFormatter(width=width)
        main.format_commands(ctx, lazy)
        eager = click.HelpFormatter(width=width)
        click.Group("charter", commands=real).format_commands(ctx, eager)
        assert lazy.getvalue() == eager.getvalue()


def many_rules_spec(folder, count: int):
    """A valid spec of ``count`` rules, each of which lint reports on: a long output."""
    spec = folder / "many.yaml"
    rules = "".join(f"  - {{id: rule-{n}, text: Always answer question {n}., serves: [honesty]}}\n"
                    for n in range(count))
    spec.write_text("charter: 1\nid: many\nname: Many\nsummary: Many rules.\n"
                    "values:\n  - {id: honesty, description: I say what I believe is true.}\n"
                    f"rules:\n{rules}", encoding="utf-8")
    return spec


def test_the_executable_flushes_everything_before_its_fast_exit(tmp_path, monkeypatch):
    """`charter` ends with os._exit after flushing (cli.entry): every line of a long output arrives, the
    exit status is the command's, and the same output comes from the in-process `main`."""
    spec = many_rules_spec(tmp_path, 300)
    child = subprocess.run([sys.executable, "-m", "charter", "lint", spec.name], capture_output=True, text=True,
                           cwd=tmp_path, timeout=120)
    monkeypatch.chdir(tmp_path)
    in_process = CliRunner().invoke(main, ["lint", spec.name])
    assert child.returncode == in_process.exit_code
    assert child.stdout == in_process.stdout and child.stdout.count("\n") > 300


def test_the_executable_survives_a_closed_pipe(tmp_path):
    """A reader that goes away (`charter lint big.yaml | head -1`) costs the flush, never a traceback."""
    spec = many_rules_spec(tmp_path, 3000)
    child = subprocess.Popen([sys.executable, "-m", "charter", "lint", str(spec)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=tmp_path)
    child.stdout.readline()
    child.stdout.close()
    stderr = child.stderr.read().decode()
    child.wait(timeout=120)
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
