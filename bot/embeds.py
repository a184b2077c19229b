"""Answer objects rendered as Discord embeds. Renderers never query; data text is cleaned."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from urllib.parse import quote

import discord

from bot import safe_text
from bot.answers import (
    AboutAnswer,
    FitAnswer,
    FitListAnswer,
    Leaderboard,
    ModelCard,
    PredictionAnswer,
    SourceStatus,
)
from bot.safe_text import EMBED_FIELDS, FIELD_VALUE, FOOTER, cut
from bot.text import fmt_points, gap_headline
from frontier.audit import AuditReport
from frontier.fits import FitReport
from frontier.gap import Dashboard, GapReport
from frontier.lag import LagReport
from frontier.predictions import TrackRecord
from frontier.types import Citation, Score, fmt_value

COLOR_OPEN = discord.Colour(0x1B9E77)
COLOR_PROPRIETARY = discord.Colour(0x7570B3)
COLOR_NEUTRAL = discord.Colour(0x5865F2)
COLOR_WARNING = discord.Colour(0xD95F02)
COLOR_ERROR = discord.Colour(0xC0392B)


def clean(text: object, limit: int = 100) -> str:
    """:func:`bot.safe_text.clean`, remembered for strings: it is a pure function of its
    arguments, and an embed cleans the same few dozen names on every answer (a tenth of a
    millisecond of a ``/gap``)."""
    if type(text) is str:
        return _clean_text(text, limit)
    return safe_text.clean(text, limit)


@functools.lru_cache(maxsize=8192)
def _clean_text(text: str, limit: int) -> str:
    return safe_text.clean(text, limit)


# What an embed is built from: title, description, colour, fields (name, value, inline),
# footer text and image URL.
_Recipe = tuple[
    str | None,
    str | None,
    discord.Colour | None,
    tuple[tuple[str, str, bool], ...],
    str | None,
    str | None,
]


def _recipe(embed: discord.Embed) -> _Recipe | None:
    """What :func:`_from_recipe` needs to build ``embed`` again, or None if it sets anything
    else (checked: the rebuilt embed must equal it)."""
    fields = tuple((f.name, f.value, f.inline) for f in embed.fields)
    recipe: _Recipe = (
        embed.title,
        embed.description,
        embed.colour,
        fields,
        embed.footer.text,
        embed.image.url,
    )
    return recipe if _from_recipe(recipe).to_dict() == embed.to_dict() else None


def _from_recipe(recipe: _Recipe) -> discord.Embed:
    title, description, colour, fields, footer_text, image_url = recipe
    embed = discord.Embed(title=title, description=description, colour=colour)
    for name, value, inline in fields:
        embed.add_field(name=name, value=value, inline=inline)
    if footer_text is not None:
        embed.set_footer(text=footer_text)
    if image_url is not None:
        embed.set_image(url=image_url)
    return embed


def score_line(score: Score) -> str:
    """``**GPT-4** 86.4% · 2023-03-15`` (name cleaned; ``~`` for approximate figures)."""
    approx = "~" if score.approximate else ""
    setting = f" ({clean(score.setting, 40)})" if score.setting else ""
    return (
        f"**{clean(score.model_name, 80)}** {approx}{fmt_value(score.value, score.unit)}"
        f"{setting} · {score.available_on.isoformat()}"
    )


def source_line(citation: Citation) -> str:
    """``Source: [label](url)`` or the label alone."""
    label = clean(citation.label, 150)
    url = _link_target(citation.url)
    if url is not None:
        return f"Source: [{label}]({url})"
    return f"Source: {label}"


def _link_target(url: str | None) -> str | None:
    """A source URL safe inside ``[label](url)``, or None.

    URLs come from sources: a ``)``, space or newline would close the link early and let the
    rest render as markdown, and an ``@everyone`` would show as a mention; percent-encoding
    keeps the same address without either.
    """
    if not url or not url.startswith(("http://", "https://")) or len(url) >= 300:
        return None
    return quote(url, safe=":/?#&=%~+,;!$'*")


def footer(embed: discord.Embed, text: str) -> discord.Embed:
    """Set the footer, cut to Discord's limit."""
    embed.set_footer(text=cut(f"gapwatch · {text}", FOOTER))
    return embed


