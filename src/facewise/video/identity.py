"""Who a track is: decided from all its searched frames together (as Frigate does), so one
blurry frame cannot name the wrong person and one lucky frame cannot name anyone.

Each searched frame votes for the identities its matches name, with a weight that grows
with the face's size and sharpness. An identity (a collection face's UserId, else its
ExternalImageId, else its FaceId) wins when it holds at least ``min_share`` of the track's
whole weight and was matched in at least ``min_frames`` frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class IdentityRule:
    """min_share: the winner's part of the track's weight (0-1). Higher needs a steadier
    match and leaves more tracks unnamed. min_frames: searched frames that must match
    the winner; 1 lets a single frame name a track (faster, less sure)."""

    min_share: float = 0.5
    min_frames: int = 2


@dataclass(frozen=True)
class Vote:
    """One searched frame: its weight and what it matched (identity key, face, similarity)."""

    weight: float
    matches: Sequence[tuple[str, str, float]]


@dataclass(frozen=True)
class Decision:
    """The winner: its identity key, and each of its matched faces with the best similarity."""

    identity: str
    share: float
    faces: dict[str, float]


def frame_weight(area_px: float, sharpness: float) -> float:
    """A frame's say: face area (in pixels) times sharpness (0-100, scaled to 0.1-1)."""
    return max(area_px, 1.0) * max(sharpness / 100.0, 0.1)


def decide(votes: Sequence[Vote], rule: IdentityRule = IdentityRule()) -> Decision | None:
    """The track's identity, or None when no identity is sure enough."""
    total = sum(v.weight for v in votes)
    if total <= 0:
        return None
    weight: dict[str, float] = {}
    frames: dict[str, int] = {}
    faces: dict[str, dict[str, float]] = {}
    for vote in votes:
        for identity in {key for key, _, _ in vote.matches}:
            weight[identity] = weight.get(identity, 0.0) + vote.weight
            frames[identity] = frames.get(identity, 0) + 1
        for identity, face_id, similarity in vote.matches:
            best = faces.setdefault(identity, {})
            best[face_id] = max(best.get(face_id, 0.0), similarity)
    ranked = sorted(weight, key=lambda key: (-weight[key], key))
    if not ranked:
        return None
    winner = ranked[0]
    share = weight[winner] / total
    if share < rule.min_share or frames[winner] < rule.min_frames:
        return None
    return Decision(winner, share, faces[winner])
