"""Durability of the store and its vector indexes: crashes and parallel use.

Real models on real photos (skimage's astronaut, matplotlib's Grace Hopper, and images made
from them), real SQLite files, real subprocesses killed with SIGKILL; no mocks. Nothing here
asserts on time: waits are bounded only so a hang fails instead of blocking the run.
"""

from __future__ import annotations

import itertools
import json
import queue
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facewise.errors import ResourceNotFoundError
from facewise.pipeline.similarity import descriptor_distances, similarity_pct
from facewise.service.collections import FaceCollections
from facewise.store.backends import DATABASE_FILE, INDEX_FOLDER
from facewise.store.records import StoredFace
from tests.conftest import encode
from tests.store.indexing_worker import open_collections

WORKER = Path(__file__).with_name("indexing_worker.py")
COLLECTION = "durable"
HANG_GUARD_S = 120  # only so that a hung worker fails the test instead of the whole run
WORKER_IMAGE = re.compile(r"run\d+:\d+:[a-z-]+")  # ExternalImageIds the crash test's worker uses
SAME_DESCRIPTOR = 1e-3  # distance of a descriptor to itself, after float32 round trips


# -- photos -------------------------------------------------------------------------------------


def _scaled(rgb: np.ndarray, factor: float) -> np.ndarray:
    height, width = rgb.shape[:2]
    size_wh = (round(width * factor), round(height * factor))
    return np.asarray(Image.fromarray(rgb).resize(size_wh, Image.Resampling.LANCZOS))


def _lit(rgb: np.ndarray, gain: float, offset: float = 0.0) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


def _side_by_side(left: np.ndarray, right: np.ndarray, gap_px: int = 80) -> np.ndarray:
    height = max(left.shape[0], right.shape[0]) + 40
    canvas = np.full((height, left.shape[1] + right.shape[1] + gap_px + 40, 3), 190, np.uint8)
    canvas[20 : 20 + left.shape[0], 20 : 20 + left.shape[1]] = left
    x = 20 + left.shape[1] + gap_px
    canvas[20 : 20 + right.shape[0], x : x + right.shape[1]] = right
    return canvas


@dataclass(frozen=True)
class Photos:
    """Twelve photo files and, per photo stem, how many faces IndexFaces stores from it."""

    folder: Path
    faces_per_stem: dict[str, int]
    reference_dir: Path  # a cleanly closed store holding each photo once (ExternalImageId=stem)
    # Per stored face of the reference store: {matched FaceId: similarity_pct} at threshold 0.
    reference_searches: dict[str, dict[str, float]] = field(repr=False)

    @property
    def files(self) -> list[Path]:
        return sorted(p for p in self.folder.iterdir() if p.suffix in {".jpg", ".png"})


@pytest.fixture(scope="module")
def photos(tmp_path_factory, astronaut, hopper, analyzer, data_dir) -> Photos:
    """Writes the photos once per module, and indexes each once into a reference store.

    Indexing here also builds the converted ResNet in ``data_dir`` before any worker starts,
    so workers only load it."""
    arrays = {
        "astronaut.jpg": astronaut,
        "astronaut-mirror.png": astronaut[:, ::-1],
        "astronaut-face-crop.jpg": _scaled(astronaut[20:320, 90:390], 1.4),
        "astronaut-dark.jpg": _lit(astronaut, 0.6),
        "astronaut-small-bright.png": _scaled(_lit(astronaut, 1.0, 35), 0.7),
        "hopper.jpg": hopper,
        "hopper-mirror.png": hopper[:, ::-1],
        "hopper-face-crop.jpg": _scaled(hopper[40:420, 60:460], 1.3),
        "hopper-dark.jpg": _lit(hopper, 0.65),
        "hopper-small.png": _scaled(hopper, 0.7),
        "both.jpg": _side_by_side(astronaut, hopper),
        "both-swapped-mirror.png": _side_by_side(hopper[:, ::-1], _scaled(astronaut, 0.8)[:, ::-1]),
    }
    folder = tmp_path_factory.mktemp("photos")
    for name, rgb in arrays.items():
        fmt = "JPEG" if name.endswith(".jpg") else "PNG"
        options = {"quality": 90} if fmt == "JPEG" else {}
        (folder / name).write_bytes(encode(np.ascontiguousarray(rgb), fmt, **options))

    reference_dir = tmp_path_factory.mktemp("reference-store")
    faces_per_stem = {}
    with FaceCollections.open(reference_dir, analyzer=analyzer) as faces:
        faces.create_collection(COLLECTION)
        faces.set_policy(COLLECTION, min_threshold=0)  # searches at 0 see every face
        for file in sorted(folder.iterdir()):
            result = faces.index_faces(COLLECTION, str(file), external_image_id=file.stem)
            faces_per_stem[file.stem] = len(result.indexed)
        searches = {face.face_id: _similarities(faces, face.face_id) for face in _all_faces(faces)}
    # Each variant must be a real test of the store: a face, or two for the canvases.
    assert faces_per_stem == {
        Path(name).stem: 2 if name.startswith("both") else 1 for name in arrays
    }
    return Photos(folder, faces_per_stem, reference_dir, searches)


