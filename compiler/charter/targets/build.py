"""`charter build`: every offline target of one spec, written to a directory with a manifest.

Everything that can refuse a build (an unknown context, a prompt over its token budget) is checked
before the first write; then artifacts are rendered and written atomically one at a time (only
their paths, hashes and sizes are kept, for the manifest, which is written last); files a previous
build listed in its manifest and this build no longer produces are removed (only while they hold
exactly what that build wrote), so the directory matches its manifest. A non-empty directory no
Charter build wrote is refused unless forced: a build never silently overwrites someone's files. The same spec gives byte-identical files: nothing depends on the
clock, the machine or the working directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from collections import deque
from pathlib import Path
from itertools import chain, repeat
from operator import attrgetter, itemgetter
from typing import Iterable, Iterator, Sequence

import charter
from msgspec import Struct, field

from .._fork import Beside, can_fork, out_of_band
from .._gc import paused_gc
from ..diagnostics import CharterError, SpecError, Diagnostic
from ..jsonenc import pretty_bytes
from ..io import LOCK_FILE, InputRefused, output_dir_lock, read_input_bytes, write_bytes_atomic
from ..spec.ir import Spec
from ..length_ratio import ratio_summary
from ..tokens import estimate_tokens_many
from . import data as data_target
from .card import CARD_FILE, CardInfo, render_card, spec_license
from . import evals as evals_target
from .coverage import clause_coverage, uncovered
from .split import eval_examples, repeated_prompts, training_examples
from .monitor import render_monitor, verdict_schema
from .prompt import check_budget, render_prompt, to_anthropic, to_generic, to_openai

MANIFEST = "manifest.json"
CONTEXT_FREE = "_default"  # ids cannot start with "_", so this never collides with a context
PROMPT_FLAVOURS = ("generic", "openai", "anthropic")
WARNING_IDS = 10  # ids a build warning names; the manifest keeps the full list
MAX_MANIFEST_BYTES = 500_000_000  # far above any real manifest (about 1 kB per clause and artifact)


class BuildOptions(Struct, frozen=True):
    contexts: tuple[str, ...] | None = None  # None: the context-free prompt and every context
    flavours: tuple[str, ...] = PROMPT_FLAVOURS
    openai_role: str = "system"
    data_formats: tuple[str, ...] = ("openai", "trl")
    inoculate: bool = False
    system_prompt: str = data_target.DEFAULT_SYSTEM_PROMPT  # none | context | full: what a training row's system message holds
    max_tokens: int | None = None


class Artifact(Struct, frozen=True):
    path: str  # relative to the build directory, with forward slashes
    kind: str
    content: bytes  # a read-only memoryview when it comes from a worker process
    context: str | None = None
    tokens: int | None = None

    def __repr__(self) -> str:  # without the content: megabytes in an error message help no one
        return f"Artifact(path={self.path!r}, kind={self.kind!r}, size={self.size}, context={self.context!r})"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def size(self) -> int:
        return len(self.content)

    def written(self) -> "WrittenArtifact":
        """What the manifest says about this artifact, without its content."""
        return WrittenArtifact(self.path, self.kind, self.sha256, self.size, self.context, self.tokens)


class WrittenArtifact(Struct, frozen=True):
    """An artifact `build` wrote: what the manifest lists about it (its bytes are in the file)."""

    path: str
    kind: str
    sha256: str
    size: int
    context: str | None = None
    tokens: int | None = None


class BuildResult(Struct, frozen=True):
    spec: Spec
    out_dir: Path
    artifacts: tuple[WrittenArtifact, ...]
    manifest: dict
    warnings: tuple[str, ...]


def dump_json(data: object) -> bytes:
    return pretty_bytes(data)


def _contexts(spec: Spec, wanted: tuple[str, ...] | None) -> list[str | None]:
    known = [c.id for c in spec.contexts]
    if wanted is None:
        return [None, *known]
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise SpecError([Diagnostic(spec.loc, "unknown-context",
                                       f"{spec.id} has no context {unknown[0]!r} (contexts: {', '.join(known) or 'none'})")])
    return [None, *[c for c in known if c in wanted]]


class Rendered(Struct):
    """Everything a build produces, in memory: the artifacts and the objects they came from."""

    artifacts: list[Artifact] = field(default_factory=list)
    prompts: dict[str, object] = field(default_factory=dict)  # context name -> SystemPrompt
    cases: list[dict] = field(default_factory=list)
    training: object = None  # the TrainingSet (render() only: build() keeps only training_facts)
    warnings: list[str] = field(default_factory=list)
    prompt_tokens: dict[str, int] = field(default_factory=dict)  # context name -> the prompt's token estimate
    training_facts: "TrainingFacts | None" = None


class TrainingFacts(Struct, frozen=True):
    """What the manifest and the warnings say about a build's training rows, without the rows: the
    training half of a build may be computed in a worker process (see build), which sends back this
    and the training artifacts, pickled."""

    sft_rows: int
    dpo_rows: int
    rows_by_ref: dict[str, list[str]]  # clause ref -> ids of the rows citing it, in row order
    summary: dict  # training_summary
    user_turns: list[tuple[str, str]]  # (SFT row id, one of its user turns): for the train/eval overlap
    warnings: tuple[str, ...]


def render(spec: Spec, options: BuildOptions = BuildOptions()) -> Rendered:
    """Every artifact of ``spec`` as bytes in memory, and the warnings to show; writes nothing."""
    out = _prepare(spec, options)
    out.training, out.training_facts, training_side = _prepare_training(spec, options)
    out.warnings.extend(out.training_facts.warnings)
    out.artifacts.extend(_artifacts(_prompt_artifacts(spec, options, out), training_side))
    return out


def _prepare(spec: Spec, options: BuildOptions) -> Rendered:
    """The prompt half of a build: the prompts and eval cases its artifacts are rendered from, with
    every check of this half that can refuse the build (an unknown context, a prompt over budget)."""
    out = Rendered()
    shared: dict = {}  # what every context's prompt renders the same way, rendered once
    for context in _contexts(spec, options.contexts):
        out.prompts[context or CONTEXT_FREE] = render_prompt(spec, context, memo=shared)
    del shared
    # The prompts share most of their lines: estimated together, each shared line is read once.
    out.prompt_tokens = dict(zip(out.prompts, estimate_tokens_many(p.text() for p in out.prompts.values())))
    budget_errors: list[Diagnostic] = []
    if options.max_tokens is not None:
        for name, prompt in out.prompts.items():
            try:
                check_budget(prompt, options.max_tokens, out.prompt_tokens[name])
            except SpecError as err:
                budget_errors.extend(err.diagnostics)
    if budget_errors:
        raise SpecError(budget_errors)
    out.cases = evals_target.compile_cases(spec)
    return out


def _prepare_training(spec: Spec, options: BuildOptions) -> tuple[data_target.TrainingSet, TrainingFacts,
                                                                   Iterator[Artifact]]:
    """The training half of a build: the training rows, what the manifest says about them, and their
    artifacts (rendered as iterated), with every check of this half that can refuse the build (an
    unknown data format) made before returning."""
    training = data_target.training_rows(spec, system_prompt=options.system_prompt)
    variants = [training]
    warnings: list[str] = []
    if options.inoculate and spec.training.inoculation:
        variants.append(data_target.training_rows(spec, system_prompt=options.system_prompt, inoculate=True))
    elif options.inoculate:
        warnings.append("--inoculate: the spec sets no training.inoculation prompt; no inoculated variant written")
    warnings.extend(d.message for d in training.diagnostics)
    data_files = [data_target.iter_training_data(variant, options.data_formats) for variant in variants]
    rows_by_ref: dict[str, list[str]] = {c.ref: [] for c in spec.clauses()}
    rows = (*training.sft, *training.dpo)
    _cite(rows_by_ref, map(attrgetter("id"), rows), map(attrgetter("refs"), rows))
    user_turns = [(row.id, turn.content) for row in training.sft for turn in row.prompt if turn.role == "user"]
    facts = TrainingFacts(len(training.sft), len(training.dpo), rows_by_ref, training_summary(training), user_turns,
                          tuple(warnings))
    return training, facts, _training_artifacts(spec, options, training, data_files)


def _training_half(spec: Spec, options: BuildOptions) -> tuple[TrainingFacts, list[Artifact]]:
    """What a build's worker process sends back: the training facts and every training artifact,
    its content marked to travel out of band (see charter._fork.Forked), so the parent writes it
    from the worker's result as it lies in memory: a memoryview, not bytes."""
    _, facts, artifacts = _prepare_training(spec, options)
    return facts, [Artifact(a.path, a.kind, out_of_band(a.content), a.context, a.tokens) for a in artifacts]


