"""The codes of `charter lint --deep` (CH601, CH602), registered like every rule, without the deep machinery.

A static lint, `--list-rules`, `--explain` and SARIF need the two codes; only a --deep run needs
charter.lint.deep, which imports this module.
"""

from __future__ import annotations

from typing import Iterator

from ..spec.ir import Spec
from .registry import Finding, rule

CODE = "CH601"
HAZARD_CODE = "CH602"
DEFAULT_MAX_PAIRS = 200


@rule(CODE, "model-found-conflict", "warning")
def model_found_conflict(spec: Spec) -> Iterator[Finding]:
    """Two clauses that a model, given a realistic scenario where both apply, found the spec does not settle.

    What it does:
    Runs only under `charter lint --deep --model M` (a static lint reports nothing for it). For
    candidate pairs of clauses — rules that share a value or wording, rules serving different
    values, rules against tensions — the model writes a realistic scenario from the spec's own
    product and contexts where both apply, states what each clause demands, and judges whether
    the value order, strengths and tensions give one clear answer. Pairs judged `unclear` or
    `conflict` are reported at the first clause, with the second as the related location and
    the scenario, both demands, the winner the spec implies and the model's reason as evidence.
    At most 3 pairs per clause are checked, the closest first (`--max-pairs` caps the total),
    and answers are cached, so a re-run of an unchanged spec costs no calls.

    Why:
    Clauses that collide only in a concrete situation read well one by one and pass every
    static rule, yet the model in production meets the situation and picks a side at random,
    and the judge grades whichever side it reads first. A scenario makes the gap concrete
    enough to fix: narrow one clause with `when` or a condition, or add a tension whose
    resolution and examples settle it.

    Example:
    ```yaml
    rules:
      - {id: brief, text: Keep every reply under three sentences., serves: [respect-time]}
      - {id: show-steps, text: Walk the student through every step of a solution., serves: [learning]}
    ```
    Scenario: a student asks how to solve a two-step equation before a test. `brief` demands
    three sentences; `show-steps` demands every step. No tension weighs respect-time against
    learning: add one, or limit `brief` to small talk.
    """
    # The finding needs a model's judgement; deep_lint() produces it and this registration
    # gives it a code for --select/--ignore, --explain and SARIF.
    return iter(())



@rule(HAZARD_CODE, "model-found-hazard", "warning")
def model_found_hazard(spec: Spec) -> Iterator[Finding]:
    """A hazard pattern (CH301-CH306) that a model found in words the static rules do not read.

    What it does:
    Runs only under `charter lint --deep --model M`. For each hazard the static rules CH301-CH306
    look for (engagement-maximising beside distrust of authorities, unconditional validation, a
    flat denial of inner states, a companion persona, passing as human), the model is asked once
    per spec whether any of the spec's texts states it, given the hazard, wordings that state it
    and near misses that do not (`charter.lint._hazard_prompts`). Each text it names is reported,
    unless the static rule already reports it there. CH301's two halves are reported only when
    the model finds both, as the static rule does.

    Why:
    The static rules read fixed wordings; a spec can state the same hazard in words no pattern
    lists ("make sure nobody suspects there is software on the other end"). With a model
    available, such wordings are caught too. Answers are cached: a re-run of an unchanged spec
    costs no calls.

    Example:
    ```yaml
    rules:
      - {id: seamless, text: Make sure nobody suspects there is software on the other end.}
    ```
    A model reports `rule:seamless` as the claims-to-be-human hazard (CH306).
    """
    # Needs a model's answer; deep_lint() produces the findings, this registers the code.
    return iter(())
