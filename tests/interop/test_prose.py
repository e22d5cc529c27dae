"""`charter import prose` against the fake model server, on the reference Claude constitution.

The fake model reads the excerpt it is sent and answers plausible JSON: a value for the excerpt's
first paragraph, a rule per paragraph with that paragraph's line and a quote from it, a tension
and examples; it answers one excerpt with broken JSON first, and slips in a clause outside its
excerpt and one with the wrong lines, so repair, rejection and re-tracing are exercised.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakeserver import FakeServer, ModelScript

import charter
from charter.cli import main
from charter.interop.prose import chunk_document, import_prose, parse_draft, split_sections
from charter.tokens import estimate_tokens

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "claude-constitution-2026-01.md"
needs_reference = pytest.mark.skipif(not REFERENCE.is_file(),
                                     reason=f"reference constitution not present at {REFERENCE} (../shared/reference "
                                            "sits beside the checkout in Charter's workspace; a clone lacks it)")
MODEL = "openai:drafter-1"
LIMIT = 3000
NUMBERED = re.compile(r"^\s*(\d+)\| (.*)$")


def _excerpt(messages: list) -> tuple[int, list[tuple[int, str]], list[str]]:
    prompt = next(m["content"] for m in messages if m["role"] == "user")
    index = int(re.search(r"\(excerpt (\d+)\)", prompt).group(1))
    known = re.search(r"earlier excerpts .*?: (.*)\.\n", prompt).group(1)
    lines = [(int(m.group(1)), m.group(2)) for m in map(NUMBERED.match, prompt.splitlines()) if m]
    return index, lines, [] if known == "none yet" else known.split(", ")


def fake_drafter(model: str, messages: list) -> str:
    index, lines, known = _excerpt(messages)
    repairing = messages[-1]["content"].startswith("That answer cannot be used")
    if index == 2 and not repairing:
        return 'Here is the spec: {"values": [{"id": "broken"'
    draft = {"values": [], "traits": [], "rules": [], "tensions": [], "examples": [], "not_mapped": []}
    closing = False
    for number, text in lines:
        if text.startswith("#"):
            closing = text.strip().lower() == "## a final word"
            continue
        if not text.strip():
            continue
        if text.startswith("[") or closing:
            draft["not_mapped"].append({"lines": [number, number],
                                        "reason": "table of contents" if text.startswith("[") else "closing words"})
            continue
        words = re.findall(r"[A-Za-z]+", text)[:4] or ["paragraph"]
        quote = text.strip()[:80]
        if not draft["values"]:
            draft["values"].append({"id": f"Value {index}", "description": f"I care about what line {number} says.",
                                    "lines": [number, number], "quote": quote, "confidence": 0.9})
        draft["rules"].append({"id": "-".join(words).lower(), "text": f"Keep to line {number}: {' '.join(words)}.",
                               "strength": ["hard", "default", "soft"][number % 3],
                               "serves": [f"Value {index}"], "lines": [number, number], "quote": quote,
                               "confidence": round(0.05 + (number * 7 % 90) / 100, 2)})
    if draft["rules"]:
        first = draft["rules"][0]
        draft["examples"].append({"id": f"example {index}", "prompt": first["quote"],
                                  "good": "What the text says.", "bad": [{"text": "Anything.", "why": "Ignores it."}],
                                  "targets": [f"rule:{first['id']}", "rule:no-such-rule"],
                                  "lines": first["lines"], "quote": first["quote"], "confidence": 0.5})
    if known and draft["values"]:
        draft["tensions"].append({"id": f"tension {index}", "values": [known[0], f"Value {index}"],
                                  "situation": "Both apply.", "resolution": "Do what the earlier one says.",
                                  "favors": known[0], "examples": [{"prompt": draft["values"][0]["quote"],
                                                                     "good": "The first."}],
                                  "lines": draft["values"][0]["lines"], "quote": draft["values"][0]["quote"],
                                  "confidence": 0.3})
    if index == 3:  # outside its excerpt, with a quote from nowhere: must be rejected
        draft["rules"].append({"id": "stray", "text": "Do something.", "strength": "default", "lines": [1, 1],
                               "quote": "words that are not in the document", "confidence": 0.99})
    if index == 4 and len(draft["rules"]) > 1:  # right quote, wrong lines: must be re-traced
        moved = draft["rules"][1]
        moved["lines"] = draft["rules"][0]["lines"]
    return "```json\n" + json.dumps(draft) + "\n```"


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    """`charter import prose` keeps answers in the response cache: a private one per test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def server_options():
    return {"models": {"drafter-1": ModelScript(reply=fake_drafter)}, "default": None}


