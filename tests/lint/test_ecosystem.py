"""The pre-commit hook and the CI example point at the real command and the real spec files."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_pre_commit_hook_runs_charter_lint_on_spec_files():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "charter-lint" and hook["entry"] == "charter lint" and hook["language"] == "python"
    files = re.compile(hook["files"])
    for spec in ["characters/assistant.yaml", "characters/base/safety.yaml", "specs/bot.yml", "x/pip.charter.yaml"]:
        assert files.search(spec), spec
    for other in [".github/workflows/ci.yml", "pyproject.toml", "docs/characters.md", "config.yaml"]:
        assert not files.search(other), other


def test_workflow_lints_to_sarif_and_uploads_it():
    workflow = yaml.safe_load((ROOT / "examples" / "github-workflow-lint.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["lint"]["steps"]
    lint_step = next(s for s in steps if s.get("id") == "lint")
    command = next(line for line in lint_step["run"].splitlines() if "--format sarif" in line)
    args = shlex.split(command.split("||")[0])
    assert args[:2] == ["charter", "lint"] and args[args.index("--output") + 1] == "charter-lint.sarif"
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"] == "charter-lint.sarif" and upload["if"] == "always()"
    assert workflow["permissions"]["security-events"] == "write"
