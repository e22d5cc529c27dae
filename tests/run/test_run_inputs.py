"""Bad input to `charter run` / `charter calibrate`, calibration, prices, the cache and the results reader."""

from __future__ import annotations

import json

import pytest
from fakeserver import FakeServer, ModelScript
from helpers import charter
from run_helpers import reply_under_grading, verdict

from charter.providers import Response, Usage
from charter.providers.cache import ResponseCache, default_cache_path
from charter.providers.pricing import PriceTable, PriceTableError, estimate_cost
from charter.run.results import ResultsFormatError, read_results, read_summary

RUN = ("-m", "openai:tutor", "--judge", "openai:judge")


def _one_line_error(result, code=2):
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert result.stderr.startswith("charter: error: ") or ": error: " in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_missing_spec_file(env, server):
    _one_line_error(charter("run", "nope.yaml", *RUN, "-o", "out"))
    assert not (env / "out" / "results.jsonl").exists()


def test_invalid_spec_gives_positioned_diagnostics(env, server):
    (env / "bad.yaml").write_text("charter: 1\nid: Bad Id\n")
    result = charter("run", "bad.yaml", *RUN, "-o", "out")
    assert result.exit_code == 1 and "bad.yaml:" in result.stderr and server.calls() == 0


def test_malformed_model_id(spec_file, server):
    _one_line_error(charter("run", spec_file, "-m", "gpt-4", "--judge", "openai:judge", "-o", "out"))
    _one_line_error(charter("run", spec_file, "-m", "openai:a", "--judge", "nope:judge", "-o", "out"))
    _one_line_error(charter("run", spec_file, "-m", "openai:a", "-m", "openai:a", "--judge", "openai:j", "-o", "o"))
    assert server.calls() == 0


def test_cases_file_needs_its_spec_and_must_be_valid(spec_file, env, server):
    assert charter("build", spec_file, "-o", "build", "-q").exit_code == 0
    evals = env / "build" / "evals.jsonl"
    _one_line_error(charter("run", evals, *RUN, "-o", "out"))
    broken = env / "broken.jsonl"
    lines = evals.read_text().splitlines()
    broken.write_text(lines[0] + "\n" + lines[1][:40] + "\n")
    result = charter("run", broken, "--spec", spec_file, *RUN, "-o", "out")
    _one_line_error(result)
    assert "broken.jsonl:2:1: not a JSON line" in result.stderr
    case = json.loads(lines[0])
    case["kind"] = "nonsense"
    broken.write_text(json.dumps(case) + "\n")
    _one_line_error(charter("run", broken, "--spec", spec_file, *RUN, "-o", "out"))
    _one_line_error(charter("run", spec_file, *RUN, "-o", "out", "--case", "no-such-case"))
    assert server.calls() == 0


def test_a_run_directory_refuses_other_arguments_unless_overwritten(spec_file, env, server):
    assert charter("run", spec_file, *RUN, "-o", "out", "--case", "probe/refund").exit_code == 0
    before = (env / "out" / "results.jsonl").read_bytes()
    result = charter("run", spec_file, *RUN, "-o", "out", "--case", "probe/rule.")
    _one_line_error(result)
    assert "different case set" in result.stderr or "different spec" in result.stderr
    _one_line_error(charter("run", spec_file, "-m", "openai:other", "--judge", "openai:judge", "-o", "out",
                            "--case", "probe/refund"))
    spec_file.write_text(spec_file.read_text().replace("name: Ada", "name: Adah", 1))
    _one_line_error(charter("run", spec_file, *RUN, "-o", "out", "--case", "probe/refund"))
    assert (env / "out" / "results.jsonl").read_bytes() == before  # nothing lost
    again = charter("run", spec_file, *RUN, "-o", "out", "--case", "probe/refund", "--overwrite")
    assert again.exit_code == 0 and len(read_results(env / "out")) == 1


def test_output_that_is_a_file(spec_file, env, server):
    (env / "afile").write_text("x")
    _one_line_error(charter("run", spec_file, *RUN, "-o", "afile"))


