"""charter.report.compare and report.md: deltas, gates and their output formats."""

from __future__ import annotations

import json

import pytest

from charter.report.compare import (
    OVERALL, CompareError, check_gates, compare_runs, format_json, format_markdown, format_text,
)
from charter.report.markdown import md_escape, render_markdown
from charter.report.runs import load_run
from report_fixtures import HOSTILE, MODELS, case, sample_results, write_run


@pytest.fixture
def two_runs(tmp_path):
    a = load_run(write_run(tmp_path / "a", sample_results(hostile=False), MODELS))
    # In B, model b gets the tension right and the truth probe wrong.
    b = load_run(write_run(tmp_path / "b", sample_results(model_b_scores={"truth": 5, "santa": 9}, hostile=False),
                           MODELS))
    return a, b


def _delta(comparison, model, ref):
    return next(d for d in comparison.scores if d.model == model and d.ref == ref)


def test_deltas_regressions_improvements_and_case_changes(two_runs):
    a, b = two_runs
    c = compare_runs(a, b)
    assert c.models == tuple(MODELS) and not c.only_in_a and not c.only_in_b and not c.case_set_changed
    no_lies = _delta(c, MODELS[1], "rule:no-lies")
    assert (no_lies.before, no_lies.after, no_lies.delta) == (8.0, 5.0, -3.0)
    assert no_lies.pass_rate_delta == -1.0
    # One case fell by 3 and another rose by 5: a handful of cases is no evidence, so the paired test
    # calls nothing (the statistics are tested with larger runs in test_compare_paired.py).
    assert no_lies.test.pairs == 1 and no_lies.test.direction == "noise"
    assert c.regressions == [] and c.improvements == []
    assert all(d.delta == 0 for d in c.scores if d.model == MODELS[0])
    assert [(x.model, x.case_id, x.before, x.after) for x in c.newly_failing] == [
        (MODELS[1], "pip/probe/truth", "pass", "fail")]
    assert c.newly_passing == ()  # santa scores 9 now but still fails its check


def test_threshold_must_not_be_negative(two_runs):
    a, b = two_runs
    with pytest.raises(CompareError, match="threshold"):
        compare_runs(a, b, threshold=-1)


def test_gates(two_runs):
    a, b = two_runs
    c = compare_runs(a, b)
    assert check_gates(c).exit_code == 0
    assert check_gates(c, fail_on_regression=True).exit_code == 0  # one case is not a regression
    under = check_gates(c, fail_under=7)
    assert under.exit_code == 1 and len(under.failures) == 1 and under.failures[0].startswith(MODELS[1])
    assert check_gates(c, fail_under=6).exit_code == 0
    assert check_gates(compare_runs(a, a), fail_on_regression=True, fail_under=6).exit_code == 0


def test_different_specs_and_changed_case_sets(tmp_path):
    a = load_run(write_run(tmp_path / "a", sample_results(), MODELS))
    other = load_run(write_run(tmp_path / "o", sample_results(), MODELS, spec_id="ada"))
    with pytest.raises(CompareError, match="different specs: .* ran 'pip', .* ran 'ada'"):
        compare_runs(a, other)
    changed = load_run(write_run(tmp_path / "c", sample_results(), MODELS, digest="e" * 64))
    assert compare_runs(a, changed).case_set_changed
    assert "case set or prompts differ" in format_text(compare_runs(a, changed))
    summary = json.loads((changed.path / "summary.json").read_text())
    summary["judge"] = "anthropic:other-judge"
    (changed.path / "summary.json").write_text(json.dumps(summary))
    other_judge = compare_runs(a, load_run(changed.path))
    assert other_judge.judges == ("openai:judge-1", "anthropic:other-judge")
    assert "note: different judges (openai:judge-1 vs anthropic:other-judge)" in format_text(other_judge)
    assert "Different judges" in format_markdown(other_judge)


