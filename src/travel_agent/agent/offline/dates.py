"""How long and when: "5 days", "a fortnight", "3 nights", "June 3-10", "2025-06-03 to 2025-06-10", "in July".

Messages in the five other languages reach these patterns already rewritten into English (``languages``), with
their own connectors left in place: "del 3 al 10 de May", "vom 3. bis 10. May", "du 3 au 10 May" are read here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from travel_agent.agent.offline.scan import MONTHS, NUM, Candidates, mentions, newest_first, number

MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?"
)
_DAY = r"(?:(?:the|le|el|il|dal|del|du|vom|am|dia|do|from|from the)\s+)?(\d{1,2})(?:st|nd|rd|th|er|º|\.)?(?!\d)"
# A pattern that starts with a day starts at its digits: a leading optional word would be tried at every word.
_DAY_START = r"(\d{1,2})(?:st|nd|rd|th|er|º|\.)?(?!\d)"
_OF = r"(?:(?:of|de|di|do)\s+)?"
_TO = r"\s*(?:-|–|—|to|until|till|through|thru|al|au|bis|zum|ao|a|até|hasta)\s*"
_UNITS = {"day": 1, "night": 1, "week": 7, "fortnight": 14, "month": 30}
_FUZZY = {"a": 1, "an": 1, "a couple of": 2, "couple of": 2, "a few": 3, "few": 3}
_ABBREVIATIONS = {"wk": "week", "nite": "night", "nt": "night", "dy": "day"}  # as typed in a hurry: "2 wks"
_UNIT_WORDS = "|".join([*_UNITS, *_ABBREVIATIONS])
# "1.5 weeks", "a week and a half", "two and a half weeks": a half is read; "1.5" is never "5 weeks".
_STAY = re.compile(
    rf"(?<![\d.,])\b(?P<n>\d{{1,3}}[.,]5|{NUM[1:-1]}|an?|a couple of|couple of|a few|few)"
    rf"(?P<half1>\s+and\s+a\s+half)?[\s-]*(?P<unit>{_UNIT_WORDS})s?\b(?P<half2>\s+and\s+a\s+half)?"
)
_SEASON = re.compile(r"\b(?:in|next|this|during|over|for)\s+(?:the\s+)?(spring|summer|autumn|fall|winter)\b")
_HOLIDAY = re.compile(r"\b(?:over|at|for|during|around|before|after)\s+(christmas|new year|easter|thanksgiving)")
_HOLIDAY_MONTHS = {"christmas": "December", "new year": "December", "easter": "April", "thanksgiving": "November"}
_ASIAN_STAY = re.compile(r"(?<![月\d])(\d{1,3})\s*(日間|日|泊|วัน|คืน)")  # Japanese and Thai: 5日間, 5 วัน
_WEEKEND = re.compile(r"\b(long\s+)?weekend\b")
_RELATIVE = re.compile(r"\b(?:in|within|for the (?:last|past)|ago|every)\s+$")  # "leaving in 2 weeks" is when
_ISO = r"(\d{4})-(\d{2})-(\d{2})"
_RANGE_MD = re.compile(rf"\b{MONTH}\s+{_DAY}{_TO}(?:{MONTH}\s+)?{_DAY}")
# "flying out June 12 and coming back June 19": the two ends said apart.
_RANGE_BACK = re.compile(
    rf"\b{MONTH}\s+{_DAY}[^.;!?\d]{{0,40}}?\b(?:back|return|returning|home|leave|leaving|out|depart|departing)"
    rf"\b(?:\s+(?:on|the))?\s+(?:{MONTH}\s+)?{_DAY}"
)
_RANGE_DM = re.compile(rf"\b{_DAY_START}\s*(?:{_OF}{MONTH}\s*)?{_TO}{_DAY}\s*{_OF}{MONTH}")
_RANGE_ISO = re.compile(rf"\b{_ISO}{_TO}{_ISO}\b")
_NOT_A_DATE = r"(?!\s*(?:days?|nights?|weeks?|months?|people|persons|adults?|kids?|travell?ers|pax)\b)"
_ONE_MD = re.compile(rf"\b{MONTH}\s+{_DAY}{_NOT_A_DATE}|\b{_DAY_START}\s+{_OF}{MONTH}")
_ONE_ISO = re.compile(rf"\b{_ISO}\b")
# "in (early) July", "im August", "next March", "a luglio", "a June trip": a month name first (one alternation of
# twelve), then what comes before or after it, in a small window: the prepositions are never scanned for.
_MONTH_WORD = re.compile(rf"\b{MONTH}")
_BEFORE_MONTH = re.compile(
    r"\b(?:in|during|around|this|next|over|en|im|ab|a|ad|em|no|au|nel|di|de|para|für|pour|per|until|by)\s+"
    r"(?:(?:the\s+)?(?:month\s+of|mois\s+de|mes\s+de|mês\s+de|mese\s+di)\s+)?(?:(early|mid|late)[-\s]+)?$"
)
_AFTER_MONTH = re.compile(r"\s+(?:trip|holiday|vacation|getaway|break|\d{4})")
_YEAR = re.compile(
    rf"\b{MONTH}\s+(\d{{4}})\b|\b(?:in|en|im|em|nel)\s+((?:19|20)\d\d)\b"
    r"(?!\s*(?:[-/$€£¥₹]|k\b|euros?|dollars?|pounds?|usd|eur|gbp|chf|people|persons))"
)
_JA_MONTH = re.compile(r"(?<!\d)(1[0-2]|[1-9])\s*月")
Range = tuple[tuple[int, int], int, str, date | None]  # span, days, label, its start when a year is given


def stays(low: str, latest_range: Range | None) -> Candidates[tuple[int, str]]:
    """(days, the length as said); the value may be absurd (0, 900 days): the caller judges it."""
    if mentions(low, (*_UNITS, *_ABBREVIATIONS)):
        for m in newest_first(_STAY, low):
            n_raw, unit = m.group("n"), m.group("unit")
            unit = _ABBREVIATIONS.get(unit, unit)
            if n_raw in ("a", "an") and unit in ("day", "night"):
                continue  # "a day" is nearly always "$100 a day", not a one-day trip
            if _RELATIVE.search(low, max(0, m.start() - 14), m.start()) or low[m.end() : m.end() + 4] in (" ago",):
                continue
            n = _FUZZY.get(n_raw) or (float(n_raw.replace(",", ".")) if n_raw[-2:-1] in ".," else number(n_raw))
            half = 0.5 if m.group("half1") or m.group("half2") else 0.0
            days = int((n + half) * _UNITS[unit] + 0.5) + (1 if unit == "night" and n > 0 else 0)
            said = f"{n_raw} {unit}s" if n_raw in _FUZZY and n > 1 else count(int(n), unit)
            yield (m.end(), 0), (days, said if not half and n == int(n) else count(days, "day"))
            break
    if "weekend" in low:
        for m in newest_first(_WEEKEND, low):
            yield (m.end(), 0), ((3, "a long weekend") if m.group(1) else (2, "a weekend"))
            break
    if latest_range:
        (_start, end), days, _label, _day = latest_range
        yield (end, 1), (days, count(days, "day"))
    for m in newest_first(_ASIAN_STAY, low) if mentions(low, ("日", "泊", "วัน", "คืน")) else ():
        n = int(m.group(1)) + (1 if m.group(2) in ("泊", "คืน") else 0)
        yield (m.end(), 0), (n, count(n, "day"))
        break


def count(n: int, unit: str) -> str:
    return f"a {unit}" if n == 1 else f"{n} {unit}s"


def ranges(text: str, low: str) -> tuple[Range | None, bytearray]:
    """The latest date range, and which characters belong to any range (its ends are not start dates)."""
    in_range = bytearray(len(low))
    latest: list[Range] = []
    parsers: list[tuple[re.Pattern[str], Callable[[str, re.Match[str]], Range | None]]] = []
    if has_month(low):
        parsers += [(_RANGE_MD, _month_day_range), (_RANGE_DM, _day_month_range), (_RANGE_BACK, _month_day_range)]
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
    return m.span(), (end - start).days % 365 + 1, f"from {_md_label(start)} to {_md_label(end)}", None


def _iso_range(_text: str, m: re.Match[str]) -> Range | None:
    start, end = _iso(m.groups()[:3]), _iso(m.groups()[3:])
    if not (start and end and 0 <= (end - start).days < 1000):
        return None
    return m.span(), (end - start).days + 1, f"from {start.isoformat()} to {end.isoformat()}", start


def has_month(low: str) -> bool:
    return mentions(low, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))


def _real_month(text: str, pos: int) -> bool:
    return not text.startswith(("may", "march"), pos)  # lower-case "may", "march" are verbs; "May" is the month


def _month_day(month: str, day: str) -> date | None:
    try:
        return date(2001, month_number(month), int(day))
    except ValueError:
        return None


def month_number(month: str) -> int:
    return [m[:3] for m in MONTHS].index(month[:3].lower()) + 1


def _md_label(day: date) -> str:
    return f"{MONTHS[day.month - 1].title()} {day.day}"


def _iso(parts: tuple[str, ...]) -> date | None:
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def whens(text: str, low: str, latest_range: Range | None, in_range: bytearray) -> Candidates[str]:
    if latest_range:
        (_start, end), _days, label, _day = latest_range
        yield (end, 1), label
    if has_month(low):
        for m in newest_first(_ONE_MD, low):
            if in_range[m.start()]:
                continue
            month = 1 if m.group(1) else 4
            when = _month_day(m.group(month), m.group(2) or m.group(3))
            if when and _real_month(text, m.start(month)):
                yield (m.end(), 0), f"starting {_md_label(when)}"
                break
        for m in newest_first(_MONTH_WORD, low):
            if in_range[m.start()]:
                continue  # the end of a date range, not a month on its own
            before = _BEFORE_MONTH.search(low, max(0, m.start() - 40), m.start())
            if not before and not _AFTER_MONTH.match(low, m.end()):
                continue
            start = before.start() if before else m.start()
            if _real_month(text, m.start()) and not in_range[start]:
                part = f"{before.group(1)} " if before and before.group(1) else ""
                yield (m.end(), 0), f"in {part}{MONTHS[month_number(m.group(1)) - 1].title()}"
                break
    for m in newest_first(_SEASON, low) if mentions(low, ("spring", "summer", "autumn", "fall", "winter")) else ():
        season = "autumn" if m.group(1) == "fall" else m.group(1)
        yield (m.end(), 0), f"in {season}"
        break
    for m in newest_first(_HOLIDAY, low) if mentions(low, _HOLIDAY_MONTHS) else ():
        name = m.group(1)
        yield (m.end(), 0), f"over {name.title()} ({_HOLIDAY_MONTHS[name]})"
        break
    for m in newest_first(_JA_MONTH, low) if "月" in low else ():
        yield (m.end(), 0), f"in {MONTHS[int(m.group(1)) - 1].title()}"
        break
    if "-" in low:
        for m in newest_first(_ONE_ISO, low):
            when = None if in_range[m.start()] else _iso(m.groups())
            if when:
                yield (m.end(), 0), f"starting {when.isoformat()}"
                break


def past_dates(low: str, latest_range: Range | None, today: date) -> list[str]:
    """Dates the message gives with a year that has already gone (a plan cannot start in the past)."""
    found = []
    if latest_range and latest_range[3] and latest_range[3] < today:
        found.append(latest_range[3].isoformat())
    if "-" in low:
        found += [m.group() for m in _ONE_ISO.finditer(low) if (d := _iso(m.groups())) and d < today]
    for m in _YEAR.finditer(low) if "20" in low or "19" in low else ():
        year = int(m.group(2) or m.group(3))
        month = month_number(m.group(1)) if m.group(1) else 12
        if (year, month) < (today.year, today.month):
            found.append(m.group().strip())
    return list(dict.fromkeys(found))
