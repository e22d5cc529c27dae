"""Synthesis from Python that writes what `charter generate data` and `charter generate evals` write.

    from charter import load
    from charter.synth import DataOptions, generate_data

    result = generate_data(load("characters/tutor.yaml"), DataOptions(n=100, teacher="openai:gpt-4.1"), "data")
    result.manifest["rows"]

Each call checks the output directory holds nothing or the same command's output (``generate.json``
records the arguments), runs the pipeline (resuming: answered calls replay from the response cache
and only missing rows are added), and writes the files and ``manifest.json``. Both start their own
event loop (``asyncio.run``); from inside a running loop, call them in a worker thread.

Errors are CharterErrors: OutputError for an output directory that cannot be used or written,
CacheError, RunAborted when a model cannot be reached at all (a missing key, an unknown model).
Calls that fail after retries drop their items; the manifest counts them under ``drops``.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..io import OutputError, output_dir_lock, write_text_atomic
from ..providers.batch import BatchStatus, PollPolicy
from ..providers.retry import RetryPolicy
from ..providers.cache import ResponseCache, default_cache_path
from ..providers.pricing import PriceTable
from ..providers.calls import DEFAULT_RETRY, CallOptions
from ..spec.ir import Spec
from ..targets.evals import cases_to_jsonl
from .calls import BATCHES_FILE, Caller, CallerOptions, Usage
from .evalgen import EVALS_FILE, PROBES_FILE, EvalGenerator, EvalOptions, probes_yaml
from ..targets.card import CARD_FILE
from .pipeline import GENERATE_FILE, MANIFEST_FILE, DataGenerator, DataOptions, StageProgress, write_card, write_manifest

PathLike = str | os.PathLike


@dataclass(frozen=True)
class CallSettings:
    """How synthesis calls models: concurrency, rate limits, timeout, retries, endpoint, response cache."""

    concurrency: int = 16
    rpm: float | None = None
    tpm: float | None = None
    timeout: float = 120.0
    retry: RetryPolicy = DEFAULT_RETRY
    base_url: str | None = None  # for openai-compatible models
    cache_path: PathLike | None = None  # default: $XDG_CACHE_HOME/charter/responses.sqlite3
    use_cache: bool = True  # batches deliver their results through the cache: --batch needs it
    batch: bool = False  # each stage as one OpenAI Batch / Anthropic Message Batch per model
    poll: PollPolicy = PollPolicy()

    def caller_options(self, models: tuple[str, ...], judge: str) -> CallerOptions:
        return CallerOptions(models, judge, CallOptions.with_deadline(self.timeout, concurrency=self.concurrency,
                                                                      rpm=self.rpm, tpm=self.tpm,
                                                                      base_url=self.base_url, retry=self.retry))


@dataclass(frozen=True)
class Generated:
    """What a generate call wrote into ``out_dir``: its manifest, the calls it made this time and, for
    evals, the cases."""

    out_dir: Path
    manifest: dict
    usage: Usage
    cases: tuple[dict, ...] = ()


def prepare_output_dir(out_dir: PathLike, info: dict, overwrite: bool, outputs: tuple[str, ...]) -> None:
    """Checks DIR holds nothing or the same command's output, then records the command in it.

    With ``overwrite``, the .jsonl files and ``outputs`` of other output there are deleted first.
    Raises OutputError, naming the arguments that differ, for a directory holding other output.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: exists and is not a directory")
    record = out_dir / GENERATE_FILE
    previous = None
    if record.exists():
        try:
            previous = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise OutputError(f"{record}: unreadable ({' '.join(str(err).split())}); use another -o or "
                              "--overwrite") from None
    if previous is not None and previous != info and not overwrite:
        changed = sorted(k for k in set(previous) | set(info) if previous.get(k) != info.get(k))
        raise OutputError(f"{out_dir} holds output generated with other arguments ({', '.join(changed)}); resume it "
                          "with its own arguments, use another -o, or pass --overwrite to start over there")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if previous is None and not overwrite and any(out_dir.glob("*.jsonl")):
            raise OutputError(f"{out_dir} holds .jsonl files without {GENERATE_FILE}; use another -o or --overwrite")
        if overwrite:
            for path in out_dir.iterdir():
                if path.is_file() and (path.suffix == ".jsonl" or path.name in outputs):
                    path.unlink()
        write_text_atomic(record, json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    except OSError as err:
        raise OutputError.cannot_write(err, out_dir) from None


def _open_cache(settings: CallSettings) -> ResponseCache | None:
    return ResponseCache(settings.cache_path or default_cache_path()) if settings.use_cache else None


async def _generate(caller: Caller, generator):
    try:
        await caller.open()
        return await generator.run()
    finally:
        await caller.close()


def generate_data(spec: Spec, options: DataOptions, out_dir: PathLike, settings: CallSettings = CallSettings(), *,
                  prices: PriceTable | None = None, overwrite: bool = False,
                  progress: StageProgress | None = None,
                  on_batch: Callable[[BatchStatus], object] | None = None) -> Generated:
    """Generates ``options.n`` graded training rows for ``spec`` into ``out_dir``: the training files with
    their .meta.jsonl sidecars, README.md (a Hugging Face dataset card), manifest.json and generate.json
    (and batches.json while batches run).

    Fewer rows than asked is not an error here: ``manifest["rows"]`` and ``manifest["drops"]`` say
    how many and why (``drop_summary`` words it); the CLI turns too few into exit 1."""
    out_dir = Path(out_dir)
    # Held for the whole generation: two processes appending to the same files would duplicate rows.
    with output_dir_lock(out_dir):
        prepare_output_dir(out_dir, options.info(spec), overwrite, (MANIFEST_FILE, BATCHES_FILE, CARD_FILE))
        cache = _open_cache(settings)
        caller = Caller(settings.caller_options(tuple(dict.fromkeys((options.teacher, options.rejected_model))),
                                             options.judge_model),
                        cache=cache, out_dir=out_dir, batch=settings.batch, poll=settings.poll, on_batch=on_batch)
        generator = DataGenerator(spec, options, caller, out_dir, progress or StageProgress())
        try:
            asyncio.run(_generate(caller, generator))
        except OSError as err:
            raise OutputError.cannot_write(err, out_dir) from None
        finally:
            if cache is not None:
                cache.close()
        manifest = generator.manifest(prices, batch=settings.batch)
        try:
            write_manifest(out_dir, manifest)
            write_card(out_dir, spec, manifest)
        except OSError as err:
            raise OutputError.cannot_write(err, out_dir) from None
        return Generated(out_dir, manifest, caller.usage)


def generate_evals(spec: Spec, options: EvalOptions, out_dir: PathLike, settings: CallSettings = CallSettings(), *,
                   prices: PriceTable | None = None, overwrite: bool = False) -> Generated:
    """Generates ``options.n`` new eval cases for ``spec`` into ``out_dir``: evals.jsonl (run it with
    ``run_evals(load_plan(out_dir / "evals.jsonl", spec_path), ...)``), probes.yaml (the kept probes
    per clause, in the spec's ``probes:`` syntax, to paste into the spec), manifest.json and generate.json.

    Every case passes the realism judge (``options.judge_model``) that `generate data` uses; with
    ``options.scope`` "uncovered", only clauses no authored case covers get cases."""
    out_dir = Path(out_dir)
    with output_dir_lock(out_dir):
        prepare_output_dir(out_dir, options.info(spec), overwrite, (MANIFEST_FILE, BATCHES_FILE, PROBES_FILE))
        cache = _open_cache(settings)
        caller = Caller(settings.caller_options((options.model,), options.judge_model), cache=cache, out_dir=out_dir,
                        batch=settings.batch, poll=settings.poll)
        generator = EvalGenerator(spec, options, caller)
        try:
            cases = asyncio.run(_generate(caller, generator))
        finally:
            if cache is not None:
                cache.close()
        manifest = generator.manifest(prices, batch=settings.batch)
        try:
            write_text_atomic(out_dir / EVALS_FILE, cases_to_jsonl(cases))
            write_text_atomic(out_dir / PROBES_FILE, probes_yaml(spec, cases, options.model, options.judge_model))
            write_text_atomic(out_dir / MANIFEST_FILE, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        except OSError as err:
            raise OutputError.cannot_write(err, out_dir) from None
        return Generated(out_dir, manifest, caller.usage, tuple(cases))


__all__ = ["CallSettings", "Generated", "generate_data", "generate_evals", "prepare_output_dir"]