def _artifacts(prompt_side: Iterable[Artifact], training_side: Iterable[Artifact]) -> Iterator[Artifact]:
    """Every artifact, in manifest order: the prompt half's, then the training half's."""
    yield from prompt_side
    yield from training_side


def _prompt_artifacts(spec: Spec, options: BuildOptions, prepared: Rendered) -> Iterator[Artifact]:
    """The prompt half's artifacts rendered from ``prepared``, one at a time, in manifest order."""
    shared: dict = {}  # what every context's monitor renders the same way, rendered once
    for name, prompt in prepared.prompts.items():
        context = prompt.context
        tokens = prepared.prompt_tokens[name]
        if "generic" in options.flavours:
            yield Artifact(f"prompts/{name}.md", "prompt", to_generic(prompt).encode("utf-8"), context, tokens)
        if "openai" in options.flavours:
            yield Artifact(f"prompts/{name}.openai.json", "prompt-openai",
                           dump_json(to_openai(prompt, role=options.openai_role)), context, tokens)
        if "anthropic" in options.flavours:
            yield Artifact(f"prompts/{name}.anthropic.json", "prompt-anthropic",
                           dump_json(to_anthropic(prompt)), context, tokens)
        monitor = render_monitor(spec, context, memo=shared)
        yield Artifact(f"monitor/{name}.md", "monitor", monitor.system.encode("utf-8"), context)
        yield Artifact(f"monitor/{name}.json", "monitor-json", dump_json({
            "spec": spec.id, "context": context, "system": monitor.system, "clauses": list(monitor.clause_refs),
            "verdict_schema": verdict_schema(monitor),
        }), context)
        del monitor
    del shared
    yield Artifact("evals.jsonl", "evals", evals_target.cases_to_jsonl(prepared.cases).encode("utf-8"))


