"""What a message asks for: topic intents, yes/no to an offer, relative changes ("cheaper"), and its script."""

from __future__ import annotations

import re
from functools import lru_cache

from travel_agent.agent.offline.scan import Cue, words_of

# Order matters twice: it is the order answers appear in, and the order offers are made in.
INTENTS = (
    "plan",
    "stay",
    "food",
    "transport",
    "sights",
    "weather",
    "budget",
    "money",
    "language",
    "timezone",
    "visa",
    "packing",
    "safety",
)

# Each topic: single words (a set lookup), then phrases and other scripts (a regex, run only where a key occurs).
_CUES = {
    "plan": Cue(
        "itinerary itineraries schedule",
        r"\bday[- ]by[- ]day\b|\b(?:the|a|my|our) plan\b|\bplan (?:it|again)\b|行程|プラン|แผนเที่ยว",
        "day by day|day-by-day|plan|行程|プラン|แผนเที่ยว",
    ),
    "stay": Cue(
        "hotel hotels hostel hostels accommodation accommodations airbnb neighbourhood neighbourhoods neighborhood "
        "neighborhoods lodging",
        r"\bwhere (?:should|do|can|to) (?:we |i )?stay\b|\bplace to stay\b|\bareas? to (?:stay|base)"
        r"|\bbase (?:ourselves|myself)\b|ホテル|宿|泊まる|ที่พัก|โรงแรม",
        "stay|base|ホテル|宿|泊まる|ที่พัก|โรงแรม",
    ),
    "food": Cue(
        "food eat eating restaurant restaurants dish dishes cuisine dinner lunch breakfast foodie meal meals",
        r"食べ|料理|グルメ|ごはん|อาหาร|กิน",
        "食べ|料理|グルメ|ごはん|อาหาร|กิน",
    ),
    "transport": Cue(
        "transport transportation transit metro subway tram trams bus buses taxi taxis uber airport transfer "
        "transfers train trains",
        r"\bget(?:ting)? around\b|交通|電車|空港|地下鉄|การเดินทาง|รถไฟ|สนามบิน",
        "around|交通|電車|空港|地下鉄|การเดินทาง|รถไฟ|สนามบิน",
    ),
    "sights": Cue(
        "sight sights attraction attractions museum museums",
        r"\b(?:what|places|things) to see\b|\bthings to do\b|\bwhat to do\b|(?<!\d )(?<!\d-)\bday trips?\b"
        r"|\bwhat (?:can|should|could) (?:we|i|one|you) (?:do|see)\b|\bwhat\b[^.?!]{0,40}\b(?:do|see)\s*\?"
        r"|\btell me about\b|\bknow about\b|\binfo(?:rmation)? (?:on|about)\b"
        r"|\bmust[- ]see\b|観光|見どころ|ที่เที่ยว",
        "to see|to do|day trip|must|what|about|info|観光|見どころ|ที่เที่ยว",
    ),
    "weather": Cue(
        "weather temperature temperatures rain rainy rainfall climate forecast",
        r"\bhow (?:hot|cold|warm)\b|\bbest (?:time|season|month)\b|\bwhen (?:to|should (?:we|i)) (?:go|visit)\b"
        r"|天気|気候|気温|อากาศ",
        "how |best |when |天気|気候|気温|อากาศ",
    ),
    "budget": Cue(
        "breakdown cost costs afford expensive price prices",
        r"\bhow much\b|\bbudget (?:for|per)\b|\bwhat(?:'s| is) a (?:good |realistic )?budget\b"
        r"|\bwhat(?:'s| is| does) (?:the|our|my) budget\b|\bbudget look|予算|費用|งบ",
        "how much|budget|予算|費用|งบ",
    ),
    "money": Cue(
        "currency money cash card cards atm atms tip tips tipping exchange gratuity",
        r"通貨|両替|チップ|สกุลเงิน|เงิน|ทิป",
        "通貨|両替|チップ|สกุลเงิน|เงิน|ทิป",
    ),
    "language": Cue("language languages speak spoken phrase phrases english", r"言語|言葉|ภาษา", "言語|言葉|ภาษา"),
    "timezone": Cue(
        "timezone timezones utc jetlag",
        r"\btime ?zones?\b|\btime difference\b|\bjet lag\b|\bwhat time\b|時差|เขตเวลา|เวลาต่าง",
        "time|jet lag|時差|เขตเวลา|เวลาต่าง",
    ),
    "visa": Cue(
        "visa visas passport passports esta etias eta immigration border",
        r"\bentry (?:requirements?|rules)\b|ビザ|査証|วีซ่า",
        "entry|ビザ|査証|วีซ่า",
    ),
    "packing": Cue(
        "pack packing bring luggage clothes plug plugs adapter adapters",
        r"\bwhat to wear\b|持ち物|荷物|服装|เตรียมของ|แพ็ค",
        "wear|持ち物|荷物|服装|เตรียมของ|แพ็ค",
    ),
    "safety": Cue(
        "safe safety danger dangerous scam scams crime emergency police pickpocket pickpockets pickpocketing",
        r"安全|危険|ปลอดภัย",
        "安全|危険|ปลอดภัย",
    ),
}
_WHOLE_TRIP = frozenset("trip total breakdown whole".split())
_YES = re.compile(
    r"^\s*(?:yes|yeah|yep|yup|sure|ok(?:ay)?|please|go ahead|sounds good|why not|great|perfect|do it"
    r"|absolutely|definitely|please do|sí|ja|oui|sim|sì|claro|vale|certo|genau|d'accord|はい|ええ|お願い|ใช่|ได้"
    r"|ครับ|ค่ะ)\b",
    re.IGNORECASE,
)
_NO = re.compile(r"^\s*(?:no|nope|nah|not now|no thanks|nein|non|não|いいえ|ไม่)\b", re.IGNORECASE)
_THANKS = Cue(
    "thanks thank thx ty cheers gracias danke merci grazie obrigado obrigada", "ありがとう|ขอบคุณ", "ありがとう|ขอบคุณ"
)
# Asking it to act in the world (book, reserve, buy, check live prices) is something an offline assistant must
# refuse plainly rather than answer with a plan nobody asked for.
_ACTION = Cue(
    "",
    r"\b(?:book|reserve|buy|purchase|order)\b(?! a (?:day|week)\b)"
    r"|\b(?:live|current) (?:prices?|fares?|availability)\b|予約|จอง",
    "book|reserve|buy|purchase|order|live|current|予約|จอง",
)
_CHEAPER = re.compile(r"\b(?:cheaper|less expensive|lower (?:the )?(?:budget|cost)|save (?:some )?money|spend less)\b")
_PRICIER = re.compile(r"\b(?:fancier|more (?:luxurious|comfortable|upscale)|upgrade|splurge more|spend more)\b")
_SHIFT_KEYS = ("cheaper", "less expensive", "lower", "save", "spend", "fancier", "more ", "upgrade", "splurge")


