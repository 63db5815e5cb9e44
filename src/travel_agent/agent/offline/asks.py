"""What a message asks beyond the trip topics: a day of the plan, a summary, where to go, and the things the
assistant cannot know offline (accessibility, diets, children's needs, flights and fares, events, opening hours)."""

from __future__ import annotations

import re

from travel_agent.agent.offline.scan import Cue

_SUMMARY = Cue(
    "summary summarise summarize summary recap sumary",
    r"\boverview of (?:the|my|our) (?:trip|plan)\b|\bwhat do we have so far\b"
    r"|\bthe (?:whole )?plan so far\b|\bremind me (?:of )?(?:the|our|my) (?:plan|trip)\b|\bwhere are we at\b"
    r"|まとめ|สรุป",
    "overview|so far|remind|where are we|まとめ|สรุป",
)
_DAY = re.compile(r"\bday\s*(?:#|no\.?|number)?\s*(\d{1,3})\b(?!\s*(?:-|–|to)\s*\d)|(\d{1,3})日目|วันที่\s*(\d{1,3})")
_SUGGEST = Cue(
    "somewhere anywhere",
    r"\bwhere (?:should|could|can|would you recommend) (?:i|we) (?:go|travel|head)\b"
    r"|\bwhere to go\b|\bsuggest (?:a |some |me a |us a )?(?:destination|place|city|cities|where)"
    r"|\brecommend (?:a |some )?(?:destination|place|city|cities)|\b(?:ideas|suggestions) (?:for|on) where\b"
    r"|\bwhich (?:city|cities|destination|place)\b|\bwhere (?:is|'s) (?:it )?(?:warm|hot|sunny|cold|cheap)\b"
    r"|\bwhere should we go\b|\bdon'?t know where\b|\b(?:cheapest|warmest|sunniest|best) (?:city|cities|place|"
    r"places|destination|destinations)\b|どこがいい|ที่ไหนดี",
    "where|suggest|recommend|ideas|suggestions|which|cheapest|warmest|sunniest|best |どこがいい|ที่ไหนดี",
)
_LIMITS = {
    "accessibility": r"\bwheelchairs?\b|\baccessib|\bmobility\b|\bdisab|\bstep[- ]free\b|\bblind\b|\bdeaf\b"
    r"|\bcrutches\b|\bwalker\b|\bramps?\b|\blifts? (?:for|access)",
    "diet": r"\bvegan\b|\bvegetarian\b|\bgluten|\bc(?:o)?eliac\b|\bhalal\b|\bkosher\b|\ballerg|\bnut[- ]free\b"
    r"|\blactose\b|\bdairy[- ]free\b|\bdietary\b|\bpescatarian\b",
    "kids": r"\b(?:kid|child|family|baby|toddler)[- ]friendly\b|\b(?:good|suitable|ok|okay|safe|fun|great) for "
    r"(?:the |my |our )?(?:kids|children|toddlers|babies|a baby|a toddler|families|teens)\b|\bstrollers?\b"
    r"|\bprams?\b|\bbabysit|\bchildcare\b|\b(?:things|activities) (?:to do )?for (?:the |our |my )?(?:kids|children)\b"
    r"|\bplaygrounds?\b|\bchanging (?:tables?|rooms?)\b",
    "flights": r"\bflights?\b|\bairfares?\b|\bairlines?\b|\bplane tickets?\b|\bfly(?:ing)? (?:there|to|from)\b",
    "events": r"\bevents?\b|\bfestivals?\b|\bconcerts?\b|\bwhat'?s on\b(?!\s+(?:day|the plan|my|our))"
    r"|\bexhibitions?\b|\bgigs?\b|\bfootball matches?\b|\bsports? (?:games?|matches?)\b|\bholidays? (?:there|then)\b",
    "forecast": r"\bforecast\b|\bwill it (?:rain|snow|be (?:hot|cold|sunny|warm|windy))\b"
    r"|\b(?:weather|rain|snow|sunny)\b[^.?!]{0,30}\b(?:tomorrow|tonight|this weekend|next week|on (?:mon|tues|wednes|"
    r"thurs|fri|satur|sun)day)\b",
    "rates": r"\bexchange rates?\b[^.?!]{0,30}\b(?:now|today|current|currently|live)\b|\b(?:today'?s|current|live) "
    r"(?:exchange )?rates?\b",
    "health": r"\bvaccin|\bjabs?\b|\bmalaria\b|\btap water\b|\bdrink the water\b|\bmedicines?\b|\bmedication"
    r"|\binsulin\b|\bprescription|\bpregnan",
    "hours": r"\bopening (?:hours|times)\b|\bopen on (?:mondays?|sundays?|holidays?)\b|\bstrikes?\b"
    r"|\bclosed (?:on|today)\b",
}
# Keys: the substrings without which a topic's pattern cannot match (the regex runs only where one occurs).
_LIMIT_KEYS = {
    "accessibility": "wheelchair|accessib|mobility|disab|step|blind|deaf|crutches|walker|ramp|lift",
    "diet": "vegan|vegetarian|gluten|eliac|halal|kosher|allerg|nut|lactose|dairy|dietary|pescatarian",
    "kids": "friendly|for |stroller|pram|babysit|childcare|playground|changing",
    "flights": "flight|airfare|airline|plane|fly",
    "events": "event|festival|concert|on|exhibition|gig|match|holiday",
    "forecast": "forecast|will it|tomorrow|tonight|weekend|next week|day",
    "rates": "rate",
    "health": "vaccin|jab|malaria|water|medic|insulin|prescription|pregnan",
    "hours": "opening|open on|strike|closed",
}
_LIMIT_PATTERNS = {topic: Cue("", pattern, _LIMIT_KEYS[topic]) for topic, pattern in _LIMITS.items()}
# Flights are named in statements of the trip ("flying to Rome in May"); only asking about them is a limit.
_ASKING = Cue("how cheap cheapest price prices cost costs fare fares book direct", r"\?", "?")


_ANY = Cue("any what")
_SPLIT = Cue(
    "",
    r"\bhow (?:many days|long|much time)\b.*\b(?:each|every|per (?:city|stop|place))\b|\bhow (?:should|to|do) (?:we|i) "
    r"split\b|\bsplit (?:the|our|my) (?:days|time)\b",
    "each|every|per |split",
)


_LENGTH_CHECK = Cue(
    "", r"\b(?:enough|too (?:long|short|much|little|many)|sufficient|right amount)\b", "enough|too |suffic|right"
)


def checks_length(low: str) -> bool:
    """ "is 5 days enough for Rome?", "is a week too long?" """
    return _LENGTH_CHECK.found(low)


def wants_split(low: str) -> bool:
    """ "how many days in each?": the route's split of days."""
    return _SPLIT.found(low)


def day_asked(low: str) -> int | None:
    """ "what's on day 2?" -> 2 (also 2日目, วันที่ 2)."""
    if "day" not in low and "日目" not in low and "วันที่" not in low:
        return None
    m = _DAY.search(low)
    if not m:
        return None
    return int(next(g for g in m.groups() if g))


def wants_summary(low: str) -> bool:
    return _SUMMARY.found(low)


def wants_suggestions(low: str) -> bool:
    return _SUGGEST.found(low)


def limits(low: str) -> tuple[str, ...]:
    """The things asked about that the assistant has no data for offline, in a fixed order."""
    found = [topic for topic, cue in _LIMIT_PATTERNS.items() if cue.found(low)]
    if "flights" in found and not _ASKING.found(low):
        found.remove("flights")
    if "events" in found and "?" not in low and not _ANY.found(low):
        found.remove("events")
    return tuple(found)
