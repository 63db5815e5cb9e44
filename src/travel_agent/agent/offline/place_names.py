"""Which places a message names, in order: the trip's destination(s), near misses ("Barcelonna"), and the days
a stop is given ("3 days in Paris", "Rome (4 nights)"). Origins ("from London", "I live in Leeds") and negated
places ("Rome, not Paris") are not destinations."""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass
from functools import cache

from travel_agent.agent.offline import catalog, places
from travel_agent.agent.offline.scan import MONTHS, NUM, NUMBER_WORDS, newest_first, number

_TRIGGER = re.compile(
    r"\b(to|in|into|visit|visiting|see|for|around|explore|exploring|towards?|then|and|also|add|plus|via|between"
    r"|nach|à|em|para|a|en|no|na|nel|nella|au|aux|it|about|actually|maybe|perhaps|prefer|rather|do|try|instead)\s+"
    r"(?:(the)\s+)?"
)
_MAX_TRIGGERS = 12  # the newest mentions; a trip names a handful of places, long text would cost per trigger
_WEAK_TRIGGERS = {"in", "for", "around", "and", "then", "also", "plus", "via"}  # need a known place or an ending
# These name a place only when it is one the gazetteer knows ("make it Lyon", "quiero ir a Ljubljana").
_FOREIGN_TRIGGERS = {"nach", "à", "em", "para", "a", "en", "no", "na", "nel", "nella", "au", "aux", "see", "add"}
_FOREIGN_TRIGGERS |= {"it", "about", "actually", "maybe", "perhaps", "prefer", "rather", "do", "try", "instead"}
_STRONG_FUZZY = {"to", "visit", "visiting", "explore", "exploring", "towards", "toward", "add"}
_TOKEN = re.compile(r"[^\W\d_](?:[\w'’-]*\w)?")
_GAP = re.compile(r"[ \u00a0]+")
_CONNECTORS = {"de", "del", "da", "do", "dos", "das", "la", "le", "les", "los", "las", "of", "upon", "am", "sur", "el"}
NOT_PLACE = set(
    MONTHS
    + "jan feb mar apr jun jul aug sep sept oct nov dec".split()
    + "monday tuesday wednesday thursday friday saturday sunday weekend spring summer autumn fall winter".split()
    + "christmas easter thanksgiving halloween ramadan eid diwali hanukkah holiday holidays vacation trip".split()
    + "i me my we us you your our them him her it a an and or but with from on at by for to in of the".split()
    + "next this that there here during around about so then also please thanks thank hi hello hey".split()
    + "go travel fly visit see be get have do make take plan stay explore know help book find spend relax".split()
    + "day days week weeks night nights month months year years today tomorrow tonight budget luxury cheap".split()
    + "usd eur gbp jpy chf cad aud nzd sek nok dkk inr cny thb mxn business work europe asia africa".split()
    + "america oceania somewhere anywhere everywhere home work friends family kids people".split()
    + "hola hallo bonjour salut ciao olá ola oi buongiorno buenos buenas guten bom bonsoir servus moin".split()
    + list(NUMBER_WORDS)
)
_REJECT_BEFORE = {"year", "years", "eve", "day"}  # "New Year", "Boxing Day" are dates, not places
_FOLLOW_OK = set(
    "in for with and on from next this during at by over around trip trips vacation holiday holidays getaway break "
    "tour again too as or but is was are please soon later sometime then city centre center old downtown area "
    "region itself because first after before".split()
)
_HOME = re.compile(
    r"\b(?:live|living|lives|based|reside|residing|born|home|from)(?:\s+(?:in|at|near|out\s+of))?\s*(?:the\s+)?$"
)
NEGATED = re.compile(
    r"\b(?:not|instead\s+of|rather\s+than|no\s+longer|skip|skipping|drop|remove|without|from|leaving|leave|than"
    r"|except|but\s+not|out)\s+(?:the\s+)?$"
)
_DAYS_BEFORE = re.compile(
    rf"\b{NUM}[\s-]*(?:(day|night|week|wk|nite|nt)s?)?\s*(?:in|at|for|of|en|à|a|em|no|na|im|nel|au|-|–|:)?\s*"
    r"(?:the\s+)?$"
)
_DAYS_AFTER = re.compile(
    rf"^\s*(?:\(|:|,|-|–|for|für|por|pour|per|durante)?\s*{NUM}[\s-]*(day|night|week|wk|nite|nt)s?\b"
)


