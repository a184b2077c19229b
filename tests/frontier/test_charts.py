"""Charts render valid, Discord-sized PNGs for real, degenerate and hostile inputs.

The realistic inputs are the report's MMLU table (db/seed/scores.csv, "The Frontier Gap ›
Historical Gap Trajectory") and open models whose architectures test_fits.py documents.
pytest turns warnings into errors, so a missing glyph or a mathtext warning fails a test too.
"""

from __future__ import annotations

import io
import math
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date

import pytest

from frontier.charts import MAX_FIT_ROWS, clean_text, fits_chart, gap_chart, lag_chart
from frontier.fits import FitRanking, RankedFit, fit_report, models_that_fit
from frontier.gap import gap_report
from frontier.lag import lag_report
from frontier.types import Architecture, Benchmark, Citation, ModelSpec, Score

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 1_000_000
MIN_WIDTH = 800

REPORT = Citation(
    "seed-report",
    "Market Accurate report, 2026-01-03 (v0.1), The Frontier Gap › Historical Gap Trajectory",
)
LLM_STATS = Citation("llm-stats", "LLM-Stats model data (JonathanChavezTamales/LLMStats)")
MMLU = Benchmark(key="mmlu", name="MMLU", canonical_setting="5-shot", question_count=14_042)
AS_OF = date(2026, 1, 3)  # the report's publication date

# (name, open weights, MMLU, available, approximate): the report's MMLU table.
_MMLU_ROWS = (
    ("GPT-3", False, 43.9, date(2020, 6, 1), False),
    ("Chinchilla", False, 67.5, date(2022, 4, 1), False),
    ("BLOOM", True, 44.0, date(2022, 4, 1), True),
    ("ChatGPT", False, 70.0, date(2022, 11, 1), True),
    ("OPT-175B", True, 53.0, date(2022, 11, 1), True),
    ("GPT-4", False, 86.4, date(2023, 3, 1), False),
    ("LLaMA-65B", True, 63.4, date(2023, 3, 1), False),
    ("Llama 2 70B", True, 68.9, date(2023, 7, 1), False),
    ("GPT-4 Turbo", False, 86.5, date(2024, 4, 1), False),
    ("Llama 3 70B", True, 82.0, date(2024, 4, 1), False),
    ("Claude 3.5 Sonnet", False, 88.7, date(2024, 7, 1), False),
    ("Llama 3.1 405B", True, 88.6, date(2024, 7, 1), False),
    ("DeepSeek-R1", True, 90.8, date(2025, 1, 1), False),
)


def mmlu(
    name: str,
    open_weights: bool,
    value: float,
    on: date,
    approximate: bool = False,
    citation: Citation = REPORT,
) -> Score:
    return Score(
        model_slug=name.lower().replace(" ", "-"),
        model_name=name,
        open_weights=open_weights,
        benchmark="mmlu",
        value=value,
        available_on=on,
        citation=citation,
        approximate=approximate,
    )


MMLU_SCORES = tuple(mmlu(*row) for row in _MMLU_ROWS)

HOSTILE_NAME = (
    "@everyone \u202eשלום مرحبا\u200b\u200d\u2066 $x^{ 🤖 通义 \n\t" + "A" * 5000 + "\u200f@here"
)
HOSTILE_CITATION = Citation("evil", HOSTILE_NAME)


def hostile_scores() -> tuple[Score, ...]:
    """The MMLU table with the newest open and proprietary leaders renamed hostilely."""
    renamed = {"DeepSeek-R1", "Claude 3.5 Sonnet"}
    return tuple(
        replace(s, model_name=HOSTILE_NAME, citation=HOSTILE_CITATION)
        if s.model_name in renamed
        else s
        for s in MMLU_SCORES
    )


def _gqa(layers: int, kv_heads: int, head_dim: int, max_context: int) -> Architecture:
    return Architecture(
        layers=layers, kv_heads=kv_heads, head_dim=head_dim, max_context=max_context
    )


def _model(slug: str, name: str, params_b: float, arch: Architecture | None) -> ModelSpec:
    return ModelSpec(slug, name, open_weights=True, total_params_b=params_b, architecture=arch)


