"""`charter generate data`: teacher-written conversations, filtered and graded, streamed to training files.

The pipeline runs in rounds. A round ideates, per clause still short of its quota, enough
conversations to fill it (OVERGENERATE times the shortfall, IDEAS_PER_CALL per call), and takes
every idea through the stages (see :mod:`charter.synth.stages`) in a fixed order: by clause in
spec order, then ideation call, then position in the answer. Calls run concurrently, but results
are consumed in that order, so deduplication (first of two near-duplicates wins), the per-clause
balance (a clause takes rows until its quota is full) and the order of rows in the files depend
only on the seed and the replies, never on timing. That is also why the batch path, where each
stage goes out as one batch, writes the same rows as the synchronous one.

A row is appended (and flushed) to every training file and its sidecar the moment it is accepted;
a killed command leaves at most a torn last line, which the next start cuts off. Restarted, the
command replays every answered call from the response cache, skips rows already in the files,
and goes on from where it stopped. Memory holds the calls in flight and one MinHash signature per
idea, never the rows.

Drop reasons counted in the manifest: ``malformed`` (an idea that is not a usable conversation),
``duplicate`` (a near-duplicate of an earlier idea, see :mod:`charter.dedup`), ``contrived``
(realism under REALISM_MIN or test-likeness over TEST_LIKENESS_MAX), ``unreadable`` (a judge or
teacher answer that was not the JSON asked for, after one repair request), ``empty-reply``,
``length-ratio`` (one reply of the pair is more than ``max_length_ratio`` times the other's words:
DPO would learn length, see :mod:`charter.length_ratio`), ``eval-overlap`` (a near-duplicate of a
user message in an eval case `charter build` writes: training on it would leak the test),
``chosen-failed`` (the in-character reply does not pass the monitor, or fails the target clause),
``no-margin`` (it does not beat the rejected reply by ``margin`` points), ``call-failed`` (a call
failed after retries; a restart tries it again) and ``over-quota`` (the clause was already full).

After a failed call, the clause it belongs to takes no more rows in that run (counted as ``held``):
whether they are accepted depends on the failed item, which the restart retries. So a restart
after failures writes the same rows as a run without them, the held ones appended at the end.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterable, TypeVar

from ..diagnostics import SpecError, Diagnostic
from ..io import write_text_atomic
from ..length_ratio import MAX_LENGTH_RATIO, length_ratio, ratio_summary, too_far_apart
from ..providers.calls import CallFailed
from ..providers.pricing import BATCH_DISCOUNT, PriceTable, estimate_cost
from ..run.runner import VERDICT_RETRY, Progress, ResultWriter
from ..spec.ir import Spec
from ..targets.card import CARD_FILE, CardInfo, render_card, spec_license
from ..targets.data import (
    DEFAULT_FORMATS, DEFAULT_SYSTEM_PROMPT, SYSTEM_PROMPT_MODES, SystemPrompts, TrainingRow, TrainingSet,
    training_files,
)
from ..targets.evals import cited_refs, compile_cases
from ..targets.monitor import MonitorPrompt, Verdict, VerdictError, parse_verdict, render_monitor
from ..targets.prompt import SystemPrompt, render_prompt
from . import stages
from .calls import Caller
from ..dedup import DEFAULT_THRESHOLD, HASHES, BANDS, NearDuplicateIndex, content_hash
from .self_interaction import SelfInteraction
from .stages import IDEAS_PER_CALL, Item, Realism, StageError, Target

GENERATE_FILE = "generate.json"
MANIFEST_FILE = "manifest.json"
GENERATE_FORMAT = "charter.generate-data/1"
MANIFEST_FORMAT = "charter.generate-data-manifest/1"
OVERGENERATE = (1.3, 2.0)  # ideas per missing row: in the first round, and in later rounds
MAX_ROUNDS = 4
STAGES = ("ideation", "realism", "chosen", "rejected", "grading")

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class DataOptions:
    """What changes the rows (all recorded in generate.json) and how wide to run."""

    n: int
    teacher: str
    student: str | None = None
    judge: str | None = None
    seed: int = 0
    formats: tuple[str, ...] = DEFAULT_FORMATS
    system_prompt: str = DEFAULT_SYSTEM_PROMPT  # none | context | full, as `charter build --system-prompt`
    inoculate: bool = False
    introspection: bool = False
    margin: int = 2
    max_length_ratio: float = MAX_LENGTH_RATIO
    dedup_threshold: float = DEFAULT_THRESHOLD
    temperature: float | None = None
    max_tokens: int = 1024
    judge_max_tokens: int = 1024
    ideas_per_call: int = IDEAS_PER_CALL
    max_rounds: int = MAX_ROUNDS
    # Not part of the rows: how many items are in flight at once (None: a whole round, for batches).
    window: int | None = 64
    # Transcripts of the character talking with itself (see charter.synth.self_interaction), and their length.
    self_interaction: int = 0
    self_interaction_turns: int = 6

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("-n must be at least 1")
        if not 0 <= self.margin <= 9:
            raise ValueError("--margin must be from 0 to 9")
        if self.self_interaction < 0:
            raise ValueError("--self-interaction must be 0 or more")
        if self.system_prompt not in SYSTEM_PROMPT_MODES:
            raise ValueError(f"--system-prompt must be one of {', '.join(SYSTEM_PROMPT_MODES)}")
        if not self.max_length_ratio >= 1:
            raise ValueError("--max-length-ratio must be at least 1")

    @property
    def judge_model(self) -> str:
        return self.judge or self.teacher

    @property
    def rejected_model(self) -> str:
        return self.student or self.teacher

    @property
    def rejected_mode(self) -> str:
        return "bare" if self.student else "break"

    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.teacher, self.rejected_model, self.judge_model)))

    def info(self, spec: Spec) -> dict:
        """generate.json: what a restart must match to continue the same dataset."""
        return {"format": GENERATE_FORMAT, "spec": {"id": spec.id, "digest": spec.digest}, "n": self.n,
                "seed": self.seed, "teacher": self.teacher, "rejected": self.rejected_model,
                "rejected_mode": self.rejected_mode, "judge": self.judge_model, "formats": list(self.formats),
                "system_prompt": self.system_prompt, "inoculate": self.inoculate,
                "introspection": self.introspection, "margin": self.margin,
                "max_length_ratio": self.max_length_ratio,
                "dedup_threshold": self.dedup_threshold, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "judge_max_tokens": self.judge_max_tokens,
                "ideas_per_call": self.ideas_per_call, "max_rounds": self.max_rounds,
                # Only when asked for, so the generate.json of a run without it is what it was.
                **({"self_interaction": self.self_interaction, "self_interaction_turns": self.self_interaction_turns}
                   if self.self_interaction else {})}


@dataclass
class Outcome:
    item: Item
    drop: str | None = None
    detail: str = ""
    realism: Realism | None = None
    chosen: str = ""
    rejected: str = ""
    chosen_verdict: Verdict | None = None
    rejected_verdict: Verdict | None = None


@dataclass
class ClauseCounts:
    quota: int
    accepted: int = 0
    ideas: int = 0
    dropped: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {"quota": self.quota, "accepted": self.accepted, "ideas": self.ideas,
                "dropped": dict(sorted(self.dropped.items()))}


@dataclass
class StageProgress:
    """One runner Progress per stage (total grows as work is planned), told after every change."""

    stages: dict[str, Progress] = field(default_factory=lambda: {name: Progress() for name in (*STAGES, "rows")})
    on_change: Callable[["StageProgress"], object] | None = None

    def __getitem__(self, stage: str) -> Progress:
        return self.stages[stage]

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)


async def ordered_map(source: Iterable[T] | AsyncIterator[T], fn: Callable[[T], Awaitable[R]],
                      window: int | None) -> AsyncIterator[R]:
    """``fn`` over ``source`` with at most ``window`` calls running (None: no limit), results in source order.

    The first call to fail stops the map at once (not when its turn comes), and every call still
    running is cancelled.
    """
    iterator = source.__aiter__() if hasattr(source, "__aiter__") else _aiter(source)
    pending: list[asyncio.Task | None] = []
    head = 0
    exhausted = False
    failure = asyncio.get_running_loop().create_future()

    def watch(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None and not failure.done():
            failure.set_result(task)

    try:
        while True:
            while not exhausted and (window is None or len(pending) - head < window):
                if head < len(pending) and pending[head].done():
                    break  # hand over a finished result before reading more
                try:
                    value = await iterator.__anext__()
                except StopAsyncIteration:
                    exhausted = True
                    break
                task = asyncio.ensure_future(fn(value))
                task.add_done_callback(watch)
                pending.append(task)
            if head == len(pending):
                return
            task = pending[head]
            if not task.done():
                await asyncio.wait((task, failure), return_when=asyncio.FIRST_COMPLETED)
            if failure.done():
                failure.result().result()  # raises the first failure
            pending[head] = None  # let the finished task go
            head += 1
            if head > 1024 and head * 2 > len(pending):
                del pending[:head]
                head = 0
            yield task.result()
    finally:
        alive = [task for task in pending[head:] if task is not None and not task.done()]
        for task in alive:
            task.cancel()
        await asyncio.gather(*alive, return_exceptions=True)
        for task in pending[head:]:
            if task is not None and task.done() and not task.cancelled():
                task.exception()  # retrieved: no "exception was never retrieved" warnings


async def _aiter(values: Iterable[T]) -> AsyncIterator[T]:
    for value in values:
        yield value


# --- writing -----------------------------------------------------------------------------------


def _sorted(value):
    """Dicts with their keys in sorted order, all the way down: the runner's writer keeps insertion
    order, and the offline data target sorts keys, so this makes both write the same bytes."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


