"""Every command's --help: examples that parse, options that are described, one spelling per concept.

The checks walk the click group, so a command or option added later is held to them too.
"""

from __future__ import annotations

import shlex

import click
import pytest

from charter.cli import main
from charter.cli._common import CheckedRequired
from helpers import charter

# Options whose choices depend on what the command writes: each command's own output formats.
PER_COMMAND_CHOICES = {"--format"}


def _commands(group: click.Group = main, path: tuple[str, ...] = ()):
    """(path, command) for the group itself and every command below it, groups included."""
    yield path, group
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = list(_commands())
IDS = [" ".join(path) or "charter" for path, _ in COMMANDS]


def _options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


def _examples(command: click.Command) -> list[str]:
    """The example command lines of a command's epilog (the lines after "Examples:")."""
    epilog = command.epilog or ""
    _, found, rest = epilog.partition("Examples:\n")
    return [line.strip() for line in rest.splitlines() if line.strip()] if found else []


def parse_command_line(argv: list[str]) -> None:
    """Parses argv as `charter` would, down to the command it names, without running anything.

    A usage error (an unknown option, a bad choice, a missing required option or argument) raises
    click.UsageError.
    """
    assert argv[0] == "charter", argv
    command: click.Command = main
    ctx = click.Context(main, info_name="charter")
    name, args = "charter", argv[1:]
    while isinstance(command, click.Group):
        assert args, f"{argv} names no command"
        name, args = args[0], args[1:]
        sub = command.get_command(ctx, name)
        assert sub is not None, f"no command {name!r} in {argv}"
        if isinstance(sub, click.Group):
            ctx = click.Context(sub, info_name=name, parent=ctx)
        command = sub
    command.make_context(name, list(args), parent=ctx)


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_help_ends_with_examples_that_parse(path, command):
    examples = _examples(command)
    assert 1 <= len(examples) <= 3, f"charter {' '.join(path)}: --help needs one or two examples in its epilog"
    assert shlex.split(examples[0], comments=True)[:len(path) + 1] == ["charter", *path], \
        "the first example runs the command itself"
    result = charter(*path, "--help")
    assert result.exit_code == 0
    assert result.output.rstrip().endswith(examples[-1]), "the examples end the help, as written"
    for line in examples:
        argv = shlex.split(line, comments=True)
        try:
            parse_command_line(argv)
        except click.UsageError as err:
            pytest.fail(f"example {line!r} does not parse: {err.format_message()}")


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_every_option_is_described(path, command):
    undescribed = [opt.opts[-1] for opt in _options(command) if not (opt.help or "").strip()]
    assert not undescribed, f"charter {' '.join(path)}: options without help text: {undescribed}"


@pytest.mark.parametrize("path, command", [(p, c) for p, c in COMMANDS if not isinstance(c, click.Group)],
                         ids=[i for i, (_, c) in zip(IDS, COMMANDS) if not isinstance(c, click.Group)])
def test_required_options_are_marked(path, command):
    ctx = click.Context(command, info_name=path[-1])
    for option in _options(command):
        if option.required or isinstance(option, CheckedRequired):
            _, help_text = option.get_help_record(ctx)
            assert "required" in help_text, f"{option.opts[-1]} is required but its help does not say so"


def test_one_spelling_per_option_across_commands():
    """The same long name has the same short form and the same choices in every command."""
    seen: dict[str, tuple[str, tuple[str, ...], frozenset | None]] = {}
    short_of: dict[str, str] = {}
    problems = []
    for path, command in COMMANDS:
        where = "charter " + " ".join(path)
        for option in _options(command):
            longs = [o for o in option.opts if o.startswith("--")]
            shorts = tuple(sorted(o for o in option.opts if not o.startswith("--")))
            choices = frozenset(option.type.choices) if isinstance(option.type, click.Choice) else None
            for name in longs[:1]:
                if name in seen:
                    first_where, first_shorts, first_choices = seen[name]
                    if first_shorts != shorts:
                        problems.append(f"{name}: short form {shorts or 'none'} in {where}, "
                                        f"{first_shorts or 'none'} in {first_where}")
                    if name not in PER_COMMAND_CHOICES and first_choices != choices:
                        problems.append(f"{name}: choices differ between {where} and {first_where}")
                else:
                    seen[name] = (where, shorts, choices)
            if shorts and not longs:
                problems.append(f"{shorts[0]} in {where} has no long name")
            for short in shorts:  # and one short form means one thing
                meaning = longs[0] if longs else short
                if short_of.setdefault(short, meaning) != meaning:
                    problems.append(f"{short} is {meaning} in {where} but {short_of[short]} elsewhere")
    assert not problems, "\n".join(problems)


def test_commands_that_call_models_spell_the_model_option_alike():
    for path in (("run",), ("lint",), ("generate", "evals"), ("import", "prose"), ("export", "promptfoo")):
        command = dict(COMMANDS)[path]
        option = next(o for o in _options(command) if "--model" in o.opts)
        assert "-m" in option.opts, path


def test_timeout_has_one_default_everywhere():
    defaults = {" ".join(path): option.default for path, command in COMMANDS for option in _options(command)
                if "--timeout" in option.opts}
    assert len(defaults) >= 5 and len(set(defaults.values())) == 1, defaults
    from charter.providers import DEFAULT_TIMEOUT

    assert set(defaults.values()) == {DEFAULT_TIMEOUT}  # the CLI writes the providers' default out


def test_data_format_groups_expand_alike_in_build_and_generate_data():
    from charter.cli._common import data_formats
    from charter.targets.data import DEFAULT_FORMATS, FORMATS

    assert data_formats(()) == data_formats(("both",)) == DEFAULT_FORMATS
    assert data_formats(("all",)) == data_formats(("anthropic", "both")) == FORMATS
    assert data_formats(("trl", "openai", "trl")) == ("openai", "trl")


@pytest.mark.parametrize("flag", ["--max-prompt-tokens", "--max-tokens"])  # the new name and the old, hidden one
def test_build_prompt_budget_under_both_spellings(tmp_path, flag):
    from helpers import CHARACTERS

    result = charter("build", CHARACTERS / "tutor.yaml", flag, 500, "-o", tmp_path / "out")
    assert result.exit_code == 1 and "[prompt-too-long]" in result.stderr
    assert "--max-tokens" not in charter("build", "--help").output
