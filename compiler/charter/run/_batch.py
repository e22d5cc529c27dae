"""`charter run --batch` and `charter run --batch-files DIR`: the runner's cases, one round at a time.

A batch answers minutes or hours later, so a case cannot wait on its calls the way the synchronous
runner does. Instead the runner's own per-case code (:meth:`Runner.run_case`, unchanged) is
*replayed* every round against the response cache: a call whose answer is in the cache gets it at
once; a call whose answer is missing is collected, and that case stops for this round. Once every
pending case has been replayed, the collected requests go out together as one round, through the
providers' batch APIs (:class:`BatchAPI`) or as OpenAI batch-input JSONL files for any engine
(:class:`BatchFiles`), and their answers go into the cache. So a multi-turn case (and the
self-talk case) advances one turn per round, a reply's judge call goes out the round after the
reply, and a verdict retry a round after that. A case whose calls are all answered is appended to
results.jsonl as soon as it is.

Replayed through the same code with the same answers, a case's record is the one a synchronous run
writes, byte for byte. A request sent in a round counts as a call, with its tokens, of the first
case that asked for it, as it would have on the wire; who asked is kept in
``RUN_DIR/batch-sent.txt``, so a restarted process counts it the same way. Every other use of an
answer counts as cached, as in a synchronous run once the first answer is in the cache.

Replaying costs cache lookups (a case of n turns is replayed about n times; each lookup is well
under a millisecond), and buys flat memory (cases are replayed WINDOW at a time and nothing of a
case is held between rounds) and free restarts (the state of every case is the response cache).

Restarts: with :class:`BatchAPI` the handles of the batches in flight are in ``RUN_DIR/batches.json``;
a restart waits for those batches and takes their answers before replaying, so nothing is paid for
twice. With :class:`BatchFiles` the rounds are numbered files in DIR
(``round-N.MODEL.requests.jsonl``, answered by ``round-N.MODEL.results.jsonl``) and ``DIR/rounds.json``
names the round in flight and whether its results were taken. A request that failed (an error line,
or no line at all in the results file) fails its case, which stays failed until the loop of rounds
is complete; running the command again then retries those cases in new rounds, as a synchronous
run retries its failed cases.

A request that two cases need at once (with ``--baseline``, both variants ask the judge the same
question) is sent once: a synchronous run sends it once or twice depending on timing, so only the
``usage`` of such cases can differ from a given synchronous run's; everything else is identical.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..diagnostics import CharterError
from ..io import write_bytes_atomic, write_text_atomic
from ..providers import AuthenticationFailed, ConfigError, ModelNotFound, ProviderError, Request, parse_model_id
from ..providers.batch import (
    BatchClient,
    BatchHandle,
    BatchItem,
    BatchResult,
    BatchStatus,
    PollPolicy,
    batch_client_for,
    load_handles,
    save_handles,
    wait,
)
from ..providers.cache import ResponseCache
from ..providers.calls import CallFailed, CallService, RunAborted, Tally
from .cases import Plan
from .results import RESULTS_FILE
from .runner import Progress, ResultWriter, Runner, RunOptions

BATCHES_FILE = "batches.json"  # RUN_DIR: the provider batches of the round in flight
SENT_FILE = "batch-sent.txt"  # RUN_DIR: the requests this run sent in rounds, and which job asked
ROUNDS_FILE = "rounds.json"  # DIR of --batch-files: the round in flight
# The run directory's batch state, deleted with the results when a run starts over.
STATE_FILES = (BATCHES_FILE, SENT_FILE)
# Cases replayed at once: memory is about one window of cases in progress.
WINDOW = 1000
# Requests encoded and uploaded at once: a batch client encodes all it is given, and a round of
# 10,000 judge requests with the monitor prompt in each is hundreds of megabytes.
SUBMIT_SLICE = 1000
# The base URL of openai-compatible models in --batch-files mode without --base-url: never
# contacted (the .invalid domain cannot resolve), only part of the response cache keys.
FILES_BASE_URL = "http://batch-files.invalid/v1"
# sysexits' EX_TEMPFAIL, "try again later": a round was written and waits for its results. Not 0,
# so `charter run ... && charter report ...` never reports a run that is not finished.
EXIT_ROUND_PENDING = 75


@dataclass(frozen=True)
class BatchAPI:
    """Each round through OpenAI Batch / Anthropic Message Batches, waited for (``charter run --batch``).

    ``poll`` paces the status polls; ``on_status`` sees every status polled (for a progress line)."""

    poll: PollPolicy = PollPolicy()
    on_status: Callable[[BatchStatus], object] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class BatchFiles:
    """Each round written to ``directory`` as OpenAI batch-input JSONL, one file per model, for any
    engine to answer (``charter run --batch-files DIR``); the run then stops with RoundPending."""

    directory: Path


@dataclass(frozen=True)
class RoundFile:
    """One model's requests of a round and where its results are expected."""

    model: str
    requests: Path
    results: Path
    count: int

    def command(self) -> str:
        """The vLLM command that answers this file."""
        return (f"vllm run-batch -i {self.requests} -o {self.results} "
                f"--model {parse_model_id(self.model).model}")


