"""The linter: a registry of small rules, each with a code, a name, a severity and a doc.

    >>> from charter import load
    >>> from charter.lint import lint
    >>> for finding in lint(load("characters/assistant.yaml")):
    ...     print(finding.format())
"""

from __future__ import annotations

from typing import Iterable

from .._gc import paused_gc
from ..diagnostics import Diagnostic, sort_key
from ..spec.ir import Spec
from . import deep_codes as _deep_codes  # noqa: F401  (registers CH601 and CH602, which only deep mode reports)
from . import rules as _rules  # noqa: F401  (registers the rules)
from .registry import RULES, LintRule, find_rule, matches, unknown_selectors
from .sarif import to_sarif

__all__ = ["lint", "RULES", "LintRule", "to_sarif", "find_rule", "active_rules"]


def active_rules(spec: Spec | None = None, select: Iterable[str] | None = None,
                 ignore: Iterable[str] | None = None) -> list[LintRule]:
    """The rules a lint run applies, in code order: selected, minus ignored and the spec's `lint.ignore`."""
    select = list(select) if select else None
    skipped = [*(ignore or ()), *(spec.lint_ignore if spec is not None else ())]
    return [r for code, r in sorted(RULES.items())
            if (select is None or any(matches(s, r) for s in select))
            and not any(matches(s, r) for s in skipped)]


def lint(spec: Spec, select: Iterable[str] | None = None, ignore: Iterable[str] | None = None) -> list[Diagnostic]:
    """Run the static rules over a loaded spec; findings sorted by file, line, column and code.

    ``select`` and ``ignore`` take codes (CH201), code prefixes (CH2), names
    (conflicting-rules) or ALL; the spec's own ``lint: {ignore: [...]}`` is applied too.
    """
    # The rules allocate many small objects while the spec's are all alive; pausing the cyclic
    # collector (as load and build do) keeps each pass from walking the whole spec again.
    with paused_gc():
        found = {d for r in active_rules(spec, select, ignore) for d in r.run(spec)}
    return sorted(found, key=sort_key)
