"""Autocomplete choices: fuzzy over names and aliases, cached, at most 25, fast."""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Callable

from rapidfuzz import fuzz, process
from sqlalchemy import Engine

from bot.safe_text import CHOICES, choice_name
from db import queries
from db.engine import session_scope
from frontier.names import normalize_name

REFRESH_SECONDS = 60.0

WRATIO_MAX_KEYS = 5_000
"""Above this many names, fuzzy matching uses ``fuzz.QRatio`` instead of ``fuzz.WRatio``.

WRatio also scores partial and token-order matches, at about 1.2 µs a name: 200 ms over the
175,000 aliases of 100,000 models, far past an autocomplete's budget. QRatio (a plain edit
similarity, vectorised) takes a tenth of that; partial input is already served by the prefix
matches, which come first and are found by bisection in the sorted names.
"""


class ChoiceCache:
    """Names for one kind of option, refreshed from the store at most once a minute.

    ``load`` returns normalized alias → (display name, value); several aliases may name one
    value. Lookups run on the event loop (they are in-memory and take microseconds to a few
    milliseconds), so autocomplete answers well inside Discord's deadline.
    """

    def __init__(self, load: Callable[[], dict[str, tuple[str, str]]], clock=time.monotonic):
        self._load = load
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[str, str]] = {}
        self._keys: list[str] = []
        self._sorted: list[str] = []
        self._loaded_at = float("-inf")

    def refresh(self, *, force: bool = False) -> None:
        """Reload from the store if stale (or ``force``)."""
        with self._lock:
            if not force and self._clock() - self._loaded_at < REFRESH_SECONDS:
                return
            entries = self._load()
            self._entries, self._keys, self._sorted = entries, list(entries), sorted(entries)
            self._loaded_at = self._clock()

    def stale(self) -> bool:
        """Whether a refresh is due."""
        return self._clock() - self._loaded_at >= REFRESH_SECONDS

    def match(self, typed: str, limit: int = CHOICES) -> list[tuple[str, str]]:
        """(display, value) pairs best matching ``typed``: prefix matches first, then fuzzy."""
        wanted = normalize_name(typed)
        seen: dict[str, str] = {}
        if not wanted:
            for display, value in self._entries.values():
                seen.setdefault(value, display)
                if len(seen) == limit:
                    break
            return [(choice_name(d), v) for v, d in seen.items()]
        keys = self._sorted
        for i in range(bisect_left(keys, wanted), len(keys)):
            if not keys[i].startswith(wanted):
                break
            display, value = self._entries[keys[i]]
            seen.setdefault(value, display)
            if len(seen) == limit:
                return [(choice_name(d), v) for v, d in seen.items()]
        scorer = fuzz.WRatio if len(self._keys) <= WRATIO_MAX_KEYS else fuzz.QRatio
        for key, _score, _i in process.extract(
            wanted, self._keys, scorer=scorer, limit=limit * 3, score_cutoff=50
        ):
            display, value = self._entries[key]
            seen.setdefault(value, display)
            if len(seen) == limit:
                break
        return [(choice_name(d), v[:100]) for v, d in seen.items()]


def benchmark_choices(engine: Engine) -> ChoiceCache:
    """Benchmarks by key, name and alias."""

    def load() -> dict[str, tuple[str, str]]:
        with session_scope(engine) as session:
            entries = {}
            for bench in queries.all_benchmarks(session):
                for name in (bench.key, bench.name, *bench.aliases):
                    entries.setdefault(normalize_name(name), (bench.name, bench.key))
            return entries

    return ChoiceCache(load)


def model_choices(engine: Engine) -> ChoiceCache:
    """Models by slug, name and alias."""

    def load() -> dict[str, tuple[str, str]]:
        with session_scope(engine) as session:
            return {alias: (name, slug) for alias, name, slug in queries.model_aliases(session)}

    return ChoiceCache(load)


def prediction_choices(engine: Engine) -> ChoiceCache:
    """Predictions by code and title."""

    def load() -> dict[str, tuple[str, str]]:
        with session_scope(engine) as session:
            entries = {}
            for p in queries.predictions(session):
                label = f"{p.code} — {p.title}"
                entries[normalize_name(p.code)] = (label, p.code)
                entries.setdefault(normalize_name(p.title), (label, p.code))
            return entries

    return ChoiceCache(load)
