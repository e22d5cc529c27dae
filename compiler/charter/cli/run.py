"""`charter run` and `charter calibrate`: thin click faces of charter.run.

Exit codes: 0 every case ran and was graded; 1 more case runs ended in error than
``--allow-errors`` allows (default 0: any; an error is a model call that failed after retries, or a
reply no judge verdict could be read for), a model is under ``--fail-under``, or the spec is
invalid; 2 bad input or
configuration (missing or rejected key, unknown model, an endpoint whose first attempts all failed
to connect, unreadable file, a run directory started with other arguments); 75 with --batch-files,
a round was written and waits for its results (run the engine, then the same command again);
130 interrupted (the message says how to resume).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from ..diagnostics import CharterError
from ..providers.batch import PollPolicy
from ..run._batch import BatchAPI, BatchFiles, RoundPending
from ..run._api import Gate, calibrate_judge, common_errors, errored_runs, run_evals, state_dir
from ..run.calibrate import TRUST_THRESHOLD, format_calibration
from ..run.cases import load_plan
from ..run.estimate import estimate_run
from ..providers.estimate import format_estimate
from ..run.results import RESULTS_FILE, Summary
from ..providers.calls import RunAborted
from ..run.runner import Progress, RunOptions
from ._common import (
    CALL_OPTIONS, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, apply, check_model_ids, examples, fail, load_prices,
    retry_policy,
)
from ._progress import ProgressLine

JUDGE_MAX_TOKENS = click.option("--judge-max-tokens", type=click.IntRange(min=1), default=2048, show_default=True,
                                help="Largest verdict; a verdict maps every clause, so large specs need room.")
JUDGES = click.option("--judge", "judges", multiple=True, required=True, metavar="PROVIDER:MODEL",
                      help="The model that grades replies; repeat it to grade every reply by each judge "
                           "(mean score, majority verdict, their agreement as Cohen's kappa).")
# The options `charter run` and `charter calibrate` share: the judges and how calls are made.
_SHARED = [JUDGES, JUDGE_MAX_TOKENS, *CALL_OPTIONS]
JUDGE_SCOPE = click.option("--judge-scope", type=click.Choice(["targets", "all"]), default="targets",
                           show_default=True,
                           help="Which clauses a judge grades: a case's targets and every hard rule, or all.")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def format_summary(summary: Summary, run_dir: Path, calls: int | None = None) -> str:
    """The table `charter run` prints at the end."""
    judges = summary.get("judges") or [summary["judge"]]
    bindings = summary.get("judge_binding") or {}
    named = ", ".join(f"{j} ({bindings[j]})" if bindings.get(j) else j for j in judges)
    samples = max((entry.get("samples", 1) for entry in summary["models"].values()), default=1)
    lines = [f"{summary['spec']['id']}: {summary['cases']} cases"
             + (f" x {samples} samples" if samples > 1 else "")
             + f", judge{'s' if len(judges) > 1 else ''} {named} -> {run_dir}"
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
            f"  {model}: score {_num(entry['score'])}/10{_interval(entry.get('score_interval'), _num)}, "
            f"pass {_pct(entry['pass_rate'])}{_interval(entry.get('pass_rate_interval'), _pct)} "
            f"({counts['passed']} passed, {counts['failed']} failed, {counts['errored']} errored, "
            f"{counts['grading_errors']} grading errors){lift}{flip}; "
            f"{entry['usage']['model']['calls'] + entry['usage']['judge']['calls']} calls, "
            + (f"~${cost:.4f}" if cost is not None else "cost not estimated"))
        for note in entry["cost"]["notes"]:
            lines.append(f"    note: {note}")
        for judge, scores in (entry.get("judges") or {}).items():
            lines.append(f"    judge {judge}: score {_num(scores['score'])}{_interval(scores['score_interval'], _num)}, "
                         f"pass {_pct(scores['pass_rate'])}")
        for pair in entry.get("agreement") or ():
            kappa = "n/a" if pair["kappa"] is None else f"{pair['kappa']:.2f}"
            lines.append(f"    agreement {pair['judges'][0]} / {pair['judges'][1]}: Cohen's kappa {kappa} "
                         f"over {pair['items']} clause verdicts")
    return "\n".join(lines)


def _interval(interval: list[float] | None, fmt) -> str:
    return f" [{fmt(interval[0])}–{fmt(interval[1])}]" if interval else ""


def format_common_errors(errors: list[tuple[str, int]]) -> str:
    """The most common error messages, one per line, with their counts."""
    return "most common errors:\n" + "\n".join(f"  {count} x {message}" for message, count in errors)


@click.command(epilog=examples(
    "charter run characters/tutor.yaml -m demo:tutor --judge demo:judge -o runs/demo   # offline, no key",
    "charter run characters/tutor.yaml -m anthropic:claude-sonnet-4-5 -m openai:gpt-4.1-mini "
    "--judge openai:gpt-4.1 --judge anthropic:claude-sonnet-4-5 --samples 3 --baseline -o runs/v1",
    "charter run characters/tutor.yaml -m openai:gpt-4.1-mini --judge openai:gpt-4.1 --fail-under 80% -o runs/ci",
))
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
@click.option("--max-tokens", type=click.IntRange(min=1), default=1024, show_default=True,
              help="Longest reply each model may write, in tokens.")
@click.option("--seed", type=int, help="Sent where the API takes one (OpenAI).")
@click.option("--overwrite", is_flag=True, help="Start over in a run directory that holds another run.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line.")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run each case this many times per model; scores and intervals use every sample.")
@JUDGE_SCOPE
@click.option("--fail-under", "fail_under", metavar="SCORE|RATE%",
              help="Exit 1 when a model's mean score (1-10) is under SCORE, or its pass rate under RATE% "
                   "(e.g. 7.5 or 80%).")
@click.option("--allow-errors", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Exit 0 even if up to N case runs ended in error (a failed model call or no usable verdict).")
@click.option("--batch", is_flag=True,
              help="Send model turns and judge calls as OpenAI Batch / Anthropic Message Batches (half price, "
                   "slower): one round per conversation turn; batch ids are saved in the run directory and "
                   "resumed on a restart.")
@click.option("--batch-files", "batch_files", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="Write each round's requests to DIR as OpenAI batch-input JSONL for your own engine "
                   "(vllm run-batch) and stop (exit 75); run again once the results file is beside it.")
@click.option("--poll", "poll_seconds", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True,
              help="With --batch: seconds before the first status poll (then x1.5, up to 5 min).")
@click.option("--dry-run", is_flag=True,
              help="Print the calls, tokens, prompt-cache reads and cost per model the run would need, and stop "
                   "before any call (nothing is written).")
@apply(_SHARED)
def run(source: Path, models: tuple[str, ...], run_dir: Path, spec_path: Path | None, select: tuple[str, ...],
        baseline: bool, temperature: float | None, max_tokens: int, seed: int | None, overwrite: bool, quiet: bool,
        samples: int, judge_scope: str, fail_under: str | None, allow_errors: int, batch: bool,
        batch_files: Path | None, poll_seconds: float, dry_run: bool,
        judges: tuple[str, ...], judge_max_tokens: int, concurrency: int, rpm: float | None, tpm: float | None,
        timeout: float, retries: int, base_url: str | None, cache_path: Path | None, no_cache: bool,
        prices_path: Path | None) -> None:
    """Run the eval cases of SPEC (or a CASES file with --spec) against each --model, graded by --judge.

    Started again with the same arguments, a run completes only what is missing. Exits 1 when more
    case runs ended in error than --allow-errors allows, or a model is under --fail-under. With --dry-run, print what the run would cost and stop before any call.
    """
    if len(set(models)) != len(models):
        fail("the same --model is given twice")
    if len(set(judges)) != len(judges):
        fail("the same --judge is given twice")
    check_model_ids(*models, *judges)
    try:
        gate = Gate(fail_under) if fail_under is not None else None
    except CharterError as err:
        fail(f"--fail-under: {err}")
    prices = load_prices(prices_path)
    plan = load_plan(source, spec_path, select)
    options = RunOptions(models=tuple(models), judge=judges[0], more_judges=tuple(judges[1:]), baseline=baseline,
                         concurrency=concurrency, rpm=rpm, tpm=tpm, temperature=temperature, max_tokens=max_tokens,
                         judge_max_tokens=judge_max_tokens, seed=seed, timeout=timeout, base_url=base_url,
                         retry=retry_policy(retries), samples=samples, judge_scope=judge_scope)
    if batch and batch_files:
        fail("--batch and --batch-files are two ways of sending rounds; give one")
    if (batch or batch_files) and no_cache:
        fail(f"{'--batch' if batch else '--batch-files'} keeps the answers in the response cache; drop --no-cache")
    mode = None
    if batch or batch_files:
        mode = BatchAPI(poll=PollPolicy(initial=poll_seconds)) if batch else BatchFiles(batch_files)
    if dry_run:
        estimate = estimate_run(plan, options, prices=prices, batch=batch)
        click.echo(f"{plan.spec.id}: {len(plan.cases)} cases x {len(models)} model(s) x {len(options.variants)} "
                   f"variant(s) x {samples} sample(s), judge {', '.join(judges)}: estimate, no call made\n"
                   f"{format_estimate(estimate)}")
        sys.exit(EXIT_OK)
    line = ProgressLine(sys.stderr, enabled=not quiet and sys.stderr.isatty())
    progress = Progress(on_change=line)
    try:
        summary = run_evals(plan, run_dir, options, cache_path=cache_path, use_cache=not no_cache, prices=prices,
                            overwrite=overwrite, progress=progress, batch=mode)
    except RoundPending as pending:  # not a failure: the engine's turn
        line.finish()
        click.echo(f"charter: {pending}")
        sys.exit(pending.exit_code)
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
        click.echo(f"warning: judge {judges[0]} agrees with only {calibration['accuracy']:.0%} of this spec's own "
                   f"good/bad examples (charter calibrate, {state_dir(cache_path) / calibration['path']}); "
                   "treat its scores with care", err=True)
    status = EXIT_OK
    errored = errored_runs(summary)
    if errored:
        allowed = f", {allow_errors} allowed by --allow-errors" if allow_errors else ""
        click.echo(f"charter: {errored} case runs failed{allowed} (see errors in {run_dir / RESULTS_FILE}); "
                   "run the same command again to retry them", err=True)
        click.echo(format_common_errors(common_errors(run_dir, models)), err=True)
        if errored > allow_errors:
            status = EXIT_FAILED
    for failure in gate.failures(summary) if gate else ():
        click.echo(f"charter: {failure}", err=True)
        status = EXIT_FAILED
    sys.exit(status)


@click.command(epilog=examples(
    "charter calibrate characters/tutor.yaml --judge demo:judge   # offline, no key",
    "charter calibrate characters/tutor.yaml --judge openai:gpt-4.1 -o calibration.json",
))
@click.argument("spec_path", type=click.Path(path_type=Path), metavar="SPEC")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Also write the calibration to this JSON file (with several judges: one file per judge, "
                   "the judge's name added before the suffix).")
@JUDGE_SCOPE
@apply(_SHARED)
def calibrate(spec_path: Path, output: Path | None, judge_scope: str, judges: tuple[str, ...], judge_max_tokens: int,
              concurrency: int, rpm: float | None, tpm: float | None, timeout: float, retries: int,
              base_url: str | None, cache_path: Path | None, no_cache: bool, prices_path: Path | None) -> None:
    """Grade SPEC's authored good and bad replies with each --judge and report how often it agrees.

    The calibration is stored where `charter run` finds it (next to the response cache), and a run
    with this judge and spec warns when its accuracy is below 90%.
    """
    if len(set(judges)) != len(judges):
        fail("the same --judge is given twice")
    check_model_ids(*judges)
    prices = load_prices(prices_path)
    plan = load_plan(spec_path)
    errors = 0
    for judge in judges:
        options = RunOptions(models=(), judge=judge, concurrency=concurrency, rpm=rpm, tpm=tpm,
                             judge_max_tokens=judge_max_tokens, timeout=timeout, base_url=base_url,
                             retry=retry_policy(retries), judge_scope=judge_scope)
        target = output if output is None or len(judges) == 1 else _per_judge(output, judge)
        try:
            record = calibrate_judge(plan.spec, options, cache_path=cache_path, use_cache=not no_cache,
                                     prices=prices, output=target)
        except KeyboardInterrupt:
            fail("interrupted: no calibration written (graded replies are cached; run it again)", EXIT_INTERRUPTED)
        click.echo(format_calibration(record))
        click.echo(f"saved {record['path']}" + (f" and {target}" if target else ""), err=True)
        errors += record["grading_errors"]
    sys.exit(EXIT_FAILED if errors else EXIT_OK)


def _per_judge(output: Path, judge: str) -> Path:
    """cal.json -> cal.openai-gpt-4.1.json: one calibration file per judge."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in judge.replace(":", "-"))
    return output.with_name(f"{output.stem}.{safe}{output.suffix}")