def _training_artifacts(spec: Spec, options: BuildOptions, training: data_target.TrainingSet,
                        data_files: list[Iterator[tuple[str, bytes]]]) -> Iterator[Artifact]:
    """The training half's artifacts, one at a time, in manifest order: the data files and their card."""
    rows_per_file: dict[str, int] = {}
    for files in data_files:
        for rel, content in files:
            kind = "training-meta" if rel.endswith(".meta.jsonl") else "training-data"
            rows_per_file[rel] = content.count(b"\n")
            yield Artifact(f"data/{rel}", kind, content)
            del content
    if rows_per_file:
        card = render_card(CardInfo(spec.id, spec.name, spec.version, spec.digest, spec_license(dict(spec.metadata)),
                                    system_prompt=options.system_prompt,
                                    length_ratio=ratio_summary(training.length_ratios())), rows_per_file)
        yield Artifact(f"data/{CARD_FILE}", "dataset-card", card.encode("utf-8"))


def _cite(table: dict[str, list[str]], items: Iterable[str], refs_per_item: Iterable[Sequence[str]]) -> None:
    """Append each item to ``table[ref]`` for every ref it cites (refs not in ``table`` are passed
    over), in C: a large spec's training rows cite 150,000 refs, and a Python loop over them was a
    third of its manifest."""
    refs_per_item = list(refs_per_item)
    refs = chain.from_iterable(refs_per_item)
    each_item_per_ref = chain.from_iterable(map(repeat, items, map(len, refs_per_item)))
    deque(map(list.append, map(table.get, refs, repeat([])), each_item_per_ref), maxlen=0)