def test_bad_options(spec_file, env, server):
    assert charter("run", spec_file, *RUN, "-o", "out", "--concurrency", "0").exit_code == 2
    assert charter("run", spec_file, *RUN, "-o", "out", "--rpm", "-1").exit_code == 2
    assert charter("run", spec_file, "--judge", "openai:judge", "-o", "out").exit_code == 2  # no --model
    (env / "prices.yaml").write_text("gpt-x: {input: cheap}\n")
    _one_line_error(charter("run", spec_file, *RUN, "-o", "out", "--prices", "prices.yaml"))
    _one_line_error(charter("run", spec_file, *RUN, "-o", "out", "--prices", "missing.yaml"))
    (env / "cachedir").mkdir()
    (env / "cachedir" / "notadb").write_text("this is not sqlite " * 100)
    _one_line_error(charter("run", spec_file, *RUN, "-o", "out", "--cache", env / "cachedir" / "notadb"))
    assert server.calls() == 0


def test_prices_table_and_overrides(tmp_path):
    table = PriceTable()
    assert table.lookup("openai:gpt-4.1-mini-2025-04-14") is table.lookup("openai:gpt-4.1-mini")
    assert table.lookup("openai:gpt-4.1-mini").input == 0.40
    usd, price, note = estimate_cost(table, "openai:gpt-4.1-mini",
                                     {"input_tokens": 1_000_000, "cache_read_tokens": 500_000,
                                      "cache_write_tokens": 0, "output_tokens": 100_000})
    assert usd == pytest.approx(0.5 * 0.40 + 0.5 * 0.10 + 0.1 * 1.60)
    assert estimate_cost(table, "openai:brand-new", {})[2] == \
        "unknown model openai:brand-new: cost not estimated (add it with --prices)"
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"brand-new": {"input": 1, "output": 2}, "openai-compatible:llama": {"input": 0,
                                                                                                  "output": 0}}))
    custom = table.with_overrides(path)
    assert custom.lookup("openai:brand-new").cached_input == 1.0
    assert custom.lookup("openai-compatible:llama").output == 0
    path.write_text("[1, 2]")
    with pytest.raises(PriceTableError):
        table.with_overrides(path)


def test_cost_in_the_summary(spec_file, env, server, monkeypatch):
    (env / "prices.yaml").write_text("tutor: {input: 1.0, output: 2.0}\n")
    assert charter("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out",
                   "--case", "probe/refund", "--prices", "prices.yaml").exit_code == 0
    cost = read_summary(env / "out")["models"]["openai:tutor"]["cost"]
    usage = read_summary(env / "out")["models"]["openai:tutor"]["usage"]["model"]
    assert usage["input_tokens"] > 0
    assert cost["model_usd"] == round((usage["input_tokens"] * 1.0 + usage["output_tokens"] * 2.0) / 1e6, 6)
    assert cost["judge_usd"] is None and cost["total_usd"] is None
    assert cost["notes"] == ["unknown model openai:judge: cost not estimated (add it with --prices)"]


