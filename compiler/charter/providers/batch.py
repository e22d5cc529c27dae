"""The providers' batch APIs behind one small async interface (OpenAI Batch, Anthropic Message Batches).

    client = get_batch_client("openai:gpt-4.1-mini")
    async with client:
        handles = await client.submit([BatchItem("row-1", request), ...], on_submitted=persist)
        save_handles(run_dir / "batches.json", handles)
        await wait(client, handles)
        async for result in client.results(handles[0]):
            ...   # result.response is the same Response the synchronous provider returns

A batch request is the synchronous provider's own body (``Provider.payload`` plus what ``complete``
adds), so ``client.cache_key(item)`` equals the synchronous cache key of the same Request and the two
paths share one response cache. Results come back in no particular order, exactly one per custom id;
items that never ran (the batch expired, was cancelled or failed validation) come back with an error.
A restarted process resumes with ``load_handles`` and a new client: a handle holds everything needed
except the key, which comes from the environment as for the synchronous path.
"""

from __future__ import annotations

import abc
import asyncio
import json
import random
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, ClassVar, Iterable, Literal, Sequence, TypeVar

from charter.io import write_text_atomic
from charter.providers.base import ModelId, Provider, Request, Response, parse_model_id
from charter.providers.errors import scrub_url
from charter.providers.errors import (
    BadRequest,
    ConfigError,
    FatalError,
    MalformedResponse,
    ProviderError,
    RetryableError,
)
from charter.providers.retry import RetryPolicy, with_retries

if TYPE_CHECKING:
    from charter.providers.calls import CallOptions

BatchState = Literal["validating", "in_progress", "finalizing", "cancelling", "ended", "failed", "expired",
                     "cancelled"]
DONE_STATES = frozenset({"ended", "failed", "expired", "cancelled"})

# Anthropic's rule for custom ids; applied to both providers so one id scheme works everywhere.
CUSTOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

HANDLES_VERSION = 1

T = TypeVar("T")


class BatchItemExpired(RetryableError):
    """The batch ran out of its 24 hours before this item was answered; submitting it again may work."""


class BatchItemCancelled(ProviderError):
    """The batch was cancelled before this item was answered."""


class BatchNotFinished(RetryableError):
    """Results were asked for before the batch was done."""


class BatchNotFound(FatalError):
    """HTTP 404 from a batch endpoint: no such batch or file (another account, another base URL, or deleted)."""


@dataclass(frozen=True)
class BatchItem:
    """One request of a batch; ``custom_id`` (1-64 of ``A-Za-z0-9_-``) keys its result."""

    custom_id: str
    request: Request


