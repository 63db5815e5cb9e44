"""What a message asks for: topic intents, yes/no to an offer, relative changes ("cheaper"), and its script."""

from __future__ import annotations

import re
from functools import lru_cache

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

_PATTERNS = {
    "plan": r"\bitinerar|\bday[- ]by[- ]day\b|\bschedule\b|\b(?:the|a|my|our) plan\b|\bplan (?:it|again)\b|行程|プラン"
    r"|แผนเที่ยว",
    "stay": r"\bhotels?\b|\bhostels?\b|\bwhere (?:should|do|can|to) (?:we |i )?stay\b|\bplace to stay\b|\baccommodation"
    r"|\bairbnb\b|\bneighbou?rhoods?\b|\bareas? to (?:stay|base)|\bbase (?:ourselves|myself)\b|\blodging\b"
    r"|ホテル|宿|泊まる|ที่พัก|โรงแรม",
    "food": r"\bfood\b|\beat\b|\beating\b|\brestaurants?\b|\bdish(?:es)?\b|\bcuisine\b|\bdinner\b|\blunch\b"
    r"|\bbreakfast\b|\bfoodie\b|\bmeals?\b|食べ|料理|グルメ|ごはん|อาหาร|กิน",
    "transport": r"\bget(?:ting)? around\b|\btransport|\btransit\b|\bmetro\b|\bsubway\b|\btrams?\b|\bbus(?:es)?\b"
    r"|\btaxis?\b|\buber\b|\bairport\b|\btransfers?\b|\btrain(?:s| pass)?\b|\bpublic transport"
    r"|交通|電車|空港|地下鉄|การเดินทาง|รถไฟ|สนามบิน",
    "sights": r"\bsights?\b|\b(?:what|places|things) to see\b|\bthings to do\b|\bwhat to do\b|\battractions?\b"
    r"|\bmuseums?\b|(?<!\d )(?<!\d-)\bday trips?\b"
    r"|\bmust[- ]see\b|観光|見どころ|ที่เที่ยว",
    "weather": r"\bweather\b|\btemperatures?\b|\brain(?:y|fall)?\b|\bclimate\b|\bhow (?:hot|cold|warm)\b"
    r"|\bbest (?:time|season|month)\b|\bwhen (?:to|should (?:we|i)) (?:go|visit)\b|\bforecast\b"
    r"|天気|気候|気温|อากาศ",
    "budget": r"\bhow much\b|\bbreakdown\b|\bcosts?\b|\bafford\b|\bexpensive\b|\bprices?\b|\bbudget (?:for|per)\b"
    r"|\bwhat(?:'s| is) a (?:good |realistic )?budget\b|予算|費用|งบ",
    "money": r"\bcurrency\b|\bmoney\b|\bcash\b|\bcards?\b|\batms?\b|\btip(?:s|ping)?\b|\bexchange\b|\bgratuity\b"
    r"|通貨|両替|チップ|สกุลเงิน|เงิน|ทิป",
    "language": r"\blanguages?\b|\bspeak\b|\bspoken\b|\bphrases?\b|\benglish\b|言語|言葉|ภาษา",
    "timezone": r"\btime ?zones?\b|\btime difference\b|\bjet ?lag\b|\bwhat time\b|\butc\b|時差|เขตเวลา|เวลาต่าง",
    "visa": r"\bvisas?\b|\bentry (?:requirements?|rules)\b|\bpassports?\b|\besta\b|\betias\b|\beta\b|\bimmigration\b"
    r"|\bborder\b|ビザ|査証|วีซ่า",
    "packing": r"\bpack(?:ing)?\b|\bbring\b|\bluggage\b|\bwhat to wear\b|\bclothes\b|\bplugs?\b|\badapters?\b"
    r"|持ち物|荷物|服装|เตรียมของ|แพ็ค",
    "safety": r"\bsafe(?:ty)?\b|\bdanger(?:ous)?\b|\bscams?\b|\bcrime\b|\bemergency\b|\bpolice\b|\bpickpocket"
    r"|安全|危険|ปลอดภัย",
}
_COMPILED = {intent: re.compile(pattern) for intent, pattern in _PATTERNS.items()}
_YES = re.compile(
    r"^\s*(?:yes|yeah|yep|yup|sure|ok(?:ay)?|please|go ahead|sounds good|why not|great|perfect|do it"
    r"|absolutely|definitely|please do|sí|ja|oui|sim|sì|claro|vale|certo|genau|d'accord|はい|ええ|お願い|ใช่|ได้"
    r"|ครับ|ค่ะ)\b",
    re.IGNORECASE,
)
_NO = re.compile(r"^\s*(?:no|nope|nah|not now|no thanks|nein|non|não|いいえ|ไม่)\b", re.IGNORECASE)
_THANKS = re.compile(
    r"\b(?:thanks?|thank you|thx|ty|cheers|gracias|danke|merci|grazie|obrigad[oa])\b|ありがとう|ขอบคุณ", re.IGNORECASE
)
# Asking it to act in the world (book, reserve, buy, check live prices) is something an offline assistant must
# refuse plainly rather than answer with a plan nobody asked for.
_ACTION = re.compile(
    r"\b(?:book|reserve|buy|purchase|order)\b(?! a (?:day|week)\b)"
    r"|\b(?:live|current) (?:prices?|fares?|availability)\b|予約|จอง"
)
_CHEAPER = re.compile(r"\b(?:cheaper|less expensive|lower (?:the )?(?:budget|cost)|save (?:some )?money|spend less)\b")
_PRICIER = re.compile(r"\b(?:fancier|more (?:luxurious|comfortable|upscale)|upgrade|splurge more|spend more)\b")


