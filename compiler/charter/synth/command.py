"""`charter generate data` and `charter generate evals`: thin click faces of charter.synth.

Exit codes: 0 done; 1 some calls failed after retries (their items were dropped; run the same
command again to retry them) or the spec is invalid; 2 bad input or configuration (missing or
rejected key, unknown model, unreadable file, an output directory started with other arguments);
130 interrupted (the message says how to resume).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import shlex
import sys
import time
from pathlib import Path
from typing import TextIO

import click

from ..diagnostics import SpecError, UnreadableError
from ..io import write_text_atomic
from ..providers import ConfigError, parse_model_id
from ..providers.batch import BatchStatus, PollPolicy
from ..providers.cache import CacheError, ResponseCache, default_cache_path
from ..providers.calls import DEFAULT_RETRY, CallOptions, RunAborted
from ..providers.pricing import PriceTable, PriceTableError
from ..run.command import ProgressLine
from ..spec import load
from ..targets.data import DEFAULT_FORMATS, FORMATS, OPENAI_MIN_SFT_ROWS
from ..targets.evals import cases_to_jsonl
from .calls import BATCH_WINDOW, BATCHES_FILE, Caller, CallerOptions
from .dedup import DEFAULT_THRESHOLD
from .evalgen import EVALS_FILE, EvalGenerator, EvalOptions
from .pipeline import GENERATE_FILE, MANIFEST_FILE, STAGES, DataGenerator, DataOptions, StageProgress, write_manifest


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"charter: error: {message}", err=True)
    sys.exit(code)


class StageLines:
    """A progress bar per stage, drawn with the runner's ProgressLine and redrawn as one block on stderr."""

    def __init__(self, stream: TextIO, enabled: bool, stages: tuple[str, ...], unit: dict[str, str]) -> None:
        self.stream = stream
        self.enabled = enabled
        self.stages = stages
        self.unit = unit
        self.buffers = {stage: io.StringIO() for stage in stages}
        self.lines = {stage: ProgressLine(self.buffers[stage], enabled=True) for stage in stages}
        self.drawn = 0.0
        self.height = 0
        self.batch_note = ""

    def __call__(self, progress: StageProgress) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.drawn < 0.1:
            return
        self.drawn = now
        self.draw(progress)

    def draw(self, progress: StageProgress) -> None:
        rows = []
        for stage in self.stages:
            state = progress[stage]
            if not state.total:
                continue
            line = self.lines[stage]
            line.drawn = 0.0  # the block throttles itself; always let the stage line render
            buffer = self.buffers[stage]
            buffer.seek(0)
            buffer.truncate()
            line(state)
            text = buffer.getvalue().rsplit("\x1b[2K", 1)[-1].replace(" cases,", f" {self.unit.get(stage, 'items')},")
            rows.append(f"{stage:>9} {text}")
        if self.batch_note:
            rows.append(f"{'batch':>9} {self.batch_note}")
        if not rows:
            return
        up = f"\x1b[{self.height}F" if self.height else "\r"
        self.stream.write(up + "".join(f"\x1b[2K{row}\n" for row in rows))
        self.stream.flush()
        self.height = len(rows)

    def batch(self, status: BatchStatus) -> None:
        self.batch_note = (f"{status.batch_id}: {status.state}, {status.succeeded + status.errored}/{status.total} "
                           "answered")

    def finish(self, progress: StageProgress) -> None:
        if self.enabled:
            self.draw(progress)


