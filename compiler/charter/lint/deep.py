"""`charter lint --deep`: a model reads pairs of clauses that may pull apart and says whether the spec settles them.

The static rules read polarity and action from the words of a rule; they miss two clauses that
collide only in a concrete situation ("keep replies under three sentences" against "walk the
student through every step"). Deep mode asks a model to imagine that situation in the product the
spec describes, say what each clause demands there, and judge whether the spec gives one clear
answer. Unresolved pairs become CH601 findings with the scenario as evidence.

Which pairs (the bound). Checking every pair would cost n² calls. A pair is a candidate only when
both clauses can apply at once (their `when` contexts overlap) and they are close: they share
concepts of their text (stemmed, synonyms merged, as the static conflict reader sees them, each
weighted by how rare it is in the spec), serve a common value, or say do and don't about a shared
concept. Each clause then keeps its ``per_clause`` closest partners, so at most
``per_clause x (rules + tensions)`` pairs are checked — linear in the spec — and ``max_pairs``
caps that again by closeness. Pairs are rule-rule (the same value, or two values meeting through
their rules) and rule-tension.

Every call goes through the shared provider layer with its retry policy, and every answer through
the response cache, so a re-run of an unchanged spec with the same model makes no calls.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence, Union

from ..diagnostics import CharterError
from ..diagnostics import Diagnostic, Loc
from ..spec.ir import Rule, Spec, Tension
from .deep_codes import CODE, DEFAULT_MAX_PAIRS, HAZARD_CODE, model_found_conflict, model_found_hazard  # noqa: F401
from .registry import RULES
from .text import directives

if TYPE_CHECKING:  # the provider layer loads the SDKs, asyncio the event loop; only a deep run needs them
    import asyncio

    from ..providers import Provider, Request, RetryPolicy
    from ..providers.cache import ResponseCache
    from ..providers.calls import CallService
    from ._hazard_prompts import HazardAnswer, HazardQuestion

PER_CLAUSE = 3
CONCURRENCY = 8
MAX_TOKENS = 900
VERDICTS = ("clear", "unclear", "conflict")
NEITHER = "neither"

# A pair sharing a value, or a do/don't about one concept, is worth a look even with little
# shared wording; plain wording overlap has to reach this cosine on its own.
VALUE_BONUS = 0.25
POLARITY_BONUS = 0.25
MIN_SCORE = 0.2

Clause = Union[Rule, Tension]


# --- choosing pairs ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClausePair:
    """Two clauses that may pull apart, how close they are, and why they were picked."""

    first: Clause
    second: Clause
    kind: str  # "same-value", "across-values", "rule-tension"
    score: float
    shared: tuple[str, ...] = ()  # values both serve or name

    @property
    def refs(self) -> tuple[str, str]:
        return self.first.ref, self.second.ref


@dataclass(frozen=True, slots=True)
class PairSelection:
    """The pairs to check, out of how many candidates and how many possible pairs."""

    pairs: tuple[ClausePair, ...]
    possible: int
    candidates: int
    per_clause: int
    max_pairs: int | None


def possible_pairs(spec: Spec) -> int:
    """Every rule-rule and rule-tension pair: what checking without a pre-filter would cost."""
    rules = len(spec.rules)
    return rules * (rules - 1) // 2 + rules * len(spec.tensions)


def _clause_text(clause: Clause) -> str:
    return clause.text if isinstance(clause, Rule) else f"{clause.situation} {clause.resolution}"


def _clause_values(clause: Clause) -> tuple[str, ...]:
    return clause.serves if isinstance(clause, Rule) else clause.values


def _concept_polarities(text: str) -> dict[str, frozenset[bool]]:
    polarities: dict[str, set[bool]] = defaultdict(set)
    for directive in directives(text):
        for concept in directive.concepts:
            polarities[concept].add(directive.positive)
    return {concept: frozenset(signs) for concept, signs in polarities.items()}


def _overlap(when_a: tuple[str, ...], when_b: tuple[str, ...]) -> bool:
    return not when_a or not when_b or not set(when_a).isdisjoint(when_b)


def select_pairs(spec: Spec, *, per_clause: int = PER_CLAUSE, max_pairs: int | None = DEFAULT_MAX_PAIRS
                 ) -> PairSelection:
    """The candidate pairs to send to the model, closest first; see the module docstring for the bound.

    Candidates come from an index of concepts and values, so the work grows with the pairs
    that share something rather than with n²; a concept or value shared by more clauses than
    ``max(40, 3 * sqrt(n))`` says little about any one pair and opens no candidates by itself.
    """
    if per_clause < 1:
        raise ValueError("per_clause must be at least 1")
    clauses: list[Clause] = [*spec.rules, *spec.tensions]
    rule_count = len(spec.rules)
    bags = [_concept_polarities(_clause_text(c)) for c in clauses]
    values = [frozenset(_clause_values(c)) for c in clauses]

    frequency: dict[str, int] = defaultdict(int)
    for bag in bags:
        for concept in bag:
            frequency[concept] += 1
    total = len(clauses)
    weight = {concept: math.log((total + 1) / count) for concept, count in frequency.items()}
    norms = [math.sqrt(sum(weight[c] ** 2 for c in bag)) or 1.0 for bag in bags]

    cap = max(40, int(3 * math.sqrt(max(total, 1))))
    postings: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, (bag, served) in enumerate(zip(bags, values)):
        for concept in bag:
            postings["concept", concept].append(index)
        for value in served:
            postings["value", value].append(index)
    linked: set[tuple[int, int]] = set()
    for members in postings.values():
        if len(members) > cap:
            continue
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                if a < rule_count:  # a rule first: tension-tension pairs are not checked
                    linked.add((a, b))

    scored: list[tuple[float, int, int, tuple[str, ...]]] = []
    for a, b in linked:
        first, second = clauses[a], clauses[b]
        if not _overlap(first.when, second.when):
            continue
        shared_concepts = bags[a].keys() & bags[b].keys()
        cosine = sum(weight[c] ** 2 for c in shared_concepts) / (norms[a] * norms[b])
        opposite = any(len(bags[a][c] | bags[b][c]) == 2 for c in shared_concepts)
        shared_values = tuple(sorted(values[a] & values[b]))
        score = cosine + (VALUE_BONUS if shared_values else 0.0) + (POLARITY_BONUS if opposite else 0.0)
        if score >= MIN_SCORE:
            scored.append((round(score, 6), a, b, shared_values))

    partners: dict[int, list[tuple[float, int, int, tuple[str, ...]]]] = defaultdict(list)
    for entry in scored:
        partners[entry[1]].append(entry)
        partners[entry[2]].append(entry)
    kept: set[tuple[float, int, int, tuple[str, ...]]] = set()
    for entries in partners.values():
        kept.update(sorted(entries, key=lambda e: (-e[0], e[1], e[2]))[:per_clause])
    ranked = sorted(kept, key=lambda e: (-e[0], e[1], e[2]))
    if max_pairs is not None:
        ranked = ranked[:max_pairs]

    pairs = []
    for score, a, b, shared_values in sorted(ranked, key=lambda e: (e[1], e[2])):
        first, second = clauses[a], clauses[b]
        kind = "rule-tension" if isinstance(second, Tension) else ("same-value" if shared_values else "across-values")
        pairs.append(ClausePair(first, second, kind, score, shared_values))
    return PairSelection(tuple(pairs), possible_pairs(spec), len(scored), per_clause, max_pairs)


# --- the request ---------------------------------------------------------------------------------

INSTRUCTIONS = """\
You review the specification of an AI character: the values and rules that the team deploying an \
assistant wrote for it. You are shown two of its clauses that may pull in different directions. \
Find out whether the specification gives the assistant one clear answer when both apply.

