"""`facewise collections|index|search|faces|users` end to end: one realistic session of real
subprocesses on real photos, in a throwaway data directory passed with --data-dir.

The session runs once per module, in order (each step depends on the ones before), and keeps
every step's outcome; the tests below read the steps they are about. The photos are the
sample photos installed packages ship (scikit-image's astronaut, Eileen Collins; matplotlib's
Grace Hopper), saved as a folder someone might index: two photos of each person, one of them
edited, a file name with a space, a text file and a truncated JPEG.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from tests.cli.runner import Run, one_line_error, run
from tests.conftest import encode, grace_hopper_path

UNKNOWN_FACE_ID = "11111111-2222-3333-4444-555555555555"
INDEXABLE = {"eileen_1.jpg", "eileen_2.png", "grace_1.jpg", "grace_2.jpg"}  # ExternalImageIds


@dataclass
class Session:
    folder: Path  # the photos indexed
    queries: Path  # photos searched with, never indexed
    data_dir: Path
    cwd: Path
    steps: dict[str, Run] = field(default_factory=dict)
    face_ids: dict[str, str] = field(default_factory=dict)  # ExternalImageId -> FaceId

    def run(self, step: str, *args: object) -> Run:
        outcome = run(*args, "--data-dir", self.data_dir, cwd=self.cwd)
        self.steps[step] = outcome
        return outcome


def write_photos(folder: Path, queries: Path, astronaut: np.ndarray) -> None:
    eileen = Image.fromarray(astronaut)
    grace = Image.open(grace_hopper_path()).convert("RGB")
    flip = Image.Transpose.FLIP_LEFT_RIGHT
    eileen_edited = ImageEnhance.Brightness(eileen.transpose(flip)).enhance(0.75)  # darker
    grace_edited = grace.transpose(flip).rotate(8, fillcolor=(128, 128, 128))  # tilted
    whole_jpeg = grace_hopper_path().read_bytes()
    files = {
        "eileen_1.jpg": encode(np.asarray(eileen), "JPEG", quality=92),
        "eileen_2.png": encode(np.asarray(eileen_edited), "PNG"),
        "grace_1.jpg": whole_jpeg,
        "grace 2.jpg": encode(np.asarray(grace_edited), "JPEG", quality=88),
        "notes.txt": b"who is who: eileen_*, grace*\n",
        "broken.jpg": whole_jpeg[:3000],  # a JPEG cut short
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    # Queries: other crops and tones of the same people.
    eileen_crop = eileen.crop((100, 0, 400, 300)).resize((360, 360))
    grace_lighter = ImageEnhance.Contrast(grace).enhance(1.3).resize((410, 480))
    eileen_crop.save(queries / "eileen_query.jpg", quality=90)
    grace_lighter.save(queries / "grace_query.png")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> Session:
    root = tmp_path_factory.mktemp("collections-cli")
    s = Session(root / "photos", root / "queries", root / "data", root / "cwd")
    for folder in (s.folder, s.queries, s.cwd):
        folder.mkdir()
    write_photos(s.folder, s.queries, astronaut)

    s.run("create", "collections", "create", "staff")
    s.run("create visitors", "collections", "create", "visitors")
    s.run("create again", "collections", "create", "staff")
    s.run("list", "collections", "list")
    s.run("index", "index", s.folder, "--collection", "staff")
    s.run("describe indexed", "collections", "describe", "staff")
    s.run("index again", "index", s.folder, "--collection", "staff", "--quiet")
    listed = s.run("faces list", "faces", "list", "--collection", "staff").json()
    s.face_ids = {face["external_image_id"]: face["face_id"] for face in listed}
    ids = s.face_ids
    s.run("search eileen", "search", s.queries / "eileen_query.jpg", "--collection", "staff")
    s.run("search grace", "search", s.queries / "grace_query.png", "--collection", "staff")

    def users(action: str, *rest: object) -> tuple[object, ...]:
        return ("users", action, "--collection", "staff", *rest)

    s.run("user create", *users("create", "--user", "eileen"))
    eileen_1, eileen_2, grace_1 = ids["eileen_1.jpg"], ids["eileen_2.png"], ids["grace_1.jpg"]
    s.run("associate first", *users("associate", "--user", "eileen", "--face-ids", eileen_1))
    more = ("--face-ids", eileen_2, grace_1)
    s.run("associate more", *users("associate", "--user", "eileen", *more))
    s.run("users list", *users("list"))
    s.run("users search eileen", *users("search", "--image", s.queries / "eileen_query.jpg"))
    s.run("users search grace", *users("search", "--image", s.queries / "grace_query.png"))
    s.run("disassociate", *users("disassociate", "--user", "eileen", "--face-ids", eileen_2))
    s.run("user faces", "faces", "list", "--collection", "staff", "--user", "eileen")
    deleted = (ids["grace_2.jpg"], UNKNOWN_FACE_ID)
    s.run("faces delete", "faces", "delete", *deleted, "--collection", "staff")
    s.run("user delete", *users("delete", "--user", "eileen"))
    s.run("describe after", "collections", "describe", "staff")

    s.run("describe unknown", "collections", "describe", "nope")
    s.run("index unknown", "index", s.folder, "--collection", "nope")
    s.run("delete", "collections", "delete", "staff")
    s.run("list after delete", "collections", "list")
    s.run("search deleted", "search", s.queries / "grace_query.png", "--collection", "staff")
    return s


# --- collections --------------------------------------------------------------------------


def test_create_prints_the_collection_and_its_model(session: Session) -> None:
    assert session.steps["create"].json() == {
        "collection": "staff",
        "face_model_version": "dlib-resnet-v1",
    }


def test_everything_lives_in_the_data_dir_given(session: Session) -> None:
    assert (session.data_dir / "facewise.sqlite3").is_file()
    assert list(session.cwd.iterdir()) == []  # no ./facewise-data next to where it ran


def test_list_prints_the_names_in_order(session: Session) -> None:
    result = session.steps["list"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["staff", "visitors"]


def test_describe_counts_faces_and_users(session: Session) -> None:
    described = session.steps["describe indexed"].json()
    assert described["collection"] == "staff"
    assert (described["faces"], described["users"]) == (4, 0)
    assert described["face_model_version"] == "dlib-resnet-v1"
    assert isinstance(described["created_at_ms"], int) and described["created_at_ms"] > 0


def test_duplicate_collection_is_refused(session: Session) -> None:
    one_line_error(
        session.steps["create again"], "ResourceAlreadyExistsError", "'staff' already exists"
    )


@pytest.mark.parametrize("step", ["describe unknown", "index unknown"])
def test_unknown_collection_is_a_one_line_error(session: Session, step: str) -> None:
    one_line_error(session.steps[step], "ResourceNotFoundError", "collection 'nope' not found")


def test_delete_removes_the_collection_and_only_it(session: Session) -> None:
    result = session.steps["delete"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "deleted staff"
    assert session.steps["list after delete"].stdout.split() == ["visitors"]
    one_line_error(session.steps["search deleted"], "ResourceNotFoundError", "'staff'")


# --- index --------------------------------------------------------------------------------


def test_index_counts_go_to_stdout_and_a_corrupt_photo_fails_the_run(session: Session) -> None:
    result = session.steps["index"]
    assert result.returncode == 1  # broken.jpg failed; the others were still indexed
    assert json.loads(result.stdout) == {
        "indexed": 4,
        "skipped": 0,
        "no face": 0,
        "opted out": 0,
        "failed": 1,
    }


def test_index_reports_progress_and_the_failure_on_stderr(session: Session) -> None:
    stderr = session.steps["index"].stderr
    assert "broken.jpg: InvalidImageFormatError: " in stderr
    assert "5/5" in stderr  # notes.txt is not one of the photos counted
    assert "notes.txt" not in stderr
    assert "Traceback" not in stderr


def test_index_names_faces_after_their_files(session: Session) -> None:
    # "grace 2.jpg" has a space, which an ExternalImageId may not: it becomes "_".
    assert set(session.face_ids) == INDEXABLE
    assert len(set(session.face_ids.values())) == 4


def test_index_again_skips_what_is_indexed(session: Session) -> None:
    result = session.steps["index again"]
    assert result.returncode == 1  # broken.jpg still fails
    assert json.loads(result.stdout) == {
        "indexed": 0,
        "skipped": 4,
        "no face": 0,
        "opted out": 0,
        "failed": 1,
    }
    assert "[" not in result.stderr  # --quiet: no progress bar, only the failure
    assert result.stderr.strip().startswith(f"{session.folder / 'broken.jpg'}: ")
    assert len(session.steps["faces list"].json()) == 4  # the face count is unchanged


# --- search -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "person"), [("search eileen", "eileen_"), ("search grace", "grace_")]
)
def test_search_finds_the_same_person_and_only_them(
    session: Session, step: str, person: str
) -> None:
    matches = session.steps[step].json()
    assert matches, "no match at the default threshold (80)"
    assert matches[0]["external_image_id"].startswith(person)
    same_person = {name for name in INDEXABLE if name.startswith(person)}
    assert {m["external_image_id"] for m in matches} == same_person
    similarities = [m["similarity"] for m in matches]
    assert similarities == sorted(similarities, reverse=True)
    assert all(80.0 <= s <= 100.0 for s in similarities)
    for match in matches:
        assert session.face_ids[match["external_image_id"]] == match["face_id"]
        assert match["user_id"] is None  # searched before any user existed


# --- users --------------------------------------------------------------------------------


def test_user_create_then_associate(session: Session) -> None:
    assert session.steps["user create"].stdout.strip() == "created eileen"
    ids = session.face_ids
    assert session.steps["associate first"].json() == {
        "associated": [ids["eileen_1.jpg"]],
        "failed": [],
        "user_status": "active",
    }


def test_associate_refuses_a_face_unlike_the_users(session: Session) -> None:
    ids = session.face_ids
    result = session.steps["associate more"].json()
    assert result["associated"] == [ids["eileen_2.png"]]
    assert result["failed"] == [
        {"face_id": ids["grace_1.jpg"], "reasons": ["low_match_confidence"]}
    ]
    assert result["user_status"] == "active"


def test_users_list_shows_status_and_face_count(session: Session) -> None:
    assert session.steps["users list"].json() == [
        {"user_id": "eileen", "status": "active", "faces": 2}
    ]


def test_users_search_by_image(session: Session) -> None:
    [match] = session.steps["users search eileen"].json()
    assert match["user_id"] == "eileen" and 80.0 <= match["similarity"] <= 100.0
    assert session.steps["users search grace"].json() == []  # Grace is nobody's face


def test_disassociate_keeps_the_face_in_the_collection(session: Session) -> None:
    ids = session.face_ids
    assert session.steps["disassociate"].json() == {
        "disassociated": [ids["eileen_2.png"]],
        "failed": [],
        "user_status": "active",  # eileen_1.jpg is still hers
    }
    user_faces = session.steps["user faces"].json()
    assert [(f["face_id"], f["user_id"]) for f in user_faces] == [(ids["eileen_1.jpg"], "eileen")]


def test_faces_delete_reports_unknown_ids(session: Session) -> None:
    assert session.steps["faces delete"].json() == {
        "deleted": [session.face_ids["grace_2.jpg"]],
        "not_found": [UNKNOWN_FACE_ID],
    }


def test_user_delete_keeps_its_faces(session: Session) -> None:
    assert session.steps["user delete"].stdout.strip() == "deleted eileen"
    described = session.steps["describe after"].json()
    assert (described["faces"], described["users"]) == (3, 0)  # 4 indexed, 1 deleted
