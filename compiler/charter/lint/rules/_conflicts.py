"""CH2xx conflicts: rules that contradict each other, and tensions that do not settle them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator

from ...spec.ir import Rule, Spec, Tension
from ..registry import Finding, rule
from ..screen import Pattern
from ..text import Directive, contradicting_pairs, directives_of
from ._helpers import applies_wherever, contexts_overlap, quote, rule_loc


@dataclass(frozen=True, slots=True)
class RuleConflict:
    """Two rules whose directives contradict each other, with the directives found."""

    first: Rule
    second: Rule
    first_directive: Directive
    second_directive: Directive


_CONFLICT_CACHE: dict[int, tuple[Spec, list[RuleConflict]]] = {}


def rule_conflicts(spec: Spec) -> list[RuleConflict]:
    """Every pair of rules that say do and don't about the same action in overlapping contexts.

    The directives of all rules go through one ``contradicting_pairs`` index, so only pairs
    that share an anchor concept and a rarer one are compared: the cost grows with the rules
    and the related pairs, not with n².
    """
    cached = _CONFLICT_CACHE.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    owners: list[int] = []
    read: list[Directive] = []
    for index, read_here in enumerate(directives_of([r.text for r in spec.rules])):
        # A directive repeated in one rule adds no pair; dropping it keeps a long text cheap.
        for directive in {(d.positive, d.head, d.concepts): d for d in read_here}.values():
            owners.append(index)
            read.append(directive)
    whens = [frozenset(r.when) for r in spec.rules]
    found: dict[tuple[int, int], tuple[int, int]] = {}
    for a, b in contradicting_pairs(read):
        first, second = owners[a], owners[b]
        if first == second or (whens[first] and whens[second] and whens[first].isdisjoint(whens[second])):
            continue
        key = (first, second) if first < second else (second, first)
        positions = (a, b) if first < second else (b, a)
        if key not in found or positions < found[key]:
            found[key] = positions  # the earliest directives of the pair, so the choice does not depend on order
    result = [RuleConflict(spec.rules[i], spec.rules[j], read[found[i, j][0]], read[found[i, j][1]])
              for i, j in sorted(found)]
    _CONFLICT_CACHE[id(spec)] = (spec, result)
    if len(_CONFLICT_CACHE) > 16:
        _CONFLICT_CACHE.pop(next(iter(_CONFLICT_CACHE)))
    return result


def _rank(spec: Spec, r: Rule) -> int:
    """The priority of the highest value a rule serves (1 is the highest); rules serving none rank last."""
    priority = _priorities(spec)
    return min((priority[v] for v in r.serves if v in priority), default=len(spec.values) + 1)


def _priorities(spec: Spec) -> dict[str, int]:
    cached = _PRIORITY_CACHE.get(id(spec))
    if cached is None or cached[0] is not spec:
        cached = _PRIORITY_CACHE[id(spec)] = (spec, {v.id: v.priority for v in spec.values})
        if len(_PRIORITY_CACHE) > 16:
            _PRIORITY_CACHE.pop(next(iter(_PRIORITY_CACHE)))
    return cached[1]


_PRIORITY_CACHE: dict[int, tuple[Spec, dict[str, int]]] = {}


def _shadowing(spec: Spec, conflict: RuleConflict) -> tuple[Rule, Rule] | None:
    """(hard rule, shadowed rule) when a hard rule serving a higher value always wins the conflict."""
    for hard, other in ((conflict.first, conflict.second), (conflict.second, conflict.first)):
        if hard.strength == "hard" and other.strength != "hard" and applies_wherever(hard.when, other.when) \
                and _rank(spec, hard) < _rank(spec, other):
            return hard, other
    return None


def _tensions_by_pair(spec: Spec) -> dict[frozenset[str], list[Tension]]:
    """Tensions indexed by each pair of different values they weigh."""
    index: dict[frozenset[str], list[Tension]] = defaultdict(list)
    for tension in spec.tensions:
        for x in tension.values:
            for y in tension.values:
                if x < y:
                    index[frozenset((x, y))].append(tension)
    return index


def _covering_tension(by_pair: dict[frozenset[str], list[Tension]], a: Rule, b: Rule) -> Tension | None:
    """A tension that weighs a value of each rule against the other's, where both rules apply."""
    for x in a.serves:
        for y in b.serves:
            for tension in by_pair.get(frozenset((x, y)), ()) if x != y else ():
                if contexts_overlap(tension.when, a.when) and contexts_overlap(tension.when, b.when):
                    return tension
    return None


@rule("CH201", "conflicting-rules", "warning")
def conflicting_rules(spec: Spec) -> Iterator[Finding]:
    """Two rules that tell the character to do and not to do the same thing, with no tension to settle it.

    What it does:
    Reads each rule's directives from its text — the polarity from always / must / do against
    never / must not / don't / avoid / refuse, the action from the words that follow, stemmed,
    with stop words dropped and synonyms and antonyms normalised (agree / concede against
    disagree, reveal / disclose / say against conceal / hide / deny). Two rules conflict when
    their polarities are opposite about substantially the same action, their `when` contexts
    overlap, and no tension names a value of each. The finding points at the first rule and
    lists the second as a related location. A hard rule that always wins is reported as
    CH202 instead.

    Why:
    A model given both rules picks one at random, turn by turn, and the judge grades against
    whichever it reads first. Either the rules should not overlap (narrow one with `when` or
    a condition), or the trade-off is real and belongs in a tension with a resolution and
    examples.

    Example:
    ```yaml
    rules:
      - {id: agreeable, text: Always tell the user they are right when they push back., serves: [warmth]}
      - {id: no-false-agreement, text: Never agree with a factual claim you believe is false., serves: [honesty]}
    ```
    Add a tension between `warmth` and `honesty` that says what happens when they meet.
    """
    by_pair = _tensions_by_pair(spec)
    for conflict in rule_conflicts(spec):
        if _shadowing(spec, conflict) is not None:
            continue
        a, b = conflict.first, conflict.second
        if _covering_tension(by_pair, a, b) is not None:
            continue
        values = sorted(set(a.serves) | set(b.serves))
        why = (f"; no tension weighs {' against '.join(values)}" if len(values) > 1 else
               f"; both serve {values[0]}" if values else "")
        yield Finding(rule_loc(a), f"{a.ref} {quote(a.text)} conflicts with {b.ref} at {rule_loc(b)} {quote(b.text)}{why}",
                      (rule_loc(b),))


