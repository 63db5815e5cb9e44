"""Dialogue state from the whole session: the trip facts (newest statement wins), what changed, what was offered."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from functools import lru_cache

from travel_agent.agent.interface import Turn
from travel_agent.agent.offline import intents
from travel_agent.agent.offline.trip_facts import TripFacts, extract, merge

LEVELS = ("budget", "mid-range", "luxury")
# The offers the assistant makes end its replies as "Want me to <phrase>?"; the next turn's "yes" takes the first.
OFFER_PHRASES = {
    "stay": "suggest where to stay",
    "food": "suggest what to eat",
    "transport": "explain getting around",
    "budget": "break down the budget",
    "weather": "check the weather",
    "packing": "make a packing list",
    "money": "cover money and tipping",
    "visa": "point you to the entry rules",
    "plan": "sketch a day-by-day plan",
}
_OFFER = re.compile(r"Want me to ([^?\n]*)\?")
_LABELS = {
    "destination": "destination",
    "days": "length",
    "when": "dates",
    "travellers": "travellers",
    "budget": "budget",
    "level": "style",
}


@dataclass(frozen=True)
class State:
    facts: TripFacts  # after this message
    before: TripFacts  # after the earlier messages
    asked: tuple[str, ...]  # intents of this message (explicit, or an accepted offer)
    accepted: bool  # the traveller said yes to an offer
    declined: bool
    covered: frozenset[str]  # intents answered earlier in the session
    new_facts: bool  # this message stated or corrected a trip fact
    shifted: bool  # "cheaper" / "fancier": the style moved even if none was stated before

    def changes(self) -> list[str]:
        """ "length 5 days → 7 days" for every fact this message changed (not those it merely added)."""
        out = []
        for name, label in _LABELS.items():
            old, new = getattr(self.before, name), getattr(self.facts, name)
            if name == "level" and self.shifted and old is None:
                old = "mid-range"
                if old != new:
                    out.append(f"{label} {old} → {new}")
                continue
            if old is not None and new is not None and old != new:
                out.append(f"{label} {_show(self.before, name)} → {_show(self.facts, name)}")
        return out


def derive(history: Sequence[Turn], message: str) -> State:
    facts = TripFacts()
    covered: set[str] = set()
    last_offer: tuple[str, ...] = ()
    for turn in history:
        if turn.role == "user":
            facts = _apply(facts, turn.content)
            covered.update(_asked(turn.content, last_offer))
        else:
            last_offer = offers(turn.content)
    after = _apply(facts, message)
    asked = _asked(message, last_offer)
    explicit = intents.detect(_low(message))
    return State(
        facts=after,
        before=facts,
        asked=asked,
        accepted=bool(asked) and not explicit and intents.is_yes(message),
        declined=intents.is_no(message) and not explicit,
        covered=frozenset(covered),
        new_facts=_own_facts(message) != TripFacts() or intents.price_shift(_low(message)) != 0,
        shifted=intents.price_shift(_low(message)) != 0,
    )


def offers(assistant_text: str) -> tuple[str, ...]:
    """The intents an assistant reply offered, in its order."""
    found = _OFFER.findall(assistant_text)
    if not found:
        return ()
    phrase = found[-1]
    hits = [(phrase.find(text), intent) for intent, text in OFFER_PHRASES.items() if text in phrase]
    return tuple(intent for _, intent in sorted(hits))


def _asked(message: str, last_offer: tuple[str, ...]) -> tuple[str, ...]:
    explicit = intents.detect(_low(message))
    if explicit:
        return explicit
    if last_offer and intents.is_yes(message):
        return last_offer[:1]
    return ()


def _apply(facts: TripFacts, message: str) -> TripFacts:
    merged = merge(facts, _own_facts(message))
    shift = intents.price_shift(_low(message))
    if shift:
        current = LEVELS.index(merged.level or "mid-range")
        merged = replace(merged, level=LEVELS[min(2, max(0, current + shift))])
    return merged


@lru_cache(maxsize=4096)
def _own_facts(message: str) -> TripFacts:
    # Each message's facts are worked out once per process: a session re-reads its whole history every turn.
    return extract(message[:4000])


@lru_cache(maxsize=4096)
def _low(message: str) -> str:
    return message[:4000].lower()


def _show(facts: TripFacts, name: str) -> str:
    value = getattr(facts, name)
    if name == "days":
        return facts.stay or f"{value} days"
    if name == "travellers":
        return str(value)
    if name == "budget":
        return f"{value.amount:,} {value.currency or ''} {value.scope}".replace("  ", " ")
    return str(value)


def fact_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(TripFacts))
