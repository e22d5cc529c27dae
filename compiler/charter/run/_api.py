"""Runs from Python that write what `charter run` and `charter calibrate` write.

    from charter.run import RunOptions, run_evals

    summary = run_evals("characters/tutor.yaml", "runs/a",
                        RunOptions(models=("openai:gpt-4.1-mini",), judge="openai:gpt-4.1"))

``run_evals`` prepares the run directory (refusing one that holds a run started with other
arguments, unless ``overwrite``), records ``run.json`` (with the run's cost estimate, see
:func:`charter.run.estimate.estimate_run`, which is also what ``charter run --dry-run`` prints), runs what ``results.jsonl`` lacks, and writes
``summary.json`` with the judge's calibration when one is stored for this spec and judge. The run
directory is one ``charter report`` and ``charter compare`` read. Both functions start their own
event loop (``asyncio.run``); from inside a running loop, call them in a worker thread.

Errors are CharterErrors: ConfigError for a malformed model id, SpecError for a bad spec, PlanError
for a bad cases file or selection, OutputError for a run directory that cannot be used, CacheError,
RunAborted when a model cannot be reached at all (a missing key, an unknown model); a call that
fails after retries is recorded in the case's result instead, and ``has_failures(summary)`` says
whether any did.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

from ..diagnostics import CharterError
from ..io import OutputError, output_dir_lock, write_text_atomic
from ..providers import ConfigError, parse_model_id
from ..spec.ir import Spec
from ..providers.cache import ResponseCache, default_cache_path
from .calibrate import calibrate, calibration_path, load_calibration, save_calibration
from .cases import Plan, load_plan
from ..providers.pricing import PriceTable
from .results import (
    RESULTS_FILE,
    RUN_FILE,
    RUN_FORMAT,
    SUMMARY_FILE,
    ResultsFormatError,
    Summary,
    read_results,
    read_run_info,
)
from ._batch import STATE_FILES, BatchAPI, BatchFiles, BatchRunner, check_batch_models
from .estimate import estimate_run
from .runner import Progress, Runner, RunOptions
from .summary import summarize

PathLike = str | os.PathLike

# What run.json records, and how a resumed run that differs is described.
_COMPARED = (("spec", "a different spec or case set (digest)"), ("case_ids", "a different case set"),
             ("models", "other models"), ("judge", "another judge"), ("judges", "other judges"),
             ("samples", "a different --samples"), ("baseline", "a different --baseline"),
             ("params", "other model parameters"))
# What a run.json written before a key existed meant by its absence.
_DEFAULTS = {"judges": lambda info: [info.get("judge")], "samples": lambda info: 1,
             "params": lambda info: info.get("params")}


# What `charter report` writes into a run directory (charter.report's HTML_REPORT and MARKDOWN_REPORT;
# named here because the runner comes before the report in the pipeline). A run that adds results
# or starts over deletes them: a report left beside newer results would describe a run that is gone.
REPORT_FILES = ("report.html", "report.md")


def state_dir(cache_path: PathLike | None = None) -> Path:
    """Where judge calibrations are kept: the response cache's folder."""
    return Path(cache_path or default_cache_path()).parent


def open_cache(cache_path: PathLike | None = None, use_cache: bool = True) -> ResponseCache | None:
    """The response cache at ``cache_path`` (default: $XDG_CACHE_HOME/charter/responses.sqlite3), or None."""
    return ResponseCache(cache_path or default_cache_path()) if use_cache else None


def run_info(plan: Plan, options: RunOptions) -> dict:
    """run.json: what a run was started with, so a resumed run can be checked against it."""
    return {"format": RUN_FORMAT, "spec": {"id": plan.spec.id, "digest": plan.digest()},
            "source": str(plan.source), "case_ids": [c["id"] for c in plan.cases],
            "models": list(options.models), "judge": options.judge, "judges": list(options.judges),
            "samples": options.samples, "baseline": options.baseline, "params": options.params()}


