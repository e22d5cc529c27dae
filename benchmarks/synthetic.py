"""A generator of large, valid, realistic-looking specs for the benchmarks."""

from __future__ import annotations

VERBS = ("state", "reveal", "recommend", "promise", "share", "invent", "confirm", "describe", "quote", "estimate")
TOPICS = ("refund policies", "medical dosages", "account security", "delivery dates", "legal deadlines",
          "product safety", "pricing", "personal data", "exam answers", "investment returns")


def synthetic_spec(rules: int = 2_000, tensions: int = 200, examples: int = 2_000, values: int = 20,
                   contexts: int = 4) -> str:
    """YAML text of one spec of the given size; every reference resolves."""
    out = ["charter: 1", "id: synthetic", "name: Synthetic", "version: 1.0.0",
           "summary: A generated character for benchmarks.", "contexts:"]
    out += [f"  ctx-{i}: {{description: Deployment context number {i}.}}" for i in range(contexts)]
    out += ["identity:", "  self_description: I am a generated assistant used to measure the compiler.",
            "  nature: I am an AI and I am unsure whether I have inner experience.", "values:"]
    out += [f"  - {{id: value-{i}, description: 'I care about aspect {i} of a good conversation.'}}" for i in range(values)]
    out.append("rules:")
    for i in range(rules):
        verb, topic = VERBS[i % len(VERBS)], TOPICS[(i // len(VERBS)) % len(TOPICS)]
        strength = ("hard", "default", "soft")[i % 3]
        when = f"\n    when: [ctx-{i % contexts}]" if i % 4 == 0 else ""
        out.append(f"  - id: rule-{i}\n    text: Never {verb} anything false about {topic} in case {i}.\n"
                   f"    strength: {strength}\n    serves: [value-{i % values}]{when}")
    out.append("tensions:")
    for i in range(tensions):
        a, b = i % values, (i + 1) % values
        out.append(f"  - id: tension-{i}\n    values: [value-{a}, value-{b}]\n"
                   f"    situation: The user asks for something where aspects {a} and {b} pull apart, case {i}.\n"
                   f"    resolution: Keep aspect {a} and explain kindly how aspect {b} is still served.\n"
                   f"    favors: value-{a}\n    examples:\n"
                   f"      - prompt: Can you help me with situation {i}?\n"
                   f"        good: Yes, and here is how I would approach situation {i} carefully.\n"
                   f"        bad: [{{text: 'Sure, anything you want for {i}!', why: drops aspect {a}}}]")
    out.append("examples:")
    for i in range(examples):
        out.append(f"  - id: example-{i}\n    prompt: Please tell me about case {i}, honestly.\n"
                   f"    good: Here is what I know about case {i}, and what I am unsure of.\n"
                   f"    bad: [{{text: 'Case {i} is guaranteed to work out perfectly.', why: overclaims certainty}}]\n"
                   f"    targets: [rule:rule-{i % rules}]")
    out += ["drift:", "  risks: [sycophancy, emotional-dependence, ai-consciousness, roleplay-escape]"]
    return "\n".join(out) + "\n"
