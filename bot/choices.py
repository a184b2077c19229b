"""Autocomplete choices: fuzzy over names and aliases, cached, at most 25, fast.

A cache holds its names packed (one UTF-8 blob and an offset array per column, not a Python
string and a tuple per alias): the 176,000 aliases of 100,000 models take about 20 MB instead
of 70. Prefix matches are found by bisection in the sorted names. Past :data:`INDEX_MIN_KEYS`
names, the fuzzy fallback does not score every name: a trigram index built when the cache
loads picks the :data:`CANDIDATES` names sharing the most trigrams with the input (a typo
spoils at most three of them), and only those are scored with rapidfuzz.
"""

from __future__ import annotations

import hashlib
import threading
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import accumulate, islice
from operator import eq
from typing import TYPE_CHECKING, Any, TypeAlias

from rapidfuzz import fuzz, process
from sqlalchemy import Engine, select

from bot.safe_text import CHOICES, choice_name
from db import queries
from db import tables as t
from db.engine import session_scope
from frontier.names import normalize_name

if TYPE_CHECKING:
    import numpy as np

REFRESH_SECONDS = 60.0

INDEX_MIN_KEYS = 5_000
"""Above this many names, fuzzy matching scores the trigram index's candidates only.

Sets this small or smaller (benchmarks, predictions, a real store's models) are scored whole
with ``fuzz.WRatio``: at about 1.2 µs a name that is a few milliseconds at most. Scored whole,
the 176,000 aliases of 100,000 models took 13-16 ms with ``fuzz.QRatio`` (80-100 ms at p95
under load) and 200 ms with WRatio.
"""

CANDIDATES = 512
"""How many names the trigram index hands to rapidfuzz (about 0.6 ms of WRatio)."""

_SHARD = 1 << 14
"""Names per index shard: a posting (a name's place in its shard) fits 16 bits, and building
a shard takes about 15 MB for a moment."""

Loaded: TypeAlias = Mapping[str, tuple[str, str]] | Iterable[tuple[str, str, str]]
"""What a cache's ``load`` returns: alias → (display, value), or (alias, display, value) rows."""


class Packed(Sequence[str]):
    """Strings packed in one UTF-8 blob with an offset array: about a byte a character.

    A Python ``str`` costs 49 bytes plus its characters, so 176,000 short aliases in a list
    take 13 MB; packed they take 5 MB. Items are decoded on access (bisection reads about 18
    of them, a match a few hundred).
    """

    __slots__ = ("_blob", "_offsets")

    def __init__(self, strings: Iterable[str] = ()) -> None:
        blob = bytearray()
        offsets = array("I", [0])
        texts = iter(strings)
        while chunk := [text.encode() for text in islice(texts, 4_096)]:  # a few at a time
            offsets.extend(islice(accumulate(map(len, chunk), initial=len(blob)), 1, None))
            blob += b"".join(chunk)
        self._blob = bytes(blob)
        self._offsets = offsets

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        if i < 0:
            i += len(self)
        offsets = self._offsets
        return self._blob[offsets[i] : offsets[i + 1]].decode()

    def __iter__(self) -> Iterator[str]:
        blob, offsets = self._blob, self._offsets
        for i in range(len(offsets) - 1):
            yield blob[offsets[i] : offsets[i + 1]].decode()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Packed):
            return NotImplemented
        return self._blob == other._blob and self._offsets == other._offsets

    __hash__ = None  # type: ignore[assignment]

    def nbytes(self) -> int:
        """Bytes held (blob and offsets)."""
        return len(self._blob) + self._offsets.itemsize * len(self._offsets)


def _trigrams(data: bytes) -> list[int]:
    """The distinct trigrams of ``data`` padded with \\x01 before and \\x02 after, as ints."""
    padded = b"\x01" + data + b"\x02"
    return sorted(
        {(padded[i] << 16) | (padded[i + 1] << 8) | padded[i + 2] for i in range(len(data))}
    )


