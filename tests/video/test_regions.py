"""Searching only where a frame changed and where faces were: the region geometry, and on
videos of real photos the same faces as searching every frame whole."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from facewise.errors import InvalidParameterError
from facewise.pipeline.analyzer import FaceAnalyzer
from facewise.video.analysis import FrameFace, VideoAnalysisConfig, analyse_video
from facewise.video.regions import (
    MIN_REGION_PX,
    RegionConfig,
    face_regions,
    merged,
    motion_boxes,
    motion_image,
)
from tests.video.scenes import Cast
from tests.video.synth import Walk, encode, scene


def test_motion_boxes_cover_where_a_square_left_and_where_it_went() -> None:
    before = np.full((90, 160), 100, np.uint8)
    after = before.copy()
    before[10:20, 10:20] = 200
    after[10:20, 60:70] = 200
    boxes = sorted(motion_boxes(before, after, threshold=25))
    assert len(boxes) == 2
    (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = boxes
    assert ax1 <= 10 and ax2 >= 20 and ay1 <= 10 and ay2 >= 20
    assert bx1 <= 60 and bx2 >= 70 and by1 <= 10 and by2 >= 20


def test_no_motion_no_boxes() -> None:
    still = motion_image(np.full((360, 640, 3), 128, np.uint8))
    assert motion_boxes(still, still.copy(), threshold=25) == []


def test_faint_changes_below_the_threshold_are_not_motion() -> None:
    before = np.full((90, 160), 100, np.uint8)
    after = before + 10
    assert motion_boxes(before, after, threshold=25) == []
    assert motion_boxes(before, after, threshold=5) != []


def test_merged_joins_touching_boxes_only() -> None:
    assert sorted(merged([(0, 0, 10, 10), (10, 0, 20, 10), (50, 50, 60, 60)])) == [
        (0, 0, 20, 10),
        (50, 50, 60, 60),
    ]
    assert merged([(0, 0, 10, 10), (5, 5, 30, 30), (29, 29, 40, 40)]) == [(0, 0, 40, 40)]


def test_face_regions_grow_known_faces_and_small_motion() -> None:
    config = RegionConfig()
    regions = face_regions((640, 360), [(10, 10, 12, 12)], 4.0, [(300, 100, 340, 150)], config)
    assert regions is not None and len(regions) == 2
    motion, face = sorted(regions)
    assert motion[2] - motion[0] >= MIN_REGION_PX and motion[3] - motion[1] >= MIN_REGION_PX
    # The face (50 px high) grown by half its side each way.
    assert face == (275, 75, 365, 175)


def test_face_regions_are_the_whole_frame_when_most_of_it_changed() -> None:
    assert face_regions((640, 360), [(0, 0, 150, 80)], 4.0, [], RegionConfig()) is None
    few = face_regions((640, 360), [(0, 0, 40, 40)], 4.0, [], RegionConfig(max_share=0.9))
    assert few == [(0, 0, 176, 176)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"motion_threshold": 0}, "motion_threshold must be in [1, 255], got 0"),
        ({"full_frame_every": 0}, "full_frame_every must be in [1, 10000], got 0"),
        ({"max_share": 1.5}, "max_share must be in [0.0, 1.0], got 1.5"),
        ({"margin": "wide"}, "margin must be a number, got 'wide'"),
        ({"motion_threshold": True}, "motion_threshold must be a number, got True"),
    ],
)
def test_region_config_refuses_bad_values(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidParameterError) as refused:
        RegionConfig(**change)  # type: ignore[arg-type]
    assert str(refused.value) == message


def _faces_by_time(
    path: Path, analyzer: FaceAnalyzer, config: VideoAnalysisConfig
) -> dict[int, list[tuple[float, ...]]]:
    seen: dict[int, list[tuple[float, ...]]] = {}

    def keep(found: FrameFace) -> None:
        seen.setdefault(found.timestamp_ms, []).append(found.face.box_xyxy)

    analyse_video(path, analyzer, config, on_face=keep)
    return seen


def _same_faces(
    whole: dict[int, list[tuple[float, ...]]], regions: dict[int, list[tuple[float, ...]]]
) -> None:
    assert sorted(whole) == sorted(regions)
    for t_ms, boxes in whole.items():
        assert len(regions[t_ms]) == len(boxes), t_ms
        for box, other in zip(sorted(boxes), sorted(regions[t_ms]), strict=True):
            assert np.abs(np.subtract(box, other)).max() < 6, (t_ms, box, other)


def test_regions_find_the_faces_whole_frames_find(crossing_video: Path, analyzer) -> None:  # type: ignore[no-untyped-def]
    config = VideoAnalysisConfig()
    whole = replace(config, regions=RegionConfig(enabled=False))
    _same_faces(
        _faces_by_time(crossing_video, analyzer, whole),
        _faces_by_time(crossing_video, analyzer, config),
    )


def test_a_person_standing_still_is_found_in_every_frame(
    tmp_path: Path,
    cast: Cast,
    analyzer,  # type: ignore[no-untyped-def]
) -> None:
    """A still face makes no motion: it is found by the first whole-frame search and then
    searched for where it was, frame after frame, while someone else walks past."""
    frames = scene([Walk(cast.grace, 1000, 4000, 190)], 4000)
    h, w = cast.eileen.shape[:2]
    for frame in frames:
        frame[20 : 20 + h, 400 : 400 + w] = cast.eileen
    path = encode(frames, tmp_path / "standing.mp4")
    config = VideoAnalysisConfig(regions=RegionConfig(full_frame_every=1000))
    found = _faces_by_time(path, analyzer, config)
    assert sorted(found) == list(range(0, 4000, 200))
    standing = [t for t, boxes in found.items() if any(b[0] >= 380 for b in boxes)]
    assert len(standing) == 20
    _same_faces(_faces_by_time(path, analyzer, replace(config, regions=RegionConfig(False))), found)