# Architectures from the models' config.json (see test_fits.py for the ones defined there).
MODELS = (
    _model("llama-3.1-8b", "Llama 3.1 8B", 8.03, _gqa(32, 8, 128, 131072)),
    _model("llama-3.1-70b", "Llama 3.1 70B", 70.6, _gqa(80, 8, 128, 131072)),
    _model("qwen-2.5-32b", "Qwen2.5 32B", 32.8, _gqa(64, 8, 128, 131072)),
    _model(
        "deepseek-r1-distill-qwen-32b",
        "DeepSeek-R1-Distill-Qwen-32B",
        32.8,
        _gqa(64, 8, 128, 131072),
    ),
    _model("qwen-2.5-14b", "Qwen2.5 14B", 14.7, _gqa(48, 8, 128, 131072)),
    _model("mistral-7b-v0.3", "Mistral 7B v0.3", 7.25, _gqa(32, 8, 128, 32768)),
    _model("mistral-small-24b", "Mistral Small 3 24B", 23.6, _gqa(40, 8, 128, 32768)),
    _model("phi-4", "Phi-4", 14.7, _gqa(40, 10, 128, 16384)),
    _model(
        "gemma-3-27b",
        "Gemma 3 27B",
        27.4,
        Architecture(
            layers=62,
            kv_heads=16,
            head_dim=128,
            attention="sliding",
            sliding_window=1024,
            full_attention_layers=10,
            max_context=131072,
        ),
    ),
    _model("mystery-8b", "Mystery 8B", 8.0, None),  # no architecture: KV cache estimated
)
FIT_SCORES = {
    "deepseek-r1-distill-qwen-32b": mmlu("DeepSeek-R1-32B", True, 87.5, date(2025, 1, 1)),
    "qwen-2.5-32b": mmlu("Qwen 2.5 32B", True, 83.3, AS_OF),
    "llama-3.1-70b": mmlu("Llama 3.1 70B", True, 82.0, AS_OF),
    "qwen-2.5-14b": mmlu("Qwen2.5 14B", True, 79.7, date(2024, 9, 19), citation=LLM_STATS),
    "llama-3.1-8b": mmlu("Llama 3.1 8B", True, 69.4, date(2024, 7, 23), citation=LLM_STATS),
}


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first after the signature."""
    assert data[:8] == PNG_SIGNATURE
    length, kind, width, height = struct.unpack(">I4sII", data[8:24])
    assert (length, kind) == (13, b"IHDR")
    return width, height


def assert_discord_png(data: bytes) -> None:
    width, height = png_size(data)
    assert width >= MIN_WIDTH
    assert 0.4 <= height / width <= 0.8
    assert len(data) < MAX_BYTES
    # A real decoder reads it whole (every chunk's CRC, the zlib stream, every row).
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.size == (width, height) and image.mode == "RGBA"


def test_png_encoding_keeps_every_pixel_and_the_dpi() -> None:
    """charts writes its PNGs itself (``_encode_png``): Pillow must read back the same pixels,
    odd sizes and every byte value included, and the resolution savefig would record."""
    import numpy as np
    from PIL import Image

    from frontier.charts import DPI, _encode_png

    rng = np.random.default_rng(7)
    for height, width in ((1, 1), (3, 7), (61, 129)):
        pixels = rng.integers(0, 256, size=(height, width, 4), dtype=np.uint8)
        with Image.open(io.BytesIO(_encode_png(pixels, DPI))) as image:
            assert np.array_equal(np.asarray(image.convert("RGBA")), pixels)
            assert image.info["dpi"] == pytest.approx((DPI, DPI), abs=0.05)  # per metre, rounded


def realistic_ranking() -> FitRanking:
    return models_that_fit(MODELS, FIT_SCORES)


# --- gap chart ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "as_of"),
    [
        pytest.param(MMLU_SCORES, AS_OF, id="report-table"),
        pytest.param(MMLU_SCORES, date(2023, 8, 1), id="as-of-2023"),
        pytest.param((), AS_OF, id="no-scores"),
        pytest.param(MMLU_SCORES[:1], date(2020, 6, 1), id="single-point-on-as-of"),
        pytest.param(MMLU_SCORES[:1], AS_OF, id="single-point"),
        pytest.param(tuple(s for s in MMLU_SCORES if not s.open_weights), AS_OF, id="no-open"),
        pytest.param(tuple(s for s in MMLU_SCORES if s.open_weights), AS_OF, id="no-proprietary"),
        pytest.param(MMLU_SCORES[1:3], date(2022, 4, 1), id="both-sides-one-day"),
        pytest.param(hostile_scores(), AS_OF, id="hostile-names"),
    ],
)
def test_gap_chart_is_a_discord_sized_png(scores: tuple[Score, ...], as_of: date) -> None:
    assert_discord_png(gap_chart(gap_report(MMLU, scores, as_of=as_of)))


def test_gap_chart_for_a_lower_is_better_benchmark() -> None:
    perplexity = Benchmark(key="mmlu", name="Perplexity", higher_is_better=False)
    report = gap_report(perplexity, MMLU_SCORES, as_of=AS_OF, threshold=0.5)
    assert_discord_png(gap_chart(report))


@pytest.mark.parametrize("threshold", [0.0, 2.0, 25.0])
def test_gap_chart_with_any_threshold(threshold: float) -> None:
    for scores in (MMLU_SCORES, MMLU_SCORES[:1], (mmlu("Tie", True, 43.9, date(2020, 6, 1)),)):
        report = gap_report(MMLU, (MMLU_SCORES[0], *scores), as_of=AS_OF, threshold=threshold)
        assert_discord_png(gap_chart(report))


def test_gap_chart_skips_scores_that_are_not_numbers() -> None:
    no_noise_check = Benchmark(key="mmlu", name="MMLU")  # the noise check rejects NaN itself
    broken = (mmlu("NaN model", True, math.nan, date(2021, 1, 1)),)
    for scores in (broken, (*MMLU_SCORES, *broken)):
        assert_discord_png(gap_chart(gap_report(no_noise_check, scores, as_of=AS_OF)))


def test_gap_chart_with_a_hostile_benchmark_name() -> None:
    benchmark = Benchmark(key="mmlu", name=HOSTILE_NAME)
    assert_discord_png(gap_chart(gap_report(benchmark, MMLU_SCORES, as_of=AS_OF)))
    assert_discord_png(gap_chart(gap_report(benchmark, (), as_of=AS_OF)))


def test_gap_chart_with_many_close_changes() -> None:
    """Forty records a week apart: crowded labels must still place without error."""
    scores = [
        mmlu(f"Model {i} with a long name", i % 2 == 0, 50 + i * 0.5, date(2024, 1, 1 + i % 28))
        for i in range(40)
    ]
    assert_discord_png(gap_chart(gap_report(MMLU, scores, as_of=AS_OF)))


# --- lag chart ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "as_of"),
    [
        pytest.param(MMLU_SCORES, AS_OF, id="report-table"),
        pytest.param(MMLU_SCORES, date(2024, 5, 1), id="open-lags"),
        pytest.param((), AS_OF, id="no-scores"),
        pytest.param(tuple(s for s in MMLU_SCORES if s.open_weights), AS_OF, id="no-proprietary"),
        pytest.param(MMLU_SCORES[:1], date(2020, 6, 1), id="single-open-lag-on-as-of"),
        pytest.param(hostile_scores(), AS_OF, id="hostile-names"),
    ],
)
def test_lag_chart_is_a_discord_sized_png(scores: tuple[Score, ...], as_of: date) -> None:
    assert_discord_png(lag_chart(lag_report(MMLU, scores, as_of=as_of)))


def test_lag_chart_with_a_same_day_match() -> None:
    scores = (mmlu("Closed", False, 70, date(2024, 1, 1)), mmlu("Open", True, 71, date(2024, 1, 1)))
    report = lag_report(MMLU, scores, as_of=date(2024, 1, 1))
    assert report.pairs[0].months == 0
    assert_discord_png(lag_chart(report))


# --- fits chart -----------------------------------------------------------------------------


def test_fits_chart_of_a_realistic_ranking() -> None:
    ranking = realistic_ranking()
    assert len(ranking.fits) >= 5
    assert_discord_png(fits_chart(ranking))


def test_fits_chart_shows_a_model_over_budget() -> None:
    over = RankedFit(fit_report(MODELS[1], quant="Q4_K_M"), FIT_SCORES["llama-3.1-70b"])
    assert not over.report.fits
    ranking = realistic_ranking()
    assert_discord_png(fits_chart(replace(ranking, fits=(*ranking.fits, over))))


@pytest.mark.parametrize(
    "ranking",
    [
        pytest.param(FitRanking(8.0, 8192, 4.0, (), ()), id="zero-models"),
        pytest.param(models_that_fit(MODELS, FIT_SCORES, budget_gib=1.0), id="nothing-fits"),
        pytest.param(models_that_fit(MODELS[:1], {}), id="one-model-no-score"),
        pytest.param(
            models_that_fit([*MODELS, ModelSpec("unsized", "Unsized", open_weights=True)]),
            id="with-unsized",
        ),
    ],
)
def test_fits_chart_of_degenerate_rankings(ranking: FitRanking) -> None:
    assert_discord_png(fits_chart(ranking))


def test_fits_chart_keeps_the_top_of_a_long_ranking() -> None:
    row = realistic_ranking().fits[0]
    rows = tuple(
        RankedFit(replace(row.report, model_name=f"Model {i}"), row.score) for i in range(60)
    )
    ranking = FitRanking(24.0, 8192, 4.0, rows, ())
    tail = tuple(replace(r, report=replace(r.report, model_name="Other")) for r in rows[20:])
    changed_tail = replace(ranking, fits=rows[:MAX_FIT_ROWS] + tail)
    assert fits_chart(ranking) == fits_chart(changed_tail)


def test_fits_chart_with_a_hostile_model_name() -> None:
    ranking = realistic_ranking()
    first = ranking.fits[0]
    hostile = RankedFit(
        replace(first.report, model_name=HOSTILE_NAME),
        replace(first.score, citation=HOSTILE_CITATION) if first.score else None,
    )
    assert_discord_png(fits_chart(replace(ranking, fits=(hostile, *ranking.fits[1:]))))


# --- text and threads -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Llama 3.1 405B", "Llama 3.1 405B"),
        ("zero\u200bwidth\u200d joiners\ufeff", "zerowidth joiners"),
        ("\u202eright-to-left override\u202c", "right-to-left overr…"),
        ("line\nbreaks\tand   spaces", "line breaks and spa…"),
        ("costs $5 and $x^{", r"costs \$5 and \$x^{"),
        ("robot 🤖", "robot ?"),
        ("\u200b\u200b", "?"),
        ("", "?"),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw, limit=20) == expected


def test_clean_text_cuts_a_long_name() -> None:
    cleaned = clean_text(HOSTILE_NAME)
    assert len(cleaned) <= 30
    assert cleaned.endswith("…")
    assert "\u202e" not in cleaned and "\u200b" not in cleaned


def test_charts_render_concurrently_and_identically() -> None:
    """Renders share no state: in threads they give the same bytes as one after another."""
    gap = gap_report(MMLU, MMLU_SCORES, as_of=AS_OF)
    ranking = realistic_ranking()
    jobs = [(gap_chart, gap), (fits_chart, ranking)] * 3
    expected = {gap_chart: gap_chart(gap), fits_chart: fits_chart(ranking)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [(chart, pool.submit(chart, answer)) for chart, answer in jobs]
        for chart, future in futures:
            assert future.result() == expected[chart]


def test_charts_do_not_import_pyplot() -> None:
    code = "import sys, frontier.charts; sys.exit('matplotlib.pyplot' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_charts_render_with_the_collector_paused_and_restore_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A full collection mid-render cost a chart 50-100 ms; the collector is off while a chart
    renders and back on after (and stays off after if it was off before)."""
    import gc

    from frontier import charts

    seen: list[bool] = []
    real_png = charts._png

    def spy(figure):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return real_png(figure)

    monkeypatch.setattr(charts, "_png", spy)
    assert gc.isenabled()
    charts.fits_chart(FitRanking(24.0, 8192, 4.0, (), ()))
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        charts.fits_chart(FitRanking(24.0, 8192, 4.0, (), ()))
        assert not gc.isenabled()
    finally:
        gc.enable()