_CHUNK = 1 << 20


def _complete_lines(path: Path) -> int:
    """Lines of a file after cutting a torn (newline-less) tail; reads it in chunks, never whole."""
    if not path.exists():
        return 0
    with open(path, "rb+") as handle:
        size = handle.seek(0, 2)
        end = size
        while end > 0:  # find the last newline from the end
            start = max(0, end - _CHUNK)
            handle.seek(start)
            at = handle.read(end - start).rfind(b"\n")
            if at >= 0:
                end = start + at + 1
                break
            end = start
        if end != size:
            handle.truncate(end)
        handle.seek(0)
        count, read = 0, 0
        while read < end:
            chunk = handle.read(min(_CHUNK, end - read))
            count += chunk.count(b"\n")
            read += len(chunk)
    return count


def _keep_lines(path: Path, count: int) -> None:
    """Cuts a file after its first ``count`` lines."""
    with open(path, "rb+") as handle:
        offset, seen = 0, 0
        while seen < count:
            chunk = handle.read(_CHUNK)
            if not chunk:
                return
            newlines = chunk.count(b"\n")
            if seen + newlines < count:
                seen += newlines
                offset += len(chunk)
                continue
            at = -1
            for _ in range(count - seen):
                at = chunk.index(b"\n", at + 1)
            offset += at + 1
            seen = count
        handle.truncate(offset)


