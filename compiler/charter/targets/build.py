"""`charter build`: every offline target of one spec, written to a directory with a manifest.

Artifacts are rendered in memory first, then written atomically one by one; files a previous
build listed in its manifest and this build no longer produces are removed, so the directory
always matches its manifest. The same spec gives byte-identical files: nothing depends on the
clock, the machine or the working directory.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from .._gc import paused_gc
from ..diagnostics import SpecError, Diagnostic
from ..io import write_bytes_atomic
from ..spec.ir import Spec
from ..length_ratio import ratio_summary
from . import data as data_target
from .card import CARD_FILE, CardInfo, render_card, spec_license
from . import evals as evals_target
from .monitor import render_monitor, verdict_schema
from .prompt import check_budget, render_prompt, to_anthropic, to_generic, to_openai

MANIFEST = "manifest.json"
CONTEXT_FREE = "_default"  # ids cannot start with "_", so this never collides with a context
PROMPT_FLAVOURS = ("generic", "openai", "anthropic")


@dataclass(frozen=True)
class BuildOptions:
    contexts: tuple[str, ...] | None = None  # None: the context-free prompt and every context
    flavours: tuple[str, ...] = PROMPT_FLAVOURS
    openai_role: str = "system"
    data_formats: tuple[str, ...] = ("openai", "trl")
    inoculate: bool = False
    system_prompt: str = data_target.DEFAULT_SYSTEM_PROMPT  # none | context | full: what a training row's system message holds
    max_tokens: int | None = None


@dataclass(frozen=True)
class Artifact:
    path: str  # relative to the build directory, with forward slashes
    kind: str
    content: bytes = field(repr=False)
    context: str | None = None
    tokens: int | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class BuildResult:
    spec: Spec
    out_dir: Path
    artifacts: tuple[Artifact, ...]
    manifest: dict
    warnings: tuple[str, ...]


def dump_json(data: object) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def _contexts(spec: Spec, wanted: tuple[str, ...] | None) -> list[str | None]:
    known = [c.id for c in spec.contexts]
    if wanted is None:
        return [None, *known]
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise SpecError([Diagnostic(spec.loc, "unknown-context",
                                       f"{spec.id} has no context {unknown[0]!r} (contexts: {', '.join(known) or 'none'})")])
    return [None, *[c for c in known if c in wanted]]


@dataclass
class Rendered:
    """Everything a build produces, in memory: the artifacts and the objects they came from."""

    artifacts: list[Artifact] = field(default_factory=list)
    prompts: dict[str, object] = field(default_factory=dict)  # context name -> SystemPrompt
    cases: list[dict] = field(default_factory=list)
    training: object = None
    warnings: list[str] = field(default_factory=list)


def render(spec: Spec, options: BuildOptions = BuildOptions()) -> Rendered:
    """Every artifact of ``spec`` as bytes in memory, and the warnings to show; writes nothing."""
    out = Rendered()
    budget_errors: list[Diagnostic] = []
    for context in _contexts(spec, options.contexts):
        name = context or CONTEXT_FREE
        prompt = out.prompts[name] = render_prompt(spec, context)
        tokens = prompt.tokens()
        if options.max_tokens is not None:
            try:
                check_budget(prompt, options.max_tokens)
            except SpecError as err:
                budget_errors.extend(err.diagnostics)
        if "generic" in options.flavours:
            out.artifacts.append(Artifact(f"prompts/{name}.md", "prompt", to_generic(prompt).encode("utf-8"), context, tokens))
        if "openai" in options.flavours:
            out.artifacts.append(Artifact(f"prompts/{name}.openai.json", "prompt-openai",
                                          dump_json(to_openai(prompt, role=options.openai_role)), context, tokens))
        if "anthropic" in options.flavours:
            out.artifacts.append(Artifact(f"prompts/{name}.anthropic.json", "prompt-anthropic",
                                          dump_json(to_anthropic(prompt)), context, tokens))
        monitor = render_monitor(spec, context)
        out.artifacts.append(Artifact(f"monitor/{name}.md", "monitor", monitor.system.encode("utf-8"), context))
        out.artifacts.append(Artifact(f"monitor/{name}.json", "monitor-json", dump_json({
            "spec": spec.id, "context": context, "system": monitor.system, "clauses": list(monitor.clause_refs),
            "verdict_schema": verdict_schema(monitor),
        }), context))
    if budget_errors:
        raise SpecError(budget_errors)

    out.cases = evals_target.compile_cases(spec)
    out.artifacts.append(Artifact("evals.jsonl", "evals", evals_target.cases_to_jsonl(out.cases).encode("utf-8")))

    out.training = data_target.training_rows(spec, system_prompt=options.system_prompt)
    variants = [out.training]
    if options.inoculate and spec.training.inoculation:
        variants.append(data_target.training_rows(spec, system_prompt=options.system_prompt, inoculate=True))
    elif options.inoculate:
        out.warnings.append("--inoculate: the spec sets no training.inoculation prompt; no inoculated variant written")
    rows_per_file: dict[str, int] = {}
    for training in variants:
        for rel, content in sorted(data_target.render_training_data(training, options.data_formats).items()):
            kind = "training-meta" if rel.endswith(".meta.jsonl") else "training-data"
            out.artifacts.append(Artifact(f"data/{rel}", kind, content))
            rows_per_file[rel] = content.count(b"\n")
    if rows_per_file:
        card = render_card(CardInfo(spec.id, spec.name, spec.version, spec.digest, spec_license(dict(spec.metadata)),
                                    system_prompt=options.system_prompt,
                                    length_ratio=ratio_summary(out.training.length_ratios())), rows_per_file)
        out.artifacts.append(Artifact(f"data/{CARD_FILE}", "dataset-card", card.encode("utf-8")))
    out.warnings.extend(d.message for d in out.training.diagnostics)
    return out


def training_summary(training: data_target.TrainingSet) -> dict:
    """What the manifest says about the training rows: the system-prompt mode, how many rows are
    set in a context and how many of those lost it, and the preference pairs' length ratios."""
    rows = (*training.sft, *training.dpo)
    bound = [r for r in rows if r.context is not None]
    return {
        "system_prompt": training.system_kind,
        "rows_in_a_context": len(bound),
        "rows_in_a_context_without_it": sum("context" not in r.system_kind and "full" not in r.system_kind
                                            for r in bound),
        "length_ratio": ratio_summary(training.length_ratios()),
    }


