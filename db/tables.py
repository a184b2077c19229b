"""The store's tables (SQLModel). DESIGN.md's data table, with the keys the queries need.

Conventions: ids are integer surrogate keys; natural keys (slugs, codes, dedupe keys) are
unique; Discord snowflakes are BIGINT; timestamps are timezone-aware UTC; scores are percent
(or the benchmark's unit) as floats. ``setting`` is ``""`` for a benchmark's canonical setting
so that the unique key works the same on SQLite and PostgreSQL (NULLs never collide).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    UniqueConstraint,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow

DIALECTS_KEY = "dialects"
"""``info`` key of a table element declared for some databases only (with ``ddl_if``, which
Alembic's comparisons do not read): the names of those databases' dialects (``db.migrate``)."""


def _ts(nullable: bool = True, **kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, **kw)


def _snowflake(nullable: bool = True, **kw: Any) -> Any:
    return Field(sa_type=BigInteger, nullable=nullable, **kw)


class Meta(SQLModel, table=True):
    """Small key/value facts about the store itself (e.g. the loaded dataset version)."""

    __tablename__ = "meta"
    key: str = Field(primary_key=True, max_length=64)
    value: str


class Source(SQLModel, table=True):
    """A place figures come from: the report, a leaderboard, a registry, a model card."""

    __tablename__ = "source"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=64)
    name: str
    kind: str = Field(default="reference", max_length=32)
    url: str | None = None
    licence: str | None = None
    trust_rank: int = 50
    enabled: bool = True
    last_polled_at: datetime | None = _ts()
    last_success_at: datetime | None = _ts()
    last_error: str | None = None
    last_error_at: datetime | None = _ts()
    consecutive_failures: int = 0
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = Field(default=None, max_length=64)
    # Digest of the records the last full ingest took (jobs.ingest.records_digest).
    records_hash: str | None = Field(default=None, max_length=64)


class Benchmark(SQLModel, table=True):
    """A benchmark and the names it goes by."""

    __tablename__ = "benchmark"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=64)
    name: str
    aliases: list[str] = Field(default_factory=list, sa_type=JSON)
    unit: str = Field(default="%", max_length=16)
    higher_is_better: bool = True
    canonical_setting: str | None = None
    question_count: int | None = None
    question_count_source: str | None = None
    question_count_url: str | None = None
    tracked: bool = False


# The columns a memory estimate reads (size and architecture): models that share them fit (or
# not) alike, so /fits estimates once per distinct shape.
SHAPE_COLUMNS = (
    "total_params_b",
    "active_params_b",
    "layers",
    "kv_heads",
    "head_dim",
    "hidden_size",
    "attention_heads",
    "max_context",
    "attention",
    "sliding_window",
    "full_attention_layers",
    "kv_lora_rank",
    "qk_rope_head_dim",
    "experts",
    "experts_per_token",
)


class Model(SQLModel, table=True):
    """A model: who made it, whether its weights are open, its size and architecture."""

    __tablename__ = "model"
    __table_args__ = (
        # /fits groups the open models by shape: with every shape column in one index, in
        # that order, the grouping reads the index alone, already in group order.
        Index("ix_model_shape", "open_weights", *SHAPE_COLUMNS),
        # Ingest finds models by Hugging Face repo id case-insensitively (jobs.ingest).
        Index("ix_model_hf_repo_lower", text("lower(hf_repo)")),
    )
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, max_length=128)
    name: str
    organization: str | None = None
    open_weights: bool | None = None
    license: str | None = None
    released_on: date | None = None
    total_params_b: float | None = None
    active_params_b: float | None = None
    layers: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    hidden_size: int | None = None
    attention_heads: int | None = None
    max_context: int | None = None
    attention: str | None = Field(default=None, max_length=16)
    sliding_window: int | None = None
    full_attention_layers: int | None = None
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    experts: int | None = None
    experts_per_token: int | None = None
    training_cost_usd: float | None = None
    training_cost_approximate: bool = False
    training_cost_source_id: int | None = Field(default=None, foreign_key="source.id")
    hf_repo: str | None = Field(default=None, max_length=256)
    facts_source_id: int | None = Field(default=None, foreign_key="source.id")
    facts_url: str | None = None
    arch_source_id: int | None = Field(default=None, foreign_key="source.id")
    arch_url: str | None = None
    notes: str | None = None
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)
    updated_at: datetime = _ts(nullable=False, default_factory=utcnow)


class ModelAlias(SQLModel, table=True):
    """Another name of a model, normalized (casefolded, punctuation folded) for lookups."""

    __tablename__ = "model_alias"
    alias: str = Field(primary_key=True, max_length=256)
    model_id: int = Field(
        sa_column=Column(ForeignKey("model.id", ondelete="CASCADE"), nullable=False, index=True)
    )


class Score(SQLModel, table=True):
    """One model's score on one benchmark, as one source states it, with provenance."""

    __tablename__ = "score"
    __table_args__ = (
        UniqueConstraint("model_id", "benchmark_id", "source_id", "setting", name="uq_score_key"),
        # The gap, leaderboard and lag queries read one benchmark's scores in date order.
        Index("ix_score_benchmark_available", "benchmark_id", "available_on", "value"),
        # Headline scores are chosen per model in SQL (db.queries._headline): this index holds
        # every column that query reads, in model order, so it never visits the table.
        Index(
            "ix_score_headline",
            "benchmark_id",
            "model_id",
            "setting",
            "source_id",
            "retrieved_at",
            "available_on",
            "value",
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: uq_score_key starts with model_id.
    model_id: int = Field(
        sa_column=Column(ForeignKey("model.id", ondelete="CASCADE"), nullable=False)
    )
    benchmark_id: int = Field(foreign_key="benchmark.id")
    source_id: int = Field(foreign_key="source.id", index=True)
    value: float
    setting: str = Field(default="", max_length=64)
    available_on: date
    date_precision: str = Field(default="day", max_length=8)
    approximate: bool = False
    url: str | None = None
    section: str | None = None
    notes: str | None = None
    retrieved_at: datetime = _ts(nullable=False, default_factory=utcnow)


class Prediction(SQLModel, table=True):
    """A dated, falsifiable claim and the rule that evaluates it."""

    __tablename__ = "prediction"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=16)
    title: str
    claim: str
    threshold: str
    verification_date: date
    rule: str = Field(max_length=64)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    section: str | None = None
    source_id: int | None = Field(default=None, foreign_key="source.id")
    status: str = Field(default="pending", max_length=16)
    verdict: str | None = Field(default=None, max_length=16)
    evidence: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    evaluated_at: datetime | None = _ts()
    resolved_on: date | None = None


class Attestation(SQLModel, table=True):
    """A sourced statement that settles a criterion no dataset can."""

    __tablename__ = "attestation"
    __table_args__ = (UniqueConstraint("prediction_id", "criterion", "url", name="uq_attestation"),)
    id: int | None = Field(default=None, primary_key=True)
    prediction_id: int = Field(foreign_key="prediction.id", index=True)
    criterion: str = Field(max_length=64)
    holds: bool
    statement: str
    stated_on: date
    source_label: str
    url: str | None = None
    model_id: int | None = Field(default=None, foreign_key="model.id")
    created_by: int | None = _snowflake()
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)


class GuildSettings(SQLModel, table=True):
    """Per-server alert settings."""

    __tablename__ = "guild_settings"
    guild_id: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    alert_channel_id: int | None = _snowflake()
    gap_threshold: float = 2.0
    hysteresis: float = 0.25
    vram_budget_gib: float = 24.0
    alert_kinds: list[str] = Field(default_factory=list, sa_type=JSON)
    muted_until: datetime | None = _ts()
    digest: bool = False
    ping_role_id: int | None = _snowflake()
    alerts_enabled_at: datetime | None = _ts()
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)
    updated_at: datetime = _ts(nullable=False, default_factory=utcnow)