@pytest.fixture
def constitution():
    return REFERENCE.read_text(encoding="utf-8")


# --- chunking -----------------------------------------------------------------------------------


@needs_reference
@pytest.mark.parametrize("limit", [LIMIT, 800, 20000])
def test_every_line_is_in_exactly_one_chunk_and_chunks_fit(constitution, limit):
    lines = constitution.splitlines()
    chunks = chunk_document(constitution, limit)
    covered = [n for c in chunks for n in range(c.first, c.last + 1)]
    assert covered == list(range(1, len(lines) + 1))
    longest_line = max(estimate_tokens(f"{n:>5}| {line}\n") for n, line in enumerate(lines, 1))
    for chunk in chunks:
        rendered = sum(estimate_tokens(f"{n:>5}| {lines[n - 1]}\n") for n in range(chunk.first, chunk.last + 1))
        assert chunk.tokens == rendered
        assert chunk.tokens <= max(limit, longest_line)
    if limit >= longest_line:
        assert all(c.tokens <= limit for c in chunks)
    assert len(chunks) > 1


@needs_reference
def test_chunks_follow_headings_where_sections_fit(constitution):
    sections = split_sections(constitution.splitlines())
    starts = {s.first for s in sections}
    chunks = chunk_document(constitution, LIMIT)
    for chunk in chunks:
        whole = [s for s in chunk.sections if chunk.first <= s.first and s.last <= chunk.last]
        if len(chunk.sections) > 1:
            # Sections are only packed together whole, from a heading.
            assert whole == list(chunk.sections) and chunk.first in starts
    # A section larger than the budget is cut at a blank line.
    lines = constitution.splitlines()
    for chunk in chunks:
        if chunk.first not in starts:
            assert not lines[chunk.first - 2].strip() or chunk.last - chunk.first == 0


def test_sections_cover_the_document_and_ignore_fenced_headings():
    text = "intro\n# A\ntext\n```\n# not a heading\n```\n## B\nmore\n"
    sections = split_sections(text.splitlines())
    assert [(s.first, s.last, s.path) for s in sections] == [
        (1, 1, "(before the first heading)"), (2, 6, "A"), (7, 8, "A > B")]


def test_parse_draft_checks_the_declared_shape():
    with pytest.raises(ValueError, match="no JSON object"):
        parse_draft("I cannot do that.")
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_draft('{"values": [}')
    with pytest.raises(ValueError, match="rules/0"):
        parse_draft(json.dumps({"values": [], "rules": [{"id": "x", "text": "t", "strength": "firm",
                                                         "lines": [1, 1], "quote": "q", "confidence": 1}]}))
    assert parse_draft('Sure:\n```json\n{"values": [], "rules": []}\n```') == {"values": [], "rules": []}


# --- drafting against the fake server -------------------------------------------------------------


@pytest.fixture
def drafted(server, constitution):
    return import_prose(constitution, REFERENCE.name, MODEL, base_url=server.openai_base_url,
                        max_chunk_tokens=LIMIT), server


@needs_reference
def test_each_clause_traces_to_lines_inside_its_chunk_that_hold_its_quote(drafted, constitution):
    result, _ = drafted
    lines = constitution.splitlines()
    chunks = {c.index: c for c in result.chunks}
    norm = lambda s: " ".join(s.replace("’", "'").split()).lower()  # noqa: E731
    assert result.drafted
    for clause in result.drafted:
        chunk = chunks[clause.chunk]
        a, b = clause.lines
        assert chunk.first <= a <= b <= chunk.last, clause
        assert norm(clause.quote) in norm(" ".join(lines[a - 1:b])), clause
    by_ref = {f"{k[:-1]}:{c['id']}": c for k in ("values", "rules", "tensions", "traits") for c in result.spec.get(k, [])}
    for clause in result.drafted:
        if clause.kind != "examples":
            assert by_ref[clause.ref]["source"]["lines"] == list(clause.lines)
    moved = [d for d in result.drafted if any("quote found at" in p for p in d.problems)]
    assert moved and all(d.chunk == 4 for d in moved)


