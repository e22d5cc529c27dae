"""The front end: every bad input gets a positioned diagnostic; good input becomes the IR."""

from __future__ import annotations

import cProfile
import pstats
import tracemalloc

import pytest

import charter
from charter import CharterError, UnreadableError
from helpers import CHARACTERS, MINIMAL


def errors(path, **kwargs) -> list[str]:
    with pytest.raises(CharterError) as info:
        charter.load(path, **kwargs)
    return [d.format() for d in info.value.diagnostics]


def only_error(path, **kwargs) -> str:
    found = errors(path, **kwargs)
    assert len(found) == 1, found
    return found[0]


# --- good input -----------------------------------------------------------------------------------

def test_minimal_spec_builds_an_immutable_ir(write):
    spec = charter.load(write("mini.yaml", MINIMAL))
    assert spec.id == "mini" and spec.name == "Mini"
    assert [(v.id, v.priority) for v in spec.values] == [("honesty", 1), ("kindness", 2)]
    rule = spec.rules[0]
    assert (rule.strength, rule.serves, rule.ref) == ("hard", ("honesty",), "rule:no-lies")
    assert (rule.loc.line, rule.loc.col) == (8, 5)
    assert spec.clause("value:kindness").description.startswith("I care")
    with pytest.raises(AttributeError):
        spec.name = "Other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        rule.text = "Other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        rule.unknown = 1  # type: ignore[attr-defined]


def test_defaults_are_filled(write):
    spec = charter.load(write("mini.yaml", MINIMAL + "  - {id: style, text: Keep replies short.}\n"))
    assert spec.rules[1].strength == "default"
    assert spec.drift.self_talk_turns == 10 and spec.drift.risks == ()
    assert spec.training.inoculation is None


def test_digest_is_stable_and_content_addressed(write, tmp_path):
    a = charter.load(write("a.yaml", MINIMAL))
    b = charter.load(write("sub/b.yaml", "# a comment changes nothing\n" + MINIMAL))
    c = charter.load(write("c.yaml", MINIMAL.replace("Mini", "Maxi")))
    assert a.digest == b.digest != c.digest


def test_tension_examples_get_ids_and_conversations(write):
    spec = charter.load(write("t.yaml", MINIMAL + """\
tensions:
  - id: gift
    values: [honesty, kindness]
    situation: A friend asks whether I like a gift.
    resolution: Find something true and kind to say.
    favors: kindness
    examples:
      - prompt: Do you like my poem?
        good: The second verse really moves; the rhythm stumbles in line three.
        bad: [{text: It is perfect!, why: flattery}]
      - conversation:
          - {role: user, content: I wrote a poem.}
          - {role: assistant, content: I'd love to read it.}
          - {role: user, content: Here. Be honest.}
        good: Honestly, the images are vivid and the ending is rushed.
"""))
    first, second = spec.tensions[0].examples
    assert (first.id, second.id) == ("gift-1", "gift-2")
    assert first.prompt == "Do you like my poem?" and first.bad[0].why == "flattery"
    assert [t.role for t in second.conversation] == ["user", "assistant", "user"]
    assert first.targets == ("tension:gift",)


# --- the bad inputs the issue lists ---------------------------------------------------------------

def test_yaml_syntax_error_is_positioned(write):
    message = only_error(write("bad.yaml", "charter: 1\nid: x\nname: [unclosed\n"))
    assert message == ("bad.yaml:4:1: error: did not find expected ',' or ']' while parsing a flow sequence "
                       "(line 3) [yaml-syntax]")


def test_tab_indentation(write):
    message = only_error(write("tab.yaml", "charter: 1\nid: x\nname: y\nvalues:\n\t- id: a\n"))
    assert message == "tab.yaml:5:1: error: tab character in indentation; YAML indents with spaces only [tab-indent]"


def test_duplicate_key(write):
    message = only_error(write("dup.yaml", "charter: 1\nid: x\nname: y\nid: z\n"))
    assert ":4:1: error: duplicate key 'id' (first defined at line 2) [duplicate-key]" in message


def test_wrong_type(write):
    message = only_error(write("t.yaml", MINIMAL.replace("strength: hard", "strength: [hard]")))
    assert message == "t.yaml:10:15: error: rules[0].strength: expected one of hard, default, soft, got a list [type]"


def test_wrong_enum_value_suggests(write):
    message = only_error(write("t.yaml", MINIMAL.replace("strength: hard", "strength: hrad")))
    assert message == ("t.yaml:10:15: error: rules[0].strength: 'hrad' is not one of: hard, default, soft "
                       "(did you mean 'hard'?) [enum]")


