"""Pull trip facts (destination, stay, travellers, budget) out of free-form chat messages."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import date
from typing import TypeVar

from travel_agent.agent.offline import places

T = TypeVar("T")
Candidates = Iterable[tuple[tuple[int, int], T]]  # (where it ends, tie-break) -> value; the latest one wins

_WORDS = "one two three four five six seven eight nine ten eleven twelve".split()
NUMBER_WORDS = {word: i for i, word in enumerate(_WORDS, start=1)}
_NUM = r"(\d{1,3}|" + "|".join(_WORDS) + r")"
_MONTHS = "january february march april may june july august september october november december".split()
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?"
)
_DAY = r"(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\b"
_TO = r"\s*(?:-|–|—|to|until|till|through|thru)\s*"


@dataclass(frozen=True)
class Money:
    amount: int
    currency: str | None  # ISO code; None when the user gave a bare number
    scope: str  # "total", "per person", "per day" or "per person per day"


@dataclass(frozen=True)
class TripFacts:
    destination: str | None = None
    days: int | None = None
    stay: str | None = None  # the length as the user put it, e.g. "3 nights"
    when: str | None = None
    travellers: int | None = None
    budget: Money | None = None
    level: str | None = None  # "budget", "mid-range" or "luxury"

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in _FACTS)


def facts_from(user_messages: Iterable[str]) -> TripFacts:
    """Facts of a whole conversation: each later message overrides what it restates."""
    facts = TripFacts()
    for text in user_messages:
        facts = merge(facts, extract(text))
    return facts


_FACTS = tuple(f.name for f in fields(TripFacts))  # dataclasses.fields() on every call cost more than the merge


def merge(old: TripFacts, new: TripFacts) -> TripFacts:
    """``old`` with every fact ``new`` states."""
    return TripFacts(**{name: getattr(old, name) if (v := getattr(new, name)) is None else v for name in _FACTS})


def extract(text: str) -> TripFacts:
    """Facts stated in one message; when a message says something twice, the later mention wins."""
    low = _lower(text)
    latest_range, in_range = _ranges(text, low)
    days, stay = _last(_stays(low, latest_range)) or (None, None)
    return TripFacts(
        destination=_last(_destinations(text, low)),
        days=days,
        stay=stay,
        when=_last(_whens(text, low, latest_range, in_range)),
        travellers=_last(_travellers(low)),
        budget=_last(_amounts(text, low)),
        level=_last(_levels(low)),
    )


def _lower(text: str) -> str:
    # Patterns run case-sensitively on a lower-cased copy (twice as fast as IGNORECASE), which must keep
    # every character at its index so capitalisation can still be read from the original.
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)


def _last(candidates: Candidates[T]) -> T | None:
    best = max(candidates, key=lambda c: c[0], default=None)
    return None if best is None else best[1]


def _number(token: str) -> int:
    return NUMBER_WORDS.get(token) or int(token)


def _newest_first(pattern: re.Pattern[str], text: str) -> Iterable[re.Match[str]]:
    # Only the latest valid mention matters, so finders validate from the end and stop at the first hit:
    # the regex scan is C-speed, the per-match Python checks are what long repetitive input would pay for.
    return reversed(list(pattern.finditer(text)))


def _mentions(low: str, words: Iterable[str]) -> bool:
    # A substring test costs microseconds; most finders are skipped on text that cannot match them.
    return any(word in low for word in words)


# --- destination -------------------------------------------------------------------------------------------------

_TRIGGER = re.compile(r"\b(to|in|into|visit|visiting|for|around|explore|exploring|towards?)\s+(?:(the)\s+)?")
_WEAK_TRIGGERS = {"in", "for", "around"}  # "interested in Thai food" must not become a trip to Thai
_TOKEN = re.compile(r"[^\W\d_](?:[\w'’-]*\w)?")
_WORD = re.compile(r"[^\W\d_]+")
_GAP = re.compile(r"[ \u00a0]+")
_CONNECTORS = {"de", "del", "da", "do", "dos", "das", "la", "le", "les", "los", "las", "of", "upon", "am", "sur", "el"}
_NOT_PLACE = set(
    _MONTHS
    + "jan feb mar apr jun jul aug sep sept oct nov dec".split()
    + "monday tuesday wednesday thursday friday saturday sunday weekend spring summer autumn fall winter".split()
    + "christmas easter thanksgiving halloween ramadan eid diwali hanukkah holiday holidays vacation trip".split()
    + "i me my we us you your our them him her it a an and or but with from on at by for to in of the".split()
    + "next this that there here during around about so then also please thanks thank hi hello hey".split()
    + "go travel fly visit see be get have do make take plan stay explore know help book find spend relax".split()
    + "day days week weeks night nights month months year years today tomorrow tonight budget luxury cheap".split()
    + "usd eur gbp jpy chf cad aud nzd sek nok dkk inr cny thb mxn business work".split()
    + _WORDS
)
_REJECT_BEFORE = {"year", "years", "eve", "day"}  # "New Year", "Boxing Day" are dates, not places
_FOLLOW_OK = set(
    "in for with and on from next this during at by over around trip trips vacation holiday holidays getaway break "
    "tour again too as or but is was are please soon later sometime then city centre center old downtown area "
    "region itself because".split()
)
_HOME = re.compile(r"\b(?:live|living|lives|based|reside|residing|born|home)\s*$")
_NEGATED = re.compile(r"\b(?:not|instead\s+of|rather\s+than|no\s+longer|skip|from)\s+(?:the\s+)?$")


def _destinations(text: str, low: str) -> Candidates[str]:
    for trig in _newest_first(_TRIGGER, low):
        name, end = (None, 0) if text[trig.end() : trig.end() + 1].islower() else _name_at(text, trig.end())
        if (
            not name
            or _HOME.search(low, max(0, trig.start() - 20), trig.start())
            or _NEGATED.search(low, max(0, trig.start() - 16), trig.start())
        ):
            continue
        if trig.group(1) in _WEAK_TRIGGERS and not _ends_phrase(text, end):
            continue
        if name.isupper() and len(name) > 3:
            name = name.title()
        known = places.lookup(name)
        name = known.name if known else name
        yield (end, 1), (f"the {name}" if trig.group(2) else name)
        break
    # Known places count in any case, script or position ("paris trip", "東京に5日間"), unless negated.
    found = [
        (end, place.name)
        for start, end, place in places.mentions(text, low)
        if not _NEGATED.search(low, max(0, start - 16), start)
    ]
    if found:
        end, name = max(found)
        yield (end, 0), name


def _is_name_word(token: str) -> bool:
    return token[0].isalpha() and not token[0].islower() and _bare(token).lower() not in _NOT_PLACE


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


# --- stay and dates ----------------------------------------------------------------------------------------------

_UNITS = {"day": 1, "night": 1, "week": 7, "fortnight": 14, "month": 30}
_FUZZY = {"a": 1, "an": 1, "a couple of": 2, "couple of": 2, "a few": 3, "few": 3}
_STAY = re.compile(rf"\b(?P<n>{_NUM[1:-1]}|an?|a couple of|couple of|a few|few)[\s-]*(?P<unit>{'|'.join(_UNITS)})s?\b")
_ASIAN_STAY = re.compile(r"(?<![月\d])(\d{1,3})\s*(日間|日|泊|วัน|คืน)")  # Japanese and Thai: 5日間, 5 วัน
_WEEKEND = re.compile(r"\b(long\s+)?weekend\b")
_RELATIVE = re.compile(r"\b(?:in|within)\s+$")  # "leaving in 2 weeks" says when, not how long
_ISO = r"(\d{4})-(\d{2})-(\d{2})"
_RANGE_MD = re.compile(rf"\b{_MONTH}\s+{_DAY}{_TO}(?:{_MONTH}\s+)?{_DAY}")
_RANGE_DM = re.compile(rf"\b{_DAY}\s*(?:(?:of\s+)?{_MONTH}\s*)?{_TO}{_DAY}\s*(?:of\s+)?{_MONTH}")
_RANGE_ISO = re.compile(rf"\b{_ISO}{_TO}{_ISO}\b")
_ONE_MD = re.compile(rf"\b{_MONTH}\s+{_DAY}|\b{_DAY}\s+(?:of\s+)?{_MONTH}")
_ONE_ISO = re.compile(rf"\b{_ISO}\b")
_IN_MONTH = re.compile(rf"\b(?:in|during|around|this|next|over)\s+(?:(early|mid|late)[-\s]+)?{_MONTH}")
_JA_MONTH = re.compile(r"(?<!\d)(1[0-2]|[1-9])\s*月")
Range = tuple[tuple[int, int], int, str]  # span, days, label


def _stays(low: str, latest_range: Range | None) -> Candidates[tuple[int, str]]:
    if _mentions(low, _UNITS):
        for m in _newest_first(_STAY, low):
            n_raw, unit = m.group("n"), m.group("unit")
            if n_raw in ("a", "an") and unit in ("day", "night"):
                continue  # "a day" is nearly always "$100 a day", not a one-day trip
            if _RELATIVE.search(low, max(0, m.start() - 8), m.start()):
                continue
            n = _FUZZY.get(n_raw) or _number(n_raw)
            days = n * _UNITS[unit] + (1 if unit == "night" else 0)
            if 0 < days <= 365:
                yield (m.end(), 0), (days, f"{n_raw} {unit}s" if n_raw in _FUZZY and n > 1 else _count(n, unit))
                break
    if "weekend" in low:
        for m in _newest_first(_WEEKEND, low):
            yield (m.end(), 0), ((3, "a long weekend") if m.group(1) else (2, "a weekend"))
            break
    if latest_range:
        (_start, end), days, _label = latest_range
        yield (end, 1), (days, _count(days, "day"))
    for m in _newest_first(_ASIAN_STAY, low):
        n = int(m.group(1)) + (1 if m.group(2) in ("泊", "คืน") else 0)
        if 0 < n <= 365:
            yield (m.end(), 0), (n, _count(n, "day"))
            break


def _count(n: int, unit: str) -> str:
    return f"a {unit}" if n == 1 else f"{n} {unit}s"


def _ranges(text: str, low: str) -> tuple[Range | None, bytearray]:
    """The latest date range, and which characters belong to any range (its ends are not start dates)."""
    in_range = bytearray(len(low))
    latest: list[Range] = []
    parsers: list[tuple[re.Pattern[str], Callable[[str, re.Match[str]], Range | None]]] = []
    if _has_month(low):
        parsers += [(_RANGE_MD, _month_day_range), (_RANGE_DM, _day_month_range)]
    if "-" in low:
        parsers.append((_RANGE_ISO, _iso_range))
    for pattern, parse in parsers:
        matches = list(pattern.finditer(low))
        for m in matches:
            in_range[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
        found = next(filter(None, (parse(text, m) for m in reversed(matches))), None)
        latest += [found] if found else []
    return max(latest, key=lambda r: r[0][1], default=None), in_range


def _month_day_range(text: str, m: re.Match[str]) -> Range | None:
    return _range(text, m, (1, 2), (3 if m.group(3) else 1, 4))  # "June 3 to 10", "June 3 to July 1"


def _day_month_range(text: str, m: re.Match[str]) -> Range | None:
    return _range(text, m, (2 if m.group(2) else 4, 1), (4, 3))  # "3-10 June", "28 Dec to 3 Jan"


def _range(text: str, m: re.Match[str], a: tuple[int, int], b: tuple[int, int]) -> Range | None:
    start, end = _month_day(m.group(a[0]), m.group(a[1])), _month_day(m.group(b[0]), m.group(b[1]))
    if not (start and end and _real_month(text, m.start(a[0])) and _real_month(text, m.start(b[0]))):
        return None
    # No year is given, so a range that runs "backwards" crosses New Year.
    return m.span(), (end - start).days % 365 + 1, f"from {_md_label(start)} to {_md_label(end)}"


def _iso_range(_text: str, m: re.Match[str]) -> Range | None:
    start, end = _iso(m.groups()[:3]), _iso(m.groups()[3:])
    if not (start and end and 0 <= (end - start).days < 365):
        return None
    return m.span(), (end - start).days + 1, f"from {start.isoformat()} to {end.isoformat()}"


def _has_month(low: str) -> bool:
    return _mentions(low, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))


def _real_month(text: str, pos: int) -> bool:
    return not text.startswith("may", pos)  # lower-case "may" is the verb; "May" and "MAY" are the month


def _month_day(month: str, day: str) -> date | None:
    try:
        return date(2001, _month_number(month), int(day))
    except ValueError:
        return None


def _month_number(month: str) -> int:
    return [m[:3] for m in _MONTHS].index(month[:3]) + 1


def _md_label(day: date) -> str:
    return f"{_MONTHS[day.month - 1].title()} {day.day}"


def _iso(parts: tuple[str, ...]) -> date | None:
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def _whens(text: str, low: str, latest_range: Range | None, in_range: bytearray) -> Candidates[str]:
    if latest_range:
        (_start, end), _days, label = latest_range
        yield (end, 1), label
    if _has_month(low):
        for m in _newest_first(_ONE_MD, low):
            if in_range[m.start()]:
                continue
            month = 1 if m.group(1) else 4
            when = _month_day(m.group(month), m.group(2) or m.group(3))
            if when and _real_month(text, m.start(month)):
                yield (m.end(), 0), f"starting {_md_label(when)}"
                break
        for m in _newest_first(_IN_MONTH, low):
            if _real_month(text, m.start(2)) and not in_range[m.start()]:
                part = f"{m.group(1)} " if m.group(1) else ""
                yield (m.end(), 0), f"in {part}{_MONTHS[_month_number(m.group(2)) - 1].title()}"
                break
    for m in _newest_first(_JA_MONTH, low):
        yield (m.end(), 0), f"in {_MONTHS[int(m.group(1)) - 1].title()}"
        break
    if "-" in low:
        for m in _newest_first(_ONE_ISO, low):
            when = None if in_range[m.start()] else _iso(m.groups())
            if when:
                yield (m.end(), 0), f"starting {when.isoformat()}"
                break


# --- travellers --------------------------------------------------------------------------------------------------

_PEOPLE = ("people", "person", "travel", "guest", "pax", "of us", "passenger", "ticket")
_TOTAL = re.compile(rf"\b{_NUM}\s+(?:people|persons|person|travell?ers|guests|pax|of us|passengers|tickets)\b")
_GROUP_OF = re.compile(rf"\b(?:family|group|party)\s+of\s+{_NUM}\b")
_WE_ARE = re.compile(rf"\bwe(?:'re|’re|\s+are)\s+{_NUM}\b(?!\s*(?:days?|nights?|weeks?|years?|months?|hours?))")
_SOLO = re.compile(r"\b(?:solo|alone|by myself|on my own|just me|only me)\b")
_COUPLE = re.compile(r"\b(?:as a couple|honeymoon|for two\b(?!\s+(?:days?|nights?|weeks?|months?|of)))")
_RELATION = (
    r"(?:wife|husband|partner|spouse|girlfriend|boyfriend|fianc[eé]e?|friend|mom|mum|mother|dad|father|sister|"
    r"brother|son|daughter|kid|child|baby|colleague|boss|grandma|grandmother|grandpa|grandfather|aunt|uncle|"
    r"cousin|buddy|mate|roommate)"
)
_COMPANION = re.compile(
    rf"\b(?:with|and|plus|&)\s+(?:my|a|our)\s+(?:best\s+|little\s+|older\s+|younger\s+)?{_RELATION}\b"
)
_MEMBERS = "adult kid child friend colleague teen son daughter bab infant grand toddler".split()
_PARTY = re.compile(
    rf"\b{_NUM}\s+(?:(adults?)|kids?|children|child|friends?|colleagues?|teens?|teenagers?|sons?|daughters?|"
    r"babies|baby|infants?|grandkids|grandchildren|toddlers?)\b"
)


_FOR_N = re.compile(
    rf"\bfor\s+{_NUM}\b(?!\s*(?:days?|nights?|weeks?|months?|years?|hours?|of\b|[$€£¥₹%]|k\b|usd|eur|gbp|dollars?|euros?))"
    r"(?!\d|[.,]\d)"
)
_ASIAN_PEOPLE = re.compile(r"(\d{1,2})\s*(?:人|名|คน)")


def _travellers(low: str) -> Candidates[int]:
    for pattern in (_FOR_N, _ASIAN_PEOPLE):
        for m in _newest_first(pattern, low):
            if 0 < (n := _number(m.group(1))) < 30:
                yield (m.end(), 1), n
                break
    totals = [(_TOTAL, _mentions(low, _PEOPLE)), (_GROUP_OF, " of " in low), (_WE_ARE, "we" in low)]
    for pattern, worth_it in totals:
        for m in _newest_first(pattern, low) if worth_it else ():
            if 0 < (n := _number(m.group(1))) < 100:
                yield (m.end(), 1), n
                break
    for pattern, n in ((_SOLO, 1), (_COUPLE, 2)):
        for m in _newest_first(pattern, low):
            yield (m.end(), 1), n
            break
    companions = list(_COMPANION.finditer(low))
    parties = list(_PARTY.finditer(low)) if _mentions(low, _MEMBERS) else []
    if companions or parties:
        # "with my wife and 2 kids" counts the writer too; "2 adults and 2 kids" already does.
        me = 0 if any(p.group(2) for p in parties) else 1
        count = me + len(companions) + sum(_number(p.group(1)) for p in parties)
        yield (max(m.end() for m in companions + parties), 0), count


# --- budget ------------------------------------------------------------------------------------------------------

_AMOUNT = (
    r"(?<![\w.,])(?P<num>\d{1,3}(?:[,.]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
    r"(?:(?P<k>k)\b|\s*(?P<k2>thousand|grand)\b)?"
)
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
_CODES = "usd eur gbp jpy chf cad aud nzd sek nok dkk inr cny thb mxn".split()
_NAMES = {"dollar": "USD", "buck": "USD", "euro": "EUR", "pound": "GBP", "yen": "JPY", "franc": "CHF", "rupee": "INR"}
_NOT_MONEY = r"(?!\s*(?:people|persons|days?|nights?|weeks?|adults?|kids?|travell?ers|%))"
_SYMBOL_FIRST = re.compile(rf"(?P<sym>[$€£¥₹])\s?{_AMOUNT}")
_CODE_FIRST = re.compile(rf"\b(?P<code>{'|'.join(_CODES)})\s?{_AMOUNT}")
_UNIT_AFTER = re.compile(
    rf"{_AMOUNT}\s?(?:(?P<sym2>[$€£¥₹])|(?P<code2>{'|'.join(_CODES)})\b|(?P<word>{'|'.join(_NAMES)})s?\b)"
)
_BUDGET_WORD = re.compile(rf"\b(?:budget|spend|spending)\b[^\d$€£¥₹\n]{{0,25}}?{_AMOUNT}{_NOT_MONEY}")
_PER_PERSON = re.compile(r"\b(?:per|a|each)\s+(?:person|head|traveller|traveler)\b|\beach\b(?!\s+(?:day|night))|\bpp\b")
_PER_DAY = re.compile(r"\b(?:per|a|each)\s+(?:day|night)\b|\bdaily\b|/day|/night")


def _amounts(text: str, low: str) -> Candidates[Money]:
    has_unit = _mentions(low, [*_CODES, *_NAMES])
    patterns = [
        (_SYMBOL_FIRST, _mentions(text, _SYMBOLS)),
        (_CODE_FIRST, has_unit),
        (_UNIT_AFTER, has_unit or _mentions(text, _SYMBOLS)),
        (_BUDGET_WORD, "budget" in low or "spend" in low),
    ]
    for pattern, worth_it in patterns:
        for m in _newest_first(pattern, low) if worth_it else ():
            amount = _parse_amount(m.group("num"), bool(m.group("k") or m.group("k2")))
            if amount > 0:
                currency = _currency(m.groupdict())
                yield (m.end(), currency is not None), Money(amount, currency, _scope(low[m.end() : m.end() + 30]))
                break


def _currency(found: dict[str, str | None]) -> str | None:
    symbol, code = found.get("sym") or found.get("sym2"), found.get("code") or found.get("code2")
    if symbol:
        return _SYMBOLS[symbol]
    return code.upper() if code else _NAMES.get(found.get("word") or "")


def _parse_amount(raw: str, thousands: bool) -> int:
    # "1,500.50" and "2.5k" carry cents; "1.500" is the European way to write fifteen hundred.
    cents = re.search(r"[.,](\d{1,2})$", raw)
    whole = raw[: cents.start()] if cents else raw
    value = int(re.sub(r"[.,]", "", whole)) + (int(cents.group(1)) / 10 ** len(cents.group(1)) if cents else 0)
    return round(value * (1000 if thousands else 1))


def _scope(tail: str) -> str:
    clause = re.split(r"[.;!?,\n]|\s(?:and|for|but|so)\s", tail, maxsplit=1)[0]
    person, day = bool(_PER_PERSON.search(clause) or "/person" in clause), bool(_PER_DAY.search(clause))
    scopes = {(True, True): "per person per day", (True, False): "per person", (False, True): "per day"}
    return scopes.get((person, day), "total")


_LEVELS = [
    (
        "budget",
        re.compile(
            r"\b(?:cheap(?:ly|est)?|budget[- ](?:friendly|trip|travel|travell?er|hotels?|hostels?|options?)|affordable"
            r"|on an? (?:tight |small |low |limited |strict )?budget|low[- ](?:budget|cost)|tight budget|inexpensive"
            r"|backpack(?:ing|er)?|shoestring)\b"
        ),
    ),
    (
        "mid-range",
        re.compile(
            r"\b(?:mid[- ]?range|moderate(?:ly priced)?|mid[- ]?budget|reasonably priced|nothing fancy"
            r"|not too (?:fancy|expensive))\b"
        ),
    ),
    (
        "luxury",
        re.compile(
            r"\b(?:luxury|luxurious|high[- ]end|upscale|splurge|five[- ]star|5[- ]star|lavish|premium|fancy"
            r"|first[- ]class)\b"
        ),
    ),
]


def _levels(low: str) -> Candidates[str]:
    for level, pattern in _LEVELS:
        for m in _newest_first(pattern, low):
            # Ties go to the longer phrase, so "nothing fancy" beats the "fancy" inside it.
            yield (m.end(), m.end() - m.start()), level
            break
