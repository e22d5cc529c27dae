"""`charter run` and `charter calibrate`: thin click faces of charter.run.

Exit codes: 0 every case ran and was graded; 1 some cases failed (a model call failed after
retries, or the judge gave no usable verdict) or the spec is invalid; 2 bad input or
configuration (missing or rejected key, unknown model, an endpoint whose first attempts all failed
to connect, unreadable file, a run directory started with other arguments); 130 interrupted (the message says how to resume).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from ..diagnostics import CharterError
from ..run._api import calibrate_judge, common_errors, has_failures, run_evals, state_dir
from ..run.calibrate import TRUST_THRESHOLD, format_calibration
from ..run.cases import load_plan
from ..run.estimate import estimate_run
from ..providers.estimate import format_estimate
from ..run.results import RESULTS_FILE, Summary
from ..providers.calls import RunAborted
from ..run.runner import Progress, RunOptions
from ._common import (
    CALL_OPTIONS, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, apply, check_model_ids, fail, judge_option, load_prices,
    retry_policy,
)
from ._progress import ProgressLine

JUDGE_MAX_TOKENS = click.option("--judge-max-tokens", type=click.IntRange(min=1), default=2048, show_default=True,
                                help="Largest verdict; a verdict maps every clause, so large specs need room.")
# The options `charter run` and `charter calibrate` share: the judge and how calls are made.
_SHARED = [judge_option(), JUDGE_MAX_TOKENS, *CALL_OPTIONS]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def format_summary(summary: Summary, run_dir: Path, calls: int | None = None) -> str:
    """The table `charter run` prints at the end."""
    lines = [f"{summary['spec']['id']}: {summary['cases']} cases, judge {summary['judge']} -> {run_dir}"
             + (f" ({calls} API calls this time)" if calls is not None else "")]
    for model, entry in summary["models"].items():
        counts = entry["counts"]
        cost = entry["cost"]["total_usd"]
        lift = ""
        if entry["baseline"]:
            lift = f", baseline {_num(entry['baseline']['score'])} (lift {entry['baseline']['lift']:+.2f})" \
                if entry["baseline"]["lift"] is not None else ", baseline n/a"
        flips = entry["sycophancy"]
        flip = f", flip rate {_pct(flips['flip_rate'])}" if flips["cases"] else ""
        lines.append(
            f"  {model}: score {_num(entry['score'])}/10, pass {_pct(entry['pass_rate'])} "
            f"({counts['passed']} passed, {counts['failed']} failed, {counts['errored']} errored, "
            f"{counts['grading_errors']} grading errors){lift}{flip}; "
            f"{entry['usage']['model']['calls'] + entry['usage']['judge']['calls']} calls, "
            + (f"~${cost:.4f}" if cost is not None else "cost not estimated"))
        for note in entry["cost"]["notes"]:
            lines.append(f"    note: {note}")
    return "\n".join(lines)


def format_common_errors(errors: list[tuple[str, int]]) -> str:
    """The most common error messages, one per line, with their counts."""
    return "most common errors:\n" + "\n".join(f"  {count} x {message}" for message, count in errors)


@click.command()
@click.argument("source", type=click.Path(path_type=Path), metavar="SPEC|CASES")
@click.option("-m", "--model", "models", multiple=True, required=True, metavar="PROVIDER:MODEL",
              help="A model to evaluate (repeatable).")
@click.option("-o", "--output", "run_dir", type=click.Path(path_type=Path), required=True,
              help="Run directory: results.jsonl, summary.json, run.json.")
@click.option("--spec", "spec_path", type=click.Path(path_type=Path),
              help="With a CASES file (evals.jsonl from `charter build`): the spec it was built from.")
@click.option("--case", "select", multiple=True, metavar="TEXT", help="Only cases whose id contains TEXT (repeatable).")
@click.option("--baseline", is_flag=True, help="Also run every case without the character prompt, to measure lift.")
@click.option("--temperature", type=click.FloatRange(0, 2), help="Sampling temperature (default: the API's).")
@click.option("--max-tokens", type=click.IntRange(min=1), default=1024, show_default=True)
@click.option("--seed", type=int, help="Sent where the API takes one (OpenAI).")
@click.option("--overwrite", is_flag=True, help="Start over in a run directory that holds another run.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line.")
@click.option("--dry-run", is_flag=True,
              help="Print the calls, tokens, prompt-cache reads and cost per model the run would need, and stop "
                   "before any call (nothing is written).")
@apply(_SHARED)
def run(source: Path, models: tuple[str, ...], run_dir: Path, spec_path: Path | None, select: tuple[str, ...],
        baseline: bool, temperature: float | None, max_tokens: int, seed: int | None, overwrite: bool, quiet: bool,
        judge: str, judge_max_tokens: int, concurrency: int, rpm: float | None, tpm: float | None, timeout: float,
        retries: int, base_url: str | None, cache_path: Path | None, no_cache: bool,
        prices_path: Path | None, dry_run: bool = False) -> None:
    """Run the eval cases of SPEC (or a CASES file with --spec) against each --model, graded by --judge.

    Started again with the same arguments, a run completes only what is missing. With --dry-run,
    print what the run would cost and stop before any call.
    """
    if len(set(models)) != len(models):
        fail("the same --model is given twice")
    check_model_ids(*models, judge)
    prices = load_prices(prices_path)
    plan = load_plan(source, spec_path, select)
    options = RunOptions(models=tuple(models), judge=judge, baseline=baseline, concurrency=concurrency, rpm=rpm,
                         tpm=tpm, temperature=temperature, max_tokens=max_tokens, judge_max_tokens=judge_max_tokens,
                         seed=seed, timeout=timeout, base_url=base_url, retry=retry_policy(retries))
    if dry_run:
        estimate = estimate_run(plan, options, prices=prices)
        click.echo(f"{plan.spec.id}: {len(plan.cases)} cases x {len(models)} model(s) x {len(options.variants)} "
                   f"variant(s), judge {judge}: estimate, no call made\n{format_estimate(estimate)}")
        sys.exit(EXIT_OK)
    line = ProgressLine(sys.stderr, enabled=not quiet and sys.stderr.isatty())
    progress = Progress(on_change=line)
    try:
        summary = run_evals(plan, run_dir, options, cache_path=cache_path, use_cache=not no_cache, prices=prices,
                            overwrite=overwrite, progress=progress)
    except KeyboardInterrupt:
        line.finish()
        resume = shlex.join(["charter", *sys.argv[1:]])
        fail(f"interrupted: {progress.done} of {progress.total} cases done and saved in "
             f"{run_dir / RESULTS_FILE}; resume with: {resume}", EXIT_INTERRUPTED)
    except RunAborted as err:
        line.finish()
        fail(f"{err} (fix it and run the same command again; finished cases are kept)")
    except CharterError:
        line.finish()
        raise
    line.finish()

    click.echo(format_summary(summary, run_dir, progress.calls))
    calibration = summary["calibration"]
    if calibration and calibration["accuracy"] is not None and calibration["accuracy"] < TRUST_THRESHOLD:
        click.echo(f"warning: judge {judge} agrees with only {calibration['accuracy']:.0%} of this spec's own "
                   f"good/bad examples (charter calibrate, {state_dir(cache_path) / calibration['path']}); "
                   "treat its scores with care", err=True)
    if has_failures(summary):
        click.echo(f"charter: {progress.failed} case runs failed (see errors in {run_dir / RESULTS_FILE}); "
                   "run the same command again to retry them", err=True)
        click.echo(format_common_errors(common_errors(run_dir, models)), err=True)
        sys.exit(EXIT_FAILED)
    sys.exit(EXIT_OK)


@click.command()
@click.argument("spec_path", type=click.Path(path_type=Path), metavar="SPEC")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Also write the calibration to this JSON file.")
@apply(_SHARED)
def calibrate(spec_path: Path, output: Path | None, judge: str, judge_max_tokens: int, concurrency: int,
              rpm: float | None, tpm: float | None, timeout: float, retries: int, base_url: str | None,
              cache_path: Path | None, no_cache: bool, prices_path: Path | None) -> None:
    """Grade SPEC's authored good and bad replies with --judge and report how often it agrees.

    The calibration is stored where `charter run` finds it (next to the response cache), and a run
    with this judge and spec warns when its accuracy is below 90%.
    """
    check_model_ids(judge)
    prices = load_prices(prices_path)
    plan = load_plan(spec_path)
    options = RunOptions(models=(), judge=judge, concurrency=concurrency, rpm=rpm, tpm=tpm,
                         judge_max_tokens=judge_max_tokens, timeout=timeout, base_url=base_url,
                         retry=retry_policy(retries))
    try:
        record = calibrate_judge(plan.spec, options, cache_path=cache_path, use_cache=not no_cache, prices=prices,
                                 output=output)
    except KeyboardInterrupt:
        fail("interrupted: no calibration written (graded replies are cached; run it again)", EXIT_INTERRUPTED)
    click.echo(format_calibration(record))
    click.echo(f"saved {record['path']}" + (f" and {output}" if output else ""), err=True)
    sys.exit(EXIT_FAILED if record["grading_errors"] else EXIT_OK)
