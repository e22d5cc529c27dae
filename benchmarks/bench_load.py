"""Front-end speed: load time against spec size, up to 10 MB.

    python benchmarks/bench_load.py

Issue 2 asks that a 10 MB spec load in time linear in its size. Prints, for generated specs
of about 1, 2.5, 5 and 10 MB, the best-of-3 time of `charter.load` (read, parse with
positions, schema, references, IR) and the throughput; linear means a flat MB/s column.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import charter  # noqa: E402
from synthetic import synthetic_spec  # noqa: E402

# synthetic_spec(rules=n, tensions=n/10, examples=n) is about 450 bytes per rule.
SIZES_MB = (1, 2.5, 5, 10)


def best_of(path: Path, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        charter.load(path)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    print(f"{'size':>8}  {'rules':>7}  {'load':>8}  {'MB/s':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for target in SIZES_MB:
            rules = int(target * 1e6 / 450)
            path = Path(tmp) / f"spec-{target}.yaml"
            path.write_text(synthetic_spec(rules=rules, tensions=rules // 10, examples=rules))
            size = path.stat().st_size / 1e6
            seconds = best_of(path, runs=3 if target < 10 else 2)
            print(f"{size:7.1f}M  {rules:7,}  {seconds:7.2f}s  {size / seconds:6.2f}")


if __name__ == "__main__":
    main()
