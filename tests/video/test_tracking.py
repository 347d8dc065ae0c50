"""Tracks on videos of real photos: one index per person while in view, through a crossing,
a second of occlusion and a rotated phone video; a scene cut starts new tracks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facewise.pipeline.analyzer import FaceAnalyzer
from facewise.types import FaceDetection
from facewise.video.analysis import FrameFace, analyse_video
from facewise.video.identity import IdentityRule, Vote, decide
from facewise.video.tracking import FaceTracker, iou_xyxy
from tests.video.scenes import Cast
from tests.video.synth import Walk, encode, scene


def _tracks(path: Path, analyzer: FaceAnalyzer) -> dict[int, list[int]]:
    seen: dict[int, list[int]] = {}

    def keep(found: FrameFace) -> None:
        seen.setdefault(found.track, []).append(found.timestamp_ms)

    analyse_video(path, analyzer, on_face=keep)
    return seen


def test_an_occluded_person_keeps_one_track(tmp_path: Path, cast: Cast, analyzer) -> None:  # type: ignore[no-untyped-def]
    walk = Walk(cast.eileen, 0, 6000, 100)
    frames = scene([walk], 6000)
    for number in range(2000 * 25 // 1000, 3000 * 25 // 1000):  # hidden from 2 s to 3 s
        frames[number] = scene([], 40)[0]
    tracks = _tracks(encode(frames, tmp_path / "occluded.mp4"), analyzer)
    assert list(tracks) == [0], tracks
    times = tracks[0]
    assert times[0] == 0 and times[-1] == 5800 and not [t for t in times if 2000 <= t < 3000]


def test_a_scene_cut_starts_new_tracks(tmp_path: Path, cast: Cast, analyzer) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image
    from skimage.data import coffee

    other_shot = np.asarray(Image.fromarray(coffee()).resize((640, 360)))

    def background(t_ms: int) -> np.ndarray:
        return other_shot if t_ms >= 2000 else np.full((360, 640, 3), (96, 110, 120), np.uint8)

    # She walks on across the cut: without it her box would continue the same track.
    frames = scene([Walk(cast.eileen, 0, 4000, 100)], 4000, background=background)
    tracks = _tracks(encode(frames, tmp_path / "cut.mp4"), analyzer)
    assert len(tracks) == 2, {k: (v[0], v[-1]) for k, v in tracks.items()}
    first, second = sorted(tracks.values())
    assert first[-1] < 2000 <= second[0]


def test_a_rotated_phone_video_is_tracked_upright(tmp_path: Path, cast: Cast, analyzer) -> None:  # type: ignore[no-untyped-def]
    upright = scene([Walk(cast.grace, 0, 3000, 60)], 3000, frame_wh=(360, 640))
    stored = [np.ascontiguousarray(np.rot90(f, k=-1)) for f in upright]  # as the phone wrote
    path = encode(stored, tmp_path / "phone.mp4", rotation_deg=90)
    tracks = _tracks(path, analyzer)
    assert len(tracks) == 1 and len(next(iter(tracks.values()))) == 15


def test_tracker_keeps_the_first_frame_of_a_new_face() -> None:
    tracker = FaceTracker(5.0)
    box = (10.0, 10.0, 60.0, 70.0)
    ids = [
        tracker.update([FaceDetection((box[0] + 8 * i, 10, box[2] + 8 * i, 70), 0.99, ())])
        for i in range(4)
    ]
    assert ids == [[0], [0], [0], [0]]
    tracker.reset()
    assert tracker.update([FaceDetection(box, 0.99, ())]) == [1]
    assert iou_xyxy((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("votes", "winner"),
    [
        # Three big sharp frames of Ann outvote one blurry frame of Bob.
        (
            [
                Vote(900, [("ann", "f1", 95)]),
                Vote(900, [("ann", "f1", 93)]),
                Vote(900, [("ann", "f2", 91)]),
                Vote(100, [("bob", "f9", 99)]),
            ],
            "ann",
        ),
        # One lucky frame cannot name anyone.
        ([Vote(900, [("bob", "f9", 99)]), Vote(900, []), Vote(900, [])], None),
        # Matched in two frames but under half the track's weight.
        ([Vote(100, [("ann", "f1", 90)]), Vote(100, [("ann", "f1", 90)]), Vote(900, [])], None),
        ([], None),
    ],
)
def test_identity_rule(votes: list[Vote], winner: str | None) -> None:
    decision = decide(votes, IdentityRule())
    assert (decision.identity if decision else None) == winner
    if decision is not None:
        assert decision.faces == {"f1": 95, "f2": 91} and decision.share > 0.8
