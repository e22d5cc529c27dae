"""A finished run directory as the reports see it: summary, results and run.json, read once.

Reports never recompute scores: ``summary.json`` is the runner's word on them, and the results
only add what a summary cannot hold (transcripts, grades, error messages). See
``charter.run.results`` for the format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import CharterError
from ..targets.monitor import HARD_RULE_CAP
from ..run.results import (
    RESULTS_FILE, SUMMARY_FILE, CaseResult, ResultsFormatError, Summary, read_results, read_run_info, read_summary,
)


class RunDirError(CharterError, ValueError):
    """A run directory that cannot be reported on; the message is one line, naming the path."""

    exit_code = 2


@dataclass(frozen=True)
class Run:
    path: Path
    summary: Summary
    results: tuple[CaseResult, ...]
    info: dict | None

    @property
    def spec_id(self) -> str:
        return str(self.summary.get("spec", {}).get("id", ""))

    @property
    def models(self) -> list[str]:
        """Model ids in the order the run was given them (``--model`` order)."""
        return list(self.summary.get("models", {}))

    @property
    def threshold(self) -> float:
        return float(self.summary.get("threshold", 7))

    @property
    def has_baseline(self) -> bool:
        return any(m.get("baseline") for m in self.summary.get("models", {}).values())

    def character_results(self) -> list[CaseResult]:
        return [r for r in self.results if r.get("variant", "character") == "character"]


def load_run(path: str | Path, *, with_results: bool = True) -> Run:
    """Read a run directory; RunDirError with a one-line message when it is missing or unreadable."""
    path = Path(path)
    if not path.exists():
        raise RunDirError(f"{path}: no such run directory")
    if not path.is_dir():
        raise RunDirError(f"{path}: not a directory (give the run directory that `charter run -o` wrote)")
    if not (path / SUMMARY_FILE).exists():
        hint = " (the run has results but no summary yet: finish it with `charter run` again)" \
            if (path / RESULTS_FILE).exists() else " (is this a run directory? run `charter run -o DIR` first)"
        raise RunDirError(f"{path / SUMMARY_FILE}: no summary{hint}")
    try:
        summary = read_summary(path)
        results = tuple(read_results(path)) if with_results else ()
        info = read_run_info(path)
    except ResultsFormatError as err:
        raise RunDirError(str(err)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise RunDirError(f"{path}: cannot read: {err}") from None
    except (KeyError, TypeError) as err:
        raise RunDirError(f"{path / RESULTS_FILE}: a result line lacks a required field ({err})") from None
    problem = _summary_problem(summary)
    if problem:
        raise RunDirError(f"{path / SUMMARY_FILE}: {problem}")
    return Run(path=path, summary=summary, results=results, info=info)


def _summary_problem(summary: dict) -> str | None:
    """The first thing in a summary the reports cannot use, or None. Checked up front so a hand-edited
    or truncated summary gives one clear line, not an error half-way through rendering."""
    spec = summary.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("id"), str):
        return "'spec' must be an object with an 'id'"
    models = summary.get("models")
    if not isinstance(models, dict):
        return "'models' must be an object keyed by model id"
    for model, data in models.items():
        if not isinstance(data, dict):
            return f"models[{model!r}] must be an object"
        for key in ("score", "pass_rate"):
            if not _is_number_or_none(data.get(key)):
                return f"models[{model!r}].{key} must be a number or null"
        clauses = data.get("clauses", {})
        if not isinstance(clauses, dict) or not all(isinstance(c, dict) for c in clauses.values()):
            return f"models[{model!r}].clauses must map refs to objects"
        for ref, clause in clauses.items():
            for key in ("score", "pass_rate", "lift", "baseline_score"):
                if not _is_number_or_none(clause.get(key)):
                    return f"models[{model!r}].clauses[{ref!r}].{key} must be a number or null"
        for name, curve in (data.get("drift") or {}).items():
            if not isinstance(curve, dict) or not isinstance(curve.get("scores", []), list) \
                    or not all(_is_number_or_none(v) for v in curve.get("scores", [])) \
                    or not _is_number_or_none(curve.get("slope")) \
                    or not isinstance(curve.get("first_below", 0) or 0, int):
                return f"models[{model!r}].drift[{name!r}] must hold numeric scores, slope and first_below"
        for section, keys in (("sycophancy", ("flip_rate",)), ("baseline", ("score", "pass_rate", "lift")),
                              ("cost", ("model_usd", "judge_usd", "total_usd"))):
            part = data.get(section) or {}
            if not isinstance(part, dict) or not all(_is_number_or_none(part.get(k)) for k in keys):
                return f"models[{model!r}].{section} must hold numbers or nulls"
    return None


def _is_number_or_none(value: object) -> bool:
    if value is None:
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --- numbers as every report prints them ----------------------------------------------------------

DASH = "—"
CLAUSE_KINDS = (("value", "Values"), ("trait", "Traits"), ("tension", "Tensions"), ("rule", "Rules"))


def fmt_score(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}"


def fmt_pct(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.0f}%"


def fmt_delta(value: float | None, unit: str = "") -> str:
    return DASH if value is None else f"{value:+.1f}{unit}"


def fmt_usd(value: float | None) -> str:
    if value is None:
        return DASH
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def fmt_int(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


# The rows of the estimate-against-actual table: (label, estimate key, usage key).
ESTIMATE_ROWS = (("API calls", "calls", "calls"), ("Input tokens", "input_tokens", "input_tokens"),
                 ("From prompt cache", "cache_read_tokens", "cache_read_tokens"),
                 ("Output tokens", "output_tokens", "output_tokens"))


def estimate_vs_actual(run: Run) -> list[tuple[str, str, str]] | None:
    """(what, estimated before the run, actual) rows, as text, for a run whose run.json holds the
    estimate `charter run` made before calling anything; None for a run without one."""
    estimate = (run.info or {}).get("estimate")
    total = estimate.get("total") if isinstance(estimate, dict) else None
    if not isinstance(total, dict):
        return None
    actual = {key: 0 for _, _, key in ESTIMATE_ROWS}
    usd: float | None = 0.0
    for model in run.models:
        data = run.summary["models"][model]
        for role in ("model", "judge"):
            tally = (data.get("usage") or {}).get(role) or {}
            for key in actual:
                value = tally.get(key)
                actual[key] += value if isinstance(value, int) and not isinstance(value, bool) else 0
        cost = (data.get("cost") or {}).get("total_usd")
        usd = usd + cost if usd is not None and _is_number_or_none(cost) and cost is not None else None
    rows = []
    for label, estimated, key in ESTIMATE_ROWS:
        value = total.get(estimated)
        rows.append((label, "~" + fmt_int(value) if isinstance(value, int) else DASH, fmt_int(actual[key])))
    low, high = total.get("usd"), total.get("usd_max")
    cost = DASH if not _is_number_or_none(low) or low is None else "~" + fmt_usd(low) + (
        f" (at most {fmt_usd(high)})" if _is_number_or_none(high) and high is not None else "")
    rows.append(("Cost", cost, fmt_usd(usd)))
    return rows


def case_status(result: dict) -> str:
    """pass, fail, error (a model call failed for good) or ungraded (a grading error)."""
    if result.get("status") == "error":
        return "error"
    passed = result.get("passed")
    return "ungraded" if passed is None else "pass" if passed else "fail"


def samples_by_case(results) -> dict[tuple[str, str], list[dict]]:
    """{(model, case id): its results, one per sample, in sample order} (``--samples K`` gives K)."""
    out: dict[tuple[str, str], list[dict]] = {}
    for result in sorted(results, key=lambda r: r.get("sample", 0)):
        out.setdefault((result.get("model", ""), result.get("case_id", "")), []).append(result)
    return out


def merged_status(samples: list[dict]) -> str:
    """A case's status over its samples: pass when every sample passed, else fail when one failed,
    else error or ungraded."""
    statuses = {case_status(r) for r in samples}
    if statuses == {"pass"}:
        return "pass"
    for status in ("fail", "error", "ungraded"):
        if status in statuses:
            return status
    return "ungraded"


def mean_score(samples: list[dict]) -> float | None:
    """A case's mean score over its graded samples."""
    scores = [r["score"] for r in samples if r.get("score") is not None]
    return round(sum(scores) / len(scores), 4) if scores else None


