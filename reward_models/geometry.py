"""Box geometry shared by the shapes renderer and every GenEval-style scorer: GenEval's relative-position rule.

GenEval (``evaluation/evaluate_images.py``, ``relative_position``) compares the box centres of two objects
after shrinking the offset by ``POSITION_THRESHOLD`` times the sum of their dimensions, so that objects whose
centres are closer than 10 % of their combined size along an axis are not "left of" / "above" each other::

    offset  = centre_a - centre_b
    revised = max(|offset| - 0.1 * (dim_a + dim_b), 0) * sign(offset)
    if all(|revised| < 1e-3): no relation
    dx, dy  = revised / |offset|
    "left of" if dx < -0.5, "right of" if dx > 0.5, "above" if dy < -0.5, "below" if dy > 0.5

Image coordinates: x grows to the right, y grows downwards, so "above" means a smaller y.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

#: GenEval's POSITION_THRESHOLD.
POSITION_THRESHOLD = 0.1


def box_center(box: Sequence[float]) -> tuple[float, float]:
    """Centre ``(cx, cy)`` of an ``(x0, y0, x1, y1)`` box."""
    return (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0


def box_dims(box: Sequence[float]) -> tuple[float, float]:
    """Width and height of an ``(x0, y0, x1, y1)`` box."""
    return abs(box[2] - box[0]), abs(box[3] - box[1])


def position_components(
    box_a: Sequence[float], box_b: Sequence[float], threshold: float = POSITION_THRESHOLD
) -> tuple[float, float] | None:
    """GenEval's normalised revised offset ``(dx, dy)`` of A relative to B, or ``None`` inside the margin."""
    (ax, ay), (bx, by) = box_center(box_a), box_center(box_b)
    (aw, ah), (bw, bh) = box_dims(box_a), box_dims(box_b)
    off = (ax - bx, ay - by)
    dims = (aw + bw, ah + bh)
    revised = [max(abs(o) - threshold * d, 0.0) * math.copysign(1.0, o) if o != 0 else 0.0 for o, d in zip(off, dims)]
    if all(abs(r) < 1e-3 for r in revised):
        return None
    norm = math.hypot(*off)
    return revised[0] / norm, revised[1] / norm


def relative_position(
    box_a: Sequence[float], box_b: Sequence[float], threshold: float = POSITION_THRESHOLD
) -> set[str]:
    """GenEval's set of relations of A relative to B ("left of", "right of", "above", "below"); may be empty."""
    comps = position_components(box_a, box_b, threshold)
    if comps is None:
        return set()
    dx, dy = comps
    rels = set()
    if dx < -0.5:
        rels.add("left of")
    if dx > 0.5:
        rels.add("right of")
    if dy < -0.5:
        rels.add("above")
    if dy > 0.5:
        rels.add("below")
    return rels


def boxes_overlap(box_a: Sequence[float], box_b: Sequence[float], gap: float = 0.0) -> bool:
    """Whether two boxes come closer than ``gap`` pixels (touching counts as overlap when ``gap > 0``)."""
    return not (
        box_a[2] + gap <= box_b[0]
        or box_b[2] + gap <= box_a[0]
        or box_a[3] + gap <= box_b[1]
        or box_b[3] + gap <= box_a[1]
    )
