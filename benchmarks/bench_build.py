"""`charter build` speed and memory: a generated 2,000-rule spec, and the bundled characters.

    python benchmarks/bench_build.py

Goal (issue 3): the generated spec of 2,000 rules, 200 tensions and 2,000 examples builds in
under 2 s with peak memory under 300 MB. Each figure is the best of a few runs in a fresh child
process, so import time is excluded and memory is the child's own peak RSS.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from synthetic import synthetic_spec  # noqa: E402

CHILD = r"""
import json, resource, sys, time
import charter
from charter.targets.build import build
paths, out = sys.argv[1:-1], sys.argv[-1]
started = time.perf_counter()
for i, path in enumerate(paths):
    spec = charter.load(path)
    loaded = time.perf_counter()
    build(spec, f"{out}/{i}")
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(paths: list[Path], runs: int = 3) -> dict:
    best = None
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            result = subprocess.run([sys.executable, "-c", CHILD, *map(str, paths), out],
                                    capture_output=True, text=True, check=True)
        figures = json.loads(result.stdout)
        if best is None or figures["seconds"] < best["seconds"]:
            best = figures
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "synthetic.yaml"
        spec.write_text(synthetic_spec(rules=2_000, tensions=200, examples=2_000))
        size = spec.stat().st_size
        big = measure([spec])
    characters = sorted((REPO / "characters").glob("*.yaml"))
    bundled = measure(characters)
    print(f"generated spec (2,000 rules, 200 tensions, 2,000 examples; {size / 1e6:.1f} MB): "
          f"load+build {big['seconds']:.2f} s, peak RSS {big['peak_rss_mb']:.0f} MB   (goal: < 2 s, < 300 MB)")
    print(f"bundled characters ({len(characters)} specs): load+build {bundled['seconds']:.2f} s, "
          f"peak RSS {bundled['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
