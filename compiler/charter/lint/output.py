"""What `charter lint` prints or writes: the report in text, JSON or SARIF, the rule table, a rule's explanation."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Iterable

from ..diagnostics import Diagnostic
from .registry import RULES, find_rule
from .sarif import to_sarif

if TYPE_CHECKING:
    from .deep import DeepReport

FORMATS = ("text", "json", "sarif")


def counts(findings: Iterable[Diagnostic]) -> dict[str, int]:
    """Findings per severity: error, warning, info."""
    findings = list(findings)
    return {severity: sum(d.severity == severity for d in findings) for severity in ("error", "warning", "info")}


def render_report(findings: list[Diagnostic], fmt: str, deep_reports: list[DeepReport] | None = None) -> str:
    """The lint report in ``fmt`` (text, json or sarif). ``deep_reports`` (a --deep run, even an empty
    one) adds the deep evidence: a ``deep`` list in JSON, result properties in SARIF."""
    if fmt == "sarif":
        log = to_sarif(findings)
        if deep_reports is not None:
            from .deep import annotate_sarif

            annotate_sarif(log, deep_reports)
        return json.dumps(log, indent=2) + "\n"
    if fmt == "json":
        document: dict = {"findings": [d.to_dict() for d in findings], "summary": counts(findings)}
        if deep_reports is not None:
            document["deep"] = [deep_report.to_dict() for deep_report in deep_reports]
        return json.dumps(document, indent=2) + "\n"
    if fmt == "text":
        return "".join(d.format() + "\n" for d in findings)
    raise ValueError(f"unknown lint report format {fmt!r}; known: {', '.join(FORMATS)}")


def explain(code: str) -> str:
    """The text `charter lint --explain` prints: code, name, severity and the rule's doc. KeyError if unknown."""
    lint_rule = find_rule(code)
    if lint_rule is None:
        raise KeyError(code)
    return f"{lint_rule.code} {lint_rule.name} (default severity: {lint_rule.severity})\n\n{lint_rule.doc}\n"


def rules_table() -> str:
    """The table `charter lint --list-rules` prints, one rule a line."""
    rows = [(r.code, r.name, r.severity, r.summary) for _, r in sorted(RULES.items())]
    widths = [max(len(row[i]) for row in rows + [("CODE", "NAME", "SEVERITY", "")]) for i in range(3)]
    lines = [f"{'CODE':<{widths[0]}}  {'NAME':<{widths[1]}}  {'SEVERITY':<{widths[2]}}  SUMMARY"]
    lines += [f"{c:<{widths[0]}}  {n:<{widths[1]}}  {s:<{widths[2]}}  {summary}" for c, n, s, summary in rows]
    return "\n".join(lines) + "\n"


__all__ = ["FORMATS", "counts", "explain", "render_report", "rules_table"]
