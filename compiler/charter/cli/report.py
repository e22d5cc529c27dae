"""`charter report` and `charter compare`: the CLI face of charter.report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..report import HTML_REPORT, MARKDOWN_REPORT, write_reports
from ..report.compare import DEFAULT_THRESHOLD, check_gates, compare_runs, format_json, format_markdown, format_text
from ..report.runs import load_run
from ._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, examples, fail


@click.command(epilog=examples(
    "charter report runs/after            # writes runs/after/report.html and report.md",
    "charter report runs/after --format md -q",
))
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "formats", multiple=True, type=click.Choice(["html", "md"]),
              help=f"Write only these (repeatable; default: both {HTML_REPORT} and {MARKDOWN_REPORT}).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def report(run_dir: Path, formats: tuple[str, ...], quiet: bool) -> None:
    """Write RUN_DIR/report.html (self-contained, opens offline) and RUN_DIR/report.md (for CI comments).

    Exits 0 on success and 2 when RUN_DIR is not a readable run directory.
    """
    chosen = set(formats) or {"html", "md"}
    written = write_reports(run_dir, html="html" in chosen, markdown="md" in chosen)  # RunDirError: exit 2
    if not quiet:
        for path in written:
            click.echo(f"wrote {path}")


@click.command(epilog=examples(
    "charter compare runs/before runs/after",
    "charter compare runs/before runs/after --fail-on-regression --format md -o comparison.md   # a CI gate",
))
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "md"]), default="text", show_default=True,
              help="text for a terminal, json for tools, md for a pull-request comment.")
@click.option("--threshold", type=float, default=DEFAULT_THRESHOLD, show_default=True, metavar="X",
              help="Minimum effect size: a change the paired test calls significant must also be at least X "
                   "points (1-10 scale) to count as a regression or improvement.")
@click.option("--fail-under", type=float, metavar="SCORE",
              help="Exit 1 when any model's overall score in RUN_B is below SCORE (or has no score).")
@click.option("--fail-on-regression", is_flag=True,
              help="Exit 1 when any model's overall or per-clause score shows a regression: a paired bootstrap "
                   "over the cases both runs graded (exact sign test under 10 cases) rules out no change at 95%.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Also write the output to this file.")
def compare(run_a: Path, run_b: Path, fmt: str, threshold: float, fail_under: float | None,
            fail_on_regression: bool, output: Path | None) -> None:
    """Compare RUN_B (the new run) against RUN_A (the reference): regressions and improvements per
    model and clause, pass-rate changes and newly failing cases.

    \b
    Exit codes, for CI:
      0  no gate tripped (always, without --fail-under / --fail-on-regression)
      1  a gate tripped: a model of RUN_B scored under --fail-under, or with
         --fail-on-regression an overall or per-clause score regressed (paired test, 95%)
      2  bad input: a missing run directory, no summary.json, runs of different specs
    """
    if threshold < 0:
        fail(f"--threshold must be 0 or more, got {threshold:g}", EXIT_USAGE)
    if fail_under is not None and not 0 <= fail_under <= 10:
        fail(f"--fail-under is a score on the judge's 1-10 scale, got {fail_under:g}", EXIT_USAGE)
    comparison = compare_runs(load_run(run_a), load_run(run_b), threshold=threshold)  # RunDirError: exit 2
    gates = check_gates(comparison, fail_under=fail_under, fail_on_regression=fail_on_regression)
    gated = fail_under is not None or fail_on_regression
    render = {"text": format_text, "json": format_json, "md": format_markdown}[fmt]
    text = render(comparison, gates if gated else None)
    if output is not None:
        from ..io import write_text_atomic
        try:
            write_text_atomic(output, text)
        except OSError as err:
            fail(f"{output}: cannot write: {err.strerror or err}", EXIT_USAGE)
    click.echo(text, nl=False)
    if gates.failures and fmt != "text":
        for line in gates.failures:
            click.echo(f"charter: gate failed: {line}", err=True)
    sys.exit(EXIT_FAILED if gates.failures else EXIT_OK)
