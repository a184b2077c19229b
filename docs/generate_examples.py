"""Regenerate the example answers and chart images of docs/commands.md.

Run from the repository root: ``.venv/bin/python docs/generate_examples.py``. It builds a fresh
store in a temporary folder (the bundled dataset plus the offline snapshots, no polling), asks
every example command through the real command line and renders the charts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
EXAMPLES = [
    "/gap mmlu",
    "/lag mmlu",
    "/dashboard",
    "/fits",
    '/fits "llama 3.1 70b" quant:Q4_K_M',
    '/model "DeepSeek-R1-Distill-Qwen-32B"',
    "/leaderboard gsm8k open_only:true limit:5",
    "/prediction show OB-001",
    "/prediction list",
    "/prediction trackrecord",
    "/audit",
    "/sources status",
    "/about",
    "/gap mmul",
]
MAX_LINES = 22
MAX_WIDTH = 200


def ask(line: str, workdir: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAPWATCH_", "DISCORD_"))}
    env.pop("DATABASE_URL", None)
    env["GAPWATCH_POLL_ENABLED"] = "false"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", line],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = (result.stdout or result.stderr).rstrip("\n").split("\n")
    if len(lines) > MAX_LINES:
        lines = [*lines[: MAX_LINES - 2], "  …"]
    return "\n".join(
        text if len(text) <= MAX_WIDTH else text[: MAX_WIDTH - 1] + "…" for text in lines
    )


def render_charts(workdir: Path) -> None:
    code = (
        "from bot.settings import load_settings\n"
        "from bot.app import open_data, make_answers\n"
        "from frontier import charts\n"
        "s = load_settings(); a = make_answers(open_data(s), s)\n"
        f"out = {str(DOCS / 'images')!r}\n"
        "open(out + '/gap-mmlu.png', 'wb').write(charts.gap_chart(a.gap('mmlu')))\n"
        "open(out + '/lag-mmlu.png', 'wb').write(charts.lag_chart(a.lag('mmlu')))\n"
        "open(out + '/fits-24gib.png', 'wb').write(charts.fits_chart(a.fits().ranking))\n"
    )
    env = {**os.environ, "GAPWATCH_POLL_ENABLED": "false"}
    subprocess.run([sys.executable, "-c", code], cwd=workdir, env=env, check=True, timeout=300)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        answers = {line: ask(line, workdir) for line in EXAMPLES}
        render_charts(workdir)
    text = (DOCS / "commands.md").read_text(encoding="utf-8")
    for line, answer in answers.items():
        pattern = re.compile(
            r"(```\n\$ gapwatch ask '" + re.escape(line) + r"'\n).*?(\n```)", re.DOTALL
        )
        text = pattern.sub(lambda m, a=answer: m.group(1) + a + m.group(2), text)
    (DOCS / "commands.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
