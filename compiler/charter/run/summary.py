"""summary.json from results.jsonl: scores per model, per clause and per kind, drift curves, flip rate, cost.

Every number is computed from the results alone (plus the run's model list and prices), so a
summary can be rebuilt at any time and always agrees with the results file. See
:mod:`charter.run.results` for what each field means.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from ..stats import bootstrap_mean_interval, cohen_kappa, wilson_interval
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
              judge: str, prices: PriceTable, calibration: dict | None = None,
              judges: Iterable[str] | None = None) -> Summary:
    judges = tuple(judges) if judges else (judge,)
    results = list(results)
    by_model: dict[str, dict[str, list[CaseResult]]] = defaultdict(lambda: {"character": [], "baseline": []})
    for result in results:
        by_model[result["model"]][result["variant"]].append(result)
    summaries = {}
    for model in models:
        variants = by_model.get(model, {"character": [], "baseline": []})
        summaries[model] = model_summary(model, variants["character"], variants["baseline"], judge, prices, judges)
    return Summary(format=SUMMARY_FORMAT, spec={"id": spec_id, "digest": digest}, judge=judge,
                   threshold=PASS_THRESHOLD, cases=cases, models=summaries, calibration=calibration,
                   judges=list(judges), judge_binding=_bindings(results, judges))


def model_summary(model: str, results: list[CaseResult], baseline: list[CaseResult], judge: str,
                  prices: PriceTable, judges: tuple[str, ...] | None = None) -> ModelSummary:
    judges = judges or (judge,)
    results = sorted(results, key=_order)
    baseline = sorted(baseline, key=_order)
    usage = {"model": empty_tally(), "judge": empty_tally()}
    by_judge: dict[str, Tally] = {}
    for result in (*results, *baseline):
        add_tally(usage["model"], result["usage"]["model"])
        add_tally(usage["judge"], result["usage"]["judge"])
        for name, tally in (result["usage"].get("judges") or {}).items():
            add_tally(by_judge.setdefault(name, empty_tally()), tally)

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
    cost = _cost(model, judge, usage, prices)
    if len(judges) > 1 and by_judge:
        cost = _cost_by_judge(model, judges, usage, by_judge, prices)
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
        errored_runs=sum(1 for r in (*results, *baseline) if r["errors"]),
        usage=usage,
        cost=cost,
        baseline=base_summary,
        samples=max((r.get("sample", 0) + 1 for r in results), default=0),
        judges={name: _judge_scores(results, name) for name in judges} if len(judges) > 1 else {},
        agreement=_agreement(results, judges),
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS)


def _mean(values: list[float]) -> float | None:
    return _round(sum(values) / len(values)) if values else None


def _order(result: CaseResult) -> tuple:
    return result["case_id"], result.get("sample", 0)


def _by_case(results: list[CaseResult], value) -> list[list]:
    """``value(result)`` of each result, grouped by case (samples of a case together), Nones dropped,
    cases with no value left out."""
    groups: dict[str, list] = defaultdict(list)
    for result in results:
        item = value(result)
        if item is not None:
            groups[result["case_id"]].append(item)
    return [groups[case_id] for case_id in sorted(groups)]


def _case_means(results: list[CaseResult], value=lambda r: r["score"]) -> list[float]:
    """Each case's mean of ``value`` over its samples: the unit the intervals resample."""
    return [sum(values) / len(values) for values in _by_case(results, value)]


def _mean_score(results: list[CaseResult]) -> float | None:
    return _mean(_case_means(results))


def _pass_rate(results: list[CaseResult]) -> float | None:
    return _mean(_case_means(results, _passed))


def _passed(result: CaseResult) -> float | None:
    return None if result["passed"] is None else float(result["passed"])


def _score_interval(results: list[CaseResult], value=lambda r: r["score"]) -> list[float] | None:
    """95 % percentile-bootstrap interval of the mean case score, resampling cases (a case's samples
    stay together: its mean over them is what is resampled)."""
    interval = bootstrap_mean_interval(_case_means(results, value))
    return list(interval) if interval else None


