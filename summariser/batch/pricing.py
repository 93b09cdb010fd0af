"""Prices: what a batch of tokens costs on a model, and how to show a total with unknown parts."""

from __future__ import annotations

from ..schema import Usage

# List prices come from genai-prices (pydantic's maintained price data, shipped as an offline
# snapshot: no network at run time) for OpenAI models, the ones the Batch API bills; the Batch
# API bills half of list price. Any other model (a local or vLLM one) has no price: "n/a".
PRICE_PROVIDER = "openai"
BATCH_DISCOUNT = 0.5


def price_for(model: str) -> tuple[float, float] | None:
    """(input, output) USD per million tokens for ``model`` at list price, or None when unknown.

    Dated snapshots count as their model (gpt-4o-mini-2024-07-18 is gpt-4o-mini); an
    ``org/`` prefix is ignored."""
    from genai_prices import Usage as TokenUsage, calc_price

    name = model.split("/")[-1].lower()
    try:
        per_mtok = calc_price(TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000), model_ref=name, provider_id=PRICE_PROVIDER)
    except LookupError:
        return None
    return float(per_mtok.input_price), float(per_mtok.output_price)


def estimate_cost(model: str, usage: Usage, *, batch: bool = True) -> float | None:
    """Estimated USD for ``usage`` on ``model`` (Batch API price unless ``batch=False``); None if unknown."""
    price = price_for(model)
    if price is None:
        return None
    cost = (usage.prompt_tokens * price[0] + usage.completion_tokens * price[1]) / 1_000_000
    return cost * BATCH_DISCOUNT if batch else cost


def format_cost(costs: dict[str, float | None]) -> str:
    """``$1.23`` when every model has a price, ``n/a`` when none has, else the known part noted."""
    known = [c for c in costs.values() if c is not None]
    unknown = sorted(m for m, c in costs.items() if c is None)
    if not costs or not known:
        return "n/a"
    text = f"${sum(known):,.4f}"
    return f"{text} (+ n/a for {', '.join(unknown)})" if unknown else text
