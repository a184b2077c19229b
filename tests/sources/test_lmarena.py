"""LMArena: arena-catalog leaderboard + licences, daily snapshot format, fetch."""

from __future__ import annotations

from datetime import date

import pytest
from aiohttp import web

from jobs.sources.base import SourceFormatError, SourceState
from jobs.sources.http import SourceClient
from jobs.sources.lmarena import (
    LMArenaSource,
    open_weights_from_license,
    parse_catalog,
    parse_snapshot,
)
from tests.sources.conftest import LocalServer, fixture_bytes

BOARD = fixture_bytes("lmarena", "leaderboard-text.json")
SCATTER = fixture_bytes("lmarena", "scatterplot-data.json")


def test_catalog_ratings_and_licences():
    batch = parse_catalog(BOARD, SCATTER, as_of=date(2025, 12, 11))
    scores = {s.model_name: s for s in batch.scores}
    gemini = scores["gemini-3-pro"]
    assert gemini.value == pytest.approx(1486.6027120272704)
    assert gemini.unit == "elo" and gemini.benchmark == "lmarena-text"
    assert gemini.available_on == date(2025, 12, 11)
    models = {m.name: m for m in batch.models}
    assert models["gemini-3-pro"].open_weights is False
    assert models["glm-4.6"].open_weights is True and models["glm-4.6"].license == "MIT"
    # Not in the scatterplot file: unknown, not guessed.
    assert models["gpt-oss-120b"].open_weights is None


def test_catalog_other_category_and_missing_category():
    coding = parse_catalog(BOARD, SCATTER, category="coding")
    assert coding.scores and all(s.setting == "coding" for s in coding.scores)
    with pytest.raises(SourceFormatError, match="'vision'"):
        parse_catalog(BOARD, SCATTER, category="vision")


@pytest.mark.parametrize(
    ("licence", "flag"),
    [
        ("Proprietary", False),
        ("Propretary", False),
        ("proprietary", False),
        ("MIT", True),
        ("open", True),
        ("Llama 3.1 Community", True),
        ("", None),
        (None, None),
    ],
)
def test_licence_rule(licence, flag):
    assert open_weights_from_license(licence) is flag


def test_daily_snapshot_format():
    batch = parse_snapshot(fixture_bytes("lmarena", "text_2026-04-09.json"))
    top = batch.scores[0]
    assert top.model_name == "claude-opus-4-6-thinking" and top.value == 1503
    assert top.available_on == date(2026, 4, 9)
    models = {m.name: m for m in batch.models}
    assert models["claude-opus-4-6-thinking"].open_weights is False
    assert models["claude-opus-4-6-thinking"].organization == "Anthropic"
    assert any(m.open_weights for m in batch.models)


async def test_fetch_catalog_pair(server: LocalServer, client: SourceClient):
    async def board(request: web.Request) -> web.Response:
        return web.Response(
            body=BOARD,
            content_type="text/plain",  # raw.githubusercontent.com serves JSON as text/plain
            headers={"ETag": '"b1"', "Last-Modified": "Thu, 11 Dec 2025 10:00:00 GMT"},
        )

    async def scatter(request: web.Request) -> web.Response:
        return web.Response(body=SCATTER, content_type="text/plain")

    server.route("/leaderboard-text.json", board)
    server.route("/scatterplot-data.json", scatter)
    source = LMArenaSource(
        url=server.url("/leaderboard-text.json"),
        scatterplot_url=server.url("/scatterplot-data.json"),
    )
    batch = await source.fetch(client, SourceState())
    assert batch.etag == '"b1"' and len(batch.scores) == len(batch.models) > 10
    assert all(s.available_on == date(2025, 12, 11) for s in batch.scores)