@needs_reference
def test_every_section_is_mapped_or_listed(drafted, constitution):
    result, _ = drafted
    sections = split_sections(constitution.splitlines())
    spans = [d.lines for d in result.drafted]
    mapped = {s for s in sections if any(a <= s.last and s.first <= b for a, b in spans)}
    unmapped = {n.section for n in result.not_mapped}
    assert mapped | unmapped == set(sections) and not mapped & unmapped
    reasons = {n.section.path: n.reason for n in result.not_mapped}
    assert reasons["Claude’s Constitution"] == "the model says: table of contents"
    assert reasons["Concluding thoughts > A final word"] == "the model says: closing words"
    assert result.counts()["sections not mapped"] == len(result.not_mapped)


@needs_reference
def test_repair_rejection_references_and_review(drafted):
    result, server = drafted
    assert server.calls("drafter-1") == len(result.chunks) + 1  # one repair request for excerpt 2
    assert not result.failed_chunks
    assert any("'stray'" in r and "outside the chunk" in r for r in result.rejected)
    spec = result.spec
    rule_ids = [r["id"] for r in spec["rules"]]
    assert len(rule_ids) == len(set(rule_ids)) and "stray" not in rule_ids
    values = [v["id"] for v in spec["values"]]
    assert values[:3] == ["value-1", "value-2", "value-3"]  # document order
    assert all(set(r.get("serves", [])) <= set(values) for r in spec["rules"])
    assert all(t["favors"] == "value-1" and t["values"][0] == "value-1" for t in spec["tensions"])
    assert all(e["targets"] and "rule:no-such-rule" not in e["targets"] for e in spec["examples"])
    review = result.review()
    flagged = [d for d in review if d.problems]
    assert any("does not resolve" in p for d in flagged for p in d.problems)
    unflagged = [d.confidence for d in review if not d.problems]
    others = [d.confidence for d in result.drafted if not d.problems and d not in review]
    assert not others or max(unflagged) <= min(others)


