"""Which files `facewise index` takes and the ExternalImageIds it gives them."""

from __future__ import annotations

from pathlib import Path

from facewise.cli.collections import external_id_for, image_files


def test_folders_are_walked_and_ids_keep_the_subfolder(tmp_path):
    for relative in ("a/1.jpg", "b/1.jpg", "b/c/2.PNG", "notes.txt", "d/3.gif"):
        path = tmp_path / "photos" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    single = tmp_path / "one photo.jpeg"
    single.write_bytes(b"x")
    found = list(image_files([tmp_path / "photos", single]))
    ids = [external_id_for(relative) for _, relative in found]
    assert ids == ["a:1.jpg", "b:1.jpg", "b:c:2.PNG", "one_photo.jpeg"]
    assert len(set(ids)) == len(ids)  # same file names in different folders stay apart


def test_ids_are_limited_to_rekognitions_characters_and_length():
    assert external_id_for(Path("é/ü ñ.jpg")) == "_:___.jpg"
    assert len(external_id_for(Path("x" * 300 + ".jpg"))) == 255
