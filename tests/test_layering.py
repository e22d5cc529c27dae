"""The package's layering, read from the source with `ast` (nothing is imported):

- only the CLI (`charter/cli/`, and `charter/__main__.py` that starts it) imports click or calls
  sys.exit: the library raises CharterError subclasses and the CLI turns them into exit codes;
- no module outside the CLI imports from it, so the library never depends on its front door;
- `charter.report` reads runs only through the results contract (`charter.run.results`,
  `charter.run.summary`), never through the runner's internals.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import REPO

PACKAGE = REPO / "compiler" / "charter"
RESULTS_CONTRACT = {"charter.run.results", "charter.run.summary"}
# Data flows one way: YAML -> IR (spec) -> targets -> providers -> runner/synthesis -> report. A
# package may import the ones before it (and the neutral top-level modules), never one after it.
FORBIDDEN = {
    "charter.spec": ("charter.targets", "charter.providers", "charter.run", "charter.synth", "charter.report",
                     "charter.lint", "charter.interop"),
    "charter.targets": ("charter.providers", "charter.run", "charter.synth", "charter.report", "charter.lint",
                        "charter.interop"),
    "charter.providers": ("charter.targets", "charter.run", "charter.synth", "charter.report", "charter.lint",
                          "charter.interop"),
    "charter.run": ("charter.synth", "charter.report", "charter.lint", "charter.interop"),
    "charter.report": ("charter.synth", "charter.lint", "charter.interop", "charter.providers"),
}


@dataclass(frozen=True)
class Source:
    module: str  # dotted name, e.g. charter.report.runs
    path: str  # shown in failures, relative to the repository
    text: str
    is_package: bool = False  # an __init__.py


@dataclass(frozen=True)
class Use:
    line: int
    what: str  # an imported module, "click", or "sys.exit"


def sources() -> list[Source]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        found.append(Source(module, str(path.relative_to(REPO)), path.read_text(encoding="utf-8"), is_package))
    return found


def uses(source: Source, known: set[str]) -> list[Use]:
    """What a module imports (as absolute module names: `from .x import y` is charter.pkg.x.y when
    that is a module, else charter.pkg.x) and where it calls sys.exit."""
    package = source.module if source.is_package else source.module.rpartition(".")[0]
    found: list[Use] = []
    for node in ast.walk(ast.parse(source.text, filename=source.path)):
        if isinstance(node, ast.Import):
            found.extend(Use(node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                if base == "sys" and alias.name == "exit":
                    found.append(Use(node.lineno, "sys.exit"))
                candidate = f"{base}.{alias.name}"
                found.append(Use(node.lineno, candidate if candidate in known else base))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "exit"
              and isinstance(node.func.value, ast.Name) and node.func.value.id == "sys"):
            found.append(Use(node.lineno, "sys.exit"))
    return found


def _within(module: str, parent: str) -> bool:
    return module == parent or module.startswith(parent + ".")


def is_cli(module: str) -> bool:
    return _within(module, "charter.cli") or module == "charter.__main__"


def violations(all_sources: list[Source]) -> dict[str, list[str]]:
    """Every breach of the three rules, by rule, as "path:line: what" lines."""
    known = {s.module for s in all_sources}
    found: dict[str, list[str]] = {"click or sys.exit": [], "imports the CLI": [], "report reaches into run": [],
                                   "imports a later stage": []}
    for source in all_sources:
        for use in uses(source, known):
            where = f"{source.path}:{use.line}: {use.what}"
            if not is_cli(source.module) and (_within(use.what, "click") or use.what == "sys.exit"):
                found["click or sys.exit"].append(where)
            if not is_cli(source.module) and _within(use.what, "charter.cli"):
                found["imports the CLI"].append(where)
            if (_within(source.module, "charter.report") and _within(use.what, "charter.run")
                    and use.what not in RESULTS_CONTRACT):
                found["report reaches into run"].append(where)
            for package, later in FORBIDDEN.items():
                if _within(source.module, package) and any(_within(use.what, stage) for stage in later):
                    found["imports a later stage"].append(where)
    return found


@pytest.fixture(scope="module")
def found() -> dict[str, list[str]]:
    return violations(sources())


def test_only_the_cli_imports_click_or_calls_sys_exit(found):
    assert found["click or sys.exit"] == []


def test_nothing_outside_the_cli_imports_it(found):
    assert found["imports the CLI"] == []


def test_report_reads_runs_only_through_the_results_contract(found):
    assert found["report reaches into run"] == []


def test_no_stage_imports_a_later_one(found):
    assert found["imports a later stage"] == []


def test_the_checks_see_every_kind_of_breach():
    """The rules above hold only if the checker notices breaches: it does, in made-up modules."""
    made_up = [
        Source("charter.cli", "cli/__init__.py", "import click\nimport sys\nsys.exit(0)\n", is_package=True),
        Source("charter.cli.run", "cli/run.py", "from ..run import runner\n"),
        Source("charter.__main__", "__main__.py", "from .cli import main\n"),
        Source("charter.lint.command", "lint/command.py", "import click\nfrom click.testing import CliRunner\n"),
        Source("charter.synth.pipeline", "synth/pipeline.py", "import sys\n\ndef f():\n    sys.exit(2)\n"),
        Source("charter.targets.build", "targets/build.py", "from sys import exit\n"),
        Source("charter.report", "report/__init__.py", "from ..cli import fail\n", is_package=True),
        Source("charter.report.runs", "report/runs.py",
               "from ..run.results import read_results\nfrom charter.run import summary\nfrom ..run import cache\n"
               "import charter.run.runner\nfrom ..run import Runner\n"),
        Source("charter.run", "run/__init__.py", "", is_package=True),
        Source("charter.run.results", "run/results.py", ""),
        Source("charter.run.summary", "run/summary.py", ""),
        Source("charter.run.cache", "run/cache.py", ""),
        Source("charter.run.runner", "run/runner.py", ""),
        Source("charter.targets.split", "targets/split.py", "from ..synth.dedup import NearDuplicateIndex\n"),
        Source("charter.synth", "synth/__init__.py", "", is_package=True),
        Source("charter.synth.dedup", "synth/dedup.py", ""),
    ]
    assert violations(made_up) == {
        "click or sys.exit": ["lint/command.py:1: click", "lint/command.py:2: click.testing",
                              "synth/pipeline.py:4: sys.exit", "targets/build.py:1: sys.exit"],
        "imports the CLI": ["report/__init__.py:1: charter.cli"],
        "report reaches into run": ["report/runs.py:3: charter.run.cache", "report/runs.py:4: charter.run.runner",
                                    "report/runs.py:5: charter.run"],
        "imports a later stage": ["targets/split.py:1: charter.synth.dedup"],
    }