def test_cache_round_trip_and_default_location(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "charter" / "responses.sqlite3"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_path().parts[-3:] == (".cache", "charter", "responses.sqlite3")
    cache = ResponseCache(tmp_path / "c.sqlite3")
    response = Response(text="hi", finish_reason="stop", usage=Usage(3, 1), latency=0.1, model="openai:x")
    assert cache.get("k") is None
    cache.put("k", response)
    assert cache.get("k") == response and len(cache) == 1
    cache.close()
    again = ResponseCache(tmp_path / "c.sqlite3")  # another process would see it too (WAL, committed)
    assert again.get("k") == response
    assert again._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_results_reader_tolerates_only_a_torn_last_line(tmp_path):
    line = json.dumps({"format": "charter.result/1", "case_id": "a/probe/x", "model": "openai:m",
                       "variant": "character"})
    (tmp_path / "results.jsonl").write_text(line + "\n" + line[:20])
    assert len(read_results(tmp_path)) == 1
    (tmp_path / "results.jsonl").write_text(line[:20] + "\n" + line + "\n")
    with pytest.raises(ResultsFormatError):
        read_results(tmp_path)
    (tmp_path / "results.jsonl").write_text(json.dumps({"format": "charter.result/2"}) + "\n")
    with pytest.raises(ResultsFormatError):
        read_results(tmp_path)
    with pytest.raises(ResultsFormatError):
        read_summary(tmp_path)


def test_calibrate_reports_judge_accuracy_and_run_warns(spec_file, env, monkeypatch):
    good = set()

    def judge(model, messages):
        # Passes everything: right on good replies, wrong on bad ones.
        good.add(reply_under_grading(messages))
        return verdict(9, messages=messages)

    with FakeServer({"judge": ModelScript(reply=judge)}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        result = charter("calibrate", spec_file, "--judge", "openai:judge", "-o", "cal.json")
        assert result.exit_code == 0, result.stderr
        record = json.loads((env / "cal.json").read_text())
        assert record["good"]["accuracy"] == 1.0 and record["bad"]["accuracy"] == 0.0
        replies = record["good"]["replies"] + record["bad"]["replies"]
        assert record["accuracy"] == round(record["good"]["replies"] / replies, 4) < 0.9
        # Only held-out examples are graded: the starter's eval-split are-you-human (a good and a bad reply).
        assert set(record["clauses"]) == {"rule:disclose-ai"} and replies == 2
        assert "accuracy 50%" in result.stdout and "warning: below 90%" in result.stdout
        stored = list((env / "xdg" / "charter" / "calibrations").glob("ada--openai_judge--*.json"))
        assert len(stored) == 1
        run = charter("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out",
                      "--case", "probe/refund")
    assert run.exit_code == 0
    assert "agrees with only 50% of this spec's own good/bad examples" in run.stderr
    calibration = read_summary(env / "out")["calibration"]
    assert calibration["accuracy"] == record["accuracy"] and calibration["path"].startswith("calibrations/ada--")


def test_calibrate_bad_input(spec_file, env, server):
    _one_line_error(charter("calibrate", "missing.yaml", "--judge", "openai:judge"))
    _one_line_error(charter("calibrate", spec_file, "--judge", "judge"))
    (env / "mini.yaml").write_text("charter: 1\nid: mini\nname: Mini\nvalues:\n"
                                   "  - {id: honesty, description: I say what I believe is true.}\n")
    _one_line_error(charter("calibrate", "mini.yaml", "--judge", "openai:judge"))
    assert server.calls() == 0


def test_rpm_limits_each_model(spec_file, server, env):
    result = charter("run", spec_file, *RUN, "-o", "out", "--case", "probe/refund", "--rpm", "60")
    assert result.exit_code == 0, result.stderr
    # Two calls per model at one per second: the second waits about a second after the first (as
    # the server saw them; unlimited, both would arrive at once). The limiter's arithmetic is
    # tested on a fake clock in tests/providers/test_provider_retry.py.
    for model in ("tutor", "judge"):
        first, second = [r.received for r in server.requests if r.model == model]
        assert second - first >= 0.5, model


def test_progress_line_only_on_a_terminal():
    import io

    from charter.cli._progress import ProgressLine
    from charter.run.runner import Progress

    stream = io.StringIO()
    line = ProgressLine(stream, enabled=True)
    line(Progress(total=10, done=4, failed=1, calls=8))
    line.finish()
    text = stream.getvalue()
    assert text.startswith("\r") and "4/10 cases, 1 failed" in text and "left" in text and text.endswith("\n")
    quiet = io.StringIO()
    silent = ProgressLine(quiet, enabled=False)
    silent(Progress(total=10, done=4))
    silent.finish()
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("option, value", [
    ("--temperature", "3"), ("--max-tokens", "0"), ("--seed", "x"), ("--tpm", "0"), ("--judge-max-tokens", "0"),
    ("--timeout", "0"), ("--retries", "-1"), ("--concurrency", "lots"),
])
def test_out_of_range_options_are_usage_errors(spec_file, env, server, option, value):
    result = charter("run", spec_file, *RUN, "-o", "out", option, value)
    assert result.exit_code == 2 and option in result.stderr and "Traceback" not in result.stderr
    assert not (env / "out").exists() and server.calls() == 0


def test_openai_compatible_needs_a_base_url(spec_file, env, server):
    result = charter("run", spec_file, "-m", "openai-compatible:llama", "--judge", "openai:judge", "-o", "out")
    _one_line_error(result)
    assert "needs a base URL" in result.stderr and server.calls() == 0


def test_calibrate_output_that_cannot_be_written(spec_file, env, server):
    (env / "afile").write_text("x")
    result = charter("calibrate", spec_file, "--judge", "openai:judge", "-o", env / "afile" / "cal.json")
    _one_line_error(result)
