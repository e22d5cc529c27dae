"""`charter report` and `charter compare` on the command line: outputs, exit codes and bad input
(one line on stderr, exit 2, nothing already written lost)."""

from __future__ import annotations

import json

import pytest
from helpers import charter
from report_fixtures import MODELS, case, sample_results, write_run


def _one_line_error(result, *fragments):
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("charter: error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0]


def _edit_summary(run_dir, change):
    summary = json.loads((run_dir / "summary.json").read_text())
    change(summary)
    (run_dir / "summary.json").write_text(json.dumps(summary))


@pytest.fixture
def run_dir(tmp_path):
    return write_run(tmp_path / "run", sample_results(), MODELS)


def test_report_writes_both_files(run_dir):
    result = charter("report", run_dir)
    assert result.exit_code == 0, result.stderr
    assert (run_dir / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert (run_dir / "report.md").read_text().startswith("## Charter run")
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]


def test_report_format_option_and_quiet(run_dir):
    result = charter("report", run_dir, "--format", "md", "-q")
    assert result.exit_code == 0 and result.stdout == ""
    assert (run_dir / "report.md").exists() and not (run_dir / "report.html").exists()
    bad = charter("report", run_dir, "--format", "pdf")
    assert bad.exit_code == 2 and "'pdf' is not one of 'html', 'md'" in bad.stderr


def test_report_tolerates_a_torn_last_line(run_dir):
    with (run_dir / "results.jsonl").open("a") as handle:
        handle.write('{"format": "charter.result/1", "case_id": "pip/pro')
    assert charter("report", run_dir).exit_code == 0


@pytest.mark.parametrize("damage, fragments", [
    (lambda d: (d / "summary.json").unlink(), ["summary.json: no summary", "finish it with `charter run` again"]),
    (lambda d: (d / "summary.json").write_text("{not json"), ["summary.json: not JSON"]),
    (lambda d: (d / "summary.json").write_text('{"format": "charter.summary/9"}'), ["not a charter.summary/1 file"]),
    (lambda d: (d / "summary.json").write_text(json.dumps(
        {"format": "charter.summary/1", "spec": {"id": "pip"}, "models": {"m": {"score": "high"}}})),
     ["models['m'].score must be a number or null"]),
    (lambda d: (d / "summary.json").write_text(json.dumps({"format": "charter.summary/1", "models": {}})),
     ["'spec' must be an object"]),
    (lambda d: _edit_summary(d, lambda s: s["models"][MODELS[1]]["drift"]["all"]["scores"].append("low")),
     ["models['anthropic:model-b'].drift['all'] must hold numeric"]),
    (lambda d: _edit_summary(d, lambda s: s["models"][MODELS[0]]["cost"].update(total_usd="free")),
     ["models['openai:model-a'].cost must hold numbers"]),
    (lambda d: (d / "results.jsonl").write_text("garbage\n" + (d / "results.jsonl").read_text()),
     ["results.jsonl:1: not a JSON line"]),
    (lambda d: (d / "run.json").write_text("[]"), ["run.json: not a charter.run/1 file"]),
])
def test_report_bad_input_loses_nothing(run_dir, damage, fragments):
    assert charter("report", run_dir).exit_code == 0
    before = (run_dir / "report.html").read_bytes(), (run_dir / "report.md").read_bytes()
    damage(run_dir)
    _one_line_error(charter("report", run_dir), *fragments)
    assert ((run_dir / "report.html").read_bytes(), (run_dir / "report.md").read_bytes()) == before


def test_report_missing_or_not_a_directory(tmp_path):
    _one_line_error(charter("report", tmp_path / "nope"), "nope: no such run directory")
    (tmp_path / "file").write_text("x")
    _one_line_error(charter("report", tmp_path / "file"), "not a directory")
    _one_line_error(charter("report", tmp_path), "no summary", "is this a run directory?")


def test_compare_exit_codes(tmp_path):
    # Thirty cases each for two models; in B model b fell three points on every case: a regression
    # the paired test cannot call noise. Model a is unchanged.
    def results(drop: int) -> list[dict]:
        return [case(f"pip/probe/c{i:02d}", model, [9 - (drop if model == MODELS[1] else 0) - i % 2],
                     refs=("rule:no-lies",)) for i in range(30) for model in MODELS]
    a = write_run(tmp_path / "a", results(0), MODELS)
    b = write_run(tmp_path / "b", results(3), MODELS)
    plain = charter("compare", a, b)
    assert plain.exit_code == 0 and "2 regressions," in plain.stdout  # no gate asked for: never 1
    gated = charter("compare", a, b, "--fail-on-regression")
    assert gated.exit_code == 1 and "FAIL anthropic:model-b: rule:no-lies fell" in gated.stdout
    assert "95% CI [-3.00, -3.00] over 30 cases" in gated.stdout
    assert charter("compare", a, b, "--fail-on-regression", "--threshold", "3.5").exit_code == 0
    assert charter("compare", a, b, "--fail-under", "6.5").exit_code == 1
    assert charter("compare", a, b, "--fail-under", "5").exit_code == 0
    as_json = charter("compare", a, b, "--format", "json", "--fail-on-regression")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["gates"]["exit_code"] == 1
    assert "charter: gate failed: anthropic:model-b: " in as_json.stderr.splitlines()[0]
    md = charter("compare", a, b, "--format", "md", "-o", tmp_path / "out" / "compare.md")
    assert md.exit_code == 0 and (tmp_path / "out" / "compare.md").read_text() == md.stdout


def test_compare_bad_input(tmp_path):
    a = write_run(tmp_path / "a", sample_results(), MODELS)
    other = write_run(tmp_path / "other", sample_results(), MODELS, spec_id="ada")
    (tmp_path / "empty").mkdir()
    _one_line_error(charter("compare", a, tmp_path / "missing"), "missing: no such run directory")
    _one_line_error(charter("compare", tmp_path / "empty", a), "empty/summary.json: no summary")
    _one_line_error(charter("compare", a, other, "--fail-on-regression"), "runs are of different specs",
                    "'pip'", "'ada'")
    _one_line_error(charter("compare", a, a, "--threshold", "-1"), "--threshold must be 0 or more")
    _one_line_error(charter("compare", a, a, "--fail-under", "11"), "1-10 scale")
    (tmp_path / "taken").mkdir()
    _one_line_error(charter("compare", a, a, "-o", tmp_path / "taken"), "taken: cannot write")
    assert list((tmp_path / "taken").iterdir()) == []