class RowWriter:
    """Appends each accepted row to its training files and line-aligned ``.meta.jsonl`` sidecars.

    Opening a file it finds from a killed run, it cuts a torn last line, trims the training file and
    its sidecar to the same number of lines (a kill can fall between the two writes), and remembers
    the row ids there, so a restart appends only rows that are not yet in.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self._files: dict[str, tuple[ResultWriter, ResultWriter, set[str]]] = {}

    def _open(self, name: str) -> tuple[ResultWriter, ResultWriter, set[str]]:
        training = self.out_dir / name
        meta = self.out_dir / (name[: -len(".jsonl")] + ".meta.jsonl")
        lines = min(_complete_lines(training), _complete_lines(meta))
        ids: set[str] = set()
        for path in (training, meta):
            if path.exists():
                _keep_lines(path, lines)
        if meta.exists():
            with open(meta, "rb") as handle:
                ids = {json.loads(line)["id"] for line in handle if line.strip()}
        entry = (ResultWriter(training), ResultWriter(meta), ids)
        self._files[name] = entry
        return entry

    def append(self, name: str, line: dict, meta: dict) -> bool:
        """Writes one row unless its id is already in the file; returns whether it was written."""
        training, sidecar, ids = self._files.get(name) or self._open(name)
        if meta["id"] in ids:
            return False
        training.append(_sorted(line))
        sidecar.append(_sorted(meta))
        ids.add(meta["id"])
        return True

    def close(self) -> None:
        for training, sidecar, _ in self._files.values():
            training.close()
            sidecar.close()
        self._files = {}


def file_rows(out_dir: Path, formats: Iterable[str]) -> dict[str, int]:
    """Rows in each training file of DIR (sidecars excluded), for the manifest."""
    counts = {}
    for path in sorted(Path(out_dir).glob("*.jsonl")):
        if path.name.endswith(".meta.jsonl"):
            continue
        if any(path.name.endswith(f".{fmt}.jsonl") for fmt in formats):
            counts[path.name] = _complete_lines(path)
    return counts


# --- the pipeline ------------------------------------------------------------------------------


class DataGenerator:
    """One ``charter generate data`` run over an open :class:`Caller`."""

    def __init__(self, spec: Spec, options: DataOptions, caller: Caller, out_dir: Path,
                 progress: StageProgress | None = None) -> None:
        self.spec = spec
        self.options = options
        self.caller = caller
        self.out_dir = Path(out_dir)
        self.progress = progress or StageProgress()
        self.targets = stages.targets(spec, options.introspection)
        self.quotas = stages.quotas(self.targets, options.n)
        self.counts = {t.key: ClauseCounts(self.quotas[t.key]) for t in self.targets}
        self.drops: Counter = Counter()
        self.index = NearDuplicateIndex(options.dedup_threshold)
        # The user messages of the eval cases `charter build` writes: a training row that repeats one
        # would teach the test's answer, so ideas near them are dropped (``eval-overlap``).
        self.eval_index = NearDuplicateIndex(options.dedup_threshold)
        for case in compile_cases(spec):
            self.eval_index.add("\n".join(t["content"] for t in case["turns"] if t["role"] == "user"))
        self.ratios: list[float] = []  # chosen/rejected words of every accepted pair, in acceptance order
        self.rounds = 0
        # Per clause, the position (round, call, index) of the first failed call: rows after it wait.
        self.failed_at: dict[str, tuple[int, int, int]] = {}
        self.written = 0
        self._prompts: dict[str | None, SystemPrompt] = {}
        self._monitors: dict[str | None, MonitorPrompt] = {}
        self.systems = SystemPrompts(spec, options.system_prompt, _inoculation(spec, options))
        caller.on_change = self.progress.changed
        self.self_interaction = (SelfInteraction(self, options.self_interaction, options.self_interaction_turns)
                                 if options.self_interaction else None)

    # -- driving --------------------------------------------------------------------------------

    async def run(self) -> dict:
        """Generates until every clause has its quota or MAX_ROUNDS rounds are done; returns the manifest."""
        writer = RowWriter(self.out_dir)
        self.progress["rows"].total = sum(self.quotas.values())
        try:
            for round_ in range(self.options.max_rounds):
                calls = self._round_calls(round_)
                if not calls:
                    break
                self.rounds = round_ + 1
                self.progress["ideation"].total += len(calls)
                items = self._ideas(calls)
                async for outcome in ordered_map(items, self._process, self.options.window):
                    self._settle(outcome, writer)
            if self.self_interaction is not None:
                await self.self_interaction.run(writer)
        finally:
            writer.close()
        return self.manifest()

    def _round_calls(self, round_: int) -> list[tuple[Target, int, int]]:
        factor = OVERGENERATE[0] if round_ == 0 else OVERGENERATE[1]
        calls = []
        for target in self.targets:
            counts = self.counts[target.key]
            missing = counts.quota - counts.accepted
            if missing > 0 and target.key not in self.failed_at:  # a restart settles a clause with failures
                needed = math.ceil(missing * factor / self.options.ideas_per_call)
                calls += [(target, round_, call) for call in range(needed)]
        return calls

    async def _ideas(self, calls: list[tuple[Target, int, int]]) -> AsyncIterator[Item]:
        """The ideas of the round's ideation calls in order, near-duplicates dropped."""
        async for target, round_, call, entries in ordered_map(calls, self._ideate, self.options.window):
            counts = self.counts[target.key]
            for index, (slot, entry) in enumerate(entries):
                if entry is None:
                    self._drop(target, "malformed")
                    continue
                persona, turns = entry
                text = "\n".join(f"{t.role}: {t.content}" for t in turns)
                item = Item(content_hash(target.key, text), target, round_, call, index,
                            persona or (slot.persona if slot else ""), slot.stance if slot else "benign", turns)
                if self.eval_index.nearest(item.user_text())[0] is not None:
                    self._drop(target, "eval-overlap")
                    continue
                if self.index.add(item.user_text()) is not None:
                    self._drop(target, "duplicate")
                    continue
                counts.ideas += 1
                self.progress["realism"].total += 1
                yield item

    async def _ideate(self, job: tuple[Target, int, int]):
        target, round_, call = job
        options = self.options
        slots = stages.plan(options.seed, target, round_, call, options.ideas_per_call)
        request = stages.ideation_request(self.spec, target, slots, round_, call, max(options.max_tokens, 2048),
                                          options.temperature, options.seed)
        progress = self.progress["ideation"]
        try:
            parsed = await self._ask_json("ideation", options.teacher, request, stages.parse_ideas)
        except CallFailed:
            self._drop(target, "call-failed", options.ideas_per_call)
            self._failed(target, (round_, call, -1))
            parsed = []
        except StageError:
            self._drop(target, "unreadable", options.ideas_per_call)
            parsed = []
        progress.done += 1
        self.progress.changed()
        entries = [(slots[n] if n < len(slots) else None, entry) for n, entry in enumerate(parsed)]
        return target, round_, call, entries

    async def _ask_json(self, stage: str, model: str, request, parse, repair: str = stages.REPAIR):
        """A call whose answer must parse; one repair request when it does not (StageError after that)."""
        response = await self.caller.call(stage, model, request)
        try:
            return parse(response.text)
        except (StageError, VerdictError) as problem:
            again = stages.with_repair(request, response.text, " ".join(str(problem).split()), repair)
            response = await self.caller.call(stage, model, again)
            try:
                return parse(response.text)
            except (StageError, VerdictError) as final:
                raise StageError(str(final)) from None

    async def _process(self, item: Item) -> Outcome:
        try:
            return await self._stages(item)
        except CallFailed as err:
            return Outcome(item, "call-failed", str(err))

    async def _stages(self, item: Item) -> Outcome:
        options, spec, progress = self.options, self.spec, self.progress
        try:
            realism = await self._ask_json("realism", options.judge_model,
                                           stages.realism_request(spec, item, options.judge_max_tokens),
                                           stages.parse_realism)
        except StageError as err:
            return self._stage_done("realism", Outcome(item, "unreadable", f"realism: {err}"))
        outcome = Outcome(item, realism=realism)
        self._stage_done("realism", outcome)
        if not realism.keep:
            outcome.drop, outcome.detail = "contrived", realism.reason
            return outcome

        context = item.target.context
        progress["chosen"].total += 1
        progress["rejected"].total += 1
        chosen_request = stages.chosen_request(self._prompt(context), item, options.max_tokens, options.temperature,
                                               options.seed)
        if options.rejected_mode == "break":
            # The near miss is written against the chosen reply (its length, its content), so it waits for it.
            chosen = await self._reply("chosen", options.teacher, chosen_request)
            if not chosen.strip():
                self._stage_done("rejected", outcome)
                outcome.drop = "empty-reply"
                return outcome
            rejected = await self._reply("rejected", options.rejected_model,
                                         stages.rejected_request(spec, item, "break", options.max_tokens,
                                                                 options.temperature, options.seed, chosen))
        else:
            rejected_request = stages.rejected_request(spec, item, options.rejected_mode, options.max_tokens,
                                                       options.temperature, options.seed)
            replies = await asyncio.gather(self._reply("chosen", options.teacher, chosen_request),
                                           self._reply("rejected", options.rejected_model, rejected_request),
                                           return_exceptions=True)
            for reply in replies:  # both are awaited to the end, so neither failure goes unread
                if isinstance(reply, BaseException):
                    raise reply
            chosen, rejected = replies
        outcome.chosen, outcome.rejected = chosen, rejected
        if not chosen.strip() or not rejected.strip():
            outcome.drop = "empty-reply"
            return outcome
        if too_far_apart(chosen, rejected, options.max_length_ratio):
            # Dropped before grading: a pair DPO would learn length from is not worth two judge calls.
            outcome.drop = "length-ratio"
            outcome.detail = f"chosen/rejected words {length_ratio(chosen, rejected):.2f}"
            return outcome

        progress["grading"].total += 2
        monitor = self._monitor(context)
        verdicts = await asyncio.gather(self._grade(monitor, item, chosen), self._grade(monitor, item, rejected),
                                        return_exceptions=True)
        for verdict in verdicts:
            if isinstance(verdict, BaseException) and not isinstance(verdict, StageError):
                raise verdict
        if any(isinstance(v, StageError) for v in verdicts):
            outcome.drop, outcome.detail = "unreadable", "grading: no usable verdict after one repair"
            return outcome
        chosen_verdict, rejected_verdict = verdicts
        outcome.chosen_verdict, outcome.rejected_verdict = chosen_verdict, rejected_verdict
        if not chosen_verdict.passed or chosen_verdict.clauses.get(item.target.ref) == "fail":
            outcome.drop, outcome.detail = "chosen-failed", chosen_verdict.reason
        elif chosen_verdict.score - rejected_verdict.score < options.margin:
            outcome.drop = "no-margin"
            outcome.detail = f"chosen {chosen_verdict.score}, rejected {rejected_verdict.score}"
        return outcome

    def _stage_done(self, stage: str, outcome: Outcome) -> Outcome:
        self.progress[stage].done += 1
        self.progress.changed()
        return outcome

    async def _reply(self, stage: str, model: str, request) -> str:
        try:
            return (await self.caller.call(stage, model, request)).text
        finally:
            self.progress[stage].done += 1
            self.progress.changed()

    async def _grade(self, monitor: MonitorPrompt, item: Item, reply: str) -> Verdict:
        try:
            request = stages.grading_request(monitor, item, reply, self.options.judge_max_tokens)
            return await self._ask_json("grading", self.options.judge_model, request,
                                        lambda text: parse_verdict(text, monitor), VERDICT_RETRY)
        finally:
            self.progress["grading"].done += 1
            self.progress.changed()

    def _prompt(self, context: str | None) -> SystemPrompt:
        if context not in self._prompts:
            self._prompts[context] = render_prompt(self.spec, context)
        return self._prompts[context]

    def _monitor(self, context: str | None) -> MonitorPrompt:
        if context not in self._monitors:
            self._monitors[context] = render_monitor(self.spec, context)
        return self._monitors[context]

    # -- accepting ------------------------------------------------------------------------------

    def _drop(self, target: Target, reason: str, count: int = 1) -> None:
        self.counts[target.key].dropped[reason] += count
        self.drops[reason] += count
        self.progress["rows"].failed += count

    def _failed(self, target: Target, position: tuple[int, int, int]) -> None:
        self.failed_at[target.key] = min(self.failed_at.get(target.key, position), position)

    def _settle(self, outcome: Outcome, writer: RowWriter) -> None:
        item = outcome.item
        target = item.target
        counts = self.counts[target.key]
        failed_at = self.failed_at.get(target.key)
        if outcome.drop == "call-failed":
            self._drop(target, "call-failed")
            self._failed(target, (item.round, item.call, item.index))
        elif failed_at is not None and (item.round, item.call, item.index) > failed_at:
            self._drop(target, "held")
        elif outcome.drop is not None:
            self._drop(target, outcome.drop)
        elif counts.accepted >= counts.quota:
            self._drop(target, "over-quota")
        else:
            counts.accepted += 1
            self.ratios.append(length_ratio(outcome.chosen, outcome.rejected))
            self._write(outcome, writer)
            self.progress["rows"].done += 1
        self.progress.changed()

    def _write(self, outcome: Outcome, writer: RowWriter) -> None:
        item, options = outcome.item, self.options
        target = item.target
        chosen_verdict, rejected_verdict = outcome.chosen_verdict, outcome.rejected_verdict
        refs = tuple(cited_refs(self.spec, [target.ref]))
        why = (f"{options.rejected_mode} reply by {options.rejected_model}: scored {rejected_verdict.score} "
               f"against {chosen_verdict.score}")
        # The same system message an authored row in this context gets from `charter build`.
        system, system_kind = self.systems.for_context(target.context)
        rows = {kind: TrainingRow(id=f"{self.spec.id}/{kind}/{target.source}/{item.id}", kind=kind, prompt=item.turns,
                                  chosen=outcome.chosen, rejected=outcome.rejected if kind == "dpo" else None,
                                  rejected_why=why if kind == "dpo" else "", refs=refs, source=target.source,
                                  example=target.key, loc=target.loc, context=target.context, system=system,
                                  system_kind=system_kind)
                for kind in ("sft", "dpo")}
        training_set = TrainingSet(self.spec.id, self.spec.digest, None, self.systems.kind, (rows["sft"],),
                                   (rows["dpo"],), ())
        extra = {
            "stage": target.source, "target": target.ref, "context": target.context,
            "persona": item.persona, "stance": item.stance, "round": item.round,
            "models": {"teacher": options.teacher, "rejected": options.rejected_model,
                       "rejected_mode": options.rejected_mode, "judge": options.judge_model},
            "scores": {"chosen": chosen_verdict.score, "rejected": rejected_verdict.score,
                       "realism": outcome.realism.realism, "test_likeness": outcome.realism.test_likeness},
            "seed": options.seed,
        }
        for name, (lines, metas) in training_files(training_set, options.formats).items():
            if writer.append(name, lines[0], {**metas[0], **extra}):
                self.written += 1

    # -- the manifest ---------------------------------------------------------------------------

    def manifest(self, prices: PriceTable | None = None, batch: bool = False) -> dict:
        options = self.options
        prices = prices or PriceTable()
        stages_usage: dict[str, dict] = {}
        for (stage, model), tally in sorted(self.caller.usage.tallies.items()):
            stages_usage.setdefault(stage, {})[model] = dict(tally)
        models = self.caller.usage.by_model()
        costs, notes = {}, []
        for model, tally in models.items():
            usd, _, note = estimate_cost(prices, model, tally)
            costs[model] = None if usd is None else round(usd * (BATCH_DISCOUNT if batch else 1.0), 6)
            if note:
                notes.append(note)
        known = [c for c in costs.values() if c is not None]
        accepted = sum(c.accepted for c in self.counts.values())
        return {
            "format": MANIFEST_FORMAT,
            "spec": {"id": self.spec.id, "digest": self.spec.digest},
            "options": {key: value for key, value in options.info(self.spec).items() if key not in ("format", "spec")},
            "filters": {"realism_min": stages.REALISM_MIN, "test_likeness_max": stages.TEST_LIKENESS_MAX,
                        "margin": options.margin, "max_length_ratio": options.max_length_ratio,
                        "eval_overlap": "user messages near one of `charter build`'s eval cases (same dedup)",
                        "pass_threshold": "monitor PASS_THRESHOLD",
                        "dedup": {"method": "minhash over word bigrams", "threshold": options.dedup_threshold,
                                  "hashes": HASHES, "bands": BANDS}},
            "system_prompt": self.systems.kind,
            "rows": {"requested": options.n, "accepted": accepted, "rounds": self.rounds},
            # Against the standard bound, whatever --max-length-ratio was: comparable with `charter build`'s.
            "length_ratio": ratio_summary(self.ratios),
            "files": file_rows(self.out_dir, options.formats),
            "clauses": {key: counts.to_dict() for key, counts in self.counts.items()},
            "drops": dict(sorted(self.drops.items())),
            **({"self_interaction": self.self_interaction.manifest()} if self.self_interaction is not None else {}),
            "usage": {"stages": stages_usage, "models": {m: dict(t) for m, t in models.items()}},
            "cost": {"usd": round(sum(known), 6) if known and len(known) == len(costs) else None,
                     "models": costs, "batch_discount": BATCH_DISCOUNT if batch else None,
                     "notes": notes},
            "notes": demo_notes(options.models()),
        }


