"""The offline assistant's turn: read the dialogue state, pick what to say (answer, plan, or honest "can't")."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from travel_agent.agent.interface import Turn
from travel_agent.agent.offline import answers, catalog, intents, itinerary, render, state
from travel_agent.agent.offline.catalog import Destination
from travel_agent.agent.offline.places import Place, lookup
from travel_agent.agent.offline.state import OFFER_PHRASES, State
from travel_agent.agent.offline.trip_facts import TripFacts

MAX_TOPICS = 3  # answers per reply: a chat reply, not a guidebook
_CITY_TOPICS = {
    "stay": answers.stay,
    "food": answers.food,
    "transport": answers.transport,
    "sights": answers.sights,
    "weather": answers.weather,
    "budget": answers.budget,
}
_COUNTRY_TOPICS = {"money": answers.money, "language": answers.language, "visa": answers.visa, "safety": answers.safety}
_TOPIC_NAMES = {
    "stay": "where to stay",
    "food": "food",
    "transport": "getting around",
    "sights": "sights",
    "weather": "climate figures",
    "budget": "daily costs",
}


def reply(history: Sequence[Turn], message: str) -> str:
    """The assistant's answer to ``message``, given the earlier turns; the same input always gives the same text."""
    st = state.derive(history, message)
    place = _place(st.facts)
    lines = [note] if (note := render.SCRIPT_NOTES.get(intents.script(message))) else []
    if changes := st.changes():
        lines.append("Updated: " + "; ".join(changes) + ".")
    topics = [t for t in st.asked if t != "plan"]
    if intents.asks_to_act(message.lower()):
        lines += [
            "I can't book, buy or check live prices: I work offline, with no connection to airlines, hotels "
            "or booking sites. What I can do:",
            *render.CAN_HELP,
        ]
    elif topics:
        lines += _topics(topics[:MAX_TOPICS], place, st)
    elif st.new_facts or "plan" in st.asked:
        lines += _plan(st, place, message)
    elif st.facts.is_empty():
        lines += [render.acknowledge(st.facts, message), *render.questions(st.facts)]
    elif st.declined or intents.is_thanks(message):
        opener = "You're welcome!" if intents.is_thanks(message) else "No problem."
        lines += [f"{opener} Whenever you like, I can also cover:", *render.CAN_HELP]
    else:
        where = f" for {place.name}" if place else ""
        lines += [
            "I can't tell that offline: there's no live data or model behind me here.",
            f"Here's what I can help with{where}:",
            *render.CAN_HELP,
        ]
    return "\n".join(lines)


def reply_chunks(history: Sequence[Turn], message: str) -> Iterator[str]:
    """``reply`` cut into word-sized pieces, as a streaming model would send it; they join back to the reply."""
    yield from re.findall(r"\s*\S+\s*", reply(history, message))


def _place(facts: TripFacts) -> Place | None:
    if not facts.destination:
        return None
    name = facts.destination.removeprefix("the ")
    return lookup(name)


def _reference(place: Place | None) -> Destination | None:
    """The curated city behind a place: itself, or a country's first curated city."""
    if place is None:
        return None
    if place.kind == "city":
        return catalog.destination(place.name)
    cities = catalog.in_country(place.country)
    return cities[0] if cities else None


def _topics(topics: list[str], place: Place | None, st: State) -> list[str]:
    if place is None:
        wanted = " and ".join(_TOPIC_NAMES.get(t, t) for t in topics)
        return [f"Which destination should I look up {wanted} for? Tell me a city or country."]
    ref = _reference(place)
    lines: list[str] = []
    if ref and place.kind == "country" and set(topics) & set(_CITY_TOPICS):
        lines.append(f"(For {place.name} I'll use {ref.name} as the example.)")
    for topic in topics:
        if lines:
            lines.append("")
        lines += _topic(topic, place, ref, st.facts)
    follow = _next_offers(st, topics)
    if follow:
        lines += ["", render.offer(follow, ref.name if ref else place.name)]
    return lines


def _topic(topic: str, place: Place, ref: Destination | None, facts: TripFacts) -> list[str]:
    if topic in _CITY_TOPICS:
        if ref is None:
            known = len(catalog.destinations())
            return [
                f"I don't have curated {_TOPIC_NAMES[topic]} for {place.name} offline (I know {known} "
                "destinations in detail); the official tourism board is the best source."
            ]
        return _CITY_TOPICS[topic](ref, facts)
    if topic == "timezone":
        return answers.timezone(place, ref if place.kind == "country" or ref else None)
    if topic == "packing":
        return answers.packing(place, ref, facts)
    return _COUNTRY_TOPICS[topic](place, facts)


def _next_offers(st: State, now: list[str]) -> list[str]:
    done = set(st.covered) | set(now)
    return [i for i in OFFER_PHRASES if i not in done and i != "plan"][:2]


def _plan(st: State, place: Place | None, message: str) -> list[str]:
    facts = st.facts
    lines = [render.acknowledge(facts, message)]
    ref = _reference(place)
    style = facts.level or "mid-range"
    if facts.destination and facts.days:
        lines += _days(facts, place, ref, style)
        if facts.budget:
            lines.append(render.daily_budget(facts.budget, facts.days, facts.travellers))
        if facts.level:
            lines.append(render.LEVEL_TIPS[facts.level])
    lines += render.questions(facts)
    if facts.destination:
        follow = _next_offers(st, []) or ["plan"]
        lines.append(render.offer(follow, ref.name if ref and place and place.kind == "city" else facts.destination))
    return lines


def _days(facts: TripFacts, place: Place | None, ref: Destination | None, style: str) -> list[str]:
    days = facts.days or 1
    condensed = " (condensed)" if days > itinerary.MAX_DAY_LINES else ""
    name = facts.destination or ""
    if place and place.kind == "country" and ref:
        cities = list(catalog.in_country(place.country))
        route = " → ".join(c.name for c in cities[: max(1, min(len(cities), days // 4))])
        return [
            f"Here's a rough {days}-day outline for {name} ({route}){condensed}:",
            *itinerary.country_days(cities, days, style),
        ]
    if ref:
        return [f"Here's a rough {days}-day outline for {ref.name}{condensed}:", *itinerary.city_days(ref, days, style)]
    return [
        f"I don't have curated sights for {name} offline, so here's a frame to fill in ({days} days):",
        f"Day 1: Arrive in {name}, check in and take an easy first walk nearby.",
        *(
            [
                f"Days 2-{days - 1}: Alternate the main sights with slower days; ask locals or the tourism "
                "board for day trips."
            ]
            if days > 2
            else []
        ),
        *([f"Day {days}: A last favourite meal and departure."] if days > 1 else []),
    ]
