"""The registry of diagnostic codes: every code Charter reports about a spec, with its stage,
severity and meaning.

The front end (reading, schema, ids, extends, references) and the build report codes written
as kebab-case words (``undefined-ref``); the linter's rules register their ``CH`` codes here
as they are defined (``lint.registry.rule``). ``spec/SPEC.md`` lists them in two tables (4.4
and 6) whose rows are ``markdown_row`` of each entry, and ``tests/test_docs.py`` checks that
every ``Diagnostic(...)`` the code can construct names a registered code and that both tables
match the registry.
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("error", "warning", "info")
STAGES = ("reading", "schema", "ids", "extends", "references", "build", "lint")


@dataclass(frozen=True, slots=True)
class DiagnosticCode:
    """One code: the stage that reports it, its severity, and one line on what it means."""

    code: str
    stage: str
    severity: str
    meaning: str
    name: str = ""  # lint rules only: the kebab-case name beside the CH code

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.code}: unknown severity {self.severity!r}")
        if self.stage not in STAGES and ", " not in self.stage:
            raise ValueError(f"{self.code}: unknown stage {self.stage!r}")

    def markdown_row(self) -> str:
        """The row of this code in SPEC.md's table (4.4 for the front end and build, 6 for lint rules)."""
        if self.stage == "lint":
            return f"| `{self.code}` | `{self.name}` | {self.severity} | {self.meaning} |"
        return f"| `{self.code}` | {self.stage} | {self.severity} | {self.meaning} |"


CODES: dict[str, DiagnosticCode] = {}


def register(entry: DiagnosticCode) -> DiagnosticCode:
    """Add a code to the registry; a code is registered once."""
    if entry.code in CODES:
        raise ValueError(f"diagnostic code {entry.code} registered twice")
    CODES[entry.code] = entry
    return entry


