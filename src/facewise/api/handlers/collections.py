"""CreateCollection, DescribeCollection, ListCollections, DeleteCollection and the tags."""

from __future__ import annotations

from facewise.api import errors
from facewise.api import shapes_collections as out
from facewise.api.handlers.call import Call, Json
from facewise.service.collections import Collections


class CollectionHandlers:
    def __init__(self, call: Call) -> None:
        self.collections = Collections(call.context, call.caller)
        self.region = call.region

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