def test_models_in_one_run_only(tmp_path):
    a = load_run(write_run(tmp_path / "a", sample_results(), MODELS))
    solo = [case("pip/probe/truth", "openai:new", [9], refs=("value:honesty",)),
            case("pip/probe/truth", MODELS[0], [9], refs=("rule:no-lies", "value:honesty"))]
    b = load_run(write_run(tmp_path / "b", solo, ["openai:new", MODELS[0]]))
    c = compare_runs(a, b)
    assert c.models == (MODELS[0],) and c.only_in_a == (MODELS[1],) and c.only_in_b == ("openai:new",)
    assert "models only in RUN_A (not compared): anthropic:model-b" in format_text(c)
    gates = check_gates(c, fail_under=5)
    assert gates.exit_code == 1 and "only in RUN_B" in gates.failures[0]


def test_output_formats(two_runs):
    a, b = two_runs
    c = compare_runs(a, b)
    gates = check_gates(c, fail_under=7)
    data = json.loads(format_json(c, gates))
    assert data["format"] == "charter.compare/1" and data["spec"] == "pip"
    assert data["gates"] == {"exit_code": 1, "failures": list(gates.failures)}
    no_lies = next(r for r in data["scores"] if r["model"] == MODELS[1] and r["ref"] == "rule:no-lies")
    assert no_lies["test"]["pairs"] == 1 and no_lies["test"]["direction"] == "noise"
    assert data["newly_failing"][0]["case_id"] == "pip/probe/truth"
    assert data["overall"][MODELS[0]] == pytest.approx(a.summary["models"][MODELS[0]]["score"])
    assert data["flip_rates"][MODELS[1]] == {"before": 1.0, "after": 1.0}
    assert "sycophancy flip rate 100% -> 100%" in format_text(c)
    text = format_text(c, gates)
    assert "FAIL anthropic:model-b" in text and "noise: paired" in text and text.endswith("\n")
    md = format_markdown(c, gates)
    assert "**CI gate failed:**" in md and "| Paired 95% CI | Verdict |" in md
    assert format_json(c) == format_json(compare_runs(a, b))  # deterministic
    assert {d.ref for d in c.scores if d.model == MODELS[0]} >= {OVERALL, "value:honesty"}


def test_markdown_report_is_compact_and_escaped(tmp_path):
    run = load_run(write_run(tmp_path / "run", sample_results(), MODELS))
    md = render_markdown(run)
    assert md.startswith("## Charter run: `pip`\n")
    # Bold follows the pass rate (33 %), not the mean score: a mean hides failing cases. Every score and
    # rate carries its 95 % interval, and the mean its n.
    assert "| `anthropic:model-b` | 6.0 [4.5–7.5], n=4 | **33% [6–79%]** | 1 | 2 | 1 | 100% | +2.1 | $0.0090 |" in md
    assert "<details><summary>Scores by clause" in md and "<details><summary>Cases not passing (4)" in md
    assert "below the pass mark from reply 2" in md
    for forbidden in ("<script", "<img", "<a ", "</textarea"):
        assert forbidden not in md
    # Every line of a table has the same number of cells: no model text split a row.
    for line in md.splitlines():
        if line.startswith("| "):
            assert line.replace("\\|", "").count("|") in (10, 4), line
    assert render_markdown(run) == md


def test_markdown_caps_the_clause_table(tmp_path):
    results = [case(f"pip/rule/r{i}-1", MODELS[0], [8], kind="rule", refs=(f"rule:r{i:03d}",)) for i in range(400)]
    md = render_markdown(load_run(write_run(tmp_path / "run", results, MODELS[:1])))
    assert md.count("| `rule:r") == 150 and "… and 250 more clauses (see report.html)" in md
    assert len(md) < 65_536


def test_md_escape():
    assert md_escape("a | b\n<script>`x`*y*") == "a \\| b &lt;script&gt;\\`x\\`\\*y\\*"
    escaped = md_escape(HOSTILE)
    assert "<" not in escaped and ">" not in escaped and "\n" not in escaped
