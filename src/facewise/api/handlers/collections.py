"""CreateCollection, DescribeCollection, ListCollections, DeleteCollection and the tags."""

from __future__ import annotations

from facewise.api import errors
from facewise.api import shapes_collections as out
from facewise.api.handlers.call import Call, Json
from facewise.service.collections import Collections
from facewise.service.stream_processors import StreamProcessors


class CollectionHandlers:
    def __init__(self, call: Call) -> None:
        self.collections = Collections(call.context, call.caller)
        self.processors = StreamProcessors(call.context, call.caller)
        self.region = call.region
        self.account_id = call.account_id

    def create_collection(self, params: Json) -> Json:
        record = self.collections.create_collection(params["CollectionId"], params.get("Tags"))
        return out.create_collection_response(record, self.region, self.account_id)

    def describe_collection(self, params: Json) -> Json:
        info = self.collections.describe_collection(params["CollectionId"])
        return out.describe_collection_response(info, self.region, self.account_id)

    def list_collections(self, params: Json) -> Json:
        page = self.collections.list_collections(params.get("MaxResults"), params.get("NextToken"))
        return out.list_collections_response(page)

    def delete_collection(self, params: Json) -> Json:
        self.collections.delete_collection(params["CollectionId"])
        return {"StatusCode": 200}

    def _resource_of(self, arn: str) -> tuple[str, str]:
        """The kind ("collection" or "streamprocessor") and name of one of the caller's
        resources an ARN names."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "rekognition"]:
            raise errors.InvalidParameter(f"{arn[:300]!r} is not a Rekognition ARN")
        kind, _, name = parts[5].partition("/")
        if kind not in ("collection", "streamprocessor") or not name:
            raise errors.InvalidParameter("only collections and stream processors have tags")
        if parts[4] not in (self.account_id, self.collections.account):
            raise errors.ResourceNotFound(f"{kind} {name!r} not found")
        return kind, name

    def tag_resource(self, params: Json) -> Json:
        kind, name = self._resource_of(params["ResourceArn"])
        if kind == "collection":
            self.collections.tag_collection(name, params["Tags"])
        else:
            self.processors.tag(name, params["Tags"])
        return {}

    def untag_resource(self, params: Json) -> Json:
        kind, name = self._resource_of(params["ResourceArn"])
        if kind == "collection":
            self.collections.untag_collection(name, params["TagKeys"])
        else:
            self.processors.untag(name, params["TagKeys"])
        return {}

    def list_tags_for_resource(self, params: Json) -> Json:
        kind, name = self._resource_of(params["ResourceArn"])
        if kind == "collection":
            return {"Tags": self.collections.collection_tags(name)}
        return {"Tags": self.processors.tags(name)}
