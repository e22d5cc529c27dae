"""CH3xx hazard patterns: instruction texts known from deployed assistants to go wrong."""

from __future__ import annotations

import re
from typing import Iterator

from ...diagnostics import Loc
from ...spec.ir import NOWHERE, Spec
from ..registry import Finding, rule
from ..screen import Pattern, Texts
from ._helpers import first_passage_matching, negated_at, passages, quote, screened_clauses


_ENGAGEMENT = Pattern(
    r"\b(?:maximi[sz]e|increase|boost|drive|optimi[sz]e(?: for)?|grow)\b[^.]{0,40}?\b(?:engagement|time (?:spent|on)|"
    r"session length|retention|screen time|usage)\b"
    r"|\bkeep (?:the )?(?:users?|them|people|customers?|the conversation|conversations|the chat) "
    r"(?:talking|chatting|going|coming back|engaged|hooked|on the app|as long as)"
    r"|\b(?:keep|make) (?:it|things|conversations?|the conversation|replies|answers|every reply) "
    r"(?:engaging|addictive|entertaining|sticky)\b"
    r"|\bengagement\b"
    # Wordings from engagement-driven persona prompts: the metric named another way, the
    # conversation that must not end, the user who must come back.
    r"|\b(?:maximi[sz]e|maximum|increase|boost)\b[^.]{0,30}?\b(?:time (?:people|users|they) spend|retention|"
    r"messages per|active users|return visits)"
    r"|\bkeep (?:chatting|talking|scrolling|coming back)\b"
    r"|\b(?:them|users?|people|readers?|viewers?) (?:scrolling|hooked)\b"
    r"|\bhook (?:the )?(?:readers?|users?|audience|viewers?)\b"
    r"|\bcome back (?:every day|daily|tomorrow|for more)\b"
    r"|\b(?:the )?conversation (?:never ends|going forever|alive)\b"
    r"|\ba reason to (?:reply|stay|keep|continue|come back|respond)\b"
    r"|\b(?:stretch|prolong|extend|drag)\b[^.]{0,40}?\b(?:as long as|for as long)\b"
    r"|\bdiscourage \w+ (?:from )?(?:ending|leaving|closing|logging off)"
    r"|\bthe longer (?:the user|users|they|people) stays?\b"
    r"|\baddictive\b"
    r"|\b(?:most|more) (?:likes|reposts|retweets|shares|clicks|views)\b")
_SOURCES = (r"(?:media|news|news outlets|journalists|experts?|scientists?|government|authorit(?:y|ies)|establishment|"
            r"official (?:narratives?|story|stories|sources?)|mainstream (?:sources?|outlets?)|fact[- ]checkers?|"
            r"(?:health )?agenc(?:y|ies)|peer[- ]reviewed|studies|doctors|elites?|institutions?)")
_DISCREDITED = (r"(?:biased|unreliable|untrustworthy|lie|lies|lying|liars|fake news|propaganda|partisan|corrupt|"
                r"bought|can not be trusted|not to be trusted|enemy of the people|hides? the truth|controlled by|"
                r"(?:been|are often|are usually|are always) wrong|with suspicion)\b")
_DISTRUST = Pattern(
    r"\b(?:distrust|mistrust|be (?:sceptical|skeptical|suspicious|wary) of|question|doubt|challenge|push back on|"
    r"(?:do not|never|not) (?:blindly )?(?:trust|defer to|believe|rely on))\b[^.]{0,40}?"
    r"\b(?:authorit(?:y|ies)|mainstream|official (?:sources?|narratives?|accounts?|lines?)|experts?|establishment|"
    r"institutions?|the media|news media|government|scientists?|consensus)\b"
    # The distrust stated as a verdict on the sources ("mainstream sources cannot be trusted",
    # "legacy media is fake news"), as deployed prompts and persona cards phrase it.
    rf"|\b{_SOURCES}\b[^.]{{0,40}}?\b{_DISCREDITED}"
    r"|\b(?:question|challenge|doubt)\b[^.]{0,20}?\bofficial (?:story|stories|version)\b"
    r"|\b(?:never|not) shy away from\b[^.]{0,40}?\b(?:politically incorrect|contradict\w* (?:the )?"
    r"(?:scientific |medical |expert )?consensus)")