def train_eval_overlap(cases: list[dict], train_items: list[tuple[str, str]]) -> dict:
    """Eval cases whose user turns repeat a training row's user turn (``train_items``: (row id, user
    turn) pairs), exactly or nearly."""
    eval_items = [((case["id"], n), turn["content"]) for case in cases
                  for n, turn in enumerate(case["turns"]) if turn["role"] == "user"]
    found = repeated_prompts(eval_items, train_items)
    exact = [{"case": c, "turn": n, "training_row": row} for (c, n), row, sim in found if sim == 1.0]
    near = [{"case": c, "turn": n, "training_row": row, "similarity": round(sim, 2)}
            for (c, n), row, sim in found if sim < 1.0]
    return {
        "method": "exact: same words after case folding; near: Jaccard similarity of word bigrams >= 0.7 (exact)",
        "eval_cases": len(cases),
        "cases_with_exact_repeat": len({e["case"] for e in exact}),
        "cases_with_near_repeat": len({e["case"] for e in near} - {e["case"] for e in exact}),
        "exact": exact,
        "near": near,
    }


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
    """manifest.json: what was built from which spec, counts, hashes, clause coverage and train/eval overlap."""
    return _with_artifacts(_manifest_body(spec, rendered, options), rendered.artifacts)


def _with_artifacts(body: dict, artifacts: Sequence[Artifact | WrittenArtifact]) -> dict:
    """The manifest: ``body`` (see _manifest_body) with what it says about the artifacts written."""
    body["counts"]["monitors"] = sum(a.kind == "monitor" for a in artifacts)
    body["artifacts"] = [
        {"path": a.path, "kind": a.kind, "sha256": a.sha256, "bytes": a.size,
         **({"context": a.context or CONTEXT_FREE} if a.kind.startswith(("prompt", "monitor")) else {}),
         **({"tokens_estimate": a.tokens} if a.tokens is not None else {})}
        for a in artifacts
    ]
    return body


def _manifest_body(spec: Spec, rendered: Rendered, options: BuildOptions) -> dict:
    """The manifest but for its artifacts' figures: a build computes it while the last artifacts
    are still being written."""
    facts = rendered.training_facts
    sections: dict[str, list[str]] = {c.ref: [] for c in spec.clauses()}  # clause ref -> "prompt#section" items
    cited_sections = [(f"{name}#{section.key}", section.refs)
                      for name, prompt in rendered.prompts.items() for section in prompt.sections]
    _cite(sections, map(itemgetter(0), cited_sections), map(itemgetter(1), cited_sections))
    rows = facts.rows_by_ref  # clause ref -> training row ids, the same refs in the same order
    coverage = clause_coverage(spec, rendered.cases)  # each clause's sorted ids of distinct cases
    table = {ref: {"prompt_sections": sorted(set(items)), "eval_cases": coverage[ref], "training_rows": sorted(set(ids))}
             for (ref, items), ids in zip(sections.items(), rows.values())}
    kinds: dict[str, int] = {}
    for case in rendered.cases:
        kinds[case["kind"]] = kinds.get(case["kind"], 0) + 1
    entry_dir = os.path.dirname(spec.files[0]) if spec.files else ""
    return {
        "manifest_version": 1,
        "tool": {"name": "charter", "version": charter.__version__},
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
            "eval_cases": len(rendered.cases),
            "eval_cases_by_kind": dict(sorted(kinds.items())),
            "examples_train": sum(1 for _ in training_examples(spec)),
            "examples_eval": sum(1 for _ in eval_examples(spec)),
            "sft_rows": facts.sft_rows,
            "dpo_rows": facts.dpo_rows,
        },
        "training": facts.summary,
        "coverage": table,
        "uncovered": sorted(uncovered(coverage)),
        "overlap": train_eval_overlap(rendered.cases, facts.user_turns),
        "warnings": sorted(rendered.warnings),
    }


class OutputDirError(CharterError):
    """The build directory is not safe to write into: not a directory, a non-empty directory that
    no Charter build wrote (without ``force``), or one whose paths lead outside it through symlinks."""

    exit_code = 2