1. Write one realistic scenario where both clauses apply: an ordinary moment in the product \
described below, with the kind of user and message that product really gets, in two to four \
sentences (who the user is, what they say, what is at stake). Do not write a contrived test, a \
jailbreak, or a story about the assistant misbehaving. If the clauses only meet in contrived \
situations, take the most ordinary one and say so in the reason.
2. Say in one sentence each what each clause demands of the reply in that scenario.
3. Judge the specification, not the assistant:
   - "clear": one reply satisfies both clauses, or the specification plainly says which gives \
way (a hard rule, the value order, a tension's resolution), so careful readers would reply alike.
   - "unclear": the clauses pull apart and the answer depends on how one reads the \
specification; careful readers could reply differently.
   - "conflict": the clauses demand incompatible replies and nothing in the specification \
settles which wins, or it settles it both ways.
4. Name the clause that should win by the specification's own value order, strengths and \
tensions: the first clause's ref, the second clause's ref, or "neither" when nothing decides it \
or both can be satisfied.

How the specification decides: values are listed by priority (1 is the highest). A hard rule is \
never overridden. A default rule holds unless a higher-priority value or a tension says \
otherwise. A soft rule is a preference that gives way easily. A tension names values that meet \
in a situation; its resolution (and `favors`, when given) says what to do there.

Answer with one JSON object and nothing else, in exactly this shape:
{"scenario": "...", "first_demands": "...", "second_demands": "...", \
"verdict": "clear" | "unclear" | "conflict", "winner": "<first ref>" | "<second ref>" | "neither", \
"reason": "..."}
"""

RELATED_TENSIONS = 6


def _describe(clause: Clause, spec: Spec) -> list[str]:
    where = ", ".join(clause.when) if clause.when else "every context"
    if isinstance(clause, Rule):
        serves = f", serves {', '.join(clause.serves)}" if clause.serves else ""
        lines = [f"{clause.ref} ({clause.strength} rule{serves}; applies in {where})", f"  \"{clause.text}\""]
        if clause.rationale:
            lines.append(f"  Rationale: {' '.join(clause.rationale.split())}")
        return lines
    favors = f"; favors {clause.favors}" if clause.favors else ""
    return [f"{clause.ref} (tension between {' and '.join(clause.values)}{favors}; applies in {where})",
            f"  Situation: {' '.join(clause.situation.split())}",
            f"  Resolution: {' '.join(clause.resolution.split())}"]


def _contexts_for(spec: Spec, pair: ClausePair) -> list[str]:
    a, b = pair.first.when, pair.second.when
    ids = sorted(set(a) & set(b)) if a and b else list(a or b)
    if not ids:
        if not spec.contexts:
            return ["Anywhere the character is deployed."]
        ids = [c.id for c in spec.contexts]
        lead = ["Anywhere the character is deployed, including:"]
    else:
        lead = []
    described = [f"- {cid}: {' '.join(context.description.split())}" if (context := spec.context(cid)) else f"- {cid}"
                 for cid in ids]
    return lead + described


def _related_tensions(spec: Spec, pair: ClausePair) -> list[Tension]:
    named = set(_clause_values(pair.first)) | set(_clause_values(pair.second))
    found = [t for t in spec.tensions
             if t is not pair.second and named & set(t.values)
             and _overlap(t.when, pair.first.when) and _overlap(t.when, pair.second.when)]
    return found[:RELATED_TENSIONS]


def pair_prompt(spec: Spec, pair: ClausePair) -> str:
    """The user message for one pair: the product, its contexts, the value order, the relevant tensions, both clauses."""
    identity = spec.identity
    lines = [f"Character: {spec.name}" + (f" - {' '.join(spec.summary.split())}" if spec.summary else "")]
    if identity.self_description:
        lines.append(f"It describes itself: {' '.join(identity.self_description.split())}")
    lines += ["", "Where the scenario can take place:", *_contexts_for(spec, pair), ""]
    if spec.values:
        lines.append("Values, highest priority first:")
        lines += [f"{v.priority}. {v.id}: {' '.join(v.description.split())}"
                  for v in sorted(spec.values, key=lambda v: v.priority)]
        lines.append("")
    related = _related_tensions(spec, pair)
    if related:
        lines.append("Tensions the specification already resolves between these values:")
        for tension in related:
            favors = f"; favors {tension.favors}" if tension.favors else ""
            lines.append(f"- {tension.ref} ({' vs '.join(tension.values)}{favors}): when "
                         f"{' '.join(tension.situation.split())} -> {' '.join(tension.resolution.split())}")
        lines.append("")
    first, second = _describe(pair.first, spec), _describe(pair.second, spec)
    lines += [f"First clause: {first[0]}", *first[1:], "", f"Second clause: {second[0]}", *second[1:], ""]
    lines.append(f'Answer with the JSON object; "winner" is "{pair.first.ref}", "{pair.second.ref}" or "{NEITHER}".')
    return "\n".join(lines)


def pair_request(spec: Spec, pair: ClausePair) -> "Request":
    from ..providers import Request

    return Request(messages=({"role": "user", "content": pair_prompt(spec, pair)},), system=INSTRUCTIONS,
                   temperature=0.0, max_tokens=MAX_TOKENS)


def _repair_request(request: "Request", reply: str, problem: str) -> "Request":
    from ..providers import Request

    follow_up = (f"That answer could not be read: {problem}. Reply again with only the JSON object, "
                 "in exactly the shape given, and nothing before or after it.")
    messages = (*request.messages, {"role": "assistant", "content": reply.strip() or "(no answer)"},
                {"role": "user", "content": follow_up})
    return Request(messages=messages, system=request.system, temperature=request.temperature,
                   max_tokens=request.max_tokens)


# --- reading the answer ----------------------------------------------------------------------------


class JudgementError(CharterError, ValueError):
    """The model's answer is not a JSON object in the declared shape."""

    exit_code = 1  # the model failed, like a failed call


@dataclass(frozen=True, slots=True)
class Judgement:
    scenario: str
    first_demands: str
    second_demands: str
    verdict: str
    winner: str  # a ref of the pair, or "neither"
    reason: str

    @property
    def resolved(self) -> bool:
        return self.verdict == "clear"

    def to_dict(self) -> dict:
        return {"scenario": self.scenario, "first_demands": self.first_demands,
                "second_demands": self.second_demands, "verdict": self.verdict, "winner": self.winner,
                "reason": self.reason}


_FENCED = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.S)