@dataclass(frozen=True)
class BatchHandle:
    """A submitted batch: what a restarted process needs to poll it and read its results (never the key).

    ``model`` is the full ``provider:model`` id; ``custom_ids`` are the items in this batch, in
    submission order, so a caller can tell which of its items a crash left unsubmitted and results
    can account for items that never ran. ``submitted_at`` is the provider's creation time (ISO 8601, UTC).
    """

    provider: str
    model: str
    batch_id: str
    base_url: str
    input_file_id: str | None
    submitted_at: str
    custom_ids: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.custom_ids)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["base_url"] = scrub_url(self.base_url)  # the handle is a file: no credentials in it
        data["custom_ids"] = list(self.custom_ids)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> "BatchHandle":
        if not isinstance(data, dict):
            raise ValueError("a batch handle must be an object")
        text_fields = ("provider", "model", "batch_id", "base_url", "submitted_at")
        for name in text_fields:
            if not isinstance(data.get(name), str) or not data[name]:
                raise ValueError(f"batch handle field {name!r} must be a non-empty string")
        input_file_id = data.get("input_file_id")
        if input_file_id is not None and not isinstance(input_file_id, str):
            raise ValueError("batch handle field 'input_file_id' must be a string or null")
        ids = data.get("custom_ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise ValueError("batch handle field 'custom_ids' must be a non-empty list of strings")
        unknown = sorted(set(data) - set(text_fields) - {"input_file_id", "custom_ids"})
        if unknown:
            raise ValueError(f"unknown batch handle field {unknown[0]!r}")
        return cls(data["provider"], data["model"], data["batch_id"], data["base_url"], input_file_id,
                   data["submitted_at"], tuple(ids))


@dataclass(frozen=True)
class BatchStatus:
    """Where a batch stands. ``state`` is normalised ("ended" is OpenAI's "completed" and Anthropic's
    "ended"); ``raw_state`` keeps the provider's word. Counts are per item; items not yet answered are
    ``processing``. ``message`` says why a batch failed (OpenAI validation errors), one line."""

    batch_id: str
    state: BatchState
    raw_state: str
    total: int
    succeeded: int = 0
    errored: int = 0
    cancelled: int = 0
    expired: int = 0
    message: str | None = None

    @property
    def processing(self) -> int:
        return max(0, self.total - self.succeeded - self.errored - self.cancelled - self.expired)

    @property
    def done(self) -> bool:
        """No more change will come: results can be read."""
        return self.state in DONE_STATES


@dataclass(frozen=True)
class BatchResult:
    """One item's outcome: exactly one of ``response`` (the same Response as the synchronous path;
    ``latency`` is 0.0, as a batch has no per-request timing) and ``error`` (a ProviderError subclass:
    the class the synchronous call would have raised, or BatchItemExpired / BatchItemCancelled)."""

    custom_id: str
    response: Response | None
    error: ProviderError | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.response is not None


class BatchClient(abc.ABC):
    """One model's batch API. Build with :func:`get_batch_client`.

    Every API call is retried under ``retry`` (RetryableError only: 429, 5xx, timeouts, dropped
    connections); anything else raises the provider's error class at once with a one-line, key-free
    message. ``max_requests`` and ``max_bytes`` cap one batch; ``submit`` splits over them.
    """

    kind: ClassVar[str]
    default_max_requests: ClassVar[int]
    default_max_bytes: ClassVar[int]

    def __init__(self, provider: Provider, *, retry: RetryPolicy = RetryPolicy(), max_requests: int | None = None,
                 max_bytes: int | None = None) -> None:
        self.provider = provider
        self.retry = retry
        self.max_requests = max_requests or self.default_max_requests
        self.max_bytes = max_bytes or self.default_max_bytes
        if self.max_requests < 1 or self.max_bytes < 1:
            raise ValueError("max_requests and max_bytes must be positive")

    @property
    def model_id(self) -> ModelId:
        return self.provider.model_id

    def cache_key(self, item: BatchItem | Request) -> str:
        """The synchronous path's cache key for this item's request."""
        return self.provider.cache_key(item.request if isinstance(item, BatchItem) else item)

    @abc.abstractmethod
    def encoded_size(self, item: BatchItem) -> int:
        """Bytes ``item`` takes in a batch, as counted against ``max_bytes``."""

    @abc.abstractmethod
    async def submit(self, items: Sequence[BatchItem], *,
                     on_submitted: Callable[[BatchHandle], object] | None = None) -> list[BatchHandle]:
        """Submits ``items`` as one or more batches (split in order over ``max_requests`` / ``max_bytes``).

        ``on_submitted(handle)`` is called as each batch is created, before the next is uploaded, so
        a caller can persist handles and a crash mid-submit loses no batch. Raises ValueError for
        duplicate or malformed custom ids or an item larger than ``max_bytes``, before any call.
        """

    @abc.abstractmethod
    async def status(self, handle: BatchHandle) -> BatchStatus:
        """Polls the batch once."""

    @abc.abstractmethod
    def results(self, handle: BatchHandle) -> AsyncIterator[BatchResult]:
        """Streams the results of a finished batch (``status(handle).done``): one per custom id of the
        handle, in no particular order. Items that never ran are yielded with an error."""

    @abc.abstractmethod
    async def cancel(self, handle: BatchHandle) -> None:
        """Asks the provider to cancel the batch (answered items stay answered)."""

    async def aclose(self) -> None:
        await self.provider.aclose()

    async def __aenter__(self) -> "BatchClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- shared by the adapters ----------------------------------------------------------------

    async def _call(self, call: Callable[[], Awaitable[Any]]) -> Any:
        return (await with_retries(call, self.retry)).value

    async def _resumable(self, open_stream: Callable[[], AsyncIterator[T]], key: Callable[[T], str],
                         seen: set[str]) -> AsyncIterator[T]:
        """Streams entries not yet in ``seen`` (adding their keys); when the stream breaks with a
        RetryableError it is opened again under the retry policy and what was already seen is skipped,
        so a dropped download neither loses nor repeats a result."""
        failures = 0
        while True:
            try:
                async for entry in open_stream():
                    entry_key = key(entry)
                    if entry_key in seen:
                        continue
                    seen.add(entry_key)
                    yield entry
                return
            except RetryableError as error:
                failures += 1
                error.attempts = failures
                if failures >= self.retry.max_attempts:
                    raise
                await asyncio.sleep(self.retry.delay(failures, error, random.random()))

    def _check_handle(self, handle: BatchHandle) -> None:
        if handle.provider != self.kind or handle.model != str(self.model_id):
            raise ConfigError(f"batch {handle.batch_id} belongs to {handle.model}, not {self.model_id}")
        # A batch lives at the endpoint that took it; elsewhere it would only be "not found".
        if scrub_url(handle.base_url).rstrip("/") != scrub_url(self.provider.base_url).rstrip("/"):
            raise ConfigError(f"batch {handle.batch_id} was submitted to {handle.base_url}, "
                              f"not {self.provider.base_url}: use the same base URL to resume it")


def check_items(items: Sequence[BatchItem]) -> None:
    """ValueError for an empty batch, a malformed custom id, or a custom id used twice."""
    if not items:
        raise ValueError("a batch needs at least one item")
    seen: set[str] = set()
    for item in items:
        if not isinstance(item.custom_id, str) or not CUSTOM_ID.match(item.custom_id):
            raise ValueError(f"invalid custom_id {item.custom_id!r}: use 1-64 letters, digits, '_' or '-'")
        if item.custom_id in seen:
            raise ValueError(f"custom_id {item.custom_id!r} is used twice")
        seen.add(item.custom_id)


def split_items(items: Sequence[Any], sizes: Sequence[int], max_requests: int, max_bytes: int, *,
                overhead: int = 0) -> list[range]:
    """Consecutive index ranges with at most ``max_requests`` items and ``max_bytes`` bytes each
    (``sizes`` are the items' encoded sizes, ``overhead`` what a batch costs around them); ValueError
    for an item that does not fit in a batch on its own."""
    chunks: list[range] = []
    start, used = 0, overhead
    for index, size in enumerate(sizes):
        if overhead + size > max_bytes:
            raise ValueError(f"item {getattr(items[index], 'custom_id', index)!r} is {size} bytes, "
                             f"over the batch limit of {max_bytes}")
        if index > start and (index - start >= max_requests or used + size > max_bytes):
            chunks.append(range(start, index))
            start, used = index, overhead
        used += size
    if len(sizes) > start:
        chunks.append(range(start, len(sizes)))
    return chunks


def missing_result_error(model_id: ModelId, handle: BatchHandle, status: BatchStatus) -> ProviderError:
    """The error for an item the finished batch returned nothing for, by why the batch ended."""
    who = str(model_id)
    if status.state == "expired":
        return BatchItemExpired(f"{who}: batch {handle.batch_id} expired before this item ran", model=who)
    if status.state == "cancelled":
        return BatchItemCancelled(f"{who}: batch {handle.batch_id} was cancelled before this item ran", model=who)
    if status.state == "failed":
        return BadRequest(f"{who}: batch {handle.batch_id} failed: {status.message}", model=who)
    return MalformedResponse(f"{who}: batch {handle.batch_id} ended without a result for this item", model=who)


def batch_client_for(model_id: str, options: "CallOptions") -> BatchClient:
    """The batch client of a run's or a generation's model, with its call options' timeout and retry
    policy; a model with no batch API stops the work (RunAborted) with the one-line reason."""
    from charter.providers.calls import RunAborted

    try:
        return get_batch_client(model_id, timeout=options.timeout, retry=options.retry)
    except ConfigError as err:
        raise RunAborted(err.message, err) from None


def get_batch_client(model: str | ModelId, *, base_url: str | None = None, timeout: float = 120.0,
                     retry: RetryPolicy = RetryPolicy(), max_requests: int | None = None,
                     max_bytes: int | None = None) -> BatchClient:
    """The batch client for an ``openai:`` or ``anthropic:`` model id (ConfigError for others: only
    those two providers offer a batch API). Keys and base URLs resolve as in ``get_provider``."""
    from charter.providers import get_provider

    model_id = model if isinstance(model, ModelId) else parse_model_id(model)
    if model_id.provider not in ("openai", "anthropic"):
        raise ConfigError(f"{model_id}: no batch API for {model_id.provider} models; "
                          "batches run on openai: and anthropic: models only")
    provider = get_provider(model_id, base_url=base_url, timeout=timeout)
    options = {"retry": retry, "max_requests": max_requests, "max_bytes": max_bytes}
    if model_id.provider == "openai":
        from charter.providers.batch_openai import OpenAIBatchClient

        return OpenAIBatchClient(provider, **options)
    from charter.providers.batch_anthropic import AnthropicBatchClient

    return AnthropicBatchClient(provider, **options)


@dataclass(frozen=True)
class PollPolicy:
    """Polling with capped exponential backoff: ``initial`` seconds, times ``factor`` per poll, at most
    ``max_interval``; ``timeout`` (None: none) gives up with TimeoutError after that many seconds."""

    initial: float = 5.0
    factor: float = 1.5
    max_interval: float = 300.0
    timeout: float | None = None

    def interval(self, poll: int) -> float:
        """Seconds to sleep after the ``poll``-th poll (from 1)."""
        return min(self.max_interval, self.initial * self.factor ** (poll - 1))


async def wait(client: BatchClient, handles: Iterable[BatchHandle], *, poll: PollPolicy = PollPolicy(),
               on_status: Callable[[BatchStatus], object] | None = None,
               sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
               clock: Callable[[], float] = time.monotonic) -> dict[str, BatchStatus]:
    """Polls every handle until all are done; returns the final status by batch id.

    ``on_status`` sees every status polled (for progress bars). Polling errors that survive the
    client's retry policy propagate; ``poll.timeout`` raises TimeoutError naming the pending batches.
    """
    pending = {h.batch_id: h for h in handles}
    final: dict[str, BatchStatus] = {}
    started = clock()
    number = 0
    while pending:
        number += 1
        for batch_id, handle in list(pending.items()):
            status = await client.status(handle)
            if on_status is not None:
                on_status(status)
            if status.done:
                final[batch_id] = status
                del pending[batch_id]
        if not pending:
            break
        delay = poll.interval(number)
        if poll.timeout is not None and clock() - started + delay > poll.timeout:
            raise TimeoutError(f"batches still running after {poll.timeout:g}s: {', '.join(sorted(pending))}")
        await sleep(delay)
    return final


def save_handles(path: str | Path, handles: Iterable[BatchHandle]) -> None:
    """Writes the handles as JSON, atomically (a crash leaves the old file or the new one)."""
    document = {"version": HANDLES_VERSION, "batches": [h.to_dict() for h in handles]}
    write_text_atomic(Path(path), json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def load_handles(path: str | Path) -> list[BatchHandle]:
    """Reads handles written by :func:`save_handles`; ConfigError (one line, with the path) when the
    file is missing, not JSON, or not a handles file."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such batch handles file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: not a batch handles file: {' '.join(str(exc).split())}") from None
    if not isinstance(document, dict) or document.get("version") != HANDLES_VERSION or not isinstance(
            document.get("batches"), list):
        raise ConfigError(f"{path}: not a batch handles file (expected version {HANDLES_VERSION} with 'batches')")
    handles = []
    for number, entry in enumerate(document["batches"], start=1):
        try:
            handles.append(BatchHandle.from_dict(entry))
        except ValueError as exc:
            raise ConfigError(f"{path}: batch {number}: {exc}") from None
    return handles