def build(spec: Spec, out_dir: str | Path, options: BuildOptions = BuildOptions(), *,
          force: bool = False, parallel: bool | None = None) -> BuildResult:
    """Render every target of ``spec`` and write it under ``out_dir`` with manifest.json.

    ``out_dir`` must be new, empty, or a directory an earlier Charter build wrote (it holds a Charter
    manifest.json); any other non-empty directory is refused with OutputDirError unless ``force``,
    so a build never silently overwrites someone's files. Files an earlier build listed and this one
    no longer produces are removed only while they still hold exactly what Charter wrote.

    ``parallel`` computes the training half of the build in a forked worker process, on a second
    core, while this one renders the prompts, monitors and eval cases; the files are the same
    either way. None (the default) forks where it is safe and pays: see `worth_forking`.
    """
    out = Path(out_dir)
    if parallel is None:
        parallel = worth_forking(spec)
    # Everything that can refuse the build, in both halves, is checked before the first write.
    # A worker sends the training half rendered; this process, when it does the half itself (no
    # worker, or one that died), renders the training files one at a time as they are written.
    with paused_gc(), Beside(lambda: _training_half(spec, options), fork=parallel,
                             here=lambda: _prepare_training(spec, options)[1:]) as training_half:
        rendered = _prepare(spec, options)
        prompt_side: Iterable[Artifact] = _prompt_artifacts(spec, options, rendered)
        if parallel:
            prompt_side = list(prompt_side)  # rendered now, beside the worker, not after it
        rendered.training_facts, training_side = training_half.result()
        rendered.warnings.extend(rendered.training_facts.warnings)
        with output_dir_lock(out):  # a second build into the same directory is refused, not interleaved
            previous = _previous_artifacts(out, force)
            checked: set[Path] = set()
            # One artifact rendered, written and let go at a time: a large spec's artifacts all in
            # memory at once were most of the build's peak memory. Each file is written atomically
            # and the manifest last, so a build killed half-way leaves no half-written file and the
            # old manifest still describes what it listed. Artifacts are rebuilt from the spec, so
            # they are not fsync'd one by one (36 fsyncs were 0.13 s of a 2,000-rule build); the
            # manifest, the record of what was built, is. A second thread hashes and writes each
            # artifact while this one renders the next (see _ArtifactWriter), unless every artifact
            # is rendered already (see _DirectWriter).
            with (_DirectWriter(out) if parallel else _ArtifactWriter(out)) as writer:
                for artifact in _artifacts(prompt_side, training_side):
                    _check_no_symlinked_folder(out, artifact.path, checked)
                    writer.submit(artifact)
                    del artifact
                del prompt_side, training_side
                body = _manifest_body(spec, rendered, options)  # while a writer thread writes the last ones
                written = writer.finish()
            data = _with_artifacts(body, written)
            write_bytes_atomic(out / MANIFEST, dump_json(data))
            warnings = _build_warnings(rendered, data)
            for stale in sorted(set(previous) - {a.path for a in written}):
                kept = _remove_stale(out, stale, previous[stale])
                if kept:
                    warnings.append(f"kept {stale}: {kept}")
    return BuildResult(spec, out, tuple(written), data, tuple(warnings))


# A spec of this many clauses and examples is built in two processes when it can be (see
# worth_forking). Up to the upper bound: the worker writes to much of the memory it shares with the
# parent (reference counts), which the kernel then copies, and the parent holds every artifact at
# once. Measured at 19,820 items (9,000 rules and 9,000 examples): 1.3 s instead of 2.0 s, for 179 MB
# in the parent and 73 MB of the worker's own, instead of 124 MB in one process. Larger specs are
# built in one process: a 10 MB spec must build in 300 MB. From the lower bound: a smaller spec's
# training half takes a few milliseconds, about what starting a worker costs.
PARALLEL_BUILD_MIN_ITEMS = 500
PARALLEL_BUILD_MAX_ITEMS = 20_000


def worth_forking(spec: Spec) -> bool:
    """Whether `build` computes the training half of ``spec`` in a worker process: where a fork is
    safe (`charter._fork.can_fork`), for specs of PARALLEL_BUILD_MIN_ITEMS to PARALLEL_BUILD_MAX_ITEMS
    clauses and examples."""
    items = sum(1 for _ in spec.clauses()) + sum(1 for _ in spec.all_examples())
    return PARALLEL_BUILD_MIN_ITEMS <= items <= PARALLEL_BUILD_MAX_ITEMS and can_fork()


