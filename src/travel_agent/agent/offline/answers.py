"""One short answer per intent, from the curated data and the country facts; honest where data is missing."""

from __future__ import annotations

from travel_agent.agent.offline import catalog, countries, currency
from travel_agent.agent.offline.catalog import Destination
from travel_agent.agent.offline.places import Place
from travel_agent.agent.offline.trip_facts import TripFacts

MONTHS = "January February March April May June July August September October November December".split()
PLEASANT = (18, 30)  # °C, the daily high that makes a month pleasant for sightseeing
_STYLE_LABEL = {"budget": "Budget", "mid-range": "Mid-range", "luxury": "Luxury"}


def month_of(facts: TripFacts) -> int | None:
    when = facts.when or ""
    return next((i + 1 for i, month in enumerate(MONTHS) if month in when), None)


def stay(d: Destination, facts: TripFacts) -> list[str]:
    chosen = facts.level or "mid-range"
    lines = [f"Where to stay in {d.name}:"]
    for style in catalog.STYLES:
        mark = " ← your style" if style == chosen and facts.level else ""
        lines.append(f"- {_STYLE_LABEL[style]}: {', '.join(d.stay[style])}{mark}")
    lines.append(
        f"A {chosen} day there runs about {currency.usd(d.daily_usd[chosen], facts)} per person, everything included "
        "(Numbeo-based estimate)."
    )
    return lines


def food(d: Destination, facts: TripFacts) -> list[str]:
    style = facts.level or "mid-range"
    per_day = ", ".join(f"{s} {currency.usd(d.food_usd[s], facts)}" for s in catalog.STYLES)
    lines = [
        f"What to eat in {d.name}: {', '.join(d.dishes)}.",
        f"Food budget per person per day: {per_day} "
        f"(you: about {currency.usd(d.food_usd[style], facts)}; Numbeo-based).",
        "I can't vouch for individual restaurants offline (they change); markets and busy local spots "
        "serving these dishes are a safe bet.",
    ]
    return lines


def transport(d: Destination, _facts: TripFacts) -> list[str]:
    return [f"Getting around {d.name}: {d.transit}", f"From the airport: {d.airport}"]


def sights(d: Destination, _facts: TripFacts) -> list[str]:
    return [f"Top sights in {d.name}:", *(f"- {s}" for s in d.sights), f"Day trips: {', '.join(d.day_trips)}."]


def weather(d: Destination, facts: TripFacts) -> list[str]:
    c = d.climate
    source = f"(Wikipedia climate table for {d.name}, rounded)"
    month = month_of(facts)
    best = _best_months(d)
    lines = []
    if month:
        wet = ", one of the wettest months" if month in c.wet else ""
        lines.append(
            f"{d.name} in {MONTHS[month - 1]}: highs around {c.high[month - 1]}°C, lows around "
            f"{c.low[month - 1]}°C{wet} {source}."
        )
    else:
        hot, cold = c.high.index(max(c.high)), c.high.index(min(c.high))
        lines.append(
            f"{d.name}: warmest in {MONTHS[hot]} (highs {c.high[hot]}°C), coolest in {MONTHS[cold]} "
            f"(highs {c.high[cold]}°C) {source}."
        )
    season = ", outside the rainy season" if c.rainy_season else ""
    lines.append(f"Most pleasant months (highs {PLEASANT[0]}-{PLEASANT[1]}°C{season}): {best}.")
    return lines


def budget(d: Destination, facts: TripFacts) -> list[str]:
    style = facts.level or "mid-range"
    daily, meals = d.daily_usd[style], d.food_usd[style]
    transit = max(3, round(daily * 0.08))
    sights_cost = round(daily * 0.15)
    lodging = daily - meals - transit - sights_cost
    people, days = facts.travellers or 1, facts.days
    lines = [
        f"A {style} day in {d.name}, per person ({currency.of(facts)}, Numbeo-based estimate):",
        f"- Lodging {currency.usd(lodging, facts)} (sharing a room costs less each)",
        f"- Food {currency.usd(meals, facts)}",
        f"- Local transport {currency.usd(transit, facts)}",
        f"- Sights and activities {currency.usd(sights_cost, facts)}",
        f"- Total about {currency.usd(daily, facts)}",
    ]
    if days:
        total = daily * days * people
        who = f" for {people}" if people > 1 else ""
        lines.append(f"For {days} days{who}: about {currency.usd(total, facts)} before flights.")
        if facts.budget and facts.budget.scope == "total":
            have = currency.convert(facts.budget.amount, facts.budget.currency or "USD", "USD")
            verdict = "fits" if have >= total else "is tight for that"
            lines.append(f"Your {currency.money(facts.budget.amount, facts.budget.currency or 'USD')} {verdict}.")
    return lines