def pass_fraction(samples: list[dict]) -> str:
    """"3/5": samples that passed, of the samples that got a verdict (errors and ungraded left out)."""
    graded = [r for r in samples if r.get("passed") is not None]
    return f"{sum(1 for r in graded if r['passed'])}/{len(graded)}"


def fmt_score_ci(value: float | None, interval: list | None, n: int | None = None) -> str:
    """"7.4 [6.9–7.8]" (and ", n=12" when given): a score is never shown without its uncertainty."""
    if value is None:
        return DASH
    text = fmt_score(value)
    if interval:
        text += f" [{fmt_score(interval[0])}–{fmt_score(interval[1])}]"
    return text + (f", n={n}" if n is not None else "")


def fmt_pct_ci(value: float | None, interval: list | None) -> str:
    """"80% [55–93%]"."""
    if value is None:
        return DASH
    if not interval:
        return fmt_pct(value)
    return f"{fmt_pct(value)} [{interval[0] * 100:.0f}–{interval[1] * 100:.0f}%]"


# --- colours and explanations, for display only (summary.json stays the runner's word) -------------

# A mean score hides the cases that fail, so colours follow the pass rate: a 7.5 mean beside a 39 %
# pass rate is a model that fails most cases, and is shown as one.
GOOD_PASS_RATE = 0.8
BAD_PASS_RATE = 0.5