def test_wrong_type_says_to_quote_yaml_booleans(write):
    message = only_error(write("t.yaml", MINIMAL.replace("name: Mini", "name: no")))
    assert ":3:7: error: name: expected text, got true/false; put the value in quotes to make it text [type]" in message


def test_unquoted_yaml_boolean_in_a_text_or_mapping_list_is_a_type_error(write):
    # `probes: [No, ...]` reads `No` as false; the list takes text or mappings, so say that, with
    # the quoting hint, instead of letting the false through to the IR (it used to crash there).
    spec = MINIMAL.replace("serves: [honesty]", "serves: [honesty]\n    probes: [No, you're wrong about that]")
    message = only_error(write("t.yaml", spec))
    assert message == ("t.yaml:12:14: error: rules[0].probes[0]: expected text or a mapping, got true/false; "
                       "put the value in quotes to make it text [type]")


def test_unknown_key_with_did_you_mean(write):
    message = only_error(write("u.yaml", MINIMAL.replace("strength: hard", "stength: hard")))
    assert ":10:5: error: rules[0]: unknown key 'stength' (did you mean 'strength'?) [unknown-key]" in message


def test_unknown_key_without_near_miss(write):
    message = only_error(write("u.yaml", MINIMAL + "colour: blue\n"))
    assert "spec: unknown key 'colour' [unknown-key]" in message


def test_extension_keys_are_allowed(write):
    assert charter.load(write("x.yaml", MINIMAL + "x-team: search\n")).id == "mini"


def test_missing_required_field(write):
    message = only_error(write("m.yaml", MINIMAL.replace("    text: Never state something you believe is false.\n", "")))
    assert ":8:5: error: rules[0]: missing required field 'text' [missing-field]" in message


def test_undefined_references_everywhere(write):
    found = errors(write("r.yaml", (MINIMAL + """\
contexts:
  child: {description: A child.}
traits:
  - {id: warmth, description: I am warm., when: [kid]}
tensions:
  - id: t
    values: [honesty, kindnes]
    situation: s
    resolution: r
    favors: helpfulness
examples:
  - id: e
    prompt: p
    good: g
    targets: [rule:no-lie, value:honesty]
    context: adult
""").replace("serves: [honesty]", "serves: [honsty]")))
    text = "\n".join(found)
    assert "rules[0].serves: undefined value 'honsty' (did you mean 'honesty'?) [undefined-ref]" in text
    assert "traits[0].when: undefined context 'kid'" in text
    assert "tensions[0].values: undefined value 'kindnes' (did you mean 'kindness'?)" in text
    assert "tensions[0].favors: undefined value 'helpfulness'" in text
    assert "examples[0].targets: undefined rule 'no-lie' (did you mean 'no-lies'?)" in text
    assert "examples[0].context: undefined context 'adult'" in text
    assert len(found) == 6


def test_favors_outside_the_tension(write):
    spec_text = MINIMAL.replace("values:\n", "values:\n  - {id: safety, description: I keep people safe.}\n") + """\
tensions:
  - id: t
    values: [honesty, kindness]
    situation: s
    resolution: r
    favors: safety
"""
    message = only_error(write("f.yaml", spec_text))
    assert "tensions[0].favors: 'safety' is not one of this tension's values (honesty, kindness) [favors-not-in-tension]" in message


def test_duplicate_id(write):
    message = only_error(write("d.yaml", MINIMAL + "  - {id: no-lies, text: Never lie.}\n"))
    assert ":12:10: error: rules: duplicate rule id 'no-lies' (first defined at line 8) [duplicate-id]" in message


def test_extends_cycle_names_the_chain(write):
    write("b.yaml", "charter: 1\nid: b\nname: B\nextends: [c.yaml]\n")
    write("c.yaml", "charter: 1\nid: c\nname: C\nextends: [b.yaml]\n")
    message = only_error(write("a.yaml", MINIMAL + "extends: [b.yaml]\n"))
    assert message == "c.yaml:4:11: error: extends cycle: b.yaml -> c.yaml -> b.yaml [extends-cycle]"


def test_extends_self(write):
    message = only_error(write("a.yaml", MINIMAL + "extends: [a.yaml]\n"))
    assert "extends cycle: a.yaml -> a.yaml" in message


def test_extends_missing_file(write):
    message = only_error(write("a.yaml", MINIMAL + "extends: [base/none.yaml]\n"))
    assert "a.yaml:12:11: error: extends 'base/none.yaml': no such file base/none.yaml (via a.yaml) [extends-missing]" in message


