"""Name normalization shared by lookups, ingest and autocomplete."""

from __future__ import annotations

import re
import unicodedata

_FOLD = re.compile(r"[^0-9a-z.+]+")


def normalize_name(name: str) -> str:
    """Fold a model or benchmark name for matching: case, accents, spacing and punctuation.

    ``+`` and ``.`` are kept: ``HumanEval+`` is not ``HumanEval``, ``3.1`` is not ``31``.

    ``"Llama 3.1 70B"``, ``"llama-3.1-70b"`` and ``"LLAMA_3.1_70B"`` all become ``"llama3.170b"``;
    dots stay, so ``"Llama 3.1 8B"`` and ``"Llama 31 8B"`` do not collide.
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _FOLD.sub("", text.casefold()).strip(".")


def slugify(name: str) -> str:
    """A URL- and Discord-safe slug: ``"Qwen 2.5 72B"`` → ``"qwen-2.5-72b"``."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^0-9a-z.]+", "-", text.casefold()).strip("-.")
    return slug[:128] or "model"


def suggest(
    query: str, choices: dict[str, str], *, limit: int = 3, cutoff: float = 60
) -> list[str]:
    """The display names whose keys best match ``query`` (typos, case, aliases).

    Args:
        query: What the user typed.
        choices: Normalized key (see ``normalize_name``) → display name; several keys may name
            one display name (aliases).
        limit: How many suggestions at most.
        cutoff: Minimum similarity (0-100, rapidfuzz WRatio) to suggest anything.
    """
    from rapidfuzz import fuzz, process

    wanted = normalize_name(query)
    if not wanted:
        return []
    keys = list(choices)
    found: list[str] = []
    matches = process.extract(
        wanted, keys, scorer=fuzz.WRatio, limit=limit * 4, score_cutoff=cutoff
    )
    for key, _score, _index in matches:
        name = choices[key]
        if name not in found:
            found.append(name)
        if len(found) == limit:
            break
    return found
