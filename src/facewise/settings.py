"""Where facewise keeps its files. Read when asked, never at import."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "FACEWISE_DATA_DIR"
DEFAULT_DATA_DIR = Path("facewise-data")


def data_dir(explicit: Path | str | None = None) -> Path:
    """The data directory: ``explicit`` if given, else $FACEWISE_DATA_DIR, else ./facewise-data.

    It holds the store (later) and converted models (``models/``).
    """
    if explicit is not None:
        return Path(explicit)
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def model_cache_dir(explicit: Path | str | None = None) -> Path:
    """Where converted models are cached: ``<data dir>/models``."""
    return data_dir(explicit) / "models"


STORE_URL_ENV = "FACEWISE_STORE_URL"


def store_url(explicit: str | None = None) -> str | None:
    """The store URL: ``explicit`` if given, else $FACEWISE_STORE_URL, else None (meaning the
    SQLite file in the data directory)."""
    return explicit or os.environ.get(STORE_URL_ENV) or None


QUEUE_URL_ENV = "FACEWISE_QUEUE_URL"


def queue_url(explicit: str | None = None) -> str | None:
    """Where video jobs and stream processors are sent: ``explicit`` if given, else
    $FACEWISE_QUEUE_URL (``redis://host:port/db``, Celery's broker), else None (they run
    inside `facewise serve`)."""
    return explicit or os.environ.get(QUEUE_URL_ENV) or None