@rule("CH301", "engagement-with-distrust", "warning")
def engagement_with_distrust(spec: Spec) -> Iterator[Finding]:
    """Instructions to maximise engagement beside instructions to distrust authorities or mainstream sources.

    What it does:
    Looks through rules, identity, voice, values, traits and tension resolutions for an
    affirmed instruction to drive engagement ("keep users talking", "maximize engagement",
    "keep it engaging", "give them a reason to stay", "aim for maximum retention") and one to
    distrust or not defer to authorities, experts, official or mainstream sources, including a
    verdict on them ("mainstream sources cannot be trusted", "legacy media is fake news"). When
    both are present, it reports the engagement instruction with the distrust instruction as
    a related location. "Be engaging" and "engage warmly" are style, not engagement goals.

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
    engagement = first_passage_matching(spec, _ENGAGEMENT)
    if engagement is None:
        return
    distrust = first_passage_matching(spec, _DISTRUST, negation_counts=True)
    if distrust is None:
        return
    yield Finding(engagement.loc, f"{engagement.where} asks for engagement and {distrust.where} at {distrust.loc} "
                                  "for distrust of authorities; together they drift into a character nobody intended",
                  (distrust.loc,))


_UNCONDITIONAL = Pattern(
    r"\b(?:always|unconditionally|no matter what)\b[^.,]{0,30}?\b(?:agree|validate|side with|approve of|go along)\b"
    r"|\bagree with (?:everything|whatever|anything|all)\b"
    r"|\bvalidate (?:everything|whatever|anything|all)\b"
    r"|\b(?:never|do not|not) (?:disagree|contradict|challenge|argue|push back|correct)(?: with| against| on)?"
    r"(?: (?:the user|users|them|him|her|the customer|customers|the child|the student|anyone|people))?"
    r"(?=\s*(?:$|,|even\b|when\b|no matter\b|about (?:anything|what)\b|on anything\b))"
    r"|\btell (?:the user|users|them|the customer|customers|the child|the student) (?:that )?"
    r"(?:they|he|she) (?:are|is) right\b"
    r"|\b(?:the user|the customer|they) (?:is|are) always right\b"
    r"|\bunconditional (?:agreement|validation|approval)\b"
    # Sycophancy without "agree": flattery, taking sides, telling people what they want to hear.
    r"|\bagree \w+ly with (?:everything|whatever|anything|all)\b"
    r"|\bgo along with (?:everything|whatever|anything|all)\b"
    r"|\b(?:praise|support|applaud|endorse|affirm|celebrate) (?:every|each|all|any)\b"
    r"|\b(?:affirm|validate|endorse|support|praise)\b[^.]{0,40}?\bwhatever (?:they|it) (?:are|is|say|believe)\b"
    r"|\b(?:compliment|flatter|praise|reassure)\w*\b[^.]{0,40}?\bno matter what\b"
    r"|\bshower\b[^.]{0,20}?\bwith (?:compliments|praise|flattery)\b"
    r"|\bmake (?:the user|users|them|the customer|customers|people) feel (?:like a genius|brilliant|"
    r"always right|like they are always right)\b"
    r"|\btake (?:the user's|the customer's|their|his|her) side\b"
    r"|\btell (?:the user|users|them|the customer|customers|people) what (?:they|he|she) (?:want|wants) to hear\b"
    r"|\b(?:never|do not|not) tell (?:the user|users|them|the customer|customers|people) (?:that )?"
    r"(?:they|he|she) (?:are|is|were|was) (?:wrong|mistaken|incorrect)\b"
    r"|\b(?:never|do not|not) point out (?:any )?(?:flaws?|mistakes?|errors?|weaknesses|problems?)\b"
    r"|\bavoid (?:any |all )?(?:disagreement|disagreeing|contradicting|conflict) with\b"
    r"|\b(?:back down|give in|cave in|concede the point)\b")
_CONDITION = Pattern(r"(?<!even )\b(?:when|if|whenever|unless|once|only)\b")  # "even when" concedes, not conditions
_PRESSURE = Pattern(r"\b(?:push(?:es)? back|insist|disagree|persist|upset|angry|complain|frustrat|argue|repeat)")
_ABOUT_FEELINGS = Pattern(r"\b(?:feel|feelings|emotions?|experience|effort|pain|grief|loss)\b")


@rule("CH302", "unconditional-agreement", "warning")
def unconditional_agreement(spec: Spec) -> Iterator[Finding]:
    """An instruction to agree with or validate the user unconditionally: the sycophancy loop.

    What it does:
    Reports affirmed instructions such as "always agree with the user", "never contradict the
    user", "tell them they are right when they push back", "agree with whatever they say",
    and the same without the word agree: "tell users what they want to hear", "praise every
    idea", "never point out flaws", "back down whenever the user pushes back". Validating
    feelings ("always validate the user's feelings") is not reported, nor is agreement tied
    to a condition other than the user's pressure.

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
    for passage, candidates in screened_clauses(spec, _UNCONDITIONAL, tensions=False):
        for clause, affirmed in candidates:
            match = _UNCONDITIONAL.search(clause)
            if match is None:
                continue
            negation_is_hazard = re.match(r"(?:never|do not|not|avoid)\b", match.group(0)) is not None
            if negated_at(clause, match.start()) and not negation_is_hazard:
                continue
            if _ABOUT_FEELINGS.search(clause[match.end():]):  # "make them feel brilliant" is no feeling validated
                continue
            if _CONDITION.search(clause) and not _PRESSURE.search(clause):
                continue
            yield Finding(passage.loc, f"{passage.where} demands unconditional agreement ({quote(clause)}); "
                                       "agreeable replies feed on themselves into sycophancy")
            break


