"""The examples run as documented."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from conftest import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _demo_models(env: dict) -> tuple[list[str], object]:
    """The example's own demo models when the in-process demo provider exists; until it lands, the fake
    server's demo mode over HTTP. Returns the model arguments and a context to stop the server."""
    from contextlib import nullcontext

    from charter.providers import ConfigError, parse_model_id

    try:
        parse_model_id("demo:tutor")
        return [], nullcontext()
    except ConfigError:
        from charter.testing import FakeServer, ModelScript
        from charter.testing.demo import demo_reply

        server = FakeServer(default=ModelScript(reply=demo_reply))
        server.__enter__()
        env.update(OPENAI_API_KEY="sk-example", OPENAI_BASE_URL=server.openai_base_url)
        return ["--model", "openai:demo-tutor", "--judge", "openai:demo-judge"], server


def test_python_api_example(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    models, server = _demo_models(env)
    try:
        result = subprocess.run([sys.executable, str(REPO / "examples" / "python_api.py"),
                                 str(REPO / "characters" / "tutor.yaml"), str(tmp_path / "out"), *models],
                                capture_output=True, text=True, timeout=300, env=env)
    finally:
        server.__exit__(None, None, None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Pip (tutor ")
    assert "lint: 0 finding(s)" in result.stdout
    assert (tmp_path / "out" / "build" / "manifest.json").exists()
    # The run made from Python is one the command line reports on.
    run_dir = tmp_path / "out" / "run"
    assert {"run.json", "results.jsonl", "summary.json", "report.html"} <= {p.name for p in run_dir.iterdir()}
    report = subprocess.run([sys.executable, "-m", "charter", "report", str(run_dir), "--format", "md"],
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    assert report.stdout.strip() == f"wrote {run_dir / 'report.md'}"


def test_offline_demo_runs_the_whole_loop(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["CHARTER_DEMO_PORT"] = str(free_port())
    env["CHARTER_DEMO_KEY"] = secret = "sk-demo-secret-5f1c0ffee0123456789"
    out = tmp_path / "demo"
    result = subprocess.run(["bash", str(REPO / "examples" / "offline-demo.sh"), str(out)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "run-a" / "summary.json").read_text())
    assert set(summary["models"]) == {"openai:demo-tutor", "anthropic:demo-tutor-2"}
    for figures in summary["models"].values():
        assert figures["counts"]["errored"] == 0 and figures["counts"]["grading_errors"] == 0
    assert (out / "run-a" / "report.html").stat().st_size > 10_000
    assert "0 regressions" in result.stdout
    assert secret not in result.stdout + result.stderr
    for path in out.rglob("*"):
        if path.is_file():  # results, summaries, reports, the build, the SQLite cache, the server log
            assert secret.encode() not in path.read_bytes(), f"the API key leaked into {path}"
