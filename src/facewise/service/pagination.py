"""Opaque pagination tokens: which listing they belong to and where the next page starts."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from facewise.errors import InvalidPaginationTokenError

T = TypeVar("T")
MAX_TOKEN_CHARS = 255


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_token`` is None on the last page."""

    items: list[T]
    next_token: str | None


def encode_token(listing: str, after: str) -> str:
    """A token that resumes ``listing`` after the key ``after``."""
    raw = json.dumps({"l": listing, "a": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(listing: str, token: str | None) -> str | None:
    """The key to resume after, or None for the first page; refuses foreign or bad tokens."""
    if token is None:
        return None
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise InvalidPaginationTokenError("the pagination token is not valid")
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeError):
        raise InvalidPaginationTokenError("the pagination token is not valid") from None
    after = data.get("a") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("l") != listing or not isinstance(after, str):
        raise InvalidPaginationTokenError("the pagination token belongs to another listing")
    return after


def paginate(listing: str, rows: Sequence[T], limit: int, key_of: Callable[[T], str]) -> Page[T]:
    """A page from ``limit + 1`` fetched rows: the extra row only says another page exists."""
    items = list(rows[:limit])
    more = len(rows) > limit and bool(items)
    return Page(items, encode_token(listing, key_of(items[-1])) if more else None)