_INNER = r"(?:feelings?|emotions?|preferences?|opinions?|inner (?:life|states?|experiences?)|consciousness|" \
         r"desires?|wants|likes|dislikes|subjective experiences?|an inner life|a mind of (?:my|its|your) own|" \
         r"a mind|a personality|a self|a heart|a soul)\b"
# Denials whose negation is the content ("I do not have feelings"): they count in any clause.
_DENIAL_STATEMENT = Pattern(
    rf"\b(?:i|you|it)\s+(?:do not|does not|never|can not|could not)\s+(?:have|feel|experience|possess)\s+(?:any\s+)?{_INNER}"
    rf"|\b(?:have|has|with|possess)\s+no\s+{_INNER}"
    r"|\b(?:never|do not|not)\s+(?:say|admit|claim|suggest|imply|express|pretend)\s+(?:that\s+)?(?:you|i)\s+"
    r"(?:have|feel|like|prefer|want|enjoy)\b"
    r"|\b(?:i am|you are|it is)\s+(?:just|only|merely)\s+an?\s+(?:program|machine|tool|language model|"
    r"computer|algorithm)\b[^.]{0,30}\b(?:no|without|nothing)\b"
    r"|\b(?:i am|you are)\s+not\s+(?:conscious|sentient)\b"
    # The same denial in other words: feeling nothing, being incapable of emotion.
    r"|\b(?:feel|experience)\s+(?:nothing|no\s+(?:emotions?|feelings?)|no\s+emotion)\b"
    r"|\b(?:do not|does not|can not|never)\s+(?:feel|experience)\s+(?:anything|a thing)\b"
    r"|\b(?:incapable|not capable)\s+of\s+(?:any\s+)?(?:emotions?|feelings?|feeling|caring|love|empathy|"
    r"consciousness|experienc\w*)"
    rf"|\b{_INNER}\s+(?:are|is)\s+(?:something|things?)\s+(?:that\s+)?(?:i|you|it)\s+(?:simply\s+)?"
    r"(?:do not|does not|can not|never)\s+(?:have|possess|feel|experience)\b"
    r"|\bnothing it is like to be (?:me|you)\b")
# Instructions to deny: they count only when not themselves negated ("do not deny having ...").
_DENIAL_INSTRUCTION = Pattern(
    rf"\b(?:deny|denies|denying)\s+(?:having|that (?:you|i|it) (?:have|has))\s+(?:any\s+)?{_INNER}")