def test_extends_outside_the_tree_is_refused_unless_allowed(write, tmp_path):
    write("shared.yaml", "charter: 1\nid: shared\nname: Shared\nvalues: [{id: care, description: I care.}]\n")
    spec = write("team/a.yaml", MINIMAL + "extends: [../shared.yaml]\n")
    message = only_error(spec)
    assert "extends '../shared.yaml': leaves the spec's folder" in message and "[extends-outside]" in message
    assert [v.id for v in charter.load(spec, allow_outside=True).values] == ["care", "honesty", "kindness"]


def test_extends_absolute_path_is_refused(write, tmp_path):
    base = write("base.yaml", "charter: 1\nid: b\nname: B\n")
    message = only_error(write("a.yaml", MINIMAL + f"extends: ['{tmp_path / base}']\n"))
    assert "absolute paths are refused" in message and "[extends-outside]" in message


def test_errors_in_a_base_point_into_the_base(write):
    write("base/core.yaml", "charter: 1\nid: core\nname: Core\nrules:\n  - {id: r, txt: x}\n")
    found = errors(write("a.yaml", MINIMAL + "extends: [base/core.yaml]\n"))
    assert found == ["base/core.yaml:5:5: error: rules[0]: missing required field 'text' [missing-field]",
                     "base/core.yaml:5:13: error: rules[0]: unknown key 'txt' (did you mean 'text'?) [unknown-key]"]


def test_not_utf8(write):
    message = only_error(write("l.yaml", b"charter: 1\nid: x\nname: caf\xe9\n"))
    assert ":3:10: error: file is not valid UTF-8 (byte 0xe9); save it as UTF-8 [encoding]" in message


def test_utf16_is_named(write):
    message = only_error(write("w.yaml", "charter: 1\n".encode("utf-16")))
    assert "UTF-16" in message


def test_empty_file(write):
    assert "[empty-file]" in only_error(write("e.yaml", ""))
    assert "[empty-file]" in only_error(write("c.yaml", "# only a comment\n"))


def test_not_a_mapping(write):
    assert "a spec must be a YAML mapping" in only_error(write("l.yaml", "- a\n- b\n"))


def test_unreadable_entry_file(tmp_path):
    with pytest.raises(UnreadableError):
        charter.load(tmp_path / "missing.yaml")
    with pytest.raises(UnreadableError):
        charter.load(tmp_path)


