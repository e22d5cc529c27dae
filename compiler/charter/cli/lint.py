"""`charter lint`: the command-line face of charter.lint; every decision is a library call."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..diagnostics import Diagnostic, SpecError, sort_key
from ..lint import active_rules, lint as run_lint
from ..lint.deep_codes import CODE as DEEP_CODE, DEFAULT_MAX_PAIRS, HAZARD_CODE
from ..lint.output import FORMATS, counts, explain, render_report, rules_table
from ..lint.registry import unknown_selectors
from ..spec import load
from ._common import (
    EXIT_FAILED, EXIT_OK, EXIT_USAGE, allow_outside_option, base_url_option, examples, fail, model_option,
    no_cache_option, timeout_option,
)

if TYPE_CHECKING:  # a static lint does not import the deep machinery
    from ..lint.deep import DeepReport


def _selectors(values: tuple[str, ...]) -> list[str]:
    """--select/--ignore entries, each possibly a comma-separated list."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def exit_code(findings: list[Diagnostic], *, strict: bool, unreadable: bool) -> int:
    """2 when a spec could not be read, 1 when errors remain (or warnings with --strict), else 0."""
    if unreadable:
        return EXIT_USAGE
    tally = counts(findings)
    return EXIT_FAILED if tally["error"] or (strict and tally["warning"]) else EXIT_OK


@click.command(epilog=examples(
    "charter lint examples/risky.yaml",
    "charter lint characters/tutor.yaml --deep -m openai:gpt-4.1-mini   # needs OPENAI_API_KEY",
))
@click.argument("specs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text for a terminal, json for tools, sarif for GitHub code scanning.")
@click.option("--select", multiple=True, metavar="CODES",
              help="Only these rules: codes (CH201), prefixes (CH2), names, or ALL; repeat or comma-separate.")
@click.option("--ignore", multiple=True, metavar="CODES", help="Skip these rules (same forms as --select).")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the report to a file instead of stdout.")
@click.option("--explain", "explain_code", metavar="CODE", help="Print what a rule checks, why, and an example.")
@click.option("--list-rules", is_flag=True, help="Print every rule with its code, name and severity.")
@allow_outside_option
@click.option("--deep", is_flag=True,
              help="Also have a model judge close pairs of clauses in realistic scenarios (CH601) and look for "
                   "each hazard pattern in words the static rules do not read (CH602); needs -m/--model.")
@model_option("The model for --deep, e.g. openai:gpt-4.1-mini (required with --deep).")
@base_url_option
@click.option("--max-pairs", type=click.IntRange(min=1), metavar="N",
              help=f"Check at most N clause pairs per spec with --deep, closest first [default: {DEFAULT_MAX_PAIRS}].")
