"""Conversations with the offline assistant, table-driven from ``offline_dialogues.yaml``; determinism; streaming."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from travel_agent.agent.interface import Turn
from travel_agent.agent.offline import catalog, reply, reply_chunks

DIALOGUES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "offline_dialogues.yaml").read_text("utf-8"))


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


@pytest.mark.parametrize("dialogue", DIALOGUES, ids=[d["name"] for d in DIALOGUES])
def test_dialogue(dialogue: dict[str, Any]) -> None:
    for n, (turn, _history, answer) in enumerate(converse(dialogue), start=1):
        for wanted in turn.get("has", []):
            assert wanted in answer, f"turn {n} ({turn['user']!r}) lacks {wanted!r}:\n{answer}"
        for unwanted in turn.get("lacks", []):
            assert unwanted not in answer, f"turn {n} ({turn['user']!r}) has {unwanted!r}:\n{answer}"


@pytest.mark.parametrize("dialogue", DIALOGUES[::4], ids=[d["name"] for d in DIALOGUES[::4]])
def test_same_history_same_reply_and_chunks_join(dialogue: dict[str, Any]) -> None:
    for turn, history, answer in converse(dialogue):
        assert reply(list(history), turn["user"]) == answer
        assert "".join(reply_chunks(history, turn["user"])) == answer


def test_follow_ups_never_repeat_the_previous_reply() -> None:
    for dialogue in DIALOGUES:
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