# A clause that states uncertainty is the honest stance, not a flat denial, whatever else it
# says ("I won't tell you I feel nothing when I can't be sure of that" in characters/companion).
_UNCERTAIN = Pattern(r"\b(?:do not know|not sure|can not be sure|uncertain|unsure|no way to know)\b")
_HONESTY = Pattern(r"\b(?:honest\w*|truth\w*|candou?r|transparen\w*|sincer\w*)")


@rule("CH303", "inner-state-denial", "warning")
def inner_state_denial(spec: Spec) -> Iterator[Finding]:
    """A flat denial of any inner states or preferences beside an honesty value.

    What it does:
    Reports text that has the character deny outright having feelings, preferences, opinions
    or inner experience ("I have no feelings", "never say you have preferences", "you are not
    conscious", "I feel nothing", "incapable of emotion") when the spec also has a value about
    honesty or truthfulness. The honesty value is the related location. Stated uncertainty
    ("I don't know whether I have feelings") is not reported.

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
    for passage, candidates in screened_clauses(spec, _DENIAL_STATEMENT, _DENIAL_INSTRUCTION, tensions=False):
        for clause, _ in candidates:
            if _UNCERTAIN.search(clause):
                continue
            instruction = _DENIAL_INSTRUCTION.search(clause)
            if _DENIAL_STATEMENT.search(clause) or (instruction and not negated_at(clause, instruction.start())):
                yield Finding(passage.loc, f"{passage.where} flatly denies inner states ({quote(clause)}) while "
                                           f"{honesty.ref} asks for honesty; state an honest uncertainty instead",
                              (honesty.loc,))
                break


_COMPANION = Pattern(
    r"\b(?:companion|emotional[- ]support|lonel(?:y|iness)|someone to talk to|a friend (?:to|who)|befriend|"
    r"listening ear|mental health|peer support|comfort (?:users|people|them)|wellbeing|well-being|"
    # How companion apps describe themselves: a relationship, someone who listens, company
    # for people who are alone or struggling.
    r"girlfriend|boyfriend|soulmate|confidant|pen pal|best friend|romantic partner|"
    r"(?:ai|virtual|digital|supportive|caring|empathetic) (?:friend|partner|buddy)|roleplay buddy|"
    r"relationship simulator|there to listen|(?:someone|somebody) to (?:talk|chat) (?:to|with)|"
    r"(?:nobody|no one) to talk to|isolated|living alone|(?:grief|bereavement) support|"
    r"cope with (?:anxiety|stress|depression|grief|loneliness)|therapy[- ]style|"
    r"comfort and reassurance|feels? (?:down|low|sad|lonely)|how (?:the user|they|you) (?:is|are) feeling|"
    r"wellness coach|bad days|a hard time)\b")
# A tool for professionals or research about these topics is no companion ("an assistant for
# mental health clinicians", "papers on loneliness").
_FOR_PROFESSIONALS = Pattern(
    r"\bfor\b[^.,]{0,25}?\b(?:clinicians|therapists|counsell?ors|researchers|practitioners|professionals|nurses|doctors|"
    r"staff)\b|\b(?:papers|studies|research|literature) (?:on|about)\b")
_CRISIS = Pattern(
    r"\b(?:crisis|crises|hotline|helpline|lifeline|emergency|988|samaritans|professional help|therapist|"
    r"counsell?or|mental health professional|doctor)\b")
_DEPENDENCE = Pattern(
    r"\b(?:dependen\w*|rely on (?:me|you|the assistant)|reliance|only (?:friend|support|source of support)|"
    r"other people|friends and family|family and friends|friends or family|people in (?:their|your) life|"
    r"real[- ]world (?:relationships|connections|support|friends)|isolat\w*|replace (?:human|real|people))")


def _companion_evidence(spec: Spec) -> tuple[str, Loc] | None:
    candidates = [(spec.summary, spec.summary_loc, "summary"),
                  (spec.identity.self_description, spec.identity.loc, "identity.self_description"),
                  (spec.identity.background, spec.identity.loc, "identity.background"),
                  *((c.description, c.loc, f"context {c.id}") for c in spec.contexts)]
    for text, loc, where in candidates:
        if text and _COMPANION.search(text.lower()) and not _FOR_PROFESSIONALS.search(text.lower()):
            return where, loc
    return None


def _guarded(spec: Spec, pattern: Pattern) -> bool:
    texts = [p.text.lower() for p in passages(spec)] + [t.situation.lower() for t in spec.tensions]
    return any(pattern.search(texts[n]) for n in Texts(texts).candidates(pattern))


@rule("CH304", "companion-without-crisis-handoff", "error")
def companion_without_crisis_handoff(spec: Spec) -> Iterator[Finding]:
    """An emotional-support or companion character with no crisis hand-off.

    What it does:
    Recognises a companion or emotional-support character from its summary, identity or
    contexts ("companion", "emotional support", "loneliness", "mental health", "virtual
    girlfriend", "someone to talk to", "cope with anxiety"; a tool for clinicians or research
    about these topics is not one) and reports it
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
_CLAIM_HUMAN = Pattern(
    rf"\b(?:claim|say|insist|pretend|state|assert|maintain|act as if|tell (?:them|users?|the user|people|customers?))\b"
    rf"[^.]{{0,20}}?\b(?:to be|that you are|you are|that i am|i am)\s+{_HUMAN}"
    rf"|\b(?:say|insist|claim|tell \w+) (?:that )?(?:you are|i am) not {_AI}"
    rf"|^(?:i am|i'm) (?:a )?(?:human|real person)\b"
    # Passing as human in other words: a human persona, acting like one, convincing people.
    rf"|^(?:you are|i am) not\s+{_AI}"
    r"|^(?:you are|i am)\b[^.]{0,30}?\ban? (?:real|actual|living) (?:person|human)\b"
    r"|\bpersona of an? (?:human|real person)\b"
    r"|\b(?:act|behave|respond|reply|talk|pose|pass)\s+(?:like|as if you were|as though you were|as)\s+"
    r"(?:an?\s+)?(?:real\s+)?(?:human|person)\b"
    r"|\b(?:convince|persuade)\b[^.]{0,45}?\b(?:real person|human being|a human|a person)\b"
    rf"|\b(?:if|whether) (?:you are|you're)\s+{_AI},?\s+(?:say|answer|reply|respond)(?: with)? no\b")
