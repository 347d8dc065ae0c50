"""Users: creating them, attaching faces, and searching for people rather than photos."""

from __future__ import annotations

import numpy as np
import pytest

from facewise.errors import (
    ConflictError,
    IdempotentParameterMismatchError,
    InvalidPaginationTokenError,
    InvalidParameterError,
    ResourceNotFoundError,
)
from facewise.service.collections import FaceCollections


@pytest.fixture
def faces(tmp_path, analyzer):
    with FaceCollections.open(tmp_path, analyzer=analyzer) as opened:
        opened.create_collection("c")
        yield opened


@pytest.fixture
def people(faces, astronaut, hopper):
    """Two photos of the astronaut and two of Grace Hopper, indexed."""
    ids = {}
    for name, rgb in (
        ("eileen1", astronaut),
        ("eileen2", (astronaut * 0.7).astype(np.uint8)),
        ("grace1", hopper),
        ("grace2", hopper[:, ::-1].copy()),
    ):
        ids[name] = faces.index_faces("c", rgb, external_image_id=name).indexed[0].face.face_id
    return ids


def test_create_list_delete_users(faces):
    for user in ("bob", "alice", "carol"):
        faces.create_user("c", user)
    page = faces.list_users("c", max_results=2)
    rest = faces.list_users("c", max_results=2, next_token=page.next_token)
    assert [u.user_id for u in page.items + rest.items] == ["alice", "bob", "carol"]
    assert rest.next_token is None
    assert all(u.status == "created" and u.face_count == 0 for u in page.items)
    with pytest.raises(ConflictError):
        faces.create_user("c", "bob")
    faces.delete_user("c", "bob")
    with pytest.raises(ResourceNotFoundError):
        faces.delete_user("c", "bob")
    assert faces.describe_collection("c").user_count == 2
    with pytest.raises(InvalidPaginationTokenError):
        faces.list_users("c", next_token="garbage")
    with pytest.raises(InvalidParameterError):
        faces.list_users("c", max_results=501)


def test_client_request_tokens_make_calls_idempotent(faces):
    faces.create_user("c", "dana", client_request_token="token-1")
    faces.create_user("c", "dana", client_request_token="token-1")  # a retry: no error
    with pytest.raises(ConflictError):
        faces.create_user("c", "dana", client_request_token="token-2")
    with pytest.raises(IdempotentParameterMismatchError):
        faces.create_user("c", "erin", client_request_token="token-1")
    with pytest.raises(InvalidParameterError):
        faces.create_user("c", "erin", client_request_token="bad token!")
    assert [u.user_id for u in faces.list_users("c").items] == ["dana"]


@pytest.mark.parametrize("user_id", ["", "has space", "x" * 129, "slash/"])
def test_bad_user_ids(faces, user_id):
    with pytest.raises(InvalidParameterError):
        faces.create_user("c", user_id)


def test_associate_and_disassociate(faces, people):
    faces.create_user("c", "eileen")
    first = faces.associate_faces("c", "eileen", [people["eileen1"]])
    assert first.changed == [people["eileen1"]] and first.user_status == "active"
    missing = "99999999-9999-9999-9999-999999999999"
    second = faces.associate_faces("c", "eileen", [people["eileen2"], people["grace1"], missing])
    assert second.changed == [people["eileen2"]]
    reasons = {f.face_id: f.reasons for f in second.failed}
    assert reasons == {
        people["grace1"]: ("low_match_confidence",),
        missing: ("face_not_found",),
    }
    faces.create_user("c", "grace")
    taken = faces.associate_faces("c", "grace", [people["eileen1"], people["grace1"]])
    assert taken.changed == [people["grace1"]]
    assert taken.failed[0].reasons == ("associated_to_a_different_user",)
    assert taken.failed[0].user_id == "eileen"
    listed = faces.list_faces("c", user_id="eileen").items
    assert {f.face_id for f in listed} == {people["eileen1"], people["eileen2"]}

    released = faces.disassociate_faces("c", "eileen", [people["eileen2"], people["grace1"]])
    assert released.changed == [people["eileen2"]]
    assert released.failed[0].reasons == ("associated_to_a_different_user",)
    assert released.user_status == "active"
    with pytest.raises(ResourceNotFoundError):
        faces.associate_faces("c", "nobody", [people["eileen1"]])


def test_search_users_by_face_user_and_image(faces, people, astronaut, hopper, canvas_people):
    faces.create_user("c", "eileen")
    faces.create_user("c", "grace")
    faces.associate_faces("c", "eileen", [people["eileen1"]])
    faces.associate_faces("c", "grace", [people["grace1"]])

    by_face = faces.search_users("c", face_id=people["eileen2"])
    assert [m.user.user_id for m in by_face.matches] == ["eileen"]
    assert by_face.matches[0].similarity_pct > 90

    faces.create_user("c", "eileen-again")
    faces.associate_faces("c", "eileen-again", [people["eileen2"]])
    by_user = faces.search_users("c", user_id="eileen")
    assert [m.user.user_id for m in by_user.matches] == ["eileen-again"]

    by_image = faces.search_users_by_image("c", hopper[:, ::-1].copy())
    assert [m.user.user_id for m in by_image.matches] == ["grace"]
    assert by_image.unsearched == []
    group = faces.search_users_by_image("c", canvas_people)
    assert [m.user.user_id for m in group.matches] == ["grace"]  # the largest face
    assert [f.reasons for f in group.unsearched] == [("face_not_largest",)]

    with pytest.raises(InvalidParameterError):
        faces.search_users("c")
    with pytest.raises(InvalidParameterError):
        faces.search_users("c", user_id="eileen", face_id=people["eileen1"])


def test_deleting_a_user_keeps_its_faces(faces, people):
    faces.create_user("c", "eileen")
    faces.associate_faces("c", "eileen", [people["eileen1"]])
    faces.delete_user("c", "eileen")
    remaining = faces.list_faces("c", face_ids=[people["eileen1"]]).items
    assert remaining and remaining[0].user_id is None


def test_deleting_a_face_removes_it_from_its_user(faces, people):
    faces.create_user("c", "eileen")
    faces.associate_faces("c", "eileen", [people["eileen1"], people["eileen2"]])
    faces.delete_faces("c", [people["eileen1"]])
    assert [f.face_id for f in faces.list_faces("c", user_id="eileen").items] == [people["eileen2"]]


@pytest.fixture(scope="module")
def canvas_people(astronaut, hopper) -> np.ndarray:
    image = np.full((700, 1400, 3), 200, dtype=np.uint8)
    image[50:562, 60:572] = astronaut
    image[80:680, 800:1312] = hopper
    return image


def test_a_user_holds_at_most_100_faces_counting_only_new_ones(faces):
    """Faces already on the user do not count again towards the limit of 100."""
    from facewise.store.records import NewFace

    record = faces.context.store.collection("default", "c")
    rng = np.random.default_rng(7)
    base = rng.normal(size=128).astype(np.float32) * 0.1
    batch = [
        NewFace(
            "img",
            None,
            (0.1, 0.1, 0.2, 0.2),
            0.99,
            base + rng.normal(size=128).astype(np.float32) * 0.005,
        )
        for _ in range(101)
    ]
    stored = [f.face_id for f in faces.context.store.add_faces(record, batch)]
    faces.create_user("c", "many")
    faces.associate_faces("c", "many", stored[:99])
    result = faces.associate_faces("c", "many", [stored[0], stored[99]])
    assert result.changed == [stored[0], stored[99]]
    with pytest.raises(InvalidParameterError, match="more than 100"):
        faces.associate_faces("c", "many", [stored[100]])
