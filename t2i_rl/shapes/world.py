"""The vocabulary of the shapes world: shapes, colours, counts, relations and the background.

Everything else in :mod:`t2i_rl.shapes` (prompts, renderer, detector, scoring) reads these constants, so the
world is defined in one place. Colour names are a subset of GenEval's ten colour words; their RGB values are
chosen to be far from each other and from the background, and no palette colour lies on the line between
another palette colour and the background (so blurred edges, which are mixtures of an object colour and the
background, are never mistaken for a different palette colour).
"""

from __future__ import annotations

import itertools
import math

#: Shape classes (the GenEval ``"class"`` field). Triangles are drawn upright (apex at the top).
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")

#: Plural nouns used by counting prompts ("a photo of three circles").
PLURALS: dict[str, str] = {"circle": "circles", "square": "squares", "triangle": "triangles"}

#: Palette, name -> RGB in 0..255. Names follow GenEval's colour vocabulary.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (215, 30, 40),
    "orange": (250, 130, 0),
    "yellow": (235, 225, 20),
    "green": (30, 160, 50),
    "blue": (30, 70, 220),
    "purple": (130, 40, 170),
}

#: Plain background colour (RGB, 0..255).
BACKGROUND: tuple[int, int, int] = (255, 255, 255)

#: Object counts the world supports; counting prompts use the counts above 1.
COUNTS: tuple[int, ...] = (1, 2, 3, 4)

#: Number words as GenEval's counting prompts spell them.
NUMBER_WORDS: dict[int, str] = {1: "one", 2: "two", 3: "three", 4: "four"}

#: GenEval's relation phrases (the first element of a ``"position"`` field).
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")

#: The relation that holds with the roles swapped: "A left of B" <=> "B right of A".
INVERSE_RELATION: dict[str, str] = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}

#: GenEval's six task tags, in its file order.
TAGS: tuple[str, ...] = ("single_object", "two_object", "counting", "colors", "position", "color_attr")


def color_unit(name: str) -> tuple[float, float, float]:
    """RGB of palette colour ``name`` (or ``"background"``) scaled to ``[0, 1]``."""
    rgb = BACKGROUND if name == "background" else COLORS[name]
    return tuple(c / 255.0 for c in rgb)  # type: ignore[return-value]


def min_palette_distance() -> float:
    """Smallest Euclidean RGB distance (0..255 units) between two palette colours or a colour and the background."""
    points = list(COLORS.values()) + [BACKGROUND]
    return min(math.dist(a, b) for a, b in itertools.combinations(points, 2))
