"""Dialogue state from the whole session: the trip facts (statements and corrections change them, questions
never do), what changed, what was offered, and whether the traveller took it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from travel_agent.agent.interface import Turn
from travel_agent.agent.offline import intents, languages
from travel_agent.agent.offline.scan import Cue, words_of
from travel_agent.agent.offline.trip_facts import Reading, Stop, TripFacts, clip, merge, read

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
_DID_YOU_MEAN = re.compile(r"Did you mean ([^?\n]+)\?")
_CHOICE = re.compile(r"^(.+?): which one should I plan\?", re.MULTILINE)
_BOTH = Cue("both all", r"\ball (?:of them|three|four)\b", "all")
_LABELS = {
    "destination": "destination",
    "stops": "route",
    "days": "length",
    "when": "dates",
    "travellers": "travellers",
    "budget": "budget",
    "level": "style",
}
_ADD = Cue(
    "add also plus then afterwards",
    r"\b(?:after that|extend (?:it )?to|continue to|as well)\b",
    "after|extend|continue|well",
)
_REMOVE_WORDS = frozenset("drop skip remove cut leave without more".split())
_REMOVE = re.compile(r"\b(?:drop|skip|remove|cut|leave out|without|no more)\s+(?:the\s+)?([^\W\d_][\w' -]{1,30})")


@dataclass(frozen=True)
class State:
    facts: TripFacts  # after this message
    before: TripFacts  # after the earlier messages
    view: TripFacts  # the trip as this message asks about it (a question's place or month, for this answer only)
    reading: Reading  # this message, read
    asked: tuple[str, ...]  # intents of this message (explicit, or an accepted offer)
    accepted: bool  # the traveller said yes to an offer
    declined: bool
    covered: frozenset[str]  # intents answered earlier in the session
    new_facts: bool  # this message stated or corrected a trip fact
    shifted: bool  # "cheaper" / "fancier": the style moved even if none was stated before
    question: bool
    language_noted: bool  # an earlier reply already said that replies are in English

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
            if name == "destination" and (self.before.stops or self.facts.stops):
                continue  # the route line says it
            if old and new and old != new:
                out.append(f"{label} {_show(self.before, name)} → {_show(self.facts, name)}")
            elif name == "stops" and old and not new and self.facts.destination:
                out.append(f"{label} {_show(self.before, name)} → {self.facts.destination}")
            elif name == "stops" and new and not old and self.before.destination:
                out.append(f"{label} {self.before.destination} → {_show(self.facts, name)}")
        return out

    def added(self) -> list[str]:
        """Facts this message added where none stood before."""
        skip = "destination" if self.facts.stops else "stops"  # a route names its places itself
        return [
            f"{label} {_show(self.facts, name)}"
            for name, label in _LABELS.items()
            if getattr(self.before, name) is None and getattr(self.facts, name) and name != skip
        ]


def derive(history: Sequence[Turn], message: str) -> State:
    facts = TripFacts()
    covered: set[str] = set()
    last_reply, noted = "", False
    message = clip(message)
    for turn in history:
        if turn.role == "user":
            text = clip(turn.content)  # a long message is read at its start and end, never all 4,000 characters
            facts = _apply(facts, text, last_reply)
            covered.update(_asked(text, offers(last_reply)))
        else:
            last_reply = turn.content
            noted = noted or languages.NOTE_MARK in turn.content
    after = _apply(facts, message, last_reply)
    reading = reading_of(message)
    asked = _asked(message, offers(last_reply))
    low = english_low(message)
    explicit = intents.detect(low)
    question = intents.is_question(message, english_low(message))
    return State(
        facts=after,
        before=facts,
        view=_view(after, reading) if question else after,
        reading=reading,
        asked=asked,
        accepted=bool(asked) and not explicit and intents.is_yes(message),
        declined=intents.is_no(message) and not explicit,
        covered=frozenset(covered),
        new_facts=after != facts,
        shifted=intents.price_shift(low) != 0,
        question=question,
        language_noted=noted,
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
    explicit = intents.detect(english_low(message))
    if explicit:
        return explicit
    if last_offer and intents.is_yes(message):
        return last_offer[:1]
    return ()


def _apply(facts: TripFacts, message: str, last_reply: str) -> TripFacts:
    reading = reading_of(message)
    new = reading.facts
    meant = _DID_YOU_MEAN.search(last_reply) if "Did you mean" in last_reply else None
    if meant and intents.is_yes(message) and not new.destination:
        new = replace(new, destination=meant.group(1))
    offered = _CHOICE.search(last_reply) if "which one should I plan" in last_reply else None
    if offered and not new.destination and _BOTH.found(english_low(message)):  # "Paris or Rome?" "both"
        options = offered.group(1).split(" or ")
        new = replace(new, destination=options[0], stops=tuple(Stop(name, None) for name in options))
    if intents.is_question(message, english_low(message)):
        new = _only_missing(facts, new)
    merged = merge(facts, _places(facts, new, reading, english_low(message)))
    merged = _totals(merged)
    shift = intents.price_shift(english_low(message))
    if shift:
        current = LEVELS.index(merged.level or "mid-range")
        merged = replace(merged, level=LEVELS[min(2, max(0, current + shift))])
    return merged


def _only_missing(old: TripFacts, new: TripFacts) -> TripFacts:
    """A question's facts fill what the trip lacks; they never replace what it has."""
    kept = {name: None for name in _LABELS if getattr(old, name) is not None}
    kept["when"] = None  # "what's the weather in October?" compares months; it does not date the trip
    if old.destination or old.stops:
        kept |= {"destination": None, "stops": None}
    if old.days:
        kept["stay"] = None
    return replace(new, **kept)


