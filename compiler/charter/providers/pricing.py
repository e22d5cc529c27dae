"""Estimated cost of a run: a small, dated price table in USD per million tokens, user-overridable.

Prices change and new models appear every week, so the table is short, says when it was
compiled, and never blocks a run: a model it does not know gets "cost not estimated", not a guess.
Override or extend it with ``--prices FILE`` (JSON or YAML)::

    gpt-5-mini: {input: 0.25, output: 2.00, cached_input: 0.025}
    my-local-model: {input: 0, output: 0}
    "openai-compatible:llama3.1:8b": {input: 0, output: 0}

A key is a bare model name (matches that model on any provider), a full ``provider:model``
id (wins over the rest), or ``provider:*`` (every other model of that provider, before bare
names; the built-in ``demo:*`` makes the in-process demo models free). A name also matches dated snapshots of it: ``gpt-5-mini`` prices
``gpt-5-mini-2025-08-07``; the longest matching name wins. ``cached_input`` defaults to
``input`` and ``cache_write`` (Anthropic's 5-minute cache writes) to 1.25 x ``input``.

The cost of a call: uncached input x input + cache reads x cached_input + cache writes x
cache_write + output x output. Token counts are the ones the API reported; answers replayed from
the response cache cost nothing and are not counted.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping

import yaml

from ..diagnostics import CharterError

PRICES_AS_OF = "2026-11"
# OpenAI Batch and Anthropic Message Batches bill every token at half the list price.
BATCH_DISCOUNT = 0.5
PRICES_SOURCE = "built-in table (list prices, standard tier, compiled 2026-11; check your provider's pricing page)"


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float
    cache_write: float
    source: str = PRICES_SOURCE
    as_of: str = PRICES_AS_OF

    def cost(self, tally: Mapping[str, int]) -> float:
        cached = tally.get("cache_read_tokens", 0)
        written = tally.get("cache_write_tokens", 0)
        fresh = max(0, tally.get("input_tokens", 0) - cached - written)
        return (fresh * self.input + cached * self.cached_input + written * self.cache_write
                + tally.get("output_tokens", 0) * self.output) / 1_000_000

    def to_dict(self) -> dict:
        return asdict(self)


def _price(input: float, output: float, cached_input: float, cache_write: float | None = None) -> Price:
    return Price(input, output, cached_input, input * 1.25 if cache_write is None else cache_write)


BUILTIN_PRICES: dict[str, Price] = {
    # OpenAI (cached input is billed automatically for repeated prefixes of 1,024+ tokens).
    "gpt-4o-mini": _price(0.15, 0.60, 0.075, 0.15),
    "gpt-4.1": _price(2.00, 8.00, 0.50, 2.00),
    "gpt-4.1-mini": _price(0.40, 1.60, 0.10, 0.40),
    "gpt-4.1-nano": _price(0.10, 0.40, 0.025, 0.10),
    "gpt-5": _price(1.25, 10.00, 0.125, 1.25),
    "gpt-5-mini": _price(0.25, 2.00, 0.025, 0.25),
    "gpt-5-nano": _price(0.05, 0.40, 0.005, 0.05),
    "gpt-5.2": _price(1.75, 14.00, 0.175, 1.75),
    "gpt-5.4": _price(2.50, 15.00, 0.25, 2.50),
    "gpt-5.4-mini": _price(0.75, 4.50, 0.075, 0.75),
    # Anthropic (cache reads 0.1x input, 5-minute cache writes 1.25x input).
    "claude-haiku-4-5": _price(1.00, 5.00, 0.10),
    "claude-sonnet-4-5": _price(3.00, 15.00, 0.30),
    "claude-opus-4-1": _price(15.00, 75.00, 1.50),
    "claude-opus-4-5": _price(5.00, 25.00, 0.50),
    "claude-sonnet-5": _price(2.00, 10.00, 0.20),
    "claude-opus-5": _price(5.00, 25.00, 0.50),
    # The in-process demo models (charter.providers.demo) cost nothing.
    "demo:*": Price(0.0, 0.0, 0.0, 0.0, source="in-process demo models: no cost"),
}


class PriceTableError(CharterError, ValueError):
    """A --prices file is unreadable or malformed; the message is one line naming the file."""

    exit_code = 2


class PriceTable:
    def __init__(self, prices: Mapping[str, Price] | None = None) -> None:
        self.prices: dict[str, Price] = dict(BUILTIN_PRICES if prices is None else prices)

    def lookup(self, model_id: str) -> Price | None:
        """The price for ``provider:model``: an exact full id, else the longest bare name that is the
        model or a dated/suffixed snapshot of it (``name-...``); a ``provider:*`` entry comes before
        bare names, so ``demo:gpt-5`` stays free and ``openai-compatible:*`` can price local models."""
        if model_id in self.prices:
            return self.prices[model_id]
        provider, _, model = model_id.partition(":")
        if model and f"{provider}:*" in self.prices:
            return self.prices[f"{provider}:*"]
        model = model or model_id
        if model in self.prices:
            return self.prices[model]
        matches = [name for name in self.prices if ":" not in name and model.startswith(name + "-")]
        return self.prices[max(matches, key=len)] if matches else None

    def with_overrides(self, path: str | os.PathLike) -> "PriceTable":
        """A copy with the entries of a JSON/YAML file added or replaced."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PriceTableError(f"{path}: no such price file") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            raise PriceTableError(f"{path}: cannot read prices: {' '.join(str(err).split())}") from None
        if not isinstance(data, dict):
            raise PriceTableError(f"{path}: expected a mapping of model name to {{input, output, cached_input}}")
        prices = dict(self.prices)
        for name, entry in data.items():
            where = f"{path}: {name}"
            if not isinstance(entry, dict) or not {"input", "output"} <= set(entry):
                raise PriceTableError(f"{where}: needs at least input and output (USD per million tokens)")
            unknown = set(entry) - {"input", "output", "cached_input", "cache_write"}
            if unknown:
                raise PriceTableError(f"{where}: unknown field {sorted(unknown)[0]!r} "
                                      "(known: input, output, cached_input, cache_write)")
            values = {}
            for field_name, value in entry.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise PriceTableError(f"{where}: {field_name} must be a non-negative number")
                values[field_name] = float(value)
            prices[str(name)] = Price(values["input"], values["output"],
                                      values.get("cached_input", values["input"]),
                                      values.get("cache_write", values["input"] * 1.25),
                                      source=f"{path.name}", as_of="")
        return PriceTable(prices)

    def for_batches(self, discount: float = BATCH_DISCOUNT) -> "PriceTable":
        """A copy whose prices are ``discount`` x these, for calls sent through the batch APIs; each
        price's ``source`` says so, so a summary shows which prices its cost used."""
        percent = f"{discount:.0%}"
        return PriceTable({name: Price(price.input * discount, price.output * discount,
                                       price.cached_input * discount, price.cache_write * discount,
                                       source=f"{price.source}; batch: {percent} of it", as_of=price.as_of)
                           for name, price in self.prices.items()})


def estimate_cost(table: PriceTable, model_id: str, tally: Mapping[str, int]) -> tuple[float | None, Price | None, str]:
    """(USD or None, the price used, a note: "" or why no cost was estimated)."""
    price = table.lookup(model_id)
    if price is None:
        return None, None, f"unknown model {model_id}: cost not estimated (add it with --prices)"
    return price.cost(tally), price, ""

