"""Bad input to `charter generate data|evals`: one line on stderr, the right exit code, nothing lost."""

from __future__ import annotations

from pathlib import Path

from fakeserver import FakeServer, ModelScript
from helpers import charter
from synth_helpers import one_line_error, stage_reply


MODELS = ("--teacher", "openai:teacher", "--judge", "anthropic:judge")


def data(spec_file, *args: object):
    return charter("generate", "data", spec_file, *args, "-q")


def files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def test_bad_counts(spec_file, env, server):
    one_line_error(data(spec_file, *MODELS, "-n", 0, "-o", "out"))
    one_line_error(data(spec_file, *MODELS, "-n", -3, "-o", "out"))
    one_line_error(data(spec_file, *MODELS, "-o", "out"))  # no -n
    one_line_error(charter("generate", "evals", spec_file, "-m", "openai:writer", "-n", 0, "-o", "ev"))
    assert data(spec_file, *MODELS, "-n", "many", "-o", "out").exit_code == 2  # click: not an integer
    assert server.calls() == 0 and not (env / "out").exists()


def test_missing_key_keeps_what_was_generated(spec_file, env, server, monkeypatch):
    assert data(spec_file, *MODELS, "-n", 10, "-o", "out").exit_code == 0
    before = files(env / "out")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = data(spec_file, *MODELS, "-n", 10, "-o", "out", "--no-cache")
    one_line_error(result)
    assert "ANTHROPIC_API_KEY" in result.stderr
    assert files(env / "out") == before
    one_line_error(charter("generate", "evals", spec_file, "-m", "anthropic:writer", "-n", 3, "-o", "ev"))


def test_unknown_model(spec_file, env, monkeypatch):
    with FakeServer({"teacher": ModelScript(reply=stage_reply)}, default=None) as running:
        monkeypatch.setenv("OPENAI_BASE_URL", running.openai_base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", running.anthropic_base_url)
        result = data(spec_file, "--teacher", "openai:teacher", "--judge", "openai:no-such-judge", "-n", 5, "-o", "out")
        one_line_error(result)
        assert "does not exist" in result.stderr and "no-such-judge" in result.stderr
        result = charter("generate", "evals", spec_file, "-m", "openai:missing", "-n", 3, "-o", "ev")
        one_line_error(result)
        assert "does not exist" in result.stderr
        batched = data(spec_file, "--teacher", "openai:teacher", "--judge", "openai:no-such-judge", "-n", 5,
                       "-o", "batched", "--batch", "--poll", "0.01")
        assert batched.exit_code == 2 and "charter: error:" in batched.stderr and "Traceback" not in batched.stderr


def test_unwritable_output(spec_file, env, server):
    (env / "taken").write_text("a file, not a directory")
    one_line_error(data(spec_file, *MODELS, "-n", 5, "-o", "taken"))
    one_line_error(data(spec_file, *MODELS, "-n", 5, "-o", "taken/sub"))
    one_line_error(charter("generate", "evals", spec_file, "-m", "openai:writer", "-n", 3, "-o", "taken/sub"))
    assert (env / "taken").read_text() == "a file, not a directory"


def test_malformed_model_ids_and_options(spec_file, env, server):
    one_line_error(data(spec_file, "--teacher", "gpt-4", "-n", 5, "-o", "out"))
    one_line_error(data(spec_file, *MODELS, "--student", "nope", "-n", 5, "-o", "out"))
    one_line_error(data(spec_file, *MODELS, "-n", 5, "-o", "out", "--margin", 12))
    one_line_error(data(spec_file, *MODELS, "-n", 5, "-o", "out", "--batch", "--no-cache"))
    result = data(spec_file, "--teacher", "openai-compatible:llama", "--base-url", f"{server.openai_base_url}",
                  "--judge", "anthropic:judge", "-n", 5, "-o", "compat", "--batch")
    one_line_error(result)
    assert "no batch API" in result.stderr
    assert data(spec_file, *MODELS, "-n", 5, "-o", "out", "-f", "csv").exit_code == 2
    assert server.calls() == 0


def test_missing_and_invalid_spec(env, server):
    missing = charter("generate", "data", "nope.yaml", *MODELS, "-n", 5, "-o", "out")
    assert missing.exit_code == 2 and "nope.yaml" in missing.stderr and "Traceback" not in missing.stderr
    (env / "bad.yaml").write_text("charter: 1\nid: Bad Id\nname: x\n")
    invalid = charter("generate", "data", "bad.yaml", *MODELS, "-n", 5, "-o", "out")
    assert invalid.exit_code == 1 and "bad.yaml:" in invalid.stderr
    assert server.calls() == 0


def test_an_output_directory_refuses_other_arguments(spec_file, env, server):
    assert data(spec_file, *MODELS, "-n", 8, "-o", "out").exit_code == 0
    before = files(env / "out")
    result = data(spec_file, *MODELS, "-n", 9, "-o", "out")
    one_line_error(result)
    assert "other arguments (n)" in result.stderr
    assert files(env / "out") == before
    assert data(spec_file, *MODELS, "-n", 9, "-o", "out", "--overwrite").exit_code == 0
    assert (env / "out" / "sft.openai.jsonl").read_bytes().count(b"\n") == 9
    (env / "stray").mkdir()
    (env / "stray" / "sft.openai.jsonl").write_text("{}\n")
    one_line_error(data(spec_file, *MODELS, "-n", 5, "-o", "stray"))
    assert (env / "stray" / "sft.openai.jsonl").read_text() == "{}\n"


def test_click_checked_options(spec_file, env, server):
    for option, value in (("--dedup-threshold", 0), ("--dedup-threshold", 1.5), ("--temperature", 5),
                          ("--poll", 0), ("--concurrency", 0), ("--seed", "x"), ("--max-tokens", 0),
                          ("--retries", -1), ("--rpm", 0)):
        result = data(spec_file, *MODELS, "-n", 5, "-o", "out", option, value)
        assert result.exit_code == 2 and "Traceback" not in result.stderr, (option, value, result.stderr)
        assert f"Invalid value for '{option}'" in result.stderr or option in result.stderr
    assert server.calls() == 0 and not (env / "out").exists()


def test_bad_price_file_and_unusable_cache(spec_file, env, server):
    (env / "prices.yaml").write_text("teacher: {input: -1, output: 2}\n")
    one_line_error(data(spec_file, *MODELS, "-n", 5, "-o", "out", "--prices", "prices.yaml"))
    (env / "cache.db").write_text("not a sqlite file, just text " * 100)
    one_line_error(data(spec_file, *MODELS, "-n", 5, "-o", "out", "--cache", "cache.db"))
    assert server.calls() == 0
