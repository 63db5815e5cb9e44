"""Plain answers about what the assistant cannot know offline, or will not accept, and why."""

from __future__ import annotations

from travel_agent.agent.offline import catalog, routes
from travel_agent.agent.offline.trip_facts import TripFacts


def limit(topic: str, facts: TripFacts) -> list[str]:
    where = facts.destination or "your destination"
    d = catalog.destination(facts.destination or "")
    if topic == "accessibility":
        return [
            f"I have no accessibility data for {where} offline: step-free access, lifts and adapted rooms are not "
            "in my tables, and they change. Ask each hotel directly, and check the official tourism site's "
            "accessibility pages and the transit operator's step-free maps."
        ]
    if topic == "diet":
        dishes = f" The local dishes I know there: {', '.join(d.dishes)}; ask how each is made." if d else ""
        return [
            "I can't vouch for vegan, vegetarian, gluten-free, halal, kosher or allergy-safe food offline: I hold "
            "no restaurant menus or ingredient lists." + dishes + " A translated allergy card helps."
        ]
    if topic == "kids":
        return [
            f"I have no family-specific data for {where} (playgrounds, changing rooms, age limits, prams on "
            "transit). What I can say: plan one or two sights a day with breaks, and check the official "
            "tourism site's family pages."
        ]
    if topic == "flights":
        hops = routes.legs(list(facts.places())) if facts.stops else []
        return [
            "I can't check flights, fares or schedules: I work offline, with no connection to airlines or fare "
            "sites. Compare them on the airlines' own sites or a fare search.",
            *(["Travel times between your stops, from my table:", *hops] if hops else []),
        ]
    if topic == "events":
        return [
            f"I can't know what's on in {where} during your dates: events, festivals and concerts change every "
            "year and I have no live listings. The official tourism site's events calendar will have them."
        ]
    if topic == "forecast":
        return [
            "I can't forecast the weather for particular days offline: I hold monthly climate averages, not "
            "forecasts. The national weather service's forecast, a few days ahead, is the one to trust."
        ]
    if topic == "rates":
        day, _source, per_euro = catalog.rates()
        return [
            f"I can't see today's exchange rates offline. The figures I convert with are the European Central "
            f"Bank's reference rates of {day} (1 EUR = {per_euro['USD']:.4g} USD, {per_euro['JPY']:.5g} JPY, "
            f"{per_euro['GBP']:.4g} GBP); your bank or card issuer has the current rate."
        ]
    if topic == "health":
        return [
            "I can't give health advice offline: vaccinations, malaria, drinking water and medicines depend on "
            "the place, the season and on you. A travel clinic and your government's travel-health pages are the "
            "sources to check, some weeks before you go."
        ]
    return [
        "I can't know current opening hours, closures or strikes offline: check the venue's or operator's own "
        "site close to the day."
    ]
