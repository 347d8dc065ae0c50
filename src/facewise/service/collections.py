"""Collections (Rekognition's collection operations) and ``FaceCollections``, the library's
one-object view of collections, their faces and their users.

    from facewise import FaceCollections
    with FaceCollections.open("facewise-data") as faces:
        faces.create_collection("staff")
        faces.index_faces("staff", "alice.jpg", external_image_id="alice")
        result = faces.search_faces_by_image("staff", "door-camera.jpg")
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from facewise.pipeline.analyzer import Analyzer
from facewise.service.caller import DEFAULT_ACCOUNT, Caller
from facewise.service.collection_faces import CollectionFaces
from facewise.service.collection_policies import CollectionPolicies
from facewise.service.context import ServiceContext
from facewise.service.erasure import erase_collection
from facewise.service.options import COLLECTION_ID, parse_limit, parse_name, parse_tags
from facewise.service.pagination import Page, decode_token, paginate
from facewise.service.results import CollectionInfo
from facewise.service.scope import (
    DEFAULT_PAGE_SIZE,
    FACE_MODEL_VERSION,
    MAX_SEARCH_RESULTS,
    AccountService,
)
from facewise.service.users import CollectionUsers
from facewise.store.records import CollectionRecord

__all__ = ["FACE_MODEL_VERSION", "Collections", "FaceCollections"]


class Collections(AccountService):
    """Create, describe, list, tag and delete the caller's collections."""

    def create_collection(
        self, collection_id: str, tags: dict[str, str] | None = None
    ) -> CollectionRecord:
        """A new, empty collection; ResourceAlreadyExistsError if the name is taken."""
        name = parse_name("collection_id", collection_id, COLLECTION_ID)
        return self.context.store.create_collection(
            self.account, name, FACE_MODEL_VERSION, parse_tags(tags)
        )

    def describe_collection(self, collection_id: str) -> CollectionInfo:
        record = self.collection(collection_id)
        faces, users = self.context.store.counts(record)
        return CollectionInfo(record, faces, users)

    def list_collections(
        self, max_results: int | None = None, next_token: str | None = None
    ) -> Page[CollectionRecord]:
        """Collections by name, a page at a time."""
        limit = parse_limit("max_results", max_results, 0, MAX_SEARCH_RESULTS, DEFAULT_PAGE_SIZE)
        after = decode_token("collections", next_token)
        rows = self.context.store.collections(self.account, after, limit + 1)
        return paginate("collections", rows, limit, lambda r: r.name)

    def collection_tags(self, collection_id: str) -> dict[str, str]:
        return dict(self.collection(collection_id).tags)

    def tag_collection(self, collection_id: str, tags: dict[str, str]) -> None:
        """Add or overwrite tags (at most 200 in all)."""
        record = self.collection(collection_id)
        added = parse_tags(tags)
        self.context.store.update_tags(
            self.account, record.name, lambda old: parse_tags(old | added)
        )

    def untag_collection(self, collection_id: str, tag_keys: list[str]) -> None:
        """Remove tags by key; keys the collection does not have are ignored."""
        record = self.collection(collection_id)
        drop = set(tag_keys)
        self.context.store.update_tags(
            self.account, record.name, lambda old: {k: v for k, v in old.items() if k not in drop}
        )

    def delete_collection(self, collection_id: str) -> None:
        """Delete the collection with all its faces, users and its index, for good (audited)."""
        name = parse_name("collection_id", collection_id, COLLECTION_ID)
        erase_collection(self.context, self.caller, name)


class FaceCollections(Collections, CollectionFaces, CollectionUsers, CollectionPolicies):
    """Collections, their faces, users and policies in one object, for library users.

    The four are sibling services over one ServiceContext (the HTTP service uses each on
    its own); this class only puts their methods side by side. Thread-safe: share one
    instance between threads. The account scopes every name: two accounts may both have a
    collection called "staff" and never see each other's.
    """

    @classmethod
    def open(
        cls,
        data_dir: Path | str | None = None,
        analyzer: Analyzer | None = None,
        account: str = DEFAULT_ACCOUNT,
        store_url: str | None = None,
    ) -> FaceCollections:
        """Open (creating if needed) the store: ``store_url`` if given, else
        $FACEWISE_STORE_URL, else the SQLite file in the data directory."""
        context = ServiceContext.open(data_dir, store_url=store_url, analyzer=analyzer)
        return cls(context, Caller(account))

    def for_account(self, account: str) -> FaceCollections:
        """The same store and models, seen as another account."""
        return FaceCollections(self.context, Caller(account))

    def close(self) -> None:
        """Snapshot open indexes and close the store."""
        self.context.close()

    def __enter__(self) -> FaceCollections:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
