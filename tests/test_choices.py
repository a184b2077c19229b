"""Autocomplete choices: the packed cache, its trigram index and what ``match`` returns."""

from __future__ import annotations

import random
from bisect import bisect_left

import pytest
from sqlalchemy import Engine

from bot import choices
from bot.choices import CANDIDATES, ChoiceCache, Packed, TrigramIndex, model_choices
from frontier.names import normalize_name

FAMILIES = ("llama", "qwen", "mistral", "gemma", "deepseek", "phi", "granite", "claude", "gpt")
VARIANTS = ("base", "chat", "instruct", "math", "coder", "vision", "reasoning", "preview")
SIZES = ("0.5b", "3b", "7b", "8b", "9b", "27b", "34b", "70b", "72b", "405b")


def _names(count: int, seed: int = 3) -> list[tuple[str, str, str]]:
    """(alias, display, value) rows like the synthetic store's: two aliases per model."""
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        family = rng.choice(FAMILIES)
        display = (
            f"{family.title()} {rng.randint(1, 7)}.{rng.randint(0, 9)} "
            f"{rng.choice(SIZES).upper()} {rng.choice(VARIANTS).title()} {n:05d}"
        )
        slug = display.lower().replace(" ", "-")
        rows.append((normalize_name(display), display, slug))
        rows.append((normalize_name(f"acme {display}"), display, slug))
    return rows


def _typo(text: str, rng: random.Random) -> str:
    i = rng.randrange(len(text))
    op = rng.choice("sdti")
    char = rng.choice("abcdefghijklmnopqrstuvwxyz0123456789")
    if op == "s":
        return text[:i] + char + text[i + 1 :]
    if op == "d":
        return text[:i] + text[i + 1 :]
    if op == "i":
        return text[:i] + char + text[i:]
    return text[:i] + text[i + 1 : i + 2] + text[i : i + 1] + text[i + 2 :]


@pytest.fixture(scope="module")
def rows() -> list[tuple[str, str, str]]:
    return _names(6_000)


@pytest.fixture(scope="module")
def indexed(rows: list[tuple[str, str, str]]) -> ChoiceCache:
    cache = ChoiceCache(lambda: rows, index_min_keys=0)
    cache.refresh(force=True)
    return cache


@pytest.fixture(scope="module")
def scanned(rows: list[tuple[str, str, str]]) -> ChoiceCache:
    cache = ChoiceCache(lambda: rows, index_min_keys=10**9)
    cache.refresh(force=True)
    return cache


def test_packed_strings_read_back_sort_and_bisect() -> None:
    words = sorted(["", "a", "ab", "abc", "b", "ЖЖЖ", "x" * 300, "\u202e", "🙂"])
    packed = Packed(words)
    assert len(packed) == len(words)
    assert list(packed) == words
    assert [packed[i] for i in range(len(words))] == words
    assert packed[-1] == words[-1]
    for probe in ("", "ab", "abd", "c", "Ж", "~"):
        assert bisect_left(packed, probe) == bisect_left(words, probe)
    assert Packed(words) == packed
    assert Packed(words[:-1]) != packed
    assert len(Packed()) == 0


def test_the_index_finds_a_name_through_a_typo() -> None:
    keys = Packed(sorted(normalize_name(d) for _, d, _ in _names(2_000)))
    index = TrigramIndex(keys)
    rng = random.Random(1)
    for i in rng.sample(range(len(keys)), 50):
        wanted = _typo(keys[i], rng)
        assert i in index.candidates(wanted, 64), (keys[i], wanted)
    assert index.candidates("", 10) == []
    found = index.candidates("qqqqqqqq", 10)
    assert len(found) <= 10
    assert found == sorted(found)


