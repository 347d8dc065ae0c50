"""One handler per Rekognition operation, named by convention (DetectFaces -> detect_faces).

A handler takes the validated parameters (AWS names) and returns the response (AWS names);
between the two it calls the service layer, which speaks snake_case. There is no routing
table: an operation is supported when this class has its handler.
"""

from __future__ import annotations

from typing import Any

from facewise.api import errors
from facewise.api import shapes_collections as out
from facewise.api.images import ImageResolver
from facewise.api.operations_users import UserHandlers
from facewise.api.shapes import compare_faces_response, detect_faces_response
from facewise.service.collections import FaceCollections
from facewise.service.faces import compare_faces, detect_faces

Json = dict[str, Any]

# Operations that analyse images: they run on the bounded inference pool.
IMAGE_OPERATIONS = frozenset(
    {"DetectFaces", "CompareFaces", "IndexFaces", "SearchFacesByImage", "SearchUsersByImage"}
)


class Operations(UserHandlers):
    """The handlers, bound to one caller's view of the store (its account and region)."""

    def __init__(self, collections: FaceCollections, images: ImageResolver, region: str) -> None:
        self.collections = collections
        self.images = images
        self.region = region

    # -- stateless --------------------------------------------------------------------------

    def detect_faces(self, params: Json) -> Json:
        result = detect_faces(
            self.images.rgb(params["Image"]),
            params.get("Attributes", ["DEFAULT"]),
            analyzer=self.collections.analyzer,
        )
        return detect_faces_response(result)

    def compare_faces(self, params: Json) -> Json:
        result = compare_faces(
            self.images.rgb(params["SourceImage"]),
            self.images.rgb(params["TargetImage"]),
            params.get("SimilarityThreshold", 80.0),
            params.get("QualityFilter", "NONE"),
            analyzer=self.collections.analyzer,
        )
        return compare_faces_response(result)

    # -- collections ------------------------------------------------------------------------

    def create_collection(self, params: Json) -> Json:
        record = self.collections.create_collection(params["CollectionId"], params.get("Tags"))
        return out.create_collection_response(record, self.region)

    def describe_collection(self, params: Json) -> Json:
        info = self.collections.describe_collection(params["CollectionId"])
        return out.describe_collection_response(info, self.region)

    def list_collections(self, params: Json) -> Json:
        page = self.collections.list_collections(params.get("MaxResults"), params.get("NextToken"))
        return out.list_collections_response(page)

    def delete_collection(self, params: Json) -> Json:
        self.collections.delete_collection(params["CollectionId"])
        return {"StatusCode": 200}

    def _collection_of(self, arn: str) -> str:
        """The collection an ARN names, if it is one of the caller's."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "rekognition"]:
            raise errors.InvalidParameter(f"{arn[:300]!r} is not a Rekognition ARN")
        kind, _, name = parts[5].partition("/")
        if kind != "collection" or not name:
            raise errors.InvalidParameter("only collections can be tagged")
        if parts[4] != self.collections.account:
            raise errors.ResourceNotFound(f"collection {name!r} not found")
        return name

    def tag_resource(self, params: Json) -> Json:
        self.collections.tag_collection(self._collection_of(params["ResourceArn"]), params["Tags"])
        return {}

    def untag_resource(self, params: Json) -> Json:
        name = self._collection_of(params["ResourceArn"])
        self.collections.untag_collection(name, params["TagKeys"])
        return {}

    def list_tags_for_resource(self, params: Json) -> Json:
        name = self._collection_of(params["ResourceArn"])
        return {"Tags": self.collections.collection_tags(name)}

    # -- faces ------------------------------------------------------------------------------

    def index_faces(self, params: Json) -> Json:
        self.collections.check_collection(params["CollectionId"])
        result = self.collections.index_faces(
            params["CollectionId"],
            self.images.rgb(params["Image"]),
            external_image_id=params.get("ExternalImageId"),
            max_faces=params.get("MaxFaces"),
            quality_filter=params.get("QualityFilter", "AUTO"),
            detection_attributes=params.get("DetectionAttributes", ["DEFAULT"]),
        )
        return out.index_faces_response(result)

    def list_faces(self, params: Json) -> Json:
        page = self.collections.list_faces(
            params["CollectionId"],
            params.get("MaxResults"),
            params.get("NextToken"),
            params.get("UserId"),
            params.get("FaceIds"),
        )
        return out.list_faces_response(page)

    def delete_faces(self, params: Json) -> Json:
        result = self.collections.delete_faces(params["CollectionId"], params["FaceIds"])
        return out.delete_faces_response(result)

    def search_faces(self, params: Json) -> Json:
        result = self.collections.search_faces(
            params["CollectionId"],
            params["FaceId"],
            params.get("MaxFaces"),
            params.get("FaceMatchThreshold", 80.0),
        )
        return out.search_faces_response(result)

    def search_faces_by_image(self, params: Json) -> Json:
        self.collections.check_collection(params["CollectionId"])
        result = self.collections.search_faces_by_image(
            params["CollectionId"],
            self.images.rgb(params["Image"]),
            params.get("MaxFaces"),
            params.get("FaceMatchThreshold", 80.0),
            params.get("QualityFilter", "NONE"),
        )
        return out.search_faces_response(result)
