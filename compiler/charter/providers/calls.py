"""The one way Charter calls a model: the response cache first, then a rate-limited, retried call.

    async with CallService(CallOptions(concurrency=8), cache=cache) as calls:
        await calls.open(["openai:gpt-4.1-mini", "anthropic:claude-haiku-4-5"])
        response = await calls.call("openai:gpt-4.1-mini", request, tally=tally)

`charter run`, `charter generate`, `charter lint --deep` and `charter import prose` all call
models through a :class:`CallService`, so they share one cache-key scheme, one retry policy
(:data:`DEFAULT_RETRY`), one error mapping and one way of counting calls and tokens.

A call goes: cache lookup (a hit costs nothing and counts as ``cached``) -> the model's rate
limiter (``--rpm`` / ``--tpm``) -> one of ``concurrency`` call slots, held only while the request
is on the wire, so a call waiting out a Retry-After never idles a slot -> the provider -> on a
retryable failure, :func:`~charter.providers.retry.with_retries` backs off and goes round again.
A successful answer is put in the cache before it is returned.

Errors come out as two kinds, each keeping the provider's error as ``cause``: :class:`RunAborted`
when no call to that model can succeed (a key missing or rejected, an unknown model, a bad
configuration), and :class:`CallFailed` when this one call failed for good (retries used up, or
the request refused).

Each model also has its own :class:`~charter.providers.ratelimit.AdaptiveConcurrency` under the
same ceiling: a 429 or 529 halves the calls in flight to that model and pauses it for the
Retry-After, successes raise it again, and the rate-limit headers pace the calls once the
server says its budget is spent. A call takes its model's turn before one of the service's slots,
so a model being held back never holds a slot another model could use.

Where later work plugs in: every attempt passes through :meth:`CallService.attempt`, which sees
each response's ``rate_limits`` and each error (so it can also notice a model whose first
attempts all fail to connect and stop early);
a batch path can use :meth:`CallService.cache_key`, :meth:`CallService.cached` and the cache as
`charter generate --batch` does; and ``CallOptions.deadline`` bounds the whole request, not just
the wait for each byte.
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass
from typing import Awaitable, Iterable, TypedDict

from ..diagnostics import CharterError
from . import DEFAULT_TIMEOUT, get_provider
from .base import Provider, Request, Response
from .cache import ResponseCache
from .errors import (
    AuthenticationFailed,
    CannotConnect,
    ConfigError,
    EndpointUnreachable,
    ModelNotFound,
    Overloaded,
    ProviderError,
    RateLimited,
    RequestTimedOut,
    scrub_url,
)
from .ratelimit import AdaptiveConcurrency, RateLimiter, Slots, TokenCount
from .retry import RetryPolicy, with_retries

# Full-jitter backoff from 0.25 s, doubling, at most 4 s between tries: half the SDKs' own (0.5 s to
# 8 s), because rate limits come with a Retry-After, honoured up to a minute, and what is left
# (5xx blips, dropped connections) is usually brief; a long backoff there only stretches the
# tail of a run while every other call has finished. The one default for every caller.
DEFAULT_RETRY = RetryPolicy(max_attempts=6, base_delay=0.25, max_delay=4.0, max_retry_after=60.0)
DEFAULT_CONCURRENCY = 16
# A model whose first this-many attempts all failed to connect (DNS failure, connection refused)
# is given up on: its endpoint is wrong or down, and a run would otherwise spend every case's
# retries learning that again (432 refused calls, and the cause only inside results.jsonl).
UNREACHABLE_AFTER = 3

# The order in which the running unit of work (an eval case, say) was started; its calls get free
# slots before later units'. Unset, every call has the same order and slots go first come, first served.
CALL_ORDER: contextvars.ContextVar[int] = contextvars.ContextVar("charter_call_order", default=0)


class Tally(TypedDict):
    """Usage of some calls: ``calls`` made on the wire (each retry is one more), ``cached_calls``
    answered from the response cache (free, no tokens), ``retries``, and the tokens of the calls made."""

    calls: int
    cached_calls: int
    retries: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int


def empty_tally() -> Tally:
    return Tally(calls=0, cached_calls=0, retries=0, input_tokens=0, output_tokens=0, cache_read_tokens=0,
                 cache_write_tokens=0)


def add_tally(total: Tally, other: Tally) -> None:
    for key in total:
        total[key] += other.get(key, 0)


@dataclass
class CallCounts:
    """Service-wide counters: attempts sent, answers from the cache, retries, calls that failed for good.

    Any object with these four integer attributes can stand in (``CallService(counts=...)``), so a
    caller's own progress record is counted in place.
    """

    calls: int = 0
    cached: int = 0
    retries: int = 0
    failed: int = 0


@dataclass(frozen=True)
class CallOptions:
    """How calls are made. ``base_url`` is the endpoint of ``openai-compatible:`` models (openai and
    anthropic models use OPENAI_BASE_URL / ANTHROPIC_BASE_URL); ``timeout`` is the SDK's, per read;
    ``deadline``, when set, bounds each attempt as a whole (headers, body and all), so a server
    trickling one byte at a time cannot hold a call past it; the SDK's timeout is cut to the deadline
    when longer, since it could never fire. ``rpm`` / ``tpm`` limit each model. ``concurrency`` is
    the most calls in flight at once, in all; with ``adaptive`` (the default) each model's calls in
    flight also go down on 429/529 answers and back up as calls succeed, and are paced by the
    rate-limit headers (:class:`~charter.providers.ratelimit.AdaptiveConcurrency`).
    :meth:`with_deadline` is what a command's ``--timeout`` means."""

    concurrency: int = DEFAULT_CONCURRENCY
    rpm: float | None = None
    tpm: float | None = None
    timeout: float = DEFAULT_TIMEOUT
    deadline: float | None = None
    base_url: str | None = None
    retry: RetryPolicy = DEFAULT_RETRY
    adaptive: bool = True

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError("a deadline must be positive")
        if self.deadline is not None and self.timeout > self.deadline:
            object.__setattr__(self, "timeout", self.deadline)

    @classmethod
    def with_deadline(cls, timeout: float, **options) -> "CallOptions":
        """Options where ``timeout`` bounds each attempt as a whole (the deadline) and each read."""
        return cls(timeout=timeout, deadline=timeout, **options)


