"""`charter lint`: the command-line face of charter.lint; every decision is a library call."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..diagnostics import CharterError, Diagnostic, UnreadableError, sort_key
from ..spec import load
from . import RULES, find_rule, lint as run_lint, to_sarif
from .registry import unknown_selectors

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _selectors(values: tuple[str, ...]) -> list[str]:
    """--select/--ignore entries, each possibly a comma-separated list."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def explain(code: str) -> str:
    """The text `--explain` prints: code, name, severity and the rule's doc."""
    lint_rule = find_rule(code)
    if lint_rule is None:
        raise KeyError(code)
    return f"{lint_rule.code} {lint_rule.name} (default severity: {lint_rule.severity})\n\n{lint_rule.doc}\n"


def rules_table() -> str:
    """The table `--list-rules` prints, one rule a line."""
    rows = [(r.code, r.name, r.severity, r.summary) for _, r in sorted(RULES.items())]
    widths = [max(len(row[i]) for row in rows + [("CODE", "NAME", "SEVERITY", "")]) for i in range(3)]
    lines = [f"{'CODE':<{widths[0]}}  {'NAME':<{widths[1]}}  {'SEVERITY':<{widths[2]}}  SUMMARY"]
    lines += [f"{c:<{widths[0]}}  {n:<{widths[1]}}  {s:<{widths[2]}}  {summary}" for c, n, s, summary in rows]
    return "\n".join(lines) + "\n"


def counts(findings: list[Diagnostic]) -> dict[str, int]:
    return {severity: sum(d.severity == severity for d in findings) for severity in ("error", "warning", "info")}


def exit_code(findings: list[Diagnostic], *, strict: bool, unreadable: bool) -> int:
    """2 when a spec could not be read, 1 when errors remain (or warnings with --strict), else 0."""
    if unreadable:
        return EXIT_USAGE
    tally = counts(findings)
    return EXIT_FINDINGS if tally["error"] or (strict and tally["warning"]) else EXIT_OK


@click.command()
@click.argument("specs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option("--select", multiple=True, metavar="CODES",
              help="Only these rules: codes (CH201), prefixes (CH2), names, or ALL; repeat or comma-separate.")
@click.option("--ignore", multiple=True, metavar="CODES", help="Skip these rules (same forms as --select).")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the report to a file instead of stdout.")
@click.option("--explain", "explain_code", metavar="CODE", help="Print what a rule checks, why, and an example.")
@click.option("--list-rules", is_flag=True, help="Print every rule with its code, name and severity.")
@click.option("--allow-outside", is_flag=True,
              help="Let `extends` reach files outside the spec's folder tree, or by absolute path.")
def lint(specs: tuple[Path, ...], fmt: str, select: tuple[str, ...], ignore: tuple[str, ...], strict: bool,
         output: Path | None, explain_code: str | None, list_rules: bool, allow_outside: bool) -> None:
    """Lint SPECS: contradictions, gaps and hazard patterns, as FILE:LINE:COL: SEVERITY: MESSAGE [CODE NAME].

    Exits 0 when clean, 1 when errors remain (or warnings with --strict) or a spec is
    invalid, 2 on usage errors or unreadable files.
    """
    if explain_code:
        try:
            click.echo(explain(explain_code), nl=False)
        except KeyError:
            _usage(f"unknown rule {explain_code!r}; see `charter lint --list-rules`")
        return
    if list_rules:
        click.echo(rules_table(), nl=False)
        return
    if not specs:
        _usage("no spec given; usage: charter lint SPEC... (or --list-rules, --explain CODE)")
    selected, ignored = _selectors(select), _selectors(ignore)
    unknown = unknown_selectors(selected + ignored)
    if unknown:
        _usage(f"unknown rule {unknown[0]!r} in --select/--ignore; see `charter lint --list-rules`")

    findings: list[Diagnostic] = []
    unreadable = False
    for path in specs:
        try:
            spec = load(path, allow_outside=allow_outside)
        except CharterError as err:
            unreadable = unreadable or isinstance(err, UnreadableError)
            findings.extend(err.diagnostics)
            continue
        findings.extend(run_lint(spec, select=selected or None, ignore=ignored))
    findings = sorted(dict.fromkeys(findings), key=sort_key)

    if fmt == "sarif":
        report = json.dumps(to_sarif(findings), indent=2) + "\n"
    elif fmt == "json":
        report = json.dumps({"findings": [d.to_dict() for d in findings], "summary": counts(findings)}, indent=2) + "\n"
    else:
        report = "".join(d.format() + "\n" for d in findings)
    if output is not None:
        from ..io import write_text_atomic

        write_text_atomic(output, report)
    else:
        click.echo(report, nl=False)
    tally = counts(findings)
    click.echo(f"{len(specs)} spec{'s' if len(specs) != 1 else ''} linted: {tally['error']} error(s), "
               f"{tally['warning']} warning(s), {tally['info']} info", err=True)
    sys.exit(exit_code(findings, strict=strict, unreadable=unreadable))


def _usage(message: str) -> None:
    click.echo(f"charter: error: {message}", err=True)
    sys.exit(EXIT_USAGE)
