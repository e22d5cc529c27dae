"""The examples run as documented."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import REPO


def test_python_api_example(tmp_path):
    # No key and no base URL: the example's default models are the in-process demo provider's.
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    result = subprocess.run([sys.executable, str(REPO / "examples" / "python_api.py"),
                             str(REPO / "characters" / "tutor.yaml"), str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Pip (tutor ")
    assert "lint: 0 finding(s)" in result.stdout
    assert (tmp_path / "out" / "build" / "manifest.json").exists()
    # The run made from Python is one the command line reports on.
    run_dir = tmp_path / "out" / "run"
    assert {"run.json", "results.jsonl", "summary.json", "report.html"} <= {p.name for p in run_dir.iterdir()}
    report = subprocess.run([sys.executable, "-m", "charter", "report", str(run_dir), "--format", "md"],
                            capture_output=True, text=True, timeout=120, env=env)
    assert report.returncode == 0, report.stderr
    assert report.stdout.strip() == f"wrote {run_dir / 'report.md'}"


def test_offline_demo_runs_the_whole_loop_with_no_key_and_no_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    out = tmp_path / "demo"
    result = subprocess.run(["bash", str(REPO / "examples" / "offline-demo.sh"), str(out)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "run-a" / "summary.json").read_text())
    assert set(summary["models"]) == {"demo:tutor", "demo:tutor-2"}
    for figures in summary["models"].values():
        assert figures["counts"]["errored"] == 0 and figures["counts"]["grading_errors"] == 0
        assert figures["cost"]["total_usd"] == 0
    assert (out / "run-a" / "report.html").stat().st_size > 10_000
    assert "0 regressions" in result.stdout
    # The offline teacher: generated rows with length-fair pairs, a card, and the demo named as such.
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    assert manifest["rows"]["accepted"] >= 15 and manifest["files"]["sft.trl.jsonl"] == manifest["rows"]["accepted"]
    assert manifest["length_ratio"]["share_above_max"] <= 0.5
    assert any(note.startswith("teacher: demo") for note in manifest["notes"])
    assert "teacher: demo" in (out / "data" / "README.md").read_text()
    generated = [json.loads(line) for line in (out / "evals" / "evals.jsonl").read_text().splitlines()]
    assert len(generated) == 12 and all("-gen-" in case["id"] for case in generated)
    graded = json.loads((out / "run-generated" / "summary.json").read_text())["models"]["demo:tutor"]
    assert graded["counts"]["errored"] == 0 and graded["counts"]["grading_errors"] == 0
    assert (out / "run-generated" / "report.html").exists()
