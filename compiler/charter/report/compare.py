"""`charter compare RUN_A RUN_B`: what changed between two runs of the same spec, per model and clause.

RUN_A is the reference (say, main), RUN_B the candidate (the pull request). A score change counts
as a regression or an improvement only when a paired test over the cases both runs graded says it
is unlikely to be noise: the paired bootstrap of the mean per-case difference (95 % interval, see
:mod:`charter.stats`) must exclude zero, and the change must be at least ``threshold`` points on
the judge's 1-10 scale (default 0: significance alone decides). Judge scores of the same replies
wobble from run to run, and a handful of cases moving proves little; the interval says how much.
Pass-rate deltas and cases that newly fail are listed beside the scores; they inform, and gate CI
only through the scores they move.

CI gates (exit codes): 0 when no gate tripped, 1 when one did, 2 for bad input.
- ``fail_under``: every model of RUN_B must have an overall score of at least this (a model with
  no graded case fails it).
- ``fail_on_regression``: no overall or per-clause score of a model in both runs may show a
  regression (significant under the paired test, and at least ``threshold`` points).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from ..stats import PairedTest, paired_test
from .markdown import md_escape
from .runs import (
    Run, RunDirError, fmt_delta, fmt_pct, fmt_score, mean_score, merged_status, samples_by_case,
)

DEFAULT_THRESHOLD = 0.0
OVERALL = "overall"


class CompareError(RunDirError):
    """Two runs that cannot be compared (different specs); one line."""


@dataclass(frozen=True)
class ScoreDelta:
    """One model's overall (``ref`` = "overall") or per-clause score in both runs."""

    model: str
    ref: str
    before: float | None
    after: float | None
    pass_rate_before: float | None
    pass_rate_after: float | None
    test: PairedTest | None = None  # over the cases both runs graded; None when none were

    @property
    def delta(self) -> float | None:
        return None if self.before is None or self.after is None else round(self.after - self.before, 6)

    @property
    def pass_rate_delta(self) -> float | None:
        if self.pass_rate_before is None or self.pass_rate_after is None:
            return None
        return round(self.pass_rate_after - self.pass_rate_before, 6)


@dataclass(frozen=True)
class CaseChange:
    """A character case whose pass/fail verdict changed between the runs, for one model."""

    model: str
    case_id: str
    before: str  # pass, fail, error, ungraded, or "missing" when the case did not run
    after: str
    score_before: float | None
    score_after: float | None


@dataclass(frozen=True)
class Comparison:
    spec_id: str
    run_a: str
    run_b: str
    threshold: float
    case_set_changed: bool
    models: tuple[str, ...]            # in both runs, in RUN_B's order
    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]
    scores: tuple[ScoreDelta, ...]     # per model: overall first, then clauses sorted by ref
    newly_failing: tuple[CaseChange, ...]
    newly_passing: tuple[CaseChange, ...]
    after_scores: dict[str, float | None] = field(default_factory=dict)  # RUN_B's overall score per model
    flip_rates: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # model: (A, B)
    judges: tuple[str, str] = ("", "")  # judge model of RUN_A and RUN_B

    def _moved(self, d: ScoreDelta, direction: str) -> bool:
        return (d.test is not None and d.test.direction == direction and d.test.mean_difference is not None
                and abs(d.test.mean_difference) >= self.threshold)

    @property
    def regressions(self) -> list[ScoreDelta]:
        return [d for d in self.scores if self._moved(d, "regression")]

    @property
    def improvements(self) -> list[ScoreDelta]:
        return [d for d in self.scores if self._moved(d, "improvement")]

    def to_dict(self) -> dict:
        def score(d: ScoreDelta) -> dict:
            data = {k: v for k, v in asdict(d).items() if k != "test"}
            return {**data, "delta": d.delta, "pass_rate_delta": d.pass_rate_delta,
                    "test": d.test.to_dict() if d.test else None}
        return {
            "format": "charter.compare/1", "spec": self.spec_id, "run_a": self.run_a, "run_b": self.run_b,
            "threshold": self.threshold, "case_set_changed": self.case_set_changed,
            "judges": {"run_a": self.judges[0], "run_b": self.judges[1]}, "models": list(self.models),
            "only_in_a": list(self.only_in_a), "only_in_b": list(self.only_in_b),
            "overall": {m: self.after_scores.get(m) for m in self.models},
            "flip_rates": {m: {"before": a, "after": b} for m, (a, b) in self.flip_rates.items()},
            "regressions": [score(d) for d in self.regressions],
            "improvements": [score(d) for d in self.improvements],
            "scores": [score(d) for d in self.scores],
            "newly_failing": [asdict(c) for c in self.newly_failing],
            "newly_passing": [asdict(c) for c in self.newly_passing],
        }