def add_field(embed: discord.Embed, name: str, value: str, *, inline: bool = False) -> None:
    """Add a field unless the embed is full; values are cut to 1,024 characters."""
    if len(embed.fields) < EMBED_FIELDS:
        embed.add_field(name=cut(name, 256), value=cut(value or "—", FIELD_VALUE), inline=inline)


def gap_embed(report: GapReport, *, chart_name: str | None = None) -> discord.Embed:
    """The gap answer; the trajectory chart is attached as ``chart_name``.

    Reports are immutable, and ``bot.answers`` hands out the same report while its inputs
    are unchanged: what a report (by identity, held with it) renders to is kept."""
    key = (id(report), chart_name)
    found = _GAP_EMBEDS.get(key)
    if found is None:
        embed = _gap_embed(report, chart_name=chart_name)
        if len(_GAP_EMBEDS) >= _GAP_EMBEDS_LIMIT:
            _GAP_EMBEDS.clear()
        _GAP_EMBEDS[key] = (report, _recipe(embed))
        return embed
    recipe = found[1]
    return _gap_embed(report, chart_name=chart_name) if recipe is None else _from_recipe(recipe)


# Recipes of gap embeds by (id(report), chart name); each holds its report, so its id is not
# reused while the entry lives. Bounded: cleared when full.
_GAP_EMBEDS: dict[tuple[int, str | None], tuple[GapReport, _Recipe | None]] = {}
_GAP_EMBEDS_LIMIT = 256


def _gap_embed(report: GapReport, *, chart_name: str | None = None) -> discord.Embed:
    color = {"open": COLOR_OPEN, "proprietary": COLOR_PROPRIETARY}.get(
        report.leader or "", COLOR_NEUTRAL
    )
    embed = discord.Embed(
        title=cut(clean(gap_headline(report), 240), 256),
        description=f"Best proprietary vs best open-weights score as of {report.as_of}.",
        colour=color,
    )
    for label, score in (
        ("Best proprietary", report.proprietary),
        ("Best open weights", report.open),
    ):
        value = "none" if score is None else f"{score_line(score)}\n{source_line(score.citation)}"
        add_field(embed, label, value)
    if report.gap is not None:
        add_field(
            embed,
            "Gap (proprietary − open)",
            f"**{fmt_points(report.gap)}** points · change 3 mo {fmt_points(report.change_3m)}, "
            f"6 mo {fmt_points(report.change_6m)}, 12 mo {fmt_points(report.change_12m)}",
        )
    if report.noise is not None:
        low, high = report.noise.gap
        verdict = "within noise of" if report.noise.within_noise else "clear of"
        add_field(
            embed,
            "Sampling noise (95%)",
            f"{low:+.1f} to {high:+.1f} points over {report.noise.n_questions:,} questions: "
            f"{verdict} the {report.threshold:.1f}-point line",
        )
    changes = [p for p in report.trajectory if p.gap is not None][-6:]
    if changes:
        rows = [
            f"`{p.date}` {fmt_points(p.gap)} — "
            f"{clean(p.proprietary.model_name, 40) if p.proprietary else '—'} vs "
            f"{clean(p.open.model_name, 40) if p.open else '—'}"
            for p in changes
        ]
        add_field(
            embed,
            f"Trajectory (last {len(rows)} of {len(report.trajectory)} changes)",
            "\n".join(rows),
        )
    if report.notes:
        add_field(embed, "Notes", "\n".join(f"• {clean(n, 300)}" for n in report.notes))
    if chart_name:
        embed.set_image(url=f"attachment://{chart_name}")
    newest = report.newest_data_on.isoformat() if report.newest_data_on else "none"
    return footer(embed, f"newest data {newest} · points are percentage points")


