"""What a set of model calls will cost, before any is made: calls, tokens, prompt-cache reads, USD.

    estimate = CallEstimate()
    estimate.add("openai:gpt-4.1-mini", request, output_tokens=300)
    estimate.to_dict(PriceTable(), batch=False)

The commands' ``--dry-run`` (``charter run``, ``charter generate data``) build the requests they
would send and hand each one here; nothing is sent. How each figure is estimated:

- input tokens: the request as built (system prompt and messages) through the project's one
  token estimate (:func:`charter.tokens.estimate_tokens`), plus a few tokens of framing per message;
- output tokens: what the caller expects (a typical reply, a verdict of the spec's size), never
  more than the request's ``max_tokens``; ``max_output_tokens`` sums the ``max_tokens`` themselves,
  the most the calls can produce, and ``usd_max`` prices that;
- prompt-cache reads: the system prompt repeats on every call of a context, so every call after
  the first with the same prefix is counted as reading it from the provider's prompt cache, when
  the prefix is at least MIN_CACHED_PREFIX tokens (both APIs' minimum for the common models).
  OpenAI caches the longest multiple of 128 tokens automatically; Anthropic caches up to the last
  block marked ``cache_control`` and bills the first call as a cache write. Concurrent first calls
  and expired caches make real reads fewer;
- cost: the price table (:mod:`charter.providers.pricing`), with BATCH_DISCOUNT on every token
  when the calls go through the batch APIs; a model the table does not know gets no cost.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import asdict, dataclass, field

from .base import Request, parse_model_id, system_tokens
from .pricing import BATCH_DISCOUNT, PriceTable

MIN_CACHED_PREFIX = 1024
# Tokens of chat framing per message (role markers), as Request.estimated_tokens counts them.
PER_MESSAGE_TOKENS = 4


@dataclass
class ModelEstimate:
    """One model's estimated calls and tokens."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    max_output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def tally(self, output: str = "output_tokens") -> dict[str, int]:
        """The figures as a call Tally (what Price.cost reads), with ``output`` as the output tokens."""
        return {"calls": self.calls, "input_tokens": self.input_tokens, "output_tokens": getattr(self, output),
                "cache_read_tokens": self.cache_read_tokens, "cache_write_tokens": self.cache_write_tokens}


def input_tokens(request: Request) -> int:
    """The estimated prompt tokens of ``request`` (system prompt, messages, framing)."""
    return request.estimated_tokens() - request.max_tokens


def cached_prefix(model_id: str, request: Request) -> tuple[str, int] | None:
    """(a key of the prefix, its cacheable tokens) that ``model_id``'s prompt cache would keep for
    ``request``, or None when nothing would be cached."""
    system = request.system
    if system is None:
        return None
    provider = parse_model_id(model_id).provider
    if provider == "anthropic":
        if isinstance(system, str):
            return None  # a plain string has no cache breakpoint
        marked = [i for i, block in enumerate(system) if block.get("cache_control")]
        if not marked:
            return None
        text = "\n\n".join(block["text"] for block in system[: marked[-1] + 1])
        key, tokens = _prefix(text)
    else:
        key, tokens = _prefix(request.system_text or "")
        tokens = tokens // 128 * 128
    if tokens < MIN_CACHED_PREFIX:
        return None
    return key, tokens


# (hash, tokens) of the prefixes seen: an estimate sees the same few system prompts on every call.
@functools.lru_cache(maxsize=64)
def _prefix(text: str) -> tuple[str, int]:
    return hashlib.sha256(text.encode("utf-8")).hexdigest(), system_tokens(text)


