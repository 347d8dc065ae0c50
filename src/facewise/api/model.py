"""botocore's Rekognition service model: the spec the server parses and answers by."""

from __future__ import annotations

import functools
import re

from botocore.model import OperationModel, ServiceModel

SERVICE = "rekognition"
TARGET_PREFIX = "RekognitionService."


@functools.cache
def service_model() -> ServiceModel:
    """The Rekognition model of the installed botocore (loaded once, on first use)."""
    import botocore.session

    return botocore.session.get_session().get_service_model(SERVICE)


def operation(name: str) -> OperationModel | None:
    """The operation called ``name`` (e.g. "DetectFaces"), or None if Rekognition has none."""
    model = service_model()
    if name not in model.operation_names:
        return None
    return model.operation_model(name)


def snake_case(name: str) -> str:
    """DetectFaces -> detect_faces: the handler's name for an operation."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
