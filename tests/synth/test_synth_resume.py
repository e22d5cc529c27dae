"""Resuming `charter generate data`: after a kill mid-run (torn lines included), and saved batches by id."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import charter, interruptible
from synth_helpers import read_jsonl, start_server

from charter.providers.batch import PollPolicy, load_handles
from charter.providers.cache import ResponseCache
from charter.run.runner import RunOptions
from charter.spec import load
from charter.synth.calls import BATCHES_FILE, Caller
from charter.synth.pipeline import DataGenerator, DataOptions

MODELS = ("--teacher", "openai:teacher", "--judge", "anthropic:judge")


def training_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(out).glob("*.jsonl"))}


def test_a_killed_run_resumes_where_it_stopped(spec_file, env, monkeypatch):
    server = start_server(monkeypatch, latency=0.03)
    try:
        command = [sys.executable, "-m", "charter", "generate", "data", str(spec_file), *MODELS, "-n", "60",
                   "-o", "out", "--concurrency", "4", "-q"]
        process = subprocess.Popen(command, cwd=env, env=dict(os.environ), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        rows = env / "out" / "sft.openai.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if rows.exists() and rows.read_bytes().count(b"\n") >= 5:
                break
            time.sleep(0.02)
        assert process.poll() is None, process.stderr.read().decode()
        process.send_signal(signal.SIGKILL)
        process.wait()
        written = rows.read_bytes().count(b"\n")
        assert 5 <= written < 60
        with open(env / "out" / "sft.trl.jsonl", "ab") as handle:  # a kill in the middle of a write
            handle.write(b'{"messages":[{"content":"hi, qu')
        calls_before = server.calls()

        resumed = charter("generate", "data", spec_file, *MODELS, "-n", 60, "-o", "out", "--concurrency", 4, "-q")
        assert resumed.exit_code == 0, resumed.stderr
        calls_resumed = server.calls() - calls_before

        clean = charter("generate", "data", spec_file, *MODELS, "-n", 60, "-o", "clean", "-q")
        assert clean.exit_code == 0 and server.calls() == calls_before + calls_resumed  # all from the cache
        assert training_bytes(env / "out") == training_bytes(env / "clean")
        needed = sum(t["calls"] for t in json.loads((env / "clean" / "manifest.json").read_text())
                     ["usage"]["models"].values())
        # The restart paid only for what the killed run had not finished (at most the calls in flight twice).
        assert calls_resumed < needed
        assert calls_before + calls_resumed <= needed + 8
    finally:
        server.stop()


def _run_options() -> RunOptions:
    return RunOptions(models=("openai:teacher",), judge="anthropic:judge", concurrency=8)


def test_saved_batches_are_resumed_by_id(spec_file, env, monkeypatch):
    server = start_server(monkeypatch, batch_polls=10_000)
    try:
        spec = load(spec_file)
        options = DataOptions(n=12, teacher="openai:teacher", judge="anthropic:judge", window=None)
        out = env / "out"
        out.mkdir()
        cache = ResponseCache(env / "cache.sqlite3")

        async def interrupted() -> None:
            caller = Caller(_run_options(), cache=cache, out_dir=out, batch=True, poll=PollPolicy(initial=0.01),
                            settle=0.05)
            await caller.open()
            task = asyncio.create_task(DataGenerator(spec, options, caller, out).run())
            while not (out / BATCHES_FILE).exists():
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await caller.close()

        asyncio.run(interrupted())
        saved = load_handles(out / BATCHES_FILE)
        assert saved and all(server.batches.openai[h.batch_id]["status"] == "in_progress" for h in saved)
        cache.close()
        server.batch_polls = 2

        resumed = charter("generate", "data", spec_file, *MODELS, "-n", 12, "-o", "out", "--batch", "--poll", "0.01",
                          "--cache", "cache.sqlite3", "-q")
        assert resumed.exit_code == 0, resumed.stderr
        assert all(server.batches.openai[h.batch_id]["status"] == "completed" for h in saved)
        assert not (out / BATCHES_FILE).exists()
        resumed_batches = len(server.batches.openai) + len(server.batches.anthropic)

        fresh = charter("generate", "data", spec_file, *MODELS, "-n", 12, "-o", "fresh", "--batch", "--poll", "0.01",
                        "--cache", "fresh.sqlite3", "-q")
        assert fresh.exit_code == 0, fresh.stderr
        fresh_batches = len(server.batches.openai) + len(server.batches.anthropic) - resumed_batches
        assert resumed_batches == fresh_batches  # the saved batch was waited for, not sent again
        assert training_bytes(out) == training_bytes(env / "fresh")
        assert read_jsonl(out / "sft.openai.jsonl")
    finally:
        server.stop()


def test_ctrl_c_says_how_to_resume(spec_file, env, monkeypatch):
    server = start_server(monkeypatch, latency=0.03)
    try:
        command = [sys.executable, "-m", "charter", "generate", "data", str(spec_file), *MODELS, "-n", "60",
                   "-o", "out", "--concurrency", "4", "-q"]
        process = interruptible(command, cwd=env, env=dict(os.environ), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        rows = env / "out" / "sft.openai.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if rows.exists() and rows.read_bytes().count(b"\n") >= 3:
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        stderr = process.communicate(timeout=30)[1].decode()
        assert process.returncode == 130, stderr
        assert stderr.count("\n") == 1 and "interrupted:" in stderr and "resume with: charter generate data" in stderr
        saved = rows.read_bytes()
        assert saved.endswith(b"\n")
        resumed = charter("generate", "data", spec_file, *MODELS, "-n", 60, "-o", "out", "--concurrency", 4, "-q")
        assert resumed.exit_code == 0 and rows.read_bytes().startswith(saved)
        assert rows.read_bytes().count(b"\n") == 60
    finally:
        server.stop()


def test_failed_calls_are_retried_by_a_restart_and_give_the_same_rows(spec_file, env, monkeypatch):
    from fakeserver import FakeServer, ModelScript
    from synth_helpers import stage_reply

    flaky = ModelScript(reply=stage_reply, faults={"server_error": 0.15}, seed=3)
    with FakeServer({"student": flaky}, default=ModelScript(reply=stage_reply)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
        args = ("generate", "data", spec_file, *MODELS, "--student", "openai:student", "-n", 30, "-q")
        first = charter(*args, "-o", "out", "--retries", 0)
        assert first.exit_code == 1, first.stderr
        assert "lost to failed calls; run the same command again" in first.stderr
        manifest = json.loads((env / "out" / "manifest.json").read_text())
        assert manifest["drops"]["call-failed"] > 0 and manifest["drops"]["held"] > 0
        written = (env / "out" / "sft.openai.jsonl").read_bytes().count(b"\n")
        assert written < 30

        flaky.faults = {}
        again = charter(*args, "-o", "out", "--retries", 0)
        assert again.exit_code == 0, again.stderr
        clean = charter(*args, "-o", "clean", "--retries", 0, "--cache", "clean.sqlite3")
        assert clean.exit_code == 0, clean.stderr
        for name in training_bytes(env / "clean"):
            resumed = (env / "out" / name).read_bytes().splitlines()
            assert sorted(resumed) == sorted((env / "clean" / name).read_bytes().splitlines()), name
        metas = read_jsonl(env / "out" / "sft.openai.meta.jsonl")
        assert [m["id"] for m in read_jsonl(env / "out" / "sft.trl.meta.jsonl")] == [m["id"] for m in metas]
        assert json.loads((env / "out" / "manifest.json").read_text())["clauses"] == \
            json.loads((env / "clean" / "manifest.json").read_text())["clauses"]
