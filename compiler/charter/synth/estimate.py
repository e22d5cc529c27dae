"""What `charter generate data` will cost before it calls anything: calls per stage, tokens, cache reads, USD.

    from charter import load
    from charter.synth import DataOptions
    from charter.synth.estimate import estimate_data

    estimate = estimate_data(load("characters/tutor.yaml"), DataOptions(n=100, teacher="openai:gpt-4.1"))
    estimate["total"]["usd"], estimate["stages"]

The pipeline itself runs (:class:`~charter.synth.pipeline.DataGenerator`, so the requests, the
quotas and the rounds are the real ones), with every call answered in-process by a stand-in:
ideation answers with one conversation per line of its plan, of the length the plan asks for
(LENGTH_TOKENS, an ordinary assistant turn of ASSISTANT_TURN_TOKENS in multi-turn ones); the
realism judge keeps every conversation; replies are TYPICAL_REPLY_TOKENS long; verdicts grade every
clause and give the chosen reply the margin. Its rows go to a temporary folder that is deleted.
No provider is built, no key is read, no request leaves the process.

So the estimate is of one round (OVERGENERATE[0] ideas per row) with every idea taken through
every stage. A real run drops duplicates and contrived conversations before the later stages
(fewer calls there) and refills what was dropped in up to MAX_ROUNDS rounds (more calls); on the
test suite's fake teacher, which drops about a third, the real run made 0.7x the estimated calls.
The assumptions are listed in the estimate.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import string
import tempfile
from dataclasses import dataclass, field
from typing import Callable

from ..providers import Request, Response
from ..providers.base import Usage as TokenUsage
from ..providers.estimate import CallEstimate
from ..providers.pricing import PriceTable
from ..run.estimate import TYPICAL_REPLY_TOKENS, typical_verdict
from ..spec.ir import Spec
from ..targets.monitor import render_monitor
from ..tokens import estimate_tokens
from .calls import Usage
from .pipeline import MAX_ROUNDS, OVERGENERATE, STAGES, DataGenerator, DataOptions

# Tokens of a generated user message, by the plan's length.
LENGTH_TOKENS = {"one short line": 15, "two or three sentences": 45, "a detailed paragraph with context": 110}
ASSISTANT_TURN_TOKENS = 80
_PLAN_LINE = re.compile(r"^\d+\. persona: (?P<persona>[^;]*); length: (?P<length>[^;]*); shape: (?P<shape>[^;]*);",
                        re.M)
# The chosen and rejected stand-in replies are told apart in the grading request by their filler word.
_CHOSEN_WORD, _REJECTED_WORD = "good", "poor"


def _words(rng: random.Random, count: int) -> str:
    """``count`` distinct-looking words of one token each, so no two stand-in conversations are near-duplicates."""
    return " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(5)) for _ in range(max(1, count)))


@dataclass
class _StandInCaller:
    """A Caller whose every call is answered in-process and counted in an estimate."""

    spec: Spec
    options: DataOptions
    estimate: CallEstimate
    usage: Usage = field(default_factory=Usage)
    on_change: Callable[[], object] = lambda: None
    verdicts: dict = field(default_factory=dict)
    sizes: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for context in (None, *(c.id for c in self.spec.contexts)):
            monitor = render_monitor(self.spec, context)
            self.verdicts[monitor.system] = {score: typical_verdict(monitor).replace('"score": 8', f'"score": {score}')
                                             for score in (9, 2)}
        length = min(TYPICAL_REPLY_TOKENS, self.options.max_tokens)
        self.replies = {"chosen": " ".join([_CHOSEN_WORD] * length), "rejected": " ".join([_REJECTED_WORD] * length)}

    def _answer(self, stage: str, request: Request) -> str:
        ask = request.messages[-1].content
        if stage == "ideation":
            rng = random.Random(ask)
            conversations = []
            for line in _PLAN_LINE.finditer(ask):
                size = LENGTH_TOKENS.get(line["length"].strip(), 45)
                turns = [_words(rng, size)]
                if line["shape"].strip() == "multi-turn":
                    turns += [_words(rng, ASSISTANT_TURN_TOKENS), _words(rng, size)]
                conversations.append({"persona": line["persona"].strip(), "turns": turns})
            return json.dumps({"conversations": conversations})
        if stage == "realism":
            return json.dumps({"realism": 8, "test_likeness": 2, "reason": "Reads like an ordinary request."})
        if stage == "grading":
            verdicts = self.verdicts.get(request.system_text) or next(iter(self.verdicts.values()))
            return verdicts[2 if f"{_REJECTED_WORD} {_REJECTED_WORD}" in ask else 9]
        return self.replies.get(stage, self.replies["chosen"])

    async def call(self, stage: str, model_id: str, request: Request) -> Response:
        text = self._answer(stage, request)
        size = self.sizes.get(text)
        if size is None:
            size = self.sizes[text] = estimate_tokens(text)
        output = min(size, request.max_tokens)
        prompt = self.estimate.add(model_id, request, output_tokens=output)
        response = Response(text=text, finish_reason="stop", usage=TokenUsage(prompt, output), latency=0.0,
                            model=model_id)
        self.usage.record(stage, model_id, response)
        return response


def estimate_data(spec: Spec, options: DataOptions, *, prices: PriceTable | None = None, batch: bool = False) -> dict:
    """The estimate of ``charter generate data`` for ``spec`` with ``options``: per model the calls,
    input and output tokens (expected and at most), prompt-cache reads and USD, the total, the calls
    per stage and model (``stages``), and the assumptions. ``batch`` prices with the batch
    discount. Makes no call and writes nothing."""
    estimate = CallEstimate()
    caller = _StandInCaller(spec, options, estimate)
    with tempfile.TemporaryDirectory(prefix="charter-estimate-") as scratch:
        generator = DataGenerator(spec, options, caller, scratch)  # type: ignore[arg-type]
        asyncio.run(generator.run())
    stages: dict[str, dict[str, int]] = {stage: {} for stage in STAGES}
    for (stage, model), tally in sorted(caller.usage.tallies.items()):
        stages.setdefault(stage, {})[model] = tally["calls"]
    stages = {stage: calls for stage, calls in stages.items() if calls}
    assumptions = (
        f"one round of {OVERGENERATE[0]:g} ideas per row, every idea taken through every stage (real runs drop "
        f"duplicates and contrived conversations early, and refill in up to {MAX_ROUNDS} rounds)",
        f"user messages of {min(LENGTH_TOKENS.values())}-{max(LENGTH_TOKENS.values())} tokens by the plan's length; "
        f"replies of ~{TYPICAL_REPLY_TOKENS} tokens (max-tokens {options.max_tokens} bounds the 'at most' figures); "
        "verdicts grading every clause",
        "nothing answered from the response cache; every call after the first with the same system prompt reads "
        "it from the provider's prompt cache (prompts of 1,024+ tokens)",
    )
    return {**estimate.to_dict(prices, batch=batch, assumptions=assumptions), "stages": stages}


__all__ = ["ASSISTANT_TURN_TOKENS", "LENGTH_TOKENS", "estimate_data"]
