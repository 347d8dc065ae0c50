"""Accuracy on the labelled photos in ../shared/data/faces (not part of the test suite).

Prints: faces found per manifest photo and per multi-face photo, verification accuracy on
deepface's master.csv and face-recognition-pivot.csv next to the published models, and the
false-match / true-match rates of every Similarity threshold over all manifest pairs (the
numbers docs/similarity.md publishes).

    .venv/bin/python bench/accuracy.py [--data ../shared/data/faces]
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import time
from pathlib import Path

import numpy as np
from PIL import Image

from facewise.errors import InvalidImageFormatError
from facewise.imaging.decode import load_image
from facewise.pipeline.similarity import (
    DISTANCE_AT_80,
    DISTANCE_AT_99,
    distance_for,
    similarity_pct,
)
from facewise.service.faces import default_analyzer

MULTI_FACE_PHOTOS = (
    "deepface/couple.jpg",
    "deepface/selfie-many-people.jpg",
    "deepface/img11_reflection.jpg",
    "facerec/examples_two_people.jpg",
    "facerec/examples_knn_examples_test_obama_and_biden.jpg",
    "facerec/examples_knn_examples_test_kit_with_rose.jpg",
    "facerec/tests_test_images_obama_partial_face.jpg",
    "facerec/tests_test_images_obama_partial_face2.jpg",
    "facerec/tests_test_images_32bit.png",
    "facerec/examples_obama-240p.jpg",
    "facerec/examples_obama-480p.jpg",
    "facerec/examples_obama-720p.jpg",
    "facerec/examples_obama-1080p.jpg",
)
PUBLISHED_PIVOT = {"Facenet": 100.0, "VGG-Face": 97.5, "OpenFace": 74.3, "DeepFace": 70.0}


def read_photo(path: Path) -> np.ndarray:
    """Decode a photo; the one WebP in the set (img47.jpg) is transcoded to PNG first, since
    facewise, like Rekognition, takes only JPEG and PNG."""
    try:
        return load_image(path)
    except InvalidImageFormatError:
        buffer = io.BytesIO()
        Image.open(path).convert("RGB").save(buffer, format="PNG")
        print(f"  (transcoded {path.name} from {Image.open(path).format} to PNG)")
        return load_image(buffer.getvalue())


def embed_all(data: Path, paths: list[str]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    analyzer = default_analyzer()
    embeddings, counts = {}, {}
    for path in paths:
        rgb = read_photo(data / path)
        detections = analyzer.detect(rgb)
        counts[path] = len(detections)
        if detections:
            face = analyzer.analyze(rgb, detections[:1], with_embedding=True)[0]
            embeddings[path] = face.embedding
    return embeddings, counts


def verification(data: Path, csv_name: str, embeddings: dict[str, np.ndarray]) -> None:
    rows = list(csv.DictReader((data / "deepface" / csv_name).open()))
    same, distances = [], []
    for row in rows:
        a = "deepface/" + Path(row["file_x"]).name
        b = "deepface/" + Path(row["file_y"]).name
        decision = row.get("Decision") or row.get("decision")
        same.append(decision == "Yes")
        distances.append(float(np.linalg.norm(embeddings[a] - embeddings[b])))
    same_arr, similarity = np.array(same), np.asarray(similarity_pct(np.array(distances)))
    print(f"\n{csv_name}: {len(rows)} pairs ({same_arr.sum()} same, {(~same_arr).sum()} different)")
    print("| threshold | accuracy | false matches | missed matches |")
    print("|---|---|---|---|")
    for threshold in (80, 90, 95, 99):
        predicted = similarity >= threshold
        accuracy = (predicted == same_arr).mean() * 100
        false_matches = int((predicted & ~same_arr).sum())
        missed = int((~predicted & same_arr).sum())
        print(f"| {threshold} | {accuracy:.1f}% | {false_matches} | {missed} |")


def threshold_rates(manifest: list[dict[str, str]], embeddings: dict[str, np.ndarray]) -> None:
    same, distance = [], []
    for a, b in itertools.combinations(manifest, 2):
        same.append(a["identity"] == b["identity"])
        distance.append(float(np.linalg.norm(embeddings[a["path"]] - embeddings[b["path"]])))
    same_arr, distances = np.array(same), np.array(distance)
    similarity = np.asarray(similarity_pct(distances))
    impostors, genuines = int((~same_arr).sum()), int(same_arr.sum())
    print(f"\nAll manifest pairs: {genuines} same-person, {impostors} different")
    print("| Similarity threshold | distance | false-match rate | true-match rate |")
    print("|---|---|---|---|")
    for threshold in (50, 70, 80, 90, 95, 99, 99.9):
        predicted = similarity >= threshold
        false_matches = int((predicted & ~same_arr).sum())
        true_matches = int((predicted & same_arr).sum())
        print(
            f"| {threshold} | {distance_for(threshold):.3f} "
            f"| {false_matches / impostors * 100:.3f}% ({false_matches}) "
            f"| {true_matches / genuines * 100:.1f}% ({true_matches}) |"
        )
    closest_different = np.sort(distances[~same_arr])[:5]
    farthest_same = np.sort(distances[same_arr])[-5:]
    print(f"closest different-person distances: {np.round(closest_different, 3).tolist()}")
    print(f"farthest same-person distances: {np.round(farthest_same, 3).tolist()}")
    print(f"(calibration anchors: distance {DISTANCE_AT_80} -> 80, {DISTANCE_AT_99} -> 99)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/faces"))
    args = parser.parse_args()
    manifest = list(csv.DictReader((args.data / "manifest.csv").open()))
    started = time.perf_counter()
    embeddings, counts = embed_all(args.data, [r["path"] for r in manifest])
    _, multi_counts = embed_all(args.data, list(MULTI_FACE_PHOTOS))
    print(f"embedded {len(manifest)} photos in {time.perf_counter() - started:.1f} s")
    single = sum(1 for c in counts.values() if c == 1)
    print(f"\nManifest photos with exactly one face: {single}/{len(manifest)}")
    for path, count in counts.items():
        if count != 1:
            print(f"  {path}: {count} faces")
    print("\nMulti-face and special photos:")
    for path, count in multi_counts.items():
        print(f"  {path}: {count} faces")
    verification(args.data, "master.csv", embeddings)
    verification(args.data, "face-recognition-pivot.csv", embeddings)
    print(
        "Published on the pivot pairs: "
        + ", ".join(f"{k} {v}%" for k, v in PUBLISHED_PIVOT.items())
    )
    threshold_rates(manifest, embeddings)


if __name__ == "__main__":
    main()
