"""Follow-ups on the assistant's own answers: one day of the plan, and the whole trip summarised as it stands."""

from __future__ import annotations

import re

from travel_agent.agent.offline import catalog, currency, itinerary, render, routes
from travel_agent.agent.offline.trip_facts import TripFacts

_SPAN = re.compile(r"^Days? (\d+)(?:-(\d+))?: (.*)$")


def day(n: int, plan: list[str], facts: TripFacts) -> list[str]:
    """The plan's line for day ``n`` (or the span that holds it), from the plan as it stands now."""
    spans = [m for line in plan if (m := _SPAN.match(line))]
    total = max((int(m.group(2) or m.group(1)) for m in spans), default=0)
    if not total:
        return ["There's no day-by-day plan yet: tell me where and for how many days, and I'll sketch one."]
    if not 0 < n <= total:
        return [f"Your trip has {total} days, so there's no day {n}. Ask about days 1 to {total}."]
    for line in plan:
        m = _SPAN.match(line)
        if m and int(m.group(1)) <= n <= int(m.group(2) or m.group(1)):
            span = f"days {m.group(1)}-{m.group(2)}" if m.group(2) else None
            within = f" (part of {span})" if span else ""
            return [f"Day {n}{within}: {m.group(3)}"]
    return [f"Day {n} has nothing fixed yet: a free day to revisit a favourite."]


def length_check(facts: TripFacts, days_asked: int | None) -> list[str]:
    """ "Is 5 days enough for Rome?": the days asked about against the days of distinct plans held for each place."""
    days = days_asked or facts.days
    names = facts.places()
    if not days or not names:
        return ["Tell me the place and the number of days, and I'll say how they compare with what I'd plan there."]
    lines = []
    for name in names[:3]:
        d = catalog.destination(name)
        if d is None:
            lines.append(f"I have no curated plans for {name}, so I can't judge the length for it.")
            continue
        held = itinerary.planned_days(d, facts.level or "mid-range")
        if days < 3:
            verdict = "short: enough for the main sights only, at a brisk pace"
        elif days <= held:
            verdict = "a good length: every day has its own plan, with day trips"
        else:
            verdict = f"generous: beyond {held} days the plan repeats favourites or adds free days"
        lines.append(f"{days} days in {d.name}: {verdict} (I hold {held} days of distinct plans there).")
    return lines


def summary(facts: TripFacts, plan: list[str], covered: frozenset[str]) -> list[str]:
    if facts.is_empty():
        return ["There's nothing to summarise yet: tell me where, when, for how long and who's coming."]
    lines = ["Your trip so far:", render.acknowledge(facts, "").removeprefix("So far I have: ")]
    if facts.stops:
        shares, proposed = routes.split(facts)
        label = " (proposed split)" if proposed else ""
        lines.append("Route" + label + ": " + " → ".join(f"{name} ({days} days)" for name, days in shares))
        lines += routes.legs([name for name, _days in shares])
    lines += [line for line in plan if _SPAN.match(line)]
    if facts.stops:
        lines += routes.costs(facts)
    if facts.budget and facts.days:
        lines.append(render.daily_budget(facts.budget, facts.days, facts.travellers))
    if note := currency.rate_note(facts):
        lines.append(note)
    done = sorted(covered - {"plan"})
    if done:
        lines.append("Covered so far: " + ", ".join(done) + ".")
    missing = [q.removeprefix("- ") for q in render.questions(facts)[1:]]
    if missing:
        lines.append("Still open: " + " ".join(missing))
    return lines