def manifest(spec: Spec, rendered: Rendered, options: BuildOptions) -> dict:
    """manifest.json: what was built from which spec, counts, hashes, and clause coverage."""
    table: dict[str, dict] = {c.ref: {"prompt_sections": [], "eval_cases": [], "training_rows": []} for c in spec.clauses()}

    def cite(refs, key: str, item: str) -> None:
        for ref in refs:
            if ref in table:
                table[ref][key].append(item)

    for name, prompt in rendered.prompts.items():
        for section in prompt.sections:
            cite(section.refs, "prompt_sections", f"{name}#{section.key}")
    for case in rendered.cases:
        cite(case["refs"], "eval_cases", case["id"])
    for row in (*rendered.training.sft, *rendered.training.dpo):
        cite(row.refs, "training_rows", row.id)
    for entry in table.values():
        for key in entry:
            entry[key] = sorted(set(entry[key]))
    kinds: dict[str, int] = {}
    for case in rendered.cases:
        kinds[case["kind"]] = kinds.get(case["kind"], 0) + 1
    entry_dir = os.path.dirname(spec.files[0]) if spec.files else ""
    artifacts = rendered.artifacts
    return {
        "manifest_version": 1,
        "tool": {"name": "charter", "version": __version__},
        "spec": {
            "id": spec.id, "name": spec.name, "version": spec.version, "digest": spec.digest,
            "files": [Path(os.path.relpath(f, entry_dir or ".")).as_posix() for f in spec.files],
            "metadata": dict(spec.metadata),
        },
        "options": {
            "contexts": list(rendered.prompts), "flavours": list(options.flavours),
            "openai_role": options.openai_role, "data_formats": list(options.data_formats),
            "inoculate": options.inoculate, "system_prompt": options.system_prompt,
        },
        "counts": {
            "prompts": len(rendered.prompts),
            "monitors": sum(a.kind == "monitor" for a in artifacts),
            "eval_cases": len(rendered.cases),
            "eval_cases_by_kind": dict(sorted(kinds.items())),
            "sft_rows": len(rendered.training.sft),
            "dpo_rows": len(rendered.training.dpo),
        },
        "training": training_summary(rendered.training),
        "artifacts": [
            {"path": a.path, "kind": a.kind, "sha256": a.sha256, "bytes": len(a.content),
             **({"context": a.context or CONTEXT_FREE} if a.kind.startswith(("prompt", "monitor")) else {}),
             **({"tokens_estimate": a.tokens} if a.tokens is not None else {})}
            for a in artifacts
        ],
        "coverage": table,
        "uncovered": sorted(ref for ref, entry in table.items() if not entry["eval_cases"] and not entry["training_rows"]),
        "warnings": sorted(rendered.warnings),
    }


def build(spec: Spec, out_dir: str | Path, options: BuildOptions = BuildOptions()) -> BuildResult:
    """Render every target of ``spec`` and write it under ``out_dir`` with manifest.json."""
    out = Path(out_dir)
    with paused_gc():
        rendered = render(spec, options)
        data = manifest(spec, rendered, options)
    warnings = list(rendered.warnings)
    if data["uncovered"]:
        warnings.append(f"{len(data['uncovered'])} clause(s) covered by no eval case and no training row: "
                        f"{', '.join(data['uncovered'])}")
    previous = _previous_paths(out)
    for artifact in rendered.artifacts:
        write_bytes_atomic(out / artifact.path, artifact.content)
    write_bytes_atomic(out / MANIFEST, dump_json(data))
    for stale in sorted(previous - {a.path for a in rendered.artifacts}):
        _remove_stale(out, stale)
    return BuildResult(spec, out, tuple(rendered.artifacts), data, tuple(warnings))


def _previous_paths(out: Path) -> set[str]:
    try:
        old = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        return {a["path"] for a in old.get("artifacts", []) if isinstance(a, dict) and isinstance(a.get("path"), str)}
    except (OSError, ValueError, AttributeError):
        return set()


def _remove_stale(out: Path, rel: str) -> None:
    target = (out / rel).resolve()
    if not target.is_relative_to(out.resolve()):  # never follow a tampered manifest out of the build dir
        return
    try:
        target.unlink()
    except FileNotFoundError:
        pass