@lru_cache(maxsize=4096)
def detect(low: str) -> tuple[str, ...]:
    """Topic intents in a lower-cased message, in ``INTENTS`` order; food questions own "budget for food"."""
    found = [intent for intent, pattern in _COMPILED.items() if pattern.search(low)]
    if "food" in found and "budget" in found and not re.search(r"\b(?:trip|total|breakdown|whole)\b", low):
        found.remove("budget")
    return tuple(found)


def is_yes(text: str) -> bool:
    """Yes to the last offer; "perfect, thank you" and "great, bye" close the topic instead."""
    if not _YES.search(text):
        return False
    return not (is_thanks(text) or is_goodbye(text)) or bool(_EXPLICIT_YES.search(text.lower()))


def is_no(text: str) -> bool:
    return bool(_NO.search(text))


def asks_to_act(low: str) -> bool:
    """The traveller asks for an action it cannot take offline: booking, buying, live prices or availability."""
    return bool(_ACTION.search(low))


def is_thanks(text: str) -> bool:
    return bool(_THANKS.search(text))


def price_shift(low: str) -> int:
    """-1 for "cheaper", +1 for "fancier", 0 otherwise (the later mention wins)."""
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
_GOODBYE = re.compile(
    r"\b(?:bye|goodbye|good bye|see you|see ya|that'?s all|that'?s it for now|have a good (?:day|night)|ciao|"
    r"adiós|tschüss|au revoir|arrivederci|tchau)\b|さようなら|ลาก่อน"
)
# A question asks; it does not restate the trip. Requests and proposals phrased as questions still change it.
_QUESTION_START = re.compile(
    r"^\s*(?:¿|what|what's|whats|where|when|which|who|how|is|are|do|does|did|can|could|should|would|will|any"
    r"|qué|cuál|cómo|dónde|cuándo|cuánto|cuántos|hay|was|wo|wann|wie|welche[rsnm]?|gibt|ist|sind|kann|soll"
    r"|quel(?:le)?s?|où|quand|comment|combien|est-ce|cosa|quale|dove|quando|quanto|c'è|qual|onde|há|posso|devo)\b"
)
_PROPOSAL = re.compile(
    r"\b(?:what|how) about\b|\bwhat if\b|\binstead\b|\bactually\b|\bmake it\b|\bchange\b|\bswitch\b|\blet'?s\b"
    r"|\bcan (?:we|you) (?:do|make|go|change|switch|add|plan|include)\b|\b(?:could|would|can) you plan\b"
    r"|\bplan (?:me|us|a)\b|\bi (?:want|need|would like|'d like)\b|はどう|どう[？?]"
)


def is_goodbye(text: str) -> bool:
    return bool(_GOODBYE.search(text.lower()))


def is_question(text: str) -> bool:
    """A question (it never overwrites the trip's facts), as opposed to a statement, request or correction."""
    stripped = text.rstrip()
    low = stripped.lower()
    asked = stripped.endswith(("?", "？")) or bool(_QUESTION_START.search(low))
    return asked and not _PROPOSAL.search(low)
