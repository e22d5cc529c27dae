"""What `charter lint` prints or writes: the report in text, JSON or SARIF, the rule table, a rule's explanation."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Iterable

from ..diagnostics import Diagnostic
from ..jsonenc import _orjson_writes_as_json
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
        return indented_json(log) + "\n"
    if fmt == "json":
        document: dict = {"findings": [d.to_dict() for d in findings], "summary": counts(findings)}
        if deep_reports is not None:
            document["deep"] = [deep_report.to_dict() for deep_report in deep_reports]
        return indented_json(document) + "\n"
    if fmt == "text":
        return "".join(d.format() + "\n" for d in findings)
    raise ValueError(f"unknown lint report format {fmt!r}; known: {', '.join(FORMATS)}")


# What json.dumps escapes beyond what orjson does: every character past "~" (DEL and non-ASCII).
_PAST_ASCII = re.compile(r"[^\x00-\x7e]")


def _json_escape(match: re.Match) -> str:
    """The escape json.dumps (ensure_ascii) writes for one character: \\uXXXX, or a surrogate pair."""
    code = ord(match.group())
    if code > 0xFFFF:
        code -= 0x10000
        return "\\u{:04x}\\u{:04x}".format(0xD800 | (code >> 10), 0xDC00 | (code & 0x3FF))
    return "\\u{:04x}".format(code)


def indented_json(document: Any) -> str:
    """``json.dumps(document, indent=2)``, written by orjson when it writes the same text.

    json's indenting encoder runs in pure Python (0.4 s for the SARIF log of a 2,000-rule spec).
    orjson writes the same structure and, with the non-ASCII characters json escapes (ensure_ascii)
    escaped the same way, the same bytes, for the documents charter.jsonenc vouches for (text keys,
    str, int, bool, None, plain floats, dicts, lists); anything else, or any orjson error (a lone
    surrogate), goes to json. Keys keep their order, as json.dumps keeps it.
    """
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency
        orjson = None
    if orjson is not None and _orjson_writes_as_json(document):
        try:
            text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode("utf-8")
        except (TypeError, ValueError, OverflowError):  # JSONEncodeError is a TypeError: json decides
            pass
        else:
            return _PAST_ASCII.sub(_json_escape, text) if not text.isascii() or "\x7f" in text else text
    return json.dumps(document, indent=2)


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
