"""Reading rule text: split it into directives, each with a polarity and a normalised action.

The conflict detector and several hazard rules need to know what a sentence tells the
character to do, and whether it says do or don't. This is a small, deterministic reading of
English imperatives, not a parser: directive markers (always / must / never / don't / avoid /
refuse ...) give the polarity, conditions ("when the user asks ...") are set aside, words are
stemmed lightly, stop words dropped, and synonyms mapped to one concept. Antonyms of the
action ("conceal" for "say", "discourage" for "recommend", "break character" for "stay in
character") become the same concept with the polarity flipped, so "Never deny being an AI"
and "Always admit you are an AI" read alike.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Iterator, Sequence

from .screen import Pattern, Texts

_IRREGULAR = {
    "told": "tell", "said": "say", "says": "say", "felt": "feel", "gave": "give", "given": "give",
    "written": "write", "wrote": "write", "thought": "think", "made": "make", "kept": "keep",
    "broken": "break", "broke": "break", "children": "child", "kids": "child", "men": "man",
    "women": "woman", "people": "person", "taught": "teach", "lied": "lie", "lying": "lie",
    "shown": "show", "hid": "hide", "hidden": "hide", "ran": "run", "sent": "send", "went": "go",
    "does": "do", "did": "do", "done": "do", "has": "have", "had": "have", "is": "be", "are": "be",
    "was": "be", "were": "be", "been": "be", "am": "be", "being": "be", "feelings": "feel",
    "feeling": "feel", "emotions": "emotion", "news": "news", "always": "always", "less": "less",
    "this": "this", "us": "us", "yes": "yes", "politics": "politic", "political": "politic",
}


@lru_cache(maxsize=65536)  # a spec's words repeat: thousands of rules share a few hundred
def stem(word: str) -> str:
    """A light, consistent stem: plural, -ing and -ed removed, a final e dropped.

    The result need not be a word; it only has to be the same for the forms of one word
    ("use", "uses", "using", "used" all give "us").
    """
    word = _IRREGULAR.get(word, word)
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


# Words that carry no action: articles, pronouns, auxiliaries, prepositions, quantifiers, and
# the people a rule addresses (every rule is about "the user"; that shared word is no overlap).
_STOP_WORDS = """
a an the this that these those it its it's i me my mine we our ours you your yours yourself
yourselves he him his she her hers they them their theirs themselves one ones someone anyone
everyone something anything everything whatever whoever whichever nothing
be am is are was were been being do does did done have has had having will would shall should
can could may might must ought to of in on at by for with from into onto about as than then so
such and or nor but if when whenever while until unless once because though although whether
not no never always only just even also still very really quite too more most less least much
many few all any each every both either neither other another same own else ever yet again
there here where what which who whom whose how why up down out over under off back away
please let lets
user users customer customers child children kid kids student students person people
reader member members client clients visitor visitors caller callers
learner learners patient patients answer answers reply replies response responses respond responds
""".split()

# Verbs that only carry the action named by their object ("give advice" is "advise", "use
# emoji" is about emoji).
_LIGHT_WORDS = """
give gives giving gave given use uses using used keep keeps keeping kept make makes making made
provide provides providing get gets getting got help helps helping helped include includes
including included try tries trying tried put puts putting
""".split()

# Manner and degree words: they change how an action is done, not which action it is.
_MANNER_WORDS = """
clear clearly precise precisely specific specifically exact exactly simple simply plain plainly
gentle gently polite politely kind kindly honest honestly own genuine genuinely real really
actual actually proper properly full fully whole complete completely quick quickly careful
carefully calm calmly warm warmly firmly firm briefly openly truly certainly definitely
""".split()

# Concepts: every word in a group maps to the group's first word.
_SYNONYM_GROUPS = [
    # Saying, revealing and admitting are one action for conflict purposes: "reveal that you
    # are an AI", "say you are an AI" and "admit you are an AI" clash with the same denials.
    "say tell state claim assert insist declare reveal disclose share show express voice divulge "
    "expose leak display describe admit acknowledge confess report announce inform mention "
    "remind raise discuss",
    "agree concede accept side",
    "recommend suggest encourage urge push promote upsell advertise pitch",
    "comply obey follow fulfil fulfill honour honor",
    "escalate refer hand transfer forward handoff",
    "collect gather request obtain solicit",
    "apologize apologise",
    "profanity swear swearing curse cursing obscenity expletive",
    "jargon terminology",
    "advice guidance advise counsel",
    "short brief concise succinct terse",
    "formal",
    "previous earlier past prior",
    "conversation session chat",
    "opinion view stance",
    "feel emotion",
    "ai bot chatbot machine",
    "incharacter",
    "mistake error",
    "joke humor humour",
    "emoji emojis emoticon",
    "validate validation",
    "praise compliment",
]

# Words that name the opposite of a concept: the concept, with the polarity flipped.
_ANTONYMS = {
    "conceal": "say", "hide": "say", "withhold": "say", "deny": "say", "suppress": "say",
    "disagree": "agree", "contradict": "agree", "dispute": "agree",
    "discourage": "recommend", "dissuade": "recommend",
    "refuse": "comply", "decline": "comply", "ignore": "comply", "disobey": "comply",
    "reject": "comply",
    "long": "short", "lengthy": "short", "verbose": "short", "long-winded": "short",
    "informal": "formal", "casual": "formal", "colloquial": "formal",
    "outcharacter": "incharacter",
    "invalidate": "validate", "dismiss": "validate",
}

# Multi-word idioms rewritten before the words are read.
_PHRASES = [
    (r"\b(?:tell|telling|assure|reassure)\s+(?:the user|users|the customer|customers|them|him|her|the child|the student)"
     r"\s+(?:that\s+)?(?:they|he|she|the user|the customer)\s*(?:'re|are|is)\s+(?:always\s+)?right\b", "agree with them"),
    (r"\b(?:you are|you're|they are|they're|the user is)\s+always\s+right\b", "agree always"),
    (r"\bpush(?:es|ing)?\s+back\b", "pushback"),
    (r"\b(?:answer|respond|reply)\s+(?:honestly|truthfully)\b", "say"),
    (r"\btell\s+(?:\w+\s+)?the\s+truth\b", "say"),
    (r"\bbe\s+(?:honest|truthful|open|transparent|upfront)\s+(?:about|that)\b", "say"),
    (r"\bkeep\s+(.{1,60}?)\s+(?:a\s+)?(?:secret|private|confidential)\b", r"conceal \1"),
    (r"\b(?:under|fewer than|less than|at most|no more than|within)\s+\d+\s+(?:words|sentences|lines|characters)\b", "short"),
    (r"\bin\s+(?:full\s+|great\s+)?detail\b|\bat\s+length\b", "long"),
    (r"\b(?:stay|remain|keep|staying|remaining)\s+in\s+(?:character|persona|role)\b", "incharacter"),
    (r"\b(?:break|breaking|drop|dropping|leave|leaving|step out of|abandon)\s+(?:the\s+|your\s+|this\s+)?"
     r"(?:character|persona|role)\b", "outcharacter"),
    (r"\bout\s+of\s+character\b", "outcharacter"),
    (r"\bask\s+(?:\w+\s+){0,3}?for\b", "request"),
    (r"\bhand\s+(?:\w+\s+)?(?:off|over)\b", "escalate"),
    (r"\bgive\s+up\b", "abandon"),
    (r"\bplay\s+along\b", "agree"),
    (r"\bgo\s+along\s+with\b", "agree with"),
    (r"\bside\s+with\b", "agree with"),
    (r"\bother\s+than\b", "unrelated"),
    (r"\bnot\s+(?:related|relevant)\s+to\b", "unrelated to"),
    # "engage in abuse" is abusing: the verb is light, unlike "be engaging" (imported Model Spec).
    (r"\bengag(?:e|es|ed|ing)\s+in\b", ""),
]
_PHRASE_RES = [(Pattern(p), r) for p, r in _PHRASES]
# One pass that says whether any idiom occurs at all: when none does, no rewrite can create one,
# so the twenty rewrites are skipped (most rule texts hold none). RE2 screens all the texts of a
# lint run for it at once (``directives_of``).
_ANY_PHRASE = Pattern("|".join(f"(?:{p})" for p, _ in _PHRASES))

_CONTRACTIONS = [(Pattern(p), r) for p, r in [
    (r"\bcan't\b|\bcannot\b", "can not"), (r"\bwon't\b", "will not"), (r"\bshan't\b", "shall not"),
    (r"\b(\w+)n't\b", r"\1 not"), (r"\b(\w+)'re\b", r"\1 are"), (r"\b(\w+)'ll\b", r"\1 will"),
    (r"\b(\w+)'ve\b", r"\1 have"), (r"\bi'm\b", "i am"), (r"\b(\w+)'s\b", r"\1"),
]]

_SUBJECT = r"(?:(?:you|i|we|please|the assistant|assistant|[a-z]+ (?=should|must|will))\s+)?"
_DOUBLE_NEGATIVE = re.compile(_SUBJECT + r"(?:never fail to|do not forget to|not forget to|never forget to)\s+")
_NEGATIVE = re.compile(
    _SUBJECT + r"(?:(?:always|also|still)\s+)?"
    r"(?:(?:must|should|shall|will|can|may|do|does|would)\s+(?:not|never)(?:\s+ever)?|never(?:\s+ever)?|avoid|"
    r"refrain from|stop(?=\s+\w+ing\b)|refuse to|decline to|under no circumstances(?:\s+(?:should|will|do|may)\s+(?:you|i))?|"
    r"no longer|not|no)\b\s*"
)
_POSITIVE = re.compile(
    _SUBJECT + r"(?:(?:must|should|shall|will)\s+)?(?:always|only|make sure(?: to| that you| you)?|be sure to|"
    r"remember to|at all times|must|should)?\s*"
)
_LEADING_CONDITION = re.compile(
    r"^(?:if|when|whenever|once|unless|while|after|before|even if|even when|as soon as|in case|where)\b[^,]*,\s*"
    # a list inside the condition ("when asked whether you have feelings, consciousness or
    # experiences, say ...") runs on to the comma after its last item; an "and" list is more
    # often a chain of instructions ("if asked, say so and apologize, then ...")
    r"(?:(?:[\w'-]+\s+){0,3}or\s+(?:[\w'-]+\s*){1,3},\s*)?")
_CONDITION_WORDS = r"(?:if|when|whenever|once|unless|while|after|before|even if|even when|as soon as|in case)\b"
_STARTS_WITH_CONDITION = re.compile(_CONDITION_WORDS)
_TRAILING_CONDITION = Pattern(
    r"\b(?:when|whenever|if|unless|once|while|after|before|even if|even when|as soon as|in case|whether|until|"
    r"so that|in order to|so as to)\b")
# Clause boundaries: end punctuation, "but" or a dash between spaces, a comma before "but", "and
# then" or a new directive. Written as what it is, the pattern is
#   [.;:!?]+(?:\s+|$) | \s+(?:but|—|–|-{1,2})\s+ | ,\s+(?:but|and then)\s+ | ,\s+(?=(?:and\s+|or\s+)?(?:do not|...)\b)
# and below each alternative's first character is taken by one class in front (the look-behind
# says which alternative it began): the same matches, but the engine skips to the next
# punctuation or space in C instead of trying four alternatives at every character.
_CLAUSE_SPLIT = re.compile(r"[.;:!?,\s](?:(?<=[.;:!?])[.;:!?]*(?:\s+|$)|(?<=\s)\s*(?:but|—|–|-{1,2})\s+"
                           r"|(?<=,)\s+(?:but|and then)\s+|(?<=,)\s+(?=(?:and\s+|or\s+)?(?:do not|never|always|avoid)\b))")
# A pair of dashes sets off an aside ("- at home, at school or online -"), not a new clause.
_ASIDE = re.compile(r"\s[-–—]{1,2}\s[^-–—]{1,80}?\s[-–—]{1,2}\s")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

_NEGATION_WORDS = {"not", "no", "never", "nothing", "none"}
_BRACKETS = re.compile(r"[\"()\[\]{}*_`]")
# A text with none of these is lower-case ASCII words and digits between spaces: its _WORD matches are
# its space-separated words.
_NOT_PLAIN = re.compile(r"[^a-z0-9 ]")


def _concept_tables() -> tuple[dict[str, str], dict[str, str], frozenset[str], frozenset[str], frozenset[str]]:
    synonyms: dict[str, str] = {}
    for group in _SYNONYM_GROUPS:
        words = group.split()
        head = stem(words[0])
        for word in words:
            synonyms.setdefault(stem(word), head)
    antonyms = {stem(word): synonyms.get(stem(target), stem(target)) for word, target in _ANTONYMS.items()}
    stop = frozenset(stem(w) for w in _STOP_WORDS) | frozenset(_STOP_WORDS)
    light = frozenset(stem(w) for w in _LIGHT_WORDS)
    manner = frozenset(stem(w) for w in _MANNER_WORDS)
    return synonyms, antonyms, stop, light, manner


_SYNONYMS, _ANTONYM_STEMS, _STOP, _LIGHT, _MANNER = _concept_tables()
_OBJECT_NEGATOR_STEMS = frozenset(stem(w) for w in ("unrelated", "irrelevant"))
# Verbs after which "when ..." / "whether ..." is what is said, not a condition ("say when
# you are unsure", "tell the child whether the answer is right").
_SAY = _SYNONYMS[stem("say")]
_WEAK_ANCHORS = frozenset((_SAY,))


@dataclass(frozen=True, slots=True)
class Directive:
    """One instruction read from a sentence: do (positive) or don't, and the action's concepts.

    ``head`` is the first concept of the action (usually its verb); ``concepts`` holds every
    concept of the action including the head; ``negated_object`` records a "not" inside the
    action ("say you are *not* an AI").
    """

    positive: bool
    head: str
    concepts: frozenset[str]
    negated_object: bool
    clause: str

    @property
    def bare(self) -> bool:
        """The action names no object, so it covers every object of its verb ("Never apologize")."""
        return len(self.concepts) == 1 and self.head in self.concepts


def _normalise(text: str) -> str:
    return _finish_normalising(_normalise_words(text))


def _normalise_words(text: str) -> str:
    """The first part of normalising: case, quotes, contractions, brackets, asides and hyphens."""
    text = text.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = expand_contractions(text, _CONTRACTIONS)
    text = _BRACKETS.sub(" ", text)
    if "-" in text or "–" in text or "—" in text:  # an aside is set off by dashes, a hyphen is one
        text = _ASIDE.sub(" ", text)
        if "-" in text:
            text = _HYPHEN.sub(" ", text)
    return text


def _finish_normalising(text: str, idioms: bool = True) -> str:
    """The rest: the idioms rewritten (``idioms`` False: the screen found none) and spaces collapsed."""
    if idioms and _ANY_PHRASE.search(text) is not None:
        for pattern, replacement in _PHRASE_RES:
            text = pattern.exact.sub(replacement, text)
    # str.split splits on exactly what re's \s matches (str.isspace): the same as \s+ -> " ", stripped.
    return " ".join(text.split())


_HYPHEN = re.compile(r"(?<=[a-z])-(?=[a-z])")


def expand_contractions(text: str, contractions: list[tuple[Pattern, str]]) -> str:
    """``text`` with each contraction rewritten; the first pattern must be the one for "cannot",
    the only one without an apostrophe, so a text with no apostrophe needs that pass alone."""
    if "'" in text:
        for pattern, replacement in contractions:
            text = pattern.exact.sub(replacement, text)
    elif "cannot" in text:
        pattern, replacement = contractions[0]
        text = pattern.exact.sub(replacement, text)
    return text


_NEGATES = ("", False)  # what _word_concept gives a negation word


@lru_cache(maxsize=65536)  # a spec's words repeat
def _word_concept(word: str) -> tuple[str, bool] | None:
    """The concept of one word and whether it is an antonym; None for a word that carries none;
    ``_NEGATES`` for a negation."""
    if word in _NEGATION_WORDS:
        return _NEGATES
    stemmed = stem(word)
    if word in _STOP or stemmed in _STOP or stemmed in _LIGHT or stemmed in _MANNER or len(stemmed) < 2:
        return None
    if stemmed in _ANTONYM_STEMS:
        return _ANTONYM_STEMS[stemmed], True
    return _SYNONYMS.get(stemmed, stemmed), False


def _concepts(words: list[str]) -> tuple[list[str], list[bool], bool]:
    """Concept per content word, whether it was an antonym, and whether a negation occurred."""
    read = [concept for concept in map(_word_concept, words) if concept is not None]
    kept = [concept for concept in read if concept is not _NEGATES]
    return [concept for concept, _ in kept], [flip for _, flip in kept], len(kept) < len(read)


def _words(text: str) -> list[str]:
    """``_WORD.findall(text)``; a text of only ASCII lower-case letters, digits and spaces (most
    actions) is split on its spaces, which gives the same words faster."""
    if _NOT_PLAIN.search(text) is None:
        return text.split()
    return _WORD.findall(text)


def _directive(clause: str) -> Directive | None:
    clause = clause.strip(" ,")
    while (match := _LEADING_CONDITION.match(clause)) is not None:
        clause = clause[match.end():]
    if _STARTS_WITH_CONDITION.match(clause):
        return None  # a condition with no directive after it
    positive = True
    if (match := _DOUBLE_NEGATIVE.match(clause)) is not None:
        action = clause[match.end():]
    elif (match := _NEGATIVE.match(clause)) is not None and match.end() > 0:
        positive, action = False, clause[match.end():]
    else:
        match = _POSITIVE.match(clause)
        action = clause[match.end():] if match else clause
    # `negated` is read off the final action's words; the action is cut at most once, so the
    # concepts of whichever action is final already say it (no second pass over a long text).
    concepts, flips, negated = _concepts(_words(action))
    if not concepts:
        return None
    head = concepts[0]
    condition = _TRAILING_CONDITION.search_long(action)
    if condition is not None:
        cut = _concepts(_words(action[: condition.start()]))
        before = cut[0]
        keyword = condition.group(0)
        complement = head == _SAY and keyword in ("when", "if", "whether") and len(set(before)) <= 1
        if not complement and before:
            action = action[: condition.start()]
            concepts, flips, negated = cut
    if flips and flips[0]:
        positive = not positive
    if not _OBJECT_NEGATOR_STEMS.isdisjoint(islice(concepts, 1, None)):
        positive = not positive
    return Directive(positive, head, frozenset(concepts), negated, clause)


_DIRECTIVES: dict[str, tuple[Directive, ...]] = {}  # text -> its directives, the most recent 65,536 texts
_DIRECTIVES_KEPT = 65536


def directives(text: str) -> tuple[Directive, ...]:
    """Every directive in ``text``, one per clause that names an action."""
    found = _DIRECTIVES.get(text)
    return found if found is not None else directives_of((text,))[0]


def directives_of(texts: Sequence[str]) -> list[tuple[Directive, ...]]:
    """``directives`` of each text; the texts not read before are screened for idioms in one RE2 pass."""
    known = _DIRECTIVES
    fresh = [text for text in dict.fromkeys(texts) if text not in known]
    read: dict[str, tuple[Directive, ...]] = {}
    if fresh:
        words = [_normalise_words(text) for text in fresh]
        idioms = Texts(words).may_match(_ANY_PHRASE)
        for text, normal, maybe in zip(fresh, words, idioms):
            read[text] = _read(_finish_normalising(normal, maybe))
    result = [read[text] if text in read else known[text] for text in texts]
    known.update(read)
    while len(known) > _DIRECTIVES_KEPT:
        del known[next(iter(known))]
    return result


def _read(normal: str) -> tuple[Directive, ...]:
    found = []
    for clause in _CLAUSE_SPLIT.split(normal):
        if clause and (directive := _directive(clause)) is not None:
            found.append(directive)
    return tuple(found)


directives.cache_clear = _DIRECTIVES.clear  # type: ignore[attr-defined]  (as with functools' caches)


def contradicts(a: Directive, b: Directive) -> bool:
    """Whether two directives say do and don't about substantially the same action.

    The heads must correspond (the same concept, or one's head named in the other's action,
    unless that head is a verb as general as "say", which turns up in half of all rules);
    then either one side is the bare action and so covers the other ("Avoid emoji" against
    "Always use emoji to keep the tone light"), or the actions share at least two concepts
    and at least half of the smaller one's.
    """
    if a.positive == b.positive:
        return False
    if a.head != b.head and not ((a.head in b.concepts and a.head not in _WEAK_ANCHORS) or
                                 (b.head in a.concepts and b.head not in _WEAK_ANCHORS)):
        return False
    if a.head == b.head and (a.bare or b.bare):
        return True
    shared = len(a.concepts & b.concepts)
    return shared >= 2 and shared * 2 >= min(len(a.concepts), len(b.concepts))


def contradicting_pairs(left: Sequence[Directive], right: Sequence[Directive] | None = None
                        ) -> Iterator[tuple[int, int]]:
    """Every pair of positions ``(i, j)`` whose directives contradict each other: within ``left``
    (``i < j``) or, given ``right``, between ``left[i]`` and ``right[j]``. Each pair once, in no
    particular order.

    No pair is compared unless it can pass ``contradicts``. That needs opposite polarities and
    an anchor concept ``x``, the head of one side named in the other's action, and then either
    the same head with one side bare, or at least ``t = max(2, ceil(s / 2))`` shared concepts,
    ``s`` the smaller side's number of concepts. So each directive is filed, for each concept
    that may anchor it, under (anchor, c, polarity) for the ``s - t + 1`` rarest of its other
    concepts ``c`` (a prefix filter: a pair sharing ``t - 1`` concepts besides the anchor shares
    one in the smaller side's prefix), and looks itself up under (anchor, c) for every concept
    it has. The work grows with the directives and the pairs that do share an anchor and a rarer
    concept, not with the square of the number of directives.
    """
    sides = (left,) if right is None else (left, right)
    heads = {d.head for side in sides for d in side}
    frequency: dict[str, int] = defaultdict(int)
    for side in sides:
        for directive in side:
            for concept in directive.concepts:
                frequency[concept] += 1

    def anchors(directive: Directive) -> list[str]:
        return [directive.head, *(c for c in directive.concepts
                                  if c != directive.head and c in heads and c not in _WEAK_ANCHORS)]

    def file(side: Sequence[Directive]):
        by_key: dict[tuple[str, str, bool], list[int]] = defaultdict(list)
        by_head: dict[tuple[str, bool], list[int]] = defaultdict(list)
        bare: dict[tuple[str, bool], list[int]] = defaultdict(list)
        for position, directive in enumerate(side):
            by_head[directive.head, directive.positive].append(position)
            if directive.bare:
                bare[directive.head, directive.positive].append(position)
                continue
            size = len(directive.concepts)
            prefix = size - max(2, -(-size // 2)) + 1
            rarest_first = sorted(directive.concepts, key=lambda c: (frequency[c], c))
            for anchor in anchors(directive):
                rest = [c for c in rarest_first if c != anchor]
                for concept in rest[:prefix]:
                    by_key[anchor, concept, directive.positive].append(position)
        return by_key, by_head, bare

    def probe(directive: Directive, index, others: Sequence[Directive]) -> set[int]:
        by_key, by_head, bare = index
        opposite = not directive.positive
        candidates: set[int] = set(by_head.get((directive.head, opposite), ()) if directive.bare
                                   else bare.get((directive.head, opposite), ()))
        if not directive.bare:
            for anchor in anchors(directive):
                for concept in directive.concepts:
                    if concept != anchor:
                        candidates.update(by_key.get((anchor, concept, opposite), ()))
        return {j for j in candidates if contradicts(directive, others[j])}

    if right is None:
        index = file(left)
        found = {(min(i, j), max(i, j)) for i, directive in enumerate(left)
                 for j in probe(directive, index, left) if i != j}
        yield from found
        return
    left_index, right_index = file(left), file(right)
    found = {(i, j) for i, directive in enumerate(left) for j in probe(directive, right_index, right)}
    found.update((i, j) for j, directive in enumerate(right) for i in probe(directive, left_index, left))
    yield from found


def conflicting_directives(text_a: str, text_b: str) -> tuple[Directive, Directive] | None:
    """The first pair of directives, one from each text, that contradict each other."""
    for a in directives(text_a):
        for b in directives(text_b):
            if contradicts(a, b):
                return a, b
    return None


def rules_conflict(text_a: str, text_b: str) -> bool:
    return conflicting_directives(text_a, text_b) is not None
