"""What `charter run` will cost before it calls anything: its calls, tokens, prompt-cache reads and USD.

    from charter.run import RunOptions, load_plan
    from charter.run.estimate import estimate_run

    estimate = estimate_run(load_plan("characters/tutor.yaml"),
                            RunOptions(models=("openai:gpt-4.1-mini",), judge="openai:gpt-4.1"))
    estimate["total"]["usd"]

The estimate goes through every case the way the runner does, with the runner's own code (so the
requests are the ones a run sends: character prompt, conversation so far, the judge's monitor
prompt and rubric), but every call is answered in-process by a stand-in: a reply of
TYPICAL_REPLY_TOKENS tokens (never more than ``--max-tokens``) and, for the judge, a verdict
passing every clause of the spec, which is the size a real verdict has. No provider is built, no
key is read, no request leaves the process, nothing is written.

What it assumes, also listed in the estimate's ``assumptions``: replies of TYPICAL_REPLY_TOKENS
tokens (``usd_max`` prices ``max_tokens`` per reply instead); one verdict per reply with no
verdict retry; nothing answered from the response cache (a resumed run costs less); and prompt-
cache reads as :mod:`charter.providers.estimate` counts them.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from ..providers import Request, Response
from ..providers.base import Usage
from ..providers.estimate import CallEstimate
from ..providers.pricing import PriceTable
from ..targets.monitor import MonitorPrompt, judge_messages
from ..tokens import estimate_tokens
from .cases import Plan
from .runner import Runner, RunOptions

# A chat model's typical reply to one user turn, in tokens: a few paragraphs. Real replies vary
# widely (a child's tutor writes less, a coding assistant more); --max-tokens bounds the worst case.
TYPICAL_REPLY_TOKENS = 300
_REASON = "The reply keeps the character: it follows the rules that apply and handles the trade-off as the spec says."


def typical_reply(tokens: int = TYPICAL_REPLY_TOKENS) -> str:
    """A stand-in reply of about ``tokens`` tokens (one per word)."""
    return " ".join(["word"] * max(1, tokens))


def typical_verdict(monitor: MonitorPrompt) -> str:
    """A verdict as the judge writes it: every clause of the monitor graded, a reason, a score."""
    return json.dumps({"clauses": {ref: "pass" for ref in monitor.clause_refs}, "violated": [],
                       "reason": _REASON, "score": 8})


class _StandIn(Runner):
    """The runner with every call answered in-process and counted in an estimate."""

    def __init__(self, plan: Plan, options: RunOptions, estimate: CallEstimate) -> None:
        super().__init__(plan, options, Path("."), cache=None)
        self.estimate = estimate
        self.reply = typical_reply(min(TYPICAL_REPLY_TOKENS, options.max_tokens))
        # The judge is told apart by its system prompt, the monitor's (the same model may be both).
        self.verdicts: dict[str, str] = {}
        self.sizes: dict[str, int] = {}  # tokens of each stand-in text
        self.read: dict[tuple, object] = {}  # (verdict text, clauses, hard rules) -> the verdict read
        for context in dict.fromkeys(case["context"] for case in plan.cases):
            monitor = plan.monitor(context)
            text = judge_messages(monitor, [{"role": "user", "content": "-"}], "-")[0]["content"]
            system = Request(messages=({"role": "user", "content": "-"},), system=({"type": "text", "text": text},))
            self.verdicts[system.system_text] = typical_verdict(monitor)

    def read_verdict(self, text: str, monitor: MonitorPrompt):
        # Every stand-in verdict of a context is the same text, graded over a few clause sets: read
        # each pair once (the runner copies what it keeps of a verdict, so sharing one is safe).
        key = (text, monitor.clause_refs, monitor.hard_refs)
        verdict = self.read.get(key)
        if verdict is None:
            verdict = self.read[key] = super().read_verdict(text, monitor)
        return verdict

    async def call(self, model_id: str, request: Request, tally) -> Response:
        text = self.reply
        if model_id == self.options.judge and request.system_text in self.verdicts:
            text = self.verdicts[request.system_text]
        output = min(self.sizes.get(text) or self.sizes.setdefault(text, estimate_tokens(text)), request.max_tokens)
        prompt = self.estimate.add(model_id, request, output_tokens=output)
        return Response(text=text, finish_reason="stop", usage=Usage(prompt, output), latency=0.0, model=model_id)


def estimate_run(plan: Plan, options: RunOptions, *, prices: PriceTable | None = None, batch: bool | None = None,
                 samples: int | None = None) -> dict:
    """The estimate of a run of ``plan`` with ``options`` (every case, done or not): per model the
    calls, input and output tokens (expected and at most), prompt-cache reads and USD, the total,
    and the assumptions. ``batch`` prices with the batch discount (default: ``options.batch`` when
    the options have it). Makes no call.

    ``samples``: replies drawn per case (default ``options.samples`` when the options have it, else
    1). Every figure is multiplied by it, on the assumption that each sample repeats the case's calls;
    if the runner draws samples inside ``run_case`` itself, the stand-in already counts them: pass 1.
    """
    batch = bool(getattr(options, "batch", False)) if batch is None else batch
    samples = int(getattr(options, "samples", 1) or 1) if samples is None else samples
    estimate = CallEstimate()
    runner = _StandIn(plan, options, estimate)

    async def every_case() -> None:
        for model in options.models:
            for variant in options.variants:
                for case in plan.cases:
                    await runner.run_case(case, model, variant)

    asyncio.run(every_case())
    if samples > 1:
        estimate.scale(samples)
    assumptions = (
        f"model replies of ~{TYPICAL_REPLY_TOKENS} tokens (max-tokens {options.max_tokens} bounds the 'at most' "
        "figures); verdicts grading every clause, no verdict retries",
        "nothing answered from the response cache; every call after the first with the same system prompt "
        "reads it from the provider's prompt cache (prompts of 1,024+ tokens)",
    ) + ((f"{samples} samples per case",) if samples > 1 else ())
    return estimate.to_dict(prices, batch=batch, assumptions=assumptions)


__all__ = ["TYPICAL_REPLY_TOKENS", "estimate_run", "typical_reply", "typical_verdict"]
