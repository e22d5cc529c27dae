"""`run_evals` and `calibrate_judge` from Python write what `charter run` and `charter calibrate` write."""

from __future__ import annotations

import json

import pytest
from helpers import charter

from charter.io import OutputError
from charter.run import RunOptions, calibrate_judge, has_failures, run_evals, state_dir
from charter.run.results import read_results


def _results(run_dir):
    return sorted(json.dumps({k: v for k, v in r.items() if k != "usage"}, sort_keys=True)
                  for r in read_results(run_dir))


def _summary(run_dir) -> dict:
    """summary.json without token counts and cost: the fake server's prompt cache makes the second run's
    cache-read tokens differ."""
    summary = json.loads((run_dir / "summary.json").read_text())
    for entry in summary["models"].values():
        del entry["usage"], entry["cost"]
    return summary


def test_run_evals_writes_what_charter_run_writes(spec_file, server, env):
    result = charter("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "cli", "--no-cache")
    assert result.exit_code == 0, result.stderr
    summary = run_evals(spec_file, env / "api", RunOptions(models=("openai:tutor",), judge="openai:judge"),
                        use_cache=False)
    assert _summary(env / "api") == _summary(env / "cli")
    assert (env / "api" / "run.json").read_bytes() == (env / "cli" / "run.json").read_bytes()
    assert _results(env / "api") == _results(env / "cli")
    assert summary == json.loads((env / "api" / "summary.json").read_text())
    assert not has_failures(summary)
    # The run is one `charter report` reads.
    assert charter("report", env / "api", "-q").exit_code == 0


def test_run_evals_resumes_and_refuses_another_run(spec_file, server, env):
    options = RunOptions(models=("openai:tutor",), judge="openai:judge")
    run_evals(spec_file, env / "out", options, select=("probe",))
    calls = len(server.requests)
    run_evals(spec_file, env / "out", options, select=("probe",))
    assert len(server.requests) == calls  # nothing was missing
    with pytest.raises(OutputError, match="holds a run started with other models"):
        run_evals(spec_file, env / "out", RunOptions(models=("openai:other",), judge="openai:judge"),
                  select=("probe",))
    assert OutputError.exit_code == 2


def test_calibrate_judge_is_found_by_run_evals(spec_file, server, env):
    options = RunOptions(models=(), judge="openai:judge")
    record = calibrate_judge(spec_file, options, cache_path=env / "cache.sqlite3")
    assert record["path"].startswith(str(state_dir(env / "cache.sqlite3")))
    summary = run_evals(spec_file, env / "out", RunOptions(models=("openai:tutor",), judge="openai:judge"),
                        select=("probe",), cache_path=env / "cache.sqlite3")
    assert summary["calibration"]["accuracy"] == record["accuracy"]


def test_run_evals_checks_model_ids_before_writing(spec_file, env):
    from charter.providers import ConfigError

    with pytest.raises(ConfigError, match="invalid model id 'nope:x'"):
        run_evals(spec_file, env / "out", RunOptions(models=("nope:x",), judge="openai:judge"))
    assert not (env / "out").exists()
