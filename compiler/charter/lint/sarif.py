"""SARIF 2.1.0 output, in the subset GitHub code scanning reads.

GitHub shows `shortDescription`, `fullDescription` and `help` of the rule, places the alert at
the result's first location, and matches alerts across runs by `ruleId` and the file path, so
paths are written relative to the repository (the working directory) with forward slashes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import charter
from ..diagnostics import Diagnostic, Loc
from .registry import RULES, LintRule

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def _uri(file: str, base: Path) -> str:
    path = Path(file)
    if path.is_absolute():
        try:
            path = Path(os.path.relpath(path, base))
        except ValueError:  # another drive on Windows: keep it absolute
            return path.as_uri()
    return path.as_posix()


def _location(loc: Loc, base: Path, uris: dict[str, str]) -> dict:
    uri = uris.get(loc.file)
    if uri is None:  # every finding of a spec is in one or a few files
        uri = uris[loc.file] = _uri(loc.file, base)
    physical: dict = {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}
    # SARIF regions need a start line; a finding without a position points at the file's top.
    physical["region"] = {"startLine": max(loc.line, 1), "startColumn": max(loc.col, 1)}
    return {"physicalLocation": physical}


def _descriptor(lint_rule: LintRule) -> dict:
    why = lint_rule.section("Why")
    what = lint_rule.section("What it does")
    return {
        "id": lint_rule.code,
        "name": lint_rule.name,
        "shortDescription": {"text": lint_rule.summary},
        "fullDescription": {"text": " ".join(f"{what} {why}".split()) or lint_rule.summary},
        "help": {"text": lint_rule.doc, "markdown": _markdown(lint_rule)},
        "defaultConfiguration": {"level": LEVELS[lint_rule.severity]},
        "properties": {"tags": ["charter", lint_rule.code[:3] + "xx"]},
    }


def _markdown(lint_rule: LintRule) -> str:
    parts = [f"**{lint_rule.code} {lint_rule.name}**: {lint_rule.summary}"]
    for title in ("What it does", "Why", "Example"):
        body = lint_rule.section(title)
        if body:
            parts.append(f"### {title}\n\n{body}")
    return "\n\n".join(parts)


def to_sarif(results: Iterable[Diagnostic], base: str | Path | None = None) -> dict:
    """A SARIF 2.1.0 log of lint findings; paths relative to ``base`` (default: the working directory)."""
    base_path = Path(base) if base is not None else Path.cwd()
    codes = sorted(RULES)
    index = {code: i for i, code in enumerate(codes)}
    uris: dict[str, str] = {}
    sarif_results = []
    for d in results:
        result: dict = {
            "ruleId": d.code,
            "level": LEVELS.get(d.severity, "warning"),
            "message": {"text": d.message},
            "locations": [_location(d.loc, base_path, uris)],
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        if d.related:
            result["relatedLocations"] = [
                {"id": n, **_location(loc, base_path, uris), "message": {"text": f"related location {n}"}}
                for n, loc in enumerate(d.related, start=1)]
        sarif_results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "charter-lint",
                "version": charter.__version__,
                "rules": [_descriptor(RULES[code]) for code in codes],
            }},
            "results": sarif_results,
        }],
    }