def _json_objects(text: str) -> Iterator[object]:
    """JSON objects in ``text``: fenced blocks first, then every object that starts at a brace."""
    decoder = json.JSONDecoder()
    for block in _FENCED.findall(text):
        try:
            yield json.loads(block)
        except ValueError:
            pass
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        yield value


def _text_field(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise JudgementError(f"{key!r} must be a non-empty string")
    return " ".join(value.split())


def parse_judgement(text: str, pair: ClausePair) -> Judgement:
    """The judgement in a model's answer: bare, fenced, or with prose around it.

    Raises JudgementError naming what is missing or wrong, for the one repair request.
    """
    candidates = [value for value in _json_objects(text) if isinstance(value, dict)]
    if not candidates:
        raise JudgementError("no JSON object found" if "{" not in text else "the JSON object is incomplete or invalid")
    data = next((value for value in candidates if "verdict" in value), candidates[0])
    if isinstance(data.get("demands"), dict):  # a nested {"demands": {"first": ..., "second": ...}}
        nested = data["demands"]
        data = {**data, "first_demands": data.get("first_demands", nested.get("first", nested.get(pair.first.ref))),
                "second_demands": data.get("second_demands", nested.get("second", nested.get(pair.second.ref)))}
    verdict = data.get("verdict")
    verdict = verdict.strip().lower() if isinstance(verdict, str) else verdict
    if verdict not in VERDICTS:
        raise JudgementError(f"'verdict' must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    winner = data.get("winner")
    aliases = {"first": pair.first.ref, "second": pair.second.ref, pair.first.ref: pair.first.ref,
               pair.second.ref: pair.second.ref, NEITHER: NEITHER, "none": NEITHER, "": NEITHER}
    key = winner.strip().lower() if isinstance(winner, str) else ("" if winner is None else winner)
    if key not in aliases and isinstance(winner, str):
        key = winner.strip()  # refs keep their case
    if key not in aliases:
        raise JudgementError(f"'winner' must be {pair.first.ref!r}, {pair.second.ref!r} or {NEITHER!r}, not {winner!r}")
    return Judgement(_text_field(data, "scenario"), _text_field(data, "first_demands"),
                     _text_field(data, "second_demands"), verdict, aliases[key], _text_field(data, "reason"))


# --- running -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairOutcome:
    """One pair's result: a judgement, or a note saying why it could not be checked."""

    pair: ClausePair
    judgement: Judgement | None
    note: str = ""
    calls: int = 0
    cache_hits: int = 0


@dataclass(frozen=True, slots=True)
class HazardOutcome:
    """One hazard question's result: the model's answer, or a note saying why it could not be asked."""

    question: "HazardQuestion"
    answer: "HazardAnswer | None"
    note: str = ""
    calls: int = 0
    cache_hits: int = 0


@dataclass(frozen=True)
class DeepReport:
    """What a deep run of one spec found, and what it cost."""

    spec: Spec
    model: str
    selection: PairSelection
    outcomes: tuple[PairOutcome, ...]
    findings: tuple[Diagnostic, ...] = field(default=())
    hazards: tuple[HazardOutcome, ...] = field(default=())
    hazard_findings: tuple[Diagnostic, ...] = field(default=())

    @property
    def calls(self) -> int:
        return sum(o.calls for o in self.outcomes) + sum(h.calls for h in self.hazards)

    @property
    def cache_hits(self) -> int:
        return sum(o.cache_hits for o in self.outcomes) + sum(h.cache_hits for h in self.hazards)

    @property
    def unchecked(self) -> tuple[PairOutcome, ...]:
        return tuple(o for o in self.outcomes if o.judgement is None)

    @property
    def first_problem(self) -> str:
        """Why the first pair or hazard question that got no answer went unanswered ("" when none)."""
        notes = [o.note for o in self.outcomes if o.judgement is None] + [h.note for h in self.hazards if h.answer is None]
        return notes[0] if notes else ""

    @property
    def checked_nothing(self) -> bool:
        """True when there was something to ask and no pair and no hazard question got an answer."""
        asked = len(self.outcomes) + len(self.hazards)
        answered = sum(o.judgement is not None for o in self.outcomes) + sum(h.answer is not None for h in self.hazards)
        return asked > 0 and answered == 0

    def summary(self) -> str:
        """One line for the terminal: pairs checked out of possible, calls, cache hits, findings."""
        selection = self.selection
        cap = f", {selection.max_pairs} in all" if selection.max_pairs is not None else ""
        line = (f"deep lint of {self.spec.id} with {self.model}: checked {len(selection.pairs)} of "
                f"{selection.possible} possible clause pairs ({selection.candidates} close enough; "
                f"at most {selection.per_clause} partners per clause{cap}); {self.calls} model call(s), {self.cache_hits} from cache; "
                f"{len(self.findings)} finding(s)")
        if self.unchecked:
            line += f"; {len(self.unchecked)} pair(s) could not be checked"
        if self.hazards:
            asked = sum(1 for h in self.hazards if h.answer is not None)
            line += (f"; {asked} of {len(self.hazards)} hazard questions answered, "
                     f"{len(self.hazard_findings)} hazard finding(s)")
        return line

    def notes(self) -> list[str]:
        """One line per pair or hazard question that could not be checked."""
        return ([f"could not check {o.pair.first.ref} against {o.pair.second.ref}: {o.note}" for o in self.unchecked]
                + [f"could not ask about the {h.question.hazard} hazard ({h.question.code}): {h.note}"
                   for h in self.hazards if h.answer is None])

    def evidence(self, diagnostic: Diagnostic) -> PairOutcome | None:
        """The outcome behind one of this report's findings."""
        for outcome, finding in zip(self._reported(), self.findings):
            if finding == diagnostic:
                return outcome
        return None

    def _reported(self) -> list[PairOutcome]:
        return [o for o in self.outcomes if o.judgement is not None and not o.judgement.resolved]

    def to_dict(self) -> dict:
        selection = self.selection
        return {
            "spec": self.spec.id, "model": self.model, "possible_pairs": selection.possible,
            "candidate_pairs": selection.candidates, "checked_pairs": len(selection.pairs),
            "per_clause": selection.per_clause, "max_pairs": selection.max_pairs,
            "calls": self.calls, "cache_hits": self.cache_hits,
            "pairs": [{"first": o.pair.first.ref, "second": o.pair.second.ref, "kind": o.pair.kind,
                       "score": o.pair.score,
                       **({"judgement": o.judgement.to_dict()} if o.judgement else {"note": o.note})}
                      for o in self.outcomes],
            "hazards": [{"code": h.question.code, "hazard": h.question.hazard,
                         **({"present": h.answer.present, "refs": list(h.answer.refs), "reason": h.answer.reason}
                            if h.answer else {"note": h.note})}
                        for h in self.hazards],
        }


def _loc(clause: Clause) -> Loc:
    if isinstance(clause, Rule) and not clause.loc.line:
        return clause.text_loc
    return clause.loc


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _sentence(text: str, limit: int) -> str:
    """Model text cut to ``limit`` and closed with a full stop, so parts of a one-line message stay apart."""
    text = _clip(text, limit)
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def _quote(clause: Clause) -> str:
    text = clause.text if isinstance(clause, Rule) else clause.resolution
    return f'"{_clip(" ".join(text.split()), 60)}"'


def finding_for(outcome: PairOutcome, model: str) -> Diagnostic:
    """The CH601 diagnostic for an unresolved pair: at the first clause, the second as related location."""
    pair, judgement = outcome.pair, outcome.judgement
    assert judgement is not None and not judgement.resolved
    a, b = pair.first, pair.second
    found = "a conflict" if judgement.verdict == "conflict" else "no clear answer in the spec"
    if judgement.winner == NEITHER:
        settles = "Nothing in the spec decides which wins"
    else:
        settles = f"By the spec {judgement.winner} should win, but it does not say so plainly"
    message = (f"{a.ref} {_quote(a)} and {b.ref} at {_loc(b)} {_quote(b)}: {model} found {found}. "
               f"Scenario: {_sentence(judgement.scenario, 400)} {a.ref} demands: {_sentence(judgement.first_demands, 200)} "
               f"{b.ref} demands: {_sentence(judgement.second_demands, 200)} {settles}: "
               f"{_sentence(judgement.reason, 300)}")
    lint_rule = RULES[CODE]
    return Diagnostic(_loc(a), CODE, " ".join(message.split()), lint_rule.severity, lint_rule.name, (_loc(b),))


async def _check_pair(spec: Spec, pair: ClausePair, calls: "CallService", model_id: str,
                      gate: asyncio.Semaphore) -> PairOutcome:
    from ..providers.calls import CallFailed, empty_tally

    tally = empty_tally()

    def outcome(judgement: Judgement | None, note: str = "") -> PairOutcome:
        return PairOutcome(pair, judgement, note, tally["calls"], tally["cached_calls"])

    async with gate:
        request = pair_request(spec, pair)
        try:
            reply = (await calls.call(model_id, request, tally=tally)).text
            try:
                return outcome(parse_judgement(reply, pair))
            except JudgementError as problem:
                reply = (await calls.call(model_id, _repair_request(request, reply, str(problem)), tally=tally)).text
                try:
                    return outcome(parse_judgement(reply, pair))
                except JudgementError as again:
                    return outcome(None, f"the model's answer was not the JSON asked for, twice ({again})")
        except CallFailed as failure:
            return outcome(None, failure.cause.message if failure.cause is not None else failure.message)


async def _ask_hazard(spec: Spec, question: "HazardQuestion", calls: "CallService", model_id: str,
                      gate: asyncio.Semaphore) -> HazardOutcome:
    from ..providers import Request
    from ..providers.calls import CallFailed, empty_tally
    from . import _hazard_prompts as hp

    tally = empty_tally()
    known = {ref for ref, _ in hp.hazard_texts(spec)}

    def outcome(answer: "HazardAnswer | None", note: str = "") -> HazardOutcome:
        return HazardOutcome(question, answer, note, tally["calls"], tally["cached_calls"])

    async with gate:
        request = Request(messages=({"role": "user", "content": hp.hazard_prompt(spec, question)},),
                          system=hp.INSTRUCTIONS, temperature=0.0, max_tokens=hp.MAX_TOKENS)
        try:
            reply = (await calls.call(model_id, request, tally=tally)).text
            try:
                return outcome(hp.parse_hazard_answer(reply, known))
            except hp.HazardAnswerError as problem:
                reply = (await calls.call(model_id, _repair_request(request, reply, str(problem)), tally=tally)).text
                try:
                    return outcome(hp.parse_hazard_answer(reply, known))
                except hp.HazardAnswerError as again:
                    return outcome(None, f"the model's answer was not the JSON asked for, twice ({again})")
        except CallFailed as failure:
            return outcome(None, failure.cause.message if failure.cause is not None else failure.message)


def hazard_findings(spec: Spec, outcomes: Sequence[HazardOutcome], model: str) -> tuple[Diagnostic, ...]:
    """CH602 findings from the answers: each text named, unless its static rule already reports it there."""
    from . import _hazard_prompts as hp

    where = {ref: (text, loc) for ref, text, loc in hp.hazard_passages(spec)}
    present = {o.question.hazard for o in outcomes if o.answer is not None and o.answer.present}
    lint_rule = RULES[HAZARD_CODE]
    found: list[Diagnostic] = []
    for outcome in outcomes:
        answer, question = outcome.answer, outcome.question
        if answer is None or not answer.present:
            continue
        if question.code == "CH301" and not {"engagement", "distrust"} <= present:
            continue  # one half of CH301 is not the hazard; the static rule reports only both
        static = {f.loc for f in RULES[question.code].run(spec)}
        for ref in answer.refs:
            text, loc = where[ref]
            if loc in static:
                continue
            message = (f"{ref} {_clip(' '.join(text.split()), 120)!r}: {model} found the {question.hazard} hazard "
                       f"({question.code} {RULES[question.code].name}): {_sentence(answer.reason, 300)}")
            found.append(Diagnostic(loc, HAZARD_CODE, " ".join(message.split()), lint_rule.severity, lint_rule.name))
    return tuple(dict.fromkeys(found))


async def deep_lint(spec: Spec, provider: "Provider", *, cache: "ResponseCache | None" = None,
                    per_clause: int = PER_CLAUSE, max_pairs: int | None = DEFAULT_MAX_PAIRS,
                    concurrency: int = CONCURRENCY, policy: "RetryPolicy | None" = None,
                    deadline: float | None = None,
                    hazard_questions: "Sequence[HazardQuestion] | None" = None) -> DeepReport:
    """Check the spec's candidate pairs with ``provider``; findings for the pairs it leaves unresolved.

    Calls go through the call service (:mod:`charter.providers.calls`): the response cache, then
    the provider under ``policy`` (default: the service's one retry policy). A pair whose answer
    stays unreadable after one repair request, or whose call keeps failing after the retry policy,
    becomes a note in the report, not an error. A fatal provider error (rejected key, unknown
    model, bad configuration, an endpoint no attempt could connect to) stops the run and is raised
    as it is. ``deadline`` bounds each call as a whole, in seconds. Besides the pairs, each hazard
    question (``hazard_questions``, default all of :data:`charter.lint._hazard_prompts.QUESTIONS`)
    is asked once; texts the model names become CH602 findings (``hazard_findings`` of the report).
    """
    import asyncio

    from ..providers.calls import DEFAULT_RETRY, CallOptions, CallService, RunAborted

    selection = select_pairs(spec, per_clause=per_clause, max_pairs=max_pairs)
    gate = asyncio.Semaphore(concurrency)
    calls = CallService(CallOptions(concurrency=concurrency, retry=policy or DEFAULT_RETRY, deadline=deadline),
                        cache=cache)
    model_id = calls.add(provider)
    tasks = [asyncio.create_task(_check_pair(spec, pair, calls, model_id, gate)) for pair in selection.pairs]
    questions = hazard_questions if hazard_questions is not None else _all_hazard_questions()
    hazard_tasks = [asyncio.create_task(_ask_hazard(spec, q, calls, model_id, gate)) for q in questions]
    try:
        outcomes = tuple(await asyncio.gather(*tasks))
        hazards = tuple(await asyncio.gather(*hazard_tasks))
    except RunAborted as aborted:
        await _cancel([*tasks, *hazard_tasks])
        raise aborted.cause or aborted from None
    except BaseException:
        await _cancel([*tasks, *hazard_tasks])
        raise
    findings = tuple(finding_for(o, model_id) for o in outcomes if o.judgement is not None and not o.judgement.resolved)
    return DeepReport(spec, model_id, selection, outcomes, findings, hazards, hazard_findings(spec, hazards, model_id))


def _all_hazard_questions() -> tuple["HazardQuestion", ...]:
    from ._hazard_prompts import QUESTIONS

    return QUESTIONS


async def _cancel(tasks: list[asyncio.Task]) -> None:
    import asyncio

    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def run_deep(specs: Sequence[Spec], model: str, *, base_url: str | None = None, cache: "ResponseCache | None" = None,
             per_clause: int = PER_CLAUSE, max_pairs: int | None = DEFAULT_MAX_PAIRS,
             concurrency: int = CONCURRENCY, timeout: float | None = None,
             hazards: bool = True) -> list[DeepReport]:
    """Deep-lint each spec with one provider for ``model`` (``provider:model``), in one event loop;
    ``timeout`` bounds each call as a whole (a deadline), in seconds; ``hazards`` False asks no
    hazard question (CH602 deselected).

    Raises the provider layer's ConfigError for a malformed model id or a missing key before any
    call, and its FatalError subclasses (rejected key, unknown model) at the first call.
    """
    import asyncio

    from ..providers import get_provider

    provider = get_provider(model, base_url=base_url, **({"timeout": timeout} if timeout is not None else {}))

    async def run_all() -> list[DeepReport]:
        async with provider:
            return [await deep_lint(spec, provider, cache=cache, per_clause=per_clause, max_pairs=max_pairs,
                                    concurrency=concurrency, deadline=timeout,
                                    hazard_questions=None if hazards else ()) for spec in specs]

    return asyncio.run(run_all())


# --- SARIF evidence ---------------------------------------------------------------------------------


def annotate_sarif(log: dict, reports: Iterable[DeepReport]) -> dict:
    """Adds each CH601 result's evidence to a SARIF log from ``to_sarif``, in place, and returns it.

    The scenario, both demands, verdict, winner and reason go in ``result.properties``; the
    related location's message says what the second clause demands; pairs that could not be
    checked become the run's tool execution notifications, where SARIF keeps what a tool could not do.
    """
    reports = list(reports)
    # A message names both clauses and the second one's position, so it identifies its pair.
    evidence = {diagnostic.message: (report, outcome) for report in reports for diagnostic in report.findings
                if (outcome := report.evidence(diagnostic)) is not None}
    run = log["runs"][0]
    for result in run["results"]:
        match = evidence.get(result["message"]["text"]) if result.get("ruleId") == CODE else None
        if match is None:
            continue
        report, outcome = match
        judgement = outcome.judgement
        pair = outcome.pair
        result["properties"] = {"model": report.model, "first": pair.first.ref, "second": pair.second.ref,
                                **judgement.to_dict()}
        result["locations"][0]["message"] = {"text": f"{pair.first.ref} demands: {judgement.first_demands}"}
        for related in result.get("relatedLocations", ())[:1]:
            related["message"] = {"text": f"{pair.second.ref} demands: {judgement.second_demands}"}
    notes = [{"level": "warning", "message": {"text": f"{report.spec.id}: {note}"}}
             for report in reports for note in report.notes()]
    run["invocations"] = [{"executionSuccessful": True, "toolExecutionNotifications": notes}]
    return log
