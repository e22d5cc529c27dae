"""Model calls for synthesis: the response cache first, then the wire, synchronously or in batches.

Synchronously, a call goes through the call service (:mod:`charter.providers.calls`): the model's
rate limiter, one of ``concurrency`` slots (held only while on the wire) and the retry policy, like
the runner's calls. With ``batch``, calls that miss the cache are collected; when none has arrived
for ``settle`` seconds (every pipeline task is waiting on one: the stage is complete) they go out as
one batch per model through the providers' batch APIs, the handles are saved in DIR at once, the
batch is polled with backoff, and each result is put in the response cache under the synchronous
path's key before the waiting call gets it. The rest of the pipeline cannot tell the two paths
apart, which is why they give the same rows.

A restarted command first waits for the batches saved in DIR (resuming them by id) and puts their
results in the cache, so no request is paid for twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..providers import AuthenticationFailed, ConfigError, ModelNotFound, ProviderError, Request, Response
from ..providers.batch import (
    BatchClient,
    BatchHandle,
    BatchItem,
    BatchNotFound,
    BatchStatus,
    PollPolicy,
    batch_client_for,
    load_handles,
    save_handles,
    wait,
)
from ..providers.cache import ResponseCache
from ..providers.calls import CallFailed, CallOptions, CallService, RunAborted, Tally, add_tally, empty_tally

BATCHES_FILE = "batches.json"
SUBMIT_SLICE = 1000
# Items in flight on the batch path: a stage's batch holds up to this many items' requests. Larger
# means fewer, bigger batches (less waiting on the provider) and more memory (about 30 KB an item).
BATCH_WINDOW = 5000


@dataclass
class Usage:
    """Per stage and model: the requests a dataset needed and their tokens (replayed answers included,
    so the figures are the same on every run of the same command), and the calls made this time."""

    tallies: dict[tuple[str, str], Tally] = field(default_factory=dict)
    calls: int = 0
    cached: int = 0
    retries: int = 0
    batched: int = 0
    failed: int = 0

    def record(self, stage: str, model: str, response: Response) -> None:
        tally = self.tallies.setdefault((stage, model), empty_tally())
        usage = response.usage
        add_tally(tally, {"calls": 1, "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                          "cache_read_tokens": usage.cache_read_tokens,
                          "cache_write_tokens": usage.cache_write_tokens})

    def by_model(self) -> dict[str, Tally]:
        out: dict[str, Tally] = {}
        for (_, model), tally in sorted(self.tallies.items()):
            add_tally(out.setdefault(model, empty_tally()), tally)
        return out


@dataclass(frozen=True)
class CallerOptions:
    """The models a :class:`Caller` opens (``models`` and the ``judge``) and how it calls them."""

    models: tuple[str, ...]
    judge: str
    call_options: CallOptions = CallOptions()


class Caller:
    """``await caller.call(stage, model, request)``: a Response, or CallFailed / RunAborted.

    ``options`` is a :class:`CallerOptions`, or anything else with ``models``, ``judge`` and
    ``call_options`` (a run's options will do).
    """

    def __init__(self, options, *, cache: ResponseCache | None, out_dir: Path,
                 batch: bool = False, poll: PollPolicy = PollPolicy(), settle: float = 0.5,
                 on_change: Callable[[], object] | None = None,
                 on_batch: Callable[[BatchStatus], object] | None = None) -> None:
        if batch and cache is None:
            raise ValueError("batches deliver their results through the response cache")
        self.options = options
        self.cache = cache
        self.out_dir = Path(out_dir)
        self.batch = batch
        self.poll = poll
        self.settle = settle
        self.usage = Usage()
        self.on_change = on_change or (lambda: None)
        self.on_batch = on_batch
        self.calls = CallService(options.call_options, cache=cache, counts=self.usage)
        self._collector: _Collector | None = None

    @property
    def call_options(self) -> CallOptions:
        return self.calls.options

    async def open(self) -> None:
        """Builds the providers (RunAborted for a bad id or a missing key) and, for batches, resumes
        the batches a previous run left in DIR."""
        await self.calls.open([*self.options.models, self.options.judge])  # closes what it opened if one fails
        if self.batch:
            self._collector = _Collector(self)
            await self._collector.resume()

    async def close(self) -> None:
        if self._collector is not None:
            await self._collector.close()
        await self.calls.close()

    async def call(self, stage: str, model_id: str, request: Request) -> Response:
        key = self.calls.cache_key(model_id, request)
        cached = self.calls.cached(key)
        if cached is not None:
            self.usage.record(stage, model_id, cached)
            return cached
        if self._collector is not None:
            response = await self._collector.call(model_id, key, request)
        else:
            # CallFailed drops the item (the service counts it as failed), and a restart tries it again.
            response = await self.calls.send(model_id, request)
            if key is not None:
                self.cache.put(key, response)
        self.usage.record(stage, model_id, response)
        self.on_change()
        return response


class _Collector:
    """Collects cache misses and sends them as batches once the pipeline has settled."""

    def __init__(self, caller: Caller) -> None:
        self.caller = caller
        self.path = caller.out_dir / BATCHES_FILE
        self.pending: dict[str, dict[str, tuple[Request, asyncio.Future]]] = {}
        self.clients: dict[str, BatchClient] = {}
        self.handles: list[BatchHandle] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task] = set()

    def client(self, model_id: str) -> BatchClient:
        if model_id not in self.clients:
            self.clients[model_id] = batch_client_for(model_id, self.caller.call_options)
        return self.clients[model_id]

    async def resume(self) -> None:
        """Waits for the batches a killed run saved, and puts their results in the cache."""
        if not self.path.exists():
            return
        try:
            handles = load_handles(self.path)
        except ConfigError as err:
            raise RunAborted(f"{err.message} (delete it to start the batches over)", err) from None
        self.handles = list(handles)
        for model in sorted({h.model for h in handles}):
            await self._finish(self.client(model), [h for h in handles if h.model == model], {})

    async def call(self, model_id: str, key: str, request: Request) -> Response:
        waiting = self.pending.setdefault(model_id, {})
        if key in waiting:  # the same request twice in one stage: one batch line serves both
            return await asyncio.shield(waiting[key][1])
        future = asyncio.get_running_loop().create_future()
        waiting[key] = (request, future)
        self._arm()
        return await future

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.caller.settle, self._flush)

    def _flush(self) -> None:
        self._timer = None
        for model_id, waiting in sorted(self.pending.items()):
            if waiting:
                task = asyncio.get_running_loop().create_task(self._send(model_id, waiting))
                self._flushing.add(task)
                task.add_done_callback(self._flushing.discard)
        self.pending = {}

    async def _send(self, model_id: str, waiting: dict[str, tuple[Request, asyncio.Future]]) -> None:
        try:
            client = self.client(model_id)
            keys = sorted(waiting)
            handles: list[BatchHandle] = []
            # Uploaded a slice at a time: a batch client encodes all it is given at once, and a stage of
            # 10,000 grading requests with the monitor prompt in each is hundreds of megabytes.
            for start in range(0, len(keys), SUBMIT_SLICE):
                items = [BatchItem(key, waiting[key][0]) for key in keys[start:start + SUBMIT_SLICE]]
                handles += await client.submit(items, on_submitted=self._saved)
            await self._finish(client, handles, waiting)
        except BaseException as err:  # every caller waiting on this batch gets the failure
            failure = err
            if isinstance(err, (AuthenticationFailed, ModelNotFound, ConfigError, BatchNotFound)):
                failure = RunAborted(err.message, err if isinstance(err, ProviderError) else None)
            elif isinstance(err, ProviderError):
                failure = CallFailed(err.message, err)
            for _, future in waiting.values():
                if not future.done():
                    future.set_exception(failure)
            if isinstance(err, (asyncio.CancelledError, KeyboardInterrupt, SystemExit)):
                raise

    def _saved(self, handle: BatchHandle) -> None:
        self.handles.append(handle)
        save_handles(self.path, self.handles)

    async def _finish(self, client: BatchClient, handles: list[BatchHandle],
                      waiting: dict[str, tuple[Request, asyncio.Future]]) -> None:
        """Waits for the batches, puts every answer in the cache and hands it to whoever waits for it."""
        caller = self.caller
        await wait(client, handles, poll=caller.poll, on_status=caller.on_batch)
        for handle in handles:
            async for result in client.results(handle):
                entry = waiting.get(result.custom_id)
                if result.response is not None:
                    caller.cache.put(result.custom_id, result.response)
                    caller.usage.batched += 1
                    if entry is not None and not entry[1].done():
                        entry[1].set_result(result.response)
                elif entry is not None and not entry[1].done():
                    error = result.error
                    if isinstance(error, (AuthenticationFailed, ModelNotFound, ConfigError)):
                        entry[1].set_exception(RunAborted(error.message, error))  # every other item would fail the same way
                        continue
                    caller.usage.failed += 1
                    entry[1].set_exception(CallFailed(error.message if error else f"{handle.model}: no result", error))
            for custom_id in handle.custom_ids:  # never leave a caller hanging on a result that did not come
                entry = waiting.get(custom_id)
                if entry is not None and not entry[1].done():
                    entry[1].set_exception(CallFailed(f"{handle.model}: batch {handle.batch_id} returned no result"))
            self.handles = [h for h in self.handles if h.batch_id != handle.batch_id]
            if self.handles:
                save_handles(self.path, self.handles)
            else:
                self.path.unlink(missing_ok=True)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._flushing):
            task.cancel()
        await asyncio.gather(*self._flushing, return_exceptions=True)
        await asyncio.gather(*(c.aclose() for c in self.clients.values()), return_exceptions=True)

