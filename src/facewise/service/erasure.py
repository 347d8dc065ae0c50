"""Deletion that really deletes: the rows go (SQLite overwrites them with zeros, free pages
included), the write-ahead log is emptied, the collection's vector snapshot is rewritten
without the deleted descriptors, and the audit trail records what was erased and by whom.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from facewise.service.caller import Caller
from facewise.service.context import ServiceContext
from facewise.service.identify import Erasure, audit_entry
from facewise.store.records import CollectionRecord

log = logging.getLogger(__name__)


def erase_faces(
    context: ServiceContext,
    caller: Caller,
    record: CollectionRecord,
    face_ids: Sequence[str],
    why: Erasure,
) -> list[str]:
    """Delete these faces of the collection for good; returns the FaceIds deleted."""
    deleted = [face.face_id for face in context.store.delete_faces(record, face_ids)]
    if deleted:  # recorded first: a failing snapshot rewrite still leaves the record
        recorded(context, caller, why, record.name, deleted, len(deleted))
        context.indexes.rewrite(record)
        scrub(context)
    return deleted


def erase_collection(context: ServiceContext, caller: Caller, name: str) -> None:
    """Delete a collection with its faces, users, policy and vector snapshots for good."""
    record = context.store.collection(caller.account, name)
    faces, _ = context.store.counts(record)
    record = context.store.delete_collection(caller.account, name)
    recorded(context, caller, Erasure.DELETE_COLLECTION, name, (), faces)
    context.indexes.drop(record)
    scrub(context)


def recorded(
    context: ServiceContext,
    caller: Caller,
    why: Erasure,
    collection: str,
    ids: Sequence[str],
    faces_erased: int = 0,
) -> None:
    """Add an erasure to the audit trail: ids are the FaceIds or UserIds deleted (none for a
    whole collection), ``faces_matched`` the number of faces erased."""
    context.audit.record(
        audit_entry(caller, why.value, collection, ids, faces_matched=faces_erased)
    )


def scrub(context: ServiceContext) -> bool:
    """Empty the store's write-ahead log of deleted rows. False (and logged) when a reader
    delayed it: the retention sweeper scrubs again on its next pass."""
    if context.store.scrub():
        return True
    log.warning("a long read delayed scrubbing the write-ahead log; it is retried")
    context.scrub_pending = True
    return False