@lru_cache(maxsize=4096)
def detect(low: str) -> tuple[str, ...]:
    """Topic intents in a lower-cased message, in ``INTENTS`` order; food questions own "budget for food"."""
    found = [intent for intent, cue in _CUES.items() if cue.found(low)]
    if "food" in found and "budget" in found and _WHOLE_TRIP.isdisjoint(words_of(low)):
        found.remove("budget")
    return tuple(found)


def is_yes(text: str) -> bool:
    """Yes to the last offer; "perfect, thank you" and "great, bye" close the topic instead."""
    if not _YES.match(text):
        return False
    return not (is_thanks(text) or is_goodbye(text)) or bool(_EXPLICIT_YES.match(text.lower()))


def is_no(text: str) -> bool:
    return bool(_NO.match(text))


def asks_to_act(low: str) -> bool:
    """The traveller asks for an action it cannot take offline: booking, buying, live prices or availability."""
    return _ACTION.found(low)


def is_thanks(text: str) -> bool:
    return _THANKS.found(text.lower())


def price_shift(low: str) -> int:
    """-1 for "cheaper", +1 for "fancier", 0 otherwise (the later mention wins)."""
    if not any(key in low for key in _SHIFT_KEYS):
        return 0
    cheaper, pricier = [m.end() for m in _CHEAPER.finditer(low)], [m.end() for m in _PRICIER.finditer(low)]
    if not cheaper and not pricier:
        return 0
    return -1 if max(cheaper, default=-1) > max(pricier, default=-1) else 1


