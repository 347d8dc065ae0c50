"""One handler per Rekognition operation, grouped by family, found by name
(DetectFaces → ``detect_faces`` on the family that has it): there is no routing table.

A handler takes the validated parameters (AWS names) and returns the response (AWS names);
between the two it calls a service, which speaks snake_case. A family is a class built
from one request's ``Call``; an operation is supported when a family has its handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from facewise.api.handlers.analysis import AnalysisHandlers
from facewise.api.handlers.call import Call, Json
from facewise.api.handlers.collections import CollectionHandlers
from facewise.api.handlers.faces import FaceHandlers
from facewise.api.handlers.streams import StreamProcessorHandlers
from facewise.api.handlers.users import UserHandlers
from facewise.api.handlers.video import VideoHandlers

FAMILIES: tuple[type[Any], ...] = (
    AnalysisHandlers,
    CollectionHandlers,
    FaceHandlers,
    UserHandlers,
    VideoHandlers,
    StreamProcessorHandlers,
)

# Operations that analyse images: they run on the bounded inference pool.
IMAGE_OPERATIONS = frozenset(
    {"DetectFaces", "CompareFaces", "IndexFaces", "SearchFacesByImage", "SearchUsersByImage"}
)

Handler = Callable[[Call, Json], Json]


def find_handler(method_name: str) -> Handler | None:
    """The handler of an operation (by its snake_case name), or None if none has it."""
    for family in FAMILIES:
        method = getattr(family, method_name, None)
        if callable(method) and not method_name.startswith("_"):

            def run(call: Call, params: Json, family: type[Any] = family) -> Json:
                result: Json = getattr(family(call), method_name)(params)
                return result

            return run
    return None


__all__ = ["FAMILIES", "IMAGE_OPERATIONS", "Call", "Handler", "Json", "find_handler"]
