"""The bot process does not import what only some paths need (matplotlib, pandas, numpy).

matplotlib (with numpy) is about 45 MB and pandas (with pyarrow) about 100 MB of a process's
memory; they are imported on the first chart, the first tabular parse and the first fuzzy
lookup of a large name cache.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("matplotlib", "pandas", "pyarrow", "numpy")


def _imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_the_bot_starts_without_matplotlib_pandas_or_numpy() -> None:
    assert _imported_after("import bot.app, bot.discord_bot, bot.cogs, jobs.sources") == set()


def test_a_chart_imports_matplotlib_but_not_pyplot_or_pandas() -> None:
    code = (
        "from frontier import charts\n"
        "import sys\n"
        "assert 'matplotlib' not in sys.modules\n"
        "assert charts.clean_text('a\\u200bb') == 'ab'\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    assert _imported_after(code) == {"matplotlib", "numpy"}


def test_a_tabular_parse_imports_pandas() -> None:
    code = (
        "from jobs.sources.tabular import read_table\n"
        "import sys\n"
        "assert 'pandas' not in sys.modules\n"
        "assert list(read_table(b'model,value\\nx,1\\n', 'csv').columns) == ['model', 'value']\n"
    )
    assert "pandas" in _imported_after(code)