@dataclass(frozen=True)
class Named:
    start: int
    end: int
    name: str  # the English name when known, else as written
    known: bool
    days: int | None  # days said for this stop alone


@dataclass(frozen=True)
class NearMiss:
    typed: str
    meant: str


def find(text: str, low: str, lenient: bool = False) -> tuple[list[Named], NearMiss | None]:
    """The places named as destinations, in order of mention (one entry per place), and a near miss if any."""
    found: dict[int, Named] = {}
    near = None
    fuzzy_budget = 3  # difflib is the costly step: at most a few tries per message
    for start, end, place in places.mentions(text, low, lenient):
        if not NEGATED.search(low, max(0, start - 16), start) and not _HOME.search(low, max(0, start - 20), start):
            found[start] = Named(start, end, place.name, True, None)
    for trig in itertools.islice(newest_first(_TRIGGER, low), _MAX_TRIGGERS):
        pos = trig.end()
        following = text[pos : pos + 1]
        if not following.isalpha() or (following.islower() and trig.group(1) not in _STRONG_FUZZY):
            continue  # "for 3 people", "in may": cheap to rule out before the regex checks below
        if (pos in found and not trig.group(2)) or _HOME.search(low, max(0, trig.start() - 20), trig.start()):
            continue
        if NEGATED.search(low, max(0, trig.start() - 16), trig.start()):
            continue
        word = trig.group(1)
        name, end = (None, 0) if text[pos : pos + 1].islower() else _name_at(text, pos)
        if not name:
            if word in _STRONG_FUZZY and fuzzy_budget and (tok := _TOKEN.match(low, pos)):
                fuzzy_budget -= 1
                near = near or _near_miss(tok.group())
            continue
        if name.isupper() and len(name) > 3:
            name = name.title()
        known = places.lookup(name)
        if known is None and fuzzy_budget:
            fuzzy_budget -= 1
            if miss := _near_miss(name):
                near = near or miss
                continue
        if word in _WEAK_TRIGGERS and not _ends_phrase(text, end):
            continue  # "interested in Thai food" is not a trip to Thai
        if known is None and word in _FOREIGN_TRIGGERS:
            continue
        if known is None and word in ("and", "then", "also", "plus", "via"):
            continue
        label = known.name if known else name
        found[pos] = Named(pos, end, f"the {label}" if trig.group(2) else label, bool(known), None)
    if (lead := _leading_place(text)) and lead.start not in found:  # "Ljubljana for 4 days"
        found[lead.start] = lead
    ordered: list[Named] = []
    seen: set[str] = set()
    for item in sorted(found.values(), key=lambda n: n.start):
        if item.name not in seen and not any(o.start <= item.start < o.end for o in ordered):
            seen.add(item.name)
            ordered.append(item)
    return _stop_days(low, ordered), near


def _stop_days(low: str, named: list[Named]) -> list[Named]:
    """Each stop's own length. A bare "5 in Berlin" counts once another stop says its unit; one length at the
    edge of a list ("Paris, Amsterdam and Berlin for 3 weeks") is the whole trip's, not the last stop's."""
    if len(named) == 1:  # "4 in athens": that stop's days, when the trip already has a route
        days, _unit = _days_said(low, named[0])
        return [Named(named[0].start, named[0].end, named[0].name, named[0].known, days)]
    if not named:
        return named
    said = [_days_said(low, item) for item in named]
    with_unit = [i for i, (days, unit) in enumerate(said) if days and unit]
    if len(with_unit) == 1 and with_unit[0] in (0, len(named) - 1) and not any(d for d, u in said if not u):
        return named
    if not with_unit:
        return named
    return [Named(n.start, n.end, n.name, n.known, days) for n, (days, _unit) in zip(named, said, strict=True)]


_LEAD_FOLLOW = re.compile(
    r"\s*(?:for\b|in\b|,|-|–|:|\(|\d|trip\b|or\b|and\b|then\b|vs\b|pour\b|per\b|para\b|für\b|por\b|$)"
)


_GREETING = re.compile(
    r"\s*(?:(?:hi|hello|hey|hola|hallo|bonjour|salut|ciao|olá|ola|oi|buongiorno|buenos días|guten tag)\b[\s,!.]*)?",
    re.IGNORECASE,
)


