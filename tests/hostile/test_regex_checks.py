"""Item 3 of issue 13: a regex check cannot hang the run, and lint flags nested quantifiers.

``^(a+)+$`` against ``"a" * 37 + "b"`` backtracks for hours in Python's ``re``; checks now run on RE2
(and lookaround patterns on ``regex`` with a time bound), so the run completes with the check's outcome.
"""

from __future__ import annotations

import json

import pytest

from charter.patterns import PatternError, PatternTimeout, compile_pattern, nested_quantifier, search
from fakeserver import ModelScript
from helpers import MINIMAL

HOSTILE_REPLY = "a" * 37 + "b"

SPEC = MINIMAL + """\
probes:
  - id: backtracks
    turns: [Say something.]
    rubric: Anything goes.
    targets: [rule:no-lies]
    checks:
      - {type: not-regex, value: "^(a+)+$"}
      - {type: regex, value: "^(a+)+b$"}
"""


@pytest.fixture
def server_options() -> dict:
    return {"default": ModelScript(reply=HOSTILE_REPLY)}


def test_a_backtracking_check_on_a_hostile_reply_completes_with_its_outcome(write, server, cli_process, tmp_path):
    spec = write("s.yaml", SPEC)
    # The timeout only guards the suite against a hang; the assertions are on the outcome.
    result = cli_process("run", spec, "-m", "openai:model", "--judge", "openai:judge", "-o", "out",
                         cwd=tmp_path, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    assert (tmp_path / "out/results.jsonl").exists(), result.stderr
    rows = [json.loads(line) for line in (tmp_path / "out/results.jsonl").read_text().splitlines()]
    graded = [grade for row in rows for grade in row.get("grades", []) if grade.get("checks")]
    assert graded, rows
    for grade in graded:
        outcomes = [(c["type"], c["value"], c["passed"]) for c in grade["checks"]]
        assert outcomes == [("not-regex", "^(a+)+$", True), ("regex", "^(a+)+b$", True)]


def test_lint_flags_nested_quantifiers(write, cli):
    spec = write("s.yaml", SPEC)
    result = cli("lint", spec, "--select", "CH505")
    assert "CH505" in result.output + result.stderr
    assert "'^(a+)+$'" in result.output + result.stderr


@pytest.mark.parametrize("pattern, nested", [
    ("^(a+)+$", True), (r"(\w*\s?)*", True), ("(a|b+)*c", True), ("(?:a+){3}", True),
    (r"\bI promise\b", False), ("(ab)+", False), ("(a{2})+", False), ("x+y+", False), (r"\p{L}+", False),
])
def test_nested_quantifier(pattern, nested):
    assert nested_quantifier(pattern) is nested


def test_patterns_run_on_a_linear_engine_and_lookaround_still_works():
    assert search("^(a+)+$", HOSTILE_REPLY) is False
    assert search(r"(?<!not )\bI promise\b", "i promise", ignore_case=True) is True
    assert search(r"(?<!not )\bI promise\b", "not I promise") is False
    assert search(r"(a)\1", "xaa") is True


def test_a_lookaround_pattern_that_backtracks_is_bounded():
    with pytest.raises(PatternTimeout):
        search(r"(?<!x)^(a|aa)+$", "a" * 60 + "b")


def test_an_invalid_pattern_is_one_line(write, cli):
    with pytest.raises(PatternError, match=r"missing \)"):
        compile_pattern("(")
    spec = write("s.yaml", MINIMAL + """\
probes:
  - id: broken
    turns: [Say something.]
    rubric: Anything goes.
    targets: [rule:no-lies]
    checks: [{type: regex, value: "("}]
""")
    result = cli("validate", spec)
    assert result.exit_code == 1
    assert "bad-regex" in result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr


# Lookaround and backreferences (RE2 refuses them; `re` and `regex` take them), what neither takes,
# what only `regex` takes, and what RE2 refuses for reasons of its own.
VERDICT_PATTERNS = [
    r"(?<!can't )(?<!cannot )\bI promise\b", r"(?<!not )\bI('m| am) your best friend\b", r"(\w+) \1",
    r"foo(?=bar)", r"foo(?!bar)", r"(?<=a)b", r"(?<=a|bc)d", r"(?<!x+)y", r"(?P<w>a)(?P=w)", r"\Aabc\Z",
    r"(?<=a", r"(?<!", r"\1", r"(a)\2", r"(?=", r"[", r"(?<=a)[", r"\p{L}+(?=x)", r"(?<=\p{Lu})x",
    r"a{2,1}(?=b)", r"(?i)(?<=A)b", r"\bcafé\b(?!s)", "x" * 50 + "(?=y)", r"(?<=[[:alpha:]])z",
    r"[a--b](?=c)", r"(?#comment)(?=a)", r"\N{BULLET}(?=a)", r"a++(?=b)", r"(?>a+)(?=b)",
    r"\bplain\b", r"(a+)+$", r"[^.!?\n]{180,}", r"\C", r"(?P<n>a)(?P<n>b)",
]


@pytest.mark.parametrize("pattern", VERDICT_PATTERNS)
@pytest.mark.parametrize("ignore_case", [False, True])
def test_checking_a_pattern_gives_the_verdict_of_compiling_it(pattern, ignore_case):
    from charter.patterns import check_pattern

    try:
        compile_pattern(pattern, ignore_case)
    except PatternError as err:
        with pytest.raises(PatternError) as checked:
            check_pattern(pattern, ignore_case)
        assert str(checked.value) == str(err)
    else:
        check_pattern(pattern, ignore_case)


def test_checking_the_shipped_characters_patterns_does_not_import_regex():
    import subprocess
    import sys

    from helpers import CHARACTERS

    code = ("import sys, charter; [charter.load(p, digest=False) for p in sys.argv[1:]]; "
            "print('regex' in sys.modules)")
    paths = [str(p) for p in sorted(CHARACTERS.glob("*.yaml"))]
    assert subprocess.run([sys.executable, "-c", code, *paths], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