# -- helpers ------------------------------------------------------------------------------------


def _all_faces(faces: FaceCollections, page_size: int = 1000) -> list[StoredFace]:
    listed, token = [], None
    while True:
        page = faces.list_faces(COLLECTION, max_results=page_size, next_token=token)
        listed += page.items
        token = page.next_token
        if token is None:
            return listed


def _similarities(faces: FaceCollections, face_id: str) -> dict[str, float]:
    result = faces.search_faces(COLLECTION, face_id, max_faces=4096, face_match_threshold=0)
    return {match.face.face_id: match.similarity_pct for match in result.matches}


def _integrity(data_dir: Path) -> str:
    with sqlite3.connect(data_dir / DATABASE_FILE) as db:
        return "; ".join(row[0] for row in db.execute("PRAGMA integrity_check"))


def _check_consistent(faces: FaceCollections) -> list[StoredFace]:
    """Every listed face is in the vector index under its own descriptor, and the counts of
    list_faces, describe_collection and the index agree. Returns the listed faces."""
    listed = _all_faces(faces)
    assert len({face.face_id for face in listed}) == len(listed), "a FaceId is listed twice"
    info = faces.describe_collection(COLLECTION)
    index = faces.context.indexes.synced(info.record)
    assert info.face_count == len(listed) == len(index)
    if listed:
        keys, vectors = faces.context.store.embeddings(info.record)
        assert sorted(keys.tolist()) == sorted(face.row_id for face in listed)
        # Photos repeat across rounds, so a descriptor may have exact twins: ask for them all.
        found, distances = index.search(vectors, min(len(index), 4096))
        for key, row_keys, row_distances in zip(keys, found, distances, strict=True):
            same = set(row_keys[row_distances <= SAME_DESCRIPTOR].tolist())
            assert int(key) in index and int(key) in same, f"face row {key} is not findable"
    return listed


class Worker:
    """indexing_worker.py in a subprocess; its stdout events are collected by a thread."""

    def __init__(self, tmp_path: Path, data_dir: Path, photos: Photos, model_dir: Path, **knobs):
        self.tag = knobs.pop("tag")
        self.stderr_path = tmp_path / f"worker-{self.tag}.stderr"
        command = [
            sys.executable,
            str(WORKER),
            f"--data-dir={data_dir}",
            f"--model-dir={model_dir}",
            f"--photos={photos.folder}",
            f"--collection={COLLECTION}",
            f"--tag={self.tag}",
        ]
        command += [f"--{name.replace('_', '-')}={value}" for name, value in knobs.items()]
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr)
        self.events: list[dict] = []
        self.arrivals: queue.Queue[dict | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.endswith(b"\n"):  # a line cut by a kill is not an event
                event = json.loads(line)
                self.events.append(event)
                self.arrivals.put(event)
        self.arrivals.put(None)

    def wait_for(self, event_name: str) -> None:
        while True:
            event = self.arrivals.get(timeout=HANG_GUARD_S)
            if event is None:
                pytest.fail(f"worker {self.tag} ended before {event_name!r}: {self.stderr()}")
            if event["event"] == event_name:
                return

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.finish()

    def finish(self) -> int:
        code = self.process.wait(timeout=HANG_GUARD_S)
        self._reader.join(timeout=HANG_GUARD_S)
        return code

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-4000:]

    def face_ids(self, event_name: str) -> list[str]:
        return [i for e in self.events if e["event"] == event_name for i in e["face_ids"]]


# -- crash safety -------------------------------------------------------------------------------


