"""Pull trip facts (destinations, stay, dates, travellers, budget, style) out of one free-form chat message."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date

from travel_agent.agent.offline import amounts, dates, languages, parties, place_names
from travel_agent.agent.offline.amounts import Money
from travel_agent.agent.offline.place_names import Named, NearMiss
from travel_agent.agent.offline.scan import last

__all__ = ["Money", "Reading", "Stop", "TripFacts", "extract", "facts_from", "merge", "read"]

MAX_DAYS = 365
MAX_TRAVELLERS = 50
MAX_BUDGET = 5_000_000
# A long message is read at its start and its end: where a trip is stated, and where the newest word on it is.
# Reading every character of 4,000 cost a worker's first turn over 20 such messages about 0.1 s of event loop.
HEAD, TAIL = 200, 400


def clip(text: str) -> str:
    """The part of a message that is read: all of it, or for a long one its start and its end."""
    return text if len(text) <= HEAD + TAIL else f"{text[:HEAD]} … {text[-TAIL:]}"


@dataclass(frozen=True)
class Stop:
    name: str
    days: int | None  # None: not said; the plan proposes a split


@dataclass(frozen=True)
class TripFacts:
    destination: str | None = None  # the first stop of a multi-city trip
    stops: tuple[Stop, ...] | None = None  # two or more places, in order
    days: int | None = None
    stay: str | None = None  # the length as the user put it, e.g. "3 nights"
    when: str | None = None
    travellers: int | None = None
    budget: Money | None = None
    level: str | None = None  # "budget", "mid-range" or "luxury"

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in _FACTS)

    def places(self) -> tuple[str, ...]:
        if self.stops:
            return tuple(s.name for s in self.stops)
        return (self.destination,) if self.destination else ()


@dataclass(frozen=True)
class Reading:
    """One message read: its facts, plus what it said that is not a fact of the trip."""

    facts: TripFacts
    language: str  # "en", or the code of one of the five other languages read
    named: tuple[Named, ...] = ()  # every destination named, in order (with a stop's own days)
    near_miss: NearMiss | None = None  # "Barcelonna": asked about, never planned
    choice: tuple[str, ...] = ()  # "Paris or Rome": a question back, not a route
    problems: tuple[str, ...] = ()  # values refused (a 900-day trip, 0 people, a date in the past), as sentences


_FACTS = tuple(f.name for f in fields(TripFacts))  # dataclasses.fields() on every call cost more than the merge


def facts_from(user_messages: Iterable[str]) -> TripFacts:
    """Facts of a whole conversation: each later message overrides what it restates."""
    facts = TripFacts()
    for text in user_messages:
        facts = merge(facts, extract(text))
    return facts


def merge(old: TripFacts, new: TripFacts) -> TripFacts:
    """``old`` with every fact ``new`` states."""
    return TripFacts(**{name: getattr(old, name) if (v := getattr(new, name)) is None else v for name in _FACTS})


def extract(text: str) -> TripFacts:
    return read(text).facts


def read(text: str, today: date | None = None) -> Reading:
    """Facts stated in one message; when a message says something twice, the later mention wins."""
    text = clip(text)
    lang = languages.detect(text.lower())
    if lang != "en":
        text = languages.to_english(text, lang)
    low = _lower(text)
    named, near = place_names.find(text, low, lenient=lang != "en")
    choice = tuple(n.name for n in named) if len(named) > 1 and place_names.alternatives(low, named) else ()
    stays_low = _blank(low, place_names.stop_spans(low, named)) if len(named) > 1 else low
    latest_range, in_range = dates.ranges(text, low)
    problems: list[str] = []
    days, stay = last(dates.stays(stays_low, latest_range)) or (None, None)
    if days is not None and not 0 < days <= MAX_DAYS:
        problems.append(
            f"I won't plan {stay}: I plan trips of 1 to {MAX_DAYS} days; for longer stays, plan the first weeks."
        )
        days = stay = None
    travellers = last(parties.travellers(low))
    if travellers is not None and not 0 < travellers <= MAX_TRAVELLERS:
        problems.append(
            f"I can't take {travellers} travellers: I plan for 1 to {MAX_TRAVELLERS} people; "
            "a larger group needs a tour operator."
        )
        travellers = None
    budget = last(amounts.amounts(text, low))
    if budget is not None and budget.amount > MAX_BUDGET:
        problems.append(f"A budget of {budget.amount:,} is beyond what I can plan with; tell me a realistic figure.")
        budget = None
    past = dates.past_dates(low, latest_range, today or date.today())
    if past:
        problems.append(f"{past[0]} is in the past, so I've left your dates open: when are you travelling?")
    when = None if past else last(dates.whens(text, low, latest_range, in_range))
    facts = TripFacts(
        destination=None if choice or not named else named[0 if len(named) > 1 else -1].name,
        stops=_stops(named) if not choice else None,
        days=days,
        stay=stay,
        when=when,
        travellers=travellers,
        budget=budget,
        level=last(amounts.levels(low)),
    )
    return Reading(facts, lang, tuple(named), near, choice, tuple(problems))


def _stops(named: list[Named]) -> tuple[Stop, ...] | None:
    if len(named) < 2:
        return None
    return tuple(Stop(n.name, n.days) for n in named)


def _lower(text: str) -> str:
    # Patterns run case-sensitively on a lower-cased copy (twice as fast as IGNORECASE), which must keep
    # every character at its index so capitalisation can still be read from the original.
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)


def _blank(low: str, spans: list[tuple[int, int]]) -> str:
    for start, end in spans:
        low = low[:start] + " " * (end - start) + low[end:]
    return low
