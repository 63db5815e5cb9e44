"""Day plans built from a destination's own sights, day trips, dishes and neighbourhoods: no shared template."""

from __future__ import annotations

from travel_agent.agent.offline import catalog
from travel_agent.agent.offline.catalog import Destination

MAX_DAY_LINES = 10  # a chat reply, not an itinerary document: long stays are condensed


def city_days(place: Destination, days: int, style: str) -> list[str]:
    """One line per day (condensed beyond ``MAX_DAY_LINES``); no two lines alike, however long the stay."""
    base = place.stay[style][0]
    dinner = catalog.dinners(place)
    first = f"Arrive in {place.name}, settle in around {base}; first dinner: {dinner[0]}."
    if days == 1:
        return [f"Day 1: {_cap(place.sights[0])}, {place.sights[1]}, and {dinner[0]} before you leave."]
    middle = _middle(place, style)
    lines = [f"Day 1: {first}"]
    wanted = days - 2
    if wanted <= MAX_DAY_LINES - 2:
        lines += [f"Day {day}: {_nth(middle, day - 2)}" for day in range(2, days)]
    else:
        shown = MAX_DAY_LINES - 3
        lines += [f"Day {day}: {_nth(middle, day - 2)}" for day in range(2, shown + 2)]
        rest = [_nth(middle, i).rstrip(".") for i in range(shown, min(wanted, len(middle)))]
        extra = wanted - len(middle)
        summary = "; ".join(rest[:3]) if rest else "slower days"
        tail = f", plus {extra} free days to revisit favourites" if extra > 0 else ""
        lines.append(f"Days {shown + 2}-{days - 1}: {summary}{tail}.")
    lines.append(f"Day {days}: A final stroll, a farewell {place.dishes[-1]}, and departure.")
    return lines


def country_days(cities: list[Destination], days: int, style: str) -> list[str]:
    """A route through several curated cities of one country, one line per city."""
    count = max(1, min(len(cities), days // 4))
    if count == 1:
        return city_days(cities[0], days, style)
    shares = [days // count + (1 if i < days % count else 0) for i in range(count)]
    return route_days([(city, city.name, share) for city, share in zip(cities, shares, strict=False)], style)


def route_days(stops: list[tuple[Destination | None, str, int]], style: str) -> list[str]:
    """One line per stop of a route: its days, where to stay and what to see (a frame where nothing is curated)."""
    lines, day = [], 1
    for city, name, share in stops:
        span = f"Day {day}" if share == 1 else f"Days {day}-{day + share - 1}"
        if city is None:
            lines.append(f"{span}: {name} (no curated sights: a frame to fill with the local tourism board's tips).")
        else:
            trips = f"; day trip to {city.day_trips[0]}" if share >= 4 else ""
            what = ", ".join(city.sights[: min(4, max(2, share - 1))])
            lines.append(f"{span}: {city.name}, stay in {city.stay[style][0]}: {what}{trips}.")
        day += share
    return lines


def planned_days(place: Destination, style: str = "mid-range") -> int:
    """How many days of distinct plans the data holds for a city: arrival, its middle days, departure."""
    return len(_middle(place, style)) + 2


def _middle(place: Destination, style: str) -> list[str]:
    sights = list(place.sights)
    pairs = [f"{_cap(sights[i])}, then {sights[i + 1]}." for i in range(0, len(sights) - 1, 2)]
    trips = [f"Day trip to {trip}." for trip in place.day_trips]
    areas = [
        area
        for tier in place.stay.values()
        for area in tier
        if area != place.stay[style][0] and "hostel" not in area and "guesthouse" not in area
    ]
    dinner = catalog.dinners(place)
    lunch = dinner[1] if len(dinner) > 1 else dinner[0]
    evening = dinner[2] if len(dinner) > 2 else dinner[-1]
    food = [f"Food day: {lunch} for lunch, {evening} in the evening."]
    wander = [f"Wander {area} at your own pace." for area in areas[:3]]
    extras = food + wander
    plan = [
        group[i]
        for i in range(max(len(pairs), len(trips), len(extras)))
        for group in (pairs, trips, extras)
        if i < len(group)
    ]
    return list(dict.fromkeys(plan))


def _nth(middle: list[str], index: int) -> str:
    if index < len(middle):
        return middle[index]
    earlier = index % len(middle) + 2
    return f"Free day: revisit a favourite (perhaps day {earlier}'s) or follow a local tip (day {index + 2})."


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
