"""The user operations' handlers (a mixin of Operations)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from facewise.api import shapes_collections as out

if TYPE_CHECKING:
    from facewise.api.operations import Operations

Json = dict[str, Any]


class UserHandlers:
    """CreateUser, DeleteUser, ListUsers, AssociateFaces, DisassociateFaces, SearchUsers*."""

    def create_user(self: Operations, params: Json) -> Json:
        self.collections.create_user(
            params["CollectionId"], params["UserId"], params.get("ClientRequestToken")
        )
        return {}

    def delete_user(self: Operations, params: Json) -> Json:
        self.collections.delete_user(
            params["CollectionId"], params["UserId"], params.get("ClientRequestToken")
        )
        return {}

    def list_users(self: Operations, params: Json) -> Json:
        page = self.collections.list_users(
            params["CollectionId"], params.get("MaxResults"), params.get("NextToken")
        )
        return out.list_users_response(page)

    def associate_faces(self: Operations, params: Json) -> Json:
        result = self.collections.associate_faces(
            params["CollectionId"],
            params["UserId"],
            params["FaceIds"],
            params.get("UserMatchThreshold", 75.0),
            params.get("ClientRequestToken"),
        )
        return out.associate_faces_response(result)

    def disassociate_faces(self: Operations, params: Json) -> Json:
        result = self.collections.disassociate_faces(
            params["CollectionId"],
            params["UserId"],
            params["FaceIds"],
            params.get("ClientRequestToken"),
        )
        return out.disassociate_faces_response(result)

    def search_users(self: Operations, params: Json) -> Json:
        result = self.collections.search_users(
            params["CollectionId"],
            user_id=params.get("UserId"),
            face_id=params.get("FaceId"),
            user_match_threshold=params.get("UserMatchThreshold", 80.0),
            max_users=params.get("MaxUsers"),
        )
        return out.search_users_response(result)

    def search_users_by_image(self: Operations, params: Json) -> Json:
        self.collections.check_collection(params["CollectionId"])
        result = self.collections.search_users_by_image(
            params["CollectionId"],
            self.images.rgb(params["Image"]),
            params.get("UserMatchThreshold", 80.0),
            params.get("MaxUsers"),
            params.get("QualityFilter", "NONE"),
        )
        return out.search_users_response(result)