def _leading_place(text: str) -> Named | None:
    """A known place opening the message (after a greeting) and followed by trip words: "Ljubljana, 4 days",
    "Bonjour, Lyon pour 3 jours"; "Can you..." and "Nice to meet you" are not places."""
    start = _GREETING.match(text).end()  # type: ignore[union-attr]  # it matches the empty string too
    name, end = _name_at(text, start)
    if not name or not _LEAD_FOLLOW.match(text, end):
        return None
    known = places.lookup(name)
    return Named(start, end, known.name, True, None) if known else None


def alternatives(low: str, named: list[Named]) -> bool:
    """ "Paris or Rome": a choice between places, not a route through them."""
    return any(
        re.fullmatch(r"[\s,]*(?:or|o|oder|ou|vs\.?|versus)\s+(?:maybe\s+|perhaps\s+)?", low[a.end : b.start])
        for a, b in zip(named, named[1:], strict=False)
    )


def _days_said(low: str, item: Named) -> tuple[int | None, bool]:
    """(days, whether a unit was said) for one stop: "3 days in Paris", "Paris (4 nights)", "5 in Berlin"."""
    before = _DAYS_BEFORE.search(low, max(0, item.start - 26), item.start)
    after = _DAYS_AFTER.match(low[item.end : item.end + 26])
    if before and before.group(2):
        m, unit = before, before.group(2)
    elif after:
        m, unit = after, after.group(2)
    elif before and re.search(r"\sin\s+(?:the\s+)?$", before.group()):
        m, unit = before, None
    else:
        return None, False
    n = number(m.group(1))
    # A stop's nights are its days (the night you move on is the next stop's); only a trip's end adds a day.
    days = n * 7 if unit in ("week", "wk") else n
    return (days if 0 < days <= 365 else None), unit is not None


def stop_spans(low: str, named: list[Named]) -> list[tuple[int, int]]:
    """Where each stop's own length is said, so the trip's total length is not read from it."""
    spans = []
    for item in named:
        if item.days is None:
            continue
        before = _DAYS_BEFORE.search(low, max(0, item.start - 26), item.start)
        if before and before.group(2):
            spans.append(before.span())
        elif after := _DAYS_AFTER.match(low[item.end : item.end + 26]):
            spans.append((item.end + after.start(), item.end + after.end()))
    return spans


@cache
def _known_names() -> dict[str, str]:
    names = {}
    for d in catalog.destinations():
        for name in (d.name, *d.aliases):
            names[name.lower()] = d.name
    from travel_agent.agent.offline import countries

    for code in countries.codes():
        names.setdefault(countries.name(code).lower(), countries.name(code))
    return names


def _near_miss(typed: str) -> NearMiss | None:
    word = typed.lower()
    if len(word) < 4 or word in NOT_PLACE or places.lookup(word):
        return None
    names = _known_names()
    pool = [n for n in names if abs(len(n) - len(word)) <= 2 and n[:1] == word[:1]] or [
        n for n in names if abs(len(n) - len(word)) <= 2
    ]
    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.8)
    return NearMiss(typed, names[close[0]]) if close else None


def _is_name_word(token: str) -> bool:
    return token[0].isalpha() and not token[0].islower() and _bare(token).lower() not in NOT_PLACE


def _bare(token: str) -> str:
    return token[:-2] if token.endswith(("'s", "’s")) else token


def _name_at(text: str, pos: int) -> tuple[str | None, int]:
    words: list[str] = []
    end = pos
    while len(words) < 5:
        tok = _TOKEN.match(text, pos)
        if not tok:
            break
        word = tok.group()
        if _is_name_word(word):
            words.append(word)
        elif words and word.lower() in _CONNECTORS:  # "Rio de Janeiro", "Isle of Man"
            gap = _GAP.match(text, tok.end())
            following = gap and _TOKEN.match(text, gap.end())
            if not following or not _is_name_word(following.group()):
                break
            words += [word, following.group()]
            tok = following
        else:
            if words and _bare(word).lower() in _REJECT_BEFORE:
                return None, pos
            break
        end = tok.end()
        gap = _GAP.match(text, end)
        if not gap:
            break
        pos = gap.end()
    if not words:
        return None, end
    words[-1] = _bare(words[-1])
    return " ".join(words), end


def _ends_phrase(text: str, end: int) -> bool:
    following = re.match(r"[ \u00a0]+([^\W\d_]+)", text[end : end + 40])
    return not following or not following.group(1).islower() or following.group(1) in _FOLLOW_OK
