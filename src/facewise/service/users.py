"""Users of a collection (Rekognition's user operations): a user gathers one person's faces,
and user search answers "who is this?" with people rather than single photos.

A mixin of FaceCollections, which supplies the store, the indexes and the face helpers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from facewise.errors import (
    ConflictError,
    IdempotentParameterMismatchError,
    InvalidParameterError,
    ResourceNotFoundError,
)
from facewise.pipeline.similarity import similarity_pct
from facewise.service.faces import ImageInput
from facewise.service.options import (
    FACE_ID,
    REQUEST_TOKEN,
    USER_ID,
    parse_face_ids,
    parse_limit,
    parse_name,
    parse_percentage,
    parse_quality_filter,
)
from facewise.service.pagination import Page, decode_token, paginate
from facewise.service.results import (
    AssociationResult,
    FailedFace,
    SearchUsersResult,
    UserSearchMatch,
)
from facewise.store.records import CollectionRecord, UserRecord
from facewise.types import QualityFilter

if TYPE_CHECKING:
    from facewise.service.collections import FaceCollections

MAX_FACES_PER_USER = 100
MAX_USERS = 500
DEFAULT_USER_PAGE = 50
DEFAULT_MAX_USERS = 50
# Faces searched to find users; more finds users whose faces rank lower, at some cost.
USER_SEARCH_FACES = 4096


def _fingerprint(**params: Any) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


class UserOperations:
    """CreateUser, DeleteUser, ListUsers, AssociateFaces, DisassociateFaces, SearchUsers..."""

    def _idempotent(
        self: FaceCollections,
        record: CollectionRecord,
        token: str | None,
        fingerprint: str,
        act: Callable[[Any], dict[str, Any]],
    ) -> dict[str, Any]:
        """Run ``act(db)`` in one write transaction, once per ClientRequestToken: a repeat
        with the same parameters returns the first outcome; with others it is refused."""
        if token is not None:
            parse_name("client_request_token", token, REQUEST_TOKEN)
        with self.store.write() as db:
            if token is not None:
                seen = self.store.token_result(db, record, token)
                if seen is not None:
                    if seen[0] != fingerprint:
                        raise IdempotentParameterMismatchError(
                            f"client request token {token!r} was used with other parameters"
                        )
                    return json.loads(seen[1])
            outcome = act(db)
            if token is not None:
                self.store.remember_token(db, record, token, fingerprint, json.dumps(outcome))
            return outcome

    def create_user(
        self: FaceCollections,
        collection_id: str,
        user_id: str,
        client_request_token: str | None = None,
    ) -> None:
        """A new user with no faces; ConflictError if it exists (unless the same token)."""
        record = self._collection(collection_id)
        user_id = parse_name("user_id", user_id, USER_ID)

        def act(db: Any) -> dict[str, Any]:
            if not self.store.create_user(db, record, user_id):
                raise ConflictError(f"user {user_id!r} already exists in {record.name!r}")
            return {}

        self._idempotent(record, client_request_token, _fingerprint(op="create", user=user_id), act)

    def delete_user(
        self: FaceCollections,
        collection_id: str,
        user_id: str,
        client_request_token: str | None = None,
    ) -> None:
        """Delete a user; its faces stay in the collection, no longer associated."""
        record = self._collection(collection_id)
        user_id = parse_name("user_id", user_id, USER_ID)

        def act(db: Any) -> dict[str, Any]:
            if not self.store.delete_user(db, record, user_id):
                raise ResourceNotFoundError(f"user {user_id!r} not found in {record.name!r}")
            return {}

        self._idempotent(record, client_request_token, _fingerprint(op="delete", user=user_id), act)

    def list_users(
        self: FaceCollections,
        collection_id: str,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> Page[UserRecord]:
        record = self._collection(collection_id)
        limit = parse_limit("max_results", max_results, 1, MAX_USERS, DEFAULT_USER_PAGE)
        after = decode_token(f"users:{record.name}", next_token)
        rows = self.store.users(record, after, limit + 1)
        return paginate(f"users:{record.name}", rows, limit, lambda u: u.user_id)

    def associate_faces(
        self: FaceCollections,
        collection_id: str,
        user_id: str,
        face_ids: list[str],
        user_match_threshold: float = 75.0,
        client_request_token: str | None = None,
    ) -> AssociationResult:
        """Attach faces to a user. A face that does not look like the user's existing faces
        (below user_match_threshold) is refused, as is one that belongs to another user."""
        record = self._collection(collection_id)
        user_id = parse_name("user_id", user_id, USER_ID)
        wanted = parse_face_ids(face_ids, MAX_FACES_PER_USER)
        threshold = parse_percentage("user_match_threshold", user_match_threshold)

        def act(db: Any) -> dict[str, Any]:
            self.store.user(record, user_id)  # ResourceNotFoundError if there is no such user
            existing = self.store.faces(record, user_id=user_id, limit=MAX_FACES_PER_USER + 1)
            found = {
                f.face_id: f for f in self.store.faces(record, face_ids=wanted, limit=len(wanted))
            }
            _, user_vectors = self.store.embeddings(record, [f.row_id for f in existing])
            changed, failed, attached = [], [], 0
            for face_id in wanted:
                face = found.get(face_id)
                if face is None:
                    failed.append({"face_id": face_id, "reasons": ["face_not_found"]})
                    continue
                if face.user_id not in (None, user_id):
                    failed.append(
                        {
                            "face_id": face_id,
                            "reasons": ["associated_to_a_different_user"],
                            "user_id": face.user_id,
                        }
                    )
                    continue
                _, vector = self.store.face_with_embedding(record, face_id)
                similarity = self.best_similarity(vector, user_vectors)
                if len(user_vectors) and similarity < threshold:
                    failed.append(
                        {
                            "face_id": face_id,
                            "reasons": ["low_match_confidence"],
                            "similarity_pct": similarity,
                        }
                    )
                    continue
                if face.user_id is None:
                    if len(existing) + attached >= MAX_FACES_PER_USER:
                        raise InvalidParameterError(
                            f"user {user_id!r} would have more than {MAX_FACES_PER_USER} faces"
                        )
                    self.store.set_face_user(db, face, user_id)
                    attached += 1
                changed.append(face_id)
            return {"changed": changed, "failed": failed}

        outcome = self._idempotent(
            record,
            client_request_token,
            _fingerprint(op="associate", user=user_id, faces=wanted, threshold=threshold),
            act,
        )
        return self._association(record, user_id, outcome)

    def disassociate_faces(
        self: FaceCollections,
        collection_id: str,
        user_id: str,
        face_ids: list[str],
        client_request_token: str | None = None,
    ) -> AssociationResult:
        """Detach faces from a user; the faces stay in the collection."""
        record = self._collection(collection_id)
        user_id = parse_name("user_id", user_id, USER_ID)
        wanted = parse_face_ids(face_ids, MAX_FACES_PER_USER)

        def act(db: Any) -> dict[str, Any]:
            self.store.user(record, user_id)
            found = {
                f.face_id: f for f in self.store.faces(record, face_ids=wanted, limit=len(wanted))
            }
            changed, failed = [], []
            for face_id in wanted:
                face = found.get(face_id)
                if face is None:
                    failed.append({"face_id": face_id, "reasons": ["face_not_found"]})
                elif face.user_id != user_id:
                    failed.append(
                        {
                            "face_id": face_id,
                            "reasons": ["associated_to_a_different_user"],
                            "user_id": face.user_id,
                        }
                    )
                else:
                    self.store.set_face_user(db, face, None)
                    changed.append(face_id)
            return {"changed": changed, "failed": failed}

        outcome = self._idempotent(
            record,
            client_request_token,
            _fingerprint(op="disassociate", user=user_id, faces=wanted),
            act,
        )
        return self._association(record, user_id, outcome)

    def _association(
        self: FaceCollections, record: CollectionRecord, user_id: str, outcome: dict[str, Any]
    ) -> AssociationResult:
        failed = [
            FailedFace(f["face_id"], tuple(f["reasons"]), f.get("user_id"), f.get("similarity_pct"))
            for f in outcome["failed"]
        ]
        status = self.store.user(record, user_id).status
        return AssociationResult(outcome["changed"], failed, status)

    # -- user search ----------------------------------------------------------------------------

    def _search_users(
        self: FaceCollections,
        record: CollectionRecord,
        query: np.ndarray,
        threshold: float,
        max_users: int,
        exclude_user: str | None = None,
        exclude_row: int | None = None,
    ) -> list[UserSearchMatch]:
        owners = self.store.user_face_rows(record)
        if not owners:
            return []
        index = self.indexes.synced(record)
        k = min(len(index), USER_SEARCH_FACES)
        keys, distances = index.search(query[None].astype(np.float32), k)
        best: dict[str, float] = {}
        for key, distance in zip(keys[0], distances[0], strict=True):
            owner = owners.get(int(key))
            if owner is None or owner == exclude_user or int(key) == exclude_row:
                continue
            best[owner] = max(best.get(owner, 0.0), float(similarity_pct(float(distance))))
        ranked = sorted(((u, s) for u, s in best.items() if s >= threshold), key=lambda p: -p[1])[
            :max_users
        ]
        return [UserSearchMatch(self.store.user(record, u), s) for u, s in ranked]

    def search_users(
        self: FaceCollections,
        collection_id: str,
        user_id: str | None = None,
        face_id: str | None = None,
        user_match_threshold: float = 80.0,
        max_users: int | None = None,
    ) -> SearchUsersResult:
        """Users like a stored face, or like a user's faces (the user itself excluded)."""
        record = self._collection(collection_id)
        if (user_id is None) == (face_id is None):
            raise InvalidParameterError("give exactly one of user_id and face_id")
        threshold = parse_percentage("user_match_threshold", user_match_threshold)
        limit = parse_limit("max_users", max_users, 1, MAX_USERS, DEFAULT_MAX_USERS)
        if face_id is not None:
            parse_name("face_id", face_id, FACE_ID)
            face, vector = self.store.face_with_embedding(record, face_id)
            matches = self._search_users(record, vector, threshold, limit, exclude_row=face.row_id)
            return SearchUsersResult(matches, record.face_model_version, searched_face_id=face_id)
        user_id = parse_name("user_id", user_id, USER_ID)
        self.store.user(record, user_id)
        faces = self.store.faces(record, user_id=user_id, limit=MAX_FACES_PER_USER)
        if not faces:
            raise InvalidParameterError(f"user {user_id!r} has no faces to search with")
        _, vectors = self.store.embeddings(record, [f.row_id for f in faces])
        merged: dict[str, UserSearchMatch] = {}
        for vector in vectors:
            for match in self._search_users(record, vector, threshold, MAX_USERS, user_id):
                known = merged.get(match.user.user_id)
                if known is None or match.similarity_pct > known.similarity_pct:
                    merged[match.user.user_id] = match
        ranked = sorted(merged.values(), key=lambda m: -m.similarity_pct)[:limit]
        return SearchUsersResult(ranked, record.face_model_version, searched_user_id=user_id)

    def search_users_by_image(
        self: FaceCollections,
        collection_id: str,
        image: ImageInput,
        user_match_threshold: float = 80.0,
        max_users: int | None = None,
        quality_filter: str | QualityFilter = "NONE",
    ) -> SearchUsersResult:
        """Users like the largest face in the image; the other faces are reported unsearched."""
        record = self._collection(collection_id)
        self._check_model(record)
        threshold = parse_percentage("user_match_threshold", user_match_threshold)
        limit = parse_limit("max_users", max_users, 1, MAX_USERS, DEFAULT_MAX_USERS)
        found = self._searched_face(image, parse_quality_filter(quality_filter))
        matches = self._search_users(record, found.embedding, threshold, limit)
        return SearchUsersResult(
            matches,
            record.face_model_version,
            searched_face=found.face,
            unsearched=found.others,
            image_wh=found.image_wh,
        )