def prepare_run_dir(run_dir: PathLike, info: dict, overwrite: bool = False) -> None:
    """Checks ``run_dir`` is new or holds the same run, then writes its run.json.

    With ``overwrite``, results and summary of another run there are deleted first. Raises
    OutputError, naming what differs, for a directory holding another run.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise OutputError(f"{run_dir}: exists and is not a directory")
    try:
        previous = read_run_info(run_dir)
    except ResultsFormatError as err:
        raise OutputError(f"{err} (use another -o, or --overwrite to start over)") from None
    if previous is not None and not overwrite:
        for key, what in _COMPARED:
            before = previous[key] if key in previous else _DEFAULTS.get(key, lambda _: None)(previous)
            if before != info[key]:
                raise OutputError(f"{run_dir} holds a run started with {what}; resume it with its own arguments, "
                                  "use another -o, or pass --overwrite to start over there")
    if previous is None and (run_dir / RESULTS_FILE).exists() and not overwrite:
        raise OutputError(f"{run_dir}/{RESULTS_FILE} exists without {RUN_FILE}; use another -o or --overwrite")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if overwrite:
            for name in (RESULTS_FILE, SUMMARY_FILE, *REPORT_FILES, *STATE_FILES):
                (run_dir / name).unlink(missing_ok=True)
        write_text_atomic(run_dir / RUN_FILE, json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    except OSError as err:
        raise OutputError.cannot_write(err, run_dir) from None


def write_summary(plan: Plan, options: RunOptions, run_dir: PathLike, *, prices: PriceTable | None = None,
                  cache_path: PathLike | None = None, digest: str | None = None) -> Summary:
    """summary.json from the run's results for this plan and these models, with the stored calibration
    of this spec and judge (looked up beside the response cache at ``cache_path``). ``digest`` is the
    plan's, when already computed (it hashes every case)."""
    run_dir = Path(run_dir)
    root = state_dir(cache_path)
    calibration = load_calibration(root, plan.spec, options.judge)
    case_ids = {c["id"] for c in plan.cases}
    results = [r for r in read_results(run_dir) if r["case_id"] in case_ids and r["model"] in options.models]
    summary = summarize(results, spec_id=plan.spec.id, digest=digest or plan.digest(), cases=len(plan.cases),
                        models=options.models, judge=options.judge, judges=options.judges,
                        prices=prices or PriceTable(),
                        calibration={"accuracy": calibration["accuracy"],
                                     "path": Path(calibration["path"]).relative_to(root).as_posix()}
                        if calibration else None)
    try:
        write_text_atomic(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    except OSError as err:
        raise OutputError.cannot_write(err, run_dir) from None
    return summary


def run_evals(source: Plan | PathLike, run_dir: PathLike, options: RunOptions, *,
              spec_path: PathLike | None = None, select: tuple[str, ...] = (),
              cache_path: PathLike | None = None, use_cache: bool = True, prices: PriceTable | None = None,
              overwrite: bool = False, progress: Progress | None = None,
              batch: BatchAPI | BatchFiles | None = None) -> Summary:
    """Runs the eval cases of ``source`` against ``options.models``, graded by ``options.judge``, into
    ``run_dir`` (run.json, results.jsonl, summary.json), and returns the summary.

    ``source`` is a loaded Plan, a spec file, or a cases file (evals.jsonl) with ``spec_path``;
    ``select`` keeps the cases whose id contains one of the strings. Called again with the same
    arguments, only what is missing runs; ``progress`` is told after every finished case.

    ``batch`` sends the calls round by round (a turn of every case per round, see charter.run._batch):
    BatchAPI() through the providers' batch APIs (cost at the batch discount), BatchFiles(DIR) as
    files for one's own engine, raising RoundPending each time a round waits for its results.
    The results are those a synchronous run with the same replies writes.
    """
    for model_id in (*options.models, *options.judges):
        parse_model_id(model_id)  # ConfigError before anything is written
    if batch is not None:
        check_batch_models(options, batch)
        if not use_cache:
            raise ConfigError("batches deliver their answers through the response cache: it cannot be off")
        if isinstance(batch, BatchAPI):
            prices = (prices or PriceTable()).for_batches()
    plan = source if isinstance(source, Plan) else load_plan(source, spec_path, select)
    info = run_info(plan, options)
    # What the whole run was expected to cost, kept beside what it did cost (the report shows both);
    # a resumed run keeps the estimate made when it started.
    info["estimate"] = _started_estimate(run_dir, info) or estimate_run(plan, options, prices=prices)
    # Held from the check of run.json to the summary: a second run on the directory would repeat every call.
    with output_dir_lock(run_dir):
        prepare_run_dir(run_dir, info, overwrite)
        cache = open_cache(cache_path, use_cache)
        if batch is None:
            runner = Runner(plan, options, Path(run_dir), cache=cache, progress=progress)
        else:
            runner = BatchRunner(plan, options, Path(run_dir), cache=cache, mode=batch, progress=progress,
                                 overwrite=overwrite)
        try:
            asyncio.run(runner.run())
        finally:
            if cache is not None:
                cache.close()
            if runner.progress.done > runner.progress.skipped:  # results were added: the old report is stale
                for name in REPORT_FILES:
                    try:
                        (Path(run_dir) / name).unlink(missing_ok=True)
                    except OSError:
                        pass  # best effort: never hide the run's own outcome behind this
        return write_summary(plan, options, run_dir, prices=prices, cache_path=cache_path,
                             digest=info["spec"]["digest"])


def _started_estimate(run_dir: PathLike, info: dict) -> dict | None:
    """The estimate in run_dir's run.json when it records this same run, else None."""
    try:
        previous = read_run_info(run_dir)
    except (ResultsFormatError, OSError, ValueError):
        return None
    if previous is None or any(previous.get(key) != info[key] for key, _ in _COMPARED):
        return None
    estimate = previous.get("estimate")
    return estimate if isinstance(estimate, dict) else None


def has_failures(summary: Summary) -> bool:
    """Whether a case run of the summary's models had a failed model call or no usable verdict
    (running the same run again retries those)."""
    return any(entry["errors"]["model"] or entry["errors"]["judge"] for entry in summary["models"].values())


def errored_runs(summary: Summary) -> int:
    """Case runs (each sample of each case, both variants) of the summary's models that ended in an
    error: a model call failed after retries, or a reply got no usable verdict."""
    return sum(entry.get("errored_runs", entry["errors"]["model"] + entry["errors"]["judge"])
               for entry in summary["models"].values())


class GateError(CharterError, ValueError):
    """A --fail-under value that is neither a score nor a percentage."""

    exit_code = 2


class Gate:
    """``charter run --fail-under``: a model's mean score (1-10), or its pass rate when written as a
    percentage ("80%"), must be at least ``value``."""

    def __init__(self, text: str) -> None:
        raw = str(text).strip()
        self.rate = raw.endswith("%")
        try:
            number = float(raw[:-1] if self.rate else raw)
        except ValueError:
            raise GateError(f"{text!r} is neither a score (e.g. 7.5) nor a pass rate (e.g. 80%)") from None
        if self.rate and not 0 <= number <= 100:
            raise GateError(f"pass rate {text!r} is not between 0% and 100%")
        if not self.rate and not 1 <= number <= 10:
            raise GateError(f"score {text!r} is not between 1 and 10 (for a pass rate write e.g. 80%)")
        self.value = number / 100 if self.rate else number
        self.text = raw

    def failures(self, summary: Summary) -> list[str]:
        """One line per model under the gate (a model with nothing graded is under it)."""
        out = []
        for model, entry in summary["models"].items():
            if self.rate:
                rate = entry["pass_rate"]
                if rate is None or rate < self.value:
                    shown = "n/a" if rate is None else f"{rate:.1%}"
                    out.append(f"{model}: pass rate {shown} is under --fail-under {self.text}")
            else:
                score = entry["score"]
                if score is None or score < self.value:
                    shown = "n/a" if score is None else f"{score:.2f}"
                    out.append(f"{model}: mean score {shown} is under --fail-under {self.text}")
        return out


# "(after 6 attempts)" varies with when a call gave up, not with what went wrong.
_ATTEMPTS = re.compile(r" \(after \d+ attempts\)")


def common_errors(run_dir: PathLike, models: Iterable[str] | None = None, limit: int = 3) -> list[tuple[str, int]]:
    """The ``limit`` most frequent error messages of the run's results (of ``models``, when given),
    most frequent first, with how many times each occurred: what a run with errors prints at its end,
    so the cause is seen without opening results.jsonl."""
    wanted = None if models is None else set(models)
    counter: Counter[str] = Counter()
    for record in read_results(run_dir):
        if wanted is None or record["model"] in wanted:
            counter.update(_ATTEMPTS.sub("", error["message"]) for error in record["errors"])
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit]


