"""Money and style: "$2,000", "2.5k USD", "€100 a day", "budget of 3000", "cheap", "mid-range", "luxury"."""

from __future__ import annotations

import re
from dataclasses import dataclass

from travel_agent.agent.offline.scan import Candidates, mentions, newest_first


@dataclass(frozen=True)
class Money:
    amount: int
    currency: str | None  # ISO code; None when the user gave a bare number
    scope: str  # "total", "per person", "per day" or "per person per day"


# The number starts with a digit class, so the regex engine skips to digits in C; the check that no word
# character, dot or comma comes before it sits after that first digit (a leading lookbehind would be tried at
# every position of the text).
_AMOUNT = (
    r"(?P<num>[0-9](?<![\w.,][0-9])(?:\d{0,2}(?:[,.\u00a0\u202f ]\d{3})+(?:[.,]\d{1,2})?|\d*(?:[.,]\d{1,2})?))"
    r"(?:(?P<k>k)\b|\s*(?P<k2>thousand|grand)\b)?"
)
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
_CODES = "usd eur gbp jpy chf cad aud nzd sek nok dkk inr cny thb mxn brl czk huf pln sgd hkd krw zar isk".split()
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


def amounts(text: str, low: str) -> Candidates[Money]:
    has_unit = mentions(low, [*_CODES, *_NAMES])
    patterns = [
        (_SYMBOL_FIRST, mentions(text, _SYMBOLS)),
        (_CODE_FIRST, has_unit),
        (_UNIT_AFTER, has_unit or mentions(text, _SYMBOLS)),
        (_BUDGET_WORD, "budget" in low or "spend" in low),
    ]
    for pattern, worth_it in patterns:
        for m in newest_first(pattern, low) if worth_it else ():
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


_SEPARATORS = re.compile(r"[.,\u00a0\u202f ]")  # thousands written "1,500", "1.500" or "1 500"


def _parse_amount(raw: str, thousands: bool) -> int:
    # "1,500.50" and "2.5k" carry cents; "1.500" is the European way to write fifteen hundred.
    cents = re.search(r"[.,](\d{1,2})$", raw)
    whole = raw[: cents.start()] if cents else raw
    value = int(_SEPARATORS.sub("", whole)) + (int(cents.group(1)) / 10 ** len(cents.group(1)) if cents else 0)
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


_LEVEL_KEYS = {
    "budget": ("cheap", "budget", "afford", "low", "tight", "inexpensive", "backpack", "shoestring"),
    "mid-range": ("mid", "moderate", "reasonabl", "nothing fancy", "not too"),
    "luxury": ("lux", "high", "upscale", "splurge", "star", "lavish", "premium", "fancy", "first"),
}


def levels(low: str) -> Candidates[str]:
    for level, pattern in _LEVELS:
        for m in newest_first(pattern, low) if mentions(low, _LEVEL_KEYS[level]) else ():
            # Ties go to the longer phrase, so "nothing fancy" beats the "fancy" inside it.
            yield (m.end(), m.end() - m.start()), level
            break
