"""Users of a collection (Rekognition's user operations): a user gathers one person's faces,
and user search answers "who is this?" with people rather than single photos."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from facewise.errors import (
    ConflictError,
    IdempotentParameterMismatchError,
    InvalidParameterError,
    ResourceNotFoundError,
)
from facewise.service.analysis import searched_face
from facewise.service.erasure import recorded, scrub
from facewise.service.identify import Erasure, Identification, Outcome, identify
from facewise.service.images import ImageInput
from facewise.service.options import (
    FACE_ID,
    REQUEST_TOKEN,
    USER_ID,
    parse_face_ids,
    parse_limit,
    parse_name,
    parse_quality_filter,
)
from facewise.service.pagination import Page, decode_token, paginate
from facewise.service.results import (
    AssociationResult,
    FailedFace,
    SearchUsersResult,
    UserSearchMatch,
)
from facewise.service.scope import AccountService
from facewise.service.search import best_similarity, nearest_users
from facewise.store.protocols import Transaction
from facewise.store.records import CollectionRecord, UserRecord
from facewise.types import QualityFilter

MAX_FACES_PER_USER = 100
MAX_USERS = 500
DEFAULT_USER_PAGE = 50
DEFAULT_MAX_USERS = 50


def _fingerprint(**params: object) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class _Changed:
    """What a (dis)association did: remembered as JSON for a repeated ClientRequestToken."""

    changed: list[str] = field(default_factory=list)
    failed: list[FailedFace] = field(default_factory=list)

    def to_json(self) -> str:
        failed = [
            {
                "face_id": f.face_id,
                "reasons": list(f.reasons),
                "user_id": f.user_id,
                "similarity_pct": f.similarity_pct,
            }
            for f in self.failed
        ]
        return json.dumps({"changed": self.changed, "failed": failed})

    @classmethod
    def from_json(cls, text: str) -> _Changed:
        data = json.loads(text)
        failed = [
            FailedFace(f["face_id"], tuple(f["reasons"]), f.get("user_id"), f.get("similarity_pct"))
            for f in data.get("failed", [])
        ]
        return cls(list(data.get("changed", [])), failed)


def _different_user(face_id: str, owner: str | None) -> FailedFace:
    return FailedFace(face_id, ("associated_to_a_different_user",), owner)


def _user_search_outcome(result: SearchUsersResult) -> Outcome:
    return Outcome(1, [m.user.user_id for m in result.matches])


class CollectionUsers(AccountService):
    """CreateUser, DeleteUser, ListUsers, AssociateFaces, DisassociateFaces, SearchUsers..."""

    def _idempotent(
        self,
        record: CollectionRecord,
        token: str | None,
        fingerprint: str,
        act: Callable[[Transaction], _Changed],
    ) -> _Changed:
        """Run ``act(transaction)`` once per ClientRequestToken: a repeat with the same
        parameters returns the first outcome; with other parameters it is refused."""
        if token is not None:
            parse_name("client_request_token", token, REQUEST_TOKEN)
        with self.context.store.write() as tx:
            if token is not None:
                seen = tx.token_result(record, token)
                if seen is not None:
                    if seen[0] != fingerprint:
                        raise IdempotentParameterMismatchError(
                            f"client request token {token!r} was used with other parameters"
                        )
                    return _Changed.from_json(seen[1])
            outcome = act(tx)
            if token is not None:
                tx.remember_token(record, token, fingerprint, outcome.to_json())
            return outcome

    def create_user(
        self, collection_id: str, user_id: str, client_request_token: str | None = None
    ) -> None:
        """A new user with no faces; ConflictError if it exists (unless the same token)."""
        record = self.collection(collection_id)
        user_id = parse_name("user_id", user_id, USER_ID)

        def act(tx: Transaction) -> _Changed:
            if not tx.create_user(record, user_id):
                raise ConflictError(f"user {user_id!r} already exists in {record.name!r}")
            return _Changed()

        self._idempotent(record, client_request_token, _fingerprint(op="create", user=user_id), act)

    def delete_user(
        self, collection_id: str, user_id: str, client_request_token: str | None = None
    ) -> None:
        """Delete a user; its faces stay in the collection, no longer associated (delete them
        with delete_faces to erase the person). The user's rows are erased for good and the
        deletion is audited."""
        record = self.collection(collection_id)
        user_id = parse_name("user_id", user_id, USER_ID)
        deleted = False

        def act(tx: Transaction) -> _Changed:
            nonlocal deleted
            if not tx.delete_user(record, user_id):
                raise ResourceNotFoundError(f"user {user_id!r} not found in {record.name!r}")
            deleted = True
            return _Changed()

        self._idempotent(record, client_request_token, _fingerprint(op="delete", user=user_id), act)
        if deleted:  # not on a retry answered from the token
            recorded(self.context, self.caller, Erasure.DELETE_USER, record.name, [user_id])
            scrub(self.context)

    def list_users(
        self, collection_id: str, max_results: int | None = None, next_token: str | None = None
    ) -> Page[UserRecord]:
        record = self.collection(collection_id)
        limit = parse_limit("max_results", max_results, 1, MAX_USERS, DEFAULT_USER_PAGE)
        after = decode_token(f"users:{record.name}", next_token)
        rows = self.context.store.users(record, after, limit + 1)
        return paginate(f"users:{record.name}", rows, limit, lambda u: u.user_id)

    def associate_faces(
        self,
        collection_id: str,
        user_id: str,
        face_ids: list[str],
        user_match_threshold: float | None = None,
        client_request_token: str | None = None,
    ) -> AssociationResult:
        """Attach faces to a user. A face that does not look like the user's existing faces
        (below user_match_threshold, default 75) is refused, as is one that belongs to
        another user."""
        record = self.collection(collection_id)
        user_id = parse_name("user_id", user_id, USER_ID)
        wanted = parse_face_ids(face_ids, MAX_FACES_PER_USER)
        store = self.context.store

        def act(threshold: float, tx: Transaction) -> _Changed:
            store.user(record, user_id)  # ResourceNotFoundError if there is no such user
            existing = store.faces(record, user_id=user_id, limit=MAX_FACES_PER_USER + 1)
            found = {f.face_id: f for f in store.faces(record, face_ids=wanted, limit=len(wanted))}
            _, user_vectors = store.embeddings(record, [f.row_id for f in existing])
            changed: list[str] = []
            failed: list[FailedFace] = []
            attached = 0
            for face_id in wanted:
                face = found.get(face_id)
                if face is None:
                    failed.append(FailedFace(face_id, ("face_not_found",)))
                    continue
                if face.user_id not in (None, user_id):
                    failed.append(_different_user(face_id, face.user_id))
                    continue
                _, vector = store.face_with_embedding(record, face_id)
                similarity = best_similarity(vector, user_vectors)
                if len(user_vectors) and similarity < threshold:
                    failed.append(FailedFace(face_id, ("low_match_confidence",), None, similarity))
                    continue
                if face.user_id is None:
                    if len(existing) + attached >= MAX_FACES_PER_USER:
                        raise InvalidParameterError(
                            f"user {user_id!r} would have more than {MAX_FACES_PER_USER} faces"
                        )
                    tx.set_face_user(face, user_id)
                    attached += 1
                changed.append(face_id)
            return _Changed(changed, failed)

        def associate(threshold: float) -> _Changed:
            fingerprint = _fingerprint(
                op="associate", user=user_id, faces=wanted, threshold=threshold
            )
            return self._idempotent(
                record, client_request_token, fingerprint, lambda tx: act(threshold, tx)
            )

        outcome = identify(
            self.context.rules,
            self.caller,
            Identification.ASSOCIATE_FACES,
            record,
            user_match_threshold,
            associate,
            lambda done: Outcome(len(wanted), done.changed),
            threshold_name="user_match_threshold",
        )
        return self._association(record, user_id, outcome)

    def disassociate_faces(
        self,
        collection_id: str,
        user_id: str,
        face_ids: list[str],
        client_request_token: str | None = None,
    ) -> AssociationResult:
        """Detach faces from a user; the faces stay in the collection."""
        record = self.collection(collection_id)
        user_id = parse_name("user_id", user_id, USER_ID)
        wanted = parse_face_ids(face_ids, MAX_FACES_PER_USER)
        store = self.context.store

        def act(tx: Transaction) -> _Changed:
            store.user(record, user_id)
            found = {f.face_id: f for f in store.faces(record, face_ids=wanted, limit=len(wanted))}
            changed: list[str] = []
            failed: list[FailedFace] = []
            for face_id in wanted:
                face = found.get(face_id)
                if face is None:
                    failed.append(FailedFace(face_id, ("face_not_found",)))
                elif face.user_id != user_id:
                    failed.append(_different_user(face_id, face.user_id))
                else:
                    tx.set_face_user(face, None)
                    changed.append(face_id)
            return _Changed(changed, failed)

        fingerprint = _fingerprint(op="disassociate", user=user_id, faces=wanted)
        outcome = self._idempotent(record, client_request_token, fingerprint, act)
        return self._association(record, user_id, outcome)

    def _association(
        self, record: CollectionRecord, user_id: str, outcome: _Changed
    ) -> AssociationResult:
        status = self.context.store.user(record, user_id).status
        return AssociationResult(outcome.changed, outcome.failed, status)

    # -- user search ----------------------------------------------------------------------------

    def search_users(
        self,
        collection_id: str,
        user_id: str | None = None,
        face_id: str | None = None,
        user_match_threshold: float | None = None,
        max_users: int | None = None,
    ) -> SearchUsersResult:
        """Users like a stored face, or like a user's faces (the user itself excluded).

        user_match_threshold: 0-100, default 80 (identify.py).
        """
        record = self.collection(collection_id)
        if (user_id is None) == (face_id is None):
            raise InvalidParameterError("give exactly one of user_id and face_id")
        limit = self.search_limit(record, max_users, "max_users", MAX_USERS, DEFAULT_MAX_USERS)
        store = self.context.store

        def by_face(face_id: str, threshold: float) -> SearchUsersResult:
            face, vector = store.face_with_embedding(record, face_id)
            matches = nearest_users(
                self.context, record, vector, threshold, limit, exclude_row=face.row_id
            )
            return SearchUsersResult(matches, record.face_model_version, searched_face_id=face_id)

        def by_user(user_id: str, threshold: float) -> SearchUsersResult:
            store.user(record, user_id)
            faces = store.faces(record, user_id=user_id, limit=MAX_FACES_PER_USER)
            if not faces:
                raise InvalidParameterError(f"user {user_id!r} has no faces to search with")
            _, vectors = store.embeddings(record, [f.row_id for f in faces])
            merged: dict[str, UserSearchMatch] = {}
            for vector in vectors:
                for match in nearest_users(
                    self.context, record, vector, threshold, MAX_USERS, user_id
                ):
                    known = merged.get(match.user.user_id)
                    if known is None or match.similarity_pct > known.similarity_pct:
                        merged[match.user.user_id] = match
            ranked = sorted(merged.values(), key=lambda m: -m.similarity_pct)[:limit]
            return SearchUsersResult(ranked, record.face_model_version, searched_user_id=user_id)

        search = (
            partial(by_face, parse_name("face_id", face_id, FACE_ID))
            if face_id is not None
            else partial(by_user, parse_name("user_id", user_id, USER_ID))
        )
        return identify(
            self.context.rules,
            self.caller,
            Identification.SEARCH_USERS,
            record,
            user_match_threshold,
            search,
            _user_search_outcome,
            threshold_name="user_match_threshold",
        )

    def search_users_by_image(
        self,
        collection_id: str,
        image: ImageInput,
        user_match_threshold: float | None = None,
        max_users: int | None = None,
        quality_filter: str | QualityFilter = "NONE",
    ) -> SearchUsersResult:
        """Users like the largest face in the image; the other faces are reported unsearched."""
        record = self.searchable_collection(collection_id)
        limit = self.search_limit(record, max_users, "max_users", MAX_USERS, DEFAULT_MAX_USERS)
        level = parse_quality_filter(quality_filter)

        def search(threshold: float) -> SearchUsersResult:
            found = searched_face(self.context.analyzer, self.context.images.rgb(image), level)
            matches = nearest_users(self.context, record, found.embedding, threshold, limit)
            return SearchUsersResult(
                matches,
                record.face_model_version,
                searched_face=found.face,
                unsearched=found.others,
                image_wh=found.image_wh,
            )

        return identify(
            self.context.rules,
            self.caller,
            Identification.SEARCH_USERS_BY_IMAGE,
            record,
            user_match_threshold,
            search,
            _user_search_outcome,
            threshold_name="user_match_threshold",
        )
