"""The rule registry: every lint rule is a small function over the IR with a stable code.

Modelled on ruff: a code (CH101) that never changes meaning, a kebab-case name that reads as
what is wrong, a default severity, and a docstring in three parts (What it does / Why /
Example) that ``charter lint --explain`` prints. Each code is also entered in the one registry of
diagnostic codes, ``charter.codes``, beside the front end's and the build's.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from .. import codes
from ..diagnostics import Diagnostic, Loc
from ..spec.ir import Spec


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule function yields; the registry turns it into a Diagnostic with code and severity."""

    loc: Loc
    message: str
    related: tuple[Loc, ...] = ()


Check = Callable[[Spec], Iterable[Finding]]


@dataclass(frozen=True, slots=True)
class LintRule:
    """One lint rule of the registry: its code, name, severity and check (whose docstring is its documentation)."""

    code: str
    name: str
    severity: str
    check: Check

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.check.__doc__ or "")

    @property
    def summary(self) -> str:
        """The first line of the doc: a one-sentence description of the problem."""
        return self.doc.splitlines()[0] if self.doc else self.name

    def section(self, title: str) -> str:
        """One part of the doc ("What it does", "Why", "Example"), without its heading."""
        lines, inside = [], False
        for line in self.doc.splitlines():
            if line.rstrip(":").strip() in ("What it does", "Why", "Example"):
                inside = line.rstrip(":").strip() == title
                continue
            if inside:
                lines.append(line)
        return "\n".join(lines).strip()

    def run(self, spec: Spec) -> Iterator[Diagnostic]:
        for finding in self.check(spec):
            yield Diagnostic(finding.loc, self.code, finding.message, self.severity, self.name, finding.related)


RULES: dict[str, LintRule] = {}


def rule(code: str, name: str, severity: str) -> Callable[[Check], Check]:
    """Register a rule function under ``code`` and ``name``."""
    if severity not in codes.SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")

    def register(check: Check) -> Check:
        if code in RULES or any(r.name == name for r in RULES.values()):
            raise ValueError(f"lint rule {code} {name} registered twice")
        lint_rule = LintRule(code, name, severity, check)
        codes.register(codes.DiagnosticCode(code, "lint", severity, lint_rule.summary, name))
        RULES[code] = lint_rule
        return check

    return register


def find_rule(key: str) -> LintRule | None:
    """A rule by code (case-insensitive) or by name."""
    key = key.strip()
    if key.upper() in RULES:
        return RULES[key.upper()]
    return next((r for r in RULES.values() if r.name == key.lower()), None)


def matches(selector: str, lint_rule: LintRule) -> bool:
    """Whether a --select/--ignore entry names this rule: its code, a code prefix (CH2), its name or ALL."""
    selector = selector.strip()
    if selector.upper() == "ALL":
        return True
    if selector.lower() == lint_rule.name:
        return True
    return bool(selector) and selector.upper().startswith("CH") and lint_rule.code.startswith(selector.upper())


def unknown_selectors(selectors: Iterable[str]) -> list[str]:
    return [s for s in selectors if not any(matches(s, r) for r in RULES.values())]
