"""Collection, face and user results to Rekognition response shapes (JSON-ready dicts)."""

from __future__ import annotations

from facewise.api.shapes import Json, bounding_box, face_detail
from facewise.service.collections import FACE_MODEL_VERSION
from facewise.service.pagination import Page
from facewise.service.results import (
    AssociationResult,
    CollectionInfo,
    DeleteFacesResult,
    FailedFace,
    IndexFacesResult,
    SearchFacesResult,
    SearchUsersResult,
    UnindexedFace,
)
from facewise.store.records import CollectionRecord, StoredFace, UserRecord


def collection_arn(region: str, account_id: str, record: CollectionRecord) -> str:
    return f"arn:aws:rekognition:{region}:{account_id}:collection/{record.name}"


def _reasons(reasons: tuple[str, ...]) -> list[str]:
    return [reason.upper() for reason in reasons]


def face(stored: StoredFace) -> Json:
    """A stored face as Rekognition's Face."""
    left, top, width, height = stored.box_ratio
    shown: Json = {
        "FaceId": stored.face_id,
        "BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top},
        "ImageId": stored.image_id,
        "Confidence": stored.confidence * 100.0,
        "IndexFacesModelVersion": FACE_MODEL_VERSION,
    }
    if stored.external_image_id is not None:
        shown["ExternalImageId"] = stored.external_image_id
    if stored.user_id is not None:
        shown["UserId"] = stored.user_id
    return shown


def _user(user: UserRecord) -> Json:
    return {"UserId": user.user_id, "UserStatus": user.status.upper()}


def create_collection_response(record: CollectionRecord, region: str, account_id: str) -> Json:
    return {
        "StatusCode": 200,
        "CollectionArn": collection_arn(region, account_id, record),
        "FaceModelVersion": record.face_model_version,
    }


def describe_collection_response(info: CollectionInfo, region: str, account_id: str) -> Json:
    return {
        "FaceCount": info.face_count,
        "UserCount": info.user_count,
        "FaceModelVersion": info.record.face_model_version,
        "CollectionARN": collection_arn(region, account_id, info.record),
        "CreationTimestamp": info.record.created_at_ms / 1000.0,
    }


def list_collections_response(page: Page[CollectionRecord]) -> Json:
    response: Json = {
        "CollectionIds": [record.name for record in page.items],
        "FaceModelVersions": [record.face_model_version for record in page.items],
    }
    if page.next_token is not None:
        response["NextToken"] = page.next_token
    return response


def index_faces_response(result: IndexFacesResult) -> Json:
    return {
        "FaceRecords": [
            {"Face": face(item.face), "FaceDetail": face_detail(item.detail, result.image_wh)}
            for item in result.indexed
        ],
        "FaceModelVersion": result.face_model_version,
        "UnindexedFaces": [
            {
                "Reasons": _reasons(item.reasons),
                "FaceDetail": face_detail(item.detail, result.image_wh),
            }
            for item in result.unindexed
        ],
    }


def list_faces_response(page: Page[StoredFace]) -> Json:
    response: Json = {
        "Faces": [face(stored) for stored in page.items],
        "FaceModelVersion": FACE_MODEL_VERSION,
    }
    if page.next_token is not None:
        response["NextToken"] = page.next_token
    return response


def _failed(failed: FailedFace) -> Json:
    shown: Json = {"FaceId": failed.face_id, "Reasons": _reasons(failed.reasons)}
    if failed.user_id is not None:
        shown["UserId"] = failed.user_id
    if failed.similarity_pct is not None:
        shown["Confidence"] = failed.similarity_pct
    return shown


def delete_faces_response(result: DeleteFacesResult) -> Json:
    return {
        "DeletedFaces": result.deleted,
        "UnsuccessfulFaceDeletions": [_failed(item) for item in result.failed],
    }


def search_faces_response(result: SearchFacesResult) -> Json:
    response: Json = {
        "FaceMatches": [
            {"Similarity": match.similarity_pct, "Face": face(match.face)}
            for match in result.matches
        ],
        "FaceModelVersion": result.face_model_version,
    }
    if result.searched_face_id is not None:
        response["SearchedFaceId"] = result.searched_face_id
    if result.searched_face is not None and result.image_wh is not None:
        response["SearchedFaceBoundingBox"] = bounding_box(
            result.searched_face.box_xyxy, result.image_wh
        )
        response["SearchedFaceConfidence"] = result.searched_face.score * 100.0
    return response


def list_users_response(page: Page[UserRecord]) -> Json:
    response: Json = {"Users": [_user(user) for user in page.items]}
    if page.next_token is not None:
        response["NextToken"] = page.next_token
    return response


def associate_faces_response(result: AssociationResult) -> Json:
    return {
        "AssociatedFaces": [{"FaceId": face_id} for face_id in result.changed],
        "UnsuccessfulFaceAssociations": [_failed(item) for item in result.failed],
        "UserStatus": result.user_status.upper(),
    }


def disassociate_faces_response(result: AssociationResult) -> Json:
    return {
        "DisassociatedFaces": [{"FaceId": face_id} for face_id in result.changed],
        "UnsuccessfulFaceDisassociations": [
            {k: v for k, v in _failed(item).items() if k != "Confidence"} for item in result.failed
        ],
        "UserStatus": result.user_status.upper(),
    }


def _unsearched(item: UnindexedFace, image_wh: tuple[int, int]) -> Json:
    return {"FaceDetails": face_detail(item.detail, image_wh), "Reasons": _reasons(item.reasons)}


def search_users_response(result: SearchUsersResult) -> Json:
    response: Json = {
        "UserMatches": [
            {"Similarity": match.similarity_pct, "User": _user(match.user)}
            for match in result.matches
        ],
        "FaceModelVersion": result.face_model_version,
    }
    if result.searched_face_id is not None:
        response["SearchedFace"] = {"FaceId": result.searched_face_id}
    if result.searched_user_id is not None:
        response["SearchedUser"] = {"UserId": result.searched_user_id}
    if result.searched_face is not None and result.image_wh is not None:
        response["SearchedFace"] = {
            "FaceDetail": face_detail(result.searched_face, result.image_wh)
        }
        response["UnsearchedFaces"] = [
            _unsearched(item, result.image_wh) for item in result.unsearched or []
        ]
    return response
