"""Helpers every fact finder shares: number words, "the latest valid mention wins", cheap pre-checks."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")
Candidates = Iterable[tuple[tuple[int, int], T]]  # (where it ends, tie-break) -> value; the latest one wins

_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty"
).split()
NUMBER_WORDS = {word: i for i, word in enumerate(_WORDS, start=1)} | {"thirty": 30}
NUM = r"(\d{1,7}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"
MONTHS = "january february march april may june july august september october november december".split()


def last(candidates: Candidates[T]) -> T | None:
    best = max(candidates, key=lambda c: c[0], default=None)
    return None if best is None else best[1]


def number(token: str) -> int:
    return NUMBER_WORDS.get(token) or int(token)


def newest_first(pattern: re.Pattern[str], text: str) -> Iterable[re.Match[str]]:
    # Only the latest valid mention matters, so finders validate from the end and stop at the first hit:
    # the regex scan is C-speed, the per-match Python checks are what long repetitive input would pay for.
    return reversed(list(pattern.finditer(text)))


def mentions(low: str, words: Iterable[str]) -> bool:
    # A substring test costs microseconds; most finders are skipped on text that cannot match them.
    return any(word in low for word in words)
