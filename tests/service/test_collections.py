"""Collections, faces and face search through the library, on real photos and real SQLite."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facewise.errors import (
    InvalidPaginationTokenError,
    InvalidParameterError,
    ResourceAlreadyExistsError,
    ResourceNotFoundError,
)
from facewise.service.collections import FACE_MODEL_VERSION, FaceCollections


@pytest.fixture
def faces(tmp_path, analyzer):
    with FaceCollections.open(tmp_path, analyzer=analyzer) as opened:
        yield opened


@pytest.fixture(scope="module")
def canvas(astronaut, hopper) -> np.ndarray:
    image = np.full((700, 1400, 3), 200, dtype=np.uint8)
    image[50:562, 60:572] = astronaut
    image[80:680, 800:1312] = hopper
    return image


def test_collection_lifecycle(faces):
    created = faces.create_collection("staff", tags={"team": "door"})
    assert created.name == "staff" and created.face_model_version == FACE_MODEL_VERSION
    assert created.tags == {"team": "door"}
    info = faces.describe_collection("staff")
    assert (info.face_count, info.user_count) == (0, 0)
    assert info.record.created_at_ms == created.created_at_ms
    with pytest.raises(ResourceAlreadyExistsError):
        faces.create_collection("staff")
    faces.delete_collection("staff")
    with pytest.raises(ResourceNotFoundError):
        faces.describe_collection("staff")
    with pytest.raises(ResourceNotFoundError):
        faces.delete_collection("staff")


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", InvalidParameterError),
        ("has space", InvalidParameterError),
        ("x" * 256, InvalidParameterError),
        ("slash/name", InvalidParameterError),
        (42, InvalidParameterError),
    ],
)
def test_bad_collection_names(faces, name, error):
    with pytest.raises(error):
        faces.create_collection(name)


@pytest.mark.parametrize(
    "tags", [{"": "x"}, {"aws:owner": "x"}, {"k": 3}, {f"k{i}": "v" for i in range(201)}, "a=b"]
)
def test_bad_tags(faces, tags):
    with pytest.raises(InvalidParameterError):
        faces.create_collection("tagged", tags=tags)


def test_list_collections_pages(faces):
    for name in ("e", "a", "d", "c", "b"):
        faces.create_collection(name)
    names, token, pages = [], None, 0
    while True:
        page = faces.list_collections(max_results=2, next_token=token)
        names += [r.name for r in page.items]
        pages += 1
        token = page.next_token
        if token is None:
            break
    assert names == ["a", "b", "c", "d", "e"] and pages == 3
    assert [r.name for r in faces.list_collections().items] == names
    with pytest.raises(InvalidPaginationTokenError):
        faces.list_collections(next_token="not-a-token!")
    with pytest.raises(InvalidParameterError):
        faces.list_collections(max_results=5000)


def test_accounts_do_not_see_each_other(faces):
    faces.create_collection("shared-name")
    other = faces.for_account("other")
    assert other.list_collections().items == []
    with pytest.raises(ResourceNotFoundError):
        other.describe_collection("shared-name")
    other.create_collection("shared-name")  # the same name is free in another account
    assert faces.describe_collection("shared-name").record.account == "default"


def test_index_and_search_by_image(faces, astronaut, hopper):
    faces.create_collection("people")
    first = faces.index_faces("people", astronaut, external_image_id="eileen.jpg")
    assert len(first.indexed) == 1 and first.unindexed == []
    face = first.indexed[0].face
    assert face.external_image_id == "eileen.jpg" and 0.99 < face.confidence <= 1.0
    left, top, width, height = face.box_ratio
    assert 0.2 < height < 0.3
    assert 0.3 < left < 0.4 and 0.1 < top < 0.15 and 0.15 < width < 0.2
    faces.index_faces("people", hopper, external_image_id="grace")
    assert faces.describe_collection("people").face_count == 2

    result = faces.search_faces_by_image("people", astronaut[:, ::-1].copy())
    assert [m.face.face_id for m in result.matches] == [face.face_id]
    assert result.matches[0].similarity_pct > 90
    assert result.searched_face is not None and result.searched_face.score > 0.99
    # The same photo is ~100 to itself; the two women are ~49 apart (measured: 99.999, 48.6).
    strict = faces.search_faces_by_image("people", hopper, face_match_threshold=99.9)
    assert [m.face.external_image_id for m in strict.matches] == ["grace"]
    assert strict.matches[0].similarity_pct >= 99.9
    # 40 is below the account's floor (90 by default): it is raised, and Eileen stays out.
    raised = faces.search_faces_by_image("people", hopper, face_match_threshold=40)
    assert [m.face.external_image_id for m in raised.matches] == ["grace"]
    faces.set_account_floor(0)  # an admin lowers the floor: 40 now applies
    loose = faces.search_faces_by_image("people", hopper, face_match_threshold=40)
    assert [m.face.external_image_id for m in loose.matches] == ["grace", "eileen.jpg"]
    assert 40 <= loose.matches[1].similarity_pct < 60


def test_index_faces_max_faces_and_quality(faces, canvas, astronaut):
    faces.create_collection("group")
    result = faces.index_faces("group", canvas, max_faces=1)
    assert len(result.indexed) == 1 and len(result.unindexed) == 1
    assert result.unindexed[0].reasons == ("exceeds_max_faces",)
    assert result.indexed[0].detail.box_xyxy[0] > 700  # the larger face: Grace Hopper
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 6)
    strict = faces.index_faces("group", blurred, quality_filter="HIGH")
    assert strict.indexed == [] and "low_sharpness" in strict.unindexed[0].reasons
    lenient = faces.index_faces("group", blurred, quality_filter="NONE")
    assert len(lenient.indexed) == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"external_image_id": "bad id"}, InvalidParameterError),
        ({"max_faces": 0}, InvalidParameterError),
        ({"quality_filter": "BEST"}, InvalidParameterError),
        ({"detection_attributes": ["NOPE"]}, InvalidParameterError),
    ],
)
def test_index_faces_rejects_bad_options(faces, astronaut, kwargs, error):
    faces.create_collection("c")
    with pytest.raises(error):
        faces.index_faces("c", astronaut, **kwargs)
    assert faces.describe_collection("c").face_count == 0


def test_index_into_unknown_collection(faces, astronaut):
    with pytest.raises(ResourceNotFoundError):
        faces.index_faces("nope", astronaut)


def test_search_faces_by_id_excludes_itself(faces, astronaut, hopper):
    faces.create_collection("c")
    original = faces.index_faces("c", astronaut).indexed[0].face
    darker = faces.index_faces("c", (astronaut * 0.6).astype(np.uint8)).indexed[0].face
    faces.index_faces("c", hopper)
    result = faces.search_faces("c", original.face_id)
    assert [m.face.face_id for m in result.matches] == [darker.face_id]
    assert result.searched_face_id == original.face_id
    faces.set_policy("c", min_threshold=0)  # this collection's floor: none
    everyone = faces.search_faces("c", original.face_id, face_match_threshold=0, max_faces=5)
    assert len(everyone.matches) == 2
    assert everyone.matches[0].similarity_pct >= everyone.matches[1].similarity_pct
    with pytest.raises(ResourceNotFoundError):
        faces.search_faces("c", "00000000-0000-0000-0000-000000000000")
    with pytest.raises(InvalidParameterError):
        faces.search_faces("c", "not-a-face-id")
    with pytest.raises(InvalidParameterError):
        faces.search_faces("c", original.face_id, max_faces=4097)
    with pytest.raises(InvalidParameterError):
        faces.search_faces("c", original.face_id, face_match_threshold=101)


def test_list_and_delete_faces(faces, astronaut, canvas):
    faces.create_collection("c")
    faces.index_faces("c", canvas)
    faces.index_faces("c", astronaut)
    all_faces = faces.list_faces("c").items
    assert len(all_faces) == 3
    assert [f.face_id for f in all_faces] == sorted(f.face_id for f in all_faces)
    first_page = faces.list_faces("c", max_results=2)
    second_page = faces.list_faces("c", max_results=2, next_token=first_page.next_token)
    assert [f.face_id for f in first_page.items + second_page.items] == [
        f.face_id for f in all_faces
    ]
    assert second_page.next_token is None
    with pytest.raises(InvalidPaginationTokenError):
        faces.list_collections(next_token=first_page.next_token)  # a token of another listing
    chosen = faces.list_faces("c", face_ids=[all_faces[1].face_id]).items
    assert [f.face_id for f in chosen] == [all_faces[1].face_id]

    unknown = "11111111-2222-3333-4444-555555555555"
    result = faces.delete_faces("c", [all_faces[0].face_id, unknown])
    assert result.deleted == [all_faces[0].face_id]
    assert [(f.face_id, f.reasons) for f in result.failed] == [(unknown, ("face_not_found",))]
    assert faces.describe_collection("c").face_count == 2
    faces.set_policy("c", min_threshold=0)  # every face left is a hit at 0
    hits = faces.search_faces_by_image("c", astronaut, face_match_threshold=0).matches
    assert all_faces[0].face_id not in {m.face.face_id for m in hits}
    with pytest.raises(InvalidParameterError):
        faces.delete_faces("c", [])


def test_search_by_image_without_a_face(faces, astronaut):
    faces.create_collection("c")
    faces.index_faces("c", astronaut)
    with pytest.raises(InvalidParameterError, match="no face"):
        faces.search_faces_by_image("c", np.full((200, 200, 3), 90, dtype=np.uint8))


def test_store_survives_reopening(tmp_path, analyzer, astronaut):
    with FaceCollections.open(tmp_path, analyzer=analyzer) as first:
        first.create_collection("kept")
        face = first.index_faces("kept", astronaut).indexed[0].face
    with FaceCollections.open(tmp_path, analyzer=analyzer) as again:
        assert again.describe_collection("kept").face_count == 1
        hits = again.search_faces_by_image("kept", astronaut).matches
        assert [m.face.face_id for m in hits] == [face.face_id]


def test_deleting_a_collection_removes_its_faces(faces, astronaut):
    faces.create_collection("gone")
    faces.index_faces("gone", astronaut)
    faces.delete_collection("gone")
    faces.create_collection("gone")
    assert faces.describe_collection("gone").face_count == 0
    assert faces.search_faces_by_image("gone", astronaut).matches == []


def test_tags_change_atomically_and_within_limits(tmp_path, analyzer) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from facewise.errors import InvalidParameterError
    from facewise.service.collections import FaceCollections

    with FaceCollections.open(tmp_path, analyzer) as faces:
        faces.create_collection("tagged", tags={"a": "1"})
        faces.tag_collection("tagged", {"b": "2"})
        faces.untag_collection("tagged", ["a", "absent"])
        assert faces.collection_tags("tagged") == {"b": "2"}
        with pytest.raises(InvalidParameterError):
            faces.tag_collection("tagged", {f"k{i}": "v" for i in range(200)})
        assert faces.collection_tags("tagged") == {"b": "2"}