def _changes(np: Any, ordered: np.ndarray) -> np.ndarray:
    """Where a sorted array's value differs from the one before (the first always does)."""
    change = np.empty(len(ordered), dtype=bool)
    change[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=change[1:])
    return change


class TrigramIndex:
    """Which names share the most trigrams with an input, without scanning them all.

    Names are cut in shards of 16,384; a shard keeps its distinct trigrams (sorted, ``uint32``),
    where each trigram's postings start, and the postings (``uint16`` places in the shard).
    A name of n characters has n trigrams (one pad on each side), so 176,000 aliases of 24
    characters make about 4 million postings: 8 MB. A lookup gathers the postings of the
    input's trigrams, counts them per name (``numpy.bincount``) and ranks the names by the
    Jaccard similarity of their trigram sets.
    """

    def __init__(self, keys: Packed) -> None:
        import numpy as np

        blob = np.frombuffer(keys._blob, dtype=np.uint8)
        offsets = np.asarray(keys._offsets).astype(np.int64)  # the array's own item type
        self._shards: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        sizes = []
        for first in range(0, len(keys), _SHARD):
            last = min(first + _SHARD, len(keys))
            shard, size = self._build(np, blob, offsets[first : last + 1])
            self._shards.append(shard)
            sizes.append(size)
        self._sizes = np.concatenate(sizes) if sizes else np.zeros(0, np.uint16)

    @staticmethod
    def _build(np: Any, blob: np.ndarray, offsets: np.ndarray) -> tuple[Any, Any]:
        """One shard: (trigrams, bounds, postings) and each name's count of distinct trigrams."""
        count = len(offsets) - 1
        lengths = np.diff(offsets)
        # The names back to back, each padded: \x01 name \x02 (names hold no \x01 or \x02).
        starts = offsets[:-1] - offsets[0] + 2 * np.arange(count)
        padded = np.empty(int(lengths.sum()) + 2 * count, dtype=np.uint32)
        is_text = np.ones(len(padded), dtype=bool)
        is_text[starts] = is_text[starts + lengths + 1] = False
        padded[is_text] = blob[offsets[0] : offsets[-1]]
        del is_text
        padded[starts] = 1
        padded[starts + lengths + 1] = 2
        # A trigram starting on a closing pad, or just before one, straddles two names.
        whole = (padded[:-2] != 2) & (padded[1:-1] != 2)
        codes = ((padded[:-2] << 16) | (padded[1:-1] << 8) | padded[2:])[whole]
        del padded
        owner = np.repeat(np.arange(count, dtype=np.uint64), lengths + 2)[:-2][whole]
        del whole
        pairs = (codes.astype(np.uint64) << np.uint64(16)) | owner
        del codes, owner
        pairs.sort()  # by trigram, then by name; np.unique would hash first, 7x slower
        pairs = pairs[_changes(np, pairs)]  # a trigram twice in a name counts once
        trigram_of = (pairs >> np.uint64(16)).astype(np.uint32)
        postings = (pairs & np.uint64(0xFFFF)).astype(np.uint16)
        del pairs
        first = np.flatnonzero(_changes(np, trigram_of))
        trigrams = trigram_of[first]
        bounds = np.append(first, len(trigram_of)).astype(np.int64)
        sizes = np.bincount(postings, minlength=count).astype(np.uint16)
        return (trigrams, bounds, postings), sizes

    def nbytes(self) -> int:
        """Bytes held by the index's arrays."""
        return int(self._sizes.nbytes) + sum(a.nbytes for shard in self._shards for a in shard)

    def candidates(self, wanted: str, limit: int) -> list[int]:
        """Up to ``limit`` indices of the names most alike ``wanted``, in index order."""
        import numpy as np

        query = np.array(_trigrams(wanted.encode()), dtype=np.uint32)
        if not len(query):
            return []
        found_ids = []
        found_sim = []
        base = 0
        for trigrams, bounds, postings in self._shards:
            size = len(bounds) - 1
            at = np.searchsorted(trigrams, query)
            hit = at < size
            hit[hit] = trigrams[at[hit]] == query[hit]
            lists = [postings[bounds[i] : bounds[i + 1]] for i in at[hit].tolist()]
            if lists:
                counts = np.bincount(np.concatenate(lists))
                ids = np.flatnonzero(counts)
                shared = counts[ids]
                union = len(query) + self._sizes[base + ids].astype(np.int64) - shared
                found_ids.append(ids + base)
                found_sim.append(shared / union)
            base += _SHARD
        if not found_ids:
            return []
        ids = np.concatenate(found_ids)
        similarity = np.concatenate(found_sim)
        if len(ids) > limit:
            ids = ids[np.argpartition(-similarity, limit - 1)[:limit]]
        return sorted(ids.tolist())


