"""Plain-text tables of results for the terminal."""

from __future__ import annotations

from facewise.types import CompareFacesResult, DetectFacesResult, FaceAnalysis


def face_label(index: int, face: FaceAnalysis) -> str:
    """A short caption: number, confidence, and gender/age when known."""
    parts = [f"#{index + 1} {face.score * 100:.1f}%"]
    if face.gender is not None:
        parts.append(face.gender.value[0].upper())
    if face.age_range is not None:
        parts.append(f"{face.age_range.low}-{face.age_range.high}")
    return " ".join(parts)


def _box_text(box_xyxy: tuple[float, float, float, float]) -> str:
    return ",".join(f"{v:.0f}" for v in box_xyxy)


def _row(index: int, face: FaceAnalysis) -> str:
    cells = [f"{index + 1:>3}", f"{face.score * 100:6.2f}", _box_text(face.box_xyxy)]
    if face.pose is not None:
        pose = face.pose
        cells.append(f"{pose.roll_deg:+.0f}/{pose.yaw_deg:+.0f}/{pose.pitch_deg:+.0f}")
    if face.quality is not None:
        cells.append(f"{face.quality.brightness:.0f}/{face.quality.sharpness:.0f}")
    extras = []
    if face.age_range is not None:
        extras.append(f"age {face.age_range.low}-{face.age_range.high}")
    if face.gender is not None:
        extras.append(f"{face.gender.value} {face.gender.score * 100:.0f}%")
    for name in ("smile", "eyes_open", "mouth_open"):
        flag = getattr(face, name)
        if flag is not None:
            extras.append(f"{name}={'yes' if flag.value else 'no'} {flag.score * 100:.0f}%")
    cells.append(", ".join(extras))
    return "  ".join(cells).rstrip()


def detect_table(result: DetectFacesResult) -> str:
    """One line per face: confidence, box, pose, quality and requested attributes."""
    width, height = result.image_wh
    lines = [f"{len(result.faces)} face(s) in a {width}x{height} image"]
    if result.faces:
        lines.append("  #  conf%  box x1,y1,x2,y2  roll/yaw/pitch  bright/sharp  attributes")
        lines.extend(_row(i, face) for i, face in enumerate(result.faces))
    return "\n".join(lines)


def compare_table(result: CompareFacesResult, threshold: float) -> str:
    """The source face, then each target face with its similarity."""
    lines = [
        f"source face at {_box_text(result.source_face.box_xyxy)} "
        f"(confidence {result.source_face.score * 100:.1f}%)",
        f"{len(result.matches)} match(es) at similarity >= {threshold:g}, "
        f"{len(result.unmatched)} unmatched face(s)",
    ]
    for match in result.matches:
        lines.append(
            f"  MATCH  similarity {match.similarity_pct:6.2f}  at {_box_text(match.face.box_xyxy)}"
        )
    for face in result.unmatched:
        lines.append(f"  no match                   at {_box_text(face.box_xyxy)}")
    return "\n".join(lines)


def progress_bar(done: float, total: float, width: int = 30) -> str:
    """``[####......]``: how much of ``total`` is done (clipped to full)."""
    filled = int(width * min(done, total) / max(total, 1))
    return f"[{'#' * filled}{'.' * (width - filled)}]"
