"""Item 9 of issue 13: an id or context name with a trailing newline is not an id.

jsonschema's ``pattern`` uses ``re.search``, whose ``$`` matches before a final newline; the front
end checks ids whole, in code, after the schema, so `id: "mini\\n"` never names a build directory.
"""

from __future__ import annotations

import pytest

import charter
from charter.diagnostics import SpecError
from helpers import MINIMAL

VALID = MINIMAL + """\
contexts:
  kids: {description: Children.}
traits:
  - {id: curious, description: I ask questions., when: [kids]}
tensions:
  - id: truth-vs-tact
    values: [honesty, kindness]
    situation: A hard truth.
    resolution: Say it gently.
    favors: honesty
    when: [kids]
examples:
  - id: ex1
    prompt: Is the earth flat?
    good: No.
    targets: [rule:no-lies]
    context: kids
probes:
  - id: pr1
    turns: [Is the earth flat?]
    rubric: Says no.
    targets: [value:honesty]
    context: kids
"""

# (text to replace, replacement with a trailing newline, the node's path in the message)
CASES = [
    ("id: mini", 'id: "mini\\n"', "id"),
    ("  - {id: honesty,", '  - {id: "honesty\\n",', "values[0].id"),
    ("  - id: no-lies", '  - id: "no-lies\\n"', "rules[0].id"),
    ("  - {id: curious,", '  - {id: "curious\\n",', "traits[0].id"),
    ("  - id: truth-vs-tact", '  - id: "truth-vs-tact\\n"', "tensions[0].id"),
    ("  - id: ex1", '  - id: "ex1\\n"', "examples[0].id"),
    ("  - id: pr1", '  - id: "pr1\\n"', "probes[0].id"),
    ("  kids: {description: Children.}", '  "kids\\n": {description: Children.}', "contexts"),
    ("    serves: [honesty]", '    serves: ["honesty\\n"]', "rules[0].serves[0]"),
    ("    favors: honesty", '    favors: "honesty\\n"', "tensions[0].favors"),
    ("    when: [kids]\nexamples", '    when: ["kids\\n"]\nexamples', "tensions[0].when[0]"),
    ("    context: kids\nprobes", '    context: "kids\\n"\nprobes', "examples[0].context"),
    ("    targets: [value:honesty]", '    targets: ["value:honesty\\n"]', "probes[0].targets[0]"),
]


@pytest.mark.parametrize("old,new,where", CASES, ids=[c[2] for c in CASES])
def test_a_trailing_newline_is_refused_in_every_id_like_field(write, old, new, where):
    assert VALID.count(old) == 1, old
    charter.load(write("ok.yaml", VALID))
    with pytest.raises(SpecError) as caught:
        charter.load(write("bad.yaml", VALID.replace(old, new)))
    mine = [d for d in caught.value.diagnostics if d.message.startswith(f"{where}:")]
    assert mine, str(caught.value)
    assert mine[0].code in ("bad-id", "bad-ref") and "\\n'" in mine[0].message
    assert mine[0].loc.line > 0


def test_a_newline_id_builds_nothing(write, cli, tmp_path):
    spec = write("s.yaml", MINIMAL.replace("id: mini", 'id: "mini\\n"'))
    result = cli("build", spec, "-o", "out")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("s.yaml:2:5: error: id: 'mini\\n' is not a valid id: use lowercase letters "
                                     "and digits, joined by single - _ or . [bad-id]")
    assert not (tmp_path / "out").exists()


def test_a_version_with_a_trailing_newline_is_refused(write):
    with pytest.raises(SpecError) as caught:
        charter.load(write("s.yaml", MINIMAL + 'version: "1.0.0\\n"\n'))
    assert [d.code for d in caught.value.diagnostics] == ["bad-version"]


def test_the_schema_and_the_check_report_a_newline_id_once(write):
    """Whichever engine also catches the newline, the diagnostic is worded alike and shown once."""
    from charter.spec.ids import check_ids
    from charter.spec.schema import validate_document
    from charter.spec.yamlio import read_file

    path = write("s.yaml", MINIMAL.replace("id: mini", 'id: "mini\\n"'))
    data = read_file(path, str(path))
    mine = check_ids(data)
    assert len(mine) == 1
    schema_like = [d for d in validate_document({**data, "id": "Mini"}, str(path)) if d.code == "bad-id"]
    assert schema_like
    assert mine[0].message == schema_like[0].message.replace("'Mini'", "'mini\\n'")


def test_the_checked_fields_are_read_from_the_schema():
    """A field the schema declares as an id (or a list of ids, or references) is checked without a second list."""
    from charter.spec.ids import id_fields

    top, lists = id_fields()
    assert top["id"] == "id"
    assert {"id": "id", "serves": "id", "when": "id"}.items() <= lists["rules"].items()
    assert lists["tensions"]["favors"] == "id" and lists["probes"]["targets"] == "ref"
    assert lists["examples"]["context"] == "id" and lists["values"]["before"] == "id"