def lag_embed(report: LagReport, *, chart_name: str | None = None) -> discord.Embed:
    """Lag in months by Epoch AI's catch-up method."""
    mean = (
        f"{report.mean_months:.1f} months" if report.mean_months is not None else "no catch-up yet"
    )
    embed = discord.Embed(
        title=cut(f"{clean(report.benchmark.name, 80)}: open models trail by {mean}", 256),
        description=(
            "Epoch AI's method: on the −ln(1 − accuracy) scale, the first open model within "
            f"{report.tolerance} of each proprietary record; months = days ÷ 365 × 12."
        ),
        colour=COLOR_NEUTRAL,
    )
    rows = [
        f"{score_line(p.closed)} → {score_line(p.open)}: **{p.months:.1f} mo**"
        for p in report.pairs
    ]
    add_field(embed, f"Catch-ups ({len(rows)})", "\n".join(rows) or "none")
    if report.open_lags:
        add_field(
            embed,
            "Not yet matched (lag so far, a lower bound)",
            "\n".join(f"{score_line(o.closed)}: ≥ {o.months:.1f} mo" for o in report.open_lags),
        )
    sources = _distinct(
        [p.closed.citation for p in report.pairs]
        + [p.open.citation for p in report.pairs]
        + [o.closed.citation for o in report.open_lags]
    )
    if sources:
        add_field(embed, "Sources", "\n".join(source_line(c) for c in sources))
    if chart_name:
        embed.set_image(url=f"attachment://{chart_name}")
    return footer(embed, f"as of {report.as_of}")


def dashboard_embed(board: Dashboard) -> discord.Embed:
    """Every tracked benchmark's gap and direction."""
    embed = discord.Embed(
        title="Gap dashboard",
        description="Proprietary − open-weights, in points (negative: open leads).",
        colour=COLOR_NEUTRAL,
    )
    for row in board.rows:
        since = f" since {row.change_since}" if row.change_since else ""
        newest = row.newest_data_on.isoformat() if row.newest_data_on else "none"
        stale = " (stale)" if row.stale else ""
        noise = " · within noise" if row.within_noise else ""
        add_field(
            embed,
            clean(row.benchmark.name, 100),
            f"**{fmt_points(row.gap)}** · {row.direction or 'not enough data'} "
            f"(change {fmt_points(row.change)}{since}){noise}\nnewest data {newest}{stale}",
            inline=True,
        )
    return footer(embed, "/gap <benchmark> for sources and the trajectory")


def fit_value(report: FitReport) -> str:
    """The memory breakdown of one fit."""
    est = report.estimate
    verdict = "fits" if report.fits else "**does not fit**"
    kv = "" if est.kv_exact else " (estimate)"
    lines = [
        f"{est.quant.name} ({est.quant.bits_per_weight:.2f} bits/weight): "
        f"**{est.total_gib:.1f} GiB** — {verdict} {report.budget_gib:g} GiB "
        f"(headroom {report.headroom_gib:+.1f})",
        f"weights {est.weights_gib:.1f} + KV cache {est.kv_cache_gib:.1f}{kv} + overhead "
        f"{est.overhead_gib:.1f} GiB at {report.context:,} tokens ({report.kv_cache_type})",
    ]
    if report.best_quant is not None:
        lines.append(f"best format that fits: {report.best_quant.name}")
    if report.longest_context is not None:
        lines.append(f"longest context at {est.quant.name}: {report.longest_context:,} tokens")
    return "\n".join(lines)


