"""DetectFaces and CompareFaces."""

from __future__ import annotations

from facewise.api.handlers.call import Call, Json
from facewise.api.images import image_ref
from facewise.api.shapes import compare_faces_response, detect_faces_response
from facewise.service.faces import FaceAnalysisService


class AnalysisHandlers:
    def __init__(self, call: Call) -> None:
        self.faces = FaceAnalysisService(call.context, call.caller)

    def detect_faces(self, params: Json) -> Json:
        result = self.faces.detect_faces(
            image_ref(params["Image"]), params.get("Attributes", ["DEFAULT"])
        )
        return detect_faces_response(result)

    def compare_faces(self, params: Json) -> Json:
        result = self.faces.compare_faces(
            image_ref(params["SourceImage"]),
            image_ref(params["TargetImage"]),
            params.get("SimilarityThreshold"),
            params.get("QualityFilter", "NONE"),
        )
        return compare_faces_response(result)
