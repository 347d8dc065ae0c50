"""Parsing of the options operations take, with expected-versus-actual errors."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from facewise.errors import InvalidParameterError
from facewise.types import Attribute, QualityFilter

AttributesArg = str | Attribute | Iterable[str | Attribute]


def parse_attributes(attributes: AttributesArg) -> frozenset[Attribute]:
    """ "DEFAULT", "ALL" or a list of attribute names (any case) to a set of Attribute."""
    items = [attributes] if isinstance(attributes, str | Attribute) else list(attributes)
    if not items:  # as in Rekognition, no attributes means the default set
        return frozenset({Attribute.DEFAULT})
    parsed = set()
    for item in items:
        try:
            parsed.add(Attribute(item.lower() if isinstance(item, str) else item))
        except ValueError:
            allowed = ", ".join(a.value.upper() for a in Attribute)
            raise InvalidParameterError(
                f"unknown attribute {item!r}; expected one of {allowed}"
            ) from None
    return frozenset(parsed)


def parse_quality_filter(value: str | QualityFilter) -> QualityFilter:
    """NONE, AUTO, LOW, MEDIUM or HIGH (any case)."""
    try:
        return QualityFilter(value.lower() if isinstance(value, str) else value)
    except ValueError:
        allowed = ", ".join(q.value.upper() for q in QualityFilter)
        raise InvalidParameterError(
            f"unknown quality filter {value!r}; expected one of {allowed}"
        ) from None


def parse_percentage(name: str, value: object) -> float:
    """A number from 0 to 100 inclusive."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or not 0.0 <= value <= 100.0:
        raise InvalidParameterError(f"{name} must be between 0 and 100, got {value}")
    return float(value)


COLLECTION_ID = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")
USER_ID = re.compile(r"[a-zA-Z0-9_.\-:]{1,128}")
EXTERNAL_IMAGE_ID = re.compile(r"[a-zA-Z0-9_.\-:]{1,255}")
FACE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
REQUEST_TOKEN = re.compile(r"[a-zA-Z0-9\-_]{1,64}")


def parse_name(name: str, value: object, pattern: re.Pattern[str]) -> str:
    """A string matching the pattern whole (Rekognition's identifier rules)."""
    if not isinstance(value, str):
        raise InvalidParameterError(f"{name} must be a string, got {type(value).__name__}")
    if not pattern.fullmatch(value):
        raise InvalidParameterError(
            f"{name} {value[:300]!r} must match {pattern.pattern} (letters, digits and a few "
            "punctuation marks, limited length)"
        )
    return value


def parse_count(name: str, value: object, low: int, high: int | None) -> int:
    """A whole number from low to high inclusive (no upper bound when high is None)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterError(f"{name} must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidParameterError(f"{name} must be {bound}, got {value}")
    return value


def parse_limit(name: str, value: object, low: int, high: int, default: int) -> int:
    """A page size or result cap: ``default`` when not given, else a count in [low, high]."""
    return default if value is None else parse_count(name, value, low, high)


def parse_face_ids(value: object, max_items: int) -> list[str]:
    """A non-empty list of FaceIds, at most max_items, duplicates removed in order."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidParameterError(f"face_ids must be a list, got {type(value).__name__}")
    parse_count("the number of face_ids", len(value), 1, max_items)
    return list(dict.fromkeys(parse_name("face_id", v, FACE_ID) for v in value))


def parse_tags(value: object) -> dict[str, str]:
    """Up to 200 tags: keys 1-128 characters, values up to 256."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameterError(f"tags must be a mapping, got {type(value).__name__}")
    parse_count("the number of tags", len(value), 0, 200)
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.startswith("aws:"):
            raise InvalidParameterError(f"tag key {key!r} must be 1-128 characters, not aws:")
        if not isinstance(item, str) or len(item) > 256:
            raise InvalidParameterError(f"tag {key!r} must have a string value of 0-256 chars")
    return dict(value)