for _entry in (
    DiagnosticCode("not-found", "reading", "error",
                   "The spec file given does not exist. Exit 2."),
    DiagnosticCode("not-a-file", "reading", "error",
                   "The spec path, or a file it extends, is not a regular file: a directory, a FIFO, a device "
                   "(`/dev/zero`), a socket. Refused before anything is read; exit 2."),
    DiagnosticCode("too-large", "reading", "error",
                   "The spec file, or a file it extends, is larger than the size bound (4.5). Exit 2."),
    DiagnosticCode("bad-limit", "reading", "error",
                   "`CHARTER_MAX_SPEC_BYTES` is set to something other than a whole number of bytes above 0. Exit 2."),
    DiagnosticCode("symlink-loop", "reading, extends", "error",
                   "The spec path, or an `extends` entry, runs through a loop of symbolic links. Exit 2."),
    DiagnosticCode("unreadable", "reading", "error",
                   "The file exists but cannot be read (permissions, I/O error). Exit 2."),
    DiagnosticCode("encoding", "reading", "error",
                   "The file is not valid UTF-8 (the message names the first bad byte), or is UTF-16/UTF-32."),
    DiagnosticCode("tab-indent", "reading", "error",
                   "A tab character in indentation."),
    DiagnosticCode("yaml-syntax", "reading", "error",
                   "Any other YAML syntax error; the message is the parser's."),
    DiagnosticCode("duplicate-key", "reading", "error",
                   "A mapping has the same key twice; the message gives the line of the first."),
    DiagnosticCode("yaml-tag", "reading", "error",
                   "A tag that is not one of YAML's standard types (`!foo`, `!!python/object:…`). Standard tags such"
                   " as `!!str` are read; a value they give that is not text (`!!binary`, a date) is then a `[type]`"
                   " error where text is expected."),
    DiagnosticCode("yaml-key", "reading", "error",
                   "A mapping key that is a list or a mapping; keys must be plain text."),
    DiagnosticCode("yaml-merge", "reading", "error",
                   "A `<<` merge key whose value is not a mapping or a list of mappings."),
    DiagnosticCode("alias-bomb", "reading", "error",
                   "Aliases expand the document past its size limit, or an alias refers to a node that contains it "
                   "(a recursive alias); see 4.5."),
    DiagnosticCode("too-deep", "reading", "error",
                   "Nesting deeper than 100 levels."),
    DiagnosticCode("empty-file", "reading", "error",
                   "The file holds no YAML document (empty, or only comments)."),
    DiagnosticCode("type", "reading, schema", "error",
                   'The top level is not a mapping; or a field has the wrong type ("expected text, got true/false; '
                   'put the value in quotes to make it text"), including a list or mapping where one of a fixed set '
                   "of words is expected."),
    DiagnosticCode("version", "schema", "error",
                   "`charter` is not `1`."),
    DiagnosticCode("schema", "schema", "error",
                   "A value the schema rejects for a reason no more specific code names; the message is the "
                   "schema validator's own."),
    DiagnosticCode("unknown-key", "schema", "error",
                   'A key the language does not define here; with "did you mean" for a near miss.'),
    DiagnosticCode("missing-field", "schema", "error",
                   "A required field is absent; or an example has neither `prompt` nor `conversation`."),
    DiagnosticCode("prompt-or-conversation", "schema", "error",
                   "An example gives both `prompt` and `conversation`."),
    DiagnosticCode("enum", "schema", "error",
                   'A value outside its fixed set (`strength`, drift `risks`, check `type`, turn `role`); with "did '
                   'you mean".'),
    DiagnosticCode("bad-id", "schema", "error",
                   "An id or context name that does not match the id pattern."),
    DiagnosticCode("bad-ref", "schema", "error",
                   "A `targets` entry that is not `value:`, `rule:`, `trait:` or `tension:` followed by an id."),
    DiagnosticCode("bad-version", "schema", "error",
                   "`version` is not a semantic version like `1.0.0`."),
    DiagnosticCode("blank", "schema", "error",
                   "A text field that is empty or only whitespace."),
    DiagnosticCode("too-few", "schema", "error",
                   "A list below its minimum length: `when`, `targets`, `turns`, `conversation` need one item, "
                   "tension `values` two, `source.lines` two."),
    DiagnosticCode("too-long", "schema", "error",
                   "An id longer than 80 characters."),
    DiagnosticCode("duplicate-item", "schema", "error",
                   "A list that must be unique names an item twice (`extends`, `serves`, `values`, `when`, "
                   "`targets`, `risks`)."),
    DiagnosticCode("range", "schema", "error",
                   "A number out of range (`self_talk_turns` 2–100, `source.lines` ≥ 1)."),
    DiagnosticCode("const", "schema", "error",
                   "A field with one fixed allowed value has another (version 1 has none besides `charter`, reported"
                   " as `version`)."),
    DiagnosticCode("too-many", "schema", "error",
                   "`source.lines` has more than two numbers."),
    DiagnosticCode("duplicate-id", "ids", "error",
                   "Two items of the same kind in one file share an id; the message gives the line of the first."),
    DiagnosticCode("extends-outside", "extends", "error",
                   "An absolute path, or a path outside the entry file's folder tree, without `--allow-outside`."),
    DiagnosticCode("extends-missing", "extends", "error",
                   "An `extends` entry names no file, or a directory; the message names the chain."),
    DiagnosticCode("extends-cycle", "extends", "error",
                   "The file extends itself through a chain; the message names the cycle."),
    DiagnosticCode("undefined-ref", "references", "error",
                   "`serves`, `values`, `favors`, `when`, `context`, `targets` or `before` names an id that is not "
                   "defined (or, for `before`, names the value itself)."),
    DiagnosticCode("favors-not-in-tension", "references", "error",
                   "`favors` names a defined value that is not among the tension's `values`."),
    DiagnosticCode("conversation-order", "references", "error",
                   "A conversation does not alternate or does not end with a user turn; reported at the first turn "
                   "out of place."),
    DiagnosticCode("undeclared-risk", "references", "error",
                   "A `drift.scripts` entry names a risk that is not in `drift.risks`."),
    DiagnosticCode("bad-regex", "references", "error",
                   "A `regex` or `not-regex` check, or a drift `pattern`, does not compile. Checks run on RE2, which "
                   "cannot hang; a pattern with lookaround or backreferences runs on `regex` with a time bound."),
    DiagnosticCode("unknown-context", "build", "error",
                   "A context asked for (`--context`, or a context argument in the library) is not one of the spec's"
                   " contexts; the message lists them."),
    DiagnosticCode("prompt-too-long", "build", "error",
                   "A rendered system prompt is estimated above `charter build --max-prompt-tokens N`; the message names "
                   "the largest sections."),
    DiagnosticCode("no-inoculation", "build", "error",
                   "Training data with `--inoculate` was asked for, but the spec sets no `training.inoculation`."),
    DiagnosticCode("few-sft-rows", "build", "warning",
                   "The authored examples give fewer SFT rows than OpenAI fine-tuning accepts (10)."),
    DiagnosticCode("context-left-out", "build", "warning",
                   "`--system-prompt none` leaves out the context of rows set in one, so a model trained on them "
                   "learns the behaviour everywhere."),
    DiagnosticCode("no-preference-pairs", "build", "warning",
                   "No example has a bad reply, so the build writes no preference (DPO) pairs."),
):
    register(_entry)
