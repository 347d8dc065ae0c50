"""Collections, faces and face search (Rekognition's collection operations), in plain Python.

from facewise.service.collections import FaceCollections
with FaceCollections.open("facewise-data") as faces:
    faces.create_collection("staff")
    faces.index_faces("staff", "alice.jpg", external_image_id="alice")
    result = faces.search_faces_by_image("staff", "door-camera.jpg")
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from facewise.errors import InvalidParameterError
from facewise.imaging.decode import DEFAULT_LIMITS, ImageLimits, load_image
from facewise.pipeline.analyzer import AnalyzerConfig, FaceAnalyzer
from facewise.pipeline.quality import quality_problems
from facewise.pipeline.similarity import descriptor_distances, similarity_pct
from facewise.service.faces import ImageInput, _estimates, _project
from facewise.service.options import (
    COLLECTION_ID,
    EXTERNAL_IMAGE_ID,
    FACE_ID,
    AttributesArg,
    parse_attributes,
    parse_count,
    parse_face_ids,
    parse_limit,
    parse_name,
    parse_percentage,
    parse_quality_filter,
    parse_tags,
)
from facewise.service.pagination import Page, decode_token, paginate
from facewise.service.results import (
    CollectionInfo,
    DeleteFacesResult,
    FaceSearchMatch,
    FailedFace,
    IndexedFace,
    IndexFacesResult,
    SearchFacesResult,
    UnindexedFace,
)
from facewise.service.users import UserOperations
from facewise.settings import data_dir as resolve_data_dir
from facewise.store.indexes import CollectionIndexes
from facewise.store.records import CollectionRecord, NewFace, StoredFace
from facewise.store.sqlite_store import SqliteFaceStore
from facewise.types import Attribute, FaceAnalysis, QualityFilter

# Every collection records the model its descriptors come from and refuses others. The ONNX
# and dlib embedders run the same network (identical decisions), so they share one version.
FACE_MODEL_VERSION = "dlib-resnet-v1"
DATABASE_FILE = "facewise.sqlite3"
INDEX_FOLDER = "indexes"
MAX_FACES_PER_IMAGE = 100
MAX_SEARCH_RESULTS = 4096
DEFAULT_PAGE_SIZE = 1000


@dataclass(frozen=True)
class SearchedFace:
    """The face a search by image uses, and the faces of the image it leaves aside."""

    face: FaceAnalysis
    embedding: np.ndarray
    others: list[UnindexedFace]
    image_wh: tuple[int, int]


def box_ratio(face: FaceAnalysis, image_wh: tuple[int, int]) -> tuple[float, float, float, float]:
    """Left, top, width, height as ratios of the image."""
    width, height = image_wh
    x1, y1, x2, y2 = face.box_xyxy
    return (x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height)


class FaceCollections(UserOperations):
    """The collection operations over one store (a data directory) and one face analyzer.

    Thread-safe: share one instance between threads. ``account`` scopes every name: two
    accounts may both have a collection called "staff" and never see each other's.
    """

    def __init__(
        self,
        store: SqliteFaceStore,
        indexes: CollectionIndexes,
        analyzer: FaceAnalyzer,
        account: str = "default",
        limits: ImageLimits = DEFAULT_LIMITS,
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.analyzer = analyzer
        self.account = account
        self.limits = limits

    @classmethod
    def open(
        cls,
        data_dir: Path | str | None = None,
        analyzer: FaceAnalyzer | None = None,
        account: str = "default",
    ) -> FaceCollections:
        """Open (creating if needed) the store in a data directory."""
        folder = resolve_data_dir(data_dir)
        store = SqliteFaceStore(folder / DATABASE_FILE)
        indexes = CollectionIndexes(store, folder / INDEX_FOLDER)
        analyzer = analyzer or FaceAnalyzer(AnalyzerConfig(data_dir=folder))
        return cls(store, indexes, analyzer, account)

    def for_account(self, account: str) -> FaceCollections:
        """The same store and models, seen as another account."""
        return FaceCollections(self.store, self.indexes, self.analyzer, account, self.limits)

    def close(self) -> None:
        """Snapshot open indexes and close the database."""
        self.indexes.save_all()
        self.store.close()

    def __enter__(self) -> FaceCollections:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    # -- collections --------------------------------------------------------------------------

    def _collection(self, collection_id: object) -> CollectionRecord:
        name = parse_name("collection_id", collection_id, COLLECTION_ID)
        return self.store.collection(self.account, name)

    def check_collection(self, collection_id: str) -> None:
        """ResourceNotFoundError unless the collection exists (cheap; before costly work)."""
        self._collection(collection_id)

    def create_collection(
        self, collection_id: str, tags: dict[str, str] | None = None
    ) -> CollectionRecord:
        """A new, empty collection; ResourceAlreadyExistsError if the name is taken."""
        name = parse_name("collection_id", collection_id, COLLECTION_ID)
        return self.store.create_collection(
            self.account, name, FACE_MODEL_VERSION, parse_tags(tags)
        )

    def describe_collection(self, collection_id: str) -> CollectionInfo:
        record = self._collection(collection_id)
        faces, users = self.store.counts(record)
        return CollectionInfo(record, faces, users)

    def list_collections(
        self, max_results: int | None = None, next_token: str | None = None
    ) -> Page[CollectionRecord]:
        """Collections by name, a page at a time."""
        limit = parse_limit("max_results", max_results, 0, MAX_SEARCH_RESULTS, DEFAULT_PAGE_SIZE)
        after = decode_token("collections", next_token)
        rows = self.store.collections(self.account, after, limit + 1)
        return paginate("collections", rows, limit, lambda r: r.name)

    def collection_tags(self, collection_id: str) -> dict[str, str]:
        return dict(self._collection(collection_id).tags)

    def tag_collection(self, collection_id: str, tags: dict[str, str]) -> None:
        """Add or overwrite tags (at most 200 in all)."""
        record = self._collection(collection_id)
        added = parse_tags(tags)
        self.store.update_tags(self.account, record.name, lambda old: parse_tags(old | added))

    def untag_collection(self, collection_id: str, tag_keys: list[str]) -> None:
        """Remove tags by key; keys the collection does not have are ignored."""
        record = self._collection(collection_id)
        drop = set(tag_keys)
        self.store.update_tags(
            self.account, record.name, lambda old: {k: v for k, v in old.items() if k not in drop}
        )

    def delete_collection(self, collection_id: str) -> None:
        """Delete the collection with all its faces, users and its index."""
        name = parse_name("collection_id", collection_id, COLLECTION_ID)
        record = self.store.delete_collection(self.account, name)
        self.indexes.drop(record)

    # -- faces --------------------------------------------------------------------------------

    def _check_model(self, record: CollectionRecord) -> None:
        if record.face_model_version != FACE_MODEL_VERSION:
            raise InvalidParameterError(
                f"collection {record.name!r} holds {record.face_model_version} descriptors; "
                f"this facewise computes {FACE_MODEL_VERSION}"
            )

    def _analyse(
        self, image: ImageInput, attributes: frozenset[Attribute]
    ) -> tuple[list[FaceAnalysis], tuple[int, int]]:
        rgb = load_image(image, self.limits)
        detections = self.analyzer.detect(rgb)[:MAX_FACES_PER_IMAGE]
        faces = self.analyzer.analyze(rgb, detections, _estimates(attributes), with_embedding=True)
        return faces, (rgb.shape[1], rgb.shape[0])

    def index_faces(
        self,
        collection_id: str,
        image: ImageInput,
        external_image_id: str | None = None,
        max_faces: int | None = None,
        quality_filter: str | QualityFilter = "AUTO",
        detection_attributes: AttributesArg = "DEFAULT",
    ) -> IndexFacesResult:
        """Detect faces and store the largest ``max_faces`` that pass the quality filter.

        All faces of one image are stored in one transaction: all or none, even on a crash.
        """
        record = self._collection(collection_id)
        self._check_model(record)
        if external_image_id is not None:
            parse_name("external_image_id", external_image_id, EXTERNAL_IMAGE_ID)
        limit = parse_count("max_faces", max_faces, 1, None) if max_faces is not None else None
        level = parse_quality_filter(quality_filter)
        wanted = parse_attributes(detection_attributes)
        faces, image_wh = self._analyse(image, wanted)
        keep, unindexed = [], []
        for face in faces:
            problems = quality_problems(face, level)
            if problems:
                unindexed.append(UnindexedFace(tuple(problems), _project(face, wanted)))
            elif limit is not None and len(keep) >= limit:
                unindexed.append(UnindexedFace(("exceeds_max_faces",), _project(face, wanted)))
            else:
                keep.append(face)
        image_id = str(uuid.uuid4())
        new_faces = [
            NewFace(image_id, external_image_id, box_ratio(f, image_wh), f.score, f.embedding)
            for f in keep
        ]
        stored = self.store.add_faces(record, new_faces) if new_faces else []
        indexed = [IndexedFace(s, _project(f, wanted)) for s, f in zip(stored, keep, strict=True)]
        return IndexFacesResult(indexed, unindexed, FACE_MODEL_VERSION, image_wh)

    def list_faces(
        self,
        collection_id: str,
        max_results: int | None = None,
        next_token: str | None = None,
        user_id: str | None = None,
        face_ids: list[str] | None = None,
    ) -> Page[StoredFace]:
        """Faces by FaceId, a page at a time, optionally of one user or among face_ids."""
        from facewise.service.options import USER_ID

        record = self._collection(collection_id)
        limit = parse_limit("max_results", max_results, 0, MAX_SEARCH_RESULTS, DEFAULT_PAGE_SIZE)
        if user_id is not None:
            parse_name("user_id", user_id, USER_ID)
        wanted_ids = parse_face_ids(face_ids, MAX_SEARCH_RESULTS) if face_ids is not None else None
        after = decode_token(f"faces:{record.name}", next_token)
        rows = self.store.faces(record, after, limit + 1, user_id, wanted_ids)
        return paginate(f"faces:{record.name}", rows, limit, lambda f: f.face_id)

    def delete_faces(self, collection_id: str, face_ids: list[str]) -> DeleteFacesResult:
        """Delete faces: descriptor, metadata and user association. Unknown ids are reported."""
        record = self._collection(collection_id)
        wanted = parse_face_ids(face_ids, MAX_SEARCH_RESULTS)
        deleted = {face.face_id for face in self.store.delete_faces(record, wanted)}
        failed = [FailedFace(f, ("face_not_found",)) for f in wanted if f not in deleted]
        return DeleteFacesResult([f for f in wanted if f in deleted], failed)

    # -- search -------------------------------------------------------------------------------

    def _search(
        self,
        record: CollectionRecord,
        query: np.ndarray,
        max_faces: int,
        threshold: float,
        exclude_row: int | None = None,
    ) -> list[FaceSearchMatch]:
        index = self.indexes.synced(record)
        if len(index) == 0:
            return []
        k = min(len(index), max_faces + (1 if exclude_row is not None else 0))
        keys, distances = index.search(query[None].astype(np.float32), k)
        hits = [
            (int(key), float(similarity_pct(float(d))))
            for key, d in zip(keys[0], distances[0], strict=True)
            if key >= 0 and key != exclude_row
        ]
        hits = [(key, s) for key, s in hits if s >= threshold][:max_faces]
        stored = self.store.faces_by_row(record, [key for key, _ in hits])
        # A face deleted between the search and this lookup is simply left out.
        return [FaceSearchMatch(stored[key], s) for key, s in hits if key in stored]

    def search_faces(
        self,
        collection_id: str,
        face_id: str,
        max_faces: int | None = None,
        face_match_threshold: float = 80.0,
    ) -> SearchFacesResult:
        """Faces in the collection like the stored face ``face_id`` (itself excluded)."""
        record = self._collection(collection_id)
        parse_name("face_id", face_id, FACE_ID)
        limit = parse_limit("max_faces", max_faces, 1, MAX_SEARCH_RESULTS, MAX_SEARCH_RESULTS)
        threshold = parse_percentage("face_match_threshold", face_match_threshold)
        face, embedding = self.store.face_with_embedding(record, face_id)
        matches = self._search(record, embedding, limit, threshold, exclude_row=face.row_id)
        return SearchFacesResult(face_id, matches, record.face_model_version)

    def search_faces_by_image(
        self,
        collection_id: str,
        image: ImageInput,
        max_faces: int | None = None,
        face_match_threshold: float = 80.0,
        quality_filter: str | QualityFilter = "NONE",
    ) -> SearchFacesResult:
        """Faces in the collection like the largest face in the image."""
        record = self._collection(collection_id)
        self._check_model(record)
        limit = parse_limit("max_faces", max_faces, 1, MAX_SEARCH_RESULTS, MAX_SEARCH_RESULTS)
        threshold = parse_percentage("face_match_threshold", face_match_threshold)
        found = self._searched_face(image, parse_quality_filter(quality_filter))
        matches = self._search(record, found.embedding, limit, threshold)
        return SearchFacesResult(
            None, matches, record.face_model_version, found.face, found.image_wh
        )

    def _searched_face(self, image: ImageInput, level: QualityFilter) -> SearchedFace:
        """The largest face passing the quality filter, and the image's other faces with why
        they were not searched; InvalidParameterError when there is no usable face."""
        faces, image_wh = self._analyse(image, frozenset({Attribute.DEFAULT}))
        usable = [f for f in faces if not quality_problems(f, level)]
        if not usable or usable[0].embedding is None:
            raise InvalidParameterError("no face found in the image")
        shown = frozenset({Attribute.DEFAULT})
        others = [
            UnindexedFace(
                tuple(quality_problems(f, level)) or ("face_not_largest",), _project(f, shown)
            )
            for f in faces
            if f is not usable[0]
        ]
        return SearchedFace(_project(usable[0], shown), usable[0].embedding, others, image_wh)

    @staticmethod
    def best_similarity(query: np.ndarray, candidates: np.ndarray) -> float:
        """Highest similarity (0-100) of the query to any candidate descriptor."""
        if not len(candidates):
            return 0.0
        return float(np.max(similarity_pct(descriptor_distances(query, candidates))))
