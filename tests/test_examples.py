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
