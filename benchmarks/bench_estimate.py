"""The dry-run estimate against the actual token counts of the same run, on the fake server.

    python benchmarks/bench_estimate.py [SPEC] [--replies typical|short]

Runs ``estimate_run`` (what ``charter run --dry-run`` prints) and then the run itself with
``run_evals`` against the fake server (one OpenAI-format model, one Anthropic-format model, an
OpenAI-format judge), and prints, per model, estimated against actual: calls, input tokens,
prompt-cache reads and output tokens. The fake server counts tokens with the project's estimator,
so input tokens compare the requests the estimate builds with the requests the run sent.

``--replies typical``: the models answer with replies of the estimate's typical length and the
judge with a verdict grading every clause, so output tokens should agree too; ``short``: the fake
server's own short echo replies and a one-line verdict, so the output (and, in multi-turn cases,
the input that carries earlier replies) is over-estimated, as it would be for a terse model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fakeserver import FakeServer, ModelScript  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", nargs="?", default=str(Path(__file__).resolve().parent.parent / "characters" / "tutor.yaml"))
    parser.add_argument("--replies", choices=("typical", "short"), default="typical")
    args = parser.parse_args()

    from charter.run import RunOptions, load_plan, run_evals
    from charter.run.estimate import estimate_run, typical_reply, typical_verdict

    plan = load_plan(args.spec)
    contexts = {case["context"] for case in plan.cases}
    clauses = sorted({ref for c in contexts for ref in plan.monitor(c).clause_refs})
    if args.replies == "typical":
        verdict = json.loads(typical_verdict(plan.monitor(sorted(contexts, key=str)[0])))
        verdict["clauses"] = {ref: "pass" for ref in clauses}
        model_script, judge_script = ModelScript(reply=typical_reply()), ModelScript(reply=json.dumps(verdict))
    else:
        short = json.dumps({"clauses": {}, "violated": [], "reason": "Fine.", "score": 8})
        model_script, judge_script = ModelScript(), ModelScript(reply=short)
    options = RunOptions(models=("openai:tutor", "anthropic:tutor"), judge="openai:judge")
    estimate = estimate_run(plan, options)
    with tempfile.TemporaryDirectory(prefix="bench-estimate-") as folder, \
            FakeServer({"tutor": model_script, "judge": judge_script}) as server:
        os.environ.update({"OPENAI_API_KEY": "bench", "ANTHROPIC_API_KEY": "bench", "XDG_CACHE_HOME": folder,
                           "OPENAI_BASE_URL": server.openai_base_url, "ANTHROPIC_BASE_URL": server.anthropic_base_url})
        summary = run_evals(plan, Path(folder) / "run", options, use_cache=False)
    actual: dict[str, dict] = {}
    for model, entry in summary["models"].items():
        for role, who in (("model", model), ("judge", options.judge)):
            tally = actual.setdefault(who, {})
            for key, value in entry["usage"][role].items():
                tally[key] = tally.get(key, 0) + value
    print(f"{plan.spec.id}: {len(plan.cases)} cases, models {', '.join(options.models)}, judge {options.judge}; "
          f"replies: {args.replies}")
    print(f"{'model':<18} {'':>9} {'calls':>7} {'input':>10} {'cache reads':>12} {'output':>9}")
    for model in sorted(estimate["models"]):
        est, act = estimate["models"][model], actual[model]
        for label, row in (("estimated", est), ("actual", act)):
            print(f"{model:<18} {label:>9} {row['calls']:>7,} {row['input_tokens']:>10,} "
                  f"{row['cache_read_tokens']:>12,} {row['output_tokens']:>9,}")
        ratio = lambda key: f"{est[key] / act[key]:.2f}" if act[key] else "n/a"  # noqa: E731
        print(f"{'':<18} {'est/act':>9} {ratio('calls'):>7} {ratio('input_tokens'):>10} "
              f"{ratio('cache_read_tokens'):>12} {ratio('output_tokens'):>9}")


if __name__ == "__main__":
    main()
