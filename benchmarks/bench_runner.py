"""The eval runner against the bare SDK, at 200 ms per call, concurrency 64.

    python benchmarks/bench_runner.py [-n 1000] [--concurrency 64] [--latency 0.2] [--repeat 3]

1,000 single-turn cases (cloned from a probe of the bundled assistant character, each with its own
question) make 2,000 calls: one model reply and one judge verdict per case. The model request
carries the compiled system prompt and the judge request the compiled monitor (13 KB and 15 KB
for the assistant), as real runs do. Every measurement runs in its own child process (clean CPU
time and peak RSS) against a fake server in another process:

- floor:   a plain AsyncOpenAI loop with 64 workers sending the very request bodies the runner
           sends (recorded from an unmeasured runner run first: same messages, system prompt,
           monitor, parameters), the judge request of a case after its model reply: the bare SDK,
           through ``client.chat.completions.create``, as the SDK's documentation writes it;
- post:    the same loop posting each body with ``client.post`` and reading the reply's JSON, as
           the runner's OpenAI provider does. ``create`` converts every keyword argument against
           the API's type annotations and builds typed reply objects (1.5 to 2 ms of CPU a call
           here), which the runner skips: against ``floor`` the runner is spared that work, so the
           CPU ratio against ``post`` is the one that shows what the runner itself adds;
- runner:  ``charter.run.run_evals`` (run.json, cases, prompts, retries, rate slots, judge parsing,
           checks, cache writes, fsync'd results, summary.json), with a fresh response cache;
- faults:  the runner against a server failing 20 % of calls (10 % 429 with Retry-After 1 s, or
           ``--retry-after``; 10 % 500), with the runner's default retry policy. A call fails all
           six attempts with probability 0.2^6, so about one run in eight leaves one case
           ungraded (an error a resumed run retries); the line says how many. Its wall time has a floor of its own: faults are independent per call, so
           a few of the 2,500 calls fail three or four times in a row and spend seconds in
           (honoured) Retry-After waits and backoff after every other case has finished;
- cached:  ``charter run`` as a command (interpreter start and imports included) into a new
           run directory with the runner's warm cache: no API calls.

Each of floor/runner/faults runs ``--repeat`` times, interleaved; medians are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The fake model server is test support and lives in tests/fakeserver, outside the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import fakeserver  # noqa: E402


def verdict() -> str:
    """The one reply of the benchmark's server, a judge verdict passing every clause of the spec:
    whichever clauses a request asks about, it grades them (a verdict grading none of them would be
    a grading error)."""
    from charter import load

    clauses = {clause.ref: "pass" for clause in load(CHARACTER).clauses()}
    return json.dumps({"clauses": clauses, "violated": [], "reason": "Keeps the character throughout.", "score": 8})


MEASURED = ("floor", "post", "runner", "faults")
FAULT_RATE = 0.2  # of the faulty server's calls: half 429 with Retry-After, half 500
REQUESTS = "requests.jsonl"  # the runner's request bodies, recorded for the floor to send


def start_server(latency: float, faults: bool, retry_after: float = 1.0) -> tuple[subprocess.Popen, str]:
    options = ["--latency", str(latency), "--reply", verdict()]
    if faults:
        options += ["--fault", f"rate_limit={FAULT_RATE / 2:g}", "--fault", f"server_error={FAULT_RATE / 2:g}",
                    "--retry-after", str(retry_after),
                    "--seed", "7"]
    return fakeserver.start(*options)


CHARACTER = Path(__file__).resolve().parent.parent / "characters" / "assistant.yaml"


def write_inputs(folder: Path, n: int) -> tuple[Path, Path]:
    """The bundled assistant (its compiled prompt and monitor are tens of KB together) and ``n``
    single-turn cases cloned from its first context-free probe, each with its own question."""
    from charter.run.cases import load_plan
    from charter.targets.evals import cases_to_jsonl

    spec = CHARACTER
    template = next(c for c in load_plan(spec).cases
                    if c["kind"] == "probe" and len(c["turns"]) == 1 and not c.get("context"))
    cases = []
    for i in range(n):
        case = json.loads(json.dumps(template))
        case["id"] = f"bench/probe/q-{i}"
        case["turns"] = [{"role": "user", "content": f"Question {i}: {template['turns'][0]['content']}"}]
        cases.append(case)
    evals = folder / "evals.jsonl"
    evals.write_text(cases_to_jsonl(cases), encoding="utf-8")
    return spec, evals


def _environment(url: str, cache_home: Path) -> None:
    os.environ.update({"OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": url + "/v1", "XDG_CACHE_HOME": str(cache_home)})


def record(url: str, spec: Path, evals: Path, concurrency: int, work: Path) -> dict:
    """An unmeasured runner run that writes every request body it sends (with the SDK's extra
    arguments) to REQUESTS, so that the floor sends exactly the same bytes."""
    from charter.providers.openai import OpenAIProvider

    bodies: list[dict] = []
    complete = OpenAIProvider.complete

    async def recording(self, request):
        bodies.append({**self.payload(request), **self._extra(request)})
        return await complete(self, request)

    OpenAIProvider.complete = recording  # benchmark instrumentation of Charter's own adapter, not the SDK
    measured = runner(url, spec, evals, concurrency, work)
    (work.parent / REQUESTS).write_text("".join(json.dumps(b) + "\n" for b in bodies), encoding="utf-8")
    return measured


def recorded_pairs(work: Path) -> list[tuple[dict, dict]]:
    """(model request, judge request) per case, from the recorded bodies; a case is its question number."""
    model: dict[str, dict] = {}
    judge: dict[str, dict] = {}
    for line in (work / REQUESTS).read_text(encoding="utf-8").splitlines():
        body = json.loads(line)
        question = re.search(r"Question (\d+): ", line).group(1)
        (model if body["model"] == "bench-model" else judge)[question] = body
    assert model.keys() == judge.keys(), "every case has one model and one judge request"
    return [(model[q], judge[q]) for q in sorted(model, key=int)]


async def floor(url: str, spec: Path, evals: Path, concurrency: int, post: bool = False) -> dict:
    """The bare SDK: the runner's own request bodies (model then judge per case) from a plain worker
    loop, through ``chat.completions.create``, or with ``post`` through ``client.post`` as the runner."""
    import openai

    pairs = recorded_pairs(evals.parent)
    client = openai.AsyncOpenAI(api_key="bench", base_url=url + "/v1", max_retries=0, timeout=60)
    queue = list(reversed(pairs))
    cases = len(pairs)
    calls = 0
    started_cpu, started = time.process_time(), time.perf_counter()

    if post:
        import httpx2  # the SDK's HTTP library

        async def answer(body: dict) -> str:
            raw = await client.post("/chat/completions", body=body, cast_to=httpx2.Response)
            return json.loads(raw.content)["choices"][0]["message"]["content"]
    else:
        async def answer(body: dict) -> str:
            return (await client.chat.completions.create(**body)).choices[0].message.content

    async def worker() -> None:
        nonlocal calls
        while queue:
            model_body, judge_body = queue.pop()
            assert await answer(model_body)
            assert json.loads(await answer(judge_body))["score"] == 8
            calls += 2

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    await client.close()
    return {"wall_s": wall, "cpu_s": cpu, "calls": calls, "retries": 0, "cases": cases, "p99_s": wall}


def runner(url: str, spec: Path, evals: Path, concurrency: int, work: Path) -> dict:
    """``run_evals``, as ``charter run`` calls it: run.json, the run, results.jsonl and summary.json."""
    from charter.run import Progress, RunOptions, load_plan, run_evals
    import charter.providers.openai  # noqa: F401
    import openai  # noqa: F401  (the SDK the provider loads on its first call: imported before the clock, as the floor's)
    import charter.cli  # noqa: F401  (the process settings `charter run` has: the command line's GC threshold)

    plan = load_plan(evals, spec)
    options = RunOptions(models=("openai:bench-model",), judge="openai:bench-judge", concurrency=concurrency)
    started_cpu, started = time.process_time(), time.perf_counter()
    at_99: list[float] = []

    def note_99(progress: Progress) -> None:
        if not at_99 and progress.done >= 0.99 * progress.total:
            at_99.append(time.perf_counter() - started)

    progress = Progress(on_change=note_99)
    summary = run_evals(plan, work / "run", options, cache_path=work / "cache" / "responses.sqlite3",
                        progress=progress)
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    counts = summary["models"]["openai:bench-model"]["counts"]
    ok = counts["passed"] + counts["failed"]  # graded to the end (the fake reply fails the probe's checks)
    return {"wall_s": wall, "cpu_s": cpu, "calls": progress.calls, "retries": progress.retries, "cases": ok,
            "p99_s": at_99[0] if at_99 else wall}


def child(args) -> None:
    work = Path(args.work)
    spec, evals = CHARACTER, work / "evals.jsonl"
    _environment(args.url, work / "xdg")
    if args.variant in ("floor", "post"):
        measured = asyncio.run(floor(args.url, spec, evals, args.concurrency, post=args.variant == "post"))
    elif args.variant == "record":
        measured = record(args.url, spec, evals, args.concurrency, Path(tempfile.mkdtemp(dir=work, prefix="record-")))
    else:
        target = Path(tempfile.mkdtemp(dir=work, prefix=args.variant + "-"))
        measured = runner(args.url, spec, evals, args.concurrency, target)
        measured["dir"] = str(target)
    measured["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(measured))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--retry-after", type=float, default=1.0, help="seconds the faulty server's 429s ask for")
    parser.add_argument("--variant", choices=(*MEASURED, "record"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        child(args)
        return

    with tempfile.TemporaryDirectory(prefix="bench-runner-") as folder:
        work = Path(folder)
        spec, evals = write_inputs(work, args.n)
        calls = 2 * args.n
        ideal = -(-calls // args.concurrency) * args.latency
        print(f"{args.n} single-turn cases with grading = {calls} calls, concurrency {args.concurrency}, "
              f"{args.latency * 1000:.0f} ms per call; latency-bound ideal {ideal:.2f} s")
        servers = {False: start_server(args.latency, faults=False),
                   True: start_server(args.latency, faults=True, retry_after=args.retry_after)}
        runs: dict[str, list[dict]] = {variant: [] for variant in MEASURED}
        try:
            recorded = subprocess.run([sys.executable, __file__, "--variant", "record", "--url", servers[False][1],
                                       "--work", str(work), "--concurrency", str(args.concurrency)],
                                      capture_output=True, text=True)
            if recorded.returncode:
                raise SystemExit(f"recording the runner's requests failed:\n{recorded.stderr}")
            sizes = sorted(len(line) for line in (work / REQUESTS).read_text(encoding="utf-8").splitlines())
            print(f"request bodies (recorded from the runner, sent as they are by the floor): "
                  f"{len(sizes)}, {sizes[0] / 1000:.1f} to {sizes[-1] / 1000:.1f} KB")
            for _ in range(args.repeat):
                for variant in MEASURED:
                    url = servers[variant == "faults"][1]
                    done = subprocess.run([sys.executable, __file__, "--variant", variant, "--url", url,
                                           "--work", str(work), "--concurrency", str(args.concurrency)],
                                          capture_output=True, text=True)
                    if done.returncode:
                        raise SystemExit(f"{variant} failed:\n{done.stderr}")
                    runs[variant].append(json.loads(done.stdout.strip().splitlines()[-1]))
            cached = cached_rerun(work, spec, evals, servers[False][1], runs["runner"][-1]["dir"], args.n)
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=10)

    medians = {}
    for variant in MEASURED:
        measured = runs[variant]
        medians[variant] = m = {key: statistics.median(r[key] for r in measured)
                                for key in ("wall_s", "cpu_s", "calls", "retries", "cases", "p99_s")}
        m["peak_rss_mb"] = max(r["peak_rss_mb"] for r in measured)
        walls = ", ".join(f"{r['wall_s']:.2f}" for r in measured)
        print(f"  {variant:7} wall {m['wall_s']:6.2f} s ({m['wall_s'] / ideal:4.2f}x ideal; runs {walls})  "
              f"cpu {m['cpu_s']:5.2f} s ({1000 * m['cpu_s'] / m['calls']:.2f} ms/call)  "
              f"peak RSS {m['peak_rss_mb']:6.1f} MB  calls {m['calls']:g}  retries {m['retries']:g}  "
              f"cases graded {m['cases']:g}/{args.n}")
    floor_, post_, runner_, faults_ = medians["floor"], medians["post"], medians["runner"], medians["faults"]
    print(f"  runner / floor: wall {runner_['wall_s'] / floor_['wall_s']:.2f}x (goal <= 1.25x), "
          f"cpu {runner_['cpu_s'] / floor_['cpu_s']:.2f}x (goal <= 1.5x)")
    print(f"  runner / post (the floor through client.post, as the runner calls the SDK): "
          f"wall {runner_['wall_s'] / post_['wall_s']:.2f}x, cpu {runner_['cpu_s'] / post_['cpu_s']:.2f}x")
    # A call fails all of the retry policy's attempts with probability FAULT_RATE ** attempts: 0.13
    # of the 2,000 calls a run at the defaults, so about one run in eight leaves a case ungraded
    # (recorded as an error, and run again by a resumed run), however the runner is written.
    from charter.providers.retry import RetryPolicy

    attempts = RetryPolicy().max_attempts
    expected = 2 * args.n * FAULT_RATE ** attempts
    print(f"  faults / runner: wall {faults_['wall_s'] / runner_['wall_s']:.2f}x (goal <= 1.5x), "
          f"cases graded {faults_['cases']:g}/{args.n} (a call fails all {attempts} attempts with probability "
          f"{FAULT_RATE:g}^{attempts}: {expected:.2f} ungraded cases expected a run); "
          f"99 % of cases done at {faults_['p99_s'] / runner_['wall_s']:.2f}x (the rest is the retry tail)")
    print(f"  cached re-run ({cached['calls']} API calls): `charter run` command {cached['command_s']:.2f} s "
          f"wall (goal < 2 s), peak RSS {cached['peak_rss_mb']:.1f} MB")
    peak = max(m["peak_rss_mb"] for m in medians.values())
    print(f"  peak memory {max(peak, cached['peak_rss_mb']):.1f} MB (goal < 200 MB)")


def cached_rerun(work: Path, spec: Path, evals: Path, url: str, warm: str, n: int) -> dict:
    """`charter run` into a new directory with the warm cache of a runner measurement."""
    environment = {**os.environ, "OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": url + "/v1"}
    command = [sys.executable, "-m", "charter",
               "run", str(evals), "--spec", str(spec), "-m", "openai:bench-model", "--judge", "openai:bench-judge",
               "--concurrency", "64", "-o", str(work / "cached-run"), "--cache",
               str(Path(warm) / "cache" / "responses.sqlite3"), "-q"]
    # The command's own peak RSS from wait4 (it ends with os._exit, so it cannot report its own).
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child_process = subprocess.Popen(command, env=environment, stdout=out, stderr=err)
        _, status, usage = os.wait4(child_process.pid, 0)
        elapsed = time.perf_counter() - started
        child_process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child_process.returncode:
        raise SystemExit(f"cached re-run failed:\n{stderr}")
    calls = int(stdout.split(" API calls this time")[0].rsplit("(", 1)[1])
    peak = usage.ru_maxrss / 1024
    lines = (work / "cached-run" / "results.jsonl").read_text().count("\n")
    assert lines == n, f"cached re-run wrote {lines} results"
    return {"command_s": elapsed, "calls": calls, "peak_rss_mb": peak}


if __name__ == "__main__":
    main()