@no_cache_option
@timeout_option()
def lint(specs: tuple[Path, ...], fmt: str, select: tuple[str, ...], ignore: tuple[str, ...], strict: bool,
         output: Path | None, explain_code: str | None, list_rules: bool, allow_outside: bool, deep: bool,
         model: str | None, base_url: str | None, max_pairs: int | None, no_cache: bool, timeout: float) -> None:
    """Lint SPECS: contradictions, gaps and hazard patterns, as FILE:LINE:COL: SEVERITY: MESSAGE [CODE NAME].

    Exits 0 when clean, 1 when errors remain (or warnings with --strict) or a spec is
    invalid, 2 on usage errors or unreadable files, or when --deep cannot reach its model.
    """
    if explain_code:
        try:
            click.echo(explain(explain_code), nl=False)
        except KeyError:
            fail(f"unknown rule {explain_code!r}; see `charter lint --list-rules`")
        return
    if list_rules:
        click.echo(rules_table(), nl=False)
        return
    if not specs:
        fail("no spec given; usage: charter lint SPEC... (or --list-rules, --explain CODE)")
    selected, ignored = _selectors(select), _selectors(ignore)
    unknown = unknown_selectors(selected + ignored)
    if unknown:
        fail(f"unknown rule {unknown[0]!r} in --select/--ignore; see `charter lint --list-rules`")
    if not deep and (model or base_url or max_pairs is not None or no_cache):
        fail("--model, --base-url, --max-pairs and --no-cache only apply with --deep")
    if deep and not model:
        fail("--deep needs --model PROVIDER:MODEL (e.g. --model openai:gpt-4.1-mini)")

    findings: list[Diagnostic] = []
    unreadable = False
    deep_specs = []
    deep_codes: dict[str, set[str]] = {}  # per spec id: which of the deep codes are selected
    deep_skipped = 0
    for path in specs:
        try:
            spec = load(path, allow_outside=allow_outside, digest=False)  # no finding uses the digest
        except SpecError as err:
            unreadable = unreadable or err.exit_code == EXIT_USAGE
            findings.extend(err.diagnostics)
            continue
        findings.extend(run_lint(spec, select=selected or None, ignore=ignored))
        wanted = {r.code for r in active_rules(spec, selected or None, ignored)} & {DEEP_CODE, HAZARD_CODE}
        if deep and wanted:
            deep_specs.append(spec)
            deep_codes[spec.id] = wanted
        elif deep:
            deep_skipped += 1
    hazards = any(HAZARD_CODE in wanted for wanted in deep_codes.values())
    deep_reports = _deep(deep_specs, model, base_url, max_pairs, no_cache, timeout, hazards) if deep_specs else []
    for deep_report in deep_reports:
        wanted = deep_codes[deep_report.spec.id]
        findings.extend(deep_report.findings if DEEP_CODE in wanted else ())
        findings.extend(deep_report.hazard_findings if HAZARD_CODE in wanted else ())
    findings = sorted(dict.fromkeys(findings), key=sort_key)

    report = render_report(findings, fmt, deep_reports if deep else None)
    if output is not None:
        from ..io import write_text_atomic

        write_text_atomic(output, report)
    else:
        click.echo(report, nl=False)
    if deep_skipped:
        click.echo(f"deep lint skipped for {deep_skipped} spec(s): {DEEP_CODE} and {HAZARD_CODE} are deselected or "
                   "ignored", err=True)
    for deep_report in deep_reports:
        click.echo(deep_report.summary(), err=True)
        for note in deep_report.notes():
            click.echo(f"  {note}", err=True)
    tally = counts(findings)
    click.echo(f"{len(specs)} spec{'s' if len(specs) != 1 else ''} linted: {tally['error']} error(s), "
               f"{tally['warning']} warning(s), {tally['info']} info", err=True)
    # A deep lint that checked nothing (no pair, no hazard question) did not run: a CI job must not pass on it.
    for deep_report in deep_reports:
        if deep_report.checked_nothing:
            fail(f"--deep could not check any pair or hazard of {deep_report.spec.id} with {deep_report.model}: "
                 f"{deep_report.first_problem}", EXIT_USAGE)
    sys.exit(exit_code(findings, strict=strict, unreadable=unreadable))


def _deep(specs: list, model: str, base_url: str | None, max_pairs: int | None, no_cache: bool,
          timeout: float | None = None, hazards: bool = True) -> list[DeepReport]:
    """Runs --deep over the loaded specs. A cache or fatal provider problem (a rejected key, an unknown
    model) is a CharterError with exit code 2, reported in one line by the group."""
    from ..lint.deep import run_deep
    from ..providers.cache import ResponseCache, default_cache_path

    cache = None if no_cache else ResponseCache(default_cache_path())
    try:
        return run_deep(specs, model, base_url=base_url, cache=cache,
                        max_pairs=DEFAULT_MAX_PAIRS if max_pairs is None else max_pairs, timeout=timeout,
                        hazards=hazards)
    finally:
        if cache is not None:
            cache.close()

