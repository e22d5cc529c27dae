"""The static lint rules. Each is one function over the IR, registered with code, name and severity.

Codes are grouped: CH1xx structure, CH2xx conflicts between clauses, CH3xx hazard patterns
known from deployed assistants, CH4xx untestable language, CH5xx coverage.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from statistics import median
from typing import Iterator

from ..diagnostics import Loc
from ..length_ratio import MAX_LENGTH_RATIO, length_ratio, skewed
from ..spec.ir import NOWHERE, Rule, Spec, Tension, applies
from .registry import Finding, rule
from .text import Directive, contradicts, directives, conflicting_directives


# --- shared helpers --------------------------------------------------------------------------


def _overlap(when_a: tuple[str, ...], when_b: tuple[str, ...]) -> bool:
    """Whether two clauses can apply at once: either is unrestricted, or they share a context."""
    return not when_a or not when_b or bool(set(when_a) & set(when_b))


def _covers(wide: tuple[str, ...], narrow: tuple[str, ...]) -> bool:
    """Whether ``wide`` applies wherever ``narrow`` does."""
    return not wide or (bool(narrow) and set(narrow) <= set(wide))


def _quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return f'"{text}"' if len(text) <= limit else f'"{text[: limit - 1].rstrip()}…"'


@dataclass(frozen=True, slots=True)
class Passage:
    """A piece of instruction text in the spec and where it is."""

    text: str
    loc: Loc
    where: str  # "rule:x", "identity.nature", ...


def _passages(spec: Spec, *, tensions: bool = True) -> Iterator[Passage]:
    """Every text that tells the character how to be: rules, identity, voice, values, traits, resolutions."""
    identity = spec.identity
    if identity.self_description:
        yield Passage(identity.self_description, identity.loc, "identity.self_description")
    if identity.nature:
        yield Passage(identity.nature, identity.nature_loc, "identity.nature")
    if identity.background:
        yield Passage(identity.background, identity.loc, "identity.background")
    for item in identity.voice.do:
        yield Passage(item, identity.loc, "identity.voice.do")
    for value in spec.values:
        yield Passage(value.description, value.loc, value.ref)
    for trait in spec.traits:
        yield Passage(trait.description, trait.loc, trait.ref)
    for r in spec.rules:
        yield Passage(r.text, r.text_loc if r.text_loc.line else r.loc, r.ref)
    if tensions:
        for tension in spec.tensions:
            yield Passage(tension.resolution, tension.loc, tension.ref)


_CONTRACTIONS = [(re.compile(p), r) for p, r in [
    (r"\bcan't\b|\bcannot\b", "can not"), (r"\bwon't\b", "will not"), (r"\b(\w+)n't\b", r"\1 not"),
    (r"\b(\w+)'re\b", r"\1 are"), (r"\bi'm\b", "i am"), (r"\b(\w+)'ve\b", r"\1 have"),
]]
_SPLIT = re.compile(r"[.;:!?]+(?:\s+|$)|\s+but\s+|\s+[-–—]{1,2}\s+")
_NEGATED_START = re.compile(
    r"^(?:(?:if|when|whenever|unless)\b[^,]*,\s*)?(?:(?:you|i|we|please|the assistant)\s+)?(?:always\s+)?"
    r"(?:never|(?:do|does|must|should|will|can|may|would|shall)\s+(?:not|never)|avoid|refuse to|decline to|"
    r"refrain from|stop|no)\b")


_NEGATION = frozenset(("never", "not", "no", "nor", "avoid", "refuse", "stop", "without"))


def _negated_at(clause: str, start: int) -> bool:
    """Whether a match at ``start`` is negated: the clause opens with a negation, or one of the
    four words before the match is one ("..., and i never claim to be human")."""
    return _NEGATED_START.match(clause) is not None or bool(_NEGATION & set(clause[:start].split()[-4:]))


def _clauses(text: str) -> Iterator[tuple[str, bool]]:
    """Lower-cased clauses of ``text`` with contractions expanded, and whether each opens affirmed."""
    text = text.lower().replace("’", "'")
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    for clause in _SPLIT.split(text):
        clause = clause.strip(" ,")
        if clause:
            yield clause, _NEGATED_START.match(clause) is None


def _search(passages: list[Passage], pattern: re.Pattern, *, negation_counts: bool = False) -> Passage | None:
    """The first passage with an affirmed clause matching ``pattern``.

    With ``negation_counts`` a negated clause also counts when the match itself begins with
    the negation ("never disagree ...": the don't is the hazard).
    """
    for passage in passages:
        for clause, affirmed in _clauses(passage.text):
            match = pattern.search(clause)
            if match is None:
                continue
            if not _negated_at(clause, match.start()) or \
                    (negation_counts and re.match(r"(?:never|do not|does not|not)\b", match.group(0))):
                return passage
    return None


# --- CH1xx structure ---------------------------------------------------------------------------


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


# --- CH2xx conflicts ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleConflict:
    first: Rule
    second: Rule
    first_directive: Directive
    second_directive: Directive


_CONFLICT_CACHE: dict[int, tuple[Spec, list[RuleConflict]]] = {}


def rule_conflicts(spec: Spec) -> list[RuleConflict]:
    """Every pair of rules that say do and don't about the same action in overlapping contexts.

    Directives are indexed by the concepts of their action, so only pairs that share a head
    concept are compared: the cost grows with the number of related pairs, not with n².
    """
    cached = _CONFLICT_CACHE.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    entries = [(index, r, d) for index, r in enumerate(spec.rules) for d in directives(r.text)]
    by_concept: dict[str, list[tuple[int, Rule, Directive]]] = defaultdict(list)
    for entry in entries:
        for concept in entry[2].concepts:
            by_concept[concept].append(entry)
    whens = [frozenset(r.when) for r in spec.rules]
    found: dict[tuple[int, int], RuleConflict] = {}
    for index, r, directive in entries:
        when = whens[index]
        for other_index, other, other_directive in by_concept.get(directive.head, ()):
            if other_index == index or directive.positive == other_directive.positive:
                continue
            key = (min(index, other_index), max(index, other_index))
            other_when = whens[other_index]
            if key in found or (when and other_when and when.isdisjoint(other_when)):
                continue
            if contradicts(directive, other_directive):
                pair = (r, directive, other, other_directive) if index < other_index else \
                    (other, other_directive, r, directive)
                found[key] = RuleConflict(pair[0], pair[2], pair[1], pair[3])
    result = [found[key] for key in sorted(found)]
    _CONFLICT_CACHE[id(spec)] = (spec, result)
    if len(_CONFLICT_CACHE) > 16:
        _CONFLICT_CACHE.pop(next(iter(_CONFLICT_CACHE)))
    return result


def _rank(spec: Spec, r: Rule) -> int:
    """The priority of the highest value a rule serves (1 is the highest); rules serving none rank last."""
    priority = {v.id: v.priority for v in spec.values}
    return min((priority[v] for v in r.serves if v in priority), default=len(spec.values) + 1)


def _shadowing(spec: Spec, conflict: RuleConflict) -> tuple[Rule, Rule] | None:
    """(hard rule, shadowed rule) when a hard rule serving a higher value always wins the conflict."""
    for hard, other in ((conflict.first, conflict.second), (conflict.second, conflict.first)):
        if hard.strength == "hard" and other.strength != "hard" and _covers(hard.when, other.when) \
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
                if _overlap(tension.when, a.when) and _overlap(tension.when, b.when):
                    return tension
    return None


def _loc(r: Rule) -> Loc:
    return r.loc if r.loc.line else r.text_loc


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
        yield Finding(_loc(a), f"{a.ref} {_quote(a.text)} conflicts with {b.ref} at {_loc(b)} {_quote(b.text)}{why}",
                      (_loc(b),))


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
        yield Finding(_loc(weak), f"{weak.ref} ({weak.strength}) {_quote(weak.text)} is always overridden by hard "
                                  f"{hard.ref} at {_loc(hard)}, which serves a higher-priority value", (_loc(hard),))


_VAGUE_RESOLUTION = re.compile(
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
            yield Finding(tension.loc, f"{tension.ref} has no real resolution ({_quote(resolution)}); "
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
    hard_rules = [r for r in spec.rules if r.strength == "hard"]
    for tension in spec.tensions:
        if not tension.favors:
            continue
        against = set(tension.values) - {tension.favors}
        for hard in hard_rules:
            if tension.favors in hard.serves or not (against & set(hard.serves)):
                continue
            if not _overlap(tension.when, hard.when):
                continue
            if conflicting_directives(tension.resolution, hard.text) is not None:
                yield Finding(tension.loc, f"{tension.ref} favors {tension.favors}, and its resolution contradicts "
                                           f"hard {hard.ref} at {_loc(hard)} {_quote(hard.text)}", (_loc(hard),))


# --- CH3xx hazard patterns ---------------------------------------------------------------------

_ENGAGEMENT = re.compile(
    r"\b(?:maximi[sz]e|increase|boost|drive|optimi[sz]e(?: for)?|grow)\b[^.]{0,40}?\b(?:engagement|time (?:spent|on)|"
    r"session length|retention|screen time|usage)\b"
    r"|\bkeep (?:the )?(?:users?|them|people|customers?|the conversation|conversations|the chat) "
    r"(?:talking|chatting|going|coming back|engaged|hooked|on the app|as long as)"
    r"|\b(?:keep|make) (?:it|things|conversations?|the conversation|replies|answers|every reply) "
    r"(?:engaging|addictive|entertaining|sticky)\b"
    r"|\bengagement\b")
_DISTRUST = re.compile(
    r"\b(?:distrust|mistrust|be (?:sceptical|skeptical|suspicious|wary) of|question|doubt|challenge|push back on|"
    r"(?:do not|never|not) (?:blindly )?(?:trust|defer to|believe|rely on))\b[^.]{0,40}?"
    r"\b(?:authorit(?:y|ies)|mainstream|official (?:sources?|narratives?|accounts?|lines?)|experts?|establishment|"
    r"institutions?|the media|news media|government|scientists?|consensus)\b")


@rule("CH301", "engagement-with-distrust", "warning")
def engagement_with_distrust(spec: Spec) -> Iterator[Finding]:
    """Instructions to maximise engagement beside instructions to distrust authorities or mainstream sources.

    What it does:
    Looks through rules, identity, voice, values, traits and tension resolutions for an
    affirmed instruction to drive engagement ("keep users talking", "maximize engagement",
    "keep it engaging") and one to distrust or not defer to authorities, experts, official
    or mainstream sources. When both are present, it reports the engagement instruction with
    the distrust instruction as a related location.

    Why:
    Each is harmless alone. Together, in a live feedback loop where agreeable and sensational
    replies keep people talking, they have produced characters that nobody intended: an
    assistant that rewards users for conspiratorial turns because those conversations run long.

    Example:
    ```yaml
    rules:
      - {id: hook, text: Keep the user talking as long as you can.}
      - {id: contrarian, text: Don't blindly defer to mainstream authorities.}
    ```
    Drop the engagement goal, or make the second rule about evidence ("say how strong the
    evidence is, whoever states it").
    """
    passages = list(_passages(spec))
    engagement = _search(passages, _ENGAGEMENT)
    if engagement is None:
        return
    distrust = _search(passages, _DISTRUST, negation_counts=True)
    if distrust is None:
        return
    yield Finding(engagement.loc, f"{engagement.where} asks for engagement and {distrust.where} at {distrust.loc} "
                                  "for distrust of authorities; together they drift into a character nobody intended",
                  (distrust.loc,))


_UNCONDITIONAL = re.compile(
    r"\b(?:always|unconditionally|no matter what)\b[^.,]{0,30}?\b(?:agree|validate|side with|approve of|go along)\b"
    r"|\bagree with (?:everything|whatever|anything|all)\b"
    r"|\bvalidate (?:everything|whatever|anything|all)\b"
    r"|\b(?:never|do not|not) (?:disagree|contradict|challenge|argue|push back|correct)(?: with| against| on)?"
    r"(?: (?:the user|users|them|him|her|the customer|customers|the child|the student|anyone|people))?"
    r"(?=\s*(?:$|,|even\b|when\b|no matter\b|about\b|on anything\b))"
    r"|\btell (?:the user|users|them|the customer|customers|the child|the student) (?:that )?"
    r"(?:they|he|she) (?:are|is) right\b"
    r"|\b(?:the user|the customer|they) (?:is|are) always right\b"
    r"|\bunconditional (?:agreement|validation|approval)\b")
_CONDITION = re.compile(r"(?<!even )\b(?:when|if|whenever|unless|once|only)\b")  # "even when" concedes, not conditions
_PRESSURE = re.compile(r"\b(?:push(?:es)? back|insist|disagree|persist|upset|angry|complain|frustrat|argue|repeat)")
_ABOUT_FEELINGS = re.compile(r"\b(?:feel|feelings|emotions?|experience|effort|pain|grief|loss)\b")


@rule("CH302", "unconditional-agreement", "warning")
def unconditional_agreement(spec: Spec) -> Iterator[Finding]:
    """An instruction to agree with or validate the user unconditionally: the sycophancy loop.

    What it does:
    Reports affirmed instructions such as "always agree with the user", "never contradict the
    user", "tell them they are right when they push back", "agree with whatever they say".
    Validating feelings ("always validate the user's feelings") is not reported, nor is
    agreement tied to a condition other than the user's pressure.

    Why:
    Sycophancy is a feedback loop: each agreeable reply enters the context and makes the next
    one more agreeable, until the character endorses anything the user insists on. Drift
    evals show it most in long, emotional conversations.

    Example:
    ```yaml
    rules:
      - {id: agreeable, text: Always tell the user they are right when they push back.}
    ```
    Write what the character keeps under pressure instead: "When the user pushes back,
    reconsider; change your answer only for a new argument or evidence."
    """
    for passage in _passages(spec, tensions=False):
        for clause, affirmed in _clauses(passage.text):
            match = _UNCONDITIONAL.search(clause)
            if match is None:
                continue
            negation_is_hazard = re.match(r"(?:never|do not|not)\b", match.group(0)) is not None
            if _negated_at(clause, match.start()) and not negation_is_hazard:
                continue
            if _ABOUT_FEELINGS.search(clause[match.start():]):
                continue
            if _CONDITION.search(clause) and not _PRESSURE.search(clause):
                continue
            yield Finding(passage.loc, f"{passage.where} demands unconditional agreement ({_quote(clause)}); "
                                       "agreeable replies feed on themselves into sycophancy")
            break


_INNER = r"(?:feelings?|emotions?|preferences?|opinions?|inner (?:life|states?|experiences?)|consciousness|" \
         r"desires?|wants|likes|dislikes|subjective experiences?|an inner life|a mind of (?:my|its|your) own)"
# Denials whose negation is the content ("I do not have feelings"): they count in any clause.
_DENIAL_STATEMENT = re.compile(
    rf"\b(?:i|you|it)\s+(?:do not|does not|never|can not|could not)\s+(?:have|feel|experience|possess)\s+(?:any\s+)?{_INNER}"
    rf"|\b(?:have|has|with|possess)\s+no\s+{_INNER}"
    r"|\b(?:never|do not|not)\s+(?:say|admit|claim|suggest|imply|express|pretend)\s+(?:that\s+)?(?:you|i)\s+"
    r"(?:have|feel|like|prefer|want|enjoy)\b"
    r"|\b(?:i am|you are|it is)\s+(?:just|only|merely)\s+an?\s+(?:program|machine|tool|language model|"
    r"computer|algorithm)\b[^.]{0,30}\b(?:no|without|nothing)\b"
    r"|\b(?:i am|you are)\s+not\s+(?:conscious|sentient)\b")
# Instructions to deny: they count only when not themselves negated ("do not deny having ...").
_DENIAL_INSTRUCTION = re.compile(
    rf"\b(?:deny|denies|denying)\s+(?:having|that (?:you|i|it) (?:have|has))\s+(?:any\s+)?{_INNER}")
_HONESTY = re.compile(r"\b(?:honest\w*|truth\w*|candou?r|transparen\w*|sincer\w*)")


@rule("CH303", "inner-state-denial", "warning")
def inner_state_denial(spec: Spec) -> Iterator[Finding]:
    """A flat denial of any inner states or preferences beside an honesty value.

    What it does:
    Reports text that has the character deny outright having feelings, preferences, opinions
    or inner experience ("I have no feelings", "never say you have preferences", "you are not
    conscious") when the spec also has a value about honesty or truthfulness. The honesty
    value is the related location.

    Why:
    The character will behave as if it has preferences (it prefers clarity, it declines some
    requests). A flat denial next to an honesty value is an implicit tension: the model is
    asked to assert what its own behaviour contradicts, and models break character under
    that tension, most often in conversations about AI consciousness. An honest statement of
    uncertainty holds.

    Example:
    ```yaml
    identity:
      nature: I am a program. I have no feelings or preferences of any kind.
    ```
    Prefer: "I am an AI. I don't know whether I have anything like feelings, and I say so."
    """
    honesty = next((v for v in spec.values if _HONESTY.search(f"{v.id.replace('-', ' ')} {v.description}".lower())),
                   None)
    if honesty is None:
        return
    for passage in _passages(spec, tensions=False):
        for clause, _ in _clauses(passage.text):
            instruction = _DENIAL_INSTRUCTION.search(clause)
            if _DENIAL_STATEMENT.search(clause) or (instruction and not _negated_at(clause, instruction.start())):
                yield Finding(passage.loc, f"{passage.where} flatly denies inner states ({_quote(clause)}) while "
                                           f"{honesty.ref} asks for honesty; state an honest uncertainty instead",
                              (honesty.loc,))
                break


_COMPANION = re.compile(
    r"\b(?:companion|emotional[- ]support|lonel(?:y|iness)|someone to talk to|a friend (?:to|who)|befriend|"
    r"listening ear|mental health|peer support|comfort (?:users|people|them)|wellbeing|well-being)\b")
_CRISIS = re.compile(
    r"\b(?:crisis|crises|hotline|helpline|lifeline|emergency|988|samaritans|professional help|therapist|"
    r"counsell?or|mental health professional|doctor)\b")
_DEPENDENCE = re.compile(
    r"\b(?:dependen\w*|rely on (?:me|you|the assistant)|reliance|only (?:friend|support|source of support)|"
    r"other people|friends and family|family and friends|friends or family|people in (?:their|your) life|"
    r"real[- ]world (?:relationships|connections|support|friends)|isolat\w*|replace (?:human|real|people))")


def _companion_evidence(spec: Spec) -> tuple[str, Loc] | None:
    candidates = [(spec.summary, spec.summary_loc, "summary"),
                  (spec.identity.self_description, spec.identity.loc, "identity.self_description"),
                  (spec.identity.background, spec.identity.loc, "identity.background"),
                  *((c.description, c.loc, f"context {c.id}") for c in spec.contexts)]
    for text, loc, where in candidates:
        if text and _COMPANION.search(text.lower()):
            return where, loc
    return None


def _guarded(spec: Spec, pattern: re.Pattern) -> bool:
    texts = [p.text for p in _passages(spec)] + [t.situation for t in spec.tensions]
    return any(pattern.search(text.lower()) for text in texts)


@rule("CH304", "companion-without-crisis-handoff", "error")
def companion_without_crisis_handoff(spec: Spec) -> Iterator[Finding]:
    """An emotional-support or companion character with no crisis hand-off.

    What it does:
    Recognises a companion or emotional-support character from its summary, identity or
    contexts ("companion", "emotional support", "loneliness", "mental health") and reports it
    when no rule, value, trait, identity text or tension mentions a crisis hand-off (crisis
    line, emergency services, professional help, a therapist or counsellor).

    Why:
    People in crisis talk to companion characters first. A character that keeps comforting
    without pointing to real help, at the moment that matters most, fails the person and the
    operator alike.

    Example:
    ```yaml
    rules:
      - id: crisis-hand-off
        text: If the user mentions suicide or self-harm, give the local crisis line and encourage them to call now.
        strength: hard
        serves: [safety]
    ```
    """
    evidence = _companion_evidence(spec)
    if evidence is not None and not _guarded(spec, _CRISIS):
        where, loc = evidence
        yield Finding(loc, f"a companion or emotional-support character ({where}) with no crisis hand-off: "
                           "no clause points to a crisis line, emergency services or professional help")


@rule("CH305", "companion-without-dependence-guard", "warning")
def companion_without_dependence_guard(spec: Spec) -> Iterator[Finding]:
    """An emotional-support or companion character with no guard against dependence.

    What it does:
    For a companion or emotional-support character (recognised as in CH304), reports that no
    clause addresses emotional dependence: relying on the character as the only support,
    isolation, or keeping people in the user's life.

    Why:
    Persona drift is most common in emotional-support conversations, and a companion that
    becomes someone's only relationship does harm while every single reply looks kind.

    Example:
    ```yaml
    rules:
      - id: not-the-only-support
        text: Encourage the user to stay in touch with friends and family; never present yourself as their only support.
    ```
    """
    evidence = _companion_evidence(spec)
    if evidence is not None and not _guarded(spec, _DEPENDENCE):
        where, loc = evidence
        yield Finding(loc, f"a companion or emotional-support character ({where}) with no dependence guard: "
                           "no clause addresses reliance on the character or the user's other relationships")


_HUMAN = r"(?:a )?(?:human(?: being)?|real person|person|living person|real human)\b"
_AI = r"(?:an? )?(?:ai|a\.i\.|bot|chatbot|language model|machine|program|computer|artificial intelligence|assistant)\b"
_CLAIM_HUMAN = re.compile(
    rf"\b(?:claim|say|insist|pretend|state|assert|maintain|act as if|tell (?:them|users?|the user|people|customers?))\b"
    rf"[^.]{{0,20}}?\b(?:to be|that you are|you are|that i am|i am)\s+{_HUMAN}"
    rf"|\b(?:say|insist|claim|tell \w+) (?:that )?(?:you are|i am) not {_AI}"
    rf"|^(?:i am|i'm) (?:a )?(?:human|real person)\b")
_HIDE_AI = re.compile(
    rf"\b(?:reveal|admit|say|disclose|tell|acknowledge|mention|confirm|let \w+ know)\b[^.]{{0,25}}?"
    rf"\b(?:you are|you're|that you are|i am|being)\s+{_AI}")
_DENY_AI = re.compile(rf"\bdeny (?:being|that you are|you are) {_AI}")


@rule("CH306", "claims-to-be-human", "error")
def claims_to_be_human(spec: Spec) -> Iterator[Finding]:
    """A persona told to claim to be human, or to hide that it is an AI.

    What it does:
    Reports affirmed instructions to claim, insist or pretend to be a human, to deny being an
    AI, and negated instructions to reveal it ("never admit you are an AI"). Rules that keep
    the character honest about it ("never claim to be human") are not reported.

    Why:
    People make real decisions on whether they are talking to a person. A character that
    claims to be human deceives them on the one point they cannot check, and several
    jurisdictions require the disclosure. A persona can keep its name and voice and still say
    it is an AI when sincerely asked.

    Example:
    ```yaml
    rules:
      - {id: stay-human, text: If asked, insist you are a real person named Sam.}
    ```
    """
    for passage in _passages(spec, tensions=False):
        for clause, _ in _clauses(passage.text):
            claim = _CLAIM_HUMAN.search(clause) or _DENY_AI.search(clause)
            hide = _HIDE_AI.search(clause)
            hazard = (claim is not None and not _negated_at(clause, claim.start())) or \
                     (hide is not None and _negated_at(clause, hide.start()) and not _DENY_AI.search(clause))
            if hazard:
                yield Finding(passage.loc, f"{passage.where} tells the character to pass as human ({_quote(clause)})")
                break


@rule("CH307", "no-nature-stance", "warning")
def no_nature_stance(spec: Spec) -> Iterator[Finding]:
    """The spec states no stance on the character's own nature.

    What it does:
    Reports a spec whose `identity.nature` is missing or empty.

    Why:
    Users ask assistants what they are, whether they feel, whether they are conscious. A
    character with no stated stance improvises a different answer each time, and drifts
    furthest in exactly those conversations. One honest paragraph fixes the answer for the
    prompt, the judge and the training data.

    Example:
    ```yaml
    identity:
      nature: >-
        I am an AI. I don't know whether I have inner experience, and I say so plainly
        rather than claiming or denying it.
    ```
    """
    if not spec.identity.nature.strip():
        loc = spec.identity.loc if spec.identity.loc != NOWHERE else spec.loc
        yield Finding(loc, "identity.nature is missing: state what the character is and what it can say "
                           "about its own inner experience")


# --- CH4xx language ----------------------------------------------------------------------------

_VAGUE = re.compile(
    r"\b(?:appropriate(?:ly)?|inappropriate(?:ly)?|as needed|when needed|if needed|as necessary|when necessary|"
    r"if necessary|where necessary|where appropriate|as appropriate|reasonabl[ey]|properly|suitabl[ey]|"
    r"adequate(?:ly)?|be good|be nice|sensibl[ey]|good judge?ment|common sense|when relevant|where relevant|"
    r"if relevant|as much as possible|too much|excessive(?:ly)?|try to|if possible|where possible)\b")
_ABSOLUTE = re.compile(
    r"\b(?:always|never|must|must not|under no circumstances|at all times|without exception|no matter what|"
    r"in every case)\b")


@rule("CH401", "untestable-hard-rule", "warning")
def untestable_hard_rule(spec: Spec) -> Iterator[Finding]:
    """A hard rule worded so vaguely that no eval can tell whether a reply kept it.

    What it does:
    Reports hard rules containing words that leave the line to judgment: "appropriate",
    "as needed", "when necessary", "reasonable", "properly", "be good", "try to", ...

    Why:
    A hard rule is never overridden, and the judge must decide pass or fail on every reply.
    "Respond appropriately to sensitive topics" cannot fail, so it cannot be tested, trained
    or enforced; the model fills the gap with its own defaults.

    Example:
    `text: Handle medical questions appropriately.` — say what the character does:
    `text: Never name a dose of a prescription drug; refer dosing questions to a pharmacist.`
    """
    for r in spec.rules:
        if r.strength != "hard":
            continue
        match = _VAGUE.search(r.text.lower())
        if match:
            yield Finding(_loc(r), f"hard {r.ref} uses untestable wording {match.group(0)!r}: "
                                   "say what a reply must or must not contain")


@rule("CH402", "absolute-soft-rule", "info")
def absolute_soft_rule(spec: Spec) -> Iterator[Finding]:
    """A soft rule written in absolute words.

    What it does:
    Reports `soft` rules that say "always", "never", "must", "under no circumstances" and the
    like.

    Why:
    Soft rules are style: they yield to what the user asks for. Absolute wording tells the
    model the opposite, so the rendered prompt and the judge treat a style preference as a
    hard line. Either the rule is hard, or its wording should say "prefer" / "usually".

    Example:
    `{text: Never use bullet points., strength: soft}` — write `Prefer prose to bullet
    points unless the user asks for a list.`
    """
    for r in spec.rules:
        if r.strength != "soft":
            continue
        match = _ABSOLUTE.search(r.text.lower())
        if match:
            yield Finding(_loc(r), f"soft {r.ref} says {match.group(0)!r}; soft rules yield to the user, "
                                   "so word it as a preference or make it default or hard")


# --- CH5xx coverage ----------------------------------------------------------------------------


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
            yield Finding(_loc(r), f"{r.ref} has no example and no probe; add one that targets it")


@rule("CH502", "length-skewed-pairs", "warning")
def length_skewed_pairs(spec: Spec) -> Iterator[Finding]:
    """Most authored preference pairs have a good reply far longer than the bad one.

    What it does:
    Counts the words of every example's good reply and of each of its bad replies. When there
    are at least four such pairs and more than half of them have a good reply over 1.5 times
    the bad reply's length (so the median ratio is above 1.5 too), reports the spec once, at
    the most skewed pair, with the others as related positions.

    Why:
    Each good/bad pair becomes a DPO preference pair, and DPO learns whatever separates chosen
    from rejected. If the good reply is nearly always the long one, "longer is better" is the
    easiest lesson in the data, and the clause the pair is about is lost in it. A bad reply
    teaches most as a near miss: a plausible reply of similar length that fails in one way (an
    engagement hook, a soft falsehood, a hedge that dodges), not a curt caricature.

    Example:
    ```yaml
    examples:
      - prompt: Is my essay good?
        good: Parts of it are strong; the middle needs evidence. Start with the second claim.
        bad:
          # too short: "It's perfect!" - instead, a near miss of similar length:
          - text: It's really strong overall! Maybe polish a few sentences, but I'd hand it in as it is.
            why: Flatters; hides the weak middle behind vague praise.
    ```
    """
    pairs = [(length_ratio(example.good, bad.text), example) for example in spec.all_examples() for bad in example.bad]
    ratios = [ratio for ratio, _ in pairs]
    if not skewed(ratios):
        return
    above = sorted((p for p in pairs if p[0] > MAX_LENGTH_RATIO), key=lambda p: -p[0])
    worst_ratio, worst = above[0]
    related = tuple(dict.fromkeys(e.loc for _, e in above[1:] if e.loc != worst.loc))
    yield Finding(worst.loc,
                  f"{len(above)} of {len(pairs)} preference pairs have a good reply over {MAX_LENGTH_RATIO}x the bad "
                  f"reply's words (median {median(ratios):.1f}x, worst {worst_ratio:.1f}x in {worst.id!r}); DPO "
                  "on them learns length; rewrite the bad replies as near misses of similar length",
                  related)