@dataclass(frozen=True)
class GateResult:
    failures: tuple[str, ...]  # one line per tripped gate

    @property
    def exit_code(self) -> int:
        """1 when a gate tripped, else 0: what `charter compare` exits with, and its JSON output records."""
        return 1 if self.failures else 0


def compare_runs(a: Run, b: Run, *, threshold: float = DEFAULT_THRESHOLD) -> Comparison:
    """Compare RUN_B against RUN_A. CompareError when they are runs of different specs."""
    if a.spec_id != b.spec_id:
        raise CompareError(f"runs are of different specs: {a.path} ran '{a.spec_id}', {b.path} ran '{b.spec_id}'")
    if threshold < 0:
        raise CompareError(f"threshold must be 0 or more, got {threshold:g}")
    models_a, models_b = a.models, b.models
    both = tuple(m for m in models_b if m in models_a)
    scores: list[ScoreDelta] = []
    after_scores: dict[str, float | None] = {}
    flip_rates: dict[str, tuple[float | None, float | None]] = {}
    graded_a, graded_b = _graded(a), _graded(b)
    for model in both:
        sa, sb = a.summary["models"][model], b.summary["models"][model]
        after_scores[model] = sb.get("score")
        flip_rates[model] = ((sa.get("sycophancy") or {}).get("flip_rate"), (sb.get("sycophancy") or {}).get("flip_rate"))
        before, after = graded_a.get(model, {}), graded_b.get(model, {})
        shared = sorted(set(before) & set(after))
        scores.append(ScoreDelta(model, OVERALL, sa.get("score"), sb.get("score"), sa.get("pass_rate"),
                                 sb.get("pass_rate"), _paired(before, after, shared)))
        ca, cb = sa.get("clauses") or {}, sb.get("clauses") or {}
        for ref in sorted(set(ca) | set(cb)):
            x, y = ca.get(ref) or {}, cb.get(ref) or {}
            citing = [case_id for case_id in shared if ref in after[case_id][1] or ref in before[case_id][1]]
            scores.append(ScoreDelta(model, ref, x.get("score"), y.get("score"), x.get("pass_rate"),
                                     y.get("pass_rate"), _paired(before, after, citing)))
    newly_failing, newly_passing = _case_changes(a, b, both)
    digest_a = a.summary.get("spec", {}).get("digest")
    digest_b = b.summary.get("spec", {}).get("digest")
    return Comparison(
        spec_id=b.spec_id, run_a=str(a.path), run_b=str(b.path), threshold=threshold,
        case_set_changed=digest_a != digest_b, models=both,
        only_in_a=tuple(m for m in models_a if m not in models_b),
        only_in_b=tuple(m for m in models_b if m not in models_a),
        scores=tuple(scores), newly_failing=newly_failing, newly_passing=newly_passing, after_scores=after_scores,
        flip_rates=flip_rates, judges=(_judges(a), _judges(b)),
    )


def _judges(run: Run) -> str:
    """The run's judges, as one text (several with --judge A --judge B); ``judge`` is the first."""
    more = (run.summary.get("judges") or [])[1:]
    return ", ".join(str(j) for j in [run.summary.get("judge", ""), *more])


def _graded(run: Run) -> dict[str, dict[str, tuple[float, frozenset[str]]]]:
    """{model: {case id: (score, cited refs)}} over the run's graded character cases; a case run
    several times (``--samples``) pairs by its mean score over its samples."""
    out: dict[str, dict[str, tuple[float, frozenset[str]]]] = {}
    for (model, case_id), samples in samples_by_case(run.character_results()).items():
        score = mean_score(samples)
        if score is not None:
            out.setdefault(model, {})[case_id] = (float(score), frozenset(samples[-1].get("refs") or ()))
    return out


def _paired(before: dict, after: dict, case_ids: list[str]) -> PairedTest | None:
    if not case_ids:
        return None
    return paired_test([before[c][0] for c in case_ids], [after[c][0] for c in case_ids])


def _evidence(d: ScoreDelta) -> str:
    """The paired test in words: mean per-case change, its 95 % interval, the cases it rests on."""
    t = d.test
    if t is None or t.interval is None:
        return "no case graded in both runs"
    return (f"paired {t.mean_difference:+.2f}, 95% CI [{t.interval[0]:+.2f}, {t.interval[1]:+.2f}] "
            f"over {t.pairs} case{'s' if t.pairs != 1 else ''}")


