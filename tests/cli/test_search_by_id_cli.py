"""The CLI's searches by stored face and by user, and `faces list --only`."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.cli.runner import run


def test_search_by_face_id_and_users_by_face_and_user(tmp_path, astronaut):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(astronaut).save(photos / "a1.png")
    Image.fromarray((astronaut * 0.7).astype(np.uint8)).save(photos / "a2.png")
    data = ("--data-dir", tmp_path / "data")
    run("collections", "create", "c", *data, cwd=tmp_path).json()
    run("index", photos, "--collection", "c", "--quiet", *data, cwd=tmp_path).json()
    listed = run("faces", "list", "--collection", "c", *data, cwd=tmp_path).json()
    ids = {face["external_image_id"]: face["face_id"] for face in listed}
    only = run("faces", "list", "--collection", "c", "--only", ids["a1.png"], *data, cwd=tmp_path)
    assert [f["face_id"] for f in only.json()] == [ids["a1.png"]]

    by_id = run("search", "--face-id", ids["a1.png"], "--collection", "c", *data, cwd=tmp_path)
    assert [m["face_id"] for m in by_id.json()] == [ids["a2.png"]]

    created = run("users", "create", "--collection", "c", "--user", "eileen", *data, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    run(
        "users",
        "associate",
        "--collection",
        "c",
        "--user",
        "eileen",
        "--face-ids",
        ids["a2.png"],
        *data,
        cwd=tmp_path,
    ).json()
    by_face = run(
        "users", "search", "--collection", "c", "--face-id", ids["a1.png"], *data, cwd=tmp_path
    )
    assert [m["user_id"] for m in by_face.json()] == ["eileen"]
    by_user = run("users", "search", "--collection", "c", "--user", "eileen", *data, cwd=tmp_path)
    assert by_user.json() == []  # nobody else in the collection

    neither = run("search", "--collection", "c", *data, cwd=tmp_path)
    assert neither.returncode == 2 and "--face-id" in neither.stderr
