"""Pictures of results: the photo with boxes, landmarks and labels (people would rather look)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from facewise.types import FaceAnalysis

MATCH_RGB = (40, 200, 80)
OTHER_RGB = (230, 60, 50)
LANDMARK_RGB = (255, 220, 0)


def annotate(
    rgb: np.ndarray,
    faces: Sequence[FaceAnalysis],
    labels: Sequence[str],
    colours: Sequence[tuple[int, int, int]] | None = None,
) -> Image.Image:
    """The image with each face's box, landmarks and label drawn on it."""
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    line = max(2, round(max(image.size) / 400))
    font = ImageFont.load_default(size=max(12, round(max(image.size) / 60)))
    for i, (face, label) in enumerate(zip(faces, labels, strict=True)):
        colour = colours[i] if colours else MATCH_RGB
        x1, y1, x2, y2 = face.box_xyxy
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=line)
        radius = line * 1.5
        for mark in face.landmarks or ():
            draw.ellipse(
                (mark.x - radius, mark.y - radius, mark.x + radius, mark.y + radius),
                fill=LANDMARK_RGB,
            )
        text_box = draw.textbbox((x1, y1), label, font=font)
        text_height = text_box[3] - text_box[1]
        top = y1 - text_height - 2 * line if y1 - text_height - 2 * line >= 0 else y2 + line
        draw.rectangle(
            (x1, top, x1 + (text_box[2] - text_box[0]) + 2 * line, top + text_height + 2 * line),
            fill=colour,
        )
        draw.text((x1 + line, top + line - (text_box[1] - y1)), label, fill="white", font=font)
    return image


def side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    """Two pictures scaled to the same height, next to each other."""
    height = min(left.height, right.height, 1080)
    left = left.resize((round(left.width * height / left.height), height))
    right = right.resize((round(right.width * height / right.height), height))
    canvas = Image.new("RGB", (left.width + right.width + 8, height), "white")
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + 8, 0))
    return canvas


def save(image: Image.Image, path: Path) -> None:
    """Write the picture; the format follows the file name (PNG, JPEG...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
