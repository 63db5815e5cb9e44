"""The offline assistant's turn: read the dialogue state, pick what to say (answer, plan, or honest "can't")."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from travel_agent.agent.interface import Turn
from travel_agent.agent.offline import (
    answers,
    asks,
    catalog,
    countries,
    currency,
    followups,
    honest,
    intents,
    itinerary,
    languages,
    render,
    routes,
    state,
    suggest,
)
from travel_agent.agent.offline.catalog import Destination
from travel_agent.agent.offline.places import Place, lookup
from travel_agent.agent.offline.state import OFFER_PHRASES, State
from travel_agent.agent.offline.trip_facts import HEAD, TAIL, TripFacts, clip

MAX_TOPICS = 3  # answers per reply: a chat reply, not a guidebook
MAX_STOPS_ANSWERED = 3  # a topic asked about a route is answered for its first stops
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


LONG_MESSAGE_NOTE = (
    f"(Your message is long: I read its first {HEAD} and last {TAIL} characters. If a detail of the trip was in "
    "between, tell me it again in a short message.)"
)


def reply(history: Sequence[Turn], message: str) -> str:
    """The assistant's answer to ``message``, given the earlier turns; the same input always gives the same text."""
    clipped = len(message) > HEAD + TAIL
    message = clip(message)
    st = state.derive(history, message)
    low = state.english_low(message)
    lines: list[str] = []
    topics = [t for t in st.asked if t != "plan"]
    limits = asks.limits(low)
    if st.reading.near_miss and not st.reading.named:
        lines += [
            f'I don\'t know a place called "{st.reading.near_miss.typed}". Did you mean {st.reading.near_miss.meant}?'
        ]
    elif st.reading.choice:
        options = " or ".join(st.reading.choice)
        lines += [f"{options}: which one should I plan? Or say both, for a trip through them."]
    elif intents.is_goodbye(message) and not topics and not st.new_facts:
        lines += ["Goodbye, and have a wonderful trip! Your plan stays here if you come back."]
    elif intents.asks_to_act(low):
        lines += [
            "I can't book, buy or check live prices: I work offline, with no connection to airlines, hotels "
            "or booking sites. What I can do:",
            *render.CAN_HELP,
        ]
    elif (n := asks.day_asked(low)) is not None and not st.new_facts:
        lines += followups.day(n, _plan_lines(st.facts), st.facts)
    elif st.question and asks.checks_length(low) and not topics:
        lines += followups.length_check(st.view, st.reading.facts.days)
    elif st.facts.stops and asks.wants_split(low):
        lines += _plan_lines(st.facts)
    elif asks.wants_summary(low):
        lines += followups.summary(st.facts, _plan_lines(st.facts), st.covered)
    elif (wish := _suggestion_wish(history, low)) is not None and not st.reading.named:
        lines += suggest.suggestions(wish, st.view)
    elif limits and st.new_facts and not topics and not st.question:  # "Venice, my mum uses a wheelchair"
        lines += _plan(st, message) + [""] + [line for topic in limits for line in honest.limit(topic, st.view)]
    elif limits or topics:
        for topic in limits:
            lines += honest.limit(topic, st.view)
        lines += _topics(topics[:MAX_TOPICS], st) if topics else []
    elif st.new_facts or "plan" in st.asked:
        lines += _plan(st, message)
    elif st.facts.is_empty() and not st.reading.problems:
        lines += [render.acknowledge(st.facts, message), *render.questions(st.facts)]
    elif st.declined or intents.is_thanks(message):
        opener = "You're welcome!" if intents.is_thanks(message) else "No problem."
        lines += [f"{opener} Whenever you like, I can also cover:", *render.CAN_HELP]
    elif not st.reading.problems:
        where = f" for {' → '.join(st.facts.places())}" if st.facts.places() else ""
        lines += [
            "I can't tell that offline: there's no live data or model behind me here.",
            f"Here's what I can help with{where}:",
            *render.CAN_HELP,
        ]
    preamble = _preamble(st, message)
    if clipped:  # never a silent misreading: what was not read is said
        preamble.insert(0, LONG_MESSAGE_NOTE)
    if (added := st.added()) and not any(line.startswith("So far I have") for line in lines):
        preamble.append("Noted: " + "; ".join(added) + ".")
    return "\n".join(preamble + lines)


def reply_chunks(history: Sequence[Turn], message: str) -> Iterator[str]:
    """``reply`` cut into word-sized pieces, as a streaming model would send it; they join back to the reply."""
    yield from re.findall(r"\s*\S+\s*", reply(history, message))


def _suggestion_wish(history: Sequence[Turn], low: str) -> str | None:
    """What to suggest from: this message, or the one before when the assistant asked it for the month."""
    if asks.wants_suggestions(low):
        return low
    if len(history) >= 2 and suggest.ASKED_MONTH in history[-1].content and history[-2].role == "user":
        return state.english_low(clip(history[-2].content)) + " " + low
    return None


