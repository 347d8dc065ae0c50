"""CreateUser, DeleteUser, ListUsers, AssociateFaces, DisassociateFaces, SearchUsers*."""

from __future__ import annotations

from facewise.api import shapes_collections as out
from facewise.api.handlers.call import Call, Json
from facewise.api.images import image_ref
from facewise.service.users import CollectionUsers


class UserHandlers:
    def __init__(self, call: Call) -> None:
        self.users = CollectionUsers(call.context, call.caller)

    def create_user(self, params: Json) -> Json:
        self.users.create_user(
            params["CollectionId"], params["UserId"], params.get("ClientRequestToken")
        )
        return {}

    def delete_user(self, params: Json) -> Json:
        self.users.delete_user(
            params["CollectionId"], params["UserId"], params.get("ClientRequestToken")
        )
        return {}

    def list_users(self, params: Json) -> Json:
        page = self.users.list_users(
            params["CollectionId"], params.get("MaxResults"), params.get("NextToken")
        )
        return out.list_users_response(page)

    def associate_faces(self, params: Json) -> Json:
        result = self.users.associate_faces(
            params["CollectionId"],
            params["UserId"],
            params["FaceIds"],
            params.get("UserMatchThreshold"),
            params.get("ClientRequestToken"),
        )
        return out.associate_faces_response(result)

    def disassociate_faces(self, params: Json) -> Json:
        result = self.users.disassociate_faces(
            params["CollectionId"],
            params["UserId"],
            params["FaceIds"],
            params.get("ClientRequestToken"),
        )
        return out.disassociate_faces_response(result)

    def search_users(self, params: Json) -> Json:
        result = self.users.search_users(
            params["CollectionId"],
            user_id=params.get("UserId"),
            face_id=params.get("FaceId"),
            user_match_threshold=params.get("UserMatchThreshold"),
            max_users=params.get("MaxUsers"),
        )
        return out.search_users_response(result)

    def search_users_by_image(self, params: Json) -> Json:
        result = self.users.search_users_by_image(
            params["CollectionId"],
            image_ref(params["Image"]),
            params.get("UserMatchThreshold"),
            params.get("MaxUsers"),
            params.get("QualityFilter", "NONE"),
        )
        return out.search_users_response(result)
