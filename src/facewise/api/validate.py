"""A request body, checked against botocore's input shape, to plain Python parameters.

Two kinds of failure, named as AWS names them:

- ``SerializationException``: the body is not JSON, or a value has the wrong JSON type
  (a string where a number belongs, bad base64 in a blob).
- ``ValidationException``: well-formed but outside the model's constraints (a required
  member missing, a length, range, pattern or enum violated). Every problem is listed.

Blobs arrive base64-encoded and leave as bytes. Members the model does not know are
ignored, as AWS does, so a client with a newer botocore still works.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from typing import Any

from botocore.model import Shape

from facewise.api.errors import AwsError, SerializationException, ValidationException

MAX_REPORTED_PROBLEMS = 10


def parse_body(body: bytes) -> dict[str, Any]:
    """The JSON object of a request body; an empty body is an empty object."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise SerializationException(f"the request body is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise SerializationException(
            f"the request body must be a JSON object, got {_json_type(value)}"
        )
    return value


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:  # a Java-only construct: leave it to the operation's own checks
        return None


class _Checker:
    """Walks a value along a shape, converting blobs and collecting constraint problems."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def check(self, value: Any, shape: Shape, path: str) -> Any:
        kind = shape.type_name
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            raise SerializationException(f"{path}: shapes of type {kind} are not accepted")
        return handler(value, shape, path)

    def _violated(self, path: str, value: object, constraint: str) -> None:
        shown = "null" if value is None else repr(value[:80] if isinstance(value, str) else value)
        self.problems.append(
            f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"
        )

    def _wrong_type(self, value: object, expected: str, path: str) -> AwsError:
        return SerializationException(f"expected {expected} at '{path}', got {_json_type(value)}")

    def _length(self, size: int, value: object, shape: Shape, path: str, unit: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and size < low:
            self._violated(path, value, f"Member must have {unit} greater than or equal to {low}")
        if high is not None and size > high:
            self._violated(path, value, f"Member must have {unit} less than or equal to {high}")

    def _range(self, value: float, shape: Shape, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self._violated(path, value, f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            self._violated(path, value, f"Member must have value less than or equal to {high}")

    def _structure(self, value: Any, shape: Shape, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self._wrong_type(value, "an object", path)
        result: dict[str, Any] = {}
        for name in shape.required_members:
            if value.get(name) is None:
                self._violated(f"{path}.{name}".lstrip("."), None, "Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                result[name] = self.check(value[name], member, f"{path}.{name}".lstrip("."))
        return result

    def _list(self, value: Any, shape: Shape, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self._wrong_type(value, "an array", path)
        self._length(len(value), f"<{len(value)} items>", shape, path, "length")
        return [self.check(item, shape.member, f"{path}[{i}]") for i, item in enumerate(value)]

    def _map(self, value: Any, shape: Shape, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self._wrong_type(value, "an object", path)
        self._length(len(value), f"<{len(value)} entries>", shape, path, "length")
        return {
            self.check(key, shape.key, f"{path}.<key>"): self.check(
                item, shape.value, f"{path}.{key}"
            )
            for key, item in value.items()
        }

    def _string(self, value: Any, shape: Shape, path: str) -> str:
        if not isinstance(value, str):
            raise self._wrong_type(value, "a string", path)
        self._length(len(value), value, shape, path, "length")
        if shape.enum and value not in shape.enum:
            self._violated(
                path, value, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"
            )
        pattern = shape.metadata.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(value):
            self._violated(
                path, value, f"Member must satisfy regular expression pattern: {pattern}"
            )
        return value

    def _integer(self, value: Any, shape: Shape, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong_type(value, "a whole number", path)
        self._range(value, shape, path)
        return value

    _long = _integer

    def _float(self, value: Any, shape: Shape, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong_type(value, "a number", path)
        if not math.isfinite(value) or abs(value) > 1e300:
            raise SerializationException(f"the number at '{path}' is out of range")
        self._range(value, shape, path)
        return float(value)

    _double = _float

    def _boolean(self, value: Any, shape: Shape, path: str) -> bool:
        if not isinstance(value, bool):
            raise self._wrong_type(value, "true or false", path)
        return value

    def _blob(self, value: Any, shape: Shape, path: str) -> bytes:
        if not isinstance(value, str):
            raise self._wrong_type(value, "a base64 string", path)
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise SerializationException(f"the value at '{path}' is not valid base64") from None
        self._length(len(data), f"<{len(data)} bytes>", shape, path, "length")
        return data


def validate_input(body: dict[str, Any], shape: Shape | None) -> dict[str, Any]:
    """The parameters of an operation whose input shape is ``shape`` (None: takes none)."""
    if shape is None:
        return {}
    checker = _Checker()
    params: dict[str, Any] = checker.check(body, shape, "")  # an input shape is a structure
    if checker.problems:
        count = len(checker.problems)
        listed = "; ".join(checker.problems[:MAX_REPORTED_PROBLEMS])
        more = " ..." if count > MAX_REPORTED_PROBLEMS else ""
        noun = "error" if count == 1 else "errors"
        raise ValidationException(f"{count} validation {noun} detected: {listed}{more}")
    return params