def test_the_index_spans_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choices, "_SHARD", 256)
    keys = Packed(sorted(normalize_name(d) for _, d, _ in _names(1_000)))
    index = TrigramIndex(keys)
    assert len(index._shards) == -(-len(keys) // 256)
    for i in (0, 255, 256, 700, len(keys) - 1):
        assert index.candidates(keys[i], 5)[0] <= i <= index.candidates(keys[i], 5)[-1]
        assert i in index.candidates(keys[i], 5)


def test_prefix_matches_come_first_and_choices_are_bounded(indexed: ChoiceCache) -> None:
    found = indexed.match("llama")
    assert len(found) == 25
    assert all(value.startswith("llama-") for _, value in found)
    assert len({value for _, value in found}) == 25  # one choice per model
    assert len(indexed.match("llama", limit=5)) == 5


def test_empty_input_shows_the_first_names_loaded(
    indexed: ChoiceCache, rows: list[tuple[str, str, str]]
) -> None:
    first = []
    for _, _display, value in rows:
        if value not in first:
            first.append(value)
    found = indexed.match("  ")
    assert [value for _, value in found] == first[:25]
    assert found[0][0] == rows[0][1]


def test_typos_find_the_model_as_well_as_scoring_every_name(
    indexed: ChoiceCache, scanned: ChoiceCache, rows: list[tuple[str, str, str]]
) -> None:
    rng = random.Random(9)
    hits = {"indexed": 0, "scanned": 0}
    tries = 80
    for _ in range(tries):
        _, display, value = rng.choice(rows)
        typed = _typo(rng.choice([display, value.replace("-", " ")]), rng)
        for name, cache in (("indexed", indexed), ("scanned", scanned)):
            hits[name] += value in [v for _, v in cache.match(typed)]
    assert hits["indexed"] >= tries * 0.95
    assert hits["indexed"] >= hits["scanned"] - 1


def test_a_miss_finds_nothing_and_the_index_narrows(indexed: ChoiceCache) -> None:
    assert indexed.match("xyzzy plugh") == []
    assert indexed._names.index is not None
    assert len(indexed._names.index.candidates("lamma370binstruct", CANDIDATES)) <= CANDIDATES


def test_small_sets_are_scored_whole_with_partial_matches() -> None:
    cache = ChoiceCache(
        lambda: {
            "mmlu": ("MMLU", "mmlu"),
            "mmlupro": ("MMLU-Pro", "mmlu-pro"),
            "humaneval": ("HumanEval", "humaneval"),
            "humaneval+": ("HumanEval+", "humaneval-plus"),
            "gsm8k": ("GSM8K", "gsm8k"),
        }
    )
    cache.refresh(force=True)
    assert cache._names.index is None
    assert ("MMLU", "mmlu") in cache.match("mmul")[:2]  # WRatio: MMLU-Pro scores 77, MMLU 75
    assert cache.match("human eval")[0][1] in {"humaneval", "humaneval-plus"}
    assert cache.match("eval")  # partial: inside the name, not a prefix


def test_an_alias_loaded_twice_keeps_its_first_model() -> None:
    cache = ChoiceCache(lambda: [("llama", "Llama", "llama"), ("llama", "Other", "other")])
    cache.refresh(force=True)
    assert cache.match("llama") == [("Llama", "llama")]
    assert len(cache) == 1


def test_choices_are_safe_and_bounded() -> None:
    display = "\u202e@everyone " + "x" * 200
    cache = ChoiceCache(lambda: [("everyone", display, "v" * 150)])
    cache.refresh(force=True)
    [(name, value)] = cache.match("every")
    assert 1 <= len(name) <= 100 and "\u202e" not in name
    assert value == "v" * 100


def test_an_unchanged_reload_keeps_the_index(rows: list[tuple[str, str, str]]) -> None:
    current = list(rows)
    cache = ChoiceCache(lambda: current, index_min_keys=0)
    cache.refresh(force=True)
    index = cache._names.index
    cache.refresh(force=True)
    assert cache._names.index is index
    current.append(("zzzmodel", "ZZZ Model", "zzz-model"))
    cache.refresh(force=True)
    assert cache._names.index is not index
    assert cache.match("zzz modl")[0] == ("ZZZ Model", "zzz-model")


def test_refresh_waits_for_its_interval() -> None:
    now = [0.0]
    loads = []

    def load() -> dict[str, tuple[str, str]]:
        loads.append(now[0])
        return {"a": ("A", "a")}

    cache = ChoiceCache(load, clock=lambda: now[0])
    assert cache.stale()
    cache.refresh()
    now[0] = choices.REFRESH_SECONDS - 1
    cache.refresh()
    assert not cache.stale()
    now[0] = choices.REFRESH_SECONDS + 1
    assert cache.stale()
    cache.refresh()
    assert loads == [0.0, choices.REFRESH_SECONDS + 1]


def test_model_names_stream_from_the_store(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choices, "INDEX_MIN_KEYS", 0)  # the seeded store is small: index it
    cache = model_choices(engine)
    cache.refresh(force=True)
    assert len(cache) > 0
    assert cache._names.index is not None
    assert ("Llama 3.1 70B", "llama-3.1-70b") in cache.match("lama 3.1 70b")[:3]
    assert cache.match("llama-3.1-70b")[0] == ("Llama 3.1 70B", "llama-3.1-70b")
    assert len(cache.match("")) == 25
