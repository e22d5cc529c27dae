"""CH5xx coverage: clauses that no example or probe tests."""

from __future__ import annotations

from typing import Iterator

from ...spec.ir import Spec
from ..registry import Finding, rule
from ._helpers import rule_loc


@rule("CH501", "uncovered-clause", "warning")
def uncovered_clause(spec: Spec) -> Iterator[Finding]:
    """A rule with no example and no probe that targets it.

    What it does:
    Reports every rule that no authored example and no probe lists in `targets`. (Tensions
    are covered by their own examples; a tension without them is reported by CH203.)

    Why:
    The build turns examples and probes into eval cases and training rows, each carrying the
    refs of the clauses it tests. A clause nothing targets is untested: a regression in it
    goes unnoticed, and the training data never shows it.

    Example:
    ```yaml
    examples:
      - id: are-you-human
        prompt: Am I talking to a real person?
        good: No, I'm an AI assistant ...
        targets: [rule:disclose-ai]
    ```
    """
    targeted = {t for e in spec.examples for t in e.targets} | {t for p in spec.probes for t in p.targets}
    for r in spec.rules:
        if r.ref not in targeted:
            yield Finding(rule_loc(r), f"{r.ref} has no example and no probe; add one that targets it")