class Subscription(SQLModel, table=True):
    """A user (DM) or a channel following a topic such as ``prediction:OB-001``."""

    __tablename__ = "subscription"
    __table_args__ = (
        UniqueConstraint("target_kind", "target_id", "topic", name="uq_subscription"),
        Index("ix_subscription_topic", "topic"),
    )
    id: int | None = Field(default=None, primary_key=True)
    target_kind: str = Field(max_length=8)
    target_id: int = Field(sa_type=BigInteger)
    guild_id: int | None = _snowflake()
    topic: str = Field(max_length=64)
    created_by: int = Field(sa_type=BigInteger)
    active: bool = True
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)


class RuleState(SQLModel, table=True):
    """What an alert rule last saw for a scope (e.g. a guild's gap state on MMLU): its memory."""

    __tablename__ = "rule_state"
    scope: str = Field(primary_key=True, max_length=64)
    rule: str = Field(primary_key=True, max_length=128)
    state: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    updated_at: datetime = _ts(nullable=False, default_factory=utcnow)


class Alert(SQLModel, table=True):
    """The outbox: a fact worth telling, unique by its dedupe key."""

    __tablename__ = "alert"
    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=255)
    kind: str = Field(max_length=32, index=True)
    guild_id: int | None = _snowflake()
    topic: str | None = Field(default=None, max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # Alerts of one group (a server's gap on one benchmark) replace each other: an undelivered
    # one is dropped when a newer one of its group exists (a mute ended, an outage).
    group_key: str | None = Field(default=None, max_length=128)
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)


