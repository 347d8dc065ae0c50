"""The VectorIndex contract, run against every backend (add a factory to BACKENDS to run it
against a new one), plus what is particular to HNSW views and to AutoIndex's switch.

The data is face-like, not uniform: identities around a shared mean (norm ~1.4) with
per-face noise, so same-person distances are ~0.3-0.5 and different-person ~0.7-1.1, as
with dlib descriptors (approximate indexes look far worse on uniform random vectors).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from facewise.errors import InvalidParameterError
from facewise.store.protocols import DESCRIPTOR_DIM, VectorIndex
from facewise.store.vectors import (
    AutoIndex,
    ExactIndex,
    HnswIndex,
    HnswParams,
    IndexSnapshotError,
    load_index,
)

BACKENDS: list = [
    pytest.param(ExactIndex, id="exact"),
    pytest.param(HnswIndex, id="hnsw"),
    # Switches to HNSW at 300 faces, so most tests below cross the line.
    pytest.param(lambda: AutoIndex(switch_at=300), id="auto"),
]


@pytest.fixture(params=BACKENDS)
def make_index(request: pytest.FixtureRequest) -> Callable[[], VectorIndex]:
    return request.param


def face_like(
    n_faces: int, faces_per_identity: int = 4, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Faces (n, 128) float32, their identity ids, identity centres, and the noise sigma.

    Centres: a shared mean of norm 1.37 plus an identity offset of norm ~0.55 whose variance
    falls off as 1/rank over a random basis (real embeddings are far from isotropic); faces:
    centre plus isotropic noise of norm ~0.28."""
    rng = np.random.default_rng(seed)
    n_identities = max(1, n_faces // faces_per_identity)
    mean = rng.standard_normal(DESCRIPTOR_DIM)
    mean *= 1.37 / np.linalg.norm(mean)
    spectrum = 1.0 / np.arange(1, DESCRIPTOR_DIM + 1)
    spectrum *= 0.55**2 / spectrum.sum()
    basis, _ = np.linalg.qr(rng.standard_normal((DESCRIPTOR_DIM, DESCRIPTOR_DIM)))
    offsets = rng.standard_normal((n_identities, DESCRIPTOR_DIM)) * np.sqrt(spectrum)
    centres = mean + offsets @ basis.T
    identity = rng.integers(0, n_identities, n_faces)
    sigma = 0.28 / np.sqrt(DESCRIPTOR_DIM)
    faces = centres[identity] + rng.standard_normal((n_faces, DESCRIPTOR_DIM)) * sigma
    return faces.astype(np.float32), identity, centres.astype(np.float32), sigma


def exact_neighbours(faces: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of each query's k nearest faces, computed in float64."""
    faces64, queries64 = faces.astype(np.float64), queries.astype(np.float64)
    squared = (faces64**2).sum(1)[None, :] - 2 * queries64 @ faces64.T
    return np.argsort(squared, axis=1)[:, :k]


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    return face_like(1000)[0]


def test_face_like_data_has_face_like_distances() -> None:
    faces, identity, _, _ = face_like(2000)
    distances = np.linalg.norm(faces[:400, None] - faces[None, :400], axis=2)
    same = identity[:400, None] == identity[None, :400]
    upper = np.triu(np.ones_like(same), 1)
    assert 1.3 < np.median(np.linalg.norm(faces, axis=1)) < 1.6
    assert 0.3 < np.median(distances[same & upper]) < 0.5
    assert 0.7 < np.median(distances[~same & upper]) < 1.1


def test_each_face_finds_itself_first(make_index, faces: np.ndarray) -> None:
    index = make_index()
    keys = np.arange(1000, 2000)
    index.add(keys, faces)

    found, distances = index.search(faces[:200], 1)

    assert len(index) == 1000
    assert 1000 in index and 999 not in index
    assert found.dtype == np.int64 and distances.dtype == np.float32
    np.testing.assert_array_equal(found[:, 0], keys[:200])
    np.testing.assert_allclose(distances[:, 0], 0.0, atol=1e-3)


def test_distances_are_euclidean_and_sorted(make_index, faces: np.ndarray) -> None:
    index = make_index()
    index.add(np.arange(len(faces)), faces)

    found, distances = index.search(faces[:20] + 0.01, 10)

    expected = np.linalg.norm(faces[found] - (faces[:20] + 0.01)[:, None, :], axis=2)
    np.testing.assert_allclose(distances, expected, atol=2e-3)  # HNSW stores float16
    assert (np.diff(distances, axis=1) >= 0).all()


def test_k_beyond_size_pads_with_minus_one_and_inf(make_index, faces: np.ndarray) -> None:
    index = make_index()
    index.add(np.array([5, 6, 7]), faces[:3])

    found, distances = index.search(faces[:2], 5)

    assert found.shape == distances.shape == (2, 5)
    assert sorted(found[0, :3].tolist()) == [5, 6, 7]
    assert (found[:, 3:] == -1).all() and np.isinf(distances[:, 3:]).all()
    assert np.isfinite(distances[:, :3]).all()


def test_empty_index_and_empty_query_batch(make_index, faces: np.ndarray) -> None:
    index = make_index()

    found, distances = index.search(faces[:3], 4)
    none_found, no_distances = index.search(np.zeros((0, DESCRIPTOR_DIM), np.float32), 4)

    assert len(index) == 0 and 0 not in index
    assert (found == -1).all() and np.isinf(distances).all() and found.shape == (3, 4)
    assert none_found.shape == no_distances.shape == (0, 4)


def test_removed_keys_are_never_returned(make_index, faces: np.ndarray) -> None:
    index = make_index()
    index.add(np.arange(1000), faces)
    removed = np.arange(0, 1000, 2)

    index.remove(np.concatenate([removed, [5000, 6000]]))  # unknown keys are ignored
    index.remove(removed[:10])  # and so are keys already removed
    found, _ = index.search(faces[:50], 100)

    assert len(index) == 500
    assert 0 not in index and 1 in index
    assert not np.isin(found, removed).any()
    assert (found[1::2, 0] == np.arange(1, 50, 2)).all()  # survivors still find themselves


def test_readding_a_key_replaces_its_vector(make_index, faces: np.ndarray) -> None:
    index = make_index()
    index.add(np.arange(100), faces[:100])

    index.add(np.array([7, 7]), faces[[500, 600]])  # within one batch, the last one wins
    found, distances = index.search(faces[[600, 7]], 1)

    assert len(index) == 100
    assert found[0, 0] == 7 and distances[0, 0] < 1e-3
    assert found[1, 0] != 7


def test_remove_then_add_again(make_index, faces: np.ndarray) -> None:
    index = make_index()
    index.add(np.arange(400), faces[:400])
    index.remove(np.arange(200))

    index.add(np.arange(150), faces[500:650])
    found, _ = index.search(faces[500:650], 1)

    assert len(index) == 350
    np.testing.assert_array_equal(found[:, 0], np.arange(150))


def test_batch_search_matches_single_searches(make_index, faces: np.ndarray) -> None:
    index = make_index()
    index.add(np.arange(len(faces)), faces)
    queries = faces[:30] + 0.02

    found, distances = index.search(queries, 5)

    for row, query in enumerate(queries):
        one_found, one_distances = index.search(query[None], 5)
        np.testing.assert_array_equal(one_found[0], found[row])
        np.testing.assert_allclose(one_distances[0], distances[row], atol=1e-5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda ix, v: ix.add(np.arange(3), v[:2]), "as many keys as vectors"),
        (lambda ix, v: ix.add(np.arange(2), v[:2, :64]), "shape"),
        (lambda ix, v: ix.add(np.array([-1, 2]), v[:2]), "keys"),
        (lambda ix, v: ix.add(np.array([2**62, 2]), v[:2]), "keys"),
        (lambda ix, v: ix.add(np.array([0.5, 2.0]), v[:2]), "integers"),
        (lambda ix, v: ix.add(np.arange(2), np.full((2, 128), np.nan)), "finite"),
        (lambda ix, v: ix.search(v[0], 3), "shape"),
        (lambda ix, v: ix.search(v[:1], 0), "k"),
        (lambda ix, v: ix.remove(np.array([[1]])), "keys"),
        (lambda ix, v: ix.save(Path("unused"), -1), "watermark"),
    ],
)
def test_bad_input_is_refused(make_index, faces: np.ndarray, call, message: str) -> None:
    index = make_index()
    with pytest.raises(InvalidParameterError, match=message):
        call(index, faces)
    assert len(index) == 0


