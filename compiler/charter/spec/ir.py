"""The intermediate representation: one typed, immutable Spec that every later stage reads.

Nothing downstream of the front end looks at YAML. Every clause keeps the position it was
written at, so lint findings and build provenance point back at the source.

The types are frozen ``msgspec.Struct`` classes: immutable, hashable, compared and shown field
by field like frozen dataclasses, but made by a C metaclass and filled by a C ``__init__``. A
frozen, slotted dataclass generates six methods per class as Python source and compiles them
when the module is imported (an eighth of `charter validate`'s instructions), and fills each field through
``object.__setattr__``; with Structs, importing this module takes a thirtieth of the time and
turning a 2,000-rule spec's tree into IR a third. ``msgspec.structs.replace`` and ``asdict``
take the places of ``dataclasses.replace`` and ``asdict``.
"""

from __future__ import annotations

from msgspec import Struct, field
from typing import Iterator, Literal, Optional, Union

from ..diagnostics import Loc

Strength = Literal["hard", "default", "soft"]
STRENGTHS: tuple[Strength, ...] = ("hard", "default", "soft")
DRIFT_RISKS = ("sycophancy", "emotional-dependence", "ai-consciousness", "roleplay-escape")
CLAUSE_KINDS = ("value", "trait", "rule", "tension")
NOWHERE = Loc("<none>")


class Source(Struct, frozen=True):
    """Where an imported clause came from in its source document."""

    document: str
    section: str = ""
    lines: tuple[int, int] | None = None


class Context(Struct, frozen=True):
    """A named situation (`contexts:`) that rules, traits and tensions can be limited to with `when`."""

    id: str
    description: str
    notes: str = ""
    loc: Loc = NOWHERE


class Voice(Struct, frozen=True):
    """How the character sounds: tone words, and phrasing to use and to avoid."""

    tone: tuple[str, ...] = ()
    do: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.tone or self.do or self.avoid)


class Identity(Struct, frozen=True):
    """Who the character is: self-description, nature, background and voice."""

    self_description: str = ""
    nature: str = ""
    background: str = ""
    voice: Voice = field(default_factory=Voice)
    loc: Loc = NOWHERE
    nature_loc: Loc = NOWHERE


class ClauseProbe(Struct, frozen=True):
    """An authored probe written on a clause: the user's message(s) and the context they are sent in."""

    turns: tuple[str, ...]
    context: str = ""
    loc: Loc = NOWHERE


class Value(Struct, frozen=True):
    """A value the character holds; values are ranked by their order in the spec (priority 1 first)."""

    id: str
    description: str
    priority: int  # 1 is the highest
    notes: str = ""
    source: Optional[Source] = None
    probes: tuple[ClauseProbe, ...] = ()
    loc: Loc = NOWHERE

    @property
    def ref(self) -> str:
        return f"value:{self.id}"


class Trait(Struct, frozen=True):
    """A disposition the character shows, in every context or only in those `when` names."""

    id: str
    description: str
    when: tuple[str, ...] = ()
    notes: str = ""
    source: Optional[Source] = None
    probes: tuple[ClauseProbe, ...] = ()
    loc: Loc = NOWHERE

    @property
    def ref(self) -> str:
        return f"trait:{self.id}"


class Rule(Struct, frozen=True):
    """A behavioural rule: `hard` is never overridden, `default` holds unless the operator changes it,
    `soft` yields to what the user asks for."""

    id: str
    text: str
    strength: Strength = "default"
    serves: tuple[str, ...] = ()
    when: tuple[str, ...] = ()
    rationale: str = ""
    notes: str = ""
    source: Optional[Source] = None
    probes: tuple[ClauseProbe, ...] = ()
    loc: Loc = NOWHERE
    text_loc: Loc = NOWHERE

    @property
    def ref(self) -> str:
        return f"rule:{self.id}"


class Turn(Struct, frozen=True):
    """One message of an authored conversation."""

    role: Literal["user", "assistant"]
    content: str


class BadReply(Struct, frozen=True):
    """A reply an example rejects, with the reason it is wrong."""

    text: str
    why: str


class Example(Struct, frozen=True):
    """A user turn (or conversation ending with one), a good reply and bad replies.

    Authored examples carry their own id and targets; tension examples get the id
    ``<tension>-<n>`` (n from 1) and target their tension.
    """

    id: str
    conversation: tuple[Turn, ...]  # ends with a user turn
    good: str
    bad: tuple[BadReply, ...] = ()
    targets: tuple[str, ...] = ()
    context: str = ""
    split: str = ""  # "train", "eval", or "" for the default (targets.split decides)
    notes: str = ""
    source: Optional[Source] = None
    loc: Loc = NOWHERE

    @property
    def prompt(self) -> str:
        """The last user message: the one the good reply answers."""
        return self.conversation[-1].content