def test_sigkill_during_bulk_index_faces_leaves_a_consistent_store(
    tmp_path, photos, analyzer, data_dir
):
    """Kills a bulk IndexFaces process with SIGKILL at eight random moments, restarting it on
    the same data directory each time, and proves after every kill that:

    - SQLite reports `PRAGMA integrity_check` ok;
    - every FaceId the worker saw committed is listed, unless it was about to delete it, and
      no face it saw deleted is listed;
    - each image is all or nothing: its faces share one ImageId and there are as many as the
      photo has (a canvas with two faces never shows up with one);
    - describe_collection, list_faces and the reopened vector index count the same faces, and
      each stored face is found in the index under its own descriptor, and by SearchFaces;
    - after the last kill the store still indexes a new photo and finds it.

    The worker searches after every image with snapshot_every=2, so kills also land while it
    writes index snapshots and compacts the change log, and the next open must cope with
    whatever a half-done snapshot left on disk."""
    rng = random.Random(20240531)
    store_dir = tmp_path / "store"
    with FaceCollections.open(store_dir, analyzer=analyzer) as faces:
        faces.create_collection(COLLECTION)
        faces.set_policy(COLLECTION, min_threshold=0)  # searches at 0 see every face

    committed: set[str] = set()
    doomed: set[str] = set()  # the worker announced a delete: present or absent are both fine
    deleted: set[str] = set()
    for run in range(8):
        worker = Worker(
            tmp_path,
            store_dir,
            photos,
            data_dir,
            tag=f"run{run}",
            delete_every=5,
            snapshot_every=2,
            search_every=1,
        )
        worker.wait_for("indexed")
        threading.Event().wait(rng.uniform(0.3, 3.0))
        worker.kill()
        assert worker.process.returncode == -signal.SIGKILL, worker.stderr()
        committed |= set(worker.face_ids("indexed"))
        doomed |= set(worker.face_ids("deleting"))
        deleted |= set(worker.face_ids("deleted"))

        assert _integrity(store_dir) == "ok"
        with FaceCollections.open(store_dir, analyzer=analyzer) as faces:
            listed = _check_consistent(faces)
            listed_ids = {face.face_id for face in listed}
            assert committed - doomed <= listed_ids, "a committed face is missing"
            assert not deleted & listed_ids, "a deleted face came back"
            # Faces committed just before a kill went unreported; they must still be whole.
            assert all(WORKER_IMAGE.fullmatch(f.external_image_id or "") for f in listed)

            by_image: dict[str, list[StoredFace]] = defaultdict(list)
            for face in listed:
                by_image[face.external_image_id].append(face)
            for external_image_id, image_faces in by_image.items():
                stem = external_image_id.split(":")[2]
                assert len({face.image_id for face in image_faces}) == 1
                assert len(image_faces) == photos.faces_per_stem[stem], external_image_id

            for face in rng.sample(listed, min(len(listed), 12)):
                similar = _similarities(faces, face.face_id)
                assert set(similar) == listed_ids - {face.face_id}

    assert len(committed) > 6, "the worker should commit several images per run"
    with FaceCollections.open(store_dir, analyzer=analyzer) as faces:
        before = faces.describe_collection(COLLECTION).face_count
        new = faces.index_faces(COLLECTION, str(photos.folder / "both.jpg"), "after-crashes")
        assert len(new.indexed) == 2
        found = faces.search_faces_by_image(
            COLLECTION, str(photos.folder / "both.jpg"), max_faces=4096
        )
        assert {f.face.face_id for f in new.indexed} & {m.face.face_id for m in found.matches}
        assert faces.describe_collection(COLLECTION).face_count == before + 2
        _check_consistent(faces)