def test_save_and_load_keep_results_and_watermark(make_index, faces, tmp_path: Path) -> None:
    index = make_index()
    index.add(np.arange(1000), faces)
    index.remove(np.arange(100))
    before = index.search(faces[100:200], 10)

    index.save(tmp_path / "vectors", watermark=42)
    loaded, watermark = type(index).load(tmp_path / "vectors")

    assert watermark == 42 and type(loaded) is type(index)
    assert len(loaded) == 900 and 100 in loaded and 99 not in loaded
    after = loaded.search(faces[100:200], 10)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_allclose(after[1], before[1], atol=1e-6)
    loaded.add(np.array([5]), faces[5:6])  # a loaded index keeps taking writes
    loaded.remove(np.array([100]))
    assert len(loaded) == 900 and 5 in loaded and 100 not in loaded


def test_a_new_snapshot_replaces_the_old_one(make_index, faces, tmp_path: Path) -> None:
    index = make_index()
    index.add(np.arange(10), faces[:10])
    index.save(tmp_path / "vectors", watermark=1)
    index.add(np.arange(10, 20), faces[10:20])
    index.save(tmp_path / "vectors", watermark=2)

    loaded, watermark = type(index).load(tmp_path / "vectors")

    assert watermark == 2 and len(loaded) == 20
    data_files = [p.name for p in tmp_path.iterdir() if p.name != "vectors"]
    assert len({name.split(".")[1] for name in data_files}) == 1  # the old ones are gone


