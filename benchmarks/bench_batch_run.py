"""`charter run --batch` and `--batch-files` against a synchronous run, on the fake server.

    python benchmarks/bench_batch_run.py [--spec characters/companion.yaml] [--latency 0.05]

1. Batch vs synchronous: the spec's cases against ``openai:tutor``, graded by ``anthropic:judge``,
   once synchronously (concurrency 16) and once with ``--batch`` (OpenAI Batch for the model,
   Anthropic Message Batches for the judge; the fake server finishes a batch on its second status
   poll, polled every 0.05 s here instead of the default 5 s). Reports wall time, rounds, requests,
   and whether every results.jsonl record is byte-identical (the file is in completion order, so
   its lines are compared sorted) and the summaries equal apart from the cost, which is halved.
2. The batch-file loop: the same cases against ``openai-compatible:tutor`` / ``openai-compatible:judge``
   with ``--batch-files DIR``: the run writes a round, the fake server's batch engine stands in for
   ``vllm run-batch`` (FakeServer.answer_batch_file), the run is started again, until it completes.
   Reports the rounds, the requests in each, and the comparison with a synchronous run.
3. At scale (``--cases N``, default 1,000): N single-turn cases cloned from the starter spec's probe
   (benchmarks/bench_runner.py's inputs), synchronous vs ``--batch``, wall and CPU time: what the
   round-by-round replay costs on top of the batches themselves.

The fake server's prompt-cache emulation is off: it reports cached tokens for a system prompt seen
before, so token counts would depend on arrival order, which differs between any two runs.
Everything runs in one process (the server in a thread); wall times include that server's work.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))
from fakeserver import FakeServer, ModelScript  # noqa: E402
from helpers import judge_verdict  # noqa: E402

from charter.providers.batch import PollPolicy  # noqa: E402
from charter.providers.pricing import Price, PriceTable  # noqa: E402
from charter.run import RunOptions, run_evals  # noqa: E402
from charter.run._batch import BatchAPI, BatchFiles, RoundPending  # noqa: E402

# The fake models priced as gpt-4.1-mini (model) and claude-haiku-4-5 (judge), so the costs show.
PRICES = PriceTable({"tutor": Price(0.40, 1.60, 0.10, 0.40), "judge": Price(1.00, 5.00, 0.10, 1.25)})


def verdict(_model: str, messages: list) -> str:
    """The fake judge passes every clause it is asked about (a verdict grading none of them is a
    grading error, and the figures would time errors)."""
    return judge_verdict(messages, 8, "Keeps the character throughout.")


def lines(run_dir: Path) -> list[bytes]:
    return sorted((run_dir / "results.jsonl").read_bytes().splitlines())


def without_cost(summary: dict) -> dict:
    return {**summary, "models": {m: {k: v for k, v in e.items() if k != "cost"} for m, e in summary["models"].items()}}


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - started


def batch_vs_sync(spec: Path, work: Path, server: FakeServer) -> None:
    options = RunOptions(models=("openai:tutor",), judge="anthropic:judge", concurrency=16)
    # Warm-up (imports, SDK clients) so the first measured run does not pay for them.
    run_evals(spec, work / "warm", options, cache_path=work / "warm.sqlite3", select=("probe",))
    server.requests.clear()
    sync, sync_seconds = timed(run_evals, spec, work / "sync", options, cache_path=work / "sync.sqlite3",
                               prices=PRICES)
    sync_requests = len(server.requests)
    batched, batch_seconds = timed(run_evals, spec, work / "batch", options, cache_path=work / "batch.sqlite3",
                                   prices=PRICES, batch=BatchAPI(poll=PollPolicy(initial=0.05, max_interval=0.05)))
    batches = len(server.batches.openai) + len(server.batches.anthropic)
    batched_requests = sum(len(items) for items in server.batches._inputs.values())
    same = lines(work / "batch") == lines(work / "sync")
    cost = {m: (sync["models"][m]["cost"]["total_usd"], batched["models"][m]["cost"]["total_usd"])
            for m in sync["models"]}
    print(f"1. batch vs synchronous, {spec.name}: {len(lines(work / 'sync'))} cases")
    print(f"   synchronous: {sync_seconds:6.2f} s wall, {sync_requests} requests (concurrency 16, "
          f"{server.models['tutor'].latency:g} s a call)")
    print(f"   --batch:     {batch_seconds:6.2f} s wall, {batched_requests} requests in {batches} batches "
          f"(model and judge batches per round), {len(server.requests) - sync_requests} synchronous requests")
    print(f"   results.jsonl records byte-identical: {same}; summaries equal apart from cost: "
          f"{without_cost(batched) == without_cost(sync)}; cost (sync, batch) USD: {cost}")


def batch_files_loop(spec: Path, work: Path, server: FakeServer) -> None:
    base_url = server.openai_base_url
    options = RunOptions(models=("openai-compatible:tutor",), judge="openai-compatible:judge", base_url=base_url)
    _, sync_seconds = timed(run_evals, spec, work / "files-sync", options, cache_path=work / "files-sync.sqlite3")
    directory = work / "rounds"
    before = len(server.requests)
    rounds: list[int] = []
    started = time.perf_counter()
    while True:
        try:
            run_evals(spec, work / "files", options, cache_path=work / "files.sqlite3", batch=BatchFiles(directory))
            break
        except RoundPending as pending:
            rounds.append(sum(server.answer_batch_file(f.requests, f.results) for f in pending.files))
            if len(rounds) == 1:
                print(f"2. the batch-file loop, {spec.name}: first message: charter: {pending}")
    loop_seconds = time.perf_counter() - started
    same = lines(work / "files") == lines(work / "files-sync")
    records = [json.loads(line) for line in lines(work / "files")]
    longest = max(sum(1 for t in r["transcript"] if t["generated"]) for r in records)
    print(f"   {len(rounds)} rounds (the longest case has {longest} generated replies), requests per round: {rounds}")
    print(f"   loop: {loop_seconds:.2f} s wall for {len(rounds) + 1} invocations (the engine included); "
          f"synchronous run: {sync_seconds:.2f} s; HTTP requests during the loop: {len(server.requests) - before}")
    print(f"   results.jsonl records byte-identical to the synchronous run's: {same}")


def at_scale(n: int, work: Path, server: FakeServer) -> None:
    from bench_runner import write_inputs

    spec, evals = write_inputs(work, n)
    options = RunOptions(models=("openai:tutor",), judge="anthropic:judge", concurrency=64)
    measured = {}
    for name, batch in (("synchronous", None), ("--batch", BatchAPI(poll=PollPolicy(initial=0.05, max_interval=0.05)))):
        cpu = time.process_time()
        _, seconds = timed(run_evals, evals, work / f"scale-{name}", options, spec_path=spec,
                           cache_path=work / f"scale-{name}.sqlite3", batch=batch)
        measured[name] = (seconds, time.process_time() - cpu)
    same = lines(work / "scale---batch") == lines(work / "scale-synchronous")
    print(f"3. at scale: {n} single-turn cases, {2 * n} requests")
    for name, (seconds, cpu) in measured.items():
        print(f"   {name:<12} {seconds:6.2f} s wall, {cpu:6.2f} s CPU (this process, the fake server's thread included)")
    print(f"   results.jsonl records byte-identical: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=REPO / "characters" / "companion.yaml")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per synchronous call")
    parser.add_argument("--cases", type=int, default=1000, help="cases of the at-scale comparison (0: skip it)")
    args = parser.parse_args()
    scripts = {"judge": ModelScript(reply=verdict, latency=args.latency),
               "tutor": ModelScript(latency=args.latency)}
    with tempfile.TemporaryDirectory() as folder, \
            FakeServer(scripts, min_cache_tokens=10**9, batch_polls=2) as server:
        import os

        os.environ.update(OPENAI_API_KEY="sk-bench", ANTHROPIC_API_KEY="sk-ant-bench",
                          OPENAI_BASE_URL=server.openai_base_url, ANTHROPIC_BASE_URL=server.anthropic_base_url)
        batch_vs_sync(args.spec, Path(folder), server)
        server.requests.clear()
        batch_files_loop(args.spec, Path(folder), server)
        if args.cases:
            at_scale(args.cases, Path(folder), server)


if __name__ == "__main__":
    main()