def _corrupt(index_dir: Path, how: str) -> None:
    files = [p for p in index_dir.rglob("*") if p.is_file()]
    manifests = [p for p in files if _is_json(p)]
    data = sorted(set(files) - set(manifests), key=lambda p: p.stat().st_size)
    assert manifests and data, f"expected a snapshot after a clean close, found {files}"
    largest = data[-1]
    if how == "truncated data":
        largest.write_bytes(largest.read_bytes()[: largest.stat().st_size // 2])
    elif how == "altered data":  # same size, different bytes
        raw = bytearray(largest.read_bytes())
        middle = len(raw) // 2
        raw[middle : middle + 64] = bytes(b ^ 0x5A for b in raw[middle : middle + 64])
        largest.write_bytes(bytes(raw))
    elif how == "missing data":
        largest.unlink()
    elif how == "garbage manifest":
        for manifest in manifests:
            manifest.write_bytes(b'{"watermark": 1, "count": ')
    elif how == "no snapshot":
        shutil.rmtree(index_dir)


def _is_json(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "how", ["truncated data", "altered data", "missing data", "garbage manifest", "no snapshot"]
)
def test_damaged_index_snapshot_is_rebuilt_from_sqlite(tmp_path, photos, analyzer, how):
    """A cleanly closed store whose index snapshot is then damaged on disk (cut short, bytes
    changed at the same size, a data file gone, an unreadable manifest, no snapshot at all)
    reopens with the index rebuilt from SQLite: every stored face is found under its own
    descriptor and SearchFaces returns the same faces with the same similarities as before
    the damage. Closing writes a sound snapshot again."""
    store_dir = tmp_path / "store"
    shutil.copytree(photos.reference_dir, store_dir)
    _corrupt(store_dir / INDEX_FOLDER, how)
    for _ in range(2):  # the rebuilt index, then the snapshot written when it was closed
        with FaceCollections.open(store_dir, analyzer=analyzer) as faces:
            listed = _check_consistent(faces)
            assert {f.face_id for f in listed} == set(photos.reference_searches)
            for face_id, expected in photos.reference_searches.items():
                similar = _similarities(faces, face_id)
                assert set(similar) == set(expected)
                for match_id, similarity_pct in similar.items():
                    assert similarity_pct == pytest.approx(expected[match_id], abs=1e-3)


# -- concurrency --------------------------------------------------------------------------------


@dataclass
class _Search:
    started: int  # logical clock when the call began
    query_face_id: str | None  # None: search by image
    matches: list[StoredFace]
    similarities: list[float]


def test_threads_index_search_and_delete_in_parallel(tmp_path, photos, analyzer):
    """One FaceCollections shared by three indexing threads, a thread that indexes and then
    deletes some of its faces, and two searching threads (snapshots every 3 changes). Proves:

    - no thread raised, except SearchFaces on a face the deleting thread had deleted;
    - every FaceId IndexFaces returned is listed at the end, unless deleted, and counts agree;
    - every search returned only whole faces: each match is a face some IndexFaces returned,
      with the very metadata list_faces shows at the end, and (searching by FaceId) the
      similarity of its own descriptor (no row id ever stands for another face);
    - no search that started after a delete returned contains the deleted face;
    - no face is lost by the index: a search with threshold 0 returns every face whose
      IndexFaces had returned before the search started (except faces meant for deletion).

    "Before" is a logical clock (a shared counter), not time."""
    faces = open_collections(tmp_path / "store", analyzer, snapshot_every=3)
    faces.create_collection(COLLECTION)
    faces.set_policy(COLLECTION, min_threshold=0)  # searches at 0 see every face
    files = photos.files
    clock = itertools.count()
    lock = threading.Lock()
    committed: dict[str, int] = {}  # FaceId -> clock after its IndexFaces returned
    descriptors: dict[str, np.ndarray] = {}  # FaceId -> its stored descriptor
    doomed: set[str] = set()  # recorded before the delete starts
    deleted: dict[str, int] = {}  # FaceId -> clock after its DeleteFaces returned
    searches: list[_Search] = []
    errors: list[BaseException] = []

    def index(photo: Path, external_image_id: str) -> list[str]:
        result = faces.index_faces(COLLECTION, str(photo), external_image_id)
        ids = [indexed.face.face_id for indexed in result.indexed]
        with lock:
            tick = next(clock)
            committed.update(dict.fromkeys(ids, tick))
        record = faces.describe_collection(COLLECTION).record
        for face_id in ids:  # only this thread may delete them, and only after this
            descriptors[face_id] = faces.context.store.face_with_embedding(record, face_id)[1]
        return ids

    def indexer(number: int) -> None:
        for n in range(16):
            index(files[(4 * number + n) % len(files)], f"indexer{number}:{n}")

    def deleter() -> None:
        for n in range(10):
            ids = index(files[(3 * n + 1) % len(files)], f"deleter:{n}")
            if n % 2 == 0:
                with lock:
                    doomed.update(ids)
                result = faces.delete_faces(COLLECTION, ids)
                assert sorted(result.deleted) == sorted(ids) and not result.failed
                with lock:
                    tick = next(clock)
                    deleted.update(dict.fromkeys(ids, tick))

    def searcher(number: int) -> None:
        rng = random.Random(number)
        for n in range(60):
            with lock:
                candidates = sorted(committed)
                started = next(clock)
            if n % 4 == 0 or not candidates:
                query_face_id = None
                result = faces.search_faces_by_image(
                    COLLECTION, str(rng.choice(files)), max_faces=4096, face_match_threshold=0
                )
            else:
                query_face_id = rng.choice(candidates)
                try:
                    result = faces.search_faces(
                        COLLECTION, query_face_id, max_faces=4096, face_match_threshold=0
                    )
                except ResourceNotFoundError:
                    assert query_face_id in doomed, f"{query_face_id} vanished undeleted"
                    continue
            matches = [match.face for match in result.matches]
            similarities = [match.similarity_pct for match in result.matches]
            with lock:
                searches.append(_Search(started, query_face_id, matches, similarities))

    def guarded(target, *args) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)
            except BaseException as error:
                errors.append(error)

        return threading.Thread(target=run, name=f"{target.__name__}{args}")

    threads = [guarded(indexer, n) for n in range(3)] + [guarded(deleter)]
    threads += [guarded(searcher, n) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=HANG_GUARD_S)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if errors:
        raise errors[0]

    assert doomed == set(deleted)
    final = {face.face_id: face for face in _check_consistent(faces)}
    assert set(final) == set(committed) - set(deleted)
    assert len(final) > 50

    for search in searches:
        returned = {face.face_id for face in search.matches}
        assert len(returned) == len(search.matches), "a face returned twice"
        for face in search.matches:
            assert face.face_id in committed, f"search returned unknown face {face.face_id}"
            if face.face_id in deleted:
                assert deleted[face.face_id] > search.started, "a deleted face came back"
            else:
                assert face == final[face.face_id], "a search returned a half-written face"
        assert all(0 <= s <= 100 for s in search.similarities)
        if search.query_face_id is not None:  # each similarity is of that very face's descriptor
            query = descriptors[search.query_face_id]
            for face, similarity in zip(search.matches, search.similarities, strict=True):
                distance = descriptor_distances(query, descriptors[face.face_id][None])[0]
                assert similarity == pytest.approx(similarity_pct(distance), abs=0.01), (
                    f"{face.face_id} came with another face's similarity"
                )
        must_see = {
            face_id
            for face_id, tick in committed.items()
            if tick < search.started and face_id not in doomed
        } - {search.query_face_id}
        assert must_see <= returned, f"search lost {len(must_see - returned)} committed faces"
    assert len(searches) > 80
    faces.close()


def test_two_processes_index_while_a_third_searches(tmp_path, photos, analyzer, data_dir):
    """Two worker processes run IndexFaces on the same data directory at once (SQLite's
    write lock serialises them; both snapshot their indexes every 3 changes and compact the
    log) while this process searches. Proves:

    - both workers finish cleanly and every FaceId they report is listed exactly once, each
      image whole, and a fresh FaceCollections.open counts exactly those faces;
    - searches here see what the other processes committed: every FaceId a worker reported
      before a search started is among its results (the index catches up from the change
      log, or reloads a newer snapshot when the log it needed was compacted away);
    - this process's long-lived index and a freshly opened one both hold every face."""
    store_dir = tmp_path / "store"
    faces = FaceCollections.open(store_dir, analyzer=analyzer)
    faces.create_collection(COLLECTION)
    faces.set_policy(COLLECTION, min_threshold=0)  # searches at 0 see every face
    workers = [
        Worker(tmp_path, store_dir, photos, data_dir, tag=f"proc{n}", rounds=3) for n in range(2)
    ]
    rng = random.Random(7)
    searched = 0
    while True:
        running = any(worker.process.poll() is None for worker in workers)
        reported = {i for worker in workers for i in worker.face_ids("indexed")}
        if not reported:
            assert running, "the workers ended without indexing anything"
            threading.Event().wait(0.05)
            continue
        query_face_id = rng.choice(sorted(reported))
        result = faces.search_faces(COLLECTION, query_face_id, 4096, face_match_threshold=0)
        returned = [match.face.face_id for match in result.matches]
        assert len(set(returned)) == len(returned)
        missing = reported - {query_face_id} - set(returned)
        assert not missing, f"search {searched} missed {len(missing)} committed faces"
        searched += 1
        if not running:  # one last search after both had finished
            break
    for worker in workers:
        assert worker.finish() == 0, worker.stderr()
        assert worker.events[-1]["event"] == "done"

    reported_ids = [i for worker in workers for i in worker.face_ids("indexed")]
    assert (
        len(reported_ids) == len(set(reported_ids)) == 2 * 3 * sum(photos.faces_per_stem.values())
    )
    listed = _all_faces(faces, page_size=7)
    assert Counter(face.face_id for face in listed) == Counter(reported_ids)
    images = Counter(face.external_image_id for face in listed)
    assert all(
        count == photos.faces_per_stem[image.split(":")[2]] for image, count in images.items()
    )
    assert len(images) == 2 * 3 * len(photos.files)
    _check_consistent(faces)  # the index this process kept open all along
    faces.close()
    with FaceCollections.open(store_dir, analyzer=analyzer) as fresh:
        assert fresh.describe_collection(COLLECTION).face_count == len(reported_ids)
        _check_consistent(fresh)
    assert _integrity(store_dir) == "ok"
