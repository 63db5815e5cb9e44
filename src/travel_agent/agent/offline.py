"""A deterministic offline travel assistant: it answers from the trip facts found in the chat, with no model."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from travel_agent.agent.interface import Turn
from travel_agent.agent.trip_facts import Money, TripFacts, extract, facts_from, merge

MAX_DAY_LINES = 10  # a chat reply, not an itinerary document: long stays are condensed
_MIDDLE_DAYS = (
    "Walking tour of the historic centre, then lunch at a local food market.",
    "Main museums or landmarks in the morning, a relaxed neighbourhood in the afternoon.",
    "Day trip to a nearby town, coastline or nature spot.",
    "Café-hopping through local neighbourhoods and a sunset viewpoint.",
    "Something hands-on: a cooking class, tasting or guided activity.",
    "Slow morning, parks or gardens, and dinner somewhere well reviewed.",
    "Free day to revisit favourites or follow a local tip.",
)
_LEVEL_NAMES = {"budget": "budget-friendly", "mid-range": "mid-range", "luxury": "luxury"}
_LEVEL_TIPS = {
    "budget": "Tip: free walking tours, transit passes and set lunch menus keep costs down.",
    "mid-range": "Tip: mix a few paid highlights with free neighbourhoods, parks and markets.",
    "luxury": "Tip: book boutique hotels, top restaurants and private guides well ahead.",
}
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}
# Daily-spend judgements only make sense where a unit of currency buys roughly what a dollar does.
_DOLLAR_LIKE = {"USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD"}


def reply(history: Sequence[Turn], message: str) -> str:
    """The assistant's answer to ``message``, given the earlier turns; the same input always gives the same text."""
    facts = merge(facts_from(turn.content for turn in history if turn.role == "user"), extract(message))
    lines = [_acknowledge(facts, message)]
    if facts.destination and facts.days:
        lines += _sketch(facts.destination, facts.days, facts)
    lines += _questions(facts)
    return "\n".join(lines)


def reply_chunks(history: Sequence[Turn], message: str) -> Iterator[str]:
    """``reply`` cut into word-sized pieces, as a streaming model would send it; they join back to the reply."""
    yield from re.findall(r"\s*\S+\s*", reply(history, message))


def _acknowledge(facts: TripFacts, message: str) -> str:
    if facts.is_empty():
        return "Happy to help plan your trip!" + (" I couldn't spot any trip details yet." if message.strip() else "")
    trip = f"a trip to {facts.destination}" if facts.destination else "a trip"
    parts = [" ".join(filter(None, [trip, facts.stay and f"for {facts.stay}", facts.when]))]
    if facts.travellers:
        parts.append("travelling solo" if facts.travellers == 1 else f"{facts.travellers} travellers")
    if facts.budget:
        parts.append(f"budget {_money(facts.budget.amount, facts.budget.currency)} {facts.budget.scope}")
    if facts.level:
        parts.append(f"{_LEVEL_NAMES[facts.level]} style")
    return "So far I have: " + ", ".join(parts) + "."


def _sketch(destination: str, days: int, facts: TripFacts) -> list[str]:
    condensed = " (condensed)" if days > MAX_DAY_LINES else ""
    lines = [f"Here's a rough {days}-day outline for {destination}{condensed}:"]
    if days == 1:
        only = f"Day 1: Arrive in {destination}, see the main highlights and head out in the evening."
        return [*lines, only, *_extras(facts)]
    lines.append(f"Day 1: Arrive in {destination}, check in and take an easy first walk nearby.")
    shown = days - 1 if days <= MAX_DAY_LINES else MAX_DAY_LINES - 2
    lines += [f"Day {day}: {_MIDDLE_DAYS[(day - 2) % len(_MIDDLE_DAYS)]}" for day in range(2, shown + 1)]
    if days > MAX_DAY_LINES:
        lines.append(f"Days {shown + 1}-{days - 1}: Slower pace, alternating free days with longer day trips.")
    lines.append(f"Day {days}: Souvenirs, a last favourite meal and departure.")
    return lines + _extras(facts)


def _extras(facts: TripFacts) -> list[str]:
    lines = []
    if facts.budget and facts.days:
        lines.append(_daily_budget(facts.budget, facts.days, facts.travellers))
    if facts.level:
        lines.append(_LEVEL_TIPS[facts.level])
    return lines


def _daily_budget(budget: Money, days: int, travellers: int | None) -> str:
    daily = budget.amount if "day" in budget.scope else budget.amount / days
    if "person" in budget.scope:
        each, group = daily, daily * (travellers or 1)
    elif travellers:
        each, group = daily / travellers, daily
    else:
        return f"Budget: about {_money(daily, budget.currency)} per day in total."
    for_all = f" ({_money(group, budget.currency)} per day for {travellers})" if travellers and travellers > 1 else ""
    return f"Budget: about {_money(each, budget.currency)} per person per day{for_all}{_judge(each, budget.currency)}."


def _judge(each: float, currency: str | None) -> str:
    if currency not in _DOLLAR_LIKE:
        return ""
    if each < 60:
        return ", which is tight: think hostels, public transport and street food"
    if each >= 300:
        return ", plenty for boutique hotels and memorable dinners"
    return ", enough for comfortable mid-range hotels and good local food"


def _money(amount: float, currency: str | None) -> str:
    number = f"{max(1, round(amount)):,}"
    if currency in _SYMBOLS:
        return f"{_SYMBOLS[currency]}{number}"
    return f"{number} {currency}" if currency else number


def _questions(facts: TripFacts) -> list[str]:
    asks = []
    if not facts.destination:
        asks.append("Where would you like to go?")
    if not facts.days:
        where = f" in {facts.destination}" if facts.destination else ""
        known_when = f"How many days will you spend{where}?"
        asks.append(known_when if facts.when else "When are you travelling, and for how long?")
    if not facts.travellers:
        asks.append("How many people are travelling?")
    if not facts.budget and not facts.level:
        asks.append("What's your budget: a total amount, or just cheap, mid-range or luxury?")
    if not asks:
        return [f"Want me to suggest where to stay in {facts.destination}, or adjust the pace?"]
    lead = "To refine it:" if facts.destination and facts.days else "To put a plan together, tell me:"
    return [lead, *(f"- {ask}" for ask in asks)]