def test_removed_descriptors_are_not_in_snapshots(make_index, faces, tmp_path: Path) -> None:
    index = make_index()
    index.add(np.arange(400), faces[:400])
    marker = np.full((1, DESCRIPTOR_DIM), 0.123456, dtype=np.float32)
    index.add(np.array([7000]), marker)

    index.remove(np.array([7000]))
    index.save(tmp_path / "vectors", watermark=3)

    written = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for stored_as in (np.float32, np.float16):
        assert marker.astype(stored_as).tobytes()[:16] not in written


def _truncate(files: list[Path], other: list[Path]) -> None:
    data = max(files, key=lambda p: p.stat().st_size)
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def _flip_a_byte(files: list[Path], other: list[Path]) -> None:
    data = max(files, key=lambda p: p.stat().st_size)
    content = bytearray(data.read_bytes())
    content[len(content) // 2] ^= 0xFF
    data.write_bytes(bytes(content))


def _swap_in_other_snapshot(files: list[Path], other: list[Path]) -> None:
    """The data file of another save of the same index, under this snapshot's name."""
    data = max(files, key=lambda p: p.stat().st_size)
    data.write_bytes(max(other, key=lambda p: p.stat().st_size).read_bytes())


def _delete_data(files: list[Path], other: list[Path]) -> None:
    max(files, key=lambda p: p.stat().st_size).unlink()


def _garble_manifest(files: list[Path], other: list[Path]) -> None:
    files[0].parent.joinpath("vectors").write_text("{not json")


def _delete_manifest(files: list[Path], other: list[Path]) -> None:
    files[0].parent.joinpath("vectors").unlink()


@pytest.mark.parametrize(
    "damage",
    [
        _truncate,
        _flip_a_byte,
        _swap_in_other_snapshot,
        _delete_data,
        _garble_manifest,
        _delete_manifest,
    ],
)
def test_damaged_snapshots_are_refused(make_index, faces, tmp_path: Path, damage) -> None:
    index = make_index()
    index.add(np.arange(500), faces[:500])
    index.save(tmp_path / "other" / "vectors", watermark=1)
    index.remove(np.arange(10))
    index.save(tmp_path / "this" / "vectors", watermark=2)
    files = sorted(p for p in (tmp_path / "this").iterdir() if p.name != "vectors")
    other = sorted(p for p in (tmp_path / "other").iterdir() if p.name != "vectors")

    damage(files, other)

    with pytest.raises(IndexSnapshotError):
        type(index).load(tmp_path / "this" / "vectors")


def test_a_snapshot_of_another_kind_is_refused(faces, tmp_path: Path) -> None:
    exact = ExactIndex()
    exact.add(np.arange(10), faces[:10])
    exact.save(tmp_path / "vectors", watermark=0)

    with pytest.raises(IndexSnapshotError, match="hnsw"):
        HnswIndex.load(tmp_path / "vectors")
    assert len(load_index(tmp_path / "vectors")[0]) == 10


@pytest.fixture(scope="module")
def recall_set() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """20k faces, 200 held-out noisy views of stored identities, their true 10 nearest."""
    faces, identity, centres, sigma = face_like(20_000, seed=1)
    rng = np.random.default_rng(2)
    who = rng.choice(identity, 200)
    queries = centres[who] + rng.standard_normal((200, DESCRIPTOR_DIM)) * sigma
    queries = queries.astype(np.float32)
    return faces, queries, exact_neighbours(faces, queries, 10)


def test_recall_at_10_on_face_like_data(make_index, recall_set) -> None:
    faces, queries, truth = recall_set
    index = make_index()
    index.add(np.arange(len(faces)), faces)

    found, _ = index.search(queries, 10)

    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.99


def test_searches_during_adds_and_removes(make_index, faces: np.ndarray) -> None:
    """4 threads search while 1 adds and removes; a search that starts after a removal
    finished never returns the removed key."""
    index = make_index()
    index.add(np.arange(400), faces[:400])
    removed_done: set[int] = set()
    guard = threading.Lock()
    errors: list[BaseException] = []
    violations: list[int] = []
    stop = threading.Event()

    def write() -> None:
        try:
            next_key = 10_000
            for round_ in range(60):
                gone = np.arange(round_ * 5, round_ * 5 + 5)
                index.remove(gone)
                with guard:
                    removed_done.update(gone.tolist())
                fresh = np.arange(next_key, next_key + 5)
                index.add(fresh, faces[400 + (round_ * 5) % 600 :][:5])
                next_key += 5
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            stop.set()

    def read(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                with guard:
                    known_removed = set(removed_done)
                rows = rng.integers(0, len(faces), 4)
                found, _ = index.search(faces[rows], 20)
                violations.extend(set(found.ravel().tolist()) & known_removed)
        except BaseException as error:  # reported below
            errors.append(error)

    readers = [threading.Thread(target=read, args=(seed,)) for seed in range(4)]
    writer = threading.Thread(target=write)
    for thread in [*readers, writer]:
        thread.start()
    deadline = time.monotonic() + 30
    for thread in [writer, *readers]:
        thread.join(max(0.0, deadline - time.monotonic()))

    assert not errors, errors
    assert not violations
    assert len(index) == 400


def test_a_viewed_hnsw_index_copies_itself_on_first_write(faces, tmp_path: Path) -> None:
    index = HnswIndex()
    index.add(np.arange(500), faces[:500])
    index.save(tmp_path / "vectors", watermark=9)

    viewed, watermark = HnswIndex.load(tmp_path / "vectors", view=True)
    assert viewed.viewed and watermark == 9
    assert viewed.search(faces[:5], 1)[0][:, 0].tolist() == [0, 1, 2, 3, 4]
    viewed.remove(np.array([0]))
    viewed.add(np.array([900]), faces[900:901])

    assert not viewed.viewed and len(viewed) == 500
    assert viewed.search(faces[[0, 900]], 1)[0][:, 0].tolist()[1] == 900
    assert 0 not in viewed


def test_auto_index_switches_to_hnsw_above_its_threshold(faces, tmp_path: Path) -> None:
    index = AutoIndex(switch_at=100)
    index.add(np.arange(100), faces[:100])
    assert index.kind == "exact"

    index.add(np.arange(100, 300), faces[100:300])
    index.save(tmp_path / "vectors", watermark=5)
    loaded, watermark = load_index(tmp_path / "vectors")

    assert index.kind == "hnsw" and loaded.kind == "hnsw" and watermark == 5
    assert index.search(faces[:3], 1)[0][:, 0].tolist() == [0, 1, 2]
    assert len(loaded) == 300


def test_hnsw_params_are_checked() -> None:
    with pytest.raises(InvalidParameterError, match="connectivity"):
        HnswParams(connectivity=1)
    with pytest.raises(InvalidParameterError, match="dtype"):
        HnswParams(dtype="i8")  # type: ignore[arg-type]


def test_the_hnsw_backend_and_onnxruntime_load_in_either_order() -> None:
    """usearch 2.26.2-2.26.6 (static libstdc++) crash onnxruntime when imported first."""
    import subprocess
    import sys

    for first, second in (("usearch", "onnxruntime"), ("onnxruntime", "usearch")):
        run = subprocess.run(
            [sys.executable, "-c", f"import {first}; import {second}"],
            capture_output=True,
            timeout=120,
        )
        assert run.returncode == 0, f"import {first} then {second}: {run.returncode}"
