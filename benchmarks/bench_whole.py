"""Whole-process speed and memory, as a user measures it: `charter build`, `lint`, `validate`, `--help`.

    python benchmarks/bench_whole.py [--runs 5] [--sizes 2000,16000,50000] [--no-10mb] [--quick]

Each figure is one command in a fresh interpreter (start-up, imports, parsing, work, writing), run
``--runs`` times: the best and the median wall time, the best run's own CPU time (user + system)
and the largest peak RSS from ``wait4`` (specs are written by child processes: a child's peak RSS
counts what its parent held when it forked, so this process stays small). On a busy machine wall
time is inflated by waiting for a core; CPU time is the steadier figure. On a shared VM both swing
with the host: the calibration line (a fixed pure-Python loop timed before and after) says how fast
the machine was while the figures were taken. Byte-code caches are allowed (as after ``pip install``), so imports are timed as users pay
them; the first run of each command warms them and is not counted.

Specs come from benchmarks/synthetic.py: N rules, N/10 tensions, N examples (2,000 rules is about
0.9 MB), the "10 MB" spec is the same shape at 22,222 rules, and a spec whose one rule text is a
10 MB run of letters without punctuation checks that the text passes stay linear.

Goals (issue 14): build and lint of the 2,000-rule spec under 1 s each; `charter --help` and
`charter validate` of a bundled character under 0.3 s; lint of 50,000 rules under 30 s; the 10 MB
spec built and linted in under 15 s and 300 MB each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

CHARTER = [sys.executable, "-m", "charter"]
TUTOR = REPO / "characters" / "tutor.yaml"


def long_text_spec(size: int = 10_000_000) -> str:
    """A valid spec whose one rule text is ``size`` letters and spaces with no punctuation at all."""
    words = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor " * (size // 77 + 1))[:size]
    return (f"charter: 1\nid: long-text\nname: Long text\nsummary: One rule of {size:,} characters.\n"
            "values:\n  - {id: honesty, description: I say what I believe is true.}\n"
            f"rules:\n  - id: long\n    text: Never {words.strip()}\n    serves: [honesty]\n")


WRITER = r"""
import sys
sys.path.insert(0, sys.argv[1])
from bench_whole import long_text_spec
from synthetic import synthetic_spec
path, kind, rules = sys.argv[2], sys.argv[3], int(sys.argv[4])
if kind == "long":
    text = long_text_spec()
elif kind == "10mb":
    text = synthetic_spec(rules=rules, tensions=rules // 10, examples=rules)
else:
    text = synthetic_spec(rules=rules)
open(path, "w", encoding="utf-8").write(text)
"""


def write_spec(path: Path, kind: str, rules: int = 0) -> None:
    """Writes a generated spec from a child process: Linux reports a child's peak RSS as at least what
    its parent held when it forked, so this process stays small and the figures stay the commands' own."""
    subprocess.run([sys.executable, "-c", WRITER, str(HERE), str(path), kind, str(rules)], check=True)


def timed(command: list[str], cwd: Path) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak RSS in MB and exit status of one child process."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode


def runs_of(command: list[str], cwd: Path, runs: int, clean: Path | None = None) -> list[tuple[float, float, float, int]]:
    """Every run's figures, in the order run."""
    figures = []
    for _ in range(runs):
        if clean is not None:
            shutil.rmtree(clean, ignore_errors=True)
        figures.append(timed(command, cwd))
    return figures


def summary(figures: list[tuple[float, float, float, int]]) -> tuple[float, float, float, float, int]:
    """Best wall time, median wall time, the best run's CPU time, the largest peak RSS, the exit status."""
    best = min(figures)
    return (best[0], statistics.median(f[0] for f in figures), best[1], max(f[2] for f in figures),
            max(f[3] for f in figures))


CALIBRATION = "sum(i * i for i in range(3_000_000))"


def calibration() -> float:
    """Seconds of a fixed pure-Python loop in a fresh interpreter, best of 3: how fast this machine was
    when the figures were taken (a shared 2-core VM's speed can swing two- or threefold from minute
    to minute, so compare figures taken beside the same calibration)."""
    command = [sys.executable, "-c", f"import time; s = time.perf_counter(); {CALIBRATION}; print(time.perf_counter() - s)"]
    return min(float(subprocess.run(command, capture_output=True, text=True, check=True).stdout) for _ in range(3))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (specs over 5 MB: one); best and median are shown")
    parser.add_argument("--sizes", default="2000,16000,50000", help="rule counts of the generated specs")
    parser.add_argument("--no-10mb", action="store_true", help="skip the 10 MB specs")
    parser.add_argument("--quick", action="store_true", help="only --help, validate and the first size")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    if args.quick:
        sizes, args.no_10mb = sizes[:1], True
    rows: list[tuple[str, str, tuple[float, float, float, float, int], str]] = []
    speed_before = calibration()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        timed([*CHARTER, "--help"], folder)  # warm byte-code caches; not counted
        specs: list[tuple[str, Path]] = []
        for size in sizes:
            path = folder / f"synthetic-{size}.yaml"
            write_spec(path, "rules", size)
            specs.append((f"{size:,} rules", path))
        if not args.no_10mb:
            rules = 22_222
            path = folder / "synthetic-10mb.yaml"
            write_spec(path, "10mb", rules)
            specs.append((f"{rules:,} rules", path))
            path = folder / "long-text.yaml"
            write_spec(path, "long")
            specs.append(("10 MB rule text", path))
        rows.append(("--help", "", summary(runs_of([*CHARTER, "--help"], folder, args.runs)), "0.3 s"))
        rows.append(("validate", "tutor.yaml", summary(runs_of([*CHARTER, "validate", str(TUTOR)], folder, args.runs)),
                     "0.3 s"))
        for label, path in specs:
            megabytes = path.stat().st_size / 1e6
            what = f"{label} ({megabytes:.1f} MB)"
            runs = 1 if megabytes > 5 else args.runs
            ten_megabytes = megabytes > 9.5
            goal_build = "15 s, 300 MB" if ten_megabytes else ("1 s" if label == "2,000 rules" else "")
            goal_lint = "15 s, 300 MB" if ten_megabytes else {"2,000 rules": "1 s", "50,000 rules": "30 s"}.get(label, "")
            out = folder / "build"
            rows.append(("build", what, summary(runs_of([*CHARTER, "build", "-q", str(path), "-o", str(out)], folder, runs,
                                                        out)), goal_build))
            rows.append(("lint", what, summary(runs_of([*CHARTER, "lint", str(path)], folder, runs)), goal_lint))
    speed_after = calibration()
    print(f"whole process, {args.runs} runs per figure (one for specs over 5 MB); {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; calibration loop {speed_before:.3f} s before, {speed_after:.3f} s after")
    print(f"{'command':<9} {'input':<32} {'best s':>7} {'median':>7} {'CPU s':>7} {'RSS MB':>7} {'exit':>4}  goal")
    for command, what, (best, median, cpu, rss, status), goal in rows:
        print(f"{command:<9} {what:<32} {best:7.2f} {median:7.2f} {cpu:7.2f} {rss:7.0f} {status:>4}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