def _places(old: TripFacts, new: TripFacts, reading: Reading, low: str) -> TripFacts:
    """How a message's places edit the route: a new route, an added or dropped stop, a stop's days, a swap."""
    route = old.stops or ((Stop(old.destination, old.days),) if old.destination else ())
    names = [s.name for s in route]
    removals = list(_REMOVE.finditer(low)) if not _REMOVE_WORDS.isdisjoint(words_of(low)) else []
    removed = [n for n in names for m in removals if m.group(1).startswith(n.lower())]
    if removed and not new.destination:
        kept = tuple(s for s in route if s.name not in removed)
        return _route(new, kept)
    adding = _ADD.found(low)
    if new.stops or not new.destination or not old.stops and not adding:
        return replace(new, stops=() if new.destination and not new.stops and old.stops else new.stops)
    place, days = new.destination, reading.named[-1].days if reading.named else None
    swapped = [
        n for n in names if re.search(rf"\b(?:not|instead of|rather than)\s+(?:the\s+)?{re.escape(n.lower())}", low)
    ]
    if swapped and place not in names:  # "Lyon, not Amsterdam": that stop replaced, the rest kept
        return _route(new, tuple(Stop(place, s.days) if s.name == swapped[0] else s for s in route))
    if place in names:  # "4 days in Amsterdam": that stop's length, the route unchanged
        stops = tuple(Stop(s.name, (days or new.days) if s.name == place else s.days) for s in route)
        return _route(replace(new, days=None, stay=None), stops)
    if adding:  # the trip grows by the new stop's days, when both are known
        added = days or new.days
        total = old.days + added if old.days and added else None
        grown = replace(new, days=total, stay=f"{total} days" if total else None)
        return _route(grown, (*route, Stop(place, added)), keep_days=True)
    return replace(new, stops=())


def _route(new: TripFacts, stops: tuple[Stop, ...], keep_days: bool = False) -> TripFacts:
    if len(stops) < 2:
        only = stops[0] if stops else None
        return replace(new, destination=only.name if only else None, stops=(), days=only.days if only else None)
    if keep_days:
        return replace(new, destination=stops[0].name, stops=stops)
    return replace(new, destination=stops[0].name, stops=stops, days=None, stay=None)


def _totals(facts: TripFacts) -> TripFacts:
    """A route whose every stop has its days has their sum as its length."""
    if facts.stops and all(s.days for s in facts.stops):
        total = sum(s.days or 0 for s in facts.stops)
        return replace(facts, days=total, stay=f"{total} days")
    if facts.stops == ():
        return replace(facts, stops=None)
    return facts


def _view(facts: TripFacts, reading: Reading) -> TripFacts:
    asked = reading.facts
    view = replace(facts, when=asked.when or facts.when)
    if asked.stops and {s.name for s in asked.stops} != set(facts.places()):
        view = replace(view, destination=asked.destination, stops=asked.stops)
    elif asked.destination and asked.destination not in facts.places():
        view = replace(view, destination=asked.destination, stops=None)
    return view


@lru_cache(maxsize=4096)
def reading_of(message: str) -> Reading:
    # Each message is read once per process: a session re-reads its whole history every turn.
    return read(message)


@lru_cache(maxsize=4096)
def english_low(message: str) -> str:
    """The message lower-cased, in English words where it was written in one of the five other languages."""
    low = clip(message).lower()
    lang = languages.detect(low)
    return low if lang == "en" else languages.to_english(low, lang)


def _show(facts: TripFacts, name: str) -> str:
    value = getattr(facts, name)
    if name == "days":
        return facts.stay or f"{value} days"
    if name == "stops":
        return ", ".join(s.name + (f" ({s.days} days)" if s.days else "") for s in value)
    if name == "travellers":
        return str(value)
    if name == "budget":
        return f"{value.amount:,} {value.currency or ''} {value.scope}".replace("  ", " ")
    return str(value)


def forget() -> None:
    """Empty every per-message cache, as a restarted worker has them (the benchmark's and the tests' cold start)."""
    from travel_agent.agent.offline import languages as langs

    caches = (reading_of, english_low, intents.detect, intents.is_question, langs.detect, langs.to_english)
    for cached in (*caches, langs._pattern, words_of):
        cached.cache_clear()
