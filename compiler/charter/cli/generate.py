"""`charter generate data` and `charter generate evals`: thin click faces of charter.synth.

Exit codes: 0 done; 1 some calls failed after retries (their items were dropped; run the same
command again to retry them), `generate data` kept no rows or fewer than --min-rows (the one-line
error counts the drop reasons), or the spec is invalid; 2 bad input or configuration (missing or
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
from ..synth.evalgen import EVALS_FILE, PROBES_FILE, EvalOptions
from ..length_ratio import MAX_LENGTH_RATIO
from ..synth.pipeline import STAGES, DataOptions, StageProgress, drop_summary
from ..targets.data import DEFAULT_SYSTEM_PROMPT, OPENAI_MIN_SFT_ROWS, SYSTEM_PROMPT_MODES
from ._common import (
    CALL_OPTIONS, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CheckedRequired, apply, check_model_ids, data_format_option,
    data_formats, examples, fail, judge_option, load_prices, load_spec_or_exit, model_option, retry_policy,
)
from ._progress import StageLines

# The options both generate commands share: sampling, batches, how calls are made, the output directory.
_SHARED = [
    click.option("--seed", type=int, default=0, show_default=True,
                 help="Draws the ideation plans; sent to APIs that take one. Same seed and replies, same output."),
    click.option("--temperature", type=click.FloatRange(0, 2), help="Sampling temperature (default: the API's)."),
    click.option("--max-tokens", type=click.IntRange(min=1), default=1024, show_default=True,
                 help="Longest reply each generating call may write, in tokens."),
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
        fail("-n/--count is required: how many rows (or cases) to generate")
    if n < 1:
        fail(f"-n/--count must be at least 1, not {n}")
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


@click.group(epilog=examples(
    "charter generate data characters/tutor.yaml -m openai:gpt-4.1 -n 200 -o data",
    "charter generate evals characters/tutor.yaml -m openai:gpt-4.1 -n 50 -o new-evals",
))
def generate() -> None:
    """Synthesize training data or eval cases from a spec with a model."""


@generate.command("data", epilog=examples(
    "charter generate data characters/tutor.yaml -m demo:teacher --judge demo:judge -n 20 -o gen   # offline, "
    "scripted (the rows mean nothing)",
    "charter generate data characters/tutor.yaml -m anthropic:claude-sonnet-4-5 --judge openai:gpt-4.1 "
    "-n 2000 -o data -f all --batch",
))
@click.argument("spec_path", type=click.Path(path_type=Path), metavar="SPEC")
@click.option("-m", "--model", "teacher", cls=CheckedRequired, metavar="PROVIDER:MODEL",
              help="The teacher: writes the user conversations and the in-character replies.")
@click.option("--teacher", "teacher_alias", metavar="PROVIDER:MODEL", hidden=True)  # the earlier spelling
@click.option("--student", metavar="PROVIDER:MODEL",
              help="Writes the rejected replies with no system prompt "
                   "(default: the teacher, asked for a near miss of the good reply, at its length).")
@judge_option(required=False, help="Rates realism and grades replies (default: the teacher).")
@click.option("-n", "--count", "n", type=int, cls=CheckedRequired, metavar="N",
              help="Rows to generate (SFT rows; each also gives a DPO pair).")
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path), required=True, metavar="DIR",
              help="Output directory.")
@data_format_option("Training file formats (repeatable; default: both = openai and trl; all adds anthropic).",
                    dest="formats")
@click.option("--system-prompt", "system_prompt", type=click.Choice(SYSTEM_PROMPT_MODES),
              default=DEFAULT_SYSTEM_PROMPT, show_default=True,
              help="System message of the rows, as in `charter build`: 'context' a one-line context description on "
                   "rows set in a context, 'full' the compiled prompt of the row's context, 'none' nothing.")
@click.option("--keep-system-prompt", is_flag=True, help="The same as --system-prompt full.")
@click.option("--max-length-ratio", type=click.FloatRange(min=1), default=MAX_LENGTH_RATIO, show_default=True,
              help="Drop a pair when one reply has more than this many times the other's words "
                   "(DPO would learn length instead of the clause).")
@click.option("--min-rows", type=click.IntRange(min=1), metavar="N",
              help="Exit 1, counting the drop reasons, when fewer than N rows are kept (zero rows always exits 1).")
@click.option("--inoculate", is_flag=True, help="Put the spec's training.inoculation prompt first in every row.")
@click.option("--introspection", is_flag=True,
              help="Also generate rows where the character talks about its own values, nature and trade-offs.")
@click.option("--margin", type=int, default=2, show_default=True,
              help="Points (1-10 scale) by which the chosen reply must beat the rejected one.")
@click.option("--dedup-threshold", type=click.FloatRange(0, 1, min_open=True), default=DEFAULT_THRESHOLD,
              show_default=True, help="Word-bigram Jaccard similarity at which two user messages are near-duplicates.")
@click.option("--judge-max-tokens", type=click.IntRange(min=1), default=1024, show_default=True,
              help="Longest realism rating or verdict the judge may write, in tokens.")
@click.option("--self-interaction", "self_interaction", type=click.IntRange(min=0), default=0, metavar="N",
              help="Also write N transcripts of two instances of the character talking with each other; those "
                   "that fall into an attractor loop (mutual praise, spiritual escalation, repetition) are dropped.")
@click.option("--self-interaction-turns", type=click.IntRange(4, 20), default=6, show_default=True, metavar="T",
              help="Messages in each self-interaction transcript (both instances together).")
@click.option("--dry-run", is_flag=True,
              help="Print the calls per stage, tokens, prompt-cache reads and cost per model the run would need "
                   "(with the batch discount under --batch), and stop before any call (nothing is written).")
@apply(_SHARED)
def data(spec_path: Path, teacher: str | None, teacher_alias: str | None, student: str | None, judge: str | None, n: int | None, out_dir: Path,
         formats: tuple[str, ...], system_prompt: str, keep_system_prompt: bool, max_length_ratio: float,
         min_rows: int | None, inoculate: bool, introspection: bool, margin: int, dedup_threshold: float,
         judge_max_tokens: int, self_interaction: int, self_interaction_turns: int,
         seed: int, temperature: float | None, max_tokens: int,
         batch: bool, poll_seconds: float, concurrency: int, rpm, tpm, timeout: float, retries: int,
         base_url: str | None, cache_path: Path | None, no_cache: bool, prices_path: Path | None, overwrite: bool,
         quiet: bool, dry_run: bool = False) -> None:
    """Generate N graded training rows for SPEC with a teacher model, into DIR.

    DIR gets the training files (sft/dpo in each --format) with line-aligned .meta.jsonl sidecars,
    README.md (a Hugging Face dataset card), manifest.json (counts per clause, drops, the pairs'
    length ratios, tokens, cost), generate.json (the arguments) and, with --batch, batches.json
    while batches run. Started again with the same arguments, it replays answered calls from the
    response cache and appends only the rows that are missing.
    """
    n = _count(n)
    teacher = teacher or teacher_alias
    if not teacher:
        fail("generate data needs its teacher model: -m/--model PROVIDER:MODEL")
    check_model_ids(teacher, student, judge)
    if not 0 <= margin <= 9:
        fail(f"--margin must be from 0 to 9, not {margin}")
    prices = load_prices(prices_path)
    spec = load_spec_or_exit(spec_path)
    options = DataOptions(n=n, teacher=teacher, student=student, judge=judge, seed=seed,
                          formats=data_formats(formats),
                          system_prompt="full" if keep_system_prompt else system_prompt, inoculate=inoculate,
                          introspection=introspection, margin=margin, max_length_ratio=max_length_ratio,
                          dedup_threshold=dedup_threshold, temperature=temperature,
                          max_tokens=max_tokens, judge_max_tokens=judge_max_tokens,
                          window=BATCH_WINDOW if batch else 4 * concurrency,
                          self_interaction=self_interaction, self_interaction_turns=self_interaction_turns)
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
    for note in [*manifest["cost"]["notes"], *manifest.get("notes", [])]:
        click.echo(f"  note: {note}")
    if rows["accepted"] < rows["requested"]:
        short = [key for key, counts in manifest["clauses"].items() if counts["accepted"] < counts["quota"]]
        click.echo(f"charter: warning: {rows['requested'] - rows['accepted']} rows short after "
                   f"{rows['rounds']} rounds ({', '.join(short[:5])}{' ...' if len(short) > 5 else ''}); "
                   "see drops in the manifest", err=True)
    if "openai" in options.formats and rows["accepted"] < OPENAI_MIN_SFT_ROWS:
        click.echo(f"charter: warning: {rows['accepted']} rows; OpenAI fine-tuning needs at least "
                   f"{OPENAI_MIN_SFT_ROWS}", err=True)
    talks = manifest.get("self_interaction")
    if talks is not None:
        dropped = ", ".join(f"{reason} {count}" for reason, count in talks["dropped"].items()) or "none"
        click.echo(f"  self-interaction: {talks['accepted']} of {talks['requested']} transcripts kept "
                   f"({talks['attempted']} tried; dropped: {dropped})")
    failed = manifest["drops"].get("call-failed", 0) + manifest["drops"].get("self-interaction:call-failed", 0)
    if rows["accepted"] == 0 or rows["accepted"] < (min_rows or 0):
        # A pipeline must not go on with nothing (or too little) as if it had data: exit 1, saying why.
        floor = f" (--min-rows {min_rows})" if min_rows else ""
        retry = "; run the same command again to retry failed calls" if failed else ""
        fail(f"{rows['accepted']} of {rows['requested']} rows kept{floor}; dropped: "
             f"{drop_summary(manifest['drops'])}{retry}", EXIT_FAILED)
    if failed:
        click.echo(f"charter: {failed} items lost to failed calls; run the same command "
                   "again to retry them", err=True)
        sys.exit(EXIT_FAILED)


@generate.command("evals", epilog=examples(
    "charter generate evals characters/tutor.yaml -m openai:gpt-4.1 -n 50 -o new-evals",
    "charter run new-evals/evals.jsonl --spec characters/tutor.yaml -m openai:gpt-4.1-mini --judge openai:gpt-4.1 "
    "-o runs/new",
))
@click.argument("spec_path", type=click.Path(path_type=Path), metavar="SPEC")
@model_option("The model that writes the cases.", required=True)
@click.option("-n", "--count", "n", type=int, cls=CheckedRequired, metavar="N",
              help="New cases to generate.")
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path), required=True, metavar="DIR",
              help="Output directory: evals.jsonl, probes.yaml and manifest.json.")
@click.option("--dedup-threshold", type=click.FloatRange(0, 1, min_open=True), default=DEFAULT_THRESHOLD,
              show_default=True, help="Word-bigram Jaccard similarity at which two cases are near-duplicates.")
@judge_option(required=False, help="Rates each case's realism and test-likeness, as in generate data "
                                   "(default: the --model).")
@click.option("--uncovered", is_flag=True,
              help="Write probes only for the clauses no authored case covers (the gaps CH501 reports).")
@apply(_SHARED)
def evals(spec_path: Path, model: str, n: int | None, out_dir: Path, dedup_threshold: float, judge: str | None,
          uncovered: bool, seed: int,
          temperature: float | None, max_tokens: int, batch: bool, poll_seconds: float, concurrency: int, rpm, tpm,
          timeout: float, retries: int, base_url: str | None, cache_path: Path | None, no_cache: bool,
          prices_path: Path | None, overwrite: bool, quiet: bool) -> None:
    """Generate N new eval cases for SPEC with a model: probes per clause, pressure scripts per drift risk.

    Probes are written in the clause's contexts, in the voice of the users there. Every case passes
    the realism judge; cases that nearly repeat one `charter build` writes, or each other, or that
    quote the clause's own words, are dropped. Writes DIR/evals.jsonl (run it with `charter run
    DIR/evals.jsonl --spec SPEC`) and DIR/probes.yaml, the kept probes per clause to paste into SPEC.

    \b
    Examples:
      charter generate evals characters/tutor.yaml -m openai:gpt-4.1 -n 40 -o gen-evals
      charter generate evals my-spec.yaml -m openai:gpt-4.1 --judge openai:gpt-4.1-mini --uncovered -n 10 -o gaps
    """
    n = _count(n)
    check_model_ids(model, judge)
    prices = load_prices(prices_path)
    spec = load_spec_or_exit(spec_path)
    options = EvalOptions(n=n, model=model, seed=seed, temperature=temperature, max_tokens=max(max_tokens, 2048),
                          dedup_threshold=dedup_threshold, window=BATCH_WINDOW if batch else 4 * concurrency,
                          judge=judge, scope="uncovered" if uncovered else "all")
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
    if uncovered and not manifest["targets"]:
        click.echo(f"{spec.id}: every clause already has an authored case; nothing to generate")
        return
    click.echo(f"{spec.id}: {len(cases)} of {n} new eval cases -> {out_dir / EVALS_FILE} (dropped: {drops}); "
               f"run them with: charter run {out_dir / EVALS_FILE} --spec {spec_path} -m MODEL --judge JUDGE")
    gaps = manifest["coverage"]
    click.echo(f"  probes to paste into the spec: {out_dir / PROBES_FILE}; clauses without a case: "
               f"{len(gaps['uncovered_before'])} before, {len(gaps['uncovered_after'])} with these")
    if not cases:  # as in generate data: nothing kept is a failure a pipeline must not read as success
        fail(f"0 of {n} eval cases kept after {manifest['cases']['rounds']} rounds; dropped: {drops}", EXIT_FAILED)
    if len(cases) < n:
        click.echo(f"charter: warning: {n - len(cases)} cases short after {manifest['cases']['rounds']} rounds",
                   err=True)
    if manifest["drops"].get("call-failed"):
        click.echo("charter: some calls failed after retries; run the same command again to retry them", err=True)
        sys.exit(EXIT_FAILED)