def fits_embed(
    answer: FitAnswer | FitListAnswer, *, page: int = 0, per_page: int = 10
) -> discord.Embed:
    """One model's fit, or one page of the models that fit."""
    if isinstance(answer, FitAnswer):
        spec, report = answer.model, answer.report
        embed = discord.Embed(
            title=cut(f"{clean(spec.name, 120)} on {report.budget_gib:g} GiB", 256),
            colour=COLOR_OPEN if report.fits else COLOR_WARNING,
        )
        params = f"{report.total_params_b:g}B parameters"
        if report.active_params_b:
            params += f" ({report.active_params_b:g}B active per token)"
        add_field(embed, "Size", params)
        add_field(embed, "Memory", fit_value(report))
        if report.notes:
            add_field(embed, "Notes", "\n".join(f"• {clean(n, 300)}" for n in report.notes))
        cites = [c for c in (spec.params_citation, spec.architecture_citation) if c]
        cites.append(Citation("quant", report.estimate.quant.source))
        add_field(embed, "Sources", "\n".join(source_line(c) for c in _distinct(cites)))
        return footer(embed, "memory = weights + KV cache + runtime overhead · GiB = 2^30 bytes")
    ranking = answer.ranking
    pages = max(1, -(-len(ranking.fits) // per_page))
    page = min(max(page, 0), pages - 1)
    chunk = ranking.fits[page * per_page : (page + 1) * per_page]
    embed = discord.Embed(
        title=f"Open models that fit {ranking.budget_gib:g} GiB at ≥{ranking.min_bits:g}-bit",
        description=(
            f"{answer.count:,} models at {ranking.context:,} tokens, ranked by "
            f"{clean(answer.benchmark.name, 60)}"
            + (
                f"; the best {len(ranking.fits)} listed."
                if answer.count > len(ranking.fits)
                else "."
            )
        ),
        colour=COLOR_OPEN,
    )
    lines = []
    for number, item in enumerate(chunk, start=page * per_page + 1):
        report, score = item.report, item.score
        quant = report.best_quant.name if report.best_quant else "?"
        bench = fmt_value(score.value, score.unit) if score else "no score"
        lines.append(
            f"{number}. **{clean(report.model_name, 60)}** — {quant}, "
            f"{report.estimate.total_gib:.1f} GiB — {bench}"
        )
    add_field(embed, "Models", "\n".join(lines) or "none")
    cites = _distinct(item.score.citation for item in chunk if item.score)
    if cites:
        add_field(embed, "Score sources", "\n".join(source_line(c) for c in cites[:6]))
    if ranking.unsized:
        add_field(
            embed,
            "Not estimated (no parameter count)",
            ", ".join(clean(m.name, 40) for m in ranking.unsized[:15]),
        )
    return footer(embed, f"page {page + 1}/{pages} · GiB = 2^30 bytes · memory includes KV cache")


def model_embed(card: ModelCard) -> discord.Embed:
    """A model card.

    A card is immutable, so what it renders to is kept with it (``card.rendered``) and each
    later call builds a new embed from that: the same embed, in about 3 µs instead of 20."""
    if "model_embed" not in card.rendered:
        embed = _model_embed(card)
        card.rendered["model_embed"] = _recipe(embed)
        return embed
    recipe = card.rendered["model_embed"]
    return _model_embed(card) if recipe is None else _from_recipe(recipe)


def _model_embed(card: ModelCard) -> discord.Embed:
    spec = card.model
    openness = {True: "open weights", False: "proprietary", None: "openness unknown"}
    facts = [openness[spec.open_weights]]
    if spec.organization:
        facts.append(clean(spec.organization, 60))
    if spec.total_params_b:
        facts.append(f"{spec.total_params_b:g}B parameters")
    if spec.active_params_b:
        facts.append(f"{spec.active_params_b:g}B active")
    if spec.released_on:
        facts.append(f"released {spec.released_on}")
    if card.license:
        facts.append(f"licence {clean(card.license, 60)}")
    embed = discord.Embed(
        title=cut(clean(spec.name, 200), 256),
        description=" · ".join(facts),
        colour=COLOR_OPEN if spec.open_weights else COLOR_PROPRIETARY,
    )
    if spec.params_citation:
        add_field(embed, "Facts", source_line(spec.params_citation))
    if spec.training_cost_usd:
        approx = "~" if spec.training_cost_approximate else ""
        cite = source_line(spec.training_cost_citation) if spec.training_cost_citation else ""
        add_field(embed, "Training cost", f"{approx}${spec.training_cost_usd:,.0f}\n{cite}")
    lines = [
        f"{clean(s.benchmark, 40)}: {score_line(s.score)}"
        f"{'' if s.headline else ' (other source)'} — {clean(s.score.citation.label, 80)}"
        for s in card.scores[:12]
    ]
    add_field(embed, "Scores", "\n".join(lines) or "none")
    if card.fit is not None:
        add_field(embed, "Memory", fit_value(card.fit))
    return footer(embed, "/fits for other budgets and formats")


def leaderboard_embed(board: Leaderboard) -> discord.Embed:
    """The best headline scores on a benchmark."""
    scope = "open-weights models" if board.open_only else "all models"
    embed = discord.Embed(
        title=cut(f"{clean(board.benchmark.name, 80)} leaderboard — {scope}", 256),
        description=f"Top {len(board.rows)} of {board.total}, as of {board.as_of}.",
        colour=COLOR_NEUTRAL,
    )
    lines = [
        f"{n}. {score_line(s)} {'🟢 open' if s.open_weights else '🟣 proprietary'}"
        for n, s in enumerate(board.rows, start=1)
    ]
    add_field(embed, "Ranking", "\n".join(lines) or "none")
    cites = _distinct(s.citation for s in board.rows)
    if cites:
        add_field(embed, "Sources", "\n".join(source_line(c) for c in cites[:8]))
    return footer(embed, "headline score per model: canonical setting, then most trusted source")


def about_embed(answer: AboutAnswer) -> discord.Embed:
    """Version and data freshness."""
    embed = discord.Embed(
        title=f"gapwatch {answer.version}",
        description=(
            "Tracks the gap between proprietary frontier and open-weights AI models, "
            "with the source of every figure."
        ),
        colour=COLOR_NEUTRAL,
    )
    add_field(embed, "Store", ", ".join(f"{v:,} {k}" for k, v in answer.counts.items()))
    newest = answer.newest_data_on.isoformat() if answer.newest_data_on else "none"
    add_field(embed, "Data", f"bundled dataset {answer.dataset_version}; newest score {newest}")
    add_field(
        embed,
        "Attribution",
        "Epoch AI Benchmarking Hub (CC BY 4.0) · LLM-Stats (CC BY 4.0) · EvalPlus (Apache-2.0) · "
        "LMArena · Hugging Face Hub · Market Accurate report (2026-01-03)",
    )
    return footer(embed, "/help lists the commands")


def error_embed(message: str) -> discord.Embed:
    """A refusal or failure, for an ephemeral reply."""
    return discord.Embed(description=cut(message, 4000), colour=COLOR_ERROR)


def _distinct(citations: Iterable[Citation]) -> list[Citation]:
    seen: dict[tuple[str, str | None], Citation] = {}
    for citation in citations:
        seen.setdefault((citation.label, citation.url), citation)
    return list(seen.values())


def total_chars(embeds: Sequence[discord.Embed]) -> int:
    """Characters Discord counts across embeds of one message (limit 6,000)."""
    return sum(len(e) for e in embeds)


STATUS_COLOURS = {
    "hit": COLOR_OPEN,
    "miss": COLOR_ERROR,
    "at risk": COLOR_WARNING,
    "needs review": COLOR_WARNING,
}


def prediction_embed(answer: PredictionAnswer) -> discord.Embed:
    """A prediction, its live verdict, the evidence with sources."""
    p, v = answer.prediction, answer.verdict
    days = (
        f"{v.days_to_verification} days to go"
        if v.days_to_verification >= 0
        else f"{-v.days_to_verification} days ago"
    )
    resolved = f" (resolved {v.resolved_on})" if v.resolved and v.resolved_on else ""
    embed = discord.Embed(
        title=cut(f"{p.code} — {clean(p.title, 120)}: {v.status}{resolved}", 256),
        description=cut(clean(v.summary, 4000), 4000),
        colour=STATUS_COLOURS.get(v.status, COLOR_NEUTRAL),
    )
    add_field(embed, "Claim", clean(p.claim, 1000))
    add_field(embed, "Threshold", clean(p.threshold, 1000))
    add_field(embed, "Verification date", f"{p.verification_date} ({days}); data as of {v.as_of}")
    lines = []
    for e in v.evidence[:12]:
        citation = e.citation or (e.score.citation if e.score else None)
        source = f" — {clean(citation.label, 80)}" if citation else ""
        lines.append(f"• {clean(e.text, 200)}{source}")
    if len(v.evidence) > 12:
        lines.append(f"… and {len(v.evidence) - 12} more (console: /prediction show {p.code})")
    add_field(embed, "Evidence", "\n".join(lines) or "none yet")
    if v.criteria:
        add_field(
            embed, "Attested criteria", "\n".join(f"• {clean(str(c), 200)}" for c in v.criteria)
        )
    add_field(embed, "What would change it", clean(v.what_would_change_it, 1000))
    add_field(embed, "Source of the claim", clean(p.citation.label, 300))
    return footer(embed, "/subscribe prediction to be told when it resolves")


def predictions_embed(answers: Sequence[PredictionAnswer]) -> discord.Embed:
    """Every prediction and its status."""
    embed = discord.Embed(title="Predictions", colour=COLOR_NEUTRAL)
    for a in answers:
        add_field(
            embed,
            f"{a.prediction.code} — {a.verdict.status}",
            f"{clean(a.prediction.title, 100)} · due {a.prediction.verification_date}\n"
            f"{clean(a.verdict.summary, 600)}",
        )
    return footer(embed, "evaluated live against the data · /prediction show <code>")


def trackrecord_embed(record: TrackRecord) -> discord.Embed:
    """Resolved, hits, misses, hit rate."""
    rate = f"{record.hit_rate:.0%}" if record.hit_rate is not None else "n/a (none resolved)"
    embed = discord.Embed(
        title="Track record",
        description=(
            f"{record.resolved} resolved — {record.hits} hit, {record.misses} missed · hit rate "
            f"{rate} · {record.pending} open · {record.needs_review} need review"
        ),
        colour=COLOR_NEUTRAL,
    )
    lines = [
        f"{v.code}: {v.status}" + (f" on {v.resolved_on}" if v.resolved and v.resolved_on else "")
        for v in record.verdicts
    ]
    add_field(embed, "Predictions", "\n".join(lines) or "none")
    return footer(embed, "a prediction resolves on its verification date, or earlier when settled")


def audit_embed(report: AuditReport, *, page: int = 0, per_page: int = 8) -> discord.Embed:
    """One page of the audit, disagreements first."""
    ordered = sorted(
        report.items, key=lambda i: ("disagrees", "agrees", "not checkable").index(i.verdict)
    )
    pages = max(1, -(-len(ordered) // per_page))
    page = min(max(page, 0), pages - 1)
    counts = " · ".join(f"{n} {verdict}" for verdict, n in report.counts.items())
    embed = discord.Embed(
        title="Audit of the analyst report (Market Accurate, 2026-01-03)",
        description=f"Every figure it states, against what the arithmetic says: {counts}.",
        colour=COLOR_WARNING if report.disagreements else COLOR_OPEN,
    )
    icon = {"agrees": "✅", "disagrees": "❌", "not checkable": "➖"}
    for item in ordered[page * per_page : (page + 1) * per_page]:
        computed = "—" if item.computed is None else f"{item.computed:g}"
        add_field(
            embed,
            f"{icon[item.verdict]} {item.id}",
            f"stated **{clean(item.stated.text, 120)}** · computed **{computed}**\n"
            f"{clean(item.reason, 700)}",
        )
    return footer(embed, f"page {page + 1}/{pages}")


def sources_embed(statuses: Sequence[SourceStatus]) -> discord.Embed:
    """Each polled source's health; the dataset's references counted."""
    embed = discord.Embed(title="Sources", colour=COLOR_NEUTRAL)
    refs = 0
    for s in statuses:
        if s.kind == "reference":
            refs += 1
            continue
        polled = s.last_polled_at.strftime("%Y-%m-%d %H:%M UTC") if s.last_polled_at else "never"
        ok = s.last_success_at.strftime("%Y-%m-%d %H:%M UTC") if s.last_success_at else "never"
        error = (
            f"\nlast error: {clean(s.last_error, 300)} ({s.consecutive_failures} in a row)"
            if s.last_error
            else ""
        )
        add_field(embed, clean(s.name, 100), f"last poll {polled} · last success {ok}{error}")
    add_field(
        embed, "Bundled dataset", f"{refs} cited references (model cards, papers, the report)"
    )
    return footer(embed, "offline snapshots load on first start; live polls update them")
