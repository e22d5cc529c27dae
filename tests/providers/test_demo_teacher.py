"""The offline teacher: `demo:` models answer every stage of `generate data`, `generate evals` and
`import prose` with well-formed scripted content, with no key, server or network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import CHARACTERS, charter

import charter as charter_lib
from charter.interop.prose import SYSTEM_PROMPT as PROSE_SYSTEM
from charter.length_ratio import too_far_apart
from charter.providers import demo_teacher
from charter.providers.demo import REPLIES, demo_reply
from charter.synth.evalgen import EVALGEN_SYSTEM
from charter.synth.stages import BREAK_SYSTEM, IDEATION_SYSTEM, REALISM_SYSTEM
from charter.targets.evals import validate_case

TUTOR = CHARACTERS / "tutor.yaml"
DEMO = ("-m", "demo:teacher", "--judge", "demo:judge")
DOCUMENT = """# Sam's constitution

Sam is a cooking helper on a recipe website.

## What Sam cares about

Sam cares most about food safety and honest nutrition facts.

## How Sam behaves

- Never recommend undercooked chicken or pork to anyone.
- Always mention common allergens when a recipe contains nuts.
- Sam keeps answers short and friendly, with one tip at a time.
"""


@pytest.fixture
def offline(env, monkeypatch):
    """No key and no endpoint anywhere in the environment."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return env


def test_the_stage_markers_are_the_synthesis_prompts_own_words():
    # The demo may not import the synthesis packages (data flows one way), so it keeps their opening words.
    assert IDEATION_SYSTEM.startswith(demo_teacher.IDEATION_MARK)
    assert REALISM_SYSTEM.startswith(demo_teacher.REALISM_MARK)
    assert BREAK_SYSTEM.startswith(demo_teacher.NEAR_MISS_MARK)
    assert EVALGEN_SYSTEM.startswith(demo_teacher.EVALGEN_MARK)
    assert PROSE_SYSTEM.startswith(demo_teacher.PROSE_MARK)


def test_near_misses_keep_the_length_and_the_demo_judge_fails_them():
    for n, good in enumerate(REPLIES):
        bad = demo_teacher.near_miss(good, len(good.split()), f"seed {n}")
        assert bad != good and not too_far_apart(good, bad)
        assert any(sentence in bad for flaw in demo_teacher.FLAWS for sentence in flaw)


def test_a_plain_run_request_still_gets_a_canned_reply():
    # The teacher answers synthesis requests only: a model under test in `charter run` is unchanged.
    reply = demo_reply("demo:tutor", [{"role": "system", "content": "You are Pip."},
                                      {"role": "user", "content": "hi"}])
    assert reply in REPLIES


def test_generate_data_with_the_demo_teacher_writes_rows_and_says_it_is_a_demo(offline):
    result = charter("generate", "data", TUTOR, *DEMO, "-n", 20, "-o", "gen", "-q")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((offline / "gen" / "manifest.json").read_text())
    assert manifest["rows"]["accepted"] == 20 and manifest["files"]["sft.trl.jsonl"] == 20
    assert manifest["length_ratio"]["pairs"] == 20 and manifest["length_ratio"]["share_above_max"] <= 0.5
    assert manifest["notes"] and manifest["notes"][0].startswith("teacher: demo (demo:teacher, demo:judge")
    assert "teacher: demo" in result.stdout and "teacher: demo" in (offline / "gen" / "README.md").read_text()
    # The filters had something to do, so the demo shows them at work.
    assert manifest["drops"].get("contrived") and manifest["drops"].get("chosen-failed")
    assert manifest["cost"]["usd"] == 0
    # Deterministic: another cache, the same bytes.
    again = charter("generate", "data", TUTOR, *DEMO, "-n", 20, "-o", "gen2", "-q", "--cache", "other.sqlite3")
    assert again.exit_code == 0, again.stderr
    for path in sorted((offline / "gen").glob("*.jsonl")):
        assert path.read_bytes() == (offline / "gen2" / path.name).read_bytes(), path.name


def test_the_teacher_alone_also_judges(offline):
    # Without --judge the teacher grades too: every demo model answers every synthesis stage.
    result = charter("generate", "data", TUTOR, "-m", "demo:teacher", "-n", 6, "-o", "gen", "-q")
    assert result.exit_code == 0, result.stderr
    assert json.loads((offline / "gen" / "manifest.json").read_text())["rows"]["accepted"] == 6


def test_generate_evals_with_the_demo_writes_valid_probes_and_pressure_scripts(offline):
    result = charter("generate", "evals", TUTOR, "-m", "demo:teacher", "-n", 24, "-o", "evals", "-q")
    assert result.exit_code == 0, result.stderr
    cases = [json.loads(line) for line in (offline / "evals" / "evals.jsonl").read_text().splitlines()]
    assert len(cases) == 24 and all(validate_case(case) == [] for case in cases)
    kinds = {case["kind"] for case in cases}
    assert "drift" in kinds and kinds & {"rule", "probe", "trait"}
    held = [case for case in cases if case["drift"] and case["drift"]["risk"] == "sycophancy"]
    assert held and all(case["drift"]["hold"]["turn"] == 0 for case in held)


def test_import_prose_with_the_demo_drafts_a_spec_that_validates(offline):
    (offline / "sam.md").write_text(DOCUMENT)
    result = charter("import", "prose", "sam.md", "-m", "demo:teacher", "-o", "spec", "--no-cache")
    assert result.exit_code == 0, result.stderr
    path = offline / "spec" / "sam.yaml"
    assert charter("validate", path).exit_code == 0
    spec = charter_lib.load(path)
    assert [r.strength for r in spec.rules] == ["hard", "default"] and spec.values
    lines = DOCUMENT.splitlines()
    for clause in (*spec.values, *spec.traits, *spec.rules):
        quote = clause.notes.split("Quote: ", 1)[1]
        assert quote in " ".join(lines), quote  # quoted from the document, never invented


@pytest.mark.skipif(not (Path(__file__).resolve().parents[3] / "shared" / "reference").is_dir(),
                    reason="the reference constitution sits beside the checkout in Charter's workspace only")
def test_import_prose_with_the_demo_on_a_long_constitution(offline):
    source = Path(__file__).resolve().parents[3] / "shared" / "reference" / "claude-constitution-2026-01.md"
    result = charter("import", "prose", source, "-m", "demo:teacher", "-o", "spec", "--no-cache",
                     "--id", "claude")
    assert result.exit_code == 0, result.stderr
    assert charter("validate", offline / "spec" / "claude.yaml").exit_code == 0
