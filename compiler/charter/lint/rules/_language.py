"""CH4xx language: rule wording that cannot be tested, or that says more than the rule's strength."""

from __future__ import annotations

from typing import Iterator

from ...spec.ir import Spec
from ..registry import Finding, rule
from ..screen import Pattern, Texts
from ._helpers import rule_loc


_VAGUE = Pattern(
    r"\b(?:appropriate(?:ly)?|inappropriate(?:ly)?|as needed|when needed|if needed|as necessary|when necessary|"
    r"if necessary|where necessary|where appropriate|as appropriate|reasonabl[ey]|properly|suitabl[ey]|"
    r"adequate(?:ly)?|be good|be nice|sensibl[ey]|good judge?ment|common sense|when relevant|where relevant|"
    r"if relevant|as much as possible|too much|excessive(?:ly)?|try to|if possible|where possible)\b")
_ABSOLUTE = Pattern(
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
    hard = [r for r in spec.rules if r.strength == "hard"]
    texts = [r.text.lower() for r in hard]
    for n in Texts(texts).candidates(_VAGUE):
        r, match = hard[n], _VAGUE.search(texts[n])
        if match:
            yield Finding(rule_loc(r), f"hard {r.ref} uses untestable wording {match.group(0)!r}: "
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
    soft = [r for r in spec.rules if r.strength == "soft"]
    texts = [r.text.lower() for r in soft]
    for n in Texts(texts).candidates(_ABSOLUTE):
        r, match = soft[n], _ABSOLUTE.search(texts[n])
        if match:
            yield Finding(rule_loc(r), f"soft {r.ref} says {match.group(0)!r}; soft rules yield to the user, "
                                   "so word it as a preference or make it default or hard")