def check_gates(comparison: Comparison, *, fail_under: float | None = None,
                fail_on_regression: bool = False) -> GateResult:
    """Apply the CI gates to a comparison: exit code 1 and one line per failure when any trips."""
    failures: list[str] = []
    if fail_under is not None:
        for model, score in comparison.after_scores.items():
            if score is None or score < fail_under:
                failures.append(f"{model}: score {fmt_score(score)} is under --fail-under {fail_under:g}")
        for model in comparison.only_in_b:
            failures.append(f"{model}: only in RUN_B, so --fail-under cannot be checked against it; "
                            "compare runs of the same models")
    if fail_on_regression:
        for d in comparison.regressions:
            failures.append(f"{d.model}: {d.ref} fell {fmt_score(d.before)} -> {fmt_score(d.after)} "
                            f"({_evidence(d)})")
    return GateResult(tuple(failures))


def _case_changes(a: Run, b: Run, models: tuple[str, ...]) -> tuple[tuple[CaseChange, ...], tuple[CaseChange, ...]]:
    before = samples_by_case(a.character_results())
    after = samples_by_case(b.character_results())
    order = {m: i for i, m in enumerate(models)}
    failing, passing = [], []
    for key in sorted(after, key=lambda k: (order.get(k[0], len(order)), k[1])):
        if key[0] not in order:
            continue
        now = merged_status(after[key])
        old = before.get(key)
        was = merged_status(old) if old else "missing"
        change = CaseChange(key[0], key[1], was, now, mean_score(old) if old else None, mean_score(after[key]))
        if was == "pass" and now != "pass":
            failing.append(change)
        elif was in ("fail", "error", "ungraded") and now == "pass":
            passing.append(change)
        elif was == "missing" and now == "fail":
            failing.append(change)
    return tuple(failing), tuple(passing)


# --- output -------------------------------------------------------------------------------------

def format_text(c: Comparison, gates: GateResult | None = None) -> str:
    lines = [f"compare {c.run_a} -> {c.run_b} (spec {c.spec_id}; a change counts when a paired bootstrap over "
             f"the shared cases excludes 0 at 95%{f' and it is at least {c.threshold:g} points' if c.threshold else ''})"]
    if c.case_set_changed:
        lines.append("note: the case set or prompts differ between the runs (spec digest changed)")
    if c.judges[0] != c.judges[1]:
        lines.append(f"note: different judges ({c.judges[0]} vs {c.judges[1]}): score changes mix model and judge")
    width = max([len(d.ref) for d in c.scores] + [len(OVERALL)])
    for model in c.models:
        overall = next(d for d in c.scores if d.model == model and d.ref == OVERALL)
        lines.append("")
        flips = c.flip_rates.get(model, (None, None))
        flip_text = "" if flips == (None, None) else f", sycophancy flip rate {fmt_pct(flips[0])} -> {fmt_pct(flips[1])}"
        lines.append(f"{model}: score {_change(overall)}, pass rate {_rate_change(overall)}{flip_text}")
        lines.append(f"  {overall.test.direction if overall.test else 'not tested'}: {_evidence(overall)}")
        for title, items in (("regressions", [d for d in c.regressions if d.model == model and d.ref != OVERALL]),
                             ("improvements", [d for d in c.improvements if d.model == model and d.ref != OVERALL])):
            if items:
                lines.append(f"  {title} ({len(items)}):")
                lines += [f"    {d.ref:<{width}}  {_change(d)}  pass rate {_rate_change(d)}; {_evidence(d)}"
                          for d in items]
        for title, changes in (("newly failing", [x for x in c.newly_failing if x.model == model]),
                               ("newly passing", [x for x in c.newly_passing if x.model == model])):
            if changes:
                lines.append(f"  {title} cases ({len(changes)}):")
                lines += [f"    {x.case_id}  {x.before} {fmt_score(x.score_before)} -> {x.after} "
                          f"{fmt_score(x.score_after)}" for x in changes]
    for label, models in (("only in RUN_A", c.only_in_a), ("only in RUN_B", c.only_in_b)):
        if models:
            lines.append(f"\nmodels {label} (not compared): {', '.join(models)}")
    lines.append("")
    lines.append(f"{len(c.regressions)} regression{'s' if len(c.regressions) != 1 else ''}, "
                 f"{len(c.improvements)} improvement{'s' if len(c.improvements) != 1 else ''}, "
                 f"{len(c.newly_failing)} newly failing case{'s' if len(c.newly_failing) != 1 else ''}")
    if gates is not None:
        lines += [f"FAIL {f}" for f in gates.failures] or ["gates passed"]
    return "\n".join(lines) + "\n"