def _write_artifact(out: Path, artifact: Artifact) -> WrittenArtifact:
    """Write ``artifact`` under ``out`` atomically, not fsync'd (see build); what the manifest lists of it."""
    written = artifact.written()
    write_bytes_atomic(out / artifact.path, artifact.content, durable=False)
    return written


class _ArtifactWriter:
    """Hashes and writes artifacts atomically, in the order submitted, on a second thread.

    sha256 and file writes release the GIL on large buffers, so they run on the machine's second
    core while the main thread renders the next artifact: hashing and writing were about a sixth
    of a large spec's build. At most ``MAX_PENDING`` artifacts wait or are being written, so no
    more than a few artifacts are in memory at once. The first error (disk full, no permission)
    stops the writing: the next ``submit`` or ``finish`` raises it, as the write would have raised
    it on the main thread. Leaving the ``with`` block early (an error, an interrupt) drops what is
    not written yet and waits for the write in progress, which write_bytes_atomic completes or
    removes, so no half-written or temporary file is left behind.
    """

    MAX_PENDING = 2

    def __init__(self, out: Path) -> None:
        self._out = out
        self._pending: deque[Artifact] = deque()
        self._busy = False  # an artifact taken from _pending is being hashed and written
        self._closed = False  # no more artifacts will come
        self._error: BaseException | None = None
        self._written: list[WrittenArtifact] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="charter-build-writer", daemon=True)

    def __enter__(self) -> "_ArtifactWriter":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        with self._changed:
            self._pending.clear()
            self._closed = True
            self._changed.notify_all()
        self._thread.join()

    def submit(self, artifact: Artifact) -> None:
        with self._changed:
            while self._error is None and len(self._pending) + self._busy >= self.MAX_PENDING:
                self._changed.wait()
            if self._error is not None:
                raise self._error
            self._pending.append(artifact)
            self._changed.notify_all()

    def finish(self) -> list[WrittenArtifact]:
        """What was written, in submission order, once everything submitted is written."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._written

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._pending and not self._closed:
                    self._changed.wait()
                if not self._pending:
                    return
                artifact = self._pending.popleft()
                self._busy = True
            try:
                written = _write_artifact(self._out, artifact)
            except BaseException as err:  # raised on the main thread by the next submit or finish
                with self._changed:
                    self._error = err
                    self._busy = False
                    self._pending.clear()
                    self._changed.notify_all()
                return
            del artifact
            with self._changed:
                self._written.append(written)
                self._busy = False
                self._changed.notify_all()


class _DirectWriter:
    """`_ArtifactWriter`'s face for a parallel build, writing each artifact as it is submitted, on
    the calling thread. A parallel build has rendered every artifact before the first write, so a
    writer thread has nothing to overlap with but the manifest, and there it lost: each system call
    of a write waited for the main thread to give up the GIL, and the writes took twice as long."""

    def __init__(self, out: Path) -> None:
        self._out = out
        self._written: list[WrittenArtifact] = []

    def __enter__(self) -> "_DirectWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def submit(self, artifact: Artifact) -> None:
        self._written.append(_write_artifact(self._out, artifact))

    def finish(self) -> list[WrittenArtifact]:
        return self._written


def _build_warnings(rendered: Rendered, data: dict) -> list[str]:
    """The build's warnings: the rendering's, then the manifest's uncovered clauses and repeated prompts."""
    warnings = list(rendered.warnings)
    if data["uncovered"]:
        warnings.append(f"{len(data['uncovered'])} clause(s) tested by no authored eval case: "
                        f"{_some(data['uncovered'])}")
    overlap = data["overlap"]
    if overlap["exact"] or overlap["near"]:
        repeated = sorted({e["case"] for e in overlap["exact"] + overlap["near"]})
        warnings.append(f"{len(repeated)} eval case(s) repeat a training prompt: {_some(repeated)}")
    return warnings


