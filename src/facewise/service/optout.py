"""The opt-out list: people who asked never to be indexed or identified.

An entry keeps only a descriptor of the person's face, the reason given and the date; the
photo it came from is discarded. From then on IndexFaces refuses their faces (UnindexedFaces
reason OPTED_OUT), and no search, video job or stream matches them: a face on the list is
treated like a face nobody knows. Adding someone also erases their faces already indexed in
any of the account's collections (audited as ``opt_out`` erasures).
"""

from __future__ import annotations

import numpy as np

from facewise.errors import InvalidParameterError, ResourceNotFoundError
from facewise.service.analysis import searched_face
from facewise.service.erasure import erase_faces
from facewise.service.identify import Erasure
from facewise.service.images import ImageInput
from facewise.service.optout_list import OPTOUT_SIMILARITY
from facewise.service.scope import AccountService
from facewise.service.search import similarities
from facewise.store.protocols import OptOutStore
from facewise.store.records import CollectionRecord, OptOut
from facewise.types import QualityFilter

MAX_REASON = 1000


class OptOuts(AccountService):
    """Add, list and remove the caller's account's opt-out entries."""

    def add(self, image: ImageInput, reason: str) -> tuple[OptOut, dict[str, list[str]]]:
        """Put the largest face of the photo on the list, and erase that person's faces from
        every collection of the account. Returns the entry and the FaceIds erased by
        collection. The photo itself is not kept."""
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidParameterError("give the reason the person asked to opt out")
        if len(reason) > MAX_REASON:
            raise InvalidParameterError(f"the reason must be at most {MAX_REASON} characters")
        found = searched_face(
            self.context.analyzer, self.context.images.rgb(image), QualityFilter.NONE
        )
        entry = self._store().add_optout(self.account, reason.strip(), found.embedding)
        erased: dict[str, list[str]] = {}
        for record in self.context.store.collections(self.account, None, 1_000_000):
            ids = self._faces_like(record, found.embedding)
            if ids:
                erased[record.name] = erase_faces(
                    self.context, self.caller, record, ids, Erasure.OPT_OUT
                )
        return entry, erased

    def _faces_like(self, record: CollectionRecord, embedding: np.ndarray) -> list[str]:
        """FaceIds of the collection's faces at least OPTOUT_SIMILARITY like the embedding:
        the nearest from the index, widened while all of them are that like it, then scored
        exactly on the stored descriptors."""
        index, store = self.context.indexes.synced(record), self.context.store
        if not len(index):
            return []
        k = 256
        while True:
            keys, _ = index.search(embedding[None].astype(np.float32), min(k, len(index)))
            near = [int(key) for key in keys[0] if key >= 0]
            rows, vectors = store.embeddings(record, near)
            hits = [
                int(row)
                for row, score in zip(rows, similarities(embedding, vectors), strict=True)
                if score >= OPTOUT_SIMILARITY
            ]
            if len(hits) < len(near) or len(near) >= len(index):
                break
            k *= 4
        faces = store.faces_by_row(record, hits)
        return [faces[row].face_id for row in hits if row in faces]

    def list(self) -> list[OptOut]:
        return self._store().optouts(self.account)

    def remove(self, optout_id: str) -> None:
        if not self._store().remove_optout(self.account, optout_id):
            raise ResourceNotFoundError(f"no opt-out entry {optout_id!r}")

    def _store(self) -> OptOutStore:
        if self.context.optout_store is None:
            raise InvalidParameterError("this store keeps no opt-out list")
        return self.context.optout_store
