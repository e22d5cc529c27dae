"""Instructions executed by whole commands, counted by valgrind: the figure that does not move with
the machine's load.

    python benchmarks/bench_instructions.py [--python PATH] [--commands help,validate,build,lint] [--workers]

Wall and CPU time on a shared VM swing two- or threefold from minute to minute (see
bench_whole.py's calibration line), which hides a 5 % change. callgrind counts the instructions a
command executes (interpreter start, imports, parsing, work, writing), and the count is the same on
a busy machine as on an idle one, for the same code, inputs and interpreter, so two versions can be
compared one run each, as compiler projects do (rustc-perf reports instructions first). The
count is not time: hashing and memory traffic cost more per instruction than the interpreter's
loop, and valgrind runs the program about fifty times slower (a 2,000-rule build takes two
minutes here). Needs valgrind on the PATH.

``--python`` runs the commands with another interpreter, e.g. a virtualenv holding an older
commit (``git worktree add /tmp/old <commit> && python -m venv /tmp/old-venv && /tmp/old-venv/bin/pip
install -e /tmp/old``), to compare versions on the same specs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from synthetic import synthetic_spec  # noqa: E402

TUTOR = REPO / "characters" / "tutor.yaml"
COMMANDS = ("help", "validate", "build", "lint")


# Without PYTHONDONTWRITEBYTECODE, as after `pip install`: with it set, a module changed since its
# .pyc was written is compiled again on every run, and the count holds the compiling.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def instructions(python: str, arguments: list[str], cwd: Path, *, workers: bool = False) -> int:
    """Instructions callgrind counts for ``python -m charter ARGUMENTS``.

    Without ``workers`` (CHARTER_NO_WORKERS set), all of the command's work, in its one process: the
    figure to compare with other versions. With them, only the command's own process: a worker
    (charter._fork) runs beside it, and valgrind counts each forked process apart, from the
    parent's count at the fork, so the figures of different processes do not add up.
    """
    env = dict(ENV) if workers else {**ENV, "CHARTER_NO_WORKERS": "1"}
    process = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", python, "-m", "charter", *arguments],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    _, stderr = process.communicate()
    found = re.search(rf"=={process.pid}== Collected : (\d+)", stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no count for {' '.join(arguments)}:\n{stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose charter is measured")
    parser.add_argument("--commands", default=",".join(COMMANDS), help=f"some of {', '.join(COMMANDS)}")
    parser.add_argument("--rules", type=int, default=2000, help="rules of the generated spec for build and lint")
    parser.add_argument("--workers", action="store_true",
                        help="also count build and lint with worker processes, in the command's own process")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    wanted = args.commands.split(",")
    unknown = sorted(set(wanted) - set(COMMANDS))
    if unknown:
        raise SystemExit(f"unknown command {unknown[0]!r}; choose from {', '.join(COMMANDS)}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = folder / f"synthetic-{args.rules}.yaml"
        spec.write_text(synthetic_spec(rules=args.rules), encoding="utf-8")
        runs = {
            "help": ["--help"],
            "validate": ["validate", str(TUTOR)],
            "build": ["build", "-q", str(spec), "-o", str(folder / "build")],
            "lint": ["lint", str(spec)],
        }
        for name in wanted:
            # Each command runs once first, uncounted, so that byte-code caches exist, as after
            # `pip install`: the counts are of runs, not of compiling.
            subprocess.run([args.python, "-m", "charter", *runs[name]], cwd=folder, capture_output=True, env=ENV)
            if name == "build":
                shutil.rmtree(folder / "build", ignore_errors=True)
            count = instructions(args.python, runs[name], folder)
            what = f"{args.rules:,} rules" if name in ("build", "lint") else ("tutor.yaml" if name == "validate" else "")
            line = f"{name:<9} {what:<13} {count / 1e9:8.3f} billion instructions"
            if args.workers and name in ("build", "lint"):
                shutil.rmtree(folder / "build", ignore_errors=True)
                own = instructions(args.python, runs[name], folder, workers=True)
                line += f"; {own / 1e9:.3f} in the command's own process when workers run beside it"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
