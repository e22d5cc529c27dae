"""The static lint rules, one module per group. Each rule is one function over the IR,
registered with code, name and severity in ``lint.registry`` when its module is imported.

Codes are grouped: CH1xx structure, CH2xx conflicts between clauses, CH3xx hazard patterns
known from deployed assistants, CH4xx untestable language, CH5xx coverage.
"""

from __future__ import annotations

from . import _conflicts, _coverage, _evals, _hazards, _language, _structure, _training  # noqa: F401  (registers the rules)
from ._conflicts import RuleConflict, rule_conflicts

__all__ = ["RuleConflict", "rule_conflicts"]
