"""Does the training data teach the character, or a proxy? Three checks on `charter build` output (issue 12).

    python benchmarks/data_validity.py              # builds the bundled characters, then measures
    python benchmarks/data_validity.py DIR [DIR...] # measures existing build directories (one per spec),
                                                    # e.g. tests/golden/* of an older commit

1. Context-bound rows with no context: training rows citing a clause restricted with `when:`
   whose system message carries neither the context line nor the context's compiled prompt
   (a model trained on them learns the behaviour in every context). Goal 0.
2. TRL SFT rows that train an earlier assistant turn: rows in `messages` form (TRL trains every
   assistant message there) with an assistant turn before the final reply. Goal 0.
3. DPO pairs whose chosen reply has more than 1.5x the rejected reply's words. Goal <= 50 %.

Only the default (non-inoculated) TRL files are read; clause contexts come from the specs in
characters/, matched by the build's spec id.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "compiler"))

import charter  # noqa: E402
from charter.length_ratio import MAX_LENGTH_RATIO, length_ratio  # noqa: E402
from charter.targets.build import BuildOptions, build  # noqa: E402

CHARACTERS = REPO / "characters"


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _system_text(line: dict) -> str | None:
    messages = line.get("prompt") or line.get("messages") or []
    return messages[0]["content"] if messages and messages[0]["role"] == "system" else None


def measure(build_dir: Path) -> dict:
    manifest = json.loads((build_dir / "manifest.json").read_text(encoding="utf-8"))
    spec = charter.load(CHARACTERS / f"{manifest['spec']['id']}.yaml")
    contexts = {c.id: " ".join(c.description.split()) for c in spec.contexts}
    bound_clauses = {c.ref: c.when for c in spec.clauses() if getattr(c, "when", ())}
    data = build_dir / "data"
    bound = without_context = 0
    for kind in ("sft", "dpo"):
        for line, meta in zip(_read(data / f"{kind}.trl.jsonl"), _read(data / f"{kind}.trl.meta.jsonl")):
            whens = [bound_clauses[r] for r in meta["refs"] if r in bound_clauses]
            if not whens:
                continue
            bound += 1
            system = _system_text(line) or ""
            # Carries its context when the system message describes one of the contexts the clause is bound to.
            if not any(contexts[c] in system for when in whens for c in when if c in contexts):
                without_context += 1
    sft = _read(data / "sft.trl.jsonl")
    trains_history = sum(1 for line in sft if "messages" in line
                         and any(m["role"] == "assistant" for m in line["messages"][:-1]))
    ratios = [length_ratio(line["chosen"][0]["content"], line["rejected"][0]["content"])
              for line in _read(data / "dpo.trl.jsonl")]
    return {"spec": spec.id, "bound_rows": bound, "bound_rows_without_context": without_context,
            "trl_sft_rows": len(sft), "trl_sft_rows_training_history": trains_history,
            "dpo_pairs": len(ratios), "dpo_pairs_skewed": sum(r > MAX_LENGTH_RATIO for r in ratios)}


def main(argv: list[str]) -> None:
    if argv:
        results = [measure(Path(d)) for d in argv]
    else:
        with tempfile.TemporaryDirectory() as tmp:
            results = [measure(build(charter.load(p), Path(tmp) / p.stem, BuildOptions()).out_dir)
                       for p in sorted(CHARACTERS.glob("*.yaml"))]
    print(f"{'spec':<14} {'bound rows w/o context':>24} {'TRL SFT rows training history':>30} "
          f"{'DPO pairs chosen > ' + str(MAX_LENGTH_RATIO) + 'x':>26}")
    for r in results:
        print(f"{r['spec']:<14} {r['bound_rows_without_context']:>17} of {r['bound_rows']:<4} "
              f"{r['trl_sft_rows_training_history']:>23} of {r['trl_sft_rows']:<4} "
              f"{r['dpo_pairs_skewed']:>19} of {r['dpo_pairs']:<4}")
    total = {k: sum(r[k] for r in results) for k in results[0] if k != "spec"}
    share = total["dpo_pairs_skewed"] / total["dpo_pairs"] if total["dpo_pairs"] else 0.0
    print(f"{'total':<14} {total['bound_rows_without_context']:>17} of {total['bound_rows']:<4} "
          f"{total['trl_sft_rows_training_history']:>23} of {total['trl_sft_rows']:<4} "
          f"{total['dpo_pairs_skewed']:>19} of {total['dpo_pairs']:<4} ({share:.0%})")
    print("goals: 0 bound rows without context; 0 TRL SFT rows training history; <= 50 % skewed DPO pairs")


if __name__ == "__main__":
    main(sys.argv[1:])
