"""The run directory's files: ``results.jsonl``, ``summary.json`` and ``run.json``, format version 1.

This module is the contract between ``charter run`` (which writes them) and ``charter report`` /
``charter compare`` (which read them). Readers should check ``format`` and accept any minor
addition: later versions of format 1 may add keys, never remove or re-type one.

RUN_DIR/results.jsonl
---------------------
One JSON object per line, one line per (case, model, variant), appended (and fsync'd) the moment
that case finishes, so the file is in completion order, not case order: sort by ``case_id`` for a
stable view. A run that was killed may end in a torn last line; :func:`read_results` skips it.
If a line for the same (case_id, model, variant) appears twice, the last one wins.

``format``      "charter.result/1".
``case_id``     The eval case id (``<spec>/<kind>/<item>``, see spec/evalcase.schema.json).
``model``       The model id as given to ``--model`` (``provider:model``).
``variant``     "character": run with the character's system prompt; "baseline": the same case
                with no system prompt at all (``--baseline``), to measure the lift.
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
                  ``judge_error``  null, or the one-line reason the verdict was unusable after one retry.
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
``usage``       ``{"model": Tally, "judge": Tally}``; a Tally is ``{"calls", "cached_calls",
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
``judge``      The judge model id. ``threshold``: the pass score (monitor PASS_THRESHOLD).
``cases``      Number of cases in the case set.
``models``     {model id: ModelSummary}, in ``--model`` order. A ModelSummary:
  ``score``       Overall character score: the mean case ``score`` over graded character cases (1-10).
  ``pass_rate``   Passed cases / cases with a verdict (``passed`` not null).
  ``counts``      ``{"cases", "done", "passed", "failed", "errored", "grading_errors"}`` (character
                  variant; ``grading_errors`` counts replies).
  ``clauses``     {ref: ClauseScore} for every value, trait, rule and tension cited by some case,
                  sorted by ref (the kind is the ref's prefix). ClauseScore: ``{"score"`` (mean score
                  of the cases citing it), ``"pass_rate"``, ``"cases"``, ``"verdicts": {"pass", "fail",
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
  ``usage``       ``{"model": Tally, "judge": Tally}`` summed over cases (both variants).
  ``cost``        ``{"model_usd", "judge_usd", "total_usd"}`` (null where a price is unknown),
                  ``"prices"``: ``{"model": Price|null, "judge": Price|null}`` as used, and
                  ``"notes"``: e.g. "unknown model openai:foo: cost not estimated". A Price is
                  ``{"input", "output", "cached_input", "source", "as_of"}`` in USD per 1M tokens.
  ``baseline``    null without ``--baseline``; else ``{"score", "pass_rate", "lift"}`` for the
                  bare model (lift = score - baseline score); per-clause lifts are in ``clauses``.
``calibration``  null, or ``{"accuracy", "path"}`` of the stored calibration for this judge and spec
                 (``path`` relative to the calibration store's root, the response cache's folder:
                 no absolute paths in run files).

RUN_DIR/run.json
----------------
What the run was started with, so a restart can check it is the same run: ``{"format":
"charter.run/1", "spec": {"id", "digest"}, "case_ids": [...], "models": [...], "judge",
"baseline", "params": {"temperature", "max_tokens", "seed"}}``. ``digest`` is the sha256 of the
case set and the compiled prompts, so any change to what would be sent is caught.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator, Literal, Optional, TypedDict

from ..diagnostics import CharterError

RESULT_FORMAT = "charter.result/1"
SUMMARY_FORMAT = "charter.summary/1"
RUN_FORMAT = "charter.run/1"

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
RUN_FILE = "run.json"

Variant = Literal["character", "baseline"]


class Tally(TypedDict):
    calls: int
    cached_calls: int
    retries: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int


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


class ClauseScore(TypedDict, total=False):
    score: Optional[float]
    pass_rate: Optional[float]
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
    counts: dict[str, int]
    clauses: dict[str, ClauseScore]
    kinds: dict[str, dict]
    drift: dict[str, Curve]
    sycophancy: dict
    errors: dict[str, int]
    usage: dict[str, Tally]
    cost: dict
    baseline: Optional[dict]


class Summary(TypedDict):
    format: str
    spec: dict
    judge: str
    threshold: int
    cases: int
    models: dict[str, ModelSummary]
    calibration: Optional[dict]


class ResultsFormatError(CharterError, ValueError):
    """A run directory file is not in a format this version of Charter reads."""


def empty_tally() -> Tally:
    return Tally(calls=0, cached_calls=0, retries=0, input_tokens=0, output_tokens=0, cache_read_tokens=0,
                 cache_write_tokens=0)


def add_tally(total: Tally, other: Tally) -> None:
    for key in total:
        total[key] += other.get(key, 0)


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
        yield record  # type: ignore[misc]


def read_results(run_dir: str | os.PathLike) -> list[CaseResult]:
    """Every result of a run directory, the last line per (case_id, model, variant), sorted by
    (model, variant, case_id) for a stable order."""
    latest: dict[tuple[str, str, str], CaseResult] = {}
    for record in iter_result_lines(Path(run_dir) / RESULTS_FILE):
        latest[(record["case_id"], record["model"], record["variant"])] = record
    return sorted(latest.values(), key=lambda r: (r["model"], r["variant"], r["case_id"]))


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
