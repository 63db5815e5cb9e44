"""Who travels: "2 people", "my partner and I", "family of 5 (3 kids)", "with my wife and two kids", "we're six".

A stated total ("family of 5", "4 of us") beats a count of members in the same message ("3 kids" inside
"family of 5 (3 kids)" is a detail of those five, not a second party). Values come back raw (0, 400): the
caller decides what is plausible and says so.
"""

from __future__ import annotations

import re

from travel_agent.agent.offline.scan import NUM, Candidates, last, mentions, newest_first, number

_NOT_A_UNIT = (
    r"(?!\s*(?:days?|nights?|weeks?|months?|years?|hours?|minutes?|of\b|[$€£¥₹%]|k\b|usd|eur|gbp|dollars?|euros?))"
)
_SMALL = NUM.replace(r"\d{1,7}", r"\d{1,2}")
_FOR_N = re.compile(rf"\bfor\s+(?:the\s+)?{_SMALL}\b{_NOT_A_UNIT}(?!\d|[.,]\d)")
_ASIAN_PEOPLE = re.compile(r"(\d{1,3})\s*(?:人|名|คน)")
_PEOPLE = ("people", "person", "travel", "guest", "pax", "of us", "passenger", "ticket", "adult", "head")
_TOTAL = re.compile(
    rf"\b{NUM}\s+(?:people|persons|person|travell?ers|guests|pax|of us|passengers|tickets|heads|adults(?=\s*$|"
    r"\s*(?:[.,;!?)]|and\s+no|only|total|in total)))\b"
)
_GROUP_OF = re.compile(rf"\b(?:family|group|party|team|crew)\s+of\s+{NUM}\b")
_WE_ARE = re.compile(
    rf"\bwe(?:'re|’re|\s+are|\s+will\s+be|'ll\s+be)\s+(?:a\s+(?:family|group|party)\s+of\s+)?{NUM}\b"
    r"(?!\s*(?:days?|nights?|weeks?|years?|months?|hours?|adults?|kids?|children|teens?|babies|grown))"
)
_SOLO = re.compile(r"\b(?:solo|alone|by myself|on my own|just me|only me|single traveller|single traveler)\b")
_ALONE_OR_TWO = {1: ("solo", "alone", "myself", "my own", "me", "single"), 2: ("couple", "honeymoon", "two")}
_COUPLE = re.compile(
    r"\b(?:as a couple|we(?:'re| are) a couple|honeymoon|just the two of us|the two of us"
    r"|for two\b(?!\s+(?:days?|nights?|weeks?|months?|of)))"
)
_RELATION = (
    r"(?:wife|husband|partner|spouse|girlfriend|boyfriend|gf|bf|hubby|fianc[eé]e?|friend|mom|mum|mother|dad|"
    r"father|sister|brother|son|daughter|kid|child|baby|toddler|colleague|boss|grandma|grandmother|grandpa|"
    r"grandfather|aunt|uncle|cousin|buddy|mate|roommate|niece|nephew|other half|significant other|"
    r"parents|in-laws|grandparents|missus|missis)"
)
_ADJ = r"(?:best\s+|little\s+|older\s+|younger\s+|elderly\s+|teenage\s+|\d+[- ]year[- ]old\s+)?"
_COMPANION = re.compile(rf"(?:\b(?:with|and|plus)|[&+,]|\bw/)\s*(?:my|a|our|the)\s+{_ADJ}(?P<rel>{_RELATION})\b")
# "my partner and I", "my wife & me": the writer and a companion, with nothing before "my".
_LEAD_COMPANION = re.compile(rf"\bmy\s+{_ADJ}(?P<rel>{_RELATION})\s*(?:and|&|\+)\s*(?:i|me|myself)\b")
_PAIRS = {"parents", "in-laws", "grandparents"}
_MEMBERS = "adult kid child friend colleague teen son daughter bab infant grand toddler".split()
_PARTY = re.compile(
    rf"\b{NUM}\s+(?:(adults?)|kids?|children|child|friends?|colleagues?|teens?|teenagers?|sons?|daughters?|"
    r"babies|baby|infants?|grandkids|grandchildren|toddlers?)\b"
)


def travellers(low: str) -> Candidates[int]:
    totals = list(_totals(low))
    if totals:
        yield from totals
        return
    companions = (
        list(_COMPANION.finditer(low)) + list(_LEAD_COMPANION.finditer(low))
        if mentions(low, ("my ", "our ", "a ", "the "))
        else []
    )
    parties = list(_PARTY.finditer(low)) if mentions(low, _MEMBERS) else []
    if companions or parties:
        # "with my wife and 2 kids" counts the writer too; "2 adults and 2 kids" already does.
        me = 0 if any(p.group(2) for p in parties) else 1
        named = {m.start("rel"): m.group("rel") for m in companions}  # "my wife" once, however it was matched
        others = sum(2 if rel in _PAIRS else 1 for rel in named.values())
        count = me + others + sum(number(p.group(1)) for p in parties)
        yield (max(m.end() for m in companions + parties), 0), count


def _totals(low: str) -> Candidates[int]:
    found: list[tuple[tuple[int, int], int]] = []
    for pattern, worth_it in ((_FOR_N, "for " in low), (_ASIAN_PEOPLE, mentions(low, ("人", "名", "คน")))):
        for m in newest_first(pattern, low) if worth_it else ():
            if 0 < (n := number(m.group(1))) < 30:
                found.append(((m.end(), 1), n))
                break
    totals = [(_TOTAL, mentions(low, _PEOPLE)), (_GROUP_OF, " of " in low), (_WE_ARE, "we" in low)]
    for pattern, worth_it in totals:
        for m in newest_first(pattern, low) if worth_it else ():
            found.append(((m.end(), 1), number(m.group(1))))
            break
    for pattern, n in ((_SOLO, 1), (_COUPLE, 2)):
        for m in newest_first(pattern, low) if mentions(low, _ALONE_OR_TWO[n]) else ():
            found.append(((m.end(), 1), n))
            break
    return [] if last(found) is None else [max(found, key=lambda c: c[0])]
