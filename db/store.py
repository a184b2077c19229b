"""Opening the store: schema up to date, bundled dataset loaded."""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from db import migrate
from db.dataset import LoadSummary, load_bundled_dataset
from db.engine import make_engine, session_scope

log = logging.getLogger(__name__)


class StoreUnavailableError(RuntimeError):
    """The database cannot be reached or opened; the message is safe to show."""


def open_store(url: str, *, load_dataset: bool = True) -> Engine:
    """Connect, upgrade the schema and load the bundled dataset if it is new or changed.

    Raises:
        StoreUnavailableError: when the database cannot be reached.
    """
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        if load_dataset:
            with session_scope(engine) as session:
                summary: LoadSummary = load_bundled_dataset(session)
            log.info("%s", summary)
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreUnavailableError(
            f"cannot open the database {engine.url.render_as_string(hide_password=True)}: {reason}"
        ) from exc
    return engine
