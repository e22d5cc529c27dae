"""The runner against a hidden rate limit: how many calls are refused, and how close to the limit's pace.

    python benchmarks/bench_ratelimit.py [-n 1000] [--limit 300] [--window 30] [--concurrency 16]
                                         [--latency 0.05] [--fixed]

1,000 single-turn cases (as in bench_runner.py: one model reply and one judge verdict each) run
with ``charter.run.run_evals`` against the fake server in its own process, enforcing a per-model
limit the client is not told: at most ``--limit`` requests in any ``--window`` seconds (a sliding
window). The issue's limit is 300 requests per minute; the window is scaled down to 30 s by default
(the same shape at twice the pace) to keep the run near two minutes. Not further: on a shared
2-core machine the runner and the server together manage about 35 calls a second, so at 300 per
6 s (100 calls a second for the two models) the CPU, not the limit, would set the pace. The
model and the judge are two models, each with its own limit, as on the real APIs. The wall time
includes ``run_evals``' own estimate pass (about a second for 1,000 cases).

Reported: the share of requests answered 429 (from the server's log), and the wall time against
the limit's ideal, ``calls per model x window / limit`` (the sustained pace; a sliding window also
lets one window's worth through at once at the start, so the true floor is a little lower: also
printed). ``--fixed`` turns adaptive concurrency off (``CallOptions(adaptive=False)``) for contrast.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import fakeserver  # noqa: E402
from bench_runner import verdict, write_inputs  # noqa: E402


def start_server(latency: float, limit: int, window: float) -> tuple[subprocess.Popen, str]:
    return fakeserver.start("--latency", str(latency), "--reply", verdict(), "--hidden-limit", f"{limit}/{window}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=300, help="requests per window, per model")
    parser.add_argument("--window", type=float, default=30.0, help="seconds (60 is the real per-minute limit)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--fixed", action="store_true", help="adaptive concurrency off, for contrast")
    args = parser.parse_args()

    from charter.run import Progress, RunOptions, load_plan, run_evals
    import charter.providers.openai  # noqa: F401  (imported before the clock starts)

    process, url = start_server(args.latency, args.limit, args.window)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ratelimit-") as folder:
            work = Path(folder)
            spec, evals = write_inputs(work, args.n)
            os.environ.update({"OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": url + "/v1",
                               "XDG_CACHE_HOME": str(work / "xdg")})
            plan = load_plan(evals, spec)
            options = RunOptions(models=("openai:bench-model",), judge="openai:bench-judge",
                                 concurrency=args.concurrency)
            if args.fixed:
                original = RunOptions.call_options.fget
                RunOptions.call_options = property(lambda self: replace(original(self), adaptive=False))
            progress = Progress()
            started = time.perf_counter()
            summary = run_evals(plan, work / "run", options, use_cache=False, progress=progress)
            wall = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=10)
    per_model = args.n  # each model gets one call per case
    ideal = per_model * args.window / args.limit
    floor = max(0, math.ceil(per_model / args.limit) - 1) * args.window
    counts = summary["models"]["openai:bench-model"]["counts"]
    sent = progress.calls
    limited = progress.retries  # every retry here follows a 429: the server injects no other fault
    print(f"{args.n} cases = {2 * args.n} calls ({per_model} per model), hidden limit {args.limit} requests "
          f"per {args.window:g} s per model, concurrency ceiling {args.concurrency}, "
          f"{args.latency * 1000:.0f} ms per call, adaptive concurrency {'off' if args.fixed else 'on'}")
    print(f"  cases passed: {counts['passed']} of {args.n}; errored {counts['errored']}")
    print(f"  requests sent: {sent}; answered 429: {limited} ({limited / sent:.1%} of requests)")
    print(f"  wall time: {wall:.1f} s; the limit's ideal {ideal:.1f} s ({wall / ideal:.2f}x)"
          + (f"; with the first window's burst {floor:.1f} s ({wall / floor:.2f}x)" if floor else ""))


if __name__ == "__main__":
    main()
