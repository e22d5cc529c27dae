"""Charter as a library: load a spec, lint it, build every target, run its evals and report on the run.

    python examples/python_api.py [SPEC] [OUT_DIR] [--model PROVIDER:MODEL ...] [--judge PROVIDER:MODEL]

Everything the `charter` command does is a call like these, and writes the same files. The build
needs no model. The run writes OUT_DIR/run exactly as `charter run` does (run.json, results.jsonl,
summary.json), so `charter report OUT_DIR/run` and `charter compare` read it; this script writes
the report too. By default the run uses the in-process demo models (no key, no network: their
replies are canned and their scores a hash, so they show the pipeline, not a model's quality).
Name real models to evaluate them, e.g. --model anthropic:claude-sonnet-4-5 --judge openai:gpt-4.1
with ANTHROPIC_API_KEY and OPENAI_API_KEY set.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import charter
from charter.lint import lint
from charter.report import write_reports
from charter.run import RunOptions, has_failures, run_evals
from charter.targets.build import BuildOptions, build
from charter.targets.evals import compile_cases
from charter.targets.prompt import render_prompt, to_anthropic

REPO = Path(__file__).resolve().parent.parent


def main(spec_path: Path, out_dir: Path, models: tuple[str, ...], judge: str) -> int:
    try:
        spec = charter.load(spec_path)
    except charter.CharterError as err:  # every problem, each with file:line:col
        print(err, file=sys.stderr)
        return 1
    print(f"{spec.name} ({spec.id} {spec.version}): {len(spec.values)} values in priority order: "
          + ", ".join(v.id for v in spec.values))

    findings = lint(spec)
    print(f"lint: {len(findings)} finding(s)")
    for finding in findings:
        print("  " + finding.format())

    context = spec.contexts[0].id if spec.contexts else None
    prompt = render_prompt(spec, context)
    blocks = to_anthropic(prompt)
    print(f"system prompt for context {context or '(none)'}: ~{prompt.tokens():,} tokens, "
          f"{len(blocks)} Anthropic block(s), cache breakpoint on block {len(blocks)}")

    cases = compile_cases(spec)
    kinds = sorted({c["kind"] for c in cases})
    print(f"eval cases: {len(cases)} ({', '.join(kinds)})")

    result = build(spec, out_dir / "build", BuildOptions(inoculate=True))
    print(f"built {len(result.artifacts)} files into {out_dir / 'build'}; "
          f"{len(result.manifest['uncovered'])} clause(s) uncovered")

    # The run: the probes only, to keep the example quick. Run again with the same arguments and
    # only what is missing runs; the response cache sits in the output folder.
    run_dir = out_dir / "run"
    try:
        summary = run_evals(spec_path, run_dir, RunOptions(models=models, judge=judge), select=("probe",),
                            cache_path=out_dir / "cache.sqlite3")
    except charter.CharterError as err:  # a missing key, an unknown model, a run dir holding another run
        print(f"run: {err}", file=sys.stderr)
        return 2
    for model, entry in summary["models"].items():
        print(f"run: {model} scored {entry['score']} on {entry['counts']['cases']} cases, judged by {judge}")
    for path in write_reports(run_dir):
        print(f"wrote {path}")
    return 1 if has_failures(summary) else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", nargs="?", type=Path, default=REPO / "characters" / "tutor.yaml")
    parser.add_argument("out_dir", nargs="?", type=Path, help="default: a temporary folder")
    parser.add_argument("--model", action="append", metavar="PROVIDER:MODEL", help="repeatable; default: demo:tutor")
    parser.add_argument("--judge", default="demo:judge", metavar="PROVIDER:MODEL")
    args = parser.parse_args()
    models = tuple(args.model or ["demo:tutor"])
    if args.out_dir is not None:
        sys.exit(main(args.spec, args.out_dir, models, args.judge))
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(main(args.spec, Path(tmp), models, args.judge))