async def _within(call: Awaitable[Response], seconds: float) -> Response:
    """``await call``, or asyncio.TimeoutError after ``seconds``. asyncio.timeout (Python 3.11) runs
    the call in the calling task; wait_for, before 3.12, wraps it in a task of its own, which costs a
    turn of the event loop before the request is sent, while the freed connection waits idle."""
    if _timeout is None:
        return await asyncio.wait_for(call, seconds)
    async with _timeout(seconds):
        return await call


_timeout = getattr(asyncio, "timeout", None)  # Python 3.11+


class RunAborted(CharterError):
    """No call to a model can succeed: a key is missing or rejected, the model does not exist, or
    the configuration is wrong. Every other call would fail the same way. One line; ``cause`` is the
    provider's error (None when the model id itself is bad)."""

    exit_code = 2

    def __init__(self, message: str, cause: ProviderError | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause


class CallFailed(CharterError):
    """One call failed for good: retries ran out, or the request was refused. One line; ``cause``
    is the provider's last error (with ``attempts`` stamped on it)."""

    exit_code = 1

    def __init__(self, message: str, cause: ProviderError | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause


class CallSlots(Slots):
    """The service's call slots, given to the oldest unit of work first (see :data:`CALL_ORDER`)
    and used as an async context manager."""

    async def __aenter__(self) -> None:
        await self.acquire(CALL_ORDER.get())

    async def __aexit__(self, *exc: object) -> None:
        self.release()


@dataclass
class _Model:
    """One model's provider with its own rate limiter."""

    provider: Provider
    limiter: RateLimiter
    flow: AdaptiveConcurrency | None = None  # calls in flight and pacing; None: only the service's slots
    owned: bool = True  # closed by the service
    connected: bool = False  # some attempt reached the server (any answer, even an error status)
    connect_failures: int = 0  # attempts that could not connect while none had connected
    unreachable: RunAborted | None = None  # set once the model is given up on


class CallService:
    """Cache-first, rate-limited, retried model calls, counted. See the module docstring.

    ``open(model_ids)`` builds the providers (closing them again in ``close``); ``add(provider)``
    takes one built elsewhere, which its builder closes. ``counts`` is updated in place.
    """

    def __init__(self, options: CallOptions | None = None, *, cache: ResponseCache | None = None,
                 counts: CallCounts | None = None) -> None:
        self.options = options if options is not None else CallOptions()
        self.cache = cache
        self.counts = counts if counts is not None else CallCounts()
        self.slots = CallSlots(self.options.concurrency)
        self._models: dict[str, _Model] = {}

    # -- providers ---------------------------------------------------------------------------

    async def open(self, model_ids: Iterable[str]) -> None:
        """A provider per distinct model id not open yet. Raises RunAborted for a bad id or a missing
        key, after closing the providers this call opened."""
        opened: list[Provider] = []
        for model_id in model_ids:
            if model_id in self._models:
                continue
            base_url = self.options.base_url if model_id.startswith("openai-compatible:") else None
            try:
                provider = get_provider(model_id, base_url=base_url, timeout=self.options.timeout)
            except ConfigError as err:
                for model in opened:
                    self._models.pop(str(model.model_id), None)
                await asyncio.gather(*(p.aclose() for p in opened), return_exceptions=True)
                raise RunAborted(str(err), err) from None
            opened.append(provider)
            self._models[model_id] = self._model(provider)

    def add(self, provider: Provider) -> str:
        """Calls ``provider`` under its model id from now on; the service does not close it. Returns the id."""
        model_id = str(provider.model_id)
        self._models[model_id] = self._model(provider, owned=False)
        return model_id

    def _model(self, provider: Provider, owned: bool = True) -> _Model:
        options = self.options
        flow = (AdaptiveConcurrency(options.concurrency, max_pause=options.retry.max_retry_after)
                if options.adaptive else None)
        return _Model(provider, RateLimiter(options.rpm, options.tpm), flow, owned)

    def flow(self, model_id: str) -> AdaptiveConcurrency | None:
        """The adaptive concurrency of a model (its current limit, the 429s it saw), or None."""
        return self._models[model_id].flow

    @property
    def throttled(self) -> int:
        """429 and 529 answers so far, over all models."""
        return sum(m.flow.throttled for m in self._models.values() if m.flow is not None)

    def provider(self, model_id: str) -> Provider:
        return self._models[model_id].provider

    async def close(self) -> None:
        models, self._models = self._models, {}
        await asyncio.gather(*(m.provider.aclose() for m in models.values() if m.owned), return_exceptions=True)

    async def __aenter__(self) -> "CallService":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- calls -------------------------------------------------------------------------------

    def cache_key(self, model_id: str, request: Request) -> str | None:
        """The response-cache key of ``request`` to ``model_id``; None without a cache."""
        return self._models[model_id].provider.cache_key(request) if self.cache is not None else None

    def cached(self, key: str | None, tally: Tally | None = None) -> Response | None:
        """The cached answer under ``key`` (counted as cached), or None."""
        if key is None:
            return None
        response = self.cache.get(key)
        if response is not None:
            self.counts.cached += 1
            if tally is not None:
                tally["cached_calls"] += 1
        return response

    async def call(self, model_id: str, request: Request, *, tally: Tally | None = None) -> Response:
        """One completion: from the cache, else from the model (and then into the cache).

        ``tally`` (optional) gets this call's counts and the tokens of an answer not from the cache.
        Raises RunAborted or CallFailed.
        """
        key = self.cache_key(model_id, request)
        cached = self.cached(key, tally)
        if cached is not None:
            return cached
        response = await self.send(model_id, request, tally=tally)
        if key is not None:
            self.cache.put(key, response)
        return response

    async def send(self, model_id: str, request: Request, *, tally: Tally | None = None) -> Response:
        """One completion from the model itself (no cache): rate limiter, slot, retries.

        Raises RunAborted for what no retry can fix (a rejected key, an unknown model) and
        CallFailed when retries run out or the request is refused.
        """
        model = self._models[model_id]

        def on_retry(error: ProviderError, retry: int, delay: float) -> None:
            self.counts.retries += 1
            if tally is not None:
                tally["retries"] += 1

        try:
            response = (await with_retries(lambda: self.attempt(model, request, tally), self.options.retry,
                                           on_retry=on_retry)).value
        except (AuthenticationFailed, ModelNotFound, ConfigError) as err:
            raise RunAborted(err.message, err) from None
        except ProviderError as err:
            self.counts.failed += 1
            attempts = f" (after {err.attempts} attempts)" if err.attempts > 1 else ""
            raise CallFailed(f"{err.message}{attempts}", err) from None
        if tally is not None:
            usage = response.usage
            tally["input_tokens"] += usage.input_tokens
            tally["output_tokens"] += usage.output_tokens
            tally["cache_read_tokens"] += usage.cache_read_tokens
            tally["cache_write_tokens"] += usage.cache_write_tokens
        return response

    def _note_connect_failure(self, model: _Model, error: CannotConnect) -> None:
        """Gives up on a model whose first UNREACHABLE_AFTER attempts all failed to connect."""
        if model.connected:
            return  # it answered before: a blip, which retries are for
        model.connect_failures += 1
        if model.connect_failures >= UNREACHABLE_AFTER and model.unreachable is None:
            who = str(model.provider.model_id)
            endpoint = scrub_url(model.provider.base_url).rstrip("/")
            message = (f"{who}: cannot connect to {endpoint}: {error.reason or 'no connection'} "
                       f"({model.connect_failures} attempts failed to connect and none succeeded, "
                       "so it was given up on)")
            cause = EndpointUnreachable(message, model=who)
            model.unreachable = RunAborted(cause.message, cause)
        if model.unreachable is not None:
            raise model.unreachable

    async def attempt(self, model: _Model, request: Request, tally: Tally | None = None) -> Response:
        """One attempt on the wire: the model's rate limiter, a slot, the deadline. Raises ProviderError."""
        if model.unreachable is not None:
            raise model.unreachable
        model.provider.open_client()  # before the slot and the deadline (see Provider.open_client)
        # The token estimate is needed up front only under a tokens-per-minute limit; the flow
        # asks for it only when a token budget in the headers is close enough for it to matter.
        estimate = request.estimated_tokens() if model.limiter.counts_tokens else None
        await model.limiter.acquire(estimate or 0)
        flow = model.flow
        turn = await flow.acquire(CALL_ORDER.get()) if flow is not None else 0
        outcome: dict = {}
        try:
            response = await self._on_wire(model, request, tally, outcome)
        finally:
            if flow is not None:
                flow.release(turn, tokens=estimate if estimate is not None else
                             TokenCount(request.estimated_tokens, request.estimated_tokens_at_most), **outcome)
        if estimate is not None:
            usage = response.usage
            model.limiter.correct(usage.input_tokens + usage.output_tokens - estimate)
        return response

    async def _on_wire(self, model: _Model, request: Request, tally: Tally | None, outcome: dict) -> Response:
        """The attempt in one of the service's slots; ``outcome`` gets what the model's flow learns."""
        async with self.slots:
            if model.unreachable is not None:  # given up on while this call waited
                raise model.unreachable
            self.counts.calls += 1
            if tally is not None:
                tally["calls"] += 1
            deadline = self.options.deadline
            try:
                if deadline is None:
                    response = await model.provider.complete(request)
                else:
                    try:
                        response = await _within(model.provider.complete(request), deadline)
                    except asyncio.TimeoutError:
                        who = str(model.provider.model_id)
                        raise RequestTimedOut(f"{who}: timed out: no complete answer within the {deadline:g}s "
                                              f"deadline from {model.provider.base_url}", model=who) from None
            except CannotConnect as error:
                # Nothing reached a server: not an API call (nothing to pay, nothing the API counted).
                self.counts.calls -= 1
                if tally is not None:
                    tally["calls"] -= 1
                self._note_connect_failure(model, error)
                raise
            except RequestTimedOut:
                raise  # no answer: whether a server is there is not known
            except ProviderError as error:
                model.connected = True  # an error status, a dropped answer: a server is there
                outcome["rate_limits"] = error.rate_limits
                if isinstance(error, (RateLimited, Overloaded)):
                    outcome.update(throttled=True, retry_after=error.retry_after)
                raise
            model.connected = True
        outcome.update(ok=True, rate_limits=response.rate_limits)
        return response