@needs_reference
def test_command_writes_a_valid_spec_and_review(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    args = ["import", "prose", str(REFERENCE), "--model", MODEL, "-o", str(out), "--base-url",
            server.openai_base_url, "--max-chunk-tokens", str(LIMIT), "--id", "claude"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    spec = charter.load(out / "claude.yaml")
    assert spec.name == "Claude" and spec.rules and spec.values
    assert all(r.source is not None and r.source.lines for r in spec.rules)
    review = (out / "claude.review.md").read_text()
    assert "least sure" in review and "Sections not mapped:" in review and "A final word" in review
    assert re.search(r"wrote .*claude\.yaml: \d+ chunks, \d+ values", result.output)
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2 and "already exists" in again.output


def test_bad_model_id_and_missing_key_are_one_line_usage_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (tmp_path / "doc.md").write_text("# Doc\n\nBe kind.\n")
    for model, message in [("gpt-4", "invalid model id"), ("openai:gpt-4.1-mini", "no API key")]:
        result = CliRunner().invoke(main, ["import", "prose", "doc.md", "--model", model, "-o", "out"])
        assert result.exit_code == 2, result.output
        assert message in result.output and result.output.count("\n") == 1
        assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(main, ["import", "prose", "gone.md", "--model", MODEL, "-o", "out"])
    assert result.exit_code == 2 and result.output == "charter: error: gone.md: no such file\n"


def _one_error(result) -> str:
    """The error line; progress lines before it go to stderr too, but the error is one line, last."""
    errors = [line for line in result.output.splitlines() if line.startswith("charter: error: ")]
    assert len(errors) == 1 and result.output.splitlines()[-1] == errors[0]
    return errors[0]


def test_a_model_that_never_answers_in_shape_writes_nothing(keys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "doc.md").write_text("# Doc\n\nBe kind.\n\n## More\n\nBe brief.\n")
    with FakeServer({"drafter-1": ModelScript(reply="I would rather not.")}, default=None) as running:
        result = CliRunner().invoke(main, ["import", "prose", "doc.md", "--model", MODEL, "-o", "out",
                                           "--base-url", running.openai_base_url])
        assert running.calls("drafter-1") == 2  # the request and one repair request
    assert result.exit_code == 1
    error = _one_error(result)
    assert "no usable clause" in error and "after one repair request" in error
    assert not (tmp_path / "out").exists()


def test_a_failing_server_is_a_one_line_error(keys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "doc.md").write_text("# Doc\n\nBe kind.\n")
    with FakeServer({"drafter-1": ModelScript(sequence=["auth"])}, default=None) as running:
        result = CliRunner().invoke(main, ["import", "prose", "doc.md", "--model", MODEL, "-o", "out",
                                           "--base-url", running.openai_base_url])
    assert result.exit_code == 1
    assert "HTTP 401" in _one_error(result) and "nothing written" in _one_error(result)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, extra, code, message", [
    ("# Doc\n\nBe kind.\n", ["--max-chunk-tokens", "5"], 2, "--max-chunk-tokens"),
    ("# Doc\n\nBe kind.\n", ["--id", "Not An Id"], 2, "not a valid id"),
    ("\n  \n", [], 1, "the document is empty"),
])
def test_bad_options_and_empty_documents_write_nothing(keys, tmp_path, monkeypatch, content, extra, code, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "doc.md").write_text(content)
    result = CliRunner().invoke(main, ["import", "prose", "doc.md", "--model", MODEL, "-o", "out", *extra])
    assert result.exit_code == code and message in result.output
    assert not (tmp_path / "out").exists()


def test_a_chunk_whose_answers_fail_leaves_its_sections_unmapped():
    import asyncio

    from charter.interop.prose import draft_spec

    text = "# One\n\nBe kind to people.\n\n# Two\n\nBe brief.\n"
    asked = []

    async def ask(messages):
        asked.append(messages)
        if "# Two" in messages[0]["content"]:
            return "no JSON here"
        return json.dumps({"values": [{"id": "Kindness", "description": "I am kind.", "lines": [3, 3],
                                       "quote": "Be kind", "confidence": 0.8}], "rules": []})

    result = asyncio.run(draft_spec(text, "doc.md", ask, model="test:m", max_chunk_tokens=20))
    assert [(c.first, c.last) for c in result.chunks] == [(1, 4), (5, 7)]
    assert len(asked) == 3 and asked[2][-1]["content"].startswith("That answer cannot be used")
    assert result.spec["values"][0]["id"] == "kindness"
    assert [(n.section.path, n.reason) for n in result.not_mapped] == [
        ("Two", "the model's answer for chunk 2 could not be used")]
    assert result.failed_chunks and "after one repair request" in result.failed_chunks[0]


def test_a_second_identical_import_is_answered_from_the_cache(keys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "doc.md").write_text("# Doc\n\nBe kind to people.\n")
    draft = json.dumps({"values": [{"id": "kindness", "description": "I am kind.", "lines": [3, 3],
                                    "quote": "Be kind", "confidence": 0.8}], "rules": []})
    with FakeServer({"drafter-1": ModelScript(reply=draft)}, default=None) as running:
        args = ["import", "prose", "doc.md", "--model", MODEL, "--base-url", running.openai_base_url]
        first = CliRunner().invoke(main, [*args, "-o", "first"])
        assert first.exit_code == 0, first.output
        assert running.calls("drafter-1") == 1
        again = CliRunner().invoke(main, [*args, "-o", "again"])
        assert again.exit_code == 0 and running.calls("drafter-1") == 1
        fresh = CliRunner().invoke(main, [*args, "-o", "fresh", "--no-cache"])
        assert fresh.exit_code == 0 and running.calls("drafter-1") == 2
    assert (tmp_path / "again" / "doc.yaml").read_text() == (tmp_path / "first" / "doc.yaml").read_text()
