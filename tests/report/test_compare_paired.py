"""compare calls a change only when a paired test over shared cases says it is not noise."""

from __future__ import annotations

import json
import random

from charter.report.compare import OVERALL, check_gates, compare_runs, format_markdown, format_text
from charter.report.runs import load_run
from charter.providers.pricing import PriceTable
from charter.run.results import RESULTS_FILE, SUMMARY_FILE
from charter.run.summary import summarize
from report_fixtures import case

MODEL = "openai:model-a"
CASES = 60


def _run(path, scores: list[int]):
    results = [case(f"pip/probe/c{i:03d}", MODEL, [score], refs=("value:honesty", f"rule:r{i % 3}"))
               for i, score in enumerate(scores)]
    path.mkdir(parents=True)
    (path / RESULTS_FILE).write_text("".join(json.dumps(r) + "\n" for r in results))
    summary = summarize(results, spec_id="pip", digest="d" * 64, cases=len(results), models=[MODEL],
                        judge="openai:judge-1", prices=PriceTable())
    (path / SUMMARY_FILE).write_text(json.dumps(summary))
    return load_run(path)


def _scores(seed: int, shift: int, wobble: tuple[int, ...]) -> tuple[list[int], list[int]]:
    rng = random.Random(seed)
    before = [rng.choice([6, 7, 8, 9]) for _ in range(CASES)]
    after = [max(1, min(10, b + shift + rng.choice(wobble))) for b in before]
    return before, after


def test_a_small_wobble_is_noise(tmp_path):
    before, after = _scores(3, 0, (-1, 0, 0, 1))
    c = compare_runs(_run(tmp_path / "a", before), _run(tmp_path / "b", after))
    overall = next(d for d in c.scores if d.ref == OVERALL)
    assert overall.test.pairs == CASES and overall.test.direction == "noise"
    assert overall.test.interval[0] < 0 < overall.test.interval[1]
    assert c.regressions == [] and c.improvements == []
    assert check_gates(c, fail_on_regression=True).exit_code == 0
    assert "noise: paired" in format_text(c)


def test_a_large_drop_is_a_regression_with_its_interval(tmp_path):
    before, after = _scores(5, -2, (-1, 0, 1))
    c = compare_runs(_run(tmp_path / "a", before), _run(tmp_path / "b", after))
    assert OVERALL in [d.ref for d in c.regressions]
    overall = next(d for d in c.regressions if d.ref == OVERALL)
    assert overall.test.interval[1] < 0 and overall.test.p_value < 0.01
    gates = check_gates(c, fail_on_regression=True)
    assert gates.exit_code == 1
    assert any("95% CI [" in line and "over 60 cases" in line for line in gates.failures)
    assert "| regression |" in format_markdown(c)
    # A minimum effect size on top of significance: a 2-point drop is not 3 points.
    assert compare_runs(load_run(tmp_path / "a"), load_run(tmp_path / "b"), threshold=3).regressions == []


def test_too_few_shared_cases_prove_nothing(tmp_path):
    c = compare_runs(_run(tmp_path / "a", [9, 9]), _run(tmp_path / "b", [4, 5]))
    assert c.regressions == []  # two cases fell, but two cases are not evidence
