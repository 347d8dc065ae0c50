r"""Identification (1:N search) on the labelled photos, leave-one-out (not part of the tests).

Indexes every photo of ../shared/data/faces/manifest.csv into a fresh collection (largest
face only, the default AUTO quality filter, ExternalImageId "<identity>:<row>"), then
searches the collection once per photo with that photo's own face left out, through the
library API, and prints a Markdown table:

- rank-1: the top match is another photo of the same person (only photos whose person has
  another photo in the set can be identified; the others are counted apart);
- wrong person on top, nothing returned: the two ways rank-1 fails;
- same-person matches: returned / possible (every other photo of the person);
- different-person matches: how many came back, and in how many searches.

``search_faces`` (by FaceId, which excludes the face itself) is the main measure;
``search_faces_by_image`` on the photo, minus the photo's own FaceId, is the cross-check: it
re-detects and re-embeds the photo, so it should agree result for result.

    cd bench && PYTHONPATH=../src ../.venv/bin/python identification.py \
        --data ../../shared/data/faces
"""

from __future__ import annotations

import argparse
import csv
import io
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from facewise.service.collections import MAX_SEARCH_RESULTS, FaceCollections
from facewise.service.faces import default_analyzer
from facewise.service.results import FaceSearchMatch

COLLECTION = "identification"


@dataclass(frozen=True)
class Photo:
    path: str
    identity: str
    face_id: str


@dataclass
class Tally:
    """One row of the table: every search of one kind at one threshold."""

    searches: int = 0
    identifiable: int = 0  # searches whose person has another indexed photo
    rank1: int = 0
    wrong_on_top: int = 0
    nothing: int = 0
    same_found: int = 0
    same_possible: int = 0
    different: int = 0
    searches_with_different: int = 0

    def add(self, photo: Photo, matches: list[FaceSearchMatch], others: int, who: dict) -> None:
        identities = [who[m.face.face_id] for m in matches]
        same = sum(1 for identity in identities if identity == photo.identity)
        different = len(identities) - same
        self.searches += 1
        self.same_found += same
        self.same_possible += others
        self.different += different
        self.searches_with_different += different > 0
        if others:
            self.identifiable += 1
            if not identities:
                self.nothing += 1
            elif identities[0] == photo.identity:
                self.rank1 += 1
            else:
                self.wrong_on_top += 1

    def row(self, search: str, threshold: float) -> str:
        def share(part: int, whole: int) -> str:
            return f"{part / whole * 100:.1f}% ({part}/{whole})" if whole else "-"

        return (
            f"| {search} | {threshold:g} | {share(self.rank1, self.identifiable)} "
            f"| {self.wrong_on_top} | {self.nothing} "
            f"| {share(self.same_found, self.same_possible)} "
            f"| {self.different} | {self.searches_with_different} of {self.searches} |"
        )


def photo_bytes(path: Path) -> bytes:
    """The file's bytes; a photo that is not JPEG or PNG (img47.jpg is a WebP) is transcoded
    to PNG, since facewise, like Rekognition, takes only those two (as accuracy.py does)."""
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        if image.format in ("JPEG", "MPO", "PNG"):
            return data
        print(f"(transcoded {path.name} from {image.format} to PNG)")
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG")
        return buffer.getvalue()


def index_all(
    faces: FaceCollections, data: Path, manifest: list[dict[str, str]], quality_filter: str
) -> tuple[list[Photo], dict[str, bytes]]:
    photos, images = [], {}
    for number, row in enumerate(manifest):
        images[row["path"]] = photo_bytes(data / row["path"])
        result = faces.index_faces(
            COLLECTION,
            images[row["path"]],
            external_image_id=f"{row['identity']}:{number}",
            max_faces=1,
            quality_filter=quality_filter,
        )
        if not result.indexed:
            reasons = sorted({r for face in result.unindexed for r in face.reasons})
            print(f"not indexed: {row['path']} ({', '.join(reasons) or 'no face found'})")
            continue
        photos.append(Photo(row["path"], row["identity"], result.indexed[0].face.face_id))
    return photos, images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../../shared/data/faces"))
    parser.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=[80.0, 99.0],
        help="FaceMatchThreshold values to report (default 80 99)",
    )
    parser.add_argument(
        "--quality-filter",
        default="AUTO",
        help="QualityFilter when indexing (default AUTO, IndexFaces' default)",
    )
    args = parser.parse_args()
    manifest = list(csv.DictReader((args.data / "manifest.csv").open()))

    with (
        tempfile.TemporaryDirectory() as data_dir,
        FaceCollections.open(data_dir, analyzer=default_analyzer()) as faces,
    ):
        faces.create_collection(COLLECTION)
        started = time.perf_counter()
        photos, images = index_all(faces, args.data, manifest, args.quality_filter)
        indexing_s = time.perf_counter() - started
        who = {photo.face_id: photo.identity for photo in photos}
        per_person = Counter(photo.identity for photo in photos)

        by_id = {t: Tally() for t in args.thresholds}
        by_image = {t: Tally() for t in args.thresholds}
        closed_set = Tally()  # threshold 0: the nearest face, however far
        disagreements = 0
        started = time.perf_counter()
        for photo in photos:
            others = per_person[photo.identity] - 1
            nearest = faces.search_faces(
                COLLECTION, photo.face_id, face_match_threshold=0, max_faces=MAX_SEARCH_RESULTS
            )
            closed_set.add(photo, nearest.matches, others, who)
            for threshold in args.thresholds:
                found = faces.search_faces(
                    COLLECTION,
                    photo.face_id,
                    face_match_threshold=threshold,
                    max_faces=MAX_SEARCH_RESULTS,
                ).matches
                by_id[threshold].add(photo, found, others, who)
                again = faces.search_faces_by_image(
                    COLLECTION,
                    images[photo.path],
                    face_match_threshold=threshold,
                    max_faces=MAX_SEARCH_RESULTS,
                ).matches
                again = [m for m in again if m.face.face_id != photo.face_id]
                by_image[threshold].add(photo, again, others, who)
                if [m.face.face_id for m in again] != [m.face.face_id for m in found]:
                    disagreements += 1
        searching_s = time.perf_counter() - started

    alone = sorted(identity for identity, count in per_person.items() if count == 1)
    print(
        f"\n{len(photos)} of {len(manifest)} photos indexed ({len(per_person)} people) "
        f"in {indexing_s:.1f} s; searches took {searching_s:.1f} s"
    )
    print(
        f"{len(alone)} photo(s) whose person has no other photo, searched but not identifiable: "
        + (", ".join(alone) or "none")
    )
    print(
        "\n| search | FaceMatchThreshold | rank-1 identified | wrong person on top "
        "| nothing returned | same-person matches | different-person matches "
        "| searches with a different-person match |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for threshold in args.thresholds:
        print(by_id[threshold].row("search_faces (FaceId)", threshold))
    for threshold in args.thresholds:
        print(by_image[threshold].row("search_faces_by_image, own face removed", threshold))
    print(
        f"\nClosed-set rank-1 (the nearest face whatever its Similarity): "
        f"{closed_set.rank1} of {closed_set.identifiable}"
    )
    searches = len(photos) * len(args.thresholds)
    print(
        f"search_faces_by_image returned the same FaceIds in the same order as search_faces "
        f"in {searches - disagreements} of {searches} searches."
    )


if __name__ == "__main__":
    main()