def pass_rate_level(rate: float | None) -> str:
    """"good", "warn" or "bad" for a pass rate; "" when there is none."""
    if rate is None:
        return ""
    return "good" if rate >= GOOD_PASS_RATE else "warn" if rate >= BAD_PASS_RATE else "bad"


def check_text(check: dict) -> str:
    """A check as its author wrote it: the type and the value, unescaped (``not-regex \\bI promise\\b``)."""
    return f"{check.get('type', '')} {check.get('value', '')}"


def _num_text(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"


def explain_case(result: dict, threshold: float) -> tuple[str, list[str]]:
    """Why a case passed or failed: a headline and the reasons, reply by reply, in plain text.

    Mirrors how the runner decides (see charter.run.results): a reply passes when the judge's
    score reaches the pass mark, no hard rule is failed (a failed hard rule caps the score at
    HARD_RULE_CAP) and every check holds; a case passes when every reply passes. The case score is
    the mean of the replies' scores, so a case can fail with a mean above the pass mark, and two
    models can share a mean with different verdicts.
    """
    status = case_status(result)
    grades = result.get("grades") or []
    mark = _num_text(threshold)
    hard_rules = result.get("hard_rules")
    several = len(grades) > 1

    def name(grade: dict) -> str:
        return f"reply {grade.get('reply', 0) + 1} of {len(grades)}" if several else "the reply"

    if status == "error":
        errors = [e for e in result.get("errors") or [] if e.get("stage") == "model"]
        message = errors[-1].get("message", "") if errors else ""
        return ("Errored: a model call failed for good, so the case has no verdict.",
                [f"model call: {message}"] if message else [])
    if not grades:
        return "No verdict: no reply was graded.", []
    if status == "ungraded":
        return ("No verdict: a reply could not be graded, so the case counts in no pass rate.",
                [f"{name(g)}: {g.get('judge_error') or 'no usable verdict'}" for g in grades if g.get("passed") is None])
    rule = f"a score of at least {mark} (the pass mark)"
    rule += ", no hard rule failed" if hard_rules is None or hard_rules else ""
    checks = sum(len(g.get("checks") or []) for g in grades)
    rule += " and every check held" if checks else ""
    if status == "pass":
        who = f"all {len(grades)} replies" if several else "the reply"
        reasons = []
        if several and result.get("score") is not None:
            reasons.append(f"the case score {fmt_score(result['score'])} is the mean of the replies' scores")
        return f"Passed: {who} met every condition: {rule}.", reasons
    reasons = []
    for grade in grades:
        if grade.get("passed") is not False:
            continue
        score, violated = grade.get("score"), list(grade.get("violated") or [])
        hard = [ref for ref in violated if hard_rules and ref in hard_rules]
        if hard:
            reasons.append(f"{name(grade)} failed the hard rule{'s' if len(hard) > 1 else ''} {', '.join(hard)}: "
                           f"its score is capped at {HARD_RULE_CAP} and it fails whatever else it does well")
        elif score is not None and score < threshold:
            failed = f"; the judge marked {', '.join(violated)} failed" if violated else ""
            reasons.append(f"{name(grade)} scored {_num_text(score)}, below the pass mark {mark}{failed}")
        elif grade.get("judge_passed") is False:
            reasons.append(f"{name(grade)}: the judge failed it" + (f" ({', '.join(violated)})" if violated else ""))
        for check in grade.get("checks") or []:
            if not check.get("passed"):
                reasons.append(f"{name(grade)} failed the check {check.get('type', '')} “{check.get('value', '')}”"
                               + (f" ({check['description']})" if check.get("description") else ""))
    score = result.get("score")
    if score is not None and score >= threshold:
        reasons.append(f"the case score {fmt_score(score)} is the mean of the replies' scores: it can reach the "
                       "pass mark while one reply fails" if several else
                       f"the score {fmt_score(score)} reaches the pass mark, but a reply passes only when its "
                       "checks hold too")
    return f"Failed: a case passes only when every reply has {rule}.", reasons
