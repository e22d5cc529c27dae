"""CH1xx structure: the value order and the contexts hold together."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator

from ...spec.ir import Spec, Tension, applies
from ..registry import Finding, rule


def _favors_edges(tensions: tuple[Tension, ...]) -> list[tuple[str, str, Tension]]:
    return [(t.favors, other, t) for t in tensions if t.favors for other in t.values if other != t.favors]


def _find_cycle(edges: list[tuple[str, str, Tension]]) -> list[tuple[str, str, Tension]] | None:
    """One cycle in the favors graph (as its edges), searching from nodes in sorted order."""
    graph: dict[str, list[tuple[str, Tension]]] = defaultdict(list)
    for source, target, tension in edges:
        graph[source].append((target, tension))
    for start in sorted(graph):
        stack = [(start, [])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for target, tension in sorted(graph.get(node, ()), key=lambda e: (e[0], e[1].id), reverse=True):
                step = path + [(node, target, tension)]
                if target == start:
                    return step
                if target not in seen:
                    seen.add(target)
                    stack.append((target, step))
    return None


@rule("CH101", "favors-cycle", "error")
def favors_cycle(spec: Spec) -> Iterator[Finding]:
    """Tensions whose `favors` put values in a circle, so no priority order holds.

    What it does:
    Builds the graph "value A wins over value B" from every tension's `favors`, once per
    deployment context (a tension counts where its `when` applies), and reports each cycle.

    Why:
    `values` are ordered and a tension may override that order for its situation. Two or
    more tensions that override it in a circle (A over B, B over C, C over A) leave the model
    with no answer when the situations meet, and the judge with no way to grade the reply.

    Example:
    ```yaml
    tensions:
      - {id: t1, values: [honesty, kindness], favors: kindness, ...}
      - {id: t2, values: [kindness, honesty], favors: honesty, ...}
    ```
    Merge the two tensions, or narrow their `situation` and `when` so they cannot both apply.
    """
    scopes: list[str | None] = [None] + [c.id for c in spec.contexts]
    reported: set[frozenset[str]] = set()
    for scope in scopes:
        active = tuple(t for t in spec.tensions if applies(t.when, scope))
        cycle = _find_cycle(_favors_edges(active))
        if cycle is None:
            continue
        members = frozenset(t.id for _, _, t in cycle)
        if members in reported:
            continue
        reported.add(members)
        steps = ", ".join(f"{a} over {b} ({t.ref})" for a, b, t in cycle)
        where = f" in context {scope!r}" if scope else ""
        first = cycle[0][2]
        yield Finding(first.loc, f"tensions' `favors` form a priority cycle{where}: {steps}",
                      tuple(t.loc for _, _, t in cycle[1:] if t is not first))


@rule("CH102", "self-tension", "error")
def self_tension(spec: Spec) -> Iterator[Finding]:
    """A tension between a value and itself.

    What it does:
    Reports a tension whose `values` name fewer than two different values.

    Why:
    A tension resolves a pull between two values. With one value there is nothing to
    trade off; the clause usually hides a typo in a value id, or a rule written as a tension.
    The schema rejects a repeated id in one file; this catches the same value reached twice
    through `extends` or an IR built by hand.

    Example:
    `values: [honesty, honesty]` — name the second value, or turn the tension into a rule.
    """
    for tension in spec.tensions:
        if len(set(tension.values)) < 2:
            yield Finding(tension.loc, f"{tension.ref} is between {tension.values[0] if tension.values else 'no value'!s} "
                                       "and itself; a tension needs two different values")


@rule("CH103", "unused-context", "warning")
def unused_context(spec: Spec) -> Iterator[Finding]:
    """A deployment context that no clause, example or probe mentions.

    What it does:
    Reports every entry of `contexts` that no rule, trait or tension names in `when` and no
    example or probe names as its `context`.

    Why:
    The build renders one system prompt per context. A context nothing refers to renders the
    same prompt as no context at all, which usually means a `when` was forgotten or misspelt.

    Example:
    ```yaml
    contexts:
      child: {description: The user is a child.}   # no clause says `when: [child]`
    ```
    """
    used: set[str] = set()
    for clause in (*spec.rules, *spec.traits, *spec.tensions):
        used.update(clause.when)
    used.update(e.context for e in spec.all_examples() if e.context)
    used.update(p.context for p in spec.probes if p.context)
    for context in spec.contexts:
        if context.id not in used:
            yield Finding(context.loc, f"context {context.id!r} is defined but no clause, example or probe uses it")


@rule("CH104", "unused-value", "warning")
def unused_value(spec: Spec) -> Iterator[Finding]:
    """A value that no rule serves, no tension weighs and nothing targets.

    What it does:
    Reports a value that is not in any rule's `serves`, any tension's `values`, nor any
    example's or probe's `targets`.

    Why:
    A value only shapes behaviour through the rules that serve it and the tensions that weigh
    it; on its own it is a slogan in the prompt that no eval measures.

    Example:
    ```yaml
    values:
      - {id: curiosity, description: ...}   # nothing serves or targets value:curiosity
    ```
    """
    used: set[str] = set()
    for r in spec.rules:
        used.update(r.serves)
    for tension in spec.tensions:
        used.update(tension.values)
    for target in (*(t for e in spec.examples for t in e.targets), *(t for p in spec.probes for t in p.targets)):
        if target.startswith("value:"):
            used.add(target.partition(":")[2])
    for value in spec.values:
        if value.id not in used:
            yield Finding(value.loc, f"{value.ref} is not served by any rule, weighed by any tension, "
                                     "or targeted by any example or probe")
