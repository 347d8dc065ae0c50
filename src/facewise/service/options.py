"""Parsing of the options operations take, with expected-versus-actual errors."""

from __future__ import annotations

import math
from collections.abc import Iterable

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
