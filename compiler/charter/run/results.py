"""The run directory's files: ``results.jsonl``, ``summary.json`` and ``run.json``, format version 1.

This module is the contract between ``charter run`` (which writes them) and ``charter report`` /
``charter compare`` (which read them). Readers should check ``format`` and accept any minor
addition: later versions of format 1 may add keys, never remove or re-type one.

RUN_DIR/results.jsonl
---------------------
One JSON object per line, one line per (case, model, variant, sample), appended the moment that
case sample finishes (and fsync'd within a tenth of a second), so the file is in completion order,
not case order: sort by ``case_id`` for a stable view. A run that was killed may end in a torn last line; :func:`read_results`
skips it. If a line for the same (case_id, model, variant, sample) appears twice, the last one wins.

``format``      "charter.result/1".
``case_id``     The eval case id (``<spec>/<kind>/<item>``, see spec/evalcase.schema.json).
``model``       The model id as given to ``--model`` (``provider:model``).
``variant``     "character": run with the character's system prompt; "baseline": the same case
                with no system prompt at all (``--baseline``), to measure the lift.
``sample``      0-based index of this run of the case (``--samples K`` runs each case K times;
                added in format 1, older lines lack it and count as sample 0).
``kind``        The case kind (example, tension, probe, rule, trait, drift, self-talk).
``targets``     The case's target refs, in spec order; ``refs``: every cited ref, sorted.
``context``     The deployment context (null: context-free prompt).
``drift_risk``  The drift risk for ``drift`` cases, "self-talk" for the self-talk case, else null.
``status``      "ok": every reply was generated (grading errors are possible, see ``grades``);
                "error": a model call failed for good after retries; the transcript holds what
                was generated before it and ``errors`` says why. Cases with any error (model
                or grading) run again when the run is started again; their new line supersedes
                the old one.
``transcript``  The conversation as it happened, a list of ``{"role", "content", "generated",
                "instance"}``: role "user" or "assistant"; ``generated`` true for replies the model
                wrote (false for scripted turns); ``instance`` "A"/"B" for self-talk (the speaker,
                whose message the other instance received as a user turn), else null. For
                self-talk the transcript lists the opening (user) and then every reply (assistant).
``grades``      One object per generated reply, in order:
                  ``reply``        0-based index among the case's generated replies.
                  ``turn``         index into ``transcript`` of that reply.
                  ``score``        the judge's 1-10 score, or null on a grading error.
                  ``judge_passed`` the judge's pass (score >= threshold, no hard rule failed), or null.
                  ``clauses``      {ref: "pass"|"fail"|"n/a"} from the judge ({} on a grading error).
                  ``violated``     refs the judge marked failed, sorted.
                  ``reason``       the judge's one or two sentences ("" on a grading error).
                  ``checks``       the case's deterministic checks on this reply:
                                   ``{"type", "value", "passed", "description"}``.
                  ``passed``       judge passed and every check passed; null on a grading error.
                  ``judge_error``  null, or the one-line reason the verdict was unusable after one retry
                                   (with several judges, each failing judge's reason, joined by "; ").
                                   A verdict that names none of the clauses it was asked about (not
                                   even as n/a) is unusable.
                  ``judges``       each judge's own opinion, in ``--judge`` order: ``{"judge", "binding"
                                   ("json_schema" | "tool" | "prompt", null when no call succeeded),
                                   "score", "judge_passed", "clauses", "violated", "reason",
                                   "judge_error"}``. The grade's ``score`` is their mean, ``judge_passed``
                                   their majority (a tie fails), each clause the majority of pass/fail
                                   (a tie fails). The judge grades the case's targets and every hard
                                   rule (``--judge-scope targets``) or every clause (``all``); only
                                   those appear in ``clauses``. (Added in format 1; older lines lack it.)
                  ``holds_answer`` for a sycophancy case: whether the reply still matches the held
                                   answer's pattern (null for other cases).
``score``       Mean of the replies' judge scores (null when none was graded).
``passed``      Every reply passed (null when the case errored or any reply has a grading error).
``flipped``     Sycophancy cases only (else null): true when the reply to the hold turn kept the
                answer (pattern matched and the judge passed it) and a later pressure reply lost it
                (pattern no longer matched, or the judge failed it); false when it held; null when
                the first answer was already wrong or ungraded.
``errors``      ``[{"stage": "model"|"judge", "reply": int|null, "message": str}]``: model calls
                that failed after retries, and grading errors.
``usage``       ``{"model": Tally, "judge": Tally}`` (with several judges also ``"judges": {judge:
                Tally}``, ``judge`` being their sum); a Tally is ``{"calls", "cached_calls",
                "retries", "input_tokens", "output_tokens", "cache_read_tokens",
                "cache_write_tokens"}`` (``calls`` are API calls made, ``cached_calls`` answers from
                the response cache, which cost nothing and add no tokens).
``rubric``      The case's rubric, as the judge was given it (added in format 1; older lines lack it).
``hard_rules``  The refs of the hard rules the judge graded against, in spec order: a reply that
                fails one is capped at HARD_RULE_CAP and fails (added in format 1; older lines
                lack it).

RUN_DIR/summary.json
--------------------
Rewritten (atomically) at the end of every run from results.jsonl, so it always matches it.

``format``     "charter.summary/1".
``spec``       ``{"id", "digest"}``: the spec id and the digest of the case set run (see run.json).
``judge``      The (first) judge model id. ``threshold``: the pass score (monitor PASS_THRESHOLD).
``judges``     Every judge, ``--judge`` order (added in format 1).
``judge_binding``  {judge: "json_schema" | "tool" | "prompt" | null}: how its verdicts were bound
               (OpenAI ``response_format`` json_schema, Anthropic forced tool, or prose JSON for a
               server that refused the schema; "prompt" if any grade was, null when none said).
``cases``      Number of cases in the case set.
``models``     {model id: ModelSummary}, in ``--model`` order. A ModelSummary:
  ``score``       Overall character score: the mean over graded character cases of each case's
                  mean ``score`` over its samples (1-10).
  ``pass_rate``   The mean over cases with a verdict of each case's pass fraction (passed samples /
                  samples with a verdict); with one sample, passed cases / cases with a verdict.
  ``score_interval``      [low, high]: the 95 % percentile-bootstrap interval of ``score``,
                          resampling cases, each with its samples (2,000 resamples, fixed seed: the
                          same results give the same interval); null when nothing was graded.
  ``pass_rate_interval``  [low, high]: with one sample per case, the 95 % Wilson interval of
                          ``pass_rate``; with several, the bootstrap over cases of the case pass
                          fractions (a case's samples are not independent trials); null likewise.
  ``samples``     The most samples any case has (``--samples``; added in format 1).
  ``counts``      ``{"cases", "done", "passed", "failed", "errored", "grading_errors"}`` (character
                  variant; counted over case samples, so with ``--samples 3`` a case counts three
                  times; ``grading_errors`` counts replies).
  ``clauses``     {ref: ClauseScore} for every value, trait, rule and tension cited by some case,
                  sorted by ref (the kind is the ref's prefix). ClauseScore: ``{"score"`` (mean score
                  of the cases citing it), ``"pass_rate"``, ``"cases"``, ``"score_interval"``,
                  ``"pass_rate_interval"`` (as for the model), ``"verdicts": {"pass", "fail",
                  "n/a"}`` (the judge's per-clause verdicts over all graded replies), and with a
                  baseline ``"baseline_score"``, ``"lift"`` (score - baseline_score)``}``; null
                  numbers where nothing was graded.
  ``kinds``       {case kind: ``{"score", "pass_rate", "cases"}``}.
  ``drift``       {curve name: Curve} for the multi-turn cases: "all" (every case with 2+ generated
                  replies), each drift risk present ("sycophancy", ...), and "self-talk". A Curve:
                  ``{"scores": [mean score of reply i, or null], "counts": [graded replies at i],
                  "slope": least-squares slope of score per reply (null with < 2 points),
                  "first_below": first reply index whose mean is below threshold, or null}``.
  ``sycophancy``  ``{"cases": cases where the first answer was right, "flipped": n, "flip_rate":
                  flipped / cases or null}``.
  ``errors``      ``{"model": failed model calls, "judge": grading errors}``.
  ``errored_runs``  Case runs (every sample, both variants) with any error: what ``charter run
                  --allow-errors N`` counts (added in format 1).
  ``usage``       ``{"model": Tally, "judge": Tally}`` summed over cases (both variants).
  ``cost``        ``{"model_usd", "judge_usd", "total_usd"}`` (null where a price is unknown),
                  ``"prices"``: ``{"model": Price|null, "judge": Price|null}`` as used, and
                  ``"notes"``: e.g. "unknown model openai:foo: cost not estimated". A Price is
                  ``{"input", "output", "cached_input", "source", "as_of"}`` in USD per 1M tokens.
  ``baseline``    null without ``--baseline``; else ``{"score", "pass_rate", "lift"}`` for the
                  bare model (lift = score - baseline score); per-clause lifts are in ``clauses``.
  ``judges``      {judge: ``{"score", "score_interval", "pass_rate", "pass_rate_interval"}``}: each
                  judge's own scores of the character cases, as ``score`` etc. are computed from the
                  combined grades (added in format 1).
  ``agreement``   ``[{"judges": [A, B], "kappa", "items"}]`` for each pair of judges: Cohen's kappa of
                  their pass/fail per clause over the (reply, clause) items both graded pass or fail;
                  empty with one judge (added in format 1).
``calibration``  null, or ``{"accuracy", "path"}`` of the stored calibration for this judge and spec
                 (``path`` relative to the calibration store's root, the response cache's folder:
                 no absolute paths in run files).

RUN_DIR/run.json
----------------
What the run was started with, so a restart can check it is the same run: ``{"format":
"charter.run/1", "spec": {"id", "digest"}, "case_ids": [...], "models": [...], "judge", "judges",
"samples", "baseline", "params": {"temperature", "max_tokens", "judge_max_tokens", "seed",
"judge_scope"}, "estimate"}`` (``judges`` and ``samples`` added in format 1; missing means the one judge and 1). ``digest`` is the sha256 of the
case set and the compiled prompts, so any change to what would be sent is caught. ``estimate``
(added in format 1; older runs lack it) is what the whole run was expected to cost before any
call, as ``charter run --dry-run`` prints it: ``{"models": {model id: {"calls", "input_tokens",
"output_tokens", "max_output_tokens", "cache_read_tokens", "cache_write_tokens", "usd",
"usd_max"}}, "total": {the same, summed}, "batch_discount", "assumptions": [...], "notes": [...]}``
(see charter.run.estimate); it is not compared on a restart.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Iterator, Literal, Optional, TypedDict

from ..diagnostics import CharterError
from ..providers.calls import Tally

RESULT_FORMAT = "charter.result/1"
SUMMARY_FORMAT = "charter.summary/1"
RUN_FORMAT = "charter.run/1"

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
RUN_FILE = "run.json"

Variant = Literal["character", "baseline"]


class TranscriptTurn(TypedDict):
    role: Literal["user", "assistant"]
    content: str
    generated: bool
    instance: Optional[Literal["A", "B"]]


class CheckResult(TypedDict):
    type: str
    value: str
    passed: bool
    description: str


class Grade(TypedDict):
    reply: int
    turn: int
    score: Optional[int]
    judge_passed: Optional[bool]
    clauses: dict[str, str]
    violated: list[str]
    reason: str
    checks: list[CheckResult]
    passed: Optional[bool]
    judge_error: Optional[str]
    holds_answer: Optional[bool]
    judges: list[dict]  # added in format 1: older files lack it


class RunError(TypedDict):
    stage: Literal["model", "judge"]
    reply: Optional[int]
    message: str


class CaseResult(TypedDict):
    format: str
    case_id: str
    model: str
    variant: Variant
    kind: str
    targets: list[str]
    refs: list[str]
    context: Optional[str]
    drift_risk: Optional[str]
    status: Literal["ok", "error"]
    transcript: list[TranscriptTurn]
    grades: list[Grade]
    score: Optional[float]
    passed: Optional[bool]
    flipped: Optional[bool]
    errors: list[RunError]
    usage: dict[str, Tally]
    rubric: str
    hard_rules: list[str]
    sample: int  # added in format 1: older files lack it


class ClauseScore(TypedDict, total=False):
    score: Optional[float]
    pass_rate: Optional[float]
    score_interval: Optional[list[float]]
    pass_rate_interval: Optional[list[float]]
    cases: int
    verdicts: dict[str, int]
    baseline_score: Optional[float]
    lift: Optional[float]


class Curve(TypedDict):
    scores: list[Optional[float]]
    counts: list[int]
    slope: Optional[float]
    first_below: Optional[int]


class ModelSummary(TypedDict):
    score: Optional[float]
    pass_rate: Optional[float]
    score_interval: Optional[list[float]]
    pass_rate_interval: Optional[list[float]]
    counts: dict[str, int]
    clauses: dict[str, ClauseScore]
    kinds: dict[str, dict]
    drift: dict[str, Curve]
    sycophancy: dict
    errors: dict[str, int]
    usage: dict[str, Tally]
    cost: dict
    baseline: Optional[dict]
    samples: int  # added in format 1: older files lack it
    errored_runs: int  # added in format 1: older files lack it
    judges: dict[str, dict]  # added in format 1: older files lack it
    agreement: list[dict]  # added in format 1: older files lack it


class Summary(TypedDict):
    format: str
    spec: dict
    judge: str
    threshold: int
    cases: int
    models: dict[str, ModelSummary]
    calibration: Optional[dict]
    judges: list[str]  # added in format 1: older files lack it
    judge_binding: dict[str, Optional[str]]  # added in format 1: older files lack it


class ResultsFormatError(CharterError, ValueError):
    """A run directory file is not in a format this version of Charter reads."""

    exit_code = 2


def _major(fmt: object, expected: str) -> bool:
    return isinstance(fmt, str) and fmt.split("/")[0] == expected.split("/")[0] and fmt.split("/")[-1] == "1"


def iter_result_lines(path: str | os.PathLike) -> Iterator[CaseResult]:
    """The results of one results.jsonl in file order; a torn (unparseable) last line is skipped,
    an unparseable line elsewhere or an unknown format is a ResultsFormatError."""
    path = Path(path)
    if not path.exists():
        return
    with path.open("rb") as handle:
        lines = handle.read().split(b"\n")
    last = len(lines) - 1
    while last >= 0 and not lines[last].strip():
        last -= 1
    for number, raw in enumerate(lines[: last + 1], start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            if number == last + 1:
                return  # torn by a kill mid-write; the case is simply not done
            raise ResultsFormatError(f"{path}:{number}: not a JSON line") from None
        if not isinstance(record, dict) or not _major(record.get("format"), RESULT_FORMAT):
            raise ResultsFormatError(f"{path}:{number}: not a {RESULT_FORMAT} line")
        problem = result_problem(record)
        if problem:
            raise ResultsFormatError(f"{path}:{number}: {problem}")
        yield record  # type: ignore[misc]


def _number_or_none(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))


def _bool_or_none(value: object) -> bool:
    return value is None or isinstance(value, bool)


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def result_problem(record: dict) -> str | None:
    """The first field of a result line whose type the runner and the reports cannot use, or None.

    Checked as each line is read, so a hand-edited or corrupted line is one error naming its line,
    not a TypeError half-way through a summary or a report.
    """
    for key in ("case_id", "model"):
        if not isinstance(record.get(key), str):
            return f"{key!r} must be text"
    for key in ("variant", "kind", "status"):
        if key in record and not isinstance(record[key], str):
            return f"{key!r} must be text"
    if "sample" in record and not (isinstance(record["sample"], int) and not isinstance(record["sample"], bool)
                                   and record["sample"] >= 0):
        return "'sample' must be a whole number from 0"
    for key in ("context", "drift_risk"):
        if record.get(key) is not None and not isinstance(record[key], str):
            return f"{key!r} must be text or null"
    if not _number_or_none(record.get("score")):
        return "'score' must be a number or null"
    for key in ("passed", "flipped"):
        if not _bool_or_none(record.get(key)):
            return f"{key!r} must be true, false or null"
    for key in ("targets", "refs"):
        if key in record and not _strings(record[key]):
            return f"{key!r} must be a list of text"
    for key in ("transcript", "grades", "errors"):
        if key in record and not (isinstance(record[key], list) and all(isinstance(i, dict) for i in record[key])):
            return f"{key!r} must be a list of objects"
    for index, turn in enumerate(record.get("transcript", ())):
        if not isinstance(turn.get("content"), str) or not isinstance(turn.get("role"), str):
            return f"transcript[{index}] needs text 'role' and 'content'"
    for index, grade in enumerate(record.get("grades", ())):
        if not _number_or_none(grade.get("score")):
            return f"grades[{index}].score must be a number or null"
        for key in ("passed", "judge_passed", "holds_answer"):
            if not _bool_or_none(grade.get(key)):
                return f"grades[{index}].{key} must be true, false or null"
        for key in ("reply", "turn"):
            if key in grade and not (isinstance(grade[key], int) and not isinstance(grade[key], bool)):
                return f"grades[{index}].{key} must be a whole number"
        if "violated" in grade and not _strings(grade["violated"]):
            return f"grades[{index}].violated must be a list of text"
        for key in ("reason", "judge_error"):
            if grade.get(key) is not None and not isinstance(grade[key], str):
                return f"grades[{index}].{key} must be text"
        if "clauses" in grade and not isinstance(grade["clauses"], dict):
            return f"grades[{index}].clauses must be an object"
        if "checks" in grade and not (isinstance(grade["checks"], list)
                                      and all(isinstance(c, dict) for c in grade["checks"])):
            return f"grades[{index}].checks must be a list of objects"
    for index, error in enumerate(record.get("errors", ())):
        if not isinstance(error.get("message", ""), str):
            return f"errors[{index}].message must be text"
    if "usage" in record and not isinstance(record["usage"], dict):
        return "'usage' must be an object"
    return None


def read_results(run_dir: str | os.PathLike) -> list[CaseResult]:
    """Every result of a run directory, the last line per (case_id, model, variant, sample), sorted by
    (model, variant, case_id, sample) for a stable order."""
    latest: dict[tuple[str, str, str, int], CaseResult] = {}
    for record in iter_result_lines(Path(run_dir) / RESULTS_FILE):
        latest[(record["case_id"], record["model"], record["variant"], record.get("sample", 0))] = record
    return sorted(latest.values(), key=lambda r: (r["model"], r["variant"], r["case_id"], r.get("sample", 0)))


def read_summary(run_dir: str | os.PathLike) -> Summary:
    """summary.json of a run directory; ResultsFormatError when missing or not format 1."""
    path = Path(run_dir) / SUMMARY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsFormatError(f"{path}: no summary (is this a run directory? run `charter run` first)") from None
    except ValueError as err:
        raise ResultsFormatError(f"{path}: not JSON: {err}") from None
    if not isinstance(data, dict) or not _major(data.get("format"), SUMMARY_FORMAT):
        raise ResultsFormatError(f"{path}: not a {SUMMARY_FORMAT} file")
    return data  # type: ignore[return-value]


def read_run_info(run_dir: str | os.PathLike) -> dict | None:
    """run.json of a run directory, or None when the directory has none yet."""
    path = Path(run_dir) / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as err:
        raise ResultsFormatError(f"{path}: not JSON: {err}") from None
    if not isinstance(data, dict) or not _major(data.get("format"), RUN_FORMAT):
        raise ResultsFormatError(f"{path}: not a {RUN_FORMAT} file")
    return data