def _shared_options(function):
    options = [
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
        click.option("--concurrency", type=click.IntRange(1, 1024), default=16, show_default=True,
                     help="API calls in flight at once."),
        click.option("--rpm", type=click.FloatRange(min=0, min_open=True), help="Requests per minute, per model."),
        click.option("--tpm", type=click.FloatRange(min=0, min_open=True), help="Tokens per minute, per model."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=120.0, show_default=True),
        click.option("--retries", type=click.IntRange(0, 50), default=5, show_default=True,
                     help="Retries per call on 429, 5xx, timeouts and dropped connections."),
        click.option("--base-url", help="Endpoint of openai-compatible models."),
        click.option("--cache", "cache_path", type=click.Path(path_type=Path), metavar="FILE",
                     help="Response cache file (default: $XDG_CACHE_HOME/charter/responses.sqlite3)."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the response cache (no resuming)."),
        click.option("--prices", "prices_path", type=click.Path(path_type=Path), metavar="FILE",
                     help="JSON/YAML price overrides, USD per million tokens."),
        click.option("--overwrite", is_flag=True, help="Start over in an output directory that holds other output."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bars."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _load_spec(path: Path):
    try:
        return load(path)
    except SpecError as err:
        click.echo("\n".join(d.format() for d in err.diagnostics), err=True)
        sys.exit(2 if isinstance(err, UnreadableError) else 1)


def _count(n: int | None) -> int:
    if n is None:
        _fail("-n is required: how many rows (or cases) to generate")
    if n < 1:
        _fail(f"-n must be at least 1, not {n}")
    return n


def _models(*ids: str | None) -> None:
    for model_id in ids:
        if model_id is not None:
            try:
                parse_model_id(model_id)
            except ConfigError as err:
                _fail(str(err))


def _prices(path: Path | None) -> PriceTable:
    try:
        return PriceTable().with_overrides(path) if path else PriceTable()
    except PriceTableError as err:
        _fail(str(err))


def _cache(cache_path: Path | None, no_cache: bool, batch: bool) -> ResponseCache | None:
    if no_cache:
        if batch:
            _fail("--batch keeps batch results in the response cache; drop --no-cache")
        return None
    try:
        return ResponseCache(cache_path or default_cache_path())
    except CacheError as err:
        _fail(str(err))


def _prepare(out_dir: Path, info: dict, overwrite: bool, outputs: tuple[str, ...]) -> None:
    """Checks DIR holds nothing or the same command's output, then records the command in it."""
    if out_dir.exists() and not out_dir.is_dir():
        _fail(f"{out_dir}: exists and is not a directory")
    record = out_dir / GENERATE_FILE
    previous = None
    if record.exists():
        try:
            previous = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            _fail(f"{record}: unreadable ({' '.join(str(err).split())}); use another -o or --overwrite")
    if previous is not None and previous != info and not overwrite:
        changed = sorted(k for k in set(previous) | set(info) if previous.get(k) != info.get(k))
        _fail(f"{out_dir} holds output generated with other arguments ({', '.join(changed)}); resume it with its "
              "own arguments, use another -o, or pass --overwrite to start over there")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if previous is None and not overwrite and any(out_dir.glob("*.jsonl")):
            _fail(f"{out_dir} holds .jsonl files without {GENERATE_FILE}; use another -o or --overwrite")
        if overwrite:
            for path in out_dir.iterdir():
                if path.is_file() and (path.suffix == ".jsonl" or path.name in outputs):
                    path.unlink()
        write_text_atomic(record, json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    except OSError as err:
        _fail(f"cannot write {err.filename or out_dir}: {err.strerror or err}")


def _run_options(models: tuple[str, ...], judge: str, concurrency: int, rpm, tpm, timeout: float, retries: int,
                 base_url: str | None) -> CallerOptions:
    return CallerOptions(models, judge, CallOptions(concurrency=concurrency, rpm=rpm, tpm=tpm, timeout=timeout,
                                                    base_url=base_url,
                                                    retry=dataclasses.replace(DEFAULT_RETRY, max_attempts=retries + 1)))


def _interrupted(what: str) -> None:
    _fail(f"interrupted: {what}; resume with: {shlex.join(['charter', *sys.argv[1:]])}", 130)


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
@click.option("--judge", metavar="PROVIDER:MODEL", help="Rates realism and grades replies (default: the teacher).")
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
@_shared_options
def data(spec_path: Path, teacher: str, student: str | None, judge: str | None, n: int | None, out_dir: Path,
         formats: tuple[str, ...], keep_system_prompt: bool, inoculate: bool, introspection: bool, margin: int,
         dedup_threshold: float, judge_max_tokens: int, seed: int, temperature: float | None, max_tokens: int,
         batch: bool, poll_seconds: float, concurrency: int, rpm, tpm, timeout: float, retries: int,
         base_url: str | None, cache_path: Path | None, no_cache: bool, prices_path: Path | None, overwrite: bool,
         quiet: bool) -> None:
    """Generate N graded training rows for SPEC with a teacher model, into DIR.

    DIR gets the training files (sft/dpo in each --format) with line-aligned .meta.jsonl sidecars,
    manifest.json (counts per clause, drops, tokens, cost), generate.json (the arguments) and, with
    --batch, batches.json while batches run. Started again with the same arguments, it replays
    answered calls from the response cache and appends only the rows that are missing.
    """
    n = _count(n)
    _models(teacher, student, judge)
    if not 0 <= margin <= 9:
        _fail(f"--margin must be from 0 to 9, not {margin}")
    prices = _prices(prices_path)
    spec = _load_spec(spec_path)
    options = DataOptions(n=n, teacher=teacher, student=student, judge=judge, seed=seed,
                          formats=tuple(dict.fromkeys(formats)) or DEFAULT_FORMATS,
                          keep_system_prompt=keep_system_prompt, inoculate=inoculate, introspection=introspection,
                          margin=margin, dedup_threshold=dedup_threshold, temperature=temperature,
                          max_tokens=max_tokens, judge_max_tokens=judge_max_tokens,
                          window=BATCH_WINDOW if batch else 4 * concurrency)
    if inoculate and not (spec.training.inoculation or "").strip():
        _fail(f"{spec_path}: spec {spec.id!r} sets no training.inoculation, so --inoculate has nothing to add")
    _prepare(out_dir, options.info(spec), overwrite, (MANIFEST_FILE, BATCHES_FILE))
    cache = _cache(cache_path, no_cache, batch)
    run_options = _run_options(tuple(dict.fromkeys((teacher, options.rejected_model))), options.judge_model,
                               concurrency, rpm, tpm, timeout, retries, base_url)
    lines = StageLines(sys.stderr, not quiet and sys.stderr.isatty(), (*STAGES, "rows"),
                       {"ideation": "calls", "rows": "rows"})
    progress = StageProgress(on_change=lines)
    caller = Caller(run_options, cache=cache, out_dir=out_dir, batch=batch, poll=PollPolicy(initial=poll_seconds),
                    on_batch=lines.batch)
    generator = DataGenerator(spec, options, caller, out_dir, progress)

    async def run() -> dict:
        try:
            await caller.open()
            return await generator.run()
        finally:
            await caller.close()

    try:
        manifest = asyncio.run(run())
    except KeyboardInterrupt:
        lines.finish(progress)
        _interrupted(f"{progress['rows'].done} rows saved in {out_dir}")
    except RunAborted as err:
        lines.finish(progress)
        _fail(f"{err} (fix it and run the same command again; saved rows are kept)")
    except OSError as err:
        _fail(f"cannot write {err.filename or out_dir}: {err.strerror or err}")
    finally:
        if cache is not None:
            cache.close()
    lines.finish(progress)
    manifest = generator.manifest(prices, batch=batch)
    try:
        write_manifest(out_dir, manifest)
    except OSError as err:
        _fail(f"cannot write {err.filename or out_dir}: {err.strerror or err}")
    usage = caller.usage
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
        sys.exit(1)


@generate.command("evals")
@click.argument("spec_path", type=click.Path(path_type=Path), metavar="SPEC")
@click.option("-m", "--model", required=True, metavar="PROVIDER:MODEL", help="The model that writes the cases.")
@click.option("-n", "n", type=int, metavar="N", help="New cases to generate.")
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path), required=True, metavar="DIR",
              help="Output directory: evals.jsonl and manifest.json.")
@click.option("--dedup-threshold", type=click.FloatRange(0, 1, min_open=True), default=DEFAULT_THRESHOLD,
              show_default=True, help="Word-bigram Jaccard similarity at which two cases are near-duplicates.")
@_shared_options
def evals(spec_path: Path, model: str, n: int | None, out_dir: Path, dedup_threshold: float, **shared) -> None:
    """Generate N new eval cases for SPEC with a model: probes per clause, pressure scripts per drift risk.

    Cases that nearly repeat one `charter build` writes, or each other, are dropped. Run them with
    `charter run DIR/evals.jsonl --spec SPEC`.
    """
    n = _count(n)
    _models(model)
    prices = _prices(shared["prices_path"])
    spec = _load_spec(spec_path)
    batch = shared["batch"]
    options = EvalOptions(n=n, model=model, seed=shared["seed"], temperature=shared["temperature"],
                          max_tokens=max(shared["max_tokens"], 2048), dedup_threshold=dedup_threshold,
                          window=BATCH_WINDOW if batch else 4 * shared["concurrency"])
    _prepare(out_dir, options.info(spec), shared["overwrite"], (MANIFEST_FILE, BATCHES_FILE))
    cache = _cache(shared["cache_path"], shared["no_cache"], batch)
    run_options = _run_options((model,), model, shared["concurrency"], shared["rpm"], shared["tpm"],
                               shared["timeout"], shared["retries"], shared["base_url"])
    caller = Caller(run_options, cache=cache, out_dir=out_dir, batch=batch,
                    poll=PollPolicy(initial=shared["poll_seconds"]))
    generator = EvalGenerator(spec, options, caller)

    async def run() -> list[dict]:
        try:
            await caller.open()
            return await generator.run()
        finally:
            await caller.close()

    try:
        cases = asyncio.run(run())
    except KeyboardInterrupt:
        _interrupted("answered calls are cached")
    except RunAborted as err:
        _fail(f"{err} (fix it and run the same command again)")
    finally:
        if cache is not None:
            cache.close()
    manifest = generator.manifest(prices, batch=batch)
    try:
        write_text_atomic(out_dir / EVALS_FILE, cases_to_jsonl(cases))
        write_text_atomic(out_dir / MANIFEST_FILE, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    except OSError as err:
        _fail(f"cannot write {err.filename or out_dir}: {err.strerror or err}")
    drops = ", ".join(f"{reason} {count}" for reason, count in manifest["drops"].items()) or "none"
    click.echo(f"{spec.id}: {len(cases)} of {n} new eval cases -> {out_dir / EVALS_FILE} (dropped: {drops}); "
               f"run them with: charter run {out_dir / EVALS_FILE} --spec {spec_path} -m MODEL --judge JUDGE")
    if len(cases) < n:
        click.echo(f"charter: warning: {n - len(cases)} cases short after {generator.rounds} rounds", err=True)
    if manifest["drops"].get("call-failed"):
        click.echo("charter: some calls failed after retries; run the same command again to retry them", err=True)
        sys.exit(1)

