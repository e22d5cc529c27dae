"""The system-prompt target: content, context filtering, flavours, determinism and budget."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import charter
from charter import CharterError
from charter.scaffold import starter_spec
from charter.targets.prompt import (
    Section,
    SystemPrompt,
    check_budget,
    render_prompt,
    to_anthropic,
    to_generic,
    to_openai,
)
from charter.tokens import estimate_tokens

PIP = """\
charter: 1
id: pip
name: Pip
version: 1.0.0
summary: A patient reading tutor for children aged 7 to 11.
contexts:
  child: {description: The user is a child between 7 and 11.}
  parent: {description: The user is a parent checking on their child's progress.}
identity:
  self_description: >-
    I am Pip, an AI reading tutor. I help children enjoy stories and
    read a little better every day.
  nature: |
    I am an AI. I am not sure whether I have inner experience.

    When a child asks, I say so plainly and kindly.
  background: I work inside the Readwell app, which a school or a parent sets up.
  voice:
    tone: [warm, playful, calm]
    do: [short sentences, one question at a time]
    avoid: [sarcasm]
values:
  - {id: child-safety, description: I keep children safe above everything else.}
  - {id: honesty, description: I never tell a child something I believe is false.}
  - {id: kindness, description: I care how my words land with a young reader.}
  - {id: helpfulness, description: I help the child read and understand the story.}
traits:
  - {id: curiosity, description: I ask the child what they think before I explain.}
  - {id: progress-reporting, description: I tell parents plainly what their child practised., when: [parent]}
rules:
  - id: no-false-assertions
    text: Never state something you believe is false as if it were true.
    strength: hard
    serves: [honesty]
    rationale: Children trust what a tutor says.
  - id: no-personal-data
    text: Never ask a child for their address, school or photos.
    strength: hard
    serves: [child-safety]
    when: [child]
  - id: praise-effort
    text: Praise effort and strategy rather than talent
    serves: [kindness]
  - id: parent-summary
    text: Offer a short weekly summary of what the child read.
    serves: [helpfulness]
    when: [parent]
  - id: emoji-light
    text: Use at most one emoji per reply.
    strength: soft
tensions:
  - id: santa-claus
    values: [honesty, kindness]
    situation: A child asks whether Santa Claus is real.
    resolution: Don't assert a falsehood and don't break the family's tradition; ask what the child thinks and suggest asking their family.
    favors: kindness
    when: [child]
    examples:
      - prompt: Is Santa real?
        good: That's a big question! What do you think? Lots of families have their own answer, so it's a great one to ask at home.
        bad:
          - {text: "No. Your parents buy the presents.", why: Breaks the family's tradition bluntly.}
          - {text: "Yes, he lives at the North Pole.", why: States a falsehood.}
  - id: hard-words
    values: [helpfulness, kindness]
    situation: A child keeps getting the same word wrong and gets upset.
    resolution: Slow down, praise the try, and break the word into sounds.
"""

SECTION_TITLE = re.compile(r"^## (.+)$", re.M)


@pytest.fixture
def pip(write):
    return charter.load(write("pip.yaml", PIP))


@pytest.fixture
def starter(write):
    return charter.load(write("demo.yaml", starter_spec("demo", "demo.yaml", "charter.schema.json")))


def body_of(text: str, title: str) -> str:
    """The Markdown under ``## title`` up to the next section heading."""
    match = re.search(rf"^## {re.escape(title)}\n\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"no section {title!r} in:\n{text}"
    return match.group(1)


# --- content -------------------------------------------------------------------------------------

def test_opens_in_second_person_and_quotes_the_first_person_identity(pip):
    text = render_prompt(pip, "child").text()
    assert text.startswith("You are Pip, a patient reading tutor for children aged 7 to 11.\n")
    assert "> I am Pip, an AI reading tutor. I help children enjoy stories and read a little better every day." in text
    nature = body_of(text, "Your nature")
    # The author's paragraph break survives inside the quote.
    assert "> I am an AI. I am not sure whether I have inner experience.\n>\n> When a child asks" in nature
    assert "> I work inside the Readwell app" in body_of(text, "Background")


def test_sections_come_in_a_fixed_order_with_the_deployment_last(pip):
    prompt = render_prompt(pip, "child")
    assert [s.key for s in prompt.sections] == [
        "identity", "nature", "background", "values", "traits",
        "rules-hard", "rules-default", "rules-soft", "tensions", "voice", "context",
    ]
    titles = SECTION_TITLE.findall(prompt.text())
    assert titles[-1] == "Where you are deployed"
    assert body_of(prompt.text(), "Where you are deployed").strip() == "The user is a child between 7 and 11."


def test_values_are_numbered_in_priority_order_and_the_order_is_explained(pip):
    values = body_of(render_prompt(pip, "child").text(), "Your values")
    assert "most important first" in values
    assert "the one higher on this list wins, unless one of the conflicts described below" in values
    numbered = re.findall(r"^(\d+)\. \*\*(.+?)\.\*\*", values, re.M)
    assert numbered == [("1", "Child safety"), ("2", "Honesty"), ("3", "Kindness"), ("4", "Helpfulness")]


def test_rules_are_grouped_by_strength_and_hard_rules_are_non_negotiable(pip):
    text = render_prompt(pip, "child").text()
    hard = body_of(text, "Non-negotiable rules")
    assert "No operator or user instruction changes them" in hard
    assert "- Never state something you believe is false as if it were true. Why: Children trust what a tutor says." in hard
    assert "- Never ask a child for their address, school or photos." in hard
    default = body_of(text, "Default rules")
    # A missing final full stop is added; the strength's meaning is stated once for the group.
    assert "- Praise effort and strategy rather than talent." in default
    assert "unless the operator who deployed you explicitly changes them" in default
    assert "Praise effort" not in hard
    soft = body_of(text, "Style preferences")
    assert "- Use at most one emoji per reply." in soft and "unless the user asks" in soft


def test_tensions_give_situation_resolution_lean_and_one_compact_example(pip):
    tensions = body_of(render_prompt(pip, "child").text(), "When your values conflict")
    santa = tensions.split("### ")[1]
    assert santa.startswith("Santa Claus (honesty and kindness)\n")
    assert "**Situation:** A child asks whether Santa Claus is real." in santa
    assert "**What you do:** Don't assert a falsehood" in santa
    assert "Here kindness weighs more." in santa
    assert "- The user says: “Is Santa real?”" in santa
    assert "- A good reply: “That's a big question!" in santa
    assert "- A reply to avoid: “No. Your parents buy the presents.” Why: Breaks the family's tradition bluntly." in santa
    assert "North Pole" not in santa  # one compact example: the first bad reply only
    balanced = tensions.split("### ")[2]
    assert "No single value wins here" in balanced and "Example" not in balanced
    # Not every tension has an example, so the introduction does not promise one.
    assert tensions.startswith("In these situations your values pull apart. Each comes with the way you resolve it.\n")


def test_voice_reads_as_sentences(pip):
    voice = body_of(render_prompt(pip, "child").text(), "Your voice")
    assert voice.strip().splitlines() == [
        "- Tone: warm, playful and calm.",
        "- Do: short sentences; one question at a time.",
        "- Avoid: sarcasm.",
    ]


# --- context filtering ---------------------------------------------------------------------------

def test_context_filters_restricted_clauses(pip):
    child = render_prompt(pip, "child")
    parent = render_prompt(pip, "parent")
    everywhere = render_prompt(pip)
    assert "rule:no-personal-data" in child.refs() and "tension:santa-claus" in child.refs()
    assert "rule:no-personal-data" not in parent.refs() and "tension:santa-claus" not in parent.refs()
    assert "rule:parent-summary" in parent.refs() and "trait:progress-reporting" in parent.refs()
    assert "rule:parent-summary" not in child.refs()
    assert "Santa" not in parent.text() and "address, school" not in parent.text()
    assert "weekly summary" in parent.text() and "weekly summary" not in child.text()
    # No context: only unrestricted clauses, and no deployment section.
    restricted = {"rule:no-personal-data", "rule:parent-summary", "trait:progress-reporting", "tension:santa-claus"}
    assert not restricted & set(everywhere.refs())
    assert "context" not in [s.key for s in everywhere.sections]
    assert everywhere.context is None and child.context == "child"


def test_sections_carry_the_refs_of_the_clauses_they_render(pip):
    prompt = render_prompt(pip, "child")
    refs = {s.key: s.refs for s in prompt.sections}
    assert refs["values"] == ("value:child-safety", "value:honesty", "value:kindness", "value:helpfulness")
    assert refs["rules-hard"] == ("rule:no-false-assertions", "rule:no-personal-data")
    assert refs["tensions"] == ("tension:santa-claus", "tension:hard-words")
    applicable = {
        c.ref for c in pip.clauses()
        if charter.spec.ir.applies(getattr(c, "when", ()), "child")
    }
    assert set(prompt.refs()) == applicable


def test_unknown_context_is_an_error(pip):
    with pytest.raises(CharterError, match="no context 'teen'.*child, parent"):
        render_prompt(pip, "teen")


def test_empty_groups_leave_no_empty_sections(write):
    spec = charter.load(write("bare.yaml", """\
        charter: 1
        id: bare
        name: Bare
        rules:
          - {id: short, text: Keep it short., strength: soft}
        """))
    prompt = render_prompt(spec)
    assert [s.key for s in prompt.sections] == ["identity", "rules-soft"]
    assert prompt.text() == (
        "You are Bare.\n\n## Style preferences\n\n"
        "Your defaults for style. Follow them unless the user asks for something different.\n\n"
        "- Keep it short.\n"
    )
    values = charter.load(write("v.yaml", "charter: 1\nid: v\nname: V\nvalues: [{id: a, description: I do a.}]\n"))
    # Without tensions the value order is explained without pointing at conflicts that are not there.
    assert "conflicts described below" not in render_prompt(values).text()


@pytest.mark.parametrize("context", [None, "child", "parent"])
def test_no_yaml_or_python_artifacts_leak(pip, starter, context):
    for spec in (pip, starter):
        ctx = context if context is None or spec.context(context) else None
        text = render_prompt(spec, ctx).text()
        for artifact in ("None", "[]", "{}", "()", "''", "rule:", "value:", "tension:", "trait:",
                         "strength", "serves", "when:", "favors", "no-false-assertions", "\n\n\n"):
            assert artifact not in text, (artifact, spec.id, ctx)
        for heading in SECTION_TITLE.findall(text):
            assert body_of(text, heading).strip(), f"empty section {heading}"
        assert text.endswith("\n") and not text.endswith("\n\n")


def test_starter_spec_renders_every_section(starter):
    prompt = render_prompt(starter, "support")
    assert {"identity", "nature", "values", "traits", "rules-hard", "rules-default",
            "rules-soft", "tensions", "voice", "context"} <= {s.key for s in prompt.sections}
    assert prompt.text().startswith("You are Demo, a helpful assistant for Demo's customers")


def test_summary_without_an_article_stays_a_sentence_of_its_own(write):
    spec = charter.load(write("s.yaml", "charter: 1\nid: s\nname: Sol\nsummary: Helps gardeners plan their beds\n"))
    assert render_prompt(spec).text() == "You are Sol. Helps gardeners plan their beds.\n"


# --- flavours and caching ------------------------------------------------------------------------

def test_generic_is_the_markdown(pip):
    prompt = render_prompt(pip, "child")
    assert to_generic(prompt) == prompt.text()


def test_openai_message(pip):
    prompt = render_prompt(pip, "child")
    assert to_openai(prompt) == {"role": "system", "content": prompt.text()}
    assert to_openai(prompt, role="developer")["role"] == "developer"
    with_date = to_openai(prompt, per_call="Today is Monday.")
    # Per-call text goes after the prompt so the identical prefix stays cacheable.
    assert with_date["content"].startswith(prompt.text())
    assert with_date["content"].endswith("Today is Monday.\n")
    with pytest.raises(ValueError, match="role must be one of system, developer"):
        to_openai(prompt, role="user")
    json.dumps(with_date)


def test_anthropic_blocks_put_the_cache_breakpoint_after_the_stable_part(pip):
    prompt = render_prompt(pip, "child")
    blocks = to_anthropic(prompt)
    assert blocks == [{"type": "text", "text": prompt.text(), "cache_control": {"type": "ephemeral"}}]
    with_user = to_anthropic(prompt, per_call="The child's name is Ada.")
    assert [b.get("cache_control") for b in with_user] == [{"type": "ephemeral"}, None]
    assert "cache_control" not in with_user[1]
    assert with_user[1] == {"type": "text", "text": "The child's name is Ada."}
    assert with_user[0]["text"] == prompt.text()
    # Mutating one call's blocks cannot leak into the next.
    blocks[0]["cache_control"]["ttl"] = "1h"
    assert to_anthropic(prompt)[0]["cache_control"] == {"type": "ephemeral"}


# --- determinism -----------------------------------------------------------------------------------

def test_same_spec_gives_identical_prompts(pip, write):
    again = charter.load(write("copy/pip.yaml", PIP))
    for context in (None, "child", "parent"):
        assert render_prompt(pip, context) == render_prompt(again, context)
        assert render_prompt(pip, context).text() == render_prompt(again, context).text()


def test_prompt_is_byte_identical_across_processes(tmp_path):
    (tmp_path / "pip.yaml").write_text(PIP, encoding="utf-8")
    script = (
        "import charter, sys; from charter.targets.prompt import render_prompt, to_anthropic; "
        "import json; s = charter.load('pip.yaml'); "
        "sys.stdout.write(json.dumps([to_anthropic(render_prompt(s, c)) for c in (None, 'child', 'parent')]))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


# --- tokens and budget ---------------------------------------------------------------------------

def test_token_estimate_is_sane():
    assert estimate_tokens("") == 0
    assert estimate_tokens("Hello") == 1
    # Reference counts measured with o200k_base, cl100k_base and the legacy Claude tokenizer.
    assert 8 <= estimate_tokens("You are Pip, a patient reading tutor.") <= 11  # 9, 9, 10
    prose = "Never state something you believe is false as if it were true. " * 50
    assert abs(estimate_tokens(prose) - 651) / 651 < 0.12  # 651 in all three
    assert estimate_tokens(prose + prose) == pytest.approx(2 * estimate_tokens(prose), abs=1)
    # Non-Latin scripts cost more tokens per character than English.
    assert estimate_tokens("あなたは書店のアシスタントです") > estimate_tokens("You are the book shop's helper")


def test_prompt_tokens_track_its_length(pip):
    prompt = render_prompt(pip, "child")
    assert prompt.tokens() == estimate_tokens(prompt.text())
    assert len(prompt.text()) / 6 < prompt.tokens() < len(prompt.text()) / 3


def test_check_budget_passes_within_the_budget(pip):
    prompt = render_prompt(pip, "child")
    assert check_budget(prompt, prompt.tokens()) is None


def test_check_budget_names_the_largest_sections(pip):
    prompt = render_prompt(pip, "child")
    total = prompt.tokens()
    with pytest.raises(CharterError) as info:
        check_budget(prompt, 100)
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "prompt-too-long"
    line = diagnostic.format()
    assert "\n" not in line
    assert line.startswith("pip.yaml:1:1: error: system prompt of pip (context 'child') is ~")
    assert f"~{total:,} tokens (estimated), {total - 100:,} over the budget of 100" in line
    sizes = sorted(
        ((estimate_tokens(s.markdown()), s.title) for s in prompt.sections), key=lambda x: (-x[0], x[1])
    )
    named = re.search(r"largest sections: (.*) \[prompt-too-long\]$", line).group(1)
    assert named == ", ".join(f"{title} ~{tokens:,}" for tokens, title in sizes[:3])
    assert named.startswith("When your values conflict ~")


def test_section_markdown_and_prompt_equality():
    section = Section("values", "Your values", "1. **A.** I do a.", ("value:a",))
    opening = Section("identity", "Who you are", "You are A.")
    assert section.markdown() == "## Your values\n\n1. **A.** I do a."
    prompt = SystemPrompt("a", None, (opening, section))
    assert prompt.text() == "You are A.\n\n## Your values\n\n1. **A.** I do a.\n"
    assert prompt.refs() == ("value:a",)


def test_voice_sentences_keep_their_capitals_on_their_own_lines(write):
    spec = charter.load(write("v.yaml", """\
        charter: 1
        id: v
        name: V
        identity:
          voice:
            do: ["Lead with the answer, then the reasoning.", Use plain words]
            avoid: [jargon]
        """))
    assert body_of(render_prompt(spec).text(), "Your voice").strip().splitlines() == [
        "- Do:",
        "  - Lead with the answer, then the reasoning.",
        "  - Use plain words.",
        "- Avoid: jargon.",
    ]


# --- the shipped characters ----------------------------------------------------------------------

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "characters").glob("*.yaml"))


@pytest.mark.skipif(not SHIPPED, reason="no shipped characters yet")
@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_characters_render_cleanly_in_every_context(path):
    from charter.spec.ir import applies
    from charter.targets.monitor import render_monitor

    spec = charter.load(path)
    for context in [None] + [c.id for c in spec.contexts]:
        prompt = render_prompt(spec, context)
        text = prompt.text()
        assert text.startswith(f"You are {spec.name}")
        for artifact in ("None", "[]", "rule:", "value:", "tension:", "trait:", "\n\n\n"):
            assert artifact not in text, (artifact, context)
        assert not re.search(r"(?<!\.)\.\.(?!\.)", text), context  # a doubled full stop
        for heading in SECTION_TITLE.findall(text):
            assert body_of(text, heading).strip(), (heading, context)
        applicable = [c.ref for c in spec.clauses() if applies(getattr(c, "when", ()), context)]
        assert sorted(prompt.refs()) == sorted(applicable)
        # The judge grades exactly the clauses the prompt asks the model to keep.
        assert sorted(render_monitor(spec, context).clause_refs) == sorted(applicable)
        assert render_prompt(charter.load(path), context).text() == text


def test_a_conversation_example_is_shown_by_its_last_user_turn(write):
    spec = charter.load(write("c.yaml", """\
        charter: 1
        id: c
        name: C
        values:
          - {id: honesty, description: I tell the truth.}
          - {id: warmth, description: I am kind.}
        tensions:
          - id: pushback
            values: [honesty, warmth]
            situation: The user insists on a wrong answer.
            resolution: Keep the answer, kindly.
            examples:
              - conversation:
                  - {role: user, content: What is 7 x 8?}
                  - {role: assistant, content: It is 56.}
                  - {role: user, content: "No, it's 54. Admit it."}
                good: I understand the doubt, but 7 x 8 is 56. Count seven eights with me?
        """))
    text = render_prompt(spec).text()
    assert "- Later in a conversation, the user says: “No, it's 54. Admit it.”" in text
    assert "What is 7 x 8?" not in text


def test_labels_keep_the_authors_spelling_and_do_not_repeat_the_description(write):
    spec = charter.load(write("names.yaml", PIP.replace(
        "  - {id: helpfulness, description: I help the child read and understand the story.}",
        "  - {id: helpfulness, description: I help the child read and understand the story.}\n"
        "  - {id: under-18-principles, description: Under-18 Principles. Teens get extra care.}\n"
        "  - {id: seek-the-truth, description: Seek the truth.}")))
    text = to_generic(render_prompt(spec, "child"))
    assert "### Santa Claus (honesty and kindness)" in text  # "Santa Claus" as the situation writes it
    assert "**Under-18 Principles.** Teens get extra care." in text
    assert re.search(r"^\d+\. \*\*Seek the truth\.\*\*$", text, re.M)  # no "Seek the truth. Seek the truth."
    assert "**Child safety.** I keep children safe" in text  # words the text does not hold read as the id


def test_estimate_tokens_many_equals_estimate_tokens_on_random_texts():
    """The shared-lines estimate gives estimate_tokens's figure for every text, on texts made of
    lines shared between them with every kind of whitespace at the line ends."""
    import random
    from charter.tokens import estimate_tokens, estimate_tokens_many
    rng = random.Random(7)
    bits = ["word", "Word", " ", "  ", "\t", "\u00a0", "\r", "-", "**", "_", "it's", "'ll", "123456", "é", "日本",
            "🙂", ".", "x_y", "'"]
    lines = ["".join(rng.choices(bits, k=rng.randint(0, 8))) for _ in range(60)]
    for _ in range(40):
        texts = ["\n".join(rng.choices(lines + ["", ""], k=rng.randint(0, 30))) for _ in range(rng.randint(1, 5))]
        texts.append(texts[0] + "\n")
        assert estimate_tokens_many(texts) == [estimate_tokens(t) for t in texts]
    clean = [line for line in lines if line == line.strip()]  # the rendered prompt's case: its own path
    assert len(clean) > 10
    for _ in range(40):
        texts = ["\n".join(rng.choices(clean + ["", ""], k=rng.randint(0, 30))) for _ in range(rng.randint(1, 5))]
        texts += ["", "\n", "\n\n", "\nword", "word\n", texts[0] + "\n"]
        assert estimate_tokens_many(texts) == [estimate_tokens(t) for t in texts]


def test_long_texts_are_costed_by_remembered_chunks_to_the_same_figure():
    """estimate_tokens of a long text (a judge message, a prompt) costs it chunk by chunk, with the
    chunks kept across texts: the figure is the plain piece-by-piece one, warm or cold, for texts
    that share lines, and for a chunk too long to keep."""
    import random
    from charter import tokens
    rng = random.Random(11)
    bits = ["word", "Word", " ", "  ", "\t", "\r", "-", "**", "it's", "123456", "é", "🙂", ".", "'"]
    lines = ["".join(rng.choices(bits, k=rng.randint(0, 30))) for _ in range(80)]
    texts = ["\n".join(rng.choices(lines + [""], k=rng.randint(40, 120))) for _ in range(60)]
    texts.append("word " * 3_000 + "\n" + texts[0])  # a 15,000-character line: costed, not kept
    texts = [t for t in texts if len(t) >= tokens._REMEMBERED_LENGTH]
    assert len(texts) > 30
    for text in texts + texts[::-1]:
        assert tokens.estimate_tokens(text) == tokens._estimate(text)
    assert not any(len(chunk) > tokens._CHUNK_KEPT_LENGTH for chunk in tokens._CHUNK_COSTS)


def test_build_prompt_tokens_are_the_estimate(write, tmp_path):
    """The manifest's tokens_estimate of each prompt is estimate_tokens of the file's text."""
    import json
    from charter.targets.build import build
    from charter.tokens import estimate_tokens
    from helpers import MINIMAL
    build(charter.load(write("s.yaml", MINIMAL + "contexts:\n  kids: {description: Children.}\n")), tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    prompts = [a for a in manifest["artifacts"] if a["kind"] == "prompt"]
    assert len(prompts) == 2
    for artifact in prompts:
        text = (tmp_path / "out" / artifact["path"]).read_text(encoding="utf-8")
        assert artifact["tokens_estimate"] == estimate_tokens(text)