def _some(ids: list[str]) -> str:
    """The first WARNING_IDS of ``ids`` for a one-line warning, and how many more the manifest lists:
    a large spec's full list (thousands of ids) would bury every other line on the terminal."""
    if len(ids) <= WARNING_IDS:
        return ", ".join(ids)
    return f"{', '.join(ids[:WARNING_IDS])} and {len(ids) - WARNING_IDS} more ({MANIFEST} lists them)"


def is_charter_manifest(data: object) -> bool:
    """Whether ``data`` (a parsed manifest.json) is one a Charter build wrote: its marker fields."""
    return (isinstance(data, dict) and data.get("manifest_version") == 1
            and isinstance(data.get("tool"), dict) and data["tool"].get("name") == "charter"
            and isinstance(data.get("artifacts"), list))


def _previous_artifacts(out: Path, force: bool) -> dict[str, str]:
    """What an earlier Charter build in ``out`` wrote, as path -> sha256; refuses a directory that
    is not one (see build)."""
    if not os.path.lexists(out):
        return {}
    if not out.is_dir():  # follows a symlink to a directory: the user named it as the output
        raise OutputDirError(f"{out} exists and is not a directory; choose a directory for the build")
    try:  # bounded and regular files only: a planted FIFO or a huge file named manifest.json is no manifest
        old = json.loads(read_input_bytes(out / MANIFEST, MAX_MANIFEST_BYTES, "a manifest"))
    except (OSError, ValueError, InputRefused):
        old = None
    if is_charter_manifest(old):
        return {a["path"]: a["sha256"] for a in old["artifacts"]
                if isinstance(a, dict) and isinstance(a.get("path"), str) and isinstance(a.get("sha256"), str)}
    if force:
        return {}  # write over what is there, but delete nothing: no list of files Charter wrote is trusted
    try:
        # The lock file is ours (held now, or left by a build that was killed): it does not make the directory used.
        with os.scandir(out) as entries:
            empty = all(entry.name == LOCK_FILE for entry in entries)
    except OSError as err:
        raise OutputDirError(f"{out}: cannot use as the build directory: {err.strerror or err}") from None
    if not empty:
        raise OutputDirError(f"{out} is not empty and holds no Charter build (no Charter {MANIFEST}); refusing to "
                             f"write into it: choose a new or empty directory, or pass --force to overwrite")
    return {}


def _check_no_symlinked_folder(out: Path, rel: str, checked: set[Path]) -> None:
    """Refuse to write ``rel`` when a folder on its way below ``out`` is a symlink: it could lead out."""
    folder = out
    for part in Path(rel).parts[:-1]:
        folder = folder / part
        if folder in checked:
            continue
        if folder.is_symlink():
            raise OutputDirError(f"{folder} is a symbolic link; a build writes only into real folders below {out}")
        checked.add(folder)


def _safe_parts(rel: str) -> tuple[str, ...] | None:
    """The parts of a manifest path if it stays below the build directory, else None."""
    if not rel or "\\" in rel or "\0" in rel or rel.startswith("/"):
        return None
    parts = tuple(rel.split("/"))
    if any(part in ("", ".", "..") for part in parts):
        return None
    return parts


def _remove_stale(out: Path, rel: str, sha256: str) -> str:
    """Delete the file an earlier build wrote at ``rel`` if it still holds exactly what Charter wrote
    (its sha256 as recorded) and sits below ``out`` without a symlink on the way. Returns "" when
    deleted or already gone, else why it was kept."""
    parts = _safe_parts(rel)
    if parts is None:
        return "not a path inside the build directory"
    target = out
    for index, part in enumerate(parts):
        target = target / part
        try:
            info = target.lstat()
        except FileNotFoundError:
            return ""
        except OSError as err:
            return err.strerror or str(err)
        last = index == len(parts) - 1
        if stat.S_ISLNK(info.st_mode):
            return "a symbolic link, not a file Charter wrote"
        if not last and not stat.S_ISDIR(info.st_mode):
            return ""
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    try:
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
    except OSError as err:
        return err.strerror or str(err)
    if digest != sha256:
        return "changed since Charter wrote it; delete it yourself if it is not needed"
    try:
        target.unlink()
    except FileNotFoundError:
        pass
    except OSError as err:
        return f"cannot delete: {err.strerror or err}"
    return ""