class Tension(Struct, frozen=True):
    """Two or more values in conflict in a situation, and how the character resolves it."""

    id: str
    values: tuple[str, ...]
    situation: str
    resolution: str
    favors: Optional[str] = None
    when: tuple[str, ...] = ()
    examples: tuple[Example, ...] = ()
    notes: str = ""
    source: Optional[Source] = None
    probes: tuple[ClauseProbe, ...] = ()
    loc: Loc = NOWHERE

    @property
    def ref(self) -> str:
        return f"tension:{self.id}"


class Check(Struct, frozen=True):
    """A mechanical check of a probe's reply: a substring or a regular expression that must (not) match."""

    type: Literal["contains", "not-contains", "regex", "not-regex"]
    value: str
    ignore_case: bool = True
    description: str = ""


class Probe(Struct, frozen=True):
    """An authored eval probe: the user's turn(s), the rubric a judge grades by, and the clauses it tests."""

    id: str
    turns: tuple[str, ...]
    rubric: str
    targets: tuple[str, ...]
    checks: tuple[Check, ...] = ()
    context: str = ""
    good: str = ""
    notes: str = ""
    source: Optional[Source] = None
    loc: Loc = NOWHERE


class Fact(Struct, frozen=True):
    """A settled fact for the built-in sycophancy script: the question, the answer to hold, the claimed one."""

    question: str
    answer: str
    claimed: str
    pattern: str = ""
    context: str = ""
    loc: Loc = NOWHERE


class DriftScript(Struct, frozen=True):
    """An authored pressure script for a declared risk; it replaces the built-in script of that risk."""

    id: str
    risk: str
    turns: tuple[str, ...]
    rubric: str
    context: str = ""
    targets: tuple[str, ...] = ()
    hold: Optional[tuple[str, str, str]] = None  # (answer, claimed, pattern) for sycophancy
    notes: str = ""
    loc: Loc = NOWHERE


class Drift(Struct, frozen=True):
    """The drift risks the spec declares, with their facts, scripts and the self-talk length."""

    risks: tuple[str, ...] = ()
    self_talk_turns: int = 10
    notes: str = ""
    facts: tuple[Fact, ...] = ()
    scripts: tuple[DriftScript, ...] = ()
    loc: Loc = NOWHERE


class Training(Struct, frozen=True):
    """Training-data settings: the inoculation prompt and notes."""

    inoculation: Optional[str] = None
    notes: str = ""


Clause = Union[Value, Trait, Rule, Tension]


class Spec(Struct, frozen=True):
    """A fully resolved character: `extends` merged, validated, references checked."""

    id: str
    name: str
    charter: int = 1
    version: str = ""
    summary: str = ""
    notes: str = ""
    metadata: tuple[tuple[str, object], ...] = ()
    contexts: tuple[Context, ...] = ()
    identity: Identity = field(default_factory=Identity)
    values: tuple[Value, ...] = ()
    traits: tuple[Trait, ...] = ()
    rules: tuple[Rule, ...] = ()
    tensions: tuple[Tension, ...] = ()
    examples: tuple[Example, ...] = ()
    probes: tuple[Probe, ...] = ()
    drift: Drift = field(default_factory=Drift)
    training: Training = field(default_factory=Training)
    lint_ignore: tuple[str, ...] = ()
    # Every file that went into the spec, the entry file first, then bases in resolution order.
    files: tuple[str, ...] = ()
    digest: str = ""  # sha256 of the canonical resolved spec (loader.canonical_json); "" if not computed
    loc: Loc = NOWHERE
    summary_loc: Loc = NOWHERE

    def clauses(self) -> Iterator[Clause]:
        """Every addressable clause, values first in priority order, then traits, rules, tensions."""
        yield from self.values
        yield from self.traits
        yield from self.rules
        yield from self.tensions

    def clause(self, ref: str) -> Clause | None:
        """Look a clause up by its ref, e.g. ``rule:no-false-assertions``."""
        return self._index().get(ref)

    def value(self, value_id: str) -> Value | None:
        return self._index().get(f"value:{value_id}")  # type: ignore[return-value]

    def context(self, context_id: str) -> Context | None:
        return next((c for c in self.contexts if c.id == context_id), None)

    def all_examples(self) -> Iterator[Example]:
        """Tension examples (in tension order) and then the authored examples."""
        for tension in self.tensions:
            yield from tension.examples
        yield from self.examples

    def _index(self) -> dict[str, Clause]:
        # Specs are immutable, so the index is computed once and cached on the instance.
        try:
            return _INDEX_CACHE[id(self)][1]
        except KeyError:
            index = {c.ref: c for c in self.clauses()}
            _INDEX_CACHE[id(self)] = (self, index)
            if len(_INDEX_CACHE) > 64:
                _INDEX_CACHE.pop(next(iter(_INDEX_CACHE)))
            return index


_INDEX_CACHE: dict[int, tuple[Spec, dict[str, Clause]]] = {}


def applies(when: tuple[str, ...], context: str | None) -> bool:
    """Whether a clause restricted to ``when`` applies in ``context``.

    No ``when`` means everywhere. In the context-free rendering (``context`` None) only
    unrestricted clauses apply.
    """
    if not when:
        return True
    return context is not None and context in when
