"""OpenAI's Batch API: a JSONL file of chat completion requests, uploaded with purpose "batch"."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Callable, Sequence

import httpx2
import openai

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
    ServerError,
)
from charter.providers.openai import read_completion

ENDPOINT = "/v1/chat/completions"

_STATES = {"validating": "validating", "in_progress": "in_progress", "finalizing": "finalizing",
           "completed": "ended", "failed": "failed", "expired": "expired", "cancelling": "cancelling",
           "cancelled": "cancelled"}


class OpenAIBatchClient(BatchClient):
    """``openai:MODEL`` on OpenAI's Batch API (or any server at the base URL that speaks it)."""

    kind = "openai"
    default_max_requests = 50_000
    default_max_bytes = 200 * 1024 * 1024

    @property
    def _client(self) -> openai.AsyncOpenAI:
        return self.provider._client

    def line(self, item: BatchItem) -> bytes:
        """The JSONL line for ``item``: the body the synchronous provider sends, ``prompt_cache_key`` included."""
        body = {**self.provider.payload(item.request), **self.provider._extra(item.request)}
        document = {"custom_id": item.custom_id, "method": "POST", "url": ENDPOINT, "body": body}
        return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")

    def encoded_size(self, item: BatchItem) -> int:
        return len(self.line(item))

    async def submit(self, items: Sequence[BatchItem], *,
                     on_submitted: Callable[[BatchHandle], object] | None = None) -> list[BatchHandle]:
        check_items(items)
        lines = [self.line(item) for item in items]
        handles = []
        for number, chunk in enumerate(split_items(items, [len(line) for line in lines], self.max_requests,
                                                   self.max_bytes), start=1):
            content = b"".join(lines[index] for index in chunk)
            upload = await self._call(lambda: self._api(
                "uploading the batch input", self._client.files.create(
                    file=(f"charter-batch-{number}.jsonl", content, "application/jsonl"), purpose="batch")))
            batch = await self._create(upload.id)
            handle = BatchHandle(self.kind, str(self.model_id), batch.id, self.provider.base_url, upload.id,
                                 _iso(batch.created_at), tuple(items[index].custom_id for index in chunk))
            handles.append(handle)
            if on_submitted is not None:
                on_submitted(handle)
        return handles

    async def _create(self, file_id: str) -> Any:
        """Creates the batch for an uploaded file. Creating is not idempotent: when an attempt failed
        in a way that may hide a batch the server did create (a timeout, a 5xx), the retry first looks
        for a batch on this file, which is unique to this submission, so nothing is paid for twice."""
        attempted = False

        async def attempt() -> Any:
            nonlocal attempted
            if attempted:
                page = await self._api("listing batches", self._client.batches.list(limit=100))
                existing = next((b for b in page.data if b.input_file_id == file_id), None)
                if existing is not None:
                    return existing
            attempted = True
            return await self._api("creating the batch", self._client.batches.create(
                input_file_id=file_id, endpoint=ENDPOINT, completion_window="24h"))

        return await self._call(attempt)

    async def status(self, handle: BatchHandle) -> BatchStatus:
        return self._status(handle, await self._retrieve(handle))

    async def _retrieve(self, handle: BatchHandle):
        self._check_handle(handle)
        return await self._call(lambda: self._api(f"batch {handle.batch_id}",
                                                  self._client.batches.retrieve(handle.batch_id)))

    def _status(self, handle: BatchHandle, batch: Any) -> BatchStatus:
        state = _STATES.get(batch.status)
        if state is None:
            raise MalformedResponse(f"{self.model_id}: batch {handle.batch_id} has an unknown status {batch.status!r}",
                                    model=str(self.model_id))
        counts = batch.request_counts
        total = max(handle.count, counts.total if counts else 0)
        succeeded = counts.completed if counts else 0
        errored = counts.failed if counts else 0
        rest = max(0, total - succeeded - errored)
        message = None
        if state == "failed":
            errored, rest = errored + rest, 0
            message = self.provider._detail("; ".join(
                (f"line {e.line}: " if e.line else "") + (e.message or e.code or "")
                for e in (batch.errors.data or [] if batch.errors else []))) or "the batch failed validation"
        return BatchStatus(handle.batch_id, state, batch.status, total, succeeded, errored,
                           cancelled=rest if state == "cancelled" else 0, expired=rest if state == "expired" else 0,
                           message=message)

    async def results(self, handle: BatchHandle) -> AsyncIterator[BatchResult]:
        batch = await self._retrieve(handle)
        status = self._status(handle, batch)
        if not status.done:
            raise BatchNotFinished(f"{self.model_id}: batch {handle.batch_id} has not finished "
                                   f"({status.raw_state}); wait for it first", model=str(self.model_id))
        wanted = set(handle.custom_ids)
        seen: set[str] = set()
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            async for line in self._stream_lines(file_id, seen):
                if line["custom_id"] in wanted:
                    yield self._result(line)
        for custom_id in handle.custom_ids:
            if custom_id not in seen:
                yield BatchResult(custom_id, None, missing_result_error(self.model_id, handle, status))

    async def _stream_lines(self, file_id: str, seen: set[str]) -> AsyncIterator[dict]:
        async def open_lines() -> AsyncIterator[dict]:
            try:
                async with self._client.files.with_streaming_response.content(file_id) as response:
                    async for text in response.iter_lines():
                        if text.strip():
                            yield self._parse_line(file_id, text)
            except (openai.OpenAIError, httpx2.HTTPError) as exc:
                raise self._translate(exc, f"batch output file {file_id}") from exc

        async for line in self._resumable(open_lines, lambda line: line["custom_id"], seen):
            yield line

    def output_result(self, text: str, source: str) -> BatchResult:
        """One line of a batch output file in OpenAI's format (which vLLM's ``run-batch`` also writes)
        as a result; MalformedResponse, naming ``source``, for a line that is not one."""
        return self._result(self._parse_line(source, text))

    def _parse_line(self, file_id: str, text: str) -> dict:
        try:
            line = json.loads(text)
        except ValueError:
            line = None
        if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
            raise MalformedResponse(f"{self.model_id}: batch output file {file_id} has an unreadable line: "
                                    f"{self.provider._detail(text)}", model=str(self.model_id))
        return line

    def _result(self, line: dict) -> BatchResult:
        custom_id = line["custom_id"]
        response = line.get("response") or {}
        error = line.get("error")
        who = str(self.model_id)
        if error:
            code = error.get("code") if isinstance(error, dict) else None
            detail = self.provider._detail((error.get("message") if isinstance(error, dict) else error) or code)
            kind = {"batch_expired": BatchItemExpired, "batch_cancelled": BatchItemCancelled,
                    "request_timeout": RequestTimedOut}.get(code, ServerError)
            return BatchResult(custom_id, None, kind(f"{who}: {custom_id}: {detail} ({code})", model=who))
        status_code = response.get("status_code")
        request_id = response.get("request_id")
        body = response.get("body")
        if status_code != 200:
            if not isinstance(status_code, int):
                return BatchResult(custom_id, None, MalformedResponse(
                    f"{who}: {custom_id}: the batch output has neither a response nor an error", model=who))
            return BatchResult(custom_id, None, self.provider._status_error(status_code, body, {}, request_id))
        try:
            return BatchResult(custom_id, completion_response(who, body, request_id))
        except MalformedResponse as exc:
            return BatchResult(custom_id, None, exc)

    async def cancel(self, handle: BatchHandle) -> None:
        self._check_handle(handle)
        await self._call(lambda: self._api(f"cancelling batch {handle.batch_id}",
                                           self._client.batches.cancel(handle.batch_id)))

    async def _api(self, what: str, call) -> Any:
        try:
            return await call
        except openai.OpenAIError as exc:
            raise self._translate(exc, what) from exc

    def _translate(self, exc: Exception, what: str) -> ProviderError:
        who = str(self.model_id)
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code == 404:
                return BatchNotFound(f"{who}: {what}: not found at {self.provider.base_url} (HTTP 404): "
                                     f"{self.provider._detail(api_message(exc.body)) or 'no details'}",
                                     model=who, status=404, request_id=exc.response.headers.get("x-request-id"))
            return self.provider._status_error(exc.status_code, exc.body, exc.response.headers,
                                               exc.response.headers.get("x-request-id"))
        if isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException)):
            return RequestTimedOut(f"{who}: {what}: no answer within {self.provider.timeout:g}s from "
                                   f"{self.provider.base_url}", model=who)
        if isinstance(exc, (openai.APIConnectionError, httpx2.HTTPError)):
            cause = self.provider._detail(exc.__cause__ or exc)
            return ConnectionFailed(f"{who}: {what}: connection to {self.provider.base_url} failed: {cause}",
                                    model=who)
        if isinstance(exc, openai.APIResponseValidationError):
            return MalformedResponse(f"{who}: {what}: unreadable answer: {self.provider._detail(exc)}", model=who)
        return BadRequest(f"{who}: {what}: {self.provider._detail(exc)}", model=who)


def completion_response(model: str, body: Any, request_id: str | None) -> Response:
    """A chat completion body as the synchronous OpenAI provider reads it (no latency: batches have none)."""
    try:
        completion = openai.types.chat.ChatCompletion.model_validate(body)
    except Exception as exc:  # pydantic's ValidationError, without importing pydantic
        raise MalformedResponse(f"{model}: the batch output holds an unreadable completion: "
                                f"{' '.join(str(exc).split())[:200]}", model=model) from None
    return read_completion(model, completion, request_id=request_id)


def _iso(seconds: int | None) -> str:
    moment = datetime.fromtimestamp(seconds or 0, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
