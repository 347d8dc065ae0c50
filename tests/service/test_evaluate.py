"""Error rates on labelled photos (service/evaluate.py): exact counts with the fake analyzer,
real properties on real photos (edits of scikit-image's astronaut and matplotlib's Grace
Hopper), and bad input refused with InvalidParameterError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from facewise.errors import InvalidParameterError
from facewise.pipeline.analyzer import FaceAnalyzer
from facewise.service.evaluate import (
    REPORTED_THRESHOLDS_PCT,
    EvaluationResult,
    Scope,
    det_curve,
    det_curves,
    error_rates,
    evaluate,
    labelled_folder,
    labelled_manifest,
)
from tests.conftest import encode, grace_hopper_path
from tests.fakes.analyzer import FakeAnalyzer, People

# --- the arithmetic ------------------------------------------------------------------------


def test_error_rates_count_at_or_above_as_a_match() -> None:
    similarity = np.array([99.0, 85.0, 70.0, 92.0, 50.0, 10.0, 5.0])
    genuine = np.array([True, True, True, False, False, False, False])
    rates = error_rates(similarity, genuine, (80.0, 92.0, 95.0, 99.0))
    assert [(r.false_matches, r.impostor_pairs) for r in rates] == [(1, 4), (1, 4), (0, 4), (0, 4)]
    assert [(r.false_non_matches, r.genuine_pairs) for r in rates] == [
        (1, 3),
        (2, 3),
        (2, 3),
        (2, 3),
    ]
    assert rates[0].false_match_rate == 0.25
    assert rates[0].false_non_match_rate == pytest.approx(1 / 3)


def test_a_rate_without_pairs_of_its_kind_is_none() -> None:
    (rate,) = error_rates(np.array([30.0, 40.0]), np.array([False, False]), (80.0,))
    assert rate.false_match_rate == 0.0
    assert rate.false_non_match_rate is None


def test_det_curve_runs_from_everything_matching_to_nothing_matching() -> None:
    rng = np.random.default_rng(7)
    genuine = np.array([True] * 30 + [False] * 200)
    similarity = np.where(genuine, rng.uniform(60, 100, 230), rng.uniform(0, 85, 230))
    points = det_curve(similarity, genuine)
    assert (points[0].false_match_rate, points[0].false_non_match_rate) == (1.0, 0.0)
    assert (points[-1].false_match_rate, points[-1].false_non_match_rate) == (0.0, 1.0)
    fmr = [p.false_match_rate for p in points]
    fnmr = [p.false_non_match_rate for p in points]
    assert fmr == sorted(fmr, reverse=True)
    assert fnmr == sorted(fnmr)
    assert len(points) == len(np.unique(similarity)) + 1
    # Each point agrees with error_rates at its own threshold.
    for point in points[::25]:
        (at,) = error_rates(similarity, genuine, (point.threshold_pct,))
        assert at.false_match_rate == point.false_match_rate
        assert at.false_non_match_rate == point.false_non_match_rate


def test_det_curve_needs_both_kinds_of_pair() -> None:
    assert det_curve(np.array([10.0, 20.0]), np.array([False, False])) == ()


# --- exact counts with the fake analyzer ---------------------------------------------------

# Similarity to "ann": ann_twin is her other photo, cat a different person who looks alike.
PEOPLE = People.at_similarities(ann=100, ann_twin=97, bob=40, cat=92)
FOLDER = {  # file -> the fake face it shows
    "ann/a.png": "ann",
    "ann/b.png": "ann_twin",
    "bob/1.png": "bob",
    "bob/2.png": "bob",
    "cat/c.png": "cat",
}
LIGHT = {"ann/a.png": "day", "ann/b.png": "night", "bob/1.png": "day", "bob/2.png": "night"}


def write_fake_folder(root: Path) -> Path:
    for name, person in FOLDER.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(encode(PEOPLE.photo(person), "PNG"))
    (root / "bob" / "blank.png").write_bytes(encode(np.zeros((200, 200, 3), np.uint8), "PNG"))
    (root / "cat" / "notes.txt").write_text("cat is not ann\n")
    (root / "cat" / "really-webp.jpg").write_bytes(encode(PEOPLE.photo("cat"), "WEBP"))
    (root / "README.txt").write_text("one folder per person\n")
    return root


def write_manifest(root: Path, rows: list[str]) -> Path:
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


@pytest.fixture
def fake_folder(tmp_path: Path) -> Path:
    return write_fake_folder(tmp_path / "people")


def test_folder_rates_count_every_pair(fake_folder: Path) -> None:
    result = evaluate(labelled_folder(fake_folder), FakeAnalyzer(PEOPLE), floor_pct=93.0)
    assert [str(p.path) for p in result.photos] == sorted(FOLDER)
    overall = result.overall
    assert (overall.photos, overall.identities) == (5, 3)
    assert (overall.genuine_pairs, overall.impostor_pairs) == (2, 8)
    # ann-cat (92) is the one impostor above 80; ann's two photos (97) miss at 99.
    table = {r.threshold_pct: (r.false_matches, r.false_non_matches) for r in result.overall.rates}
    assert table == {80.0: (1, 0), 90.0: (1, 0), 93.0: (0, 0), 95.0: (0, 0), 99.0: (0, 1)}
    assert overall.highest_impostor_pct == pytest.approx(92.0, abs=1e-3)
    assert overall.lowest_genuine_pct == pytest.approx(97.0, abs=1e-3)
    assert result.groups == ()
    assert result.floor_pct == 93.0
    reasons = {str(s.path): s.reason for s in result.skipped}
    assert reasons == {
        "README.txt": "not inside an identity's sub-folder",
        "bob/blank.png": "no face found",
        "cat/notes.txt": reasons["cat/notes.txt"],
        "cat/really-webp.jpg": "image must be JPEG or PNG, found WebP",
    }
    assert "JPEG or PNG" in reasons["cat/notes.txt"]


def test_floor_equal_to_a_reported_threshold_is_one_row(fake_folder: Path) -> None:
    result = evaluate(labelled_folder(fake_folder), FakeAnalyzer(PEOPLE), floor_pct=90.0)
    assert [r.threshold_pct for r in result.overall.rates] == list(REPORTED_THRESHOLDS_PCT)


def test_manifest_groups_give_rows_per_group_and_for_mixed_pairs(fake_folder: Path) -> None:
    rows = ["path,identity,light"] + [
        f"{p},{p.split('/')[0]},{LIGHT.get(p, 'day')}" for p in FOLDER
    ]
    labelled = labelled_manifest(fake_folder, write_manifest(fake_folder, rows), "light")
    result = evaluate(labelled, FakeAnalyzer(PEOPLE), floor_pct=90.0)
    assert result.group_by == "light"
    rows_by_label = {g.label: g for g in result.groups}
    assert list(rows_by_label) == ["day", "night", "mixed"]
    day, night, mixed = rows_by_label["day"], rows_by_label["night"], rows_by_label["mixed"]
    assert (day.scope, day.photos, day.genuine_pairs, day.impostor_pairs) == (
        Scope.GROUP,
        3,
        0,
        3,
    )
    assert (night.photos, night.genuine_pairs, night.impostor_pairs) == (2, 0, 1)
    assert (mixed.scope, mixed.genuine_pairs, mixed.impostor_pairs) == (Scope.MIXED, 2, 4)
    # Every pair is in exactly one row.
    total = sum(g.genuine_pairs + g.impostor_pairs for g in result.groups)
    assert total == result.overall.genuine_pairs + result.overall.impostor_pairs == 10
    assert day.rates[0].false_matches == 1  # ann-cat, both photographed by day
    assert day.rates[0].false_non_match_rate is None  # no same-person pair by day
    curves = det_curves(result)
    assert [c.rates.label for c in curves] == ["all", "day", "night", "mixed"]
    assert [bool(c.points) for c in curves] == [True, False, False, True]


def test_a_group_of_one_photo_has_a_row_without_pairs(fake_folder: Path) -> None:
    rows = [
        "path,identity,camera",
        "ann/a.png,ann,door",
        "bob/1.png,bob,door",
        "cat/c.png,cat,gate",
    ]
    labelled = labelled_manifest(fake_folder, write_manifest(fake_folder, rows), "camera")
    result = evaluate(labelled, FakeAnalyzer(PEOPLE), floor_pct=90.0)
    gate = next(g for g in result.groups if g.label == "gate")
    assert (gate.photos, gate.identities, gate.genuine_pairs, gate.impostor_pairs) == (1, 1, 0, 0)
    assert gate.rates[0].false_match_rate is None
    assert gate.highest_impostor_pct is None


def test_the_largest_face_stands_for_a_photo(tmp_path: Path) -> None:
    root = tmp_path / "people"
    for name, faces in {"ann/group.png": ("ann", "bob"), "bob/1.png": ("bob",)}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(encode(PEOPLE.photo(*faces), "PNG"))
    result = evaluate(labelled_folder(root), FakeAnalyzer(PEOPLE), floor_pct=90.0)
    assert [p.faces_found for p in result.photos] == [2, 1]
    assert result.overall.highest_impostor_pct == pytest.approx(40.0, abs=1e-3)  # ann, not bob


def test_manifest_skips_repeated_paths_and_blank_identities(fake_folder: Path) -> None:
    rows = ["identity,path", "ann,ann/a.png", "bob,bob/1.png", "ann,ann/a.png", ",cat/c.png"]
    labelled = labelled_manifest(fake_folder, write_manifest(fake_folder, rows))
    assert [str(p.path) for p in labelled.photos] == ["ann/a.png", "bob/1.png"]
    assert [(str(s.path), s.reason) for s in labelled.skipped] == [
        ("ann/a.png", "listed again on line 4"),
        ("cat/c.png", "no identity on manifest line 5"),
    ]


# --- refused input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "rows", "group_by", "message"),
    [
        ("one identity", ["path,identity", "ann/a.png,ann", "ann/b.png,ann"], None, "2 identities"),
        ("no identity column", ["path,who", "ann/a.png,ann", "bob/1.png,bob"], None, "identity"),
        ("no path column", ["file,identity", "ann/a.png,ann"], None, "path"),
        ("empty manifest", [], None, "nothing"),
        ("unknown group", ["path,identity", "ann/a.png,ann", "bob/1.png,bob"], "light", "light"),
        ("missing photo", ["path,identity", "ann/a.png,ann", "bob/9.png,bob"], None, "bob/9.png"),
    ],
)
def test_bad_manifests_are_refused(
    fake_folder: Path, case: str, rows: list[str], group_by: str | None, message: str
) -> None:
    manifest = write_manifest(fake_folder, rows)
    with pytest.raises(InvalidParameterError, match=message):
        labelled_manifest(fake_folder, manifest, group_by)


def test_missing_folder_and_manifest_are_refused(tmp_path: Path, fake_folder: Path) -> None:
    with pytest.raises(InvalidParameterError, match="no such folder"):
        labelled_folder(tmp_path / "nowhere")
    with pytest.raises(InvalidParameterError, match="no such folder"):
        labelled_manifest(tmp_path / "nowhere", fake_folder / "manifest.csv")
    with pytest.raises(InvalidParameterError, match="no such manifest"):
        labelled_manifest(fake_folder, fake_folder / "manifest.csv")


def test_a_folder_of_one_person_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "a.png").write_bytes(encode(PEOPLE.photo("ann"), "PNG"))
    with pytest.raises(InvalidParameterError, match="at least 2 identities, found 1"):
        labelled_folder(tmp_path)


def test_too_few_identities_left_after_skipping_is_refused(tmp_path: Path) -> None:
    for name, rgb in {
        "ann/a.png": PEOPLE.photo("ann"),
        "bob/blank.png": np.zeros((200, 200, 3), np.uint8),
    }.items():
        (tmp_path / name).parent.mkdir(parents=True)
        (tmp_path / name).write_bytes(encode(rgb, "PNG"))
    with pytest.raises(InvalidParameterError, match="after skipping"):
        evaluate(labelled_folder(tmp_path), FakeAnalyzer(PEOPLE), floor_pct=90.0)


@pytest.mark.parametrize("floor", [-1.0, 100.5, float("nan")])
def test_a_floor_outside_0_to_100_is_refused(fake_folder: Path, floor: float) -> None:
    with pytest.raises(InvalidParameterError, match="floor"):
        evaluate(labelled_folder(fake_folder), FakeAnalyzer(PEOPLE), floor_pct=floor)


# --- real photos ---------------------------------------------------------------------------

VARIANTS = {  # file -> group ("original" or "edited")
    "eileen/original.jpg": "original",
    "eileen/mirrored-darker.png": "edited",
    "eileen/cropped.jpg": "edited",
    "grace/original.jpg": "original",
    "grace/mirrored-tilted.jpg": "edited",
    "grace/half-size.png": "edited",
}


def write_labelled_photos(root: Path, astronaut: np.ndarray) -> Path:
    """Three photos each of Eileen Collins and Grace Hopper (the original and two edits),
    a WebP named .jpg, and a photo of nobody; plus manifest.csv with a `variant` column."""
    eileen = Image.fromarray(astronaut)
    grace = Image.open(grace_hopper_path()).convert("RGB")
    flip = Image.Transpose.FLIP_LEFT_RIGHT
    files = {
        "eileen/original.jpg": encode(eileen, "JPEG", quality=92),
        "eileen/mirrored-darker.png": encode(
            ImageEnhance.Brightness(eileen.transpose(flip)).enhance(0.75), "PNG"
        ),
        "eileen/cropped.jpg": encode(
            eileen.crop((100, 0, 400, 300)).resize((360, 360)), "JPEG", quality=90
        ),
        "grace/original.jpg": grace_hopper_path().read_bytes(),
        "grace/mirrored-tilted.jpg": encode(
            grace.transpose(flip).rotate(8, fillcolor=(128, 128, 128)), "JPEG", quality=88
        ),
        "grace/half-size.png": encode(grace.resize((256, 300)), "PNG"),
        "grace/webp-in-disguise.jpg": encode(grace, "WEBP"),
        "eileen/sky.png": encode(np.full((240, 320, 3), (90, 140, 220), np.uint8), "PNG"),
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    rows = ["path,identity,variant"]
    rows += [f"{path},{path.split('/')[0]},{variant}" for path, variant in VARIANTS.items()]
    write_manifest(root, rows)
    return root


@pytest.fixture(scope="module")
def real_result(
    tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray, analyzer: FaceAnalyzer
) -> EvaluationResult:
    root = write_labelled_photos(tmp_path_factory.mktemp("labelled"), astronaut)
    return evaluate(labelled_folder(root), analyzer, floor_pct=90.0)


def test_real_photos_of_one_person_score_high_and_of_two_people_low(
    real_result: EvaluationResult,
) -> None:
    overall = real_result.overall
    assert (overall.photos, overall.identities) == (6, 2)
    assert (overall.genuine_pairs, overall.impostor_pairs) == (6, 9)  # 3+3 same, 3x3 different
    pairs = real_result.pairs
    assert len(pairs.similarity_pct) == 15
    # Edits of one photo: measured 99.97-100 (the same face each time); Eileen against
    # Grace measured 47-59.
    assert pairs.similarity_pct[pairs.genuine].min() > 99.5
    assert pairs.similarity_pct[~pairs.genuine].max() < 70.0
    for at in overall.rates:
        assert at.false_matches <= at.impostor_pairs == 9
        assert at.false_non_matches <= at.genuine_pairs == 6
        assert at.false_match_rate is not None and 0.0 <= at.false_match_rate <= 1.0
        assert at.false_non_match_rate is not None and 0.0 <= at.false_non_match_rate <= 1.0
    assert [(a.false_matches, a.false_non_matches) for a in overall.rates] == [(0, 0)] * 4
    reasons = {str(s.path): s.reason for s in real_result.skipped}
    assert reasons == {
        "grace/webp-in-disguise.jpg": "image must be JPEG or PNG, found WebP",
        "eileen/sky.png": "no face found",
        "manifest.csv": "not inside an identity's sub-folder",
    }


def test_real_photos_by_manifest_with_groups(
    tmp_path: Path, astronaut: np.ndarray, analyzer: FaceAnalyzer
) -> None:
    root = write_labelled_photos(tmp_path, astronaut)
    labelled = labelled_manifest(root, root / "manifest.csv", group_by="variant")
    result = evaluate(labelled, analyzer, floor_pct=95.0)
    assert result.skipped == ()  # the manifest lists only the usable photos
    rows = {g.label: (g.photos, g.genuine_pairs, g.impostor_pairs) for g in result.groups}
    # originals: Eileen-Grace; edited: 2 of each person; mixed: each original with 4 edits.
    assert rows == {"edited": (4, 2, 4), "original": (2, 0, 1), "mixed": (6, 4, 4)}
    assert [r.threshold_pct for r in result.overall.rates] == [80.0, 90.0, 95.0, 99.0]
