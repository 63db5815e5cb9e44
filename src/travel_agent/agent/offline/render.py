"""The wording shared by every reply: what the assistant knows so far, budget lines, questions, offers."""

from __future__ import annotations

from travel_agent.agent.offline.currency import money
from travel_agent.agent.offline.state import OFFER_PHRASES
from travel_agent.agent.offline.trip_facts import Money, TripFacts

_LEVEL_NAMES = {"budget": "budget-friendly", "mid-range": "mid-range", "luxury": "luxury"}
LEVEL_TIPS = {
    "budget": "Tip: free walking tours, transit passes and set lunch menus keep costs down.",
    "mid-range": "Tip: mix a few paid highlights with free neighbourhoods, parks and markets.",
    "luxury": "Tip: book boutique hotels, top restaurants and private guides well ahead.",
}
# Daily-spend judgements only make sense where a unit of currency buys roughly what a dollar does.
_DOLLAR_LIKE = {"USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD"}
SCRIPT_NOTES = {
    "ja": "（日本語のメッセージありがとうございます。オフラインでは英語でお答えします。）",
    "th": "(ขอบคุณสำหรับข้อความภาษาไทย ตอนออฟไลน์ฉันตอบเป็นภาษาอังกฤษเท่านั้น)",
}
CAN_HELP = [
    "- a day-by-day plan, where to stay by budget, food and a daily food budget",
    "- getting around and airport transfers, sights and day trips",
    "- weather and the best season by month, packing, safety basics",
    "- money (currency, cards, tipping), language and time zone, visas (with the official source)",
    "- a budget breakdown of the trip, routes through several cities, ideas for where to go by month",
    "- a summary of the trip, or any single day of the plan",
]


def acknowledge(facts: TripFacts, message: str) -> str:
    if facts.is_empty():
        return "Happy to help plan your trip!" + (" I couldn't spot any trip details yet." if message.strip() else "")
    where = " → ".join(facts.places())
    trip = f"a trip to {where}" if where else "a trip"
    parts = [" ".join(filter(None, [trip, facts.stay and f"for {facts.stay}", facts.when]))]
    if facts.travellers:
        parts.append("travelling solo" if facts.travellers == 1 else f"{facts.travellers} travellers")
    if facts.budget:
        parts.append(f"budget {money(facts.budget.amount, facts.budget.currency)} {facts.budget.scope}")
    if facts.level:
        parts.append(f"{_LEVEL_NAMES[facts.level]} style")
    return "So far I have: " + ", ".join(parts) + "."


def daily_budget(budget: Money, days: int, travellers: int | None) -> str:
    daily = budget.amount if "day" in budget.scope else budget.amount / days
    if "person" in budget.scope:
        each, group = daily, daily * (travellers or 1)
    elif travellers:
        each, group = daily / travellers, daily
    else:
        return f"Budget: about {money(daily, budget.currency)} per day in total."
    for_all = f" ({money(group, budget.currency)} per day for {travellers})" if travellers and travellers > 1 else ""
    return f"Budget: about {money(each, budget.currency)} per person per day{for_all}{_judge(each, budget.currency)}."


def _judge(each: float, currency: str | None) -> str:
    if currency not in _DOLLAR_LIKE:
        return ""
    if each < 10:
        return (
            ", which is too little to plan with: even a hostel bed and street food cost more than that a day; "
            "tell me a realistic budget"
        )
    if each < 60:
        return ", which is tight: think hostels, public transport and street food"
    if each >= 300:
        return ", plenty for boutique hotels and memorable dinners"
    return ", enough for comfortable mid-range hotels and good local food"


def questions(facts: TripFacts) -> list[str]:
    asks = []
    if not facts.destination:
        asks.append("Where would you like to go?")
    if not facts.days and facts.stops:
        asks.append("How many days in total (or in each place)? Until you say, I've proposed a split.")
    elif not facts.days:
        where = f" in {facts.destination}" if facts.destination else ""
        known_when = f"How many days will you spend{where}?"
        asks.append(known_when if facts.when else "When are you travelling, and for how long?")
    if not facts.travellers:
        asks.append("How many people are travelling?")
    if not facts.budget and not facts.level:
        asks.append("What's your budget: a total amount, or just cheap, mid-range or luxury?")
    if not asks:
        return []
    lead = "To refine it:" if facts.destination and facts.days else "To put a plan together, tell me:"
    return [lead, *(f"- {ask}" for ask in asks)]


def offer(intents: list[str], place_name: str) -> str:
    """ "Want me to suggest where to stay in Lisbon, or suggest what to eat?" — parsed back by ``state.offers``."""
    phrases = [
        OFFER_PHRASES[i] + (f" in {place_name}" if n == 0 and i in ("stay", "food") else "")
        for n, i in enumerate(intents)
    ]
    said = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + ", or " + phrases[-1]
    return f"Want me to {said}?"
