"""Does a JSON value conform to a botocore shape? Every problem, for responses on the wire.

Independent of the server's own request validation, so a response the server builds wrong
cannot be excused by the same code that built it.
"""

from __future__ import annotations

import math
from typing import Any

from botocore.model import Shape

# Values facewise adds to Rekognition's enums, documented in docs/rekognition.md: SDKs parse
# enum strings they do not know as plain strings.
EXTENSIONS = {"Reason": ("OPTED_OUT",)}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _range_problems(value: float, shape: Shape, path: str, what: str = "") -> list[str]:
    """Problems with ``value`` against the shape's declared min/max (lengths for lists/strings)."""
    problems = []
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        problems.append(f"{path}: {what}{value} is below {shape.name}'s min {low}")
    if high is not None and value > high:
        problems.append(f"{path}: {what}{value} is above {shape.name}'s max {high}")
    return problems


def shape_problems(value: Any, shape: Shape, path: str = "$") -> list[str]:
    """Everything in ``value`` that botocore's ``shape`` does not allow; empty if it conforms."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object ({shape.name}), got {type(value).__name__}"]
        problems = [
            f"{path}: required member {name!r} of {shape.name} is missing"
            for name in shape.required_members
            if name not in value
        ]
        for key, item in value.items():
            member = shape.members.get(key)
            if member is None:
                problems.append(f"{path}: {key!r} is not a member of {shape.name}")
            else:
                problems.extend(shape_problems(item, member, f"{path}.{key}"))
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list ({shape.name}), got {type(value).__name__}"]
        problems = _range_problems(len(value), shape, path, "length ")
        for index, item in enumerate(value):
            problems.extend(shape_problems(item, shape.member, f"{path}[{index}]"))
        return problems
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected an object ({shape.name}), got {type(value).__name__}"]
        problems = []
        for key, item in value.items():
            problems.extend(shape_problems(key, shape.key, f"{path}<key {key!r}>"))
            problems.extend(shape_problems(item, shape.value, f"{path}[{key!r}]"))
        return problems
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string ({shape.name}), got {type(value).__name__}"]
        if shape.enum and value not in shape.enum and value not in EXTENSIONS.get(shape.name, ()):
            return [f"{path}: {value!r} is not one of {shape.name}'s {len(shape.enum)} values"]
        return _range_problems(len(value), shape, path, "length ")
    if kind in ("float", "double"):
        if not _is_number(value) or not math.isfinite(value):
            return [f"{path}: expected a finite number ({shape.name}), got {value!r}"]
        return _range_problems(value, shape, path)
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{path}: expected an integer ({shape.name}), got {value!r}"]
        return _range_problems(value, shape, path)
    if kind == "timestamp":
        if not _is_number(value):
            return [f"{path}: expected epoch seconds ({shape.name}), got {value!r}"]
        return []
    if kind == "boolean":
        if not isinstance(value, bool):
            return [f"{path}: expected a boolean ({shape.name}), got {value!r}"]
        return []
    return [f"{path}: the checker does not know botocore type {kind!r} ({shape.name})"]