def format_json(c: Comparison, gates: GateResult | None = None) -> str:
    data = c.to_dict()
    if gates is not None:
        data["gates"] = {"exit_code": gates.exit_code, "failures": list(gates.failures)}
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def format_markdown(c: Comparison, gates: GateResult | None = None) -> str:
    out = [f"## Charter compare: `{c.spec_id}`", ""]
    verdict = (f"{len(c.regressions)} regression{'s' if len(c.regressions) != 1 else ''} · "
               f"{len(c.improvements)} improvement{'s' if len(c.improvements) != 1 else ''} · "
               f"{len(c.newly_failing)} newly failing case{'s' if len(c.newly_failing) != 1 else ''} "
               f"(paired bootstrap over shared cases, 95%"
               f"{f', at least {c.threshold:g} points' if c.threshold else ''})")
    out += [verdict, ""]
    if c.case_set_changed:
        out += ["> The case set or prompts differ between the runs.", ""]
    if c.judges[0] != c.judges[1]:
        out += [f"> Different judges (`{c.judges[0]}` vs `{c.judges[1]}`): score changes mix model and judge.", ""]
    if gates is not None and gates.failures:
        out += ["**CI gate failed:**", ""] + [f"- {md_escape(f)}" for f in gates.failures] + [""]
    out += ["| Model | Score | Δ | Paired 95% CI | Verdict | Pass rate | Δ | Flip rate |",
            "| :--- | ---: | ---: | ---: | :--- | ---: | ---: | ---: |"]
    for d in (d for d in c.scores if d.ref == OVERALL):
        flips = c.flip_rates.get(d.model, (None, None))
        out.append(f"| `{d.model}` | {fmt_score(d.before)} → {fmt_score(d.after)} | {fmt_delta(d.delta)} | "
                   f"{_interval(d)} | {_verdict(c, d)} | "
                   f"{fmt_pct(d.pass_rate_before)} → {fmt_pct(d.pass_rate_after)} | {_points(d.pass_rate_delta)} | "
                   f"{fmt_pct(flips[0])} → {fmt_pct(flips[1])} |")
    out.append("")
    for title, items in (("Regressions", [d for d in c.regressions if d.ref != OVERALL]),
                         ("Improvements", [d for d in c.improvements if d.ref != OVERALL])):
        if items:
            out += [f"**{title}**", "", "| Model | Clause | Score | Δ | Paired 95% CI | Pass rate |",
                    "| :--- | :--- | ---: | ---: | ---: | ---: |"]
            out += [f"| `{d.model}` | `{d.ref}` | {fmt_score(d.before)} → {fmt_score(d.after)} | {fmt_delta(d.delta)} | "
                    f"{_interval(d)} | {fmt_pct(d.pass_rate_before)} → {fmt_pct(d.pass_rate_after)} |" for d in items]
            out.append("")
    if c.newly_failing:
        out += [f"<details><summary>Newly failing cases ({len(c.newly_failing)})</summary>", ""]
        out += [f"- `{x.case_id}` `{x.model}`: {x.before} {fmt_score(x.score_before)} → {x.after} "
                f"{fmt_score(x.score_after)}" for x in c.newly_failing]
        out += ["", "</details>", ""]
    for label, models in (("only in the reference run", c.only_in_a), ("only in the new run", c.only_in_b)):
        if models:
            out += [f"Models {label}, not compared: " + ", ".join(f"`{m}`" for m in models), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _interval(d: ScoreDelta) -> str:
    if d.test is None or d.test.interval is None:
        return "—"
    return f"[{d.test.interval[0]:+.2f}, {d.test.interval[1]:+.2f}] (n={d.test.pairs})"


def _verdict(c: Comparison, d: ScoreDelta) -> str:
    if d in c.regressions:
        return "regression"
    if d in c.improvements:
        return "improvement"
    return "noise" if d.test else "—"


def _change(d: ScoreDelta) -> str:
    return f"{fmt_score(d.before)} -> {fmt_score(d.after)} ({fmt_delta(d.delta)})"


def _rate_change(d: ScoreDelta) -> str:
    return f"{fmt_pct(d.pass_rate_before)} -> {fmt_pct(d.pass_rate_after)} ({_points(d.pass_rate_delta)})"


def _points(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.0f} pts"
