"""A synthetic store at scale: 100k models, 20 benchmarks, 1M scores from 5 sources.

The store starts as the real one (migrations, the bundled dataset and the offline snapshots,
as ``bot.app.open_data`` leaves it), then gets the synthetic rows by bulk insert: one
``executemany`` per table on SQLite, ``COPY`` on PostgreSQL. Generation is deterministic (a
fixed seed) and cached: the SQLite file under ``bench/out/`` and the PostgreSQL database
``gapwatch_bench`` carry a ``meta`` row naming the generator's version and size, and are
reused while it matches.

The figures are shaped like the real thing, not uniform noise: about 70% of the models are
open weights, 25% proprietary and 5% of unknown openness; open parameter counts cluster at
the sizes people release (0.5B … 405B, some mixtures of experts), with layers, KV heads and
head dims that follow the size; proprietary models mostly have no known size. A score rises
with the model's date and size, proprietary models lead by a few points, and it becomes
public within weeks of the release.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from frontier.names import normalize_name

OUT = Path(__file__).resolve().parent / "out"
GENERATOR_VERSION = "2"
SEED = 20261204
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_BENCH_DB = "gapwatch_bench"

FAMILIES = (
    ("Meta", "Llama"),
    ("Alibaba", "Qwen"),
    ("Mistral AI", "Mistral"),
    ("Google", "Gemma"),
    ("DeepSeek", "DeepSeek"),
    ("Microsoft", "Phi"),
    ("01.AI", "Yi"),
    ("TII", "Falcon"),
    ("AllenAI", "OLMo"),
    ("NVIDIA", "Nemotron"),
    ("Cohere", "Command"),
    ("IBM", "Granite"),
    ("Zhipu", "GLM"),
    ("Moonshot", "Kimi"),
    ("Hugging Face", "SmolLM"),
    ("Community", "Hermes"),
)
PROPRIETARY = (
    ("OpenAI", "GPT"),
    ("Anthropic", "Claude"),
    ("Google", "Gemini"),
    ("xAI", "Grok"),
    ("Amazon", "Nova"),
    ("Baidu", "ERNIE"),
    ("Inflection", "Pi"),
    ("Reka", "Reka"),
)
VARIANTS = ("Instruct", "Chat", "Base", "Coder", "Math", "Vision", "Reasoning", "Preview")
# (total B, layers, KV heads, head dim, hidden size): the shapes of real dense releases.
DENSE_SHAPES = (
    (0.5, 24, 2, 64, 896),
    (1.0, 16, 8, 64, 2048),
    (1.5, 28, 2, 128, 1536),
    (3.0, 36, 2, 128, 2048),
    (7.0, 28, 4, 128, 3584),
    (8.0, 32, 8, 128, 4096),
    (9.0, 42, 8, 256, 3584),
    (13.0, 40, 40, 128, 5120),
    (14.0, 48, 8, 128, 5120),
    (27.0, 46, 16, 128, 4608),
    (32.0, 64, 8, 128, 5120),
    (34.0, 60, 8, 128, 7168),
    (70.0, 80, 8, 128, 8192),
    (72.0, 80, 8, 128, 8192),
    (123.0, 88, 8, 128, 12288),
    (405.0, 126, 8, 128, 16384),
)
DENSE_WEIGHTS = (6, 5, 6, 7, 12, 10, 4, 4, 6, 4, 5, 2, 6, 3, 1, 1)
# (total B, active B, experts, per token, layers, KV heads, head dim)
MOE_SHAPES = (
    (46.7, 12.9, 8, 2, 32, 8, 128),
    (141.0, 39.0, 8, 2, 56, 8, 128),
    (30.0, 3.0, 128, 8, 48, 4, 128),
    (235.0, 22.0, 128, 8, 94, 4, 128),
    (671.0, 37.0, 256, 8, 61, 128, 128),
    (16.0, 2.4, 64, 6, 27, 16, 128),
)
EXTRA_BENCHMARKS = (
    ("gpqa-diamond", "GPQA Diamond", 30.0, True),
    ("mmlu-pro", "MMLU-Pro", 15.0, True),
    ("swe-bench-verified", "SWE-bench Verified", 55.0, True),
    ("hle", "Humanity's Last Exam", 80.0, False),
    ("math-500", "MATH-500", 10.0, False),
    ("aime-2024", "AIME 2024", 45.0, False),
    ("arc-challenge", "ARC-Challenge", -15.0, False),
    ("hellaswag", "HellaSwag", -20.0, False),
    ("bbh", "BIG-Bench Hard", 0.0, False),
    ("ifeval", "IFEval", -5.0, False),
    ("livecodebench", "LiveCodeBench", 40.0, False),
    ("mgsm", "MGSM", 5.0, False),
    ("drop", "DROP", 0.0, False),
    ("musr", "MuSR", 20.0, False),
)
SOURCES = (
    ("bench-leaderboard", "Synthetic leaderboard", 22),
    ("bench-evaluator", "Synthetic independent evaluator", 26),
    ("bench-aggregator", "Synthetic aggregator", 32),
    ("bench-cards", "Synthetic model cards", 15),
    ("bench-arena", "Synthetic arena", 38),
)
FIRST_DAY = date(2020, 6, 1)
LAST_DAY = date(2026, 11, 30)
RETRIEVED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Size:
    """How big a synthetic store is."""

    label: str
    models: int
    scores: int

    @property
    def tag(self) -> str:
        return f"v{GENERATOR_VERSION}:{self.models}:{self.scores}:{SEED}"


FULL = Size("1M", 100_000, 1_000_000)
QUICK = Size("100k", 10_000, 100_000)


def sqlite_path(size: Size) -> Path:
    """The cached SQLite store of a size."""
    return OUT / f"store-{size.label}.sqlite"


def postgres_url(size: Size) -> str:
    """The cached PostgreSQL store of a size (one database per size)."""
    name = POSTGRES_BENCH_DB if size == FULL else f"{POSTGRES_BENCH_DB}_{size.label.lower()}"
    return str(make_url(POSTGRES_ADMIN_URL).set(database=name))


def store_url(db: str, size: Size) -> str:
    """The URL of the cached store on ``db`` (``sqlite`` or ``postgres``)."""
    return f"sqlite:///{sqlite_path(size)}" if db == "sqlite" else postgres_url(size)


def ensure_store(db: str, size: Size, *, log=print) -> str:  # type: ignore[no-untyped-def]
    """Make sure the synthetic store exists (generating it if not); return its URL."""
    url = store_url(db, size)
    if db == "postgres":
        _ensure_pg_database(url)
    else:
        OUT.mkdir(parents=True, exist_ok=True)
    from db.engine import make_engine

    engine = make_engine(url)
    try:
        if _generated(engine, size):
            from db import migrate

            migrate.upgrade(engine)  # a cached store follows the schema (new indexes too)
            if db == "postgres":
                # Every run starts from a store at rest: the ingest bench's rolled-back batches
                # leave dead rows (300,000 after a few runs) that slow the next run's commands.
                _vacuum(url)
            return url
    finally:
        engine.dispose()
    if db == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path(size)}{suffix}").unlink(missing_ok=True)
    else:
        _recreate_pg_database(url)
    start = time.perf_counter()
    generate(url, size, log=log)
    if db == "postgres":
        _vacuum(url)
    log(f"generated the {size.label} store on {db} in {time.perf_counter() - start:.0f} s")
    return url


def _vacuum(url: str) -> None:
    """VACUUM ANALYZE a PostgreSQL store after bulk writes, as autovacuum leaves a store at
    rest: fresh statistics, and a visibility map that lets index-only scans skip the heap."""
    import psycopg

    from jobs.leader import libpq_conninfo

    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _generated(engine: Engine, size: Size) -> bool:
    """Whether the store holds this size's generated data (the generator's ``meta`` row with
    this size's tag, which names the generator's version: another tag means regenerate). A
    store without that table or row is not generated; any other error (a lock held by
    another run, a server down) is raised, instead of deleting a cached store."""
    from sqlalchemy import inspect

    with engine.connect() as conn:
        if "meta" not in inspect(conn).get_table_names():
            return False
        row = conn.execute(text("SELECT value FROM meta WHERE key = 'bench:synthetic'")).first()
    return row is not None and row[0] == size.tag


def _admin_execute(sql: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def _ensure_pg_database(url: str) -> None:
    import psycopg

    name = make_url(url).database
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def _recreate_pg_database(url: str) -> None:
    name = make_url(url).database
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_execute(f'CREATE DATABASE "{name}"')


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------
def generate(url: str, size: Size, *, log=print) -> None:  # type: ignore[no-untyped-def]
    """Open the store as the bot does, then bulk insert the synthetic rows."""
    from db import headlines
    from db.engine import make_engine
    from db.store import open_store
    from jobs.polling import ingest_bundled

    start = time.perf_counter()
    engine = open_store(url)
    ingest_bundled(engine)
    engine.dispose()
    log(f"  migrated, bundled data and snapshots loaded in {time.perf_counter() - start:.1f} s")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            ids = _reference_rows(conn)
        rng = random.Random(SEED)
        models = list(_models(rng, size.models, ids["model"] + 1))
        aliases = list(_aliases(models))
        scores = list(_scores(rng, models, ids, size.scores))
        log(
            f"  {len(models):,} models, {len(aliases):,} aliases, {len(scores):,} scores "
            f"built in {time.perf_counter() - start:.1f} s"
        )
        if engine.dialect.name == "postgresql":
            _copy_pg(engine, models, aliases, scores)
        else:
            _insert_sqlite(engine, models, aliases, scores)
        log(f"  inserted in {time.perf_counter() - start:.1f} s")
        with engine.begin() as conn:
            # The bulk insert bypassed the session hooks: choose every headline once.
            headlines.rebuild(conn)
            conn.execute(
                text("INSERT INTO meta (key, value) VALUES ('bench:synthetic', :tag)"),
                {"tag": size.tag},
            )
        if engine.dialect.name == "sqlite":
            # Statistics of the whole store, headline table included (PostgreSQL's store is
            # vacuumed and analysed by ensure_store); they were taken before it was built.
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        log(f"  headlines chosen in {time.perf_counter() - start:.1f} s")
    finally:
        engine.dispose()


def _reference_rows(conn) -> dict:  # type: ignore[no-untyped-def]
    """Add the benchmarks and sources the synthetic scores use; return their ids."""
    for key, name, _difficulty, tracked in EXTRA_BENCHMARKS:
        conn.execute(
            text(
                "INSERT INTO benchmark (key, name, aliases, unit, higher_is_better, tracked) "
                "VALUES (:key, :name, :aliases, '%', :hib, :tracked)"
            ),
            {"key": key, "name": name, "aliases": f'["{name}"]', "hib": True, "tracked": tracked},
        )
    for key, name, rank in SOURCES:
        conn.execute(
            text(
                "INSERT INTO source (key, name, kind, trust_rank, enabled, consecutive_failures) "
                "VALUES (:key, :name, 'bench', :rank, :enabled, 0)"
            ),
            {"key": key, "name": name, "rank": rank, "enabled": True},
        )
    benches = conn.execute(text("SELECT id, key FROM benchmark WHERE unit = '%' ORDER BY id")).all()
    difficulty = {key: d for key, _n, d, _t in EXTRA_BENCHMARKS}
    sources = conn.execute(text("SELECT id FROM source WHERE kind = 'bench' ORDER BY id")).all()
    return {
        "model": conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM model")).scalar_one(),
        "benchmarks": [(bid, difficulty.get(key, -5.0)) for bid, key in benches][:20],
        "sources": [sid for (sid,) in sources],
    }


@dataclass(frozen=True, slots=True)
class _Model:
    id: int
    slug: str
    name: str
    organization: str
    open_weights: bool | None
    hf_repo: str | None
    released_on: date
    total: float | None
    active: float | None
    layers: int | None
    kv_heads: int | None
    head_dim: int | None
    hidden: int | None
    experts: int | None
    per_token: int | None
    quality: float


def _day(rng: random.Random) -> date:
    # Releases accelerate: more models each year (a square root skews toward recent dates).
    span = (LAST_DAY - FIRST_DAY).days
    return FIRST_DAY + timedelta(days=int(span * math.sqrt(rng.random())))


def _models(rng: random.Random, count: int, first_id: int) -> Iterator[_Model]:
    for i in range(count):
        model_id = first_id + i
        roll = rng.random()
        released = _day(rng)
        years = (released - FIRST_DAY).days / 365.0
        variant = rng.choice(VARIANTS)
        gen = f"{1 + int(years)}.{rng.randrange(10)}"
        if roll < 0.25:
            org, family = rng.choice(PROPRIETARY)
            name = f"{family} {gen} {variant} {i:05d}"
            known = rng.random() < 0.1
            total = rng.choice((20.0, 175.0, 540.0, 1800.0)) if known else None
            yield _Model(
                model_id,
                normalize_slug(name),
                name,
                org,
                False,
                None,
                released,
                total,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                quality=years * 0.55 + 1.4 + rng.gauss(0, 0.5),
            )
            continue
        org, family = rng.choice(FAMILIES)
        moe = rng.random() < 0.08
        if moe:
            total, active, experts, per_token, layers, kv, hd = rng.choice(MOE_SHAPES)
            hidden = None
            size = active * 3
        else:
            total, layers, kv, hd, hidden = rng.choices(DENSE_SHAPES, DENSE_WEIGHTS)[0]
            active, experts, per_token = None, None, None
            size = total
        label = f"{total:g}B" if not moe else f"{round(total)}B-A{active:g}B"
        name = f"{family} {gen} {label} {variant} {i:05d}"
        arch_known = rng.random() < 0.8
        yield _Model(
            model_id,
            normalize_slug(name),
            name,
            org,
            None if roll > 0.95 else True,
            f"{org.split()[0].lower()}/{normalize_slug(name)}",
            released,
            total,
            active,
            layers if arch_known else None,
            kv if arch_known else None,
            hd if arch_known else None,
            hidden if arch_known else None,
            experts,
            per_token,
            quality=years * 0.5 + 0.45 * math.log(size) + rng.gauss(0, 0.5),
        )


def normalize_slug(name: str) -> str:
    """The slug the ingest would give ``name``."""
    from frontier.names import slugify

    return slugify(name)


def _aliases(models: list[_Model]) -> Iterator[tuple[str, int]]:
    seen: set[str] = set()
    for m in models:
        for name in (m.name, m.slug, m.hf_repo):
            if not name:
                continue
            alias = normalize_name(name)[:256]
            if alias and alias not in seen:
                seen.add(alias)
                yield alias, m.id


def _scores(rng: random.Random, models: list[_Model], ids: dict, target: int) -> list[tuple]:  # type: ignore[type-arg]
    benches, sources = ids["benchmarks"], ids["sources"]
    per_model = target / len(models)
    rows: list[tuple] = []  # type: ignore[type-arg]
    for m in models:
        if len(rows) >= target:
            break
        # ~per_model rows each: k benchmarks, 1-3 sources each, 10% in a second setting.
        k = max(1, min(len(benches), int(rng.gauss(per_model / 1.9, 1.5))))
        for bench_id, difficulty in rng.sample(benches, k):
            base = 100.0 / (1.0 + math.exp(-(m.quality - 3.0 - difficulty / 15.0)))
            for source_id in rng.sample(sources, rng.choice((1, 2, 2, 3))):
                for setting in ("", "0-shot CoT") if rng.random() < 0.1 else ("",):
                    value = round(min(100.0, max(0.0, base + rng.gauss(0, 1.5))), 1)
                    available = min(m.released_on + timedelta(days=rng.randrange(60)), LAST_DAY)
                    rows.append(
                        (m.id, bench_id, source_id, value, setting, available, rng.random() < 0.03)
                    )
    return rows[:target]


def _insert_sqlite(engine: Engine, models, aliases, scores) -> None:  # type: ignore[no-untyped-def]
    ts = RETRIEVED_AT.replace(tzinfo=None).isoformat(sep=" ")
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        cur.executemany(
            "INSERT INTO model (id, slug, name, organization, open_weights, released_on, "
            "total_params_b, active_params_b, layers, kv_heads, head_dim, hidden_size, experts, "
            "experts_per_token, hf_repo, training_cost_approximate, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,?,?)",
            [
                (
                    m.id,
                    m.slug,
                    m.name,
                    m.organization,
                    m.open_weights,
                    m.released_on.isoformat(),
                    m.total,
                    m.active,
                    m.layers,
                    m.kv_heads,
                    m.head_dim,
                    m.hidden,
                    m.experts,
                    m.per_token,
                    m.hf_repo,
                    ts,
                    ts,
                )
                for m in models
            ],
        )
        cur.executemany("INSERT INTO model_alias (alias, model_id) VALUES (?, ?)", aliases)
        cur.executemany(
            "INSERT INTO score (model_id, benchmark_id, source_id, value, setting, available_on, "
            "approximate, date_precision, retrieved_at) VALUES (?,?,?,?,?,?,?,'day',?)",
            [(*row[:5], row[5].isoformat(), row[6], ts) for row in scores],
        )
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def _copy_pg(engine: Engine, models, aliases, scores) -> None:  # type: ignore[no-untyped-def]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(
            "COPY model (id, slug, name, organization, open_weights, released_on, "
            "total_params_b, active_params_b, layers, kv_heads, head_dim, hidden_size, experts, "
            "experts_per_token, hf_repo, training_cost_approximate, created_at, updated_at) "
            "FROM STDIN"
        ) as copy:
            for m in models:
                copy.write_row(
                    (
                        m.id,
                        m.slug,
                        m.name,
                        m.organization,
                        m.open_weights,
                        m.released_on,
                        m.total,
                        m.active,
                        m.layers,
                        m.kv_heads,
                        m.head_dim,
                        m.hidden,
                        m.experts,
                        m.per_token,
                        m.hf_repo,
                        False,
                        RETRIEVED_AT,
                        RETRIEVED_AT,
                    )
                )
        with cur.copy("COPY model_alias (alias, model_id) FROM STDIN") as copy:
            for row in aliases:
                copy.write_row(row)
        with cur.copy(
            "COPY score (model_id, benchmark_id, source_id, value, setting, available_on, "
            "approximate, date_precision, retrieved_at) FROM STDIN"
        ) as copy:
            for row in scores:
                copy.write_row((*row, "day", RETRIEVED_AT))
        cur.execute("SELECT setval('model_id_seq', (SELECT MAX(id) FROM model))")
        cur.execute("SELECT setval('score_id_seq', (SELECT MAX(id) FROM score))")
        raw.commit()
        raw.driver_connection.autocommit = True
        cur.execute("VACUUM ANALYZE")
    finally:
        raw.close()


def main() -> int:
    """Generate (or find) both stores at both sizes named on the command line."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.synthetic")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="the 100k-score store instead")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    for db in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        print(ensure_store(db, size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
