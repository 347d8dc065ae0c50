"""The faces of a collection: IndexFaces, ListFaces, DeleteFaces, SearchFaces and
SearchFacesByImage, in plain Python."""

from __future__ import annotations

import uuid

from facewise.pipeline.quality import quality_problems
from facewise.service.analysis import (
    EmbeddedFace,
    box_ratio,
    embedded_faces,
    project,
    searched_face,
)
from facewise.service.erasure import erase_faces
from facewise.service.identify import Erasure, Identification, Outcome, identify
from facewise.service.images import ImageInput
from facewise.service.options import (
    EXTERNAL_IMAGE_ID,
    FACE_ID,
    USER_ID,
    AttributesArg,
    parse_attributes,
    parse_count,
    parse_face_ids,
    parse_limit,
    parse_name,
    parse_quality_filter,
)
from facewise.service.pagination import Page, decode_token, paginate
from facewise.service.results import (
    DeleteFacesResult,
    FailedFace,
    IndexedFace,
    IndexFacesResult,
    SearchFacesResult,
    UnindexedFace,
)
from facewise.service.scope import (
    DEFAULT_PAGE_SIZE,
    FACE_MODEL_VERSION,
    MAX_SEARCH_RESULTS,
    AccountService,
)
from facewise.service.search import nearest_faces
from facewise.store.records import NewFace, StoredFace
from facewise.types import QualityFilter


def _search_outcome(result: SearchFacesResult) -> Outcome:
    return Outcome(1, [m.face.face_id for m in result.matches])


class CollectionFaces(AccountService):
    """Index, list, delete and search the faces of the caller's collections."""

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
        record = self.searchable_collection(collection_id)
        if external_image_id is not None:
            parse_name("external_image_id", external_image_id, EXTERNAL_IMAGE_ID)
        limit = parse_count("max_faces", max_faces, 1, None) if max_faces is not None else None
        level = parse_quality_filter(quality_filter)
        wanted = parse_attributes(detection_attributes)
        rgb = self.context.images.rgb(image)
        image_wh = (rgb.shape[1], rgb.shape[0])
        keep: list[EmbeddedFace] = []
        unindexed: list[UnindexedFace] = []
        optouts = self.context.optouts
        for found in embedded_faces(self.context.analyzer, rgb, wanted):
            problems = quality_problems(found.face, level)
            if optouts.matches(self.account, found.embedding):
                unindexed.append(UnindexedFace(("opted_out",), project(found.face, wanted)))
            elif problems:
                unindexed.append(UnindexedFace(tuple(problems), project(found.face, wanted)))
            elif limit is not None and len(keep) >= limit:
                unindexed.append(UnindexedFace(("exceeds_max_faces",), project(found.face, wanted)))
            else:
                keep.append(found)
        image_id = str(uuid.uuid4())
        new_faces = [
            NewFace(
                image_id, external_image_id, box_ratio(f.face, image_wh), f.face.score, f.embedding
            )
            for f in keep
        ]
        stored = self.context.store.add_faces(record, new_faces) if new_faces else []
        indexed = [
            IndexedFace(s, project(f.face, wanted)) for s, f in zip(stored, keep, strict=True)
        ]
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
        record = self.collection(collection_id)
        limit = parse_limit("max_results", max_results, 0, MAX_SEARCH_RESULTS, DEFAULT_PAGE_SIZE)
        if user_id is not None:
            parse_name("user_id", user_id, USER_ID)
        wanted_ids = parse_face_ids(face_ids, MAX_SEARCH_RESULTS) if face_ids is not None else None
        after = decode_token(f"faces:{record.name}", next_token)
        rows = self.context.store.faces(record, after, limit + 1, user_id, wanted_ids)
        return paginate(f"faces:{record.name}", rows, limit, lambda f: f.face_id)

    def delete_faces(self, collection_id: str, face_ids: list[str]) -> DeleteFacesResult:
        """Delete faces: descriptor, metadata and user association. Unknown ids are reported."""
        record = self.collection(collection_id)
        wanted = parse_face_ids(face_ids, MAX_SEARCH_RESULTS)
        deleted = set(erase_faces(self.context, self.caller, record, wanted, Erasure.DELETE_FACES))
        failed = [FailedFace(f, ("face_not_found",)) for f in wanted if f not in deleted]
        return DeleteFacesResult([f for f in wanted if f in deleted], failed)

    def search_faces(
        self,
        collection_id: str,
        face_id: str,
        max_faces: int | None = None,
        face_match_threshold: float | None = None,
    ) -> SearchFacesResult:
        """Faces in the collection like the stored face ``face_id`` (itself excluded).

        face_match_threshold: 0-100, default 80 (identify.py), raised to the collection's or
        account's floor (service/policy.py); higher returns fewer, surer matches
        (docs/similarity.md gives the error rates).
        """
        record = self.collection(collection_id)
        parse_name("face_id", face_id, FACE_ID)
        limit = self.search_limit(record, max_faces, "max_faces")
        store = self.context.store

        def search(threshold: float) -> SearchFacesResult:
            face, embedding = store.face_with_embedding(record, face_id)
            matches = nearest_faces(
                self.context, record, embedding, limit, threshold, exclude_row=face.row_id
            )
            return SearchFacesResult(face_id, matches, record.face_model_version)

        return identify(
            self.context.rules,
            self.caller,
            Identification.SEARCH_FACES,
            record,
            face_match_threshold,
            search,
            _search_outcome,
        )

    def search_faces_by_image(
        self,
        collection_id: str,
        image: ImageInput,
        max_faces: int | None = None,
        face_match_threshold: float | None = None,
        quality_filter: str | QualityFilter = "NONE",
    ) -> SearchFacesResult:
        """Faces in the collection like the largest face in the image (threshold as in
        search_faces)."""
        record = self.searchable_collection(collection_id)
        limit = self.search_limit(record, max_faces, "max_faces")
        level = parse_quality_filter(quality_filter)

        def search(threshold: float) -> SearchFacesResult:
            found = searched_face(self.context.analyzer, self.context.images.rgb(image), level)
            matches = nearest_faces(self.context, record, found.embedding, limit, threshold)
            return SearchFacesResult(
                None, matches, record.face_model_version, found.face, found.image_wh
            )

        return identify(
            self.context.rules,
            self.caller,
            Identification.SEARCH_FACES_BY_IMAGE,
            record,
            face_match_threshold,
            search,
            _search_outcome,
        )