def calibrate_judge(spec: Spec | PathLike, options: RunOptions, *, cache_path: PathLike | None = None,
                    use_cache: bool = True, prices: PriceTable | None = None,
                    output: PathLike | None = None) -> dict:
    """Grades the spec's authored good and bad replies with ``options.judge`` and stores the calibration
    where ``run_evals`` finds it (beside the response cache), and in ``output`` when given.

    Returns the calibration record with ``path``, the stored file. NothingToCalibrate when the spec
    has no authored examples.
    """
    parse_model_id(options.judge)  # ConfigError before the cache is opened
    if not isinstance(spec, Spec):
        spec = load_plan(spec).spec
    cache = open_cache(cache_path, use_cache)
    try:
        record = asyncio.run(calibrate(spec, options, cache=cache, prices=prices or PriceTable()))
    finally:
        if cache is not None:
            cache.close()
    stored = calibration_path(state_dir(cache_path), spec, options.judge)
    try:
        save_calibration(record, stored)
        if output is not None:
            save_calibration(record, Path(output))
    except OSError as err:
        raise OutputError.cannot_write(err, stored) from None
    return {**record, "path": str(stored)}


__all__ = ["Gate", "GateError", "calibrate_judge", "common_errors", "errored_runs", "has_failures", "open_cache",
           "prepare_run_dir", "run_evals", "run_info", "state_dir", "write_summary"]
