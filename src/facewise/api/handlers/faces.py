"""IndexFaces, ListFaces, DeleteFaces, SearchFaces and SearchFacesByImage."""

from __future__ import annotations

from facewise.api import shapes_collections as out
from facewise.api.handlers.call import Call, Json
from facewise.api.images import image_ref
from facewise.service.collection_faces import CollectionFaces


class FaceHandlers:
    def __init__(self, call: Call) -> None:
        self.faces = CollectionFaces(call.context, call.caller)

    def index_faces(self, params: Json) -> Json:
        result = self.faces.index_faces(
            params["CollectionId"],
            image_ref(params["Image"]),
            external_image_id=params.get("ExternalImageId"),
            max_faces=params.get("MaxFaces"),
            quality_filter=params.get("QualityFilter", "AUTO"),
            detection_attributes=params.get("DetectionAttributes", ["DEFAULT"]),
        )
        return out.index_faces_response(result)

    def list_faces(self, params: Json) -> Json:
        page = self.faces.list_faces(
            params["CollectionId"],
            params.get("MaxResults"),
            params.get("NextToken"),
            params.get("UserId"),
            params.get("FaceIds"),
        )
        return out.list_faces_response(page)

    def delete_faces(self, params: Json) -> Json:
        result = self.faces.delete_faces(params["CollectionId"], params["FaceIds"])
        return out.delete_faces_response(result)

    def search_faces(self, params: Json) -> Json:
        result = self.faces.search_faces(
            params["CollectionId"],
            params["FaceId"],
            params.get("MaxFaces"),
            params.get("FaceMatchThreshold"),
        )
        return out.search_faces_response(result)

    def search_faces_by_image(self, params: Json) -> Json:
        result = self.faces.search_faces_by_image(
            params["CollectionId"],
            image_ref(params["Image"]),
            params.get("MaxFaces"),
            params.get("FaceMatchThreshold"),
            params.get("QualityFilter", "NONE"),
        )
        return out.search_faces_response(result)
