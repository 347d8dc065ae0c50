"""The DET curve of an evaluation as a PNG, drawn with Pillow alone (no matplotlib at run
time): false-match rate (x) against false-non-match rate (y), both on normal-deviate
(probit) axes, one curve per scope, the operating points at the reported thresholds marked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from statistics import NormalDist

from PIL import Image, ImageDraw, ImageFont

from facewise.service.evaluate import DetCurve, RateAt

DET_SIZE_WH = (1000, 700)
PLOT_XYXY = (140, 50, 680, 590)  # the axes' box inside the picture, in pixels
ZERO_GAP_PX = 30  # a rate of 0 is drawn this far outside the axes
CURVE_RGB = (
    (20, 20, 20),
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (148, 103, 189),
    (255, 127, 14),
    (23, 190, 207),
    (140, 86, 75),
)
GRID_RGB = (225, 225, 225)
STANDARD_LOW = 1e-4  # 0.01%: the usual lower edge, lowered when the data resolve less
TICKS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5, 0.8, 0.95)
_NORMAL = NormalDist()


def axis_range(curves: Sequence[DetCurve]) -> tuple[float, float]:
    """The rates at the axes' edges, shared by both axes: 0.01% (or a decade below the
    smallest nonzero rate the data can show, 1/pairs) to 50% (95% when an operating point
    lies above 50%)."""
    smallest = [
        1 / n
        for curve in curves
        if curve.points
        for n in (curve.rates.impostor_pairs, curve.rates.genuine_pairs)
    ]
    low = min([STANDARD_LOW, *(10 ** math.floor(math.log10(s / 2)) for s in smallest)])
    rates = [r for curve in curves if curve.points for r in _operating_rates(curve.rates.rates)]
    high = 0.95 if any(r > 0.5 for r in rates) else 0.5
    return low, high


def _operating_rates(rates: Sequence[RateAt]) -> list[float]:
    return [
        r for at in rates for r in (at.false_match_rate, at.false_non_match_rate) if r is not None
    ]


def _percent(rate: float) -> str:
    return f"{rate * 100:.{max(0, -math.floor(math.log10(rate * 100)))}f}%"


def det_image(curves: Sequence[DetCurve], floor_pct: float, title: str) -> Image.Image:
    """The DET plot of the curves (the first one's operating points are numbered, the others'
    not), DET_SIZE_WH pixels. A rate of 0 cannot sit on a probit axis: it is drawn in a band
    marked "0" just outside the axes. Curves are cut at the top and right edges; an
    operating point beyond them is drawn hollow on the edge. The legend says so."""
    image = Image.new("RGB", DET_SIZE_WH, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=12)
    low, high = axis_range(curves)
    x1, y1, x2, y2 = PLOT_XYXY

    def to_px(fmr: float, fnmr: float) -> tuple[float, float]:
        return x1 + _offset(fmr, low, high, x2 - x1), y2 - _offset(fnmr, low, high, y2 - y1)

    zero_x, zero_y = x1 - ZERO_GAP_PX, y2 + ZERO_GAP_PX
    for tick in (t for t in TICKS if low <= t <= high):
        x, y = to_px(tick, tick)
        draw.line((x, y1, x, y2), fill=GRID_RGB)
        draw.line((x1, y, x2, y), fill=GRID_RGB)
        draw.text((x, zero_y + 10), _percent(tick), fill="black", font=small, anchor="mt")
        draw.text((zero_x - 10, y), _percent(tick), fill="black", font=small, anchor="rm")
    draw.text((zero_x, zero_y + 10), "0", fill="black", font=small, anchor="mt")
    draw.text((zero_x - 10, zero_y), "0", fill="black", font=small, anchor="rm")
    draw.rectangle(PLOT_XYXY, outline="black")
    draw.text(((x1 + x2) / 2, 24), title, fill="black", font=font, anchor="mm")
    draw.text(
        ((x1 + x2) / 2, zero_y + 34),
        "false-match rate: different-person pairs at or above the threshold",
        fill="black",
        font=font,
        anchor="mt",
    )
    _vertical_text(
        image, (24, (y1 + y2) / 2), "false-non-match rate: same-person pairs below it", font
    )

    # Curves go on a layer cut to the axes and the zero bands: beyond 'high' they are not shown.
    layer = Image.new("RGB", DET_SIZE_WH, "white")
    layer_mask = Image.new("L", DET_SIZE_WH, 0)
    for number, curve in enumerate(curves):
        colour = CURVE_RGB[number % len(CURVE_RGB)]
        line = [to_px(p.false_match_rate, p.false_non_match_rate) for p in curve.points]
        if line:
            ImageDraw.Draw(layer).line(line, fill=colour, width=2)
            ImageDraw.Draw(layer_mask).line(line, fill=255, width=2)
    visible = (zero_x - 4, y1, x2 + 1, zero_y + 5)
    image.paste(layer.crop(visible), visible[:2], layer_mask.crop(visible))

    labels: list[tuple[tuple[float, float], str, tuple[int, int, int]]] = []
    for number, curve in enumerate(curves):
        colour = CURVE_RGB[number % len(CURVE_RGB)]
        for at in curve.rates.rates if curve.points else ():
            point = _mark(draw, at, floor_pct, colour, to_px, high, (x2, y1))
            if number == 0 and point is not None:
                floor = " floor" if at.threshold_pct == floor_pct else ""
                labels.append((point, f"{at.threshold_pct:g}{floor}", colour))
    for (x, y), text, colour in labels:
        # Below-left of the point, away from the curve; right of it near the left edge and
        # above it in the band of zero false non-matches, away from the tick labels.
        below_left = x > x1 + 60 and y < y2
        anchor, at_xy = ("rt", (x - 9, y + 6)) if below_left else ("lb", (x + 10, y - 8))
        box = draw.textbbox(at_xy, text, font=small, anchor=anchor)
        draw.rectangle((box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1), fill="white")
        draw.text(at_xy, text, fill=colour, font=small, anchor=anchor)

    _legend(draw, curves, floor_pct, (x2 + 24, y1), small)
    return image


def _offset(rate: float, low: float, high: float, length_px: float) -> float:
    """Pixels from the axis origin: probit-scaled between low (0) and high (length_px); a
    rate of 0 sits ZERO_GAP_PX before the origin; rates above high lie beyond the end."""
    if rate <= 0.0:
        return -ZERO_GAP_PX
    deviate = _NORMAL.inv_cdf(min(max(rate, low), 1.0 - 1e-9))
    edge_low, edge_high = _NORMAL.inv_cdf(low), _NORMAL.inv_cdf(high)
    return (deviate - edge_low) / (edge_high - edge_low) * length_px


def _mark(
    draw: ImageDraw.ImageDraw,
    at: RateAt,
    floor_pct: float,
    colour: tuple[int, int, int],
    to_px: Callable[[float, float], tuple[float, float]],
    high: float,
    far_corner_xy: tuple[float, float],
) -> tuple[float, float] | None:
    """Draw one operating point (hollow when cut to the edge); its position, if it has one."""
    fmr, fnmr = at.false_match_rate, at.false_non_match_rate
    if fmr is None or fnmr is None:
        return None
    x, y = to_px(min(fmr, high), min(fnmr, high))
    x, y = min(x, far_corner_xy[0]), max(y, far_corner_xy[1])
    beyond = fmr > high or fnmr > high
    draw.ellipse((x - 5, y - 5, x + 5, y + 5), outline=colour, fill="white" if beyond else colour)
    if at.threshold_pct == floor_pct:
        draw.ellipse((x - 9, y - 9, x + 9, y + 9), outline="black", width=2)
    return x, y


def _legend(
    draw: ImageDraw.ImageDraw,
    curves: Sequence[DetCurve],
    floor_pct: float,
    top_left_xy: tuple[float, float],
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
) -> None:
    x, y = top_left_xy
    for number, curve in enumerate(curves):
        colour = CURVE_RGB[number % len(CURVE_RGB)]
        rates = curve.rates
        label = rates.label if len(rates.label) <= 24 else rates.label[:23] + "…"
        if curve.points:
            counts = f"{rates.genuine_pairs:,} same / {rates.impostor_pairs:,} different"
            draw.line((x, y + 7, x + 24, y + 7), fill=colour, width=3)
            draw.text((x + 32, y), f"{label} ({counts} pairs)", fill=colour, font=font)
        else:
            lacking = "same" if not rates.genuine_pairs else "different"
            note = f"{label}: no curve (no {lacking}-person pairs)"
            draw.text((x, y), note, fill=(110, 110, 110), font=font)
        y += 20
    notes = (
        "Axes: normal-deviate (probit) scale.",
        "Dots: thresholds 80, 90, 95, 99, numbered",
        f"on the first curve; ringed: the floor ({floor_pct:g}).",
        "0: none of the N pairs erred, which only",
        "says the rate is below what this set can",
        "resolve (about 1/N); drawn apart from the",
        "probit axes. Curves are cut at the top and",
        "right edges; a hollow dot lies beyond them.",
    )
    y += 16
    for note in notes:
        draw.text((x, y), note, fill="black", font=font)
        y += 18


def _vertical_text(
    image: Image.Image,
    centre_xy: tuple[float, float],
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
) -> None:
    left, top, right, bottom = font.getbbox(text)
    strip = Image.new("RGB", (int(right - left) + 4, int(bottom - top) + 4), "white")
    ImageDraw.Draw(strip).text((2 - left, 2 - top), text, fill="black", font=font)
    turned = strip.rotate(90, expand=True)
    x, y = centre_xy
    image.paste(turned, (int(x - turned.width / 2), int(y - turned.height / 2)))
