"""The traveller's currency: figures held in US dollars shown in the currency their budget was given in, at the
dated European Central Bank reference rates in ``destinations.json`` (never live rates: there is no network)."""

from __future__ import annotations

from travel_agent.agent.offline import catalog
from travel_agent.agent.offline.trip_facts import TripFacts

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}


def money(amount: float, currency: str | None) -> str:
    number = f"{max(1, round(amount)):,}"
    if currency in _SYMBOLS:
        return f"{_SYMBOLS[currency]}{number}"
    return f"{number} {currency}" if currency else number


def of(facts: TripFacts) -> str:
    """The currency to show figures in: the budget's, when a rate is on file, else US dollars."""
    code = facts.budget.currency if facts.budget else None
    return code if code and code in catalog.rates()[2] else "USD"


def convert(amount: float, source: str, target: str) -> float:
    per_euro = catalog.rates()[2]
    return amount / per_euro[source] * per_euro[target]


def usd(amount: float, facts: TripFacts) -> str:
    """A US-dollar figure of the data, in the traveller's currency."""
    return money(convert(amount, "USD", of(facts)), of(facts))


def rate_note(facts: TripFacts) -> str:
    """Where a converted figure comes from; empty when nothing was converted."""
    code = of(facts)
    if code == "USD":
        return ""
    day, source, per_euro = catalog.rates()
    rate = per_euro["USD"] / per_euro[code]
    return (
        f"(Figures in {code}, converted from US dollars at 1 {code} = {rate:.4g} USD: "
        f"{catalog.source_name(source).split(' of ')[0]}, {day}; rates move, so treat them as rough.)"
    )
