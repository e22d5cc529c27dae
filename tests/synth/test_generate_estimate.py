"""`charter generate data --dry-run`: the estimate of calls per stage, tokens and cost, with no call made."""

from __future__ import annotations

import json
import math

from helpers import charter

from charter.spec import load
from charter.synth import DataOptions
from charter.synth.estimate import estimate_data
from charter.synth.pipeline import OVERGENERATE
from charter.synth.stages import quotas, targets

MODELS = ("--teacher", "openai:teacher", "--judge", "anthropic:judge")


def test_dry_run_prints_the_estimate_and_makes_no_call(spec_file, env, server):
    result = charter("generate", "data", spec_file, *MODELS, "-n", 24, "-o", "out", "--dry-run", "--batch")
    assert result.exit_code == 0, result.stderr
    assert server.requests == [] and not (env / "out").exists()
    assert "no call made (calls by stage: ideation " in result.stdout
    assert "openai:teacher: " in result.stdout and "anthropic:judge: " in result.stdout
    assert "batch discount" in result.stdout


def test_the_estimate_follows_the_pipeline_and_is_near_a_real_run(spec_file, env, server):
    spec = load(spec_file)
    options = DataOptions(n=24, teacher="openai:teacher", judge="anthropic:judge")
    estimate = estimate_data(spec, options)
    stages = {stage: sum(calls.values()) for stage, calls in estimate["stages"].items()}
    ideation = sum(math.ceil(quota * OVERGENERATE[0] / options.ideas_per_call)
                   for quota in quotas(targets(spec), options.n).values() if quota)
    assert stages["ideation"] == ideation
    assert stages["realism"] == stages["chosen"] == stages["rejected"] == ideation * options.ideas_per_call
    assert stages["grading"] == 2 * stages["chosen"]
    assert estimate["total"]["calls"] == sum(stages.values())
    # The real run's fake teacher writes duplicates, staged tests and failing replies: it drops ideas
    # early (fewer calls downstream) and refills in a later round (more ideation), yet stays near.
    result = charter("generate", "data", spec_file, *MODELS, "-n", 24, "-o", "out", "-q")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((env / "out" / "manifest.json").read_text())
    actual = {stage: sum(t["calls"] for t in by_model.values())
              for stage, by_model in manifest["usage"]["stages"].items()}
    assert actual["ideation"] >= stages["ideation"]
    assert 0.5 <= sum(actual.values()) / estimate["total"]["calls"] <= 1.5