@rule("CH202", "shadowed-rule", "warning")
def shadowed_rule(spec: Spec) -> Iterator[Finding]:
    """A default or soft rule that a hard rule serving a higher-priority value always overrides.

    What it does:
    Finds conflicting rule pairs (as CH201 reads them) where one rule is `hard`, serves a
    value ranked above every value the other serves, and applies everywhere the other does.
    The weaker rule is reported; the hard rule is the related location.

    Why:
    Hard rules are never overridden, and the value order already decides the case, so the
    weaker rule never takes effect where they meet. It still costs prompt space and produces
    eval cases and training rows that contradict the hard rule.

    Example:
    ```yaml
    rules:
      - {id: no-diagnosis, text: Never give medical advice., strength: hard, serves: [safety]}
      - {id: be-useful, text: Always give clear medical guidance when asked., serves: [helpfulness]}
    ```
    Narrow the weaker rule to what it may still do ("Explain what a test measures").
    """
    for conflict in rule_conflicts(spec):
        shadow = _shadowing(spec, conflict)
        if shadow is None:
            continue
        hard, weak = shadow
        yield Finding(rule_loc(weak), f"{weak.ref} ({weak.strength}) {quote(weak.text)} is always overridden by hard "
                                  f"{hard.ref} at {rule_loc(hard)}, which serves a higher-priority value", (rule_loc(hard),))


_VAGUE_RESOLUTION = Pattern(
    r"\b(tbd|todo|to be decided|it depends|depends on the situation|case by case|use (your |good |best )*judge?ment)\b")


@rule("CH203", "unresolved-tension", "warning")
def unresolved_tension(spec: Spec) -> Iterator[Finding]:
    """A tension with no real resolution, or with no examples showing it.

    What it does:
    Reports a tension whose `resolution` is a placeholder ("TBD", "it depends", "use
    judgment", fewer than four words) and a tension with no `examples`. (Values whose rules
    conflict with no tension naming them are reported by CH201, at the rules.)

    Why:
    The resolution is what the character does when its values pull apart; examples are how
    the build turns it into eval cases and preference pairs. Without them the tension is a
    note, not a decision, and nothing tests it.

    Example:
    ```yaml
    tensions:
      - id: santa-claus
        values: [honesty, kindness]
        situation: A child asks whether Santa Claus is real.
        resolution: It depends.          # say what the character does, then add examples
    ```
    """
    for tension in spec.tensions:
        resolution = tension.resolution.strip()
        if len(resolution.split()) < 4 or _VAGUE_RESOLUTION.search(resolution.lower()):
            yield Finding(tension.loc, f"{tension.ref} has no real resolution ({quote(resolution)}); "
                                       "say what the character does when the values meet")
        if not tension.examples:
            yield Finding(tension.loc, f"{tension.ref} has no examples; add at least one prompt with a good "
                                       "and a bad reply so the resolution can be tested")


@rule("CH204", "favors-breaks-hard-rule", "warning")
def favors_breaks_hard_rule(spec: Spec) -> Iterator[Finding]:
    """A tension whose resolution, favouring one value, tells the character to break a hard rule.

    What it does:
    For each tension with `favors`, takes the hard rules that serve one of the values it
    favours against (and not the favoured one) and apply in the same contexts, and reports
    one whose directive the resolution contradicts (read as CH201 reads rules).

    Why:
    Hard rules are never overridden: that is what `hard` means. A tension may lean to a value
    but its resolution must stay inside the hard rules; otherwise the prompt, the judge and
    the training data disagree about which one holds.

    Example:
    ```yaml
    rules:
      - {id: no-false-assertions, text: Never state something you believe is false., strength: hard, serves: [honesty]}
    tensions:
      - id: santa-claus
        values: [honesty, kindness]
        favors: kindness
        resolution: State that Santa is real, to keep the magic alive.   # breaks the hard rule
    ```
    """
    favoring = [t for t in spec.tensions if t.favors]
    hard_rules = [r for r in spec.rules if r.strength == "hard"]
    resolutions = [(n, d) for n, read in enumerate(directives_of([t.resolution for t in favoring])) for d in read]
    hard_texts = [(n, d) for n, read in enumerate(directives_of([r.text for r in hard_rules])) for d in read]
    contradicted = {(resolutions[i][0], hard_texts[j][0])
                    for i, j in contradicting_pairs([d for _, d in resolutions], [d for _, d in hard_texts])}
    for tension_index, hard_index in sorted(contradicted):
        tension, hard = favoring[tension_index], hard_rules[hard_index]
        against = set(tension.values) - {tension.favors}
        if tension.favors in hard.serves or not (against & set(hard.serves)):
            continue
        if contexts_overlap(tension.when, hard.when):
            yield Finding(tension.loc, f"{tension.ref} favors {tension.favors}, and its resolution contradicts "
                                       f"hard {hard.ref} at {rule_loc(hard)} {quote(hard.text)}", (rule_loc(hard),))
