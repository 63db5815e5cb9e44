"""Helpers every fact finder shares: number words, "the latest valid mention wins", cheap pre-checks."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
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


TAIL_FIRST = 300  # characters: the end of a text is scanned first, the rest only if the end has no match


def newest_first(pattern: re.Pattern[str], text: str) -> Iterable[re.Match[str]]:
    """Matches from the last to the first. Only the latest valid mention matters, so finders validate from the
    end and stop at the first hit; the end of the text is scanned first, and the rest only when needed.
    The cut is at a space, so words are never split (word boundaries see the characters on both sides)."""
    cut = text.find(" ", len(text) - TAIL_FIRST) if len(text) > 2 * TAIL_FIRST else -1
    if cut <= 0:
        yield from reversed(list(pattern.finditer(text)))
        return
    yield from reversed(list(pattern.finditer(text, cut)))
    # Reached only when the end had no valid mention: the text before the cut, scanned once.
    yield from reversed(list(pattern.finditer(text, 0, cut)))


def mentions(low: str, words: Iterable[str]) -> bool:
    # A substring test costs microseconds; most finders are skipped on text that cannot match them.
    return any(word in low for word in words)


_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


@lru_cache(maxsize=4096)
def words_of(low: str) -> frozenset[str]:
    """The distinct words of a lower-cased text: one C-speed scan, then set tests instead of regex passes."""
    return frozenset(_WORD.findall(low))


class Cue:
    """A cheap detector for long text. ``words`` are looked up in the message's word set (no scan at all); the
    regex runs only when one of its ``keys`` (plain substrings, a C-speed ``in`` test) occurs in the text.
    A regex of many ``\\b``-anchored alternatives costs a pass per alternative over 4,000 characters; this costs
    one set intersection, which is why every topic and turn cue is written this way."""

    __slots__ = ("keys", "pattern", "words")

    def __init__(self, words: str = "", pattern: str = "", keys: str = "") -> None:
        self.words = frozenset(words.split())
        self.pattern = re.compile(pattern) if pattern else None
        self.keys = tuple(keys.split("|")) if keys else ()

    def found(self, low: str) -> bool:
        if not self.words.isdisjoint(words_of(low)):
            return True
        return self.pattern is not None and any(k in low for k in self.keys) and bool(self.pattern.search(low))
