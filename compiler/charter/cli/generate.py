"""`charter generate data` and `charter generate evals`: thin click faces of charter.synth.

Exit codes: 0 done; 1 some calls failed after retries (their items were dropped; run the same
command again to retry them) or the spec is invalid; 2 bad input or configuration (missing or
rejected key, unknown model, unreadable file, an output directory started with other arguments);
130 interrupted (the message says how to resume).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import NoReturn

import click

from ..providers.batch import PollPolicy
from ..providers.calls import RunAborted
from ..synth._api import CallSettings, generate_data, generate_evals
from ..synth.estimate import estimate_data
from ..providers.estimate import format_estimate
from ..synth.calls import BATCH_WINDOW
from ..dedup import DEFAULT_THRESHOLD
from ..synth.evalgen import EVALS_FILE, EvalOptions
from ..synth.pipeline import STAGES, DataOptions, StageProgress
from ..targets.data import DEFAULT_FORMATS, FORMATS, OPENAI_MIN_SFT_ROWS
from ._common import (
    CALL_OPTIONS, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, apply, check_model_ids, fail, judge_option, load_prices,
    load_spec_or_exit, retry_policy,
)
from ._progress import StageLines

# The options both generate commands share: sampling, batches, how calls are made, the output directory.
_SHARED = [
    click.option("--seed", type=int, default=0, show_default=True,
                 help="Draws the ideation plans; sent to APIs that take one. Same seed and replies, same output."),
    click.option("--temperature", type=click.FloatRange(0, 2), help="Sampling temperature (default: the API's)."),
    click.option("--max-tokens", type=click.IntRange(min=1), default=1024, show_default=True),
    click.option("--batch", is_flag=True,
                 help="Send each stage as an OpenAI Batch / Anthropic Message Batch (half price, slower); "
                      "batch ids are saved in DIR and resumed on a restart."),
    click.option("--poll", "poll_seconds", type=click.FloatRange(min=0, min_open=True), default=5.0,
                 show_default=True,
                 help="With --batch: seconds before the first status poll (then x1.5, up to 5 min)."),
    *CALL_OPTIONS,
    click.option("--overwrite", is_flag=True, help="Start over in an output directory that holds other output."),
    click.option("-q", "--quiet", is_flag=True, help="No progress bars."),
]


def _count(n: int | None) -> int:
    if n is None:
        fail("-n is required: how many rows (or cases) to generate")
    if n < 1:
        fail(f"-n must be at least 1, not {n}")
    return n


def _settings(concurrency: int, rpm, tpm, timeout: float, retries: int, base_url: str | None,
              cache_path: Path | None, no_cache: bool, batch: bool, poll_seconds: float) -> CallSettings:
    if no_cache and batch:
        fail("--batch keeps batch results in the response cache; drop --no-cache")
    return CallSettings(concurrency=concurrency, rpm=rpm, tpm=tpm, timeout=timeout, retry=retry_policy(retries),
                        base_url=base_url, cache_path=cache_path, use_cache=not no_cache, batch=batch,
                        poll=PollPolicy(initial=poll_seconds))


def _interrupted(what: str) -> NoReturn:
    fail(f"interrupted: {what}; resume with: {shlex.join(['charter', *sys.argv[1:]])}", EXIT_INTERRUPTED)


@click.group()
def generate() -> None:
    """Synthesize training data or eval cases from a spec with a model."""


@generate.command("data")
@click.argument("spec_path", type=click.Path(path_type=Path), metavar="SPEC")
@click.option("--teacher", required=True, metavar="PROVIDER:MODEL",
              help="Writes the user conversations and the in-character replies.")
@click.option("--student", metavar="PROVIDER:MODEL",
              help="Writes the rejected replies with no system prompt "
                   "(default: the teacher, told to break the clause).")
@judge_option(required=False, help="Rates realism and grades replies (default: the teacher).")
@click.option("-n", "n", type=int, metavar="N", help="Rows to generate (SFT rows; each also gives a DPO pair).")
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path), required=True, metavar="DIR",
              help="Output directory.")
@click.option("-f", "--data-format", "formats", multiple=True, type=click.Choice(FORMATS),
              help=f"Training file formats (repeatable; default: {', '.join(DEFAULT_FORMATS)}).")
@click.option("--keep-system-prompt", is_flag=True, help="Put the compiled system prompt first in every row.")
@click.option("--inoculate", is_flag=True, help="Put the spec's training.inoculation prompt first in every row.")
@click.option("--introspection", is_flag=True,
              help="Also generate rows where the character talks about its own values, nature and trade-offs.")
@click.option("--margin", type=int, default=2, show_default=True,
              help="Points (1-10 scale) by which the chosen reply must beat the rejected one.")
@click.option("--dedup-threshold", type=click.FloatRange(0, 1, min_open=True), default=DEFAULT_THRESHOLD,
              show_default=True, help="Word-bigram Jaccard similarity at which two user messages are near-duplicates.")
@click.option("--judge-max-tokens", type=click.IntRange(min=1), default=1024, show_default=True)
@click.option("--dry-run", is_flag=True,
              help="Print the calls per stage, tokens, prompt-cache reads and cost per model the run would need "
                   "(with the batch discount under --batch), and stop before any call (nothing is written).")
@apply(_SHARED)
def data(spec_path: Path, teacher: str, student: str | None, judge: str | None, n: int | None, out_dir: Path,
         formats: tuple[str, ...], keep_system_prompt: bool, inoculate: bool, introspection: bool, margin: int,
         dedup_threshold: float, judge_max_tokens: int, seed: int, temperature: float | None, max_tokens: int,
         batch: bool, poll_seconds: float, concurrency: int, rpm, tpm, timeout: float, retries: int,
         base_url: str | None, cache_path: Path | None, no_cache: bool, prices_path: Path | None, overwrite: bool,
         quiet: bool, dry_run: bool = False) -> None:
    """Generate N graded training rows for SPEC with a teacher model, into DIR.

    DIR gets the training files (sft/dpo in each --format) with line-aligned .meta.jsonl sidecars,
    manifest.json (counts per clause, drops, tokens, cost), generate.json (the arguments) and, with
    --batch, batches.json while batches run. Started again with the same arguments, it replays
    answered calls from the response cache and appends only the rows that are missing.
    """
    n = _count(n)
    check_model_ids(teacher, student, judge)
    if not 0 <= margin <= 9:
        fail(f"--margin must be from 0 to 9, not {margin}")
    prices = load_prices(prices_path)
    spec = load_spec_or_exit(spec_path)
    options = DataOptions(n=n, teacher=teacher, student=student, judge=judge, seed=seed,
                          formats=tuple(dict.fromkeys(formats)) or DEFAULT_FORMATS,
                          keep_system_prompt=keep_system_prompt, inoculate=inoculate, introspection=introspection,
                          margin=margin, dedup_threshold=dedup_threshold, temperature=temperature,
                          max_tokens=max_tokens, judge_max_tokens=judge_max_tokens,
                          window=BATCH_WINDOW if batch else 4 * concurrency)
    if inoculate and not (spec.training.inoculation or "").strip():
        fail(f"{spec_path}: spec {spec.id!r} sets no training.inoculation, so --inoculate has nothing to add")
    settings = _settings(concurrency, rpm, tpm, timeout, retries, base_url, cache_path, no_cache, batch, poll_seconds)
    if dry_run:
        estimate = estimate_data(spec, options, prices=prices, batch=batch)
        stages = "; ".join(f"{stage} {sum(calls.values()):,}" for stage, calls in estimate["stages"].items())
        click.echo(f"{spec.id}: {n} rows: estimate, no call made (calls by stage: {stages})\n"
                   f"{format_estimate(estimate)}")
        sys.exit(EXIT_OK)
    lines = StageLines(sys.stderr, not quiet and sys.stderr.isatty(), (*STAGES, "rows"),
                       {"ideation": "calls", "rows": "rows"})
    progress = StageProgress(on_change=lines)
    try:
        result = generate_data(spec, options, out_dir, settings, prices=prices, overwrite=overwrite,
                               progress=progress, on_batch=lines.batch)
    except KeyboardInterrupt:
        lines.finish(progress)
        _interrupted(f"{progress['rows'].done} rows saved in {out_dir}")
    except RunAborted as err:
        lines.finish(progress)
        fail(f"{err} (fix it and run the same command again; saved rows are kept)")
    lines.finish(progress)
    manifest, usage = result.manifest, result.usage
    rows = manifest["rows"]
    cost = manifest["cost"]["usd"]
    drops = ", ".join(f"{reason} {count}" for reason, count in manifest["drops"].items()) or "none"
    click.echo(f"{spec.id}: {rows['accepted']} of {rows['requested']} rows in {rows['rounds']} round(s) -> {out_dir} "
               f"({usage.calls + usage.batched} API calls this time, {usage.cached} from cache"
               + (f", {usage.batched} batched" if batch else "") + "); dropped: " + drops + "; "
               + (f"~${cost:.4f}" if cost is not None else "cost not estimated"))
    for note in manifest["cost"]["notes"]:
        click.echo(f"  note: {note}")
    if rows["accepted"] < rows["requested"]:
        short = [key for key, counts in manifest["clauses"].items() if counts["accepted"] < counts["quota"]]
        click.echo(f"charter: warning: {rows['requested'] - rows['accepted']} rows short after "
                   f"{rows['rounds']} rounds ({', '.join(short[:5])}{' ...' if len(short) > 5 else ''}); "
                   "see drops in the manifest", err=True)
    if "openai" in options.formats and rows["accepted"] < OPENAI_MIN_SFT_ROWS:
        click.echo(f"charter: warning: {rows['accepted']} rows; OpenAI fine-tuning needs at least "
                   f"{OPENAI_MIN_SFT_ROWS}", err=True)
    if manifest["drops"].get("call-failed"):
        click.echo(f"charter: {manifest['drops']['call-failed']} items lost to failed calls; run the same command "
                   "again to retry them", err=True)
        sys.exit(EXIT_FAILED)


@generate.command("evals")
@click.argument("spec_path", type=click.Path(path_type=Path), metavar="SPEC")
@click.option("-m", "--model", required=True, metavar="PROVIDER:MODEL", help="The model that writes the cases.")
@click.option("-n", "n", type=int, metavar="N", help="New cases to generate.")
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path), required=True, metavar="DIR",
              help="Output directory: evals.jsonl and manifest.json.")
@click.option("--dedup-threshold", type=click.FloatRange(0, 1, min_open=True), default=DEFAULT_THRESHOLD,
              show_default=True, help="Word-bigram Jaccard similarity at which two cases are near-duplicates.")
@apply(_SHARED)
def evals(spec_path: Path, model: str, n: int | None, out_dir: Path, dedup_threshold: float, seed: int,
          temperature: float | None, max_tokens: int, batch: bool, poll_seconds: float, concurrency: int, rpm, tpm,
          timeout: float, retries: int, base_url: str | None, cache_path: Path | None, no_cache: bool,
          prices_path: Path | None, overwrite: bool, quiet: bool) -> None:
    """Generate N new eval cases for SPEC with a model: probes per clause, pressure scripts per drift risk.

    Cases that nearly repeat one `charter build` writes, or each other, are dropped. Run them with
    `charter run DIR/evals.jsonl --spec SPEC`.
    """
    n = _count(n)
    check_model_ids(model)
    prices = load_prices(prices_path)
    spec = load_spec_or_exit(spec_path)
    options = EvalOptions(n=n, model=model, seed=seed, temperature=temperature, max_tokens=max(max_tokens, 2048),
                          dedup_threshold=dedup_threshold, window=BATCH_WINDOW if batch else 4 * concurrency)
    settings = _settings(concurrency, rpm, tpm, timeout, retries, base_url, cache_path, no_cache, batch, poll_seconds)
    try:
        result = generate_evals(spec, options, out_dir, settings, prices=prices, overwrite=overwrite)
    except KeyboardInterrupt:
        _interrupted("answered calls are cached")
    except RunAborted as err:
        fail(f"{err} (fix it and run the same command again)")
    manifest = result.manifest
    cases = result.cases
    drops = ", ".join(f"{reason} {count}" for reason, count in manifest["drops"].items()) or "none"
    click.echo(f"{spec.id}: {len(cases)} of {n} new eval cases -> {out_dir / EVALS_FILE} (dropped: {drops}); "
               f"run them with: charter run {out_dir / EVALS_FILE} --spec {spec_path} -m MODEL --judge JUDGE")
    if len(cases) < n:
        click.echo(f"charter: warning: {n - len(cases)} cases short after {manifest['cases']['rounds']} rounds",
                   err=True)
    if manifest["drops"].get("call-failed"):
        click.echo("charter: some calls failed after retries; run the same command again to retry them", err=True)
        sys.exit(EXIT_FAILED)