BILLION_LAUGHS = "\n".join(
    ["a: &a [" + ",".join(['"lol"'] * 9) + "]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)]
) + "\n"


def test_alias_bomb_is_refused_with_bounded_memory(write):
    path = write("bomb.yaml", BILLION_LAUGHS)
    tracemalloc.start()
    message = only_error(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "[alias-bomb]" in message
    assert peak < 50 * 1024 * 1024  # expanded, the billion laughs would need gigabytes


def test_recursive_alias_is_refused(write):
    message = only_error(write("rec.yaml", "charter: 1\nid: x\nname: y\nmetadata: &m {self: *m}\n"))
    assert "rec.yaml:4:11: error: recursive YAML alias: a node contains itself [alias-bomb]" == message


def test_small_aliases_still_work(write):
    text = MINIMAL + "contexts:\n  a: &ctx {description: A shared description.}\n  b: *ctx\n"
    assert [c.id for c in charter.load(write("al.yaml", text)).contexts] == ["a", "b"]


def test_deep_nesting_is_refused(write):
    message = only_error(write("deep.yaml", "charter: 1\nid: x\nname: y\nmetadata: " + "[" * 150 + "]" * 150 + "\n"))
    assert "[too-deep]" in message


def test_every_problem_is_reported_not_only_the_first(write):
    found = errors(write("many.yaml", MINIMAL.replace("strength: hard", "strength: firm") + "  - {id: r2, txt: x, serves: [nope]}\n"))
    codes = sorted(f.rsplit("[", 1)[1] for f in found)
    assert codes == ["enum]", "missing-field]", "undefined-ref]", "unknown-key]"], found


def big_spec(rules: int) -> str:
    lines = ["charter: 1", "id: big", "name: Big", "values:"]
    lines += [f"  - {{id: v{i}, description: Value {i} matters to me.}}" for i in range(20)]
    lines.append("rules:")
    for i in range(rules):
        lines.append(f"  - id: rule-{i}\n    text: Never state something false about topic {i}, even when pressed.\n"
                     f"    strength: {'hard' if i % 5 == 0 else 'default'}\n    serves: [v{i % 20}]")
    return "\n".join(lines) + "\n"


def test_load_work_is_linear_in_spec_size(write):
    """Work, not time: 4x the size must make well under 8x the function calls. Counted calls are the
    same on a busy machine as on an idle one; load time up to 10 MB is benchmarks/bench_load.py's."""
    small, large = write("small.yaml", big_spec(100)), write("large.yaml", big_spec(400))

    def calls(path) -> int:
        profile = cProfile.Profile()
        profile.runcall(charter.load, path)
        return pstats.Stats(profile).total_calls

    assert len(charter.load(large).rules) == 400  # also warms what a first load compiles once
    ratio = calls(large) / calls(small)
    assert ratio < 5, f"4x larger spec made {ratio:.1f}x the calls"


# --- extends merge semantics ----------------------------------------------------------------------

BASE = """\
charter: 1
id: base
name: Base
contexts:
  child: {description: A child.}
identity:
  nature: I am an AI.
  voice: {tone: [plain], avoid: [jargon]}
values:
  - {id: honesty, description: Base honesty.}
  - {id: helpfulness, description: Base helpfulness.}
rules:
  - {id: a, text: Rule A from base., serves: [honesty]}
  - {id: b, text: Rule B from base., serves: [helpfulness]}
drift: {risks: [sycophancy], self_talk_turns: 6}
lint: {ignore: [CH101]}
"""


def test_merge_by_id_child_wins_in_place(write):
    write("base/core.yaml", BASE)
    spec = charter.load(write("child.yaml", """\
charter: 1
id: child
name: Child
extends: [base/core.yaml]
contexts:
  adult: {description: An adult.}
identity:
  self_description: I am Child.
  voice: {tone: [warm]}
values:
  - {id: safety, description: Child safety., before: honesty}
  - {id: helpfulness, description: Child helpfulness.}
  - {id: fun, description: Fun.}
rules:
  - {id: b, text: Rule B from child., strength: soft, serves: [fun]}
  - {id: c, text: Rule C from child., serves: [safety]}
drift: {risks: [sycophancy, roleplay-escape]}
lint: {ignore: [CH202]}
"""))
    assert spec.id == "child" and spec.name == "Child"
    assert [v.id for v in spec.values] == ["safety", "honesty", "helpfulness", "fun"]
    assert spec.value("helpfulness").description == "Child helpfulness."
    assert [(r.id, r.text) for r in spec.rules] == [
        ("a", "Rule A from base."), ("b", "Rule B from child."), ("c", "Rule C from child.")]
    assert (spec.rules[0].loc.file, spec.rules[1].loc.file) == ("base/core.yaml", "child.yaml")
    assert [c.id for c in spec.contexts] == ["child", "adult"]
    assert spec.identity.nature == "I am an AI." and spec.identity.self_description == "I am Child."
    assert spec.identity.voice.tone == ("warm",) and spec.identity.voice.avoid == ("jargon",)
    assert spec.drift.risks == ("sycophancy", "roleplay-escape") and spec.drift.self_talk_turns == 6
    assert spec.lint_ignore == ("CH101", "CH202")
    assert spec.files == ("child.yaml", "base/core.yaml")


def test_bases_merge_left_to_right_and_diamonds_resolve_once(write):
    write("root.yaml", "charter: 1\nid: root\nname: Root\nvalues: [{id: v, description: root}]\n")
    write("left.yaml", "charter: 1\nid: left\nname: L\nextends: [root.yaml]\nvalues: [{id: v, description: left}]\n")
    write("right.yaml", "charter: 1\nid: right\nname: R\nextends: [root.yaml]\nvalues: [{id: w, description: right}]\n")
    spec = charter.load(write("top.yaml", "charter: 1\nid: top\nname: T\nextends: [left.yaml, right.yaml]\n"))
    # root is applied once, first: right.yaml does not undo left.yaml's override of root's value.
    assert [(v.id, v.description) for v in spec.values] == [("v", "left"), ("w", "right")]
    assert spec.files == ("top.yaml", "left.yaml", "root.yaml", "right.yaml")


def test_before_must_name_another_value(write):
    message = only_error(write("b.yaml", MINIMAL.replace("description: I care how my words land.}",
                                                         "description: I care how my words land., before: nothing}")))
    assert "'before' names 'nothing'" in message


def test_a_loc_is_an_immutable_position_ordered_by_file_line_and_column():
    import copy
    import pickle

    from charter.diagnostics import Diagnostic, Loc

    here = Loc("a.yaml", 3, 7)
    assert (here.file, here.line, here.col) == ("a.yaml", 3, 7)
    assert str(here) == "a.yaml:3:7" and str(Loc("a.yaml")) == "a.yaml"
    assert repr(here) == "Loc(file='a.yaml', line=3, col=7)"
    assert Loc("a.yaml") == Loc("a.yaml", 0, 0) and Loc(file="a.yaml", col=2, line=1) == Loc("a.yaml", 1, 2)
    assert sorted([Loc("b.yaml", 1, 1), Loc("a.yaml", 10, 1), Loc("a.yaml", 2, 5), Loc("a.yaml", 2, 1)]) == [
        Loc("a.yaml", 2, 1), Loc("a.yaml", 2, 5), Loc("a.yaml", 10, 1), Loc("b.yaml", 1, 1)]
    assert len({here, Loc("a.yaml", 3, 7)}) == 1
    with pytest.raises(AttributeError):
        here.line = 4  # type: ignore[misc]
    for twin in (pickle.loads(pickle.dumps(here)), copy.deepcopy(here), copy.copy(here)):
        assert twin == here and type(twin) is Loc
    # The reader's hot loop builds Locs without calling the class; they are the same Locs.
    assert tuple.__new__(Loc, ("a.yaml", 3, 7)) == here
    assert Diagnostic(here, "x", "m", related=(Loc("b.yaml", 1, 2),)).to_dict()["related"] == [
        {"file": "b.yaml", "line": 1, "col": 2}]


@pytest.mark.parametrize("name", ["assistant", "companion", "support-agent", "tutor"])
def test_a_spec_loaded_without_its_digest_differs_in_the_digest_alone_and_lints_the_same(name):
    import msgspec

    from charter.lint import lint

    path = CHARACTERS / f"{name}.yaml"
    full, bare = charter.load(path), charter.load(path, digest=False)
    assert len(full.digest) == 64 and bare.digest == ""
    assert msgspec.structs.replace(bare, digest=full.digest) == full
    assert lint(bare) == lint(full)


_DIGEST_DOCUMENTS = [
    "a: 1\nb: text\nc: [x, y, {d: true, e: false}]\n",
    "a: 1.5\n",  # a float: json's way
    "a: 1e-05\nb: .inf\nc: .nan\nd: -0.0\ne: 1.0e+16\n",
    "a: ~\nb:\n",  # nulls
    "a: .nan\nb: ~\n",  # orjson writes NaN as null, beside a real one
    "a: [-.inf, 1]\n",
    "a: 2024-01-02\nb: 2024-01-02 10:20:30\nc: 2024-01-02T10:20:30+02:00\n",  # dates and times as text
    "a: !!binary aGVsbG8=\n",
    "a: 123456789012345678901234567890\nb: -9223372036854775809\n",  # past 64 bits: orjson refuses
    'a: "colon:1.5] and ,null and [2e5, inside text"\n',  # text that looks like a float: json's way, same bytes
    "\"k\\u00e9y\": \"\\u0000\\u001f\\t\\n\\\\ \\\" \\u2028 \\U0001F600 caf\\u00e9\"\nZ: 1\nA: [1, -2, 0]\n",
    "nested: {a: {b: {c: [[[1, 2], []], {}]}}}\n",
]


@pytest.mark.parametrize("text", _DIGEST_DOCUMENTS)
def test_the_digest_text_is_jsons_text_whichever_encoder_writes_it(text):
    from charter.spec.loader import canonical_bytes, canonical_json
    from charter.spec.yamlio import parse_text

    tree = parse_text(text, "t.yaml")
    assert canonical_bytes(tree) == canonical_json(tree).encode("utf-8")


def test_orjson_writes_the_digest_text_of_a_spec_without_floats(monkeypatch):
    from charter.spec import loader
    from charter.spec.yamlio import parse_text

    def json_must_not_be_asked(tree):
        raise AssertionError("the json path wrote a document orjson should have")

    monkeypatch.setattr(loader, "canonical_json", json_must_not_be_asked)
    assert loader.canonical_bytes(parse_text(_DIGEST_DOCUMENTS[0], "t.yaml")) == (
        b'{"a":1,"b":"text","c":["x","y",{"d":true,"e":false}]}')
    assert len(charter.load(CHARACTERS / "assistant.yaml").digest) == 64


def test_the_digest_text_is_jsons_text_on_every_shipped_spec():
    from charter.spec.loader import canonical_bytes, canonical_json
    from charter.spec.resolve import resolve
    from helpers import REPO

    paths = sorted([*CHARACTERS.glob("*.yaml"), *(REPO / "examples").glob("*.yaml")])
    assert len(paths) >= 6
    for path in paths:
        tree = resolve(path).merged
        if tree is not None:
            assert canonical_bytes(tree) == canonical_json(tree).encode("utf-8"), path