def _pass_rate_interval(results: list[CaseResult], value=_passed) -> list[float] | None:
    """95 % interval of the pass rate: Wilson over cases with one verdict each; with several samples
    of a case, the bootstrap of case pass fractions (its samples are not independent trials)."""
    groups = _by_case(results, value)
    if any(len(group) > 1 for group in groups):
        interval = bootstrap_mean_interval([sum(group) / len(group) for group in groups])
    else:
        interval = wilson_interval(int(sum(group[0] for group in groups)), len(groups))
    return list(interval) if interval else None


def _opinion(result: CaseResult, judge: str) -> tuple[float | None, float | None]:
    """A judge's own (score, passed) of a case: the mean of its reply scores and whether it passed
    every reply (the case's checks counted as in ``passed``); None where it did not grade them all."""
    scores, passes = [], []
    for grade in result["grades"]:
        mine = next((o for o in grade.get("judges") or () if o.get("judge") == judge), None)
        if mine is None or mine.get("score") is None:
            return None, None
        scores.append(mine["score"])
        passes.append(bool(mine["judge_passed"]) and all(c["passed"] for c in grade["checks"]))
    if not scores or result["status"] != "ok":
        return (sum(scores) / len(scores) if scores else None), None
    return sum(scores) / len(scores), float(all(passes))


def _judge_scores(results: list[CaseResult], judge: str) -> dict:
    """One judge's score and pass rate over the cases, with intervals, as for the combined grades."""
    def score(result):
        return _opinion(result, judge)[0]

    def passed(result):
        return _opinion(result, judge)[1]

    return {"score": _mean(_case_means(results, score)), "score_interval": _score_interval(results, score),
            "pass_rate": _mean(_case_means(results, passed)),
            "pass_rate_interval": _pass_rate_interval(results, passed)}


def _agreement(results: list[CaseResult], judges: tuple[str, ...]) -> list[dict]:
    """Cohen's kappa for each pair of judges on pass/fail per clause, over the (reply, clause) items
    both graded pass or fail (n/a says the clause had no occasion, not a verdict)."""
    out = []
    for i, first in enumerate(judges):
        for second in judges[i + 1:]:
            a: list[bool] = []
            b: list[bool] = []
            for result in results:
                for grade in result["grades"]:
                    opinions = {o.get("judge"): o for o in grade.get("judges") or ()}
                    x, y = opinions.get(first), opinions.get(second)
                    if not x or not y:
                        continue
                    for ref, verdict in (x.get("clauses") or {}).items():
                        other = (y.get("clauses") or {}).get(ref)
                        if verdict in ("pass", "fail") and other in ("pass", "fail"):
                            a.append(verdict == "pass")
                            b.append(other == "pass")
            out.append({"judges": [first, second], "kappa": cohen_kappa(a, b), "items": len(a)})
    return out


def _bindings(results: list[CaseResult], judges: tuple[str, ...]) -> dict[str, str | None]:
    """How each judge's verdicts were bound; "prompt" when any was (the weaker binding is the one to note)."""
    seen: dict[str, set[str]] = {judge: set() for judge in judges}
    for result in results:
        for grade in result["grades"]:
            for mine in grade.get("judges") or ():
                if mine.get("judge") in seen and mine.get("binding"):
                    seen[mine["judge"]].add(mine["binding"])
    return {judge: ("prompt" if "prompt" in kinds else min(kinds) if kinds else None)
            for judge, kinds in seen.items()}


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


def _cost_by_judge(model: str, judges: tuple[str, ...], usage: dict[str, Tally], by_judge: dict[str, Tally],
                   prices: PriceTable) -> dict:
    """``_cost`` with each judge's calls priced at that judge's price."""
    model_usd, model_price, model_note = estimate_cost(prices, model, usage["model"])
    judge_usd: float | None = 0.0
    notes = {model_note}
    judge_prices = {}
    for judge in judges:
        usd, price, note = estimate_cost(prices, judge, by_judge.get(judge, empty_tally()))
        notes.add(note)
        judge_prices[judge] = price.to_dict() if price else None
        judge_usd = None if usd is None or judge_usd is None else judge_usd + usd
    total = None if model_usd is None or judge_usd is None else model_usd + judge_usd
    return {"model_usd": _usd(model_usd), "judge_usd": _usd(judge_usd), "total_usd": _usd(total),
            "prices": {"model": model_price.to_dict() if model_price else None,
                       "judge": judge_prices.get(judges[0]), "judges": judge_prices},
            "notes": sorted(note for note in notes if note)}


def _usd(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
