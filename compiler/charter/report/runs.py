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


def case_status(result: dict) -> str:
    """pass, fail, error (a model call failed for good) or ungraded (a grading error)."""
    if result.get("status") == "error":
        return "error"
    passed = result.get("passed")
    return "ungraded" if passed is None else "pass" if passed else "fail"
