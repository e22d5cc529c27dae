"""`charter run` and `charter calibrate`: thin click faces of charter.run.

Exit codes: 0 every case ran and was graded; 1 some cases failed (a model call failed after
retries, or the judge gave no usable verdict) or the spec is invalid; 2 bad input or
configuration (missing or rejected key, unknown model, unreadable file, a run directory started
with other arguments); 130 interrupted (the message says how to resume).
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import click

from ..diagnostics import SpecError, UnreadableError
from ..io import write_text_atomic
from ..providers import ConfigError, parse_model_id
from ..providers.cache import CacheError, ResponseCache, default_cache_path
from ..providers.calls import DEFAULT_RETRY, RunAborted
from ..providers.pricing import PriceTable, PriceTableError
from .calibrate import (
    TRUST_THRESHOLD,
    NothingToCalibrate,
    calibrate as calibrate_judge,
    calibration_path,
    format_calibration,
    load_calibration,
    save_calibration,
)
from .cases import Plan, PlanError, load_plan
from .results import RESULTS_FILE, RUN_FILE, RUN_FORMAT, SUMMARY_FILE, ResultsFormatError, read_results, read_run_info
from .runner import Progress, Runner, RunOptions
from .summary import summarize


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"charter: error: {message}", err=True)
    sys.exit(code)


class ProgressLine:
    """One stderr line redrawn in place: cases done and failed, rate, time left. Silent off a TTY."""

    WIDTH = 24

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.started = time.monotonic()
        self.drawn = 0.0
        self.shown = False

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.drawn < 0.1 and progress.done < progress.total):
            return
        self.drawn = now
        fraction = progress.done / progress.total if progress.total else 1.0
        filled = int(fraction * self.WIDTH)
        fresh = progress.done - progress.skipped
        elapsed = max(now - self.started, 1e-9)
        rate = fresh / elapsed
        left = (progress.total - progress.done) / rate if rate > 0 else None
        eta = "--:--" if left is None else f"{int(left // 60):02d}:{int(left % 60):02d}"
        line = (f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {progress.done}/{progress.total} cases, "
                f"{progress.failed} failed, {rate:.1f}/s, {eta} left, {progress.calls} calls"
                f"{f', {progress.cached} cached' if progress.cached else ''}"
                f"{f', {progress.retries} retries' if progress.retries else ''}")
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _shared_options(function):
    options = [
        click.option("--judge", required=True, metavar="PROVIDER:MODEL", help="The model that grades replies."),
        click.option("--concurrency", type=click.IntRange(1, 1024), default=16, show_default=True,
                     help="API calls in flight at once."),
        click.option("--rpm", type=click.FloatRange(min=0, min_open=True), help="Requests per minute, per model."),
        click.option("--tpm", type=click.FloatRange(min=0, min_open=True),
                     help="Tokens per minute, per model (estimated before each call)."),
        click.option("--judge-max-tokens", type=click.IntRange(min=1), default=2048, show_default=True),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=120.0, show_default=True,
                     help="Seconds before a call counts as timed out (and is retried)."),
        click.option("--retries", type=click.IntRange(0, 50), default=5, show_default=True,
                     help="Retries per call on 429, 5xx, timeouts and dropped connections."),
        click.option("--base-url", help="Endpoint of openai-compatible models (openai/anthropic models use "
                                        "OPENAI_BASE_URL / ANTHROPIC_BASE_URL)."),
        click.option("--cache", "cache_path", type=click.Path(path_type=Path), metavar="FILE",
                     help="Response cache file (default: $XDG_CACHE_HOME/charter/responses.sqlite3)."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the response cache."),
        click.option("--prices", "prices_path", type=click.Path(path_type=Path), metavar="FILE",
                     help="JSON/YAML price overrides, USD per million tokens (see charter.providers.pricing)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _prices(path: Path | None) -> PriceTable:
    table = PriceTable()
    if path is None:
        return table
    try:
        return table.with_overrides(path)
    except PriceTableError as err:
        _fail(str(err))


def _check_model_ids(ids: list[str]) -> None:
    for model_id in ids:
        try:
            parse_model_id(model_id)
        except ConfigError as err:
            _fail(str(err))


def _cache(cache_path: Path | None, no_cache: bool) -> ResponseCache | None:
    if no_cache:
        return None
    try:
        return ResponseCache(cache_path or default_cache_path())
    except CacheError as err:
        _fail(str(err))


def _state_root(cache_path: Path | None) -> Path:
    return (cache_path or default_cache_path()).parent


def _load_plan(source: Path, spec_path: Path | None, select: tuple[str, ...]) -> Plan:
    try:
        return load_plan(source, spec_path, select)
    except SpecError as err:
        click.echo("\n".join(d.format() for d in err.diagnostics), err=True)
        sys.exit(2 if isinstance(err, UnreadableError) else 1)
    except PlanError as err:
        _fail(str(err))


def _run_info(plan: Plan, options: RunOptions) -> dict:
    return {"format": RUN_FORMAT, "spec": {"id": plan.spec.id, "digest": plan.digest()},
            "source": str(plan.source), "case_ids": [c["id"] for c in plan.cases],
            "models": list(options.models), "judge": options.judge, "baseline": options.baseline,
            "params": options.params()}


_COMPARED = (("spec", "a different spec or case set (digest)"), ("case_ids", "a different case set"),
             ("models", "other models"), ("judge", "another judge"), ("baseline", "a different --baseline"),
             ("params", "other model parameters"))


def _prepare_run_dir(run_dir: Path, info: dict, overwrite: bool) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        _fail(f"{run_dir}: exists and is not a directory")
    try:
        previous = read_run_info(run_dir)
    except ResultsFormatError as err:
        _fail(f"{err} (use another -o, or --overwrite to start over)")
    if previous is not None and not overwrite:
        for key, what in _COMPARED:
            if previous.get(key) != info[key]:
                _fail(f"{run_dir} holds a run started with {what}; resume it with its own arguments, use another "
                      f"-o, or pass --overwrite to start over there")
    if previous is None and (run_dir / RESULTS_FILE).exists() and not overwrite:
        _fail(f"{run_dir}/{RESULTS_FILE} exists without {RUN_FILE}; use another -o or --overwrite")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if overwrite:
            for name in (RESULTS_FILE, SUMMARY_FILE):
                (run_dir / name).unlink(missing_ok=True)
        write_text_atomic(run_dir / RUN_FILE, json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    except OSError as err:
        _fail(f"cannot write {err.filename or run_dir}: {err.strerror or err}")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def format_summary(summary: dict, run_dir: Path, calls: int | None = None) -> str:
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
@_shared_options
def run(source: Path, models: tuple[str, ...], run_dir: Path, spec_path: Path | None, select: tuple[str, ...],
        baseline: bool, temperature: float | None, max_tokens: int, seed: int | None, overwrite: bool, quiet: bool,
        judge: str, concurrency: int, rpm: float | None, tpm: float | None, judge_max_tokens: int, timeout: float,
        retries: int, base_url: str | None, cache_path: Path | None, no_cache: bool,
        prices_path: Path | None) -> None:
    """Run the eval cases of SPEC (or a CASES file with --spec) against each --model, graded by --judge.

    Started again with the same arguments, a run completes only what is missing.
    """
    if len(set(models)) != len(models):
        _fail("the same --model is given twice")
    _check_model_ids([*models, judge])
    prices = _prices(prices_path)
    plan = _load_plan(source, spec_path, select)
    options = RunOptions(models=tuple(models), judge=judge, baseline=baseline, concurrency=concurrency, rpm=rpm,
                         tpm=tpm, temperature=temperature, max_tokens=max_tokens, judge_max_tokens=judge_max_tokens,
                         seed=seed, timeout=timeout, base_url=base_url,
                         retry=replace(DEFAULT_RETRY, max_attempts=retries + 1))
    info = _run_info(plan, options)
    _prepare_run_dir(run_dir, info, overwrite)
    cache = _cache(cache_path, no_cache)
    line = ProgressLine(sys.stderr, enabled=not quiet and sys.stderr.isatty())
    progress = Progress(on_change=line)
    runner = Runner(plan, options, run_dir, cache=cache, progress=progress)
    try:
        asyncio.run(runner.run())
    except KeyboardInterrupt:
        line.finish()
        resume = shlex.join(["charter", *sys.argv[1:]])
        _fail(f"interrupted: {progress.done} of {progress.total} cases done and saved in "
              f"{run_dir / RESULTS_FILE}; resume with: {resume}", 130)
    except RunAborted as err:
        line.finish()
        _fail(f"{err} (fix it and run the same command again; finished cases are kept)")
    finally:
        if cache is not None:
            cache.close()
    line.finish()

    calibration = load_calibration(_state_root(cache_path), plan.spec, judge)
    case_ids = {c["id"] for c in plan.cases}
    results = [r for r in read_results(run_dir) if r["case_id"] in case_ids and r["model"] in models]
    summary = summarize(results, spec_id=plan.spec.id, digest=info["spec"]["digest"], cases=len(plan.cases),
                        models=models, judge=judge, prices=prices,
                        calibration={"accuracy": calibration["accuracy"],
                                     "path": Path(calibration["path"]).relative_to(_state_root(cache_path)).as_posix()}
                        if calibration else None)
    try:
        write_text_atomic(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    except OSError as err:
        _fail(f"cannot write {err.filename or run_dir}: {err.strerror or err}")
    click.echo(format_summary(summary, run_dir, progress.calls))
    if calibration and calibration["accuracy"] is not None and calibration["accuracy"] < TRUST_THRESHOLD:
        click.echo(f"warning: judge {judge} agrees with only {calibration['accuracy']:.0%} of this spec's own "
                   f"good/bad examples (charter calibrate, {calibration['path']}); treat its scores with care",
                   err=True)
    failed = any(r["status"] != "ok" or any(e["stage"] == "judge" for e in r["errors"]) for r in results)
    if failed:
        click.echo(f"charter: {progress.failed} case runs failed (see errors in {run_dir / RESULTS_FILE}); "
                   "run the same command again to retry them", err=True)
    sys.exit(1 if failed else 0)


@click.command()
@click.argument("spec_path", type=click.Path(path_type=Path), metavar="SPEC")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Also write the calibration to this JSON file.")
@_shared_options
def calibrate(spec_path: Path, output: Path | None, judge: str, concurrency: int, rpm: float | None,
              tpm: float | None, judge_max_tokens: int, timeout: float, retries: int, base_url: str | None,
              cache_path: Path | None, no_cache: bool, prices_path: Path | None) -> None:
    """Grade SPEC's authored good and bad replies with --judge and report how often it agrees.

    The calibration is stored where `charter run` finds it (next to the response cache), and a run
    with this judge and spec warns when its accuracy is below 90%.
    """
    _check_model_ids([judge])
    prices = _prices(prices_path)
    plan = _load_plan(spec_path, None, ())
    options = RunOptions(models=(), judge=judge, concurrency=concurrency, rpm=rpm, tpm=tpm,
                         judge_max_tokens=judge_max_tokens, timeout=timeout, base_url=base_url,
                         retry=replace(DEFAULT_RETRY, max_attempts=retries + 1))
    cache = _cache(cache_path, no_cache)
    try:
        record = asyncio.run(calibrate_judge(plan.spec, options, cache=cache, prices=prices))
    except NothingToCalibrate as err:
        _fail(str(err))
    except RunAborted as err:
        _fail(str(err))
    except KeyboardInterrupt:
        _fail("interrupted: no calibration written (graded replies are cached; run it again)", 130)
    finally:
        if cache is not None:
            cache.close()
    stored = calibration_path(_state_root(cache_path), plan.spec, judge)
    try:
        save_calibration(record, stored)
        if output is not None:
            save_calibration(record, output)
    except OSError as err:
        _fail(f"cannot write {err.filename or stored}: {err.strerror or err}")
    click.echo(format_calibration(record))
    click.echo(f"saved {stored}" + (f" and {output}" if output else ""), err=True)
    sys.exit(1 if record["grading_errors"] else 0)