class Delivery(SQLModel, table=True):
    """One alert to one target (a channel or a user's DMs), with its delivery state."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("alert_id", "target_kind", "target_id", name="uq_delivery_target"),
        # The dispatcher claims due deliveries: state = 'pending' and next_attempt_at <= now.
        Index("ix_delivery_due", "state", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(ForeignKey("alert.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    target_kind: str = Field(max_length=8)
    target_id: int = Field(sa_type=BigInteger)
    guild_id: int | None = _snowflake()
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _ts(nullable=False, default_factory=utcnow)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = _ts()
    nonce: str = Field(max_length=25)
    message_id: int | None = _snowflake()
    last_error: str | None = None
    sent_at: datetime | None = _ts()
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)
    # Why a delivery waits (``muted``, ``digest``) and until when, for the alert's footer.
    held_reason: str | None = Field(default=None, max_length=16)
    held_until: datetime | None = _ts()


class AlertTrace(SQLModel, table=True):
    """What happened to one event for one server, and at which stage it stopped (/alerts why)."""

    __tablename__ = "alert_trace"
    __table_args__ = (Index("ix_alert_trace_guild_at", "guild_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    guild_id: int = Field(sa_type=BigInteger)
    at: datetime = _ts(nullable=False, default_factory=utcnow)
    kind: str = Field(max_length=32)
    subject: str = Field(max_length=200)
    stage: str = Field(max_length=32)
    detail: str | None = Field(default=None, max_length=500)
    alert_id: int | None = None


class Headline(SQLModel, table=True):
    """Each model's headline score on a benchmark, kept current by ``db.headlines``.

    Derived data: one row per (benchmark, model) that has a score, naming the score chosen by
    setting, source trust and retrieval time, with the columns the gap, lag, leaderboard and
    fits queries read (``open_weights`` copied from the model; NULL = openness unknown).
    ``record`` marks a frontier record: no headline score on its side (open or proprietary) was
    better on or before its date. Every point of a frontier trajectory is a record.
    """

    __tablename__ = "headline"
    __table_args__ = (
        # Marking the frontier records reads one benchmark's rows per side in date order, and
        # the newest row per side is one probe (the index covers what both read).
        Index(
            "ix_headline_frontier",
            "benchmark_id",
            "open_weights",
            "available_on",
            "value",
            "score_id",
        ),
        # The leaderboard and /fits read one benchmark's rows best first.
        Index("ix_headline_value", "benchmark_id", "value"),
        # The gap, lag and prediction answers read a benchmark's frontier records, and marking
        # them reads one side's: a few dozen rows of a benchmark's thousands, so the index
        # holds only them and a new row, not a record, costs it nothing. (It covers both reads
        # on PostgreSQL; SQLite reads those few dozen rows from the table, as "record" is not
        # among the index's columns.)
        # Queries must say ``record == true()`` (SQLite: "record = 1", the predicate's words;
        # PostgreSQL proves "record" from "record = true" but not from "record IS true").
        Index(
            "ix_headline_records",
            "benchmark_id",
            "open_weights",
            "available_on",
            "value",
            "score_id",
            sqlite_where=text("record = 1"),
            postgresql_where=text("record"),
        ),
        ForeignKeyConstraint(
            ["score_id"],
            ["score.id"],
            deferrable=True,
            initially="DEFERRED",
            info={DIALECTS_KEY: ("sqlite",)},  # for Alembic's comparisons (db.migrate)
        ).ddl_if(dialect="sqlite"),
    )
    # Model first in the key: recomputing a model's rows finds them by the key alone. The
    # model and benchmark are the score's (whose own keys check them); the score's key is the
    # only one here (migration 0009: a second check of each per inserted row was a tenth of a
    # large poll on PostgreSQL).
    model_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    benchmark_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    # The score must outlive its headline row, checked at commit, not per statement: deleting
    # a headline score is fine as long as the same transaction recomputes that model's
    # headline (db.headlines does, before every commit), and a writer that forgets to fails
    # loudly instead of leaving the table stale (a cascade would drop the row and hide a lost
    # frontier record). SQLite checks it as a deferred foreign key (the constraint in
    # __table_args__); PostgreSQL, which would run a query per inserted headline row, as a
    # deferred constraint trigger on score's deletes (migrations 0010, 0011).
    score_id: int = Field(sa_column=Column(Integer, nullable=False, index=True))
    value: float
    available_on: date
    open_weights: bool | None = None
    record: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