def _chunks(loaded: Loaded, size: int = 4_096) -> Iterator[list[tuple[str, str, str]]]:
    """The (alias, display, value) rows of a load, a few thousand at a time."""
    rows = iter(
        ((alias, d, v) for alias, (d, v) in loaded.items())
        if isinstance(loaded, Mapping)
        else loaded
    )
    while chunk := list(islice(rows, size)):
        yield chunk


def _hash(digest: Any, chunk: Sequence[Sequence[str]]) -> None:
    digest.update("\x01".join(map("\x00".join, chunk)).encode("utf-8", "surrogatepass"))
    digest.update(b"\x01")


def _digest(loaded: Loaded) -> bytes:
    """A fingerprint of a load's rows, in order, built as they stream by (nothing is kept)."""
    digest = hashlib.blake2b(digest_size=16)
    for chunk in _chunks(loaded):
        _hash(digest, chunk)
    return digest.digest()


class _Names:
    """One loaded set of names: sorted aliases, and the (display, value) each one names."""

    __slots__ = ("digest", "displays", "first", "index", "keys", "owners", "values")

    def __init__(self, loaded: Loaded, limit: int = CHOICES) -> None:
        # Built as the rows stream in, a few thousand at a time and in load order: the aliases
        # (a list, to sort), which value each names, and each value's display name (the
        # first one loaded wins). The per-row work is done by C loops (zip, map, dict).
        aliases: list[str] = []
        owner_of: array[int] = array("I")
        slot: dict[str, int] = {}
        displays: list[str] = []
        digest = hashlib.blake2b(digest_size=16)
        for chunk in _chunks(loaded):
            _hash(digest, chunk)
            names, shown, values = zip(*chunk, strict=True)
            del chunk
            first_shown = dict(zip(reversed(values), reversed(shown), strict=True))
            for value in dict.fromkeys(values):  # distinct, in order
                if value not in slot:
                    slot[value] = len(slot)
                    displays.append(first_shown[value])
            aliases.extend(names)
            owner_of.extend(map(slot.__getitem__, values))
        # Sorted by alias; stable, so of two equal aliases the first loaded wins.
        order = sorted(range(len(aliases)), key=aliases.__getitem__)
        ordered = [aliases[i] for i in order]
        del aliases
        if any(map(eq, ordered[1:], ordered)):  # rare: a load that names an alias twice
            keep = [n for n in range(len(ordered)) if not n or ordered[n] != ordered[n - 1]]
            ordered = [ordered[n] for n in keep]
            order = [order[n] for n in keep]
        self.keys = Packed(ordered)
        del ordered
        self.owners = array("I", map(owner_of.__getitem__, order))
        del order, owner_of
        self.displays = Packed(displays)
        self.values = Packed(slot)
        # What an empty input shows: the first values loaded.
        self.first = [(v, d) for v, d in zip(slot, displays[:limit], strict=False)]
        del slot, displays
        self.digest = digest.digest()
        self.index: TrigramIndex | None = None

    def pair(self, key_index: int) -> tuple[str, str]:
        """(display, value) of the ``key_index``-th alias."""
        owner = self.owners[key_index]
        return self.displays[owner], self.values[owner]

    def nbytes(self) -> int:
        """Bytes held by the packed columns and the index (not the small fixed overhead)."""
        size = self.keys.nbytes() + self.displays.nbytes() + self.values.nbytes()
        size += self.owners.itemsize * len(self.owners)
        return size + (self.index.nbytes() if self.index is not None else 0)