class RoundPending(CharterError):
    """A ``--batch-files`` round waits for its results files: run the engine on each requests file,
    then the same command again. Not a failure; ``files`` lists what to run."""

    exit_code = EXIT_ROUND_PENDING

    def __init__(self, number: int, files: list[RoundFile], written: bool) -> None:
        self.number = number
        self.files = files
        self.written = written
        count = sum(f.count for f in files)
        state = f"written ({count} requests)" if written else "still waits for its results"
        commands = "; and ".join(f"`{f.command()}`" for f in files)
        super().__init__(f"round {number} {state}: run {commands}, then run this command again")


class BatchFilesError(CharterError):
    """A --batch-files directory or results file that cannot be used (one line, naming the file)."""

    exit_code = 2


class _Unanswered(BaseException):
    """A call whose answer is not in yet: its case stops for this round. A BaseException, so that no
    ``except Exception`` in the runner takes it for a failure."""


def check_batch_models(options: RunOptions, mode: BatchAPI | BatchFiles) -> None:
    """ConfigError (one line) for a model the mode cannot send: batch APIs exist for openai: and
    anthropic: models only; batch files are for openai-compatible: models served by one's own engine."""
    for model_id in _models_of(options):
        provider = parse_model_id(model_id).provider
        if isinstance(mode, BatchAPI) and provider not in ("openai", "anthropic"):
            raise ConfigError(f"--batch: {model_id} has no batch API (batches run on openai: and anthropic: "
                              "models); run it without --batch, or with --batch-files for your own engine")
        if isinstance(mode, BatchFiles) and provider != "openai-compatible":
            raise ConfigError(f"--batch-files: {model_id} is not an openai-compatible: model; batch files are "
                              "for models served by your own engine (name them openai-compatible:NAME, NAME as "
                              "the engine serves it), --batch sends openai: and anthropic: models to their batch APIs")


# The job being replayed, and how often it has used each request so far in this replay. Set per
# job; the job's grading tasks inherit it (a task starts with a copy of its creator's context).
_JOB: contextvars.ContextVar[tuple[str, Counter] | None] = contextvars.ContextVar("charter_batch_job", default=None)


def _job_key(job: tuple) -> str:
    """A job's short, stable name: (case, model, variant, and whatever else the runner's jobs hold)."""
    case, *rest = job
    return hashlib.sha256("\x1f".join(map(str, (case["id"], *rest))).encode("utf-8")).hexdigest()[:16]


def _models_of(options: RunOptions) -> tuple[str, ...]:
    """Every model a run calls: its models, then its judge(s)."""
    judges = getattr(options, "judges", None) or (options.judge,)  # several, where the runner grades by more
    return tuple(dict.fromkeys((*options.models, *judges)))


