"""Anthropic's Message Batches: ``messages.batches.create(requests=[{"custom_id", "params"}])``."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Callable, Sequence

import anthropic
import httpx2

from charter.providers.anthropic import read_message
from charter.providers.base import Response, api_message
from charter.providers.batch import (
    BatchClient,
    BatchHandle,
    BatchItem,
    BatchItemCancelled,
    BatchItemExpired,
    BatchNotFinished,
    BatchNotFound,
    BatchResult,
    BatchStatus,
    check_items,
    missing_result_error,
    split_items,
)
from charter.providers.errors import (
    BadRequest,
    ConnectionFailed,
    MalformedResponse,
    ProviderError,
    RequestTimedOut,
)

# The HTTP status each error type of an errored result stands for, so it maps to the class the
# synchronous call would have raised.
_ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
                 "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
                 "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "gateway_timeout_error": 504,
                 "overloaded_error": 529}

# Bytes of the create request around its items: '{"requests":[' ... ']}'.
_ENVELOPE_BYTES = 16


class AnthropicBatchClient(BatchClient):
    """``anthropic:MODEL`` on the Message Batches API."""

    kind = "anthropic"
    default_max_requests = 100_000
    default_max_bytes = 256 * 1024 * 1024

    @property
    def _client(self) -> anthropic.AsyncAnthropic:
        return self.provider._client

    def entry(self, item: BatchItem) -> dict[str, Any]:
        """The request entry for ``item``: its params are the synchronous body, cache_control kept."""
        return {"custom_id": item.custom_id, "params": self.provider.payload(item.request)}

    def encoded_size(self, item: BatchItem) -> int:
        # The entry's JSON plus the comma that separates it from the next.
        return len(json.dumps(self.entry(item), ensure_ascii=False, separators=(",", ":")).encode("utf-8")) + 1

    async def submit(self, items: Sequence[BatchItem], *,
                     on_submitted: Callable[[BatchHandle], object] | None = None) -> list[BatchHandle]:
        check_items(items)
        entries = [self.entry(item) for item in items]
        sizes = [self.encoded_size(item) for item in items]
        handles = []
        for chunk in split_items(items, sizes, self.max_requests, self.max_bytes, overhead=_ENVELOPE_BYTES):
            requests = [entries[index] for index in chunk]
            batch = await self._call(lambda: self._api("creating the message batch",
                                                       self._client.messages.batches.create(requests=requests)))
            handle = BatchHandle(self.kind, str(self.model_id), batch.id, self.provider.base_url, None,
                                 _iso(batch.created_at), tuple(items[index].custom_id for index in chunk))
            handles.append(handle)
            if on_submitted is not None:
                on_submitted(handle)
        return handles

    async def status(self, handle: BatchHandle) -> BatchStatus:
        self._check_handle(handle)
        batch = await self._call(lambda: self._api(f"message batch {handle.batch_id}",
                                                   self._client.messages.batches.retrieve(handle.batch_id)))
        return self._status(handle, batch)

    def _status(self, handle: BatchHandle, batch: Any) -> BatchStatus:
        counts = batch.request_counts
        total = max(handle.count, counts.processing + counts.succeeded + counts.errored + counts.canceled
                    + counts.expired)
        raw = batch.processing_status
        if raw == "in_progress":
            state = "in_progress"
        elif raw == "canceling":
            state = "cancelling"
        elif raw == "ended":
            # Anthropic has one end state; say why it ended where the counts leave no doubt.
            if batch.cancel_initiated_at:
                state = "cancelled"
            elif counts.expired and not (counts.succeeded or counts.errored):
                state = "expired"
            else:
                state = "ended"
        else:
            raise MalformedResponse(f"{self.model_id}: message batch {handle.batch_id} has an unknown status "
                                    f"{raw!r}", model=str(self.model_id))
        return BatchStatus(handle.batch_id, state, raw, total, counts.succeeded, counts.errored, counts.canceled,
                           counts.expired)

    async def results(self, handle: BatchHandle) -> AsyncIterator[BatchResult]:
        status = await self.status(handle)
        if not status.done:
            raise BatchNotFinished(f"{self.model_id}: message batch {handle.batch_id} has not ended "
                                   f"({status.raw_state}); wait for it first", model=str(self.model_id))
        wanted = set(handle.custom_ids)
        seen: set[str] = set()

        async def open_results() -> AsyncIterator[Any]:
            what = f"results of message batch {handle.batch_id}"
            try:
                decoder = await self._client.messages.batches.results(handle.batch_id)
                try:
                    async for entry in decoder:
                        yield entry
                finally:
                    await decoder.close()
            except (anthropic.AnthropicError, httpx2.HTTPError) as exc:
                raise self._translate(exc, what) from exc
            except ValueError as exc:  # a line that is not JSON
                raise MalformedResponse(f"{self.model_id}: {what}: unreadable line: {self.provider._detail(exc)}",
                                        model=str(self.model_id)) from exc

        async for entry in self._resumable(open_results, lambda entry: entry.custom_id, seen):
            if entry.custom_id in wanted:
                yield self._result(entry)
        for custom_id in handle.custom_ids:
            if custom_id not in seen:
                yield BatchResult(custom_id, None, missing_result_error(self.model_id, handle, status))

    def _result(self, entry: Any) -> BatchResult:
        custom_id = entry.custom_id
        result = entry.result
        who = str(self.model_id)
        kind = getattr(result, "type", None)
        if kind == "succeeded":
            try:
                return BatchResult(custom_id, message_response(who, result.message))
            except MalformedResponse as exc:
                return BatchResult(custom_id, None, exc)
        if kind == "errored":
            body = _plain(result.error)
            error_type = (body.get("error") or {}).get("type") if isinstance(body, dict) else None
            status = _ERROR_STATUS.get(error_type, 500)
            request_id = body.get("request_id") if isinstance(body, dict) else None
            return BatchResult(custom_id, None, self.provider._status_error(status, body, {}, request_id))
        if kind == "canceled":
            return BatchResult(custom_id, None, BatchItemCancelled(
                f"{who}: {custom_id}: the batch was cancelled before this item ran", model=who))
        if kind == "expired":
            return BatchResult(custom_id, None, BatchItemExpired(
                f"{who}: {custom_id}: the batch expired before this item ran", model=who))
        return BatchResult(custom_id, None, MalformedResponse(
            f"{who}: {custom_id}: unknown result type {kind!r}", model=who))

    async def cancel(self, handle: BatchHandle) -> None:
        self._check_handle(handle)
        await self._call(lambda: self._api(f"cancelling message batch {handle.batch_id}",
                                           self._client.messages.batches.cancel(handle.batch_id)))

    async def _api(self, what: str, call) -> Any:
        try:
            return await call
        except anthropic.AnthropicError as exc:
            raise self._translate(exc, what) from exc

    def _translate(self, exc: Exception, what: str) -> ProviderError:
        who = str(self.model_id)
        if isinstance(exc, anthropic.APIStatusError):
            request_id = exc.response.headers.get("request-id")
            if exc.status_code == 404:
                return BatchNotFound(f"{who}: {what}: not found at {self.provider.base_url} (HTTP 404): "
                                     f"{self.provider._detail(api_message(exc.body)) or 'no details'}",
                                     model=who, status=404, request_id=request_id)
            return self.provider._status_error(exc.status_code, exc.body, exc.response.headers, request_id)
        if isinstance(exc, (anthropic.APITimeoutError, httpx2.TimeoutException)):
            return RequestTimedOut(f"{who}: {what}: no answer within {self.provider.timeout:g}s from "
                                   f"{self.provider.base_url}", model=who)
        if isinstance(exc, (anthropic.APIConnectionError, httpx2.HTTPError)):
            cause = self.provider._detail(exc.__cause__ or exc)
            return ConnectionFailed(f"{who}: {what}: connection to {self.provider.base_url} failed: {cause}",
                                    model=who)
        if isinstance(exc, anthropic.APIResponseValidationError):
            return MalformedResponse(f"{who}: {what}: unreadable answer: {self.provider._detail(exc)}", model=who)
        return BadRequest(f"{who}: {what}: {self.provider._detail(exc)}", model=who)


def message_response(model: str, message: Any) -> Response:
    """A Message as the synchronous Anthropic provider reads it (no latency: batches have none)."""
    return read_message(model, message)


def _plain(value: Any) -> Any:
    return value.model_dump() if hasattr(value, "model_dump") else value


def _iso(moment: Any) -> str:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(moment)
