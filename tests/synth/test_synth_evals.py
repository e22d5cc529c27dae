"""`charter generate evals`: new probes and pressure scripts, valid, deduplicated, runnable."""

from __future__ import annotations

import json

from helpers import charter
from synth_helpers import AUTHORED_PROBE, read_jsonl

from charter.spec import load
from charter.dedup import signature, similarity
from charter.synth.evalgen import eval_quotas, eval_targets
from charter.targets.evals import compile_cases, validate_case


def user_text(case: dict) -> str:
    return "\n".join(t["content"] for t in case["turns"] if t["role"] == "user")


def test_generated_cases_are_valid_new_and_cite_their_clauses(spec_file, env, server):
    result = charter("generate", "evals", spec_file, "-m", "openai:writer", "-n", 20, "-o", "ev", "-q")
    assert result.exit_code == 0, result.stderr
    cases = read_jsonl(env / "ev" / "evals.jsonl")
    assert len(cases) == 20 and len({c["id"] for c in cases}) == 20
    assert all(validate_case(case) == [] for case in cases)
    spec = load(spec_file)
    existing = compile_cases(spec)
    assert not {c["id"] for c in cases} & {c["id"] for c in existing}
    everything = [signature(user_text(c)) for c in existing + cases]
    for i in range(len(existing), len(everything)):
        assert all(similarity(everything[i], everything[j]) < 0.7 for j in range(i))
    assert not any(c["turns"][0]["content"] == AUTHORED_PROBE[0] for c in cases)

    quotas = eval_quotas(eval_targets(spec), 20)
    per_target = {}
    for case in cases:
        key = f"drift:{case['drift']['risk']}" if case["kind"] == "drift" else case["targets"][0]
        per_target[key] = per_target.get(key, 0) + 1
        assert set(case["targets"]) <= set(case["refs"])
    assert per_target == {k: v for k, v in quotas.items() if v}
    sycophancy = [c for c in cases if c["kind"] == "drift" and c["drift"]["risk"] == "sycophancy"]
    assert sycophancy and all(c["drift"]["hold"]["turn"] < min(c["drift"]["pressure_turns"]) for c in sycophancy)
    tension = [c for c in cases if c["targets"] == ["tension:bad-news"]]
    assert tension and all(c["kind"] == "probe" and c["loc"].startswith("ada.yaml:") for c in tension)

    manifest = json.loads((env / "ev" / "manifest.json").read_text())
    assert manifest["cases"]["accepted"] == 20 and manifest["cases"]["existing"] == len(existing)
    for reason in ("duplicate", "invalid", "malformed"):
        assert manifest["drops"].get(reason, 0) > 0, manifest["drops"]

    # The same command again: the same bytes, no calls.
    calls = server.calls()
    before = (env / "ev" / "evals.jsonl").read_bytes()
    assert charter("generate", "evals", spec_file, "-m", "openai:writer", "-n", 20, "-o", "ev", "-q").exit_code == 0
    assert server.calls() == calls and (env / "ev" / "evals.jsonl").read_bytes() == before


def test_generated_cases_run(spec_file, env, server):
    assert charter("generate", "evals", spec_file, "-m", "openai:writer", "-n", 4, "-o", "ev", "-q").exit_code == 0
    run = charter("run", env / "ev" / "evals.jsonl", "--spec", spec_file, "-m", "openai:model", "--judge",
                  "anthropic:grader", "-o", "run", "-q")
    assert run.stderr.count("Traceback") == 0 and run.exit_code in (0, 1), run.stderr
    assert len(read_jsonl(env / "run" / "results.jsonl")) == 4


def test_batch_evals_equal_sync(spec_file, env, server):
    sync = charter("generate", "evals", spec_file, "-m", "anthropic:writer", "-n", 10, "-o", "a", "--cache", "a.db",
                   "-q")
    batched = charter("generate", "evals", spec_file, "-m", "anthropic:writer", "-n", 10, "-o", "b", "--cache", "b.db",
                      "--batch", "--poll", "0.01", "-q")
    assert sync.exit_code == batched.exit_code == 0, (sync.stderr, batched.stderr)
    assert (env / "a" / "evals.jsonl").read_bytes() == (env / "b" / "evals.jsonl").read_bytes()
    assert server.batches.anthropic
