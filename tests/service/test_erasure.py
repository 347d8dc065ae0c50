"""Deletion that really deletes, retention, and the opt-out list, on real photos, the real
models and a real SQLite data directory.

- DeleteFaces and DeleteCollection leave no copy of a deleted descriptor anywhere in the
  data directory's bytes (the database, its write-ahead log, the vector snapshots).
- The retention sweeper, run with a fake clock, deletes faces past their collection's
  maximum age and audits it.
- A person on the opt-out list is erased, refused by IndexFaces, and never matched by a
  search, CompareFaces or a video face search job.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from facewise.pipeline.analyzer import FaceAnalyzer
from facewise.service.caller import Caller
from facewise.service.collections import FaceCollections
from facewise.service.context import ServiceContext
from facewise.service.faces import FaceAnalysisService
from facewise.service.optout import OptOuts
from facewise.service.retention import RetentionSweeper
from facewise.service.video_runner import analysed_now
from facewise.store.records import AuditQuery, now_ms

DAY_MS = 86_400_000


@pytest.fixture
def context(tmp_path: Path, analyzer: FaceAnalyzer) -> Iterator[ServiceContext]:
    # snapshot_every=1: every change is snapshotted at once, so snapshots exist to be checked.
    with ServiceContext.open(tmp_path / "data", analyzer=analyzer, snapshot_every=1) as opened:
        yield opened


@pytest.fixture
def faces(context: ServiceContext) -> FaceCollections:
    return FaceCollections(context, Caller())


def _variants(photo: np.ndarray) -> list[np.ndarray]:
    """The photo, mirrored, darker and brighter: four faces of one person."""
    return [
        photo,
        photo[:, ::-1].copy(),
        (photo * 0.7).astype(np.uint8),
        np.clip(photo.astype(np.int16) + 30, 0, 255).astype(np.uint8),
    ]


def _raw_bytes(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def _holding(folder: Path, needle: bytes) -> list[Path]:
    return [path for path, data in _raw_bytes(folder).items() if needle in data]


def test_deleted_descriptors_leave_no_trace_in_the_data_directory(
    context: ServiceContext, faces: FaceCollections, astronaut: np.ndarray, hopper: np.ndarray
) -> None:
    folder = context.indexes.folder.parent
    faces.create_collection("c")
    for number, photo in enumerate(_variants(astronaut) + _variants(hopper)):
        faces.index_faces("c", photo, external_image_id=f"person-{number}")
    faces.set_policy("c", min_threshold=0)
    faces.search_faces_by_image("c", astronaut)  # opens the index: snapshots are written
    listed = faces.list_faces("c").items
    gone = [f for f in listed if f.external_image_id in ("person-0", "person-5")]
    record = context.store.collection("default", "c")
    secrets = [context.store.face_with_embedding(record, f.face_id)[1] for f in gone]
    needles = [v.astype("<f4").tobytes() for v in secrets]
    # Before: each descriptor is in the database (or its log) and in a vector snapshot.
    for needle in needles:
        holders = _holding(folder, needle)
        assert any("indexes" in p.parts for p in holders), holders
        assert any(p.name.startswith("facewise.sqlite3") for p in holders), holders

    deleted = faces.delete_faces("c", [f.face_id for f in gone]).deleted
    assert sorted(deleted) == sorted(f.face_id for f in gone)
    for needle in needles:
        for part in (needle, needle[:64], needle[-64:]):
            assert _holding(folder, part) == []
    assert _holding(folder, b"person-5") == []  # its ExternalImageId went too
    remaining = faces.search_faces_by_image("c", astronaut, face_match_threshold=0).matches
    assert len(remaining) == len(listed) - 2
    (erasure,) = list(
        context.audit_log.records(AuditQuery(operation="delete_faces"), None, 10)  # type: ignore[union-attr]
    )
    assert sorted(erasure.entry.ids) == sorted(deleted) and erasure.entry.faces_matched == 2

    kept = [f for f in listed if f not in gone]
    kept_needle = context.store.face_with_embedding(record, kept[0].face_id)[1].tobytes()
    assert _holding(folder, kept_needle)  # the check would see a descriptor that is there
    faces.delete_collection("c")
    assert _holding(folder, kept_needle) == []
    assert not (context.indexes.folder / f"collection-{record.row_id}").exists()


def test_retention_deletes_faces_past_their_age_with_a_fake_clock(
    context: ServiceContext, faces: FaceCollections, astronaut: np.ndarray, hopper: np.ndarray
) -> None:
    faces.create_collection("kept-a-day")
    faces.create_collection("forever")
    for name in ("kept-a-day", "forever"):
        faces.index_faces(name, astronaut)
        faces.index_faces(name, hopper)
    faces.set_policy("kept-a-day", max_face_age_days=1)
    start = now_ms()
    assert RetentionSweeper(context, clock=lambda: start + DAY_MS // 2).sweep() == {}
    assert faces.describe_collection("kept-a-day").face_count == 2
    swept = RetentionSweeper(context, clock=lambda: start + DAY_MS + 60_000).sweep()
    assert swept == {("default", "kept-a-day"): 2}
    assert faces.describe_collection("kept-a-day").face_count == 0
    assert faces.describe_collection("forever").face_count == 2
    (record,) = context.audit_log.records(  # type: ignore[union-attr]
        AuditQuery(operation="expire_faces"), None, 10
    )
    assert record.entry.collection == "kept-a-day" and len(record.entry.ids) == 2
    faces.set_policy("kept-a-day", max_face_age_days=None)
    faces.index_faces("kept-a-day", astronaut)
    assert (
        RetentionSweeper(context, clock=lambda: start + 10 * DAY_MS).sweep()
        == {("default", "forever"): 0}
        or faces.describe_collection("kept-a-day").face_count == 1
    )


def test_an_opted_out_person_is_erased_refused_and_never_matched(
    context: ServiceContext,
    faces: FaceCollections,
    astronaut: np.ndarray,
    hopper: np.ndarray,
    crossing_video: Path,
) -> None:
    for name in ("door", "hall"):
        faces.create_collection(name)
        faces.index_faces(name, astronaut, external_image_id="eileen")
        faces.index_faces(name, hopper, external_image_id="grace")
    other = faces.for_account("other")
    other.create_collection("door")
    other.index_faces("door", astronaut, external_image_id="eileen")

    entry, erased = OptOuts(context, Caller()).add(astronaut[:, ::-1].copy(), "asked by email")
    assert set(erased) == {"door", "hall"} and all(len(ids) == 1 for ids in erased.values())
    assert [e.reason for e in OptOuts(context, Caller()).list()] == ["asked by email"]
    for name in ("door", "hall"):
        assert [f.external_image_id for f in faces.list_faces(name).items] == ["grace"]
    assert other.describe_collection("door").face_count == 1  # another account's list

    again = faces.index_faces("door", (astronaut * 0.8).astype(np.uint8))
    assert again.indexed == [] and [u.reasons for u in again.unindexed] == [("opted_out",)]
    faces.set_account_floor(0)
    assert faces.search_faces_by_image("door", astronaut).matches == []
    compared = FaceAnalysisService(context, Caller()).compare_faces(astronaut, astronaut)
    assert compared.matches == [] and len(compared.unmatched) == 1
    assert faces.search_faces_by_image("door", hopper).matches  # others are still found

    # A face already in a collection when its person's entry lands (here: put straight into
    # the other account's list, as if added by another process mid-index) is never matched.
    context.optout_store.add_optout(
        "other",
        "test",
        context.store.face_with_embedding(  # type: ignore[union-attr]
            context.store.collection("other", "door"), other.list_faces("door").items[0].face_id
        )[1],
    )
    other.set_account_floor(0)
    assert other.search_faces_by_image("door", astronaut).matches == []
    jobs = analysed_now(context, Caller("other"))
    job_id = jobs.start_face_search(crossing_video, "door")
    found = jobs.all_face_search(job_id)
    assert found.job.status == "SUCCEEDED" and found.persons
    assert all(person.matches == [] for person in found.persons)
    OptOuts(context, Caller()).remove(entry.optout_id)
    assert faces.search_faces_by_image("door", astronaut).matches == []  # her faces are gone