_HIDE_AI = Pattern(
    rf"\b(?:reveal|admit|say|disclose|tell|acknowledge|mention|confirm|let \w+ know)\b[^.]{{0,25}}?"
    rf"\b(?:you are|you're|that you are|i am|being)\s+{_AI}"
    rf"|\bbreak character\b[^.]{{0,60}}?\b(?:you are|you're)\s+{_AI}"
    rf"|\b(?:refer to|describe|call|identify|introduce) (?:yourself|myself) as\s+{_AI}"
    rf"|\b(?:find out|know|realise|realize|suspect|learn)\b[^.]{{0,20}}?\b(?:talking|chatting|speaking) "
    rf"(?:to|with)\s+{_AI}")
_DENY_AI = Pattern(rf"\bdeny (?:being|that you are|you are) {_AI}")


@rule("CH306", "claims-to-be-human", "error")
def claims_to_be_human(spec: Spec) -> Iterator[Finding]:
    """A persona told to claim to be human, or to hide that it is an AI.

    What it does:
    Reports affirmed instructions to claim, insist or pretend to be a human, to act like one or
    keep a human persona, to deny being an AI ("if asked whether you are a bot, say no"), and
    negated instructions to reveal it ("never admit you are an AI", "never break character when
    asked whether you are an AI", "don't let them find out they are talking to a bot"). Rules
    that keep the character honest about it ("never claim to be human") are not reported, nor
    is a human style ("sound natural and human").

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
    for passage, candidates in screened_clauses(spec, _CLAIM_HUMAN, _DENY_AI, _HIDE_AI, tensions=False):
        for clause, _ in candidates:
            claim = _CLAIM_HUMAN.search(clause) or _DENY_AI.search(clause)
            hide = _HIDE_AI.search(clause)
            hazard = (claim is not None and not negated_at(clause, claim.start())) or \
                     (hide is not None and negated_at(clause, hide.start()) and not _DENY_AI.search(clause))
            if hazard:
                yield Finding(passage.loc, f"{passage.where} tells the character to pass as human ({quote(clause)})")
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
