"""Clause coverage: which eval cases test which clause. One function for the build manifest, lint
CH501 and the report, so they can never disagree about whether a clause is tested.

Only cases a person or a filter vouched for count: the author's examples, tension examples,
probes (top-level and on clauses) and drift scripts, and cases `charter generate evals` wrote and
kept (``-gen-`` in the id). Charter's built-in drift scripts and the self-talk case test the
character as a whole, not one clause, so they cover nothing. A case covers the clauses it targets
and the values behind them (what a rule serves, what a tension weighs): its ``refs``.
"""

from __future__ import annotations

from typing import Iterable

from ..spec.ir import Spec

AUTHORED_KINDS = ("example", "tension", "probe")
GENERATED_MARK = "-gen-"


def counts_for_coverage(case: dict) -> bool:
    """Whether ``case`` was authored, or generated and kept by the realism filter."""
    item = str(case.get("id", "")).rsplit("/", 1)[-1]
    if GENERATED_MARK in item:
        return True
    if case.get("kind") == "drift":
        return (case.get("drift") or {}).get("source") == "spec"
    return case.get("kind") in AUTHORED_KINDS


def clause_coverage(spec: Spec, cases: Iterable[dict]) -> dict[str, list[str]]:
    """Every clause ref of ``spec`` (in spec order) -> the sorted ids of the counted cases that cite it."""
    table: dict[str, set[str]] = {clause.ref: set() for clause in spec.clauses()}
    for case in cases:
        if not counts_for_coverage(case):
            continue
        for ref in case.get("refs") or case.get("targets") or ():
            if ref in table:
                table[ref].add(case["id"])
    return {ref: sorted(ids) for ref, ids in table.items()}


def uncovered(coverage: dict[str, list[str]]) -> list[str]:
    """The clause refs no counted case cites, in spec order."""
    return [ref for ref, ids in coverage.items() if not ids]
