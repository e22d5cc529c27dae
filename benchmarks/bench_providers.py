"""The provider layer's cost over the bare SDK, against the fake server at 200 ms per call.

    python benchmarks/bench_providers.py [-n 1000] [--concurrency 64] [--latency 0.2]

Runs each variant in its own child process (clean CPU time and peak RSS), against a fake server
running in another process (so its CPU is not counted):

- sdk:       a plain AsyncOpenAI loop — the floor;
- provider:  the same calls through ``get_provider(...).complete``;
- retrying:  through ``with_retries(provider.complete)``, the way the runner will call it;
- faults:    ``retrying`` against a server failing 20 % of calls (10 % 429 with Retry-After 0.2 s,
             10 % 500), with the policy's base delay at 0.2 s; every call must still succeed.

Each variant runs ``--repeat`` times, interleaved, and the median is reported (the machine is shared,
so single wall times are noisy). Prints wall time (and its ratio to the latency-bound ideal ceil(n / concurrency) x latency), CPU
milliseconds per call and peak RSS per variant, and the provider/sdk ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

# The fake model server is test support and lives in tests/fakeserver, outside the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import fakeserver  # noqa: E402

VARIANTS = ("sdk", "provider", "retrying", "faults")


def start_server(latency: float, faults: bool) -> tuple[subprocess.Popen, str]:
    options = ["--latency", str(latency), "--reply",
               "A short, in-character reply of about twenty words, enough to parse like a real one."]
    if faults:
        options += ["--fault", "rate_limit=0.1", "--fault", "server_error=0.1", "--retry-after", "0.2", "--seed", "7"]
    return fakeserver.start(*options)


async def run_variant(variant: str, url: str, n: int, concurrency: int) -> dict:
    system = "You are Ada, a patient tutor. " * 40
    prompts = [f"Question number {i}: why is the sky blue?" for i in range(n)]
    queue: asyncio.Queue[str] = asyncio.Queue()
    for prompt in prompts:
        queue.put_nowait(prompt)
    retries = 0

    if variant == "sdk":
        import openai

        client = openai.AsyncOpenAI(api_key="bench", base_url=url + "/v1", max_retries=0, timeout=30)

        async def one(prompt: str) -> str:
            completion = await client.chat.completions.create(
                model="bench-model", messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
                max_completion_tokens=256, temperature=0.0)
            return completion.choices[0].message.content

        close = client.close
    else:
        from charter.providers import Request, RetryPolicy, get_provider, with_retries

        os.environ["OPENAI_API_KEY"] = "bench"
        provider = get_provider("openai:bench-model", base_url=url + "/v1", timeout=30)
        policy = RetryPolicy(max_attempts=10, base_delay=0.2, max_delay=2.0)

        async def one(prompt: str) -> str:
            nonlocal retries
            request = Request(system=system, messages=({"role": "user", "content": prompt},), max_tokens=256,
                              temperature=0.0)
            if variant == "provider":
                return (await provider.complete(request)).text
            result = await with_retries(lambda: provider.complete(request), policy)
            retries += result.retries
            return result.value.text

        close = provider.aclose

    done = 0

    async def worker() -> None:
        nonlocal done
        while not queue.empty():
            prompt = queue.get_nowait()
            text = await one(prompt)
            assert text, "empty reply"
            done += 1

    cpu_before, wall_before = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - wall_before
    cpu = time.process_time() - cpu_before
    await close()
    return {"variant": variant, "calls": done, "retries": retries, "wall_s": wall, "cpu_ms_per_call": 1000 * cpu / n,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.variant:  # child process: one measurement, printed as JSON
        print(json.dumps(asyncio.run(run_variant(args.variant, args.url, args.n, args.concurrency))))
        return

    ideal = math.ceil(args.n / args.concurrency) * args.latency
    print(f"{args.n} calls, concurrency {args.concurrency}, {args.latency * 1000:.0f} ms per call; "
          f"latency-bound ideal {ideal:.2f} s")
    runs: dict[str, list[dict]] = {variant: [] for variant in VARIANTS}
    servers = {False: start_server(args.latency, faults=False), True: start_server(args.latency, faults=True)}
    try:
        for _ in range(args.repeat):
            for variant in VARIANTS:
                url = servers[variant == "faults"][1]
                child = subprocess.run([sys.executable, __file__, "--variant", variant, "--url", url, "-n", str(args.n),
                                        "--concurrency", str(args.concurrency)],
                                       capture_output=True, text=True, check=True)
                runs[variant].append(json.loads(child.stdout.strip().splitlines()[-1]))
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=10)
    results = {}
    for variant in VARIANTS:
        measured = runs[variant]
        results[variant] = result = {
            "wall_s": statistics.median(r["wall_s"] for r in measured),
            "cpu_ms_per_call": statistics.median(r["cpu_ms_per_call"] for r in measured),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in measured),
            "calls": min(r["calls"] for r in measured),
            "retries": statistics.median(r["retries"] for r in measured),
        }
        walls = ", ".join(f"{r['wall_s']:.2f}" for r in measured)
        print(f"  {variant:9} wall {result['wall_s']:6.2f} s ({result['wall_s'] / ideal:4.2f}x ideal; runs {walls})  "
              f"cpu {result['cpu_ms_per_call']:5.2f} ms/call  peak RSS {result['peak_rss_mb']:6.1f} MB  "
              f"calls {result['calls']}  retries {result['retries']:g}")
    sdk = results["sdk"]
    for variant in VARIANTS[1:]:
        result = results[variant]
        print(f"  {variant} / sdk: wall {result['wall_s'] / sdk['wall_s']:.2f}x, "
              f"cpu {result['cpu_ms_per_call'] / sdk['cpu_ms_per_call']:.2f}x")


if __name__ == "__main__":
    main()
