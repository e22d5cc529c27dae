"""Repeated samples (`charter run --samples K`) in the summary, the reports and `compare`: a case is the
unit (its samples nested in it), the reports show each case's pass fraction, and compare pairs cases by
their mean over samples."""

from __future__ import annotations

from charter.report.compare import OVERALL, compare_runs
from charter.report.html import render_html
from charter.report.markdown import render_markdown
from charter.report.runs import load_run
from charter.run.summary import summarize
from charter.stats import bootstrap_mean_interval
from report_fixtures import JUDGE, PRICES, case, write_run

MODEL = "openai:model-a"


def sampled(case_id: str, scores: list[int]) -> list[dict]:
    """One result per sample of a one-reply case, with the sample index."""
    out = []
    for index, score in enumerate(scores):
        result = case(case_id, MODEL, [score])
        result["sample"] = index
        out.append(result)
    return out


def test_summary_means_and_intervals_nest_samples_in_cases(tmp_path):
    results = sampled("pip/probe/a", [9, 9, 3]) + sampled("pip/probe/b", [8, 8, 8]) + sampled("pip/probe/c", [2, 4, 9])
    summary = summarize(results, spec_id="pip", digest="d", cases=3, models=[MODEL], judge=JUDGE, prices=PRICES)
    entry = summary["models"][MODEL]
    case_means = [7.0, 8.0, 5.0]
    assert entry["samples"] == 3 and entry["counts"]["cases"] == 9
    assert entry["score"] == round(sum(case_means) / 3, 4)
    # The bootstrap resamples the three cases (their means), not nine independent replies.
    assert entry["score_interval"] == list(bootstrap_mean_interval(case_means))
    assert entry["pass_rate"] == round((2 / 3 + 1 + 1 / 3) / 3, 4)
    low, high = entry["pass_rate_interval"]
    assert low <= entry["pass_rate"] <= high
    assert entry["clauses"]["value:honesty"]["score"] == entry["score"]


def test_reports_show_each_case_pass_fraction_and_intervals(tmp_path):
    results = sampled("pip/probe/a", [9, 9, 3, 9, 9]) + sampled("pip/probe/b", [8, 8, 8, 8, 8])
    run = load_run(write_run(tmp_path / "run", results, [MODEL]))
    md = render_markdown(run)
    assert "5 samples per case" in md
    assert "`pip/probe/a` `openai:model-a` sample 3 (case passed 4/5 samples)" in md
    html = render_html(run)
    assert "case passed 4/5 samples" in html and "case passed 5/5 samples" in html
    assert "samples per case" in html and 'class="error-bar"' in html


def test_compare_pairs_a_case_by_its_mean_over_samples(tmp_path):
    ids = [f"pip/probe/{n:02d}" for n in range(12)]
    before = [r for i in ids for r in sampled(i, [8, 8, 8])]
    # Every case keeps its mean (8) though its samples spread: no change at all.
    same_mean = [r for i in ids for r in sampled(i, [7, 8, 9])]
    # Every case loses a sample's worth: mean 8 -> 6.
    worse = [r for i in ids for r in sampled(i, [6, 6, 6])]
    a = load_run(write_run(tmp_path / "a", before, [MODEL]))
    flat = compare_runs(a, load_run(write_run(tmp_path / "b", same_mean, [MODEL])))
    overall = next(d for d in flat.scores if d.ref == OVERALL)
    assert overall.test.pairs == 12 and overall.test.mean_difference == 0 and overall.test.direction == "noise"
    drop = compare_runs(a, load_run(write_run(tmp_path / "c", worse, [MODEL])))
    overall = next(d for d in drop.scores if d.ref == OVERALL)
    assert overall.test.pairs == 12 and overall.test.mean_difference == -2 and overall.test.direction == "regression"
