"""`charter export promptfoo|inspect` and `charter diff`: the CLI face of charter.interop's exports and diff."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from ..diagnostics import SpecError
from ..interop.diff import FORMATS, diff_specs, render
from ..interop.inspect_export import DATASET, TASK, write_inspect
from ..interop.promptfoo import DEFAULT_PROVIDER, Skipped, export_promptfoo, write_promptfoo
from ..io import WriteError
from ..spec import load
from ._common import EXIT_FAILED, EXIT_OK, allow_outside_option, examples, load_spec_or_exit, print_diagnostics


def _cannot_write(target: Path, err: OSError) -> NoReturn:
    # The atomic writer's temporary name means nothing to the user: name the target.
    raise WriteError(target, err) from None


def _warn_skipped(skipped: list[Skipped]) -> None:
    for item in skipped:
        click.echo(f"warning: {item.case}: not exported: {item.reason}", err=True)


context_option = click.option(
    "--context", "contexts", multiple=True, metavar="ID",
    help="Export the context-free cases and the cases of these contexts only (repeatable; default: all).")


@click.group("export", epilog=examples(
    "charter export promptfoo characters/tutor.yaml -m openai:gpt-4.1-mini -o promptfooconfig.yaml",
    "charter export inspect characters/tutor.yaml -o inspect-tutor",
))
def export_group() -> None:
    """Export a spec's eval cases to other eval tools (promptfoo, Inspect)."""


@export_group.command("promptfoo", epilog=examples(
    "charter export promptfoo characters/tutor.yaml -m openai:gpt-4.1-mini -m anthropic:claude-sonnet-4-5",
    "charter export promptfoo characters/tutor.yaml -m openai-compatible:llama3 --base-url http://localhost:11434/v1",
))
@click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
              default=Path("promptfooconfig.yaml"), show_default=True, help="Config file to write; - for stdout.")
@context_option
@click.option("-m", "--model", "--provider", "providers", multiple=True, metavar="MODEL",
              help=f"A model to test, as a Charter model id (openai:gpt-4.1-mini, anthropic:claude-sonnet-4-5) "
                   f"or any promptfoo provider id (repeatable; default: {DEFAULT_PROVIDER}).")
@click.option("--judge", metavar="MODEL", help="The model that grades the llm-rubric assertions "
              "(default: promptfoo's own grader).")
@click.option("--base-url", metavar="URL", help="Server of openai-compatible:NAME models (vLLM, Ollama, ...).")
@allow_outside_option
def promptfoo_command(spec_path: Path, output: Path, contexts: tuple[str, ...], providers: tuple[str, ...],
                      judge: str | None, base_url: str | None, allow_outside: bool) -> None:
    """Write SPEC's eval cases as a promptfoo config that `promptfoo validate` accepts.

    One chat prompt per context with the compiled system prompt, one test per model reply (multi-turn
    cases share a conversationId), llm-rubric assertions from the rubrics and the deterministic
    checks, and a providers block with the models given (`promptfoo eval -r` still overrides it).

    Exits 0 when written, 1 when SPEC is invalid or names an unknown context, 2 when SPEC cannot
    be read, a model id is malformed or OUTPUT cannot be written.
    """
    spec = load_spec_or_exit(spec_path, allow_outside)
    options = {"providers": providers, "judge": judge, "base_url": base_url}
    try:
        if str(output) == "-":
            export = export_promptfoo(spec, contexts or None, **options)
            click.echo(export.text, nl=False)
        else:
            export = write_promptfoo(spec, output, contexts or None, **options)
    except SpecError as err:
        print_diagnostics(err)
        sys.exit(EXIT_FAILED)
    except OSError as err:
        _cannot_write(output, err)
    _warn_skipped(export.skipped)
    if str(output) != "-":
        click.echo(f"wrote {output}: {export.cases} eval cases as {export.tests} promptfoo tests, "
                   f"{export.prompts} prompt{'s' if export.prompts != 1 else ''}")


@export_group.command("inspect", epilog=examples(
    "charter export inspect characters/tutor.yaml -o inspect-tutor",
    "charter export inspect characters/tutor.yaml -o inspect-tutor --context session",
))
@click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help=f"Directory to write {DATASET} and {TASK} into (created if needed).")
@context_option
@allow_outside_option
def inspect_command(spec_path: Path, out_dir: Path, contexts: tuple[str, ...], allow_outside: bool) -> None:
    """Write SPEC's eval cases as an Inspect dataset and task.

    dataset.jsonl has chat-message input with the
    compiled system prompt, the rubric as target, the case id and metadata; task.py plays multi-turn
    scripts, grades with model_graded_qa and runs the checks on every reply.
    Run it with `inspect eval DIR/task.py --model PROVIDER/MODEL`.

    Exits 0 when written, 1 when SPEC is invalid or names an unknown context, 2 when SPEC cannot
    be read or the directory cannot be written.
    """
    spec = load_spec_or_exit(spec_path, allow_outside)
    try:
        export = write_inspect(spec, out_dir, contexts or None)
    except SpecError as err:
        print_diagnostics(err)
        sys.exit(EXIT_FAILED)
    except OSError as err:
        _cannot_write(out_dir, err)
    _warn_skipped(export.skipped)
    click.echo(f"wrote {out_dir / DATASET} ({export.samples} samples) and {out_dir / TASK}")


@click.command("diff", epilog=examples(
    "charter diff old/tutor.yaml characters/tutor.yaml",
    "charter diff old/tutor.yaml characters/tutor.yaml --format md --fail-on-hard-change   # in CI",
))
@click.argument("old_path", metavar="OLD", type=click.Path(path_type=Path))
@click.argument("new_path", metavar="NEW", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text for a terminal, json for tools, md for a pull-request comment.")
@click.option("--fail-on-hard-change", is_flag=True,
              help="Exit 1 when a hard rule or the value order changed.")
@allow_outside_option
def diff(old_path: Path, new_path: Path, fmt: str, fail_on_hard_change: bool, allow_outside: bool) -> None:
    """Show what changed between two versions of a spec, and the evals it touches.

    Clauses added, removed and changed (text, strength, rank, resolution, favored value, contexts,
    ...), probes and examples, and the eval cases and training rows each change involves.

    Exits 0 (whatever the differences, unless --fail-on-hard-change finds a hard change: 1). An
    invalid spec prints its diagnostics and exits 1; an unreadable one exits 2.
    """
    loaded, status = [], EXIT_OK
    for path in (old_path, new_path):
        try:
            loaded.append(load(path, allow_outside=allow_outside))
        except SpecError as err:
            print_diagnostics(err)
            status = max(status, err.exit_code)
    if status:
        sys.exit(status)
    old, new = loaded
    result = diff_specs(old, new)
    click.echo(render(result, fmt), nl=False)
    if fail_on_hard_change and result.hard_change:
        sys.exit(EXIT_FAILED)


__all__ = ["export_group", "diff"]
