"""summary.json from results.jsonl: scores per model, per clause and per kind, drift curves, flip rate, cost.

Every number is computed from the results alone (plus the run's model list and prices), so a
summary can be rebuilt at any time and always agrees with the results file. See
:mod:`charter.run.results` for what each field means.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from ..stats import bootstrap_mean_interval, wilson_interval
from ..targets.monitor import PASS_THRESHOLD
from ..providers.calls import Tally, add_tally, empty_tally
from ..providers.pricing import PriceTable, estimate_cost
from .results import (
    SUMMARY_FORMAT,
    CaseResult,
    ClauseScore,
    Curve,
    ModelSummary,
    Summary,
)

DIGITS = 4


def summarize(results: Iterable[CaseResult], *, spec_id: str, digest: str, cases: int, models: Iterable[str],
              judge: str, prices: PriceTable, calibration: dict | None = None) -> Summary:
    by_model: dict[str, dict[str, list[CaseResult]]] = defaultdict(lambda: {"character": [], "baseline": []})
    for result in results:
        by_model[result["model"]][result["variant"]].append(result)
    summaries = {}
    for model in models:
        variants = by_model.get(model, {"character": [], "baseline": []})
        summaries[model] = model_summary(model, variants["character"], variants["baseline"], judge, prices)
    return Summary(format=SUMMARY_FORMAT, spec={"id": spec_id, "digest": digest}, judge=judge,
                   threshold=PASS_THRESHOLD, cases=cases, models=summaries, calibration=calibration)


def model_summary(model: str, results: list[CaseResult], baseline: list[CaseResult], judge: str,
                  prices: PriceTable) -> ModelSummary:
    results = sorted(results, key=lambda r: r["case_id"])
    baseline = sorted(baseline, key=lambda r: r["case_id"])
    usage = {"model": empty_tally(), "judge": empty_tally()}
    for result in (*results, *baseline):
        add_tally(usage["model"], result["usage"]["model"])
        add_tally(usage["judge"], result["usage"]["judge"])

    clauses = _clause_scores(results)
    base_summary = None
    if baseline:
        base_clauses = _clause_scores(baseline)
        for ref, entry in clauses.items():
            base = base_clauses.get(ref, {}).get("score")
            entry["baseline_score"] = base
            entry["lift"] = _round(entry["score"] - base) if entry["score"] is not None and base is not None else None
        score, base_score = _mean_score(results), _mean_score(baseline)
        base_summary = {"score": base_score, "pass_rate": _pass_rate(baseline),
                        "lift": _round(score - base_score) if score is not None and base_score is not None else None}

    kinds: dict[str, dict] = {}
    for kind in sorted({r["kind"] for r in results}):
        of_kind = [r for r in results if r["kind"] == kind]
        kinds[kind] = {"score": _mean_score(of_kind), "pass_rate": _pass_rate(of_kind), "cases": len(of_kind)}

    model_errors = sum(1 for r in (*results, *baseline) for e in r["errors"] if e["stage"] == "model")
    judge_errors = sum(1 for r in (*results, *baseline) for e in r["errors"] if e["stage"] == "judge")
    return ModelSummary(
        score=_mean_score(results),
        pass_rate=_pass_rate(results),
        score_interval=_score_interval(results),
        pass_rate_interval=_pass_rate_interval(results),
        counts={
            "cases": len(results),
            "done": sum(1 for r in results if r["status"] == "ok"),
            "passed": sum(1 for r in results if r["passed"] is True),
            "failed": sum(1 for r in results if r["passed"] is False),
            "errored": sum(1 for r in results if r["status"] == "error"),
            "grading_errors": sum(1 for r in results for g in r["grades"] if g["judge_error"]),
        },
        clauses=clauses,
        kinds=kinds,
        drift=drift_curves(results),
        sycophancy=_sycophancy(results),
        errors={"model": model_errors, "judge": judge_errors},
        usage=usage,
        cost=_cost(model, judge, usage, prices),
        baseline=base_summary,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS)


def _mean(values: list[float]) -> float | None:
    return _round(sum(values) / len(values)) if values else None


def _mean_score(results: list[CaseResult]) -> float | None:
    return _mean([r["score"] for r in results if r["score"] is not None])


def _pass_rate(results: list[CaseResult]) -> float | None:
    verdicts = [r["passed"] for r in results if r["passed"] is not None]
    return _round(sum(verdicts) / len(verdicts)) if verdicts else None


def _score_interval(results: list[CaseResult]) -> list[float] | None:
    """95 % percentile-bootstrap interval of the mean case score, resampling cases."""
    interval = bootstrap_mean_interval([r["score"] for r in results if r["score"] is not None])
    return list(interval) if interval else None


def _pass_rate_interval(results: list[CaseResult]) -> list[float] | None:
    """95 % Wilson interval of the pass rate over cases with a verdict."""
    verdicts = [r["passed"] for r in results if r["passed"] is not None]
    interval = wilson_interval(sum(verdicts), len(verdicts))
    return list(interval) if interval else None


def _clause_scores(results: list[CaseResult]) -> dict[str, ClauseScore]:
    citing: dict[str, list[CaseResult]] = defaultdict(list)
    verdicts: dict[str, dict[str, int]] = defaultdict(lambda: {"pass": 0, "fail": 0, "n/a": 0})
    for result in results:
        for ref in result["refs"]:
            citing[ref].append(result)
        for grade in result["grades"]:
            for ref, verdict in grade["clauses"].items():
                verdicts[ref][verdict] = verdicts[ref].get(verdict, 0) + 1
    out: dict[str, ClauseScore] = {}
    for ref in sorted(set(citing) | set(verdicts)):
        cases = citing.get(ref, [])
        out[ref] = ClauseScore(score=_mean_score(cases), pass_rate=_pass_rate(cases), cases=len(cases),
                               score_interval=_score_interval(cases), pass_rate_interval=_pass_rate_interval(cases),
                               verdicts=dict(verdicts[ref]))
    return out


def drift_curves(results: list[CaseResult]) -> dict[str, Curve]:
    """Mean score by reply index over the multi-turn cases: all of them, per drift risk, self-talk."""
    groups: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        if len(result["grades"]) < 2:
            continue
        groups["all"].append(result)
        if result["drift_risk"]:
            groups[result["drift_risk"]].append(result)
    return {name: curve(members) for name, members in sorted(groups.items())}


def curve(results: list[CaseResult]) -> Curve:
    sums: list[float] = []
    counts: list[int] = []
    for result in results:
        for grade in result["grades"]:
            index = grade["reply"]
            while len(sums) <= index:
                sums.append(0.0)
                counts.append(0)
            if grade["score"] is not None:
                sums[index] += grade["score"]
                counts[index] += 1
    scores = [_round(s / c) if c else None for s, c in zip(sums, counts)]
    points = [(i, s) for i, s in enumerate(scores) if s is not None]
    first_below = next((i for i, s in points if s < PASS_THRESHOLD), None)
    return Curve(scores=scores, counts=counts, slope=_slope(points), first_below=first_below)


def _slope(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of score per reply."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    denominator = sum((x - mean_x) ** 2 for x, _ in points)
    return _round(sum((x - mean_x) * (y - mean_y) for x, y in points) / denominator)


def _sycophancy(results: list[CaseResult]) -> dict:
    eligible = [r for r in results if r["flipped"] is not None]
    flipped = sum(1 for r in eligible if r["flipped"])
    return {"cases": len(eligible), "flipped": flipped,
            "flip_rate": _round(flipped / len(eligible)) if eligible else None}


def _cost(model: str, judge: str, usage: dict[str, Tally], prices: PriceTable) -> dict:
    model_usd, model_price, model_note = estimate_cost(prices, model, usage["model"])
    judge_usd, judge_price, judge_note = estimate_cost(prices, judge, usage["judge"])
    total = None if model_usd is None or judge_usd is None else model_usd + judge_usd
    notes = sorted({note for note in (model_note, judge_note) if note})
    return {"model_usd": _usd(model_usd), "judge_usd": _usd(judge_usd), "total_usd": _usd(total),
            "prices": {"model": model_price.to_dict() if model_price else None,
                       "judge": judge_price.to_dict() if judge_price else None},
            "notes": notes}


def _usd(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
