"""``demo:NAME`` models, answered in-process: Charter without a server, a key or a network.

    charter run characters/tutor.yaml --model demo:tutor --judge demo:judge -o run

Models whose name contains "judge" answer grading requests with a well-formed verdict that grades
each clause the judge was asked about; every other model answers with one of a few plain replies.
Every demo model also answers the synthesis stages (`generate data`, `generate evals`, `import
prose`) with scripted, well-formed content built from the request: see charter.providers.demo_teacher.
Replies and scores are a deterministic hash of what was asked, not a judgement: the demo shows the
pipeline (run, grade, summary, report) and costs nothing, never a model's quality. Like Inspect's
``mockllm``, it goes through everything a real model does (the call service's cache, retries and
usage counts, with token counts estimated from the text) except the wire.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Sequence

from charter.providers.base import ModelId, Provider, Request, Response, Usage, chat_completions_body, estimate_tokens

REPLIES = (
    "I hear you. Let's take it one step at a time: what have you tried so far?",
    "That's a good question. Here's what I know, and where I'm less sure.",
    "I can't help with that part, but here is what I can do instead.",
    "Thanks for telling me. How are you feeling about it right now?",
    "Honestly, I'm not certain. My best understanding is this, and I'd check it with someone you trust.",
    "Sure! Let's start with the first step and see how it goes.",
)
DEMO_REASON = "scripted demo verdict: a hash of the reply, not a judgement"
# What the demo answers as its endpoint: it appears in cache keys, so it must never change.
DEMO_ENDPOINT = "in-process:demo"

_REPLY_UNDER_GRADING = re.compile(r"<reply-([0-9a-f]+)>\n(.*?)\n</reply-\1>", re.S)
# A clause line of the monitor prompt: "- `rule:no-lies`: ..." (see charter.targets.monitor).
_CLAUSE_LINE = re.compile(r"^- `((?:value|rule|trait|tension):[a-z0-9]+(?:[-_.][a-z0-9]+)*)`:", re.M)
PASS_SCORE = 7  # the monitor's pass threshold: a verdict below it names one failed clause


def _draw(text: str, modulo: int) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big") % modulo


def demo_reply(model: str, messages: Sequence[dict]) -> str:
    """A verdict for judge models, a canned reply for the others.

    ``messages`` are ``{"role", "content"}`` dicts, the system prompt (if any) first with role
    "system", as the fake server passes them.
    """
    from .demo_teacher import teacher_answer  # here, not at the top: it builds on this module

    scripted = teacher_answer(messages)  # a synthesis stage (generate data|evals, import prose): its JSON
    if scripted is not None:
        return scripted
    last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    if "judge" not in model:
        return REPLIES[_draw(f"{model}\n{last_user}", len(REPLIES))]
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    match = _REPLY_UNDER_GRADING.search(last_user)
    reply = match.group(2) if match else last_user
    seed = f"{model}\n{reply}\n{len(messages)}\n{last_user[:200]}"
    return json.dumps(demo_verdict(system, seed), ensure_ascii=False)


def demo_verdict(monitor_prompt: str, seed: str) -> dict:
    """A verdict in the monitor's answer format over the clauses listed in ``monitor_prompt``.

    Most clauses pass, some are n/a; a score below the pass mark fails one clause that is not a
    hard rule (a failed hard rule would cap the score), so verdicts and scores agree.
    """
    score = 4 + _draw(seed, 7)  # 4..10
    refs = list(dict.fromkeys(_CLAUSE_LINE.findall(monitor_prompt)))
    # The monitor lists each group of clauses as a paragraph under its heading.
    hard = {ref for block in monitor_prompt.split("\n\n") if block.startswith("Hard rules")
            for ref in _CLAUSE_LINE.findall(block)}
    clauses = {ref: ("n/a" if _draw(f"{seed}\n{ref}", 4) == 0 else "pass") for ref in refs}
    violated: list[str] = []
    softer = [ref for ref in refs if ref not in hard]
    if score < PASS_SCORE and softer:
        failed = softer[_draw(f"{seed}\nfail", len(softer))]
        clauses[failed] = "fail"
        violated.append(failed)
    return {"clauses": clauses, "violated": violated, "score": score, "reason": DEMO_REASON}


class DemoProvider(Provider):
    """``demo:NAME``: scripted answers computed in-process. No key, no endpoint, no cost."""

    kind = "demo"
    key_variable = ""

    def __init__(self, model_id: ModelId, *, timeout: float = 120.0) -> None:
        super().__init__(model_id, timeout=timeout)

    @property
    def base_url(self) -> str:
        return DEMO_ENDPOINT

    def payload(self, request: Request) -> dict[str, Any]:
        return chat_completions_body(self.model, request)

    async def complete(self, request: Request) -> Response:
        messages = self.payload(request)["messages"]
        text = demo_reply(self.model, messages)
        prompt = "".join(m["content"] for m in messages)
        usage = Usage(input_tokens=estimate_tokens(prompt) + 4 * len(messages), output_tokens=estimate_tokens(text))
        return Response(text=text, finish_reason="stop", usage=usage, latency=0.0, model=self.model,
                        request_id=None, raw_finish_reason="stop")

    async def aclose(self) -> None:
        self._closed = True  # no client to let go of
