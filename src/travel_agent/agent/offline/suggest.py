"""Where to go: curated cities ranked by their own month tables and costs ("somewhere warm in February")."""

from __future__ import annotations

import re

from travel_agent.agent.offline import catalog, currency
from travel_agent.agent.offline.answers import MONTHS, PLEASANT, month_of
from travel_agent.agent.offline.catalog import Destination
from travel_agent.agent.offline.trip_facts import TripFacts

_REGIONS = {
    "europe": "AT CZ DE DK ES FR GB GR HU IE IS IT NL PT TR",
    "asia": "AE CN HK IN JP KR SG TH VN TR",
    "africa": "EG KE MA TZ ZA",
    "north america": "CA MX US",
    "south america": "AR BR CO PE",
    "latin america": "AR BR CO MX PE",
    "america": "AR BR CA CO MX PE US",
    "oceania": "AU NZ",
    "australia": "AU NZ",
    "middle east": "AE EG TR",
}
_REGION = re.compile(r"\b(" + "|".join(sorted(_REGIONS, key=len, reverse=True)) + r")\b")
_FEEL = {
    "hot": re.compile(r"\b(?:hot|heat|tropical)\b"),
    "warm": re.compile(r"\b(?:warm(?:er|th)?|sunny|sun|beach|summery)\b"),
    "cold": re.compile(r"\b(?:cold|snow(?:y)?|winter wonderland|ski(?:ing)?|northern lights)\b"),
    "mild": re.compile(r"\b(?:mild|cool|not too hot|pleasant)\b"),
}
_CHEAP = re.compile(r"\b(?:cheap(?:er|est)?|affordable|budget|inexpensive|low[- ]cost)\b")
_RANGES = {"hot": (30, 45), "warm": (24, 45), "cold": (-30, 8), "mild": (16, 24), "pleasant": PLEASANT}
SHOWN = 4
ASKED_MONTH = "which month are you travelling? I pick from"  # the next message's month answers it


def suggestions(low: str, facts: TripFacts) -> list[str]:
    """Up to four curated cities that fit the month, the feel and the region asked for, each with its reason."""
    month = month_of(facts)
    feel = next((name for name, pattern in _FEEL.items() if pattern.search(low)), "pleasant")
    region = m.group(1) if (m := _REGION.search(low)) else None
    cheap = bool(_CHEAP.search(low)) or facts.level == "budget"
    if month is None and cheap and feel == "pleasant":  # "cheapest city in Asia?": cost alone decides
        pool = [d for d in catalog.destinations() if region is None or d.country in _REGIONS[region].split()]
        style = facts.level or "budget"
        ranked = sorted(pool, key=lambda d: (d.daily_usd[style], d.name))[:SHOWN]
        where = f" in {region.title()}" if region else ""
        return [
            f"The least expensive of my curated cities{where}, for a {style} day per person (Numbeo-based):",
            *(f"- {d.name}: about {currency.usd(d.daily_usd[style], facts)} a day." for d in ranked),
            "Tell me the month too, and I'll check their weather.",
        ]
    if month is None:
        return [
            f"Happy to suggest somewhere {feel}: {ASKED_MONTH} the monthly climate tables of my "
            f"{len(catalog.destinations())} cities."
        ]
    low_c, high_c = _RANGES[feel]
    pool = [d for d in catalog.destinations() if region is None or d.country in _REGIONS[region].split()]
    fits = [d for d in pool if low_c <= d.climate.high[month - 1] <= high_c and not _rainy(d, month)]
    style = facts.level or ("budget" if cheap else "mid-range")
    if cheap:
        fits.sort(key=lambda d: (d.daily_usd[style], d.name))
    else:
        target = {"hot": 33, "warm": 28, "cold": -30, "mild": 20, "pleasant": 24}[feel]
        fits.sort(key=lambda d: (abs(d.climate.high[month - 1] - target), d.name))
    where = f" in {region.title()}" if region else ""
    name = MONTHS[month - 1]
    if not fits:
        return [
            f"None of my {len(pool)} curated cities{where} is {feel} in {name} by its climate table "
            f"(daily highs {low_c} to {high_c}°C, outside any rainy season). Try another month or region."
        ]
    lines = [f"Somewhere {feel}{where} in {name}, from my own climate and cost tables:"]
    for d in fits[:SHOWN]:
        lines.append(f"- {d.name}: {_reason(d, month, style, facts)}")
    lines.append(f"(Climate: Wikipedia climate tables; costs: Numbeo-based {style} day per person.)")
    lines.append("Tell me which one and for how long, and I'll sketch a plan.")
    return lines


def _rainy(d: Destination, month: int) -> bool:
    return d.climate.rainy_season and month in d.climate.wet


def _reason(d: Destination, month: int, style: str, facts: TripFacts) -> str:
    high, low = d.climate.high[month - 1], d.climate.low[month - 1]
    dry = ", in the dry season" if d.climate.rainy_season else ""
    return f"highs around {high}°C, lows {low}°C{dry}; about {currency.usd(d.daily_usd[style], facts)} a day."
