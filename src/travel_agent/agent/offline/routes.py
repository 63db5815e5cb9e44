"""Trips through several places: how the days are split, how to get from one stop to the next, what it costs."""

from __future__ import annotations

from travel_agent.agent.offline import catalog, currency
from travel_agent.agent.offline.places import lookup
from travel_agent.agent.offline.trip_facts import TripFacts

DEFAULT_STOP_DAYS = 3  # proposed for a stop with no length and no total to share out


def split(facts: TripFacts) -> tuple[list[tuple[str, int]], bool]:
    """(name, days) per stop, and whether any share was proposed rather than stated."""
    stops = facts.stops or ()
    known = sum(s.days or 0 for s in stops)
    open_stops = [s for s in stops if not s.days]
    if not open_stops:
        return [(s.name, s.days or 0) for s in stops], False
    left = (facts.days or 0) - known
    if left >= len(open_stops):
        shares = [left // len(open_stops) + (1 if i < left % len(open_stops) else 0) for i in range(len(open_stops))]
    else:
        shares = [DEFAULT_STOP_DAYS] * len(open_stops)
    given = iter(shares)
    return [(s.name, s.days or next(given)) for s in stops], True


def legs(names: list[str]) -> list[str]:
    """One line per hop between consecutive stops, from the sourced table of travel times."""
    lines = []
    for a, b in zip(names, names[1:], strict=False):
        found = catalog.route(a, b)
        if found:
            lines.append(f"- {a} → {b}: about {_duration(found.minutes)} by {found.mode} ({_source(found.source)}).")
        else:
            lines.append(f"- {a} → {b}: I have no travel time on file; check the rail operators and airlines.")
    return lines


def _source(key: str) -> str:
    return "operator timetables" if key == "rail-operators" else "airline timetables, air time only"


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest:02d} min" if rest else "")


def costs(facts: TripFacts) -> list[str]:
    """Per-stop daily costs summed over the route (the style's figure for each city), before transport between."""
    style = facts.level or "mid-range"
    people = facts.travellers or 1
    shares, _proposed = split(facts)
    lines, total, missing = [], 0, []
    for name, days in shares:
        place = lookup(name)
        d = catalog.destination(place.name) if place and place.kind == "city" else None
        if d is None:
            missing.append(name)
            continue
        cost = d.daily_usd[style] * days * people
        total += cost
        lines.append(
            f"- {name}: {days} days × {currency.usd(d.daily_usd[style], facts)} a day"
            + (f" × {people} people" if people > 1 else "")
            + f" = {currency.usd(cost, facts)}"
        )
    who = f" for {people}" if people > 1 else ""
    head = f"Estimated {style} costs{who} (Numbeo-based daily figures per city, before transport between them):"
    out = [head, *lines, f"Total: about {currency.usd(total, facts)}."]
    if missing:
        out.append(f"(No cost figures for {', '.join(missing)}: not among my curated cities.)")
    if facts.budget and facts.budget.currency:
        days = sum(d for _name, d in shares)
        scope = facts.budget.scope
        whole = facts.budget.amount * (people if "person" in scope else 1) * (days if "day" in scope else 1)
        have = currency.convert(whole, facts.budget.currency, currency.of(facts))
        spend = currency.convert(total, "USD", currency.of(facts))
        verdict = "covers that" if have >= spend else "falls short of that"
        said = currency.money(facts.budget.amount, facts.budget.currency)
        of_all = f" ({currency.money(have, currency.of(facts))} in all)" if scope != "total" else ""
        out.append(f"Your budget of {said} {scope}{of_all} {verdict}.")
    return out