# Kana and CJK ideographs ("ja"), Thai ("th"); the first such character decides.
_SCRIPT = re.compile("[\u3040-\u30ff\u4e00-\u9fff]|([\u0e00-\u0e7f])")


def script(text: str) -> str:
    """The traveller's script: "ja", "th" or "latin" (the replies are English; the first two get a note).
    One regex search: a loop over the characters in Python cost a chat turn more than the rest of the reply's
    intent checks together (docs/PERFORMANCE.md, section 2)."""
    found = _SCRIPT.search(text)
    if found is None:
        return "latin"
    return "ja" if found.group(1) is None else "th"


_EXPLICIT_YES = re.compile(
    r"^\s*(?:yes|yeah|yep|yup|sure|please do|go ahead|do it|ok(?:ay)?,? (?:go|do)|sí|ja|oui|sim|sì)\b"
)
_GOODBYE = Cue(
    "bye goodbye adiós tschüss arrivederci tchau",  # not "ciao": it is hello too
    r"\b(?:good bye|see you|see ya|that'?s all|that'?s it for now|have a good (?:day|night)|au revoir)\b"
    r"|さようなら|ลาก่อน",
    "good bye|see |that|have a good|au revoir|さようなら|ลาก่อน",
)
# A question asks; it does not restate the trip. Requests and proposals phrased as questions still change it.
_QUESTION_START = re.compile(
    r"^\s*(?:¿|what|what's|whats|where|when|which|who|how|is|are|do|does|did|can|could|should|would|will|any"
    r"|qué|cuál|cómo|dónde|cuándo|cuánto|cuántos|hay|was|wo|wann|wie|welche[rsnm]?|gibt|ist|sind|kann|soll"
    r"|quel(?:le)?s?|où|quand|comment|combien|est-ce|cosa|quale|dove|quando|quanto|c'è|qual|onde|há|posso|devo)\b"
)
_PROPOSAL = Cue(
    "instead actually change switch let's lets",
    r"\b(?:what|how) about\b|\bwhat if\b|\bmake it\b"
    r"|\b(?:can|could) (?:we|you|i) (?:do|make|go|change|switch|add|plan|include|see|visit|fit|squeeze|combine"
    r"|also|stay|spend|take)\b|\b(?:could|would|can) you plan\b"
    r"|\bplan (?:me|us|a)\b|\b(?:i|we) (?:want|would like|'d like|are planning|plan)\b|\bi'm planning\b"
    r"|\bthinking (?:of|about)\b|はどう|どう[？?]",
    "about|what if|make it|can |could |plan|i |i'|we |thinking|はどう|どう",
)


def is_goodbye(text: str) -> bool:
    return _GOODBYE.found(text.lower())


@lru_cache(maxsize=4096)
def is_question(text: str, english: str | None = None) -> bool:
    """A question (it never overwrites the trip's facts), as opposed to a statement, request or correction.
    ``english`` is the message in the English words the cues read, when it was written in another language."""
    stripped = text.rstrip()
    low = stripped.lower()
    asked = stripped.endswith(("?", "？")) or bool(_QUESTION_START.match(low))
    return asked and not _PROPOSAL.found(english or low)