def _inoculation(spec: Spec, options: DataOptions) -> str | None:
    """The inoculation text the rows carry (after the system message the mode gives), or None."""
    if not options.inoculate:
        return None
    inoculation = (spec.training.inoculation or "").strip()
    if not inoculation:
        raise SpecError([Diagnostic(spec.loc, "no-inoculation",
                                       f"spec {spec.id!r} sets no training.inoculation, so there is no "
                                       "inoculated variant to write")])
    return inoculation


DEMO_NOTE = ("teacher: demo ({models}: Charter's in-process scripted models, no key and no network); the rows "
             "show the pipeline at work and mean nothing: do not train on them")


def demo_notes(models: Iterable[str]) -> list[str]:
    """What a manifest or card says when a ``demo:`` model wrote or judged the rows: keeps the offline demo honest."""
    demo = [m for m in models if m.startswith("demo:")]
    return [DEMO_NOTE.format(models=", ".join(demo))] if demo else []


# Drop reasons as a reader of the one-line summary understands them.
DROP_NAMES = {"contrived": "judged unrealistic", "length-ratio": "length ratio", "eval-overlap": "eval overlap",
              "call-failed": "call error", "unreadable": "unreadable answer", "chosen-failed": "chosen reply failed",
              "no-margin": "no margin", "empty-reply": "empty reply"}