@dataclass
class CallEstimate:
    """Estimated calls per model; ``add`` one request at a time (see the module docstring)."""

    models: dict[str, ModelEstimate] = field(default_factory=dict)
    _prefixes: set = field(default_factory=set, repr=False)

    def add(self, model_id: str, request: Request, *, output_tokens: int, times: int = 1) -> int:
        """Counts ``request`` to ``model_id`` ``times`` times, each answered with ``output_tokens``;
        returns the request's estimated input tokens."""
        entry = self.models.setdefault(model_id, ModelEstimate())
        prompt = input_tokens(request)
        entry.calls += times
        entry.input_tokens += prompt * times
        entry.output_tokens += min(output_tokens, request.max_tokens) * times
        entry.max_output_tokens += request.max_tokens * times
        prefix = cached_prefix(model_id, request)
        if prefix is None or times < 1:
            return prompt
        key, tokens = prefix
        reads = times
        if (model_id, key) not in self._prefixes:
            self._prefixes.add((model_id, key))
            reads -= 1
            if parse_model_id(model_id).provider == "anthropic":
                entry.cache_write_tokens += tokens
        entry.cache_read_tokens += tokens * reads
        return prompt

    def scale(self, factor: int) -> None:
        """Every figure times ``factor`` (the same calls made ``factor`` times), except the cache
        writes: a prefix written once is read by the repeats."""
        for entry in self.models.values():
            writes = entry.cache_write_tokens
            for name, value in asdict(entry).items():
                setattr(entry, name, value * factor)
            entry.cache_read_tokens += writes * (factor - 1)
            entry.cache_write_tokens = writes

    def merge(self, other: "CallEstimate") -> None:
        for model_id, figures in other.models.items():
            entry = self.models.setdefault(model_id, ModelEstimate())
            for name, value in asdict(figures).items():
                setattr(entry, name, getattr(entry, name) + value)
        self._prefixes |= other._prefixes

    def to_dict(self, prices: PriceTable | None = None, *, batch: bool = False, assumptions: tuple[str, ...] = ()
                ) -> dict:
        """The estimate as run.json and the reports record it: per model the calls, tokens, cache
        reads and USD (expected and at most), their totals, and the assumptions made."""
        prices = prices or PriceTable()
        factor = BATCH_DISCOUNT if batch else 1.0
        models: dict[str, dict] = {}
        notes: list[str] = []
        for model_id in sorted(self.models):
            entry = self.models[model_id]
            price = prices.lookup(model_id)
            if price is None:
                notes.append(f"unknown model {model_id}: cost not estimated (add it with --prices)")
            usd = None if price is None else round(price.cost(entry.tally()) * factor, 6)
            usd_max = None if price is None else round(price.cost(entry.tally("max_output_tokens")) * factor, 6)
            models[model_id] = {**asdict(entry), "usd": usd, "usd_max": usd_max}
        total = {name: sum(m[name] for m in models.values()) for name in asdict(ModelEstimate())}
        costs = [m["usd"] for m in models.values()]
        known = bool(costs) and None not in costs
        total["usd"] = round(sum(costs), 6) if known else None
        total["usd_max"] = round(sum(m["usd_max"] for m in models.values()), 6) if known else None
        return {"models": models, "total": total, "batch_discount": BATCH_DISCOUNT if batch else None,
                "assumptions": list(assumptions), "notes": notes}


def format_estimate(estimate: dict) -> str:
    """The estimate as `--dry-run` prints it: one line per model and a total."""
    lines = []
    for model_id, entry in [*estimate["models"].items(), ("total", estimate["total"])]:
        cost = "cost not estimated" if entry["usd"] is None else \
            f"~${entry['usd']:.4f} (at most ${entry['usd_max']:.4f})"
        lines.append(f"  {model_id}: {entry['calls']:,} calls, ~{entry['input_tokens']:,} input tokens "
                     f"({entry['cache_read_tokens']:,} read from the prompt cache), ~{entry['output_tokens']:,} "
                     f"output tokens (at most {entry['max_output_tokens']:,}); {cost}")
    if estimate.get("batch_discount"):
        lines.append(f"  prices with the batch discount (x{estimate['batch_discount']:g})")
    lines += [f"  assumes: {text}" for text in estimate["assumptions"]]
    lines += [f"  note: {text}" for text in estimate["notes"]]
    return "\n".join(lines)


__all__ = ["BATCH_DISCOUNT", "MIN_CACHED_PREFIX", "CallEstimate", "ModelEstimate", "cached_prefix",
           "format_estimate", "input_tokens"]