class _Sent:
    """Which job each request this run sent in a round was sent for, in an append-only file (one
    ``KEY JOB`` line per request sent; a later line for a key, sent again after it failed, wins), so
    a restarted process counts the calls as the first one would.

    A request is sent once per round however many jobs asked for it, and is counted once: as a call,
    with its tokens, by the first job in run order that asked for it, at that job's first use, as
    the synchronous call it stands for. Every other use counts as cached, as it would have
    synchronously once the first answer was in the cache. So the tallies add up to what was sent.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.job_of: dict[str, str] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").split("\n"):
                key, _, job = line.partition(" ")
                if job:
                    self.job_of[key] = job

    def add(self, asked: list[tuple[str, str]]) -> None:
        """Records a round's asks (in run order): the first job to ask for each key."""
        first: dict[str, str] = {}
        for key, job in asked:
            first.setdefault(key, job)
        if not first:
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write("".join(f"{key} {job}\n" for key, job in first.items()))
            handle.flush()
            os.fsync(handle.fileno())
        self.job_of.update(first)


class _RoundCalls(CallService):
    """The call service of a replay: answers from the cache, and collects the requests it lacks."""

    def __init__(self, *args, sent: _Sent, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sent = sent
        self.failed: dict[str, CallFailed] = {}  # cache key -> why that request failed in its round
        self.wanted: dict[str, dict[str, Request]] = {}  # model -> cache key -> request, in replay order
        self.asked: list[tuple[str, str]] = []  # (cache key, job) of every unanswered call of this round

    async def call(self, model_id: str, request: Request, *, tally: Tally | None = None):
        key = self.cache_key(model_id, request)
        failure = self.failed.get(key)
        if failure is not None:
            if tally is not None:
                tally["calls"] += 1
            raise CallFailed(failure.message, failure.cause)
        job, uses = _JOB.get() or ("", Counter())
        response = self.cache.get(key)
        if response is None:
            self.wanted.setdefault(model_id, {}).setdefault(key, request)
            self.asked.append((key, job))
            # Let the grading tasks this case started (they run at its next pause) ask for their
            # verdicts before the case stops: a reply's judge call goes out the round after the reply.
            await asyncio.sleep(0)
            raise _Unanswered()
        uses[key] += 1
        if tally is not None:
            if uses[key] == 1 and self.sent.job_of.get(key) == job:  # the synchronous call this ask stands for
                usage = response.usage
                tally["calls"] += 1
                tally["input_tokens"] += usage.input_tokens
                tally["output_tokens"] += usage.output_tokens
                tally["cache_read_tokens"] += usage.cache_read_tokens
                tally["cache_write_tokens"] += usage.cache_write_tokens
            else:
                tally["cached_calls"] += 1
        return response


def _ignore_unanswered(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    # A case stopped by one unanswered judge call leaves its other grading tasks un-awaited; their
    # _Unanswered is the expected outcome, not an error to log.
    if not isinstance(context.get("exception"), _Unanswered):
        loop.default_exception_handler(context)


class BatchRunner(Runner):
    """A Runner whose ``run()`` goes round by round through batches (see the module docstring)."""

    def __init__(self, plan: Plan, options: RunOptions, run_dir: Path, *, cache: ResponseCache | None,
                 mode: BatchAPI | BatchFiles, progress: Progress | None = None, overwrite: bool = False) -> None:
        if cache is None:
            raise ConfigError("batches deliver their answers through the response cache: it cannot be off")
        if isinstance(mode, BatchFiles) and options.base_url is None:
            options = replace(options, base_url=FILES_BASE_URL)
        super().__init__(plan, options, run_dir, cache=cache, progress=progress)
        self.mode = mode
        self.sent = _Sent(self.run_dir / SENT_FILE)
        self.calls = _RoundCalls(options.call_options, cache=cache, sent=self.sent)
        self._rounds = _FileRounds(self, mode.directory, overwrite) if isinstance(mode, BatchFiles) \
            else _APIRounds(self, mode)

    async def run(self) -> None:
        """Runs every job not yet in results.jsonl, round by round. Raises RunAborted on a fatal
        provider error and, in --batch-files mode, RoundPending when a round waits for its results."""
        jobs = self._rounds.still_to_run(self.pending_jobs())
        self.progress.done = self.progress.total - len(jobs)
        self.progress.changed()
        if not jobs:
            self._rounds.finished()
            return
        asyncio.get_running_loop().set_exception_handler(_ignore_unanswered)
        await self.open()
        writer = ResultWriter(self.run_dir / RESULTS_FILE)
        try:
            await self._rounds.resume()
            while True:
                jobs = await self._replay(jobs, writer)
                wanted, self.calls.wanted = self.calls.wanted, {}
                asked, self.calls.asked = self.calls.asked, []
                if not jobs:
                    self._rounds.finished()
                    return
                self.sent.add(asked)  # before the round goes out: a restart must count it as sent
                await self._rounds.send(wanted)
        finally:
            writer.close()
            await self._rounds.close()
            await self.close()

    async def _replay(self, jobs: list[tuple], writer: ResultWriter) -> list[tuple]:
        """Replays each job from the cache; appends the finished ones, returns the rest in order."""
        waiting = []
        for start in range(0, len(jobs), WINDOW):
            window = jobs[start:start + WINDOW]
            before = asyncio.all_tasks()
            outcomes = await asyncio.gather(*(self._replay_job(job) for job in window), return_exceptions=True)
            # A case stopped while awaiting one grading task leaves the others running: let them ask
            # for what they lack in this round and end (nothing in a replay waits on I/O), before
            # the round goes out and the call service closes.
            while stray := asyncio.all_tasks() - before:
                await asyncio.gather(*stray, return_exceptions=True)
            for job, outcome in zip(window, outcomes):
                if isinstance(outcome, _Unanswered):
                    waiting.append(job)
                    continue
                if isinstance(outcome, BaseException):
                    raise outcome
                writer.append(outcome)
                self.progress.done += 1
                if outcome["errors"]:
                    self._rounds.errored(_job_key(job))
                if outcome["status"] != "ok" or any(e["stage"] == "judge" for e in outcome["errors"]):
                    self.progress.failed += 1
                self.progress.changed()
        return waiting

    async def _replay_job(self, job: tuple):
        _JOB.set((_job_key(job), Counter()))  # this task's own context
        return await self.run_case(*job)

    # -- what both kinds of rounds share -------------------------------------------------------

    def take(self, model_id: str, results: list[BatchResult], source: str) -> None:
        """Puts a round's answers in the cache (noting them as this run's) and keeps its failures for
        the next replay. RunAborted for an answer that says no call to the model can succeed."""
        for result in results:
            self.calls.counts.calls += 1
            if result.response is not None:
                self.cache.put(result.custom_id, result.response)
                continue
            error = result.error
            if isinstance(error, (AuthenticationFailed, ModelNotFound, ConfigError)):
                raise RunAborted(error.message, error)
            self.calls.counts.failed += 1
            message = error.message if error is not None else f"{model_id}: no result in {source}"
            self.calls.failed[result.custom_id] = CallFailed(message, error)
        self._count_calls()
        self.progress.changed()


class _APIRounds:
    """Rounds through the providers' batch APIs, their handles saved in RUN_DIR/batches.json."""

    def __init__(self, runner: BatchRunner, mode: BatchAPI) -> None:
        self.runner = runner
        self.mode = mode
        self.path = runner.run_dir / BATCHES_FILE
        self.clients: dict[str, BatchClient] = {}
        self.handles: list[BatchHandle] = []

    @staticmethod
    def still_to_run(jobs: list) -> list:
        return jobs  # one process runs the whole loop: a restart retries the cases that failed

    def errored(self, job: str) -> None:
        pass

    def finished(self) -> None:
        pass

    def client(self, model_id: str) -> BatchClient:
        if model_id not in self.clients:
            self.clients[model_id] = batch_client_for(model_id, self.runner.calls.options)
        return self.clients[model_id]

    async def resume(self) -> None:
        """Waits for the batches a stopped run left, and takes their answers."""
        if not self.path.exists():
            return
        try:
            self.handles = load_handles(self.path)
        except ConfigError as err:
            raise RunAborted(f"{err.message} (delete it to send those requests again)", err) from None
        await self._finish(list(self.handles))

    async def send(self, wanted: dict[str, dict[str, Request]]) -> None:
        handles = []
        for model_id, requests in wanted.items():
            client = self.client(model_id)
            keys = list(requests)
            for start in range(0, len(keys), SUBMIT_SLICE):
                items = [BatchItem(key, requests[key]) for key in keys[start:start + SUBMIT_SLICE]]
                handles += await self._api(client.submit(items, on_submitted=self._saved))
        await self._finish(handles)

    def _saved(self, handle: BatchHandle) -> None:
        self.handles.append(handle)
        save_handles(self.path, self.handles)

    async def _finish(self, handles: list[BatchHandle]) -> None:
        for model_id in dict.fromkeys(h.model for h in handles):
            client = self.client(model_id)
            mine = [h for h in handles if h.model == model_id]
            await self._api(wait(client, mine, poll=self.mode.poll, on_status=self.mode.on_status))
            for handle in mine:
                results = [result async for result in client.results(handle)]
                self.runner.take(model_id, results, f"batch {handle.batch_id}")
                self.handles = [h for h in self.handles if h.batch_id != handle.batch_id]
                if self.handles:
                    save_handles(self.path, self.handles)
                else:
                    self.path.unlink(missing_ok=True)

    @staticmethod
    async def _api(call):
        """A batch API call; RunAborted when it fails (a rejected key, a batch that is gone, retries used up)."""
        try:
            return await call
        except ProviderError as err:
            # After the batch client's own retries: nothing else can go on while the round cannot.
            # The handles of submitted batches are saved, so the same command resumes them.
            raise RunAborted(err.message, err) from None

    async def close(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients.values()), return_exceptions=True)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class _FileRounds:
    """Rounds as OpenAI batch-input JSONL files in DIR, answered by any engine between two runs."""

    def __init__(self, runner: BatchRunner, directory: Path, overwrite: bool) -> None:
        self.runner = runner
        self.directory = Path(directory)
        self.path = self.directory / ROUNDS_FILE
        self.state = self._load()
        if overwrite and self.state:
            self.state["taken"] = True  # the round of the run started over is not this run's
            self._save()

    def _load(self) -> dict | None:
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise BatchFilesError(f"{self.path}: unreadable: {' '.join(str(err).split())}") from None
        if (not isinstance(state, dict) or state.get("version") != 1 or not isinstance(state.get("round"), int)
                or not isinstance(state.get("files"), list)):
            raise BatchFilesError(f"{self.path}: not a rounds file of `charter run --batch-files`")
        return state

    def _save(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path, json.dumps(self.state, indent=2, ensure_ascii=False) + "\n")
        except OSError as err:
            raise BatchFilesError(f"{self.directory}: cannot write: {err.strerror or err}") from None

    def still_to_run(self, jobs: list[tuple]) -> list[tuple]:
        """The jobs this invocation runs. Each invocation is a new process, but while a loop of rounds
        is under way a case that failed in it stays failed (else a request that always fails would
        keep the loop from ending); once the loop is complete, running the command again retries
        the failed cases in a new loop, as a synchronous run does."""
        if not self.state or self.state.get("complete"):
            return jobs
        failed = set(self.state.get("errored", ()))
        return [job for job in jobs if _job_key(job) not in failed]

    def errored(self, job: str) -> None:
        if self.state is not None:
            self.state.setdefault("errored", []).append(job)

    def finished(self) -> None:
        """The loop is complete: the next invocation starts a new one."""
        if self.state is not None and not self.state.get("complete"):
            self.state.update(taken=True, complete=True, errored=[])
            self._save()

    def _files(self) -> list[RoundFile]:
        return [RoundFile(f["model"], self.directory / f["requests"], self.directory / f["results"], f["count"])
                for f in self.state["files"]]

    def _client(self, model_id: str):
        # Only encodes requests and decodes answers (with the synchronous provider's error mapping):
        # never closed, since the provider belongs to the call service. Imported here: `charter run
        # --help` must not load the SDKs.
        from ..providers.batch_openai import OpenAIBatchClient

        return OpenAIBatchClient(self.runner.calls.provider(model_id))

    async def resume(self) -> None:
        """Takes the results of the round in flight, or raises RoundPending while any is missing."""
        if not self.state or self.state.get("taken"):
            return
        files = self._files()
        if any(not f.results.exists() for f in files):
            raise RoundPending(self.state["round"], files, written=False)
        for round_file in files:
            if round_file.model not in _models_of(self.runner.options):
                raise BatchFilesError(f"{round_file.requests}: requests for {round_file.model}, not a model of "
                                      "this run (another run's files? use another DIR)")
            self.runner.take(round_file.model, self._read(round_file), str(round_file.results))
        self.state["taken"] = True
        self._save()

    def _read(self, round_file: RoundFile) -> list[BatchResult]:
        """The results file's answers to the requests file's requests: every request gets one (a
        missing answer becomes a failure, tried again in a later round)."""
        asked = []
        try:
            with open(round_file.requests, encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        asked.append(json.loads(line)["custom_id"])
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
            raise BatchFilesError(f"{round_file.requests}: unreadable requests file: "
                                  f"{' '.join(str(err).split()) or type(err).__name__}") from None
        client = self._client(round_file.model)
        wanted = set(asked)
        found: dict[str, BatchResult] = {}
        try:
            with open(round_file.results, encoding="utf-8") as handle:
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        result = client.output_result(line, f"{round_file.results.name} line {number}")
                    except ProviderError as err:
                        raise BatchFilesError(f"{round_file.results}:{number}: not a batch output line "
                                              f"({{\"custom_id\", \"response\", \"error\"}}): {err}") from None
                    if result.custom_id not in wanted:
                        raise BatchFilesError(f"{round_file.results}:{number}: custom_id {result.custom_id!r} is "
                                              f"not a request of {round_file.requests.name}")
                    found[result.custom_id] = result
        except (OSError, UnicodeDecodeError) as err:
            raise BatchFilesError(f"{round_file.results}: unreadable: {' '.join(str(err).split())}") from None
        return [found.get(custom_id) or BatchResult(custom_id, None, None) for custom_id in asked]

    async def send(self, wanted: dict[str, dict[str, Request]]) -> None:
        """Writes the next round's files and stops the run with RoundPending."""
        number = (self.state["round"] if self.state else 0) + 1
        files, used = [], set()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for model_id, requests in wanted.items():
                name = _UNSAFE.sub("_", parse_model_id(model_id).model).strip("._") or "model"
                while name in used:
                    name += "_"
                used.add(name)
                round_file = RoundFile(model_id, self.directory / f"round-{number}.{name}.requests.jsonl",
                                       self.directory / f"round-{number}.{name}.results.jsonl", len(requests))
                client = self._client(model_id)
                # An old results file under this name (a run started over) must not answer these requests.
                round_file.results.unlink(missing_ok=True)
                content = b"".join(client.line(BatchItem(key, request)) for key, request in requests.items())
                write_bytes_atomic(round_file.requests, content)
                files.append(round_file)
        except OSError as err:
            raise BatchFilesError(f"{self.directory}: cannot write: {err.strerror or err}") from None
        errored = self.state.get("errored", []) if self.state and not self.state.get("complete") else []
        self.state = {"version": 1, "round": number, "taken": False, "complete": False, "errored": errored,
                      "files": [{"model": f.model, "requests": f.requests.name, "results": f.results.name,
                                 "count": f.count} for f in files]}
        self._save()
        raise RoundPending(number, files, written=True)

    async def close(self) -> None:
        return None


__all__ = ["BatchAPI", "BatchFiles", "BatchFilesError", "BatchRunner", "EXIT_ROUND_PENDING", "RoundFile",
           "RoundPending", "check_batch_models"]