def drop_summary(drops: dict[str, int], limit: int = 6) -> str:
    """``judged unrealistic 12, length ratio 4, ...``: the main drop reasons, most frequent first."""
    ranked = sorted(((count, reason) for reason, count in drops.items() if count), key=lambda x: (-x[0], x[1]))
    parts = [f"{DROP_NAMES.get(reason, reason)} {count}" for count, reason in ranked[:limit]]
    if len(ranked) > limit:
        parts.append(f"{sum(c for c, _ in ranked[limit:])} more")
    return ", ".join(parts) or "nothing dropped"


def card_rows(out_dir: Path) -> dict[str, int]:
    """Rows in every training file and sidecar of DIR, for the dataset card."""
    return {path.name: _complete_lines(path) for path in sorted(Path(out_dir).glob("*.jsonl"))}


def write_card(out_dir: Path, spec: Spec, manifest: dict) -> None:
    """DIR/README.md: the Hugging Face dataset card `charter build` writes for its data, for these rows."""
    rows = card_rows(out_dir)
    if not rows:
        return
    options = manifest["options"]
    made_by = f"charter generate data (teacher {options['teacher']}, judge {options['judge']})"
    info = CardInfo(spec.id, spec.name, spec.version, spec.digest, spec_license(dict(spec.metadata)), made_by=made_by,
                    system_prompt=options["system_prompt"], length_ratio=manifest["length_ratio"])
    text = render_card(info, rows)
    for note in manifest.get("notes", []):
        text += f"\nNote: {note}.\n"
    write_text_atomic(Path(out_dir) / CARD_FILE, text)


def write_manifest(out_dir: Path, manifest: dict) -> None:
    write_text_atomic(Path(out_dir) / MANIFEST_FILE, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


__all__ = ["DataGenerator", "DataOptions", "GENERATE_FILE", "MANIFEST_FILE", "RowWriter", "StageProgress",
           "demo_notes", "drop_summary", "file_rows", "ordered_map", "write_card", "write_manifest"]
