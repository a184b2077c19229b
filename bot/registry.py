"""Every command the console answers, built on the same ``Answers`` the Discord commands use."""

from __future__ import annotations

from datetime import date

from bot import text
from bot.specs import CommandSpec, OptionSpec

BENCHMARK = OptionSpec("benchmark", str, "benchmark, e.g. MMLU", required=True)
AS_OF = OptionSpec("as_of", date, "date to look back to (YYYY-MM-DD); today if left out")


def console_commands() -> dict[str, CommandSpec]:
    """Command name (``"gap"``, ``"prediction show"``) → spec."""
    specs = [
        CommandSpec(
            name="gap",
            description="Best proprietary vs best open-weights score on a benchmark, over time.",
            answer=lambda answers, benchmark, as_of=None: answers.gap(benchmark, as_of),
            text=text.gap_text,
            options=(BENCHMARK, AS_OF),
            examples=("/gap mmlu", "/gap humaneval as_of:2024-06-01"),
        ),
        CommandSpec(
            name="lag",
            description="How many months open-weights models trail the proprietary frontier.",
            answer=lambda answers, benchmark, as_of=None: answers.lag(benchmark, as_of),
            text=text.lag_text,
            options=(BENCHMARK, AS_OF),
            examples=("/lag mmlu",),
        ),
        CommandSpec(
            name="dashboard",
            description="Every tracked benchmark's gap and direction.",
            answer=lambda answers, as_of=None: answers.dashboard(as_of),
            text=text.dashboard_text,
            options=(AS_OF,),
        ),
        CommandSpec(
            name="fits",
            description="Which open models fit a GPU, or how one model fits.",
            answer=lambda answers, **options: answers.fits(**options),
            text=text.fits_text,
            options=(
                OptionSpec("model", str, "a model name; leave out to list the models that fit"),
                OptionSpec("vram_gb", float, "VRAM budget in GiB (default 24, an RTX 4090)"),
                OptionSpec("context", int, "context length in tokens (default 8192)"),
                OptionSpec("quant", str, "quantization, e.g. Q4_K_M, Q8_0, FP16"),
                OptionSpec("benchmark", str, "benchmark to rank the list by (default MMLU)"),
                OptionSpec("kv_cache", str, "KV cache type: f16, q8_0 or q4_0"),
            ),
            examples=("/fits", "/fits vram_gb:16", '/fits "llama 3.1 70b"'),
        ),
        CommandSpec(
            name="model",
            description="A model card: facts, scores with sources, memory needs.",
            answer=lambda answers, name: answers.model(name),
            text=text.model_text,
            options=(OptionSpec("name", str, "model name", required=True),),
            examples=('/model "deepseek r1"',),
        ),
        CommandSpec(
            name="leaderboard",
            description="The best scores on a benchmark.",
            answer=lambda answers, benchmark, open_only=False, limit=10: answers.leaderboard(
                benchmark, open_only, limit
            ),
            text=text.leaderboard_text,
            options=(
                BENCHMARK,
                OptionSpec("open_only", bool, "only open-weights models"),
                OptionSpec("limit", int, "how many rows (1-25, default 10)"),
            ),
        ),
        CommandSpec(
            name="prediction show",
            description="A prediction evaluated live, with evidence and sources.",
            answer=lambda answers, code: answers.prediction(code),
            text=text.prediction_text,
            options=(OptionSpec("code", str, "prediction code, e.g. OB-001", required=True),),
            examples=("/prediction show OB-001",),
        ),
        CommandSpec(
            name="prediction list",
            description="Every tracked prediction and its status.",
            answer=lambda answers: answers.predictions(),
            text=text.predictions_text,
        ),
        CommandSpec(
            name="prediction trackrecord",
            description="How the predictions have fared: resolved, hits, misses.",
            answer=lambda answers: answers.trackrecord(),
            text=text.trackrecord_text,
        ),
        CommandSpec(
            name="audit",
            description="The analyst report's figures against what the arithmetic says.",
            answer=lambda answers: answers.audit(),
            text=text.audit_text,
        ),
        CommandSpec(
            name="sources status",
            description="Each source's last poll, last success and last error.",
            answer=lambda answers: answers.sources(),
            text=text.sources_text,
        ),
        CommandSpec(
            name="about",
            description="Version, data freshness and what the store holds.",
            answer=lambda answers: answers.about(),
            text=text.about_text,
        ),
    ]
    return {spec.name: spec for spec in specs}