def money(place: Place, _facts: TripFacts) -> list[str]:
    notes = catalog.country_notes(place.country)
    where = countries.name(place.country)
    found = countries.currency(place.country)
    lines = [f"Money in {where}: the currency is {found}." if found else f"I have no currency on file for {where}."]
    if notes:
        lines += [f"- Cards: {notes.cards}", f"- Tipping: {notes.tipping}"]
    else:
        lines.append(
            "I have no curated note on cards and tipping there; the country's tourism board is the place to check."
        )
    lines.append("Live exchange rates need a network; check your bank's rate and decline card conversion abroad.")
    return lines


def language(place: Place, _facts: TripFacts) -> list[str]:
    spoken = countries.languages(place.country)
    where = countries.name(place.country)
    if not spoken:
        return [f"I have no language data for {where} offline."]
    return [f"Official or widely used languages in {where}: {', '.join(spoken)} (Unicode CLDR)."]


def timezone(place: Place, d: Destination | None) -> list[str]:
    zone = d.timezone if d else place.timezone
    if not zone:
        capital = countries.capital(place.country)
        return [
            f"{countries.name(place.country)} may span several time zones; tell me the city"
            + (f" (the capital is {capital})." if capital else ".")
        ]
    return [f"Time in {place.name}: {zone}, {countries.offsets(zone)}."]


def visa(place: Place, _facts: TripFacts) -> list[str]:
    notes = catalog.country_notes(place.country)
    where = countries.name(place.country)
    official = (
        notes.visa_source
        if notes and notes.visa_source
        else (f"the government of {where}'s immigration or foreign-affairs website, or its embassy in your country")
    )
    return [
        f"Entry rules for {where} depend on your passport and change often, so I won't guess them offline.",
        f"Official source: {official}.",
        "Also check your own government's travel advice, and that your passport is valid long enough.",
    ]


def packing(place: Place, d: Destination | None, facts: TripFacts) -> list[str]:
    lines = [f"Packing for {place.name}:"]
    month = month_of(facts)
    if d and month:
        high, low = d.climate.high[month - 1], d.climate.low[month - 1]
        if high >= 27:
            lines.append(f"- Light, breathable clothes, sun hat and sunscreen (highs near {high}°C).")
        elif high <= 10:
            lines.append(f"- Warm layers, a coat, hat and gloves (highs near {high}°C, lows {low}°C).")
        else:
            lines.append(f"- Layers: a light jacket for {low}°C evenings, T-shirts for {high}°C days.")
        if month in d.climate.wet:
            lines.append("- A compact umbrella or rain jacket: it's one of the wettest months.")
    elif d:
        lines.append("- Tell me the month and I'll size the clothes to the climate.")
    notes = catalog.country_notes(place.country)
    if notes:
        lines.append(f"- Plug adapter: type {notes.plugs}.")
    lines += ["- Comfortable walking shoes, a refillable bottle, copies of your passport and insurance."]
    return lines


def safety(place: Place, _facts: TripFacts) -> list[str]:
    notes = catalog.country_notes(place.country)
    lines = [
        f"Safety basics for {place.name}:",
        "- Watch for pickpockets in crowds and on transit; keep a card and some cash apart.",
        "- Use licensed taxis or ride-hailing apps; agree fares first where there's no meter.",
        "- Your government's travel advisory has the current risks.",
    ]
    if notes:
        lines.insert(1, f"- Emergency number: {notes.emergency}.")
    return lines


def best_months(d: Destination) -> list[int]:
    """Months (1-12) that are neither in the rainy season nor too hot or cold: highs of 18-30°C. Where every
    dry month is hotter (the tropics), the coolest dry months, within 1°C of the coolest."""
    dry = [m for m in range(1, 13) if not (d.climate.rainy_season and m in d.climate.wet)]
    good = [m for m in dry if PLEASANT[0] <= d.climate.high[m - 1] <= PLEASANT[1]]
    if not good and dry:
        highs = [d.climate.high[m - 1] for m in dry]
        if min(highs) > PLEASANT[1]:  # the tropics: the coolest dry months
            good = [m for m in dry if d.climate.high[m - 1] <= min(highs) + 1]
        else:  # the far north: the warmest months
            good = [m for m in dry if d.climate.high[m - 1] >= max(highs) - 1]
    return good


def _best_months(d: Destination) -> str:
    return ", ".join(MONTHS[m - 1] for m in best_months(d))
