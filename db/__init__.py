"""The store: tables, sessions, migrations and queries.

Importing any ``db`` module installs the session hooks that keep the headline table current
(``db.headlines``).
"""

from db import headlines as _headlines  # noqa: F401