class ChoiceCache:
    """Names for one kind of option, refreshed from the store at most once a minute.

    ``load`` returns normalized alias → (display name, value), or an iterable of (normalized
    alias, display name, value) rows (which the cache packs as they stream in); several
    aliases may name one value. Lookups run on the event loop (they are in-memory and take
    microseconds to a few milliseconds), so autocomplete answers well inside Discord's
    deadline.
    """

    def __init__(
        self,
        load: Callable[[], Loaded],
        clock: Callable[[], float] = time.monotonic,
        *,
        index_min_keys: int | None = None,
    ) -> None:
        self._load = load
        self._clock = clock
        self._index_min_keys = index_min_keys
        self._lock = threading.Lock()
        self._names = _Names({})
        self._loaded_at = float("-inf")

    def __len__(self) -> int:
        """How many aliases the cache holds."""
        return len(self._names.keys)

    def nbytes(self) -> int:
        """Bytes held by the loaded names and their index."""
        return self._names.nbytes()

    def refresh(self, *, force: bool = False) -> None:
        """Reload from the store if stale (or ``force``)."""
        with self._lock:
            if not force and self._clock() - self._loaded_at < REFRESH_SECONDS:
                return
            if self._names.index is not None and _digest(self._load()) == self._names.digest:
                # A large set, unchanged (the usual case): a pass that keeps nothing told so,
                # and nothing is built. Otherwise a second pass builds the new names.
                self._loaded_at = self._clock()
                return
            names = _Names(self._load())
            if len(names.keys) > (
                INDEX_MIN_KEYS if self._index_min_keys is None else self._index_min_keys
            ):
                names.index = TrigramIndex(names.keys)
            self._names = names  # one assignment: a lookup sees the old names or the new
            self._loaded_at = self._clock()

    def stale(self) -> bool:
        """Whether a refresh is due."""
        return self._clock() - self._loaded_at >= REFRESH_SECONDS

    def match(self, typed: str, limit: int = CHOICES) -> list[tuple[str, str]]:
        """(display, value) pairs best matching ``typed``: prefix matches first, then fuzzy."""
        names = self._names
        wanted = normalize_name(typed)
        if not wanted:
            return [_choice(d, v) for v, d in names.first[:limit]]
        seen: dict[str, str] = {}
        keys = names.keys
        for i in range(bisect_left(keys, wanted), len(keys)):
            if not keys[i].startswith(wanted):
                break
            display, value = names.pair(i)
            seen.setdefault(value, display)
            if len(seen) == limit:
                return [_choice(d, v) for v, d in seen.items()]
        if names.index is None:
            where: Sequence[int] = range(len(keys))
            choices: Sequence[str] = keys
        else:
            where = names.index.candidates(wanted, CANDIDATES)
            choices = [keys[i] for i in where]
        for _key, _score, i in process.extract(
            wanted, choices, scorer=fuzz.WRatio, limit=limit * 3, score_cutoff=50
        ):
            display, value = names.pair(where[i])
            seen.setdefault(value, display)
            if len(seen) == limit:
                break
        return [_choice(d, v) for v, d in seen.items()]


def _choice(display: str, value: str) -> tuple[str, str]:
    return choice_name(display), value[:100]


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
    """Models by slug, name and alias.

    The rows stream from the database into the packed cache (``yield_per``), in model order:
    a list of 176,000 (alias, name, slug) tuples would cost 50 MB for the length of a load.
    """

    def load() -> Iterator[tuple[str, str, str]]:
        query = (
            select(t.ModelAlias.alias, t.Model.name, t.Model.slug)
            .join(t.Model, t.Model.id == t.ModelAlias.model_id)  # type: ignore[arg-type]
            .order_by(t.ModelAlias.model_id)  # type: ignore[arg-type]
        )
        with engine.connect() as connection:  # Core rows: no ORM work per row
            rows = connection.execution_options(yield_per=5_000).execute(query)
            for chunk in rows.partitions():
                yield from chunk  # type: ignore[misc]

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
