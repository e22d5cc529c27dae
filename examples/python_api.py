"""Charter as a library: load a spec, lint it, render one prompt, build every target.

    python examples/python_api.py [SPEC] [OUT_DIR]

Everything the `charter` command does is a call like these; no model or API key is needed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import charter
from charter.lint import lint
from charter.targets.build import BuildOptions, build
from charter.targets.evals import compile_cases
from charter.targets.prompt import render_prompt, to_anthropic

REPO = Path(__file__).resolve().parent.parent


def main(spec_path: Path, out_dir: Path) -> int:
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

    result = build(spec, out_dir, BuildOptions(inoculate=True))
    print(f"built {len(result.artifacts)} files into {out_dir}; "
          f"{len(result.manifest['uncovered'])} clause(s) uncovered")
    return 0


if __name__ == "__main__":
    spec_arg = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "characters" / "tutor.yaml"
    if len(sys.argv) > 2:
        sys.exit(main(spec_arg, Path(sys.argv[2])))
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(main(spec_arg, Path(tmp) / "build"))