def _preamble(st: State, message: str) -> list[str]:
    """The language note (once a session), refusals, and every change this message made to the trip."""
    lines = [note] if (note := render.SCRIPT_NOTES.get(intents.script(message))) else []
    lang = st.reading.language
    if lang != "en" and not st.language_noted:
        lines.append(languages.note(lang))
    lines += list(st.reading.problems)
    if changes := st.changes():
        lines.append("Updated: " + "; ".join(changes) + ".")
    if st.view.destination != st.facts.destination and st.facts.destination and not _within(st):
        lines.append(f"(Answering for {st.view.destination}; your trip stays {' → '.join(st.facts.places())}.)")
    for place in _small_towns(st):
        lines.append(
            f"({place.name}: the place in {countries.name(place.country)} I know by that name; if you meant another "
            "one, tell me its country.)"
        )
    for name in _unknown_places(st):
        lines.append(
            f"I don't know {name}: it isn't among my offline places (GeoNames cities over 15,000 people, and "
            "countries), so I can't check it or give its facts; check the spelling, or use the frame below."
        )
    return lines


# A gazetteer hit under this size, and not curated, may well not be the place meant ("Bali" is a city in India).
SMALL_TOWN = 1_000_000


def _small_towns(st: State) -> list[Place]:
    """Uncurated places named this turn that may not be the one meant: the traveller is told which one it is."""
    found = [_place(n.name) for n in st.reading.named if n.known and n.name in st.facts.places()]
    return [
        p for p in found if p and p.kind == "city" and p.population < SMALL_TOWN and not catalog.destination(p.name)
    ]


def _within(st: State) -> bool:
    """The place asked about lies in the country the trip is to (Kyoto on a trip to Japan): nothing to warn of."""
    trip, asked = _place(st.facts.destination), _place(st.view.destination)
    return bool(trip and asked and trip.kind == "country" and asked.country == trip.country)


def _unknown_places(st: State) -> list[str]:
    return [n.name for n in st.reading.named if not n.known and n.name in st.facts.places()]


def _place(name: str | None) -> Place | None:
    return lookup(name.removeprefix("the ")) if name else None


def _reference(place: Place | None) -> Destination | None:
    """The curated city behind a place: itself, or a country's first curated city."""
    if place is None:
        return None
    if place.kind == "city":
        return catalog.destination(place.name)
    cities = catalog.in_country(place.country)
    return cities[0] if cities else None


def _topics(topics: list[str], st: State) -> list[str]:
    names = st.view.places()
    if not names:
        wanted = " and ".join(_TOPIC_NAMES.get(t, t) for t in topics)
        return [f"Which destination should I look up {wanted} for? Tell me a city or country."]
    lines: list[str] = []
    per_place = [t for t in topics if not (st.view.stops and t == "budget")]  # a route's budget is one sum
    for name in names[:MAX_STOPS_ANSWERED] if per_place else ():
        place = _place(name)
        if place is None:
            lines += ([""] if lines else []) + [f"I have no data on {name} offline."]
            continue
        ref = _reference(place)
        if ref and place.kind == "country" and set(per_place) & set(_CITY_TOPICS):
            lines += ([""] if lines else []) + [f"(For {place.name} I'll use {ref.name} as the example.)"]
        for topic in per_place:
            if lines:
                lines.append("")
            lines += _topic(topic, place, ref, st.view)
    if st.view.stops and "budget" in topics:
        lines += [""] * bool(lines) + routes.costs(st.view)
    if note := currency.rate_note(st.view):
        lines += [note] if set(topics) & {"stay", "food", "budget"} else []
    follow = _next_offers(st, topics)
    if follow:
        first = _reference(_place(names[0]))
        lines += ["", render.offer(follow, first.name if first else names[0])]
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


def _plan(st: State, message: str) -> list[str]:
    facts = st.facts
    lines = [render.acknowledge(facts, message)]
    place = _place(facts.destination)
    ref = _reference(place)
    if facts.places() and (facts.days or facts.stops):
        lines += _plan_lines(facts)
        if facts.budget and facts.days and not facts.stops:  # a route's costs line already weighs the budget
            lines.append(render.daily_budget(facts.budget, facts.days, facts.travellers))
        if note := currency.rate_note(facts) if facts.stops else "":
            lines.append(note)
        if facts.level:
            lines.append(render.LEVEL_TIPS[facts.level])
    lines += render.questions(facts)
    if facts.destination:
        follow = _next_offers(st, []) or ["plan"]
        lines.append(render.offer(follow, ref.name if ref and place and place.kind == "city" else facts.destination))
    return lines


def _plan_lines(facts: TripFacts) -> list[str]:
    """The plan as it stands: a route through several stops, or one place's days."""
    style = facts.level or "mid-range"
    if facts.stops:
        shares, proposed = routes.split(facts)
        total = sum(days for _name, days in shares)
        split = " (a proposed split: say e.g. '4 days in " + shares[0][0] + "' to change it)" if proposed else ""
        entries = [(_reference(_place(name)) if _is_city(name) else None, name, days) for name, days in shares]
        return [
            f"Here's a rough {total}-day route{split}:",
            *itinerary.route_days(entries, style),
            "Getting between them:",
            *routes.legs([name for name, _days in shares]),
            *routes.costs(facts),
        ]
    if not facts.destination or not facts.days:
        return []
    return _days(facts, _place(facts.destination), style)


def _is_city(name: str) -> bool:
    place = _place(name)
    return bool(place and place.kind == "city")


def _days(facts: TripFacts, place: Place | None, style: str) -> list[str]:
    ref = _reference(place)
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
