"""A PIL renderer that draws a random image consistent with GenEval-style metadata.

For every ``include`` clause it draws exactly ``count`` objects of that class (no extra objects of any
class, so GenEval's counting ``exclude`` clauses hold too), in the requested colour or, when none is given, a
random palette colour per object. Objects are axis-aligned, equal width and height, never overlap, keep a
gap of at least ``gap_frac * size`` pixels from each other and a small margin from the border. A
``"position": [relation, j]`` clause is satisfied *with a clear margin*: GenEval's normalised component
along the relation's axis (see :mod:`~reward_models.geometry`) is beyond ``0.5 + relation_margin``, the
other component within ``0.5 - relation_margin``, and the boxes are separated along that axis by the gap, so
exactly the requested relation holds and it survives blur and small detector errors.

Images are white-background RGB. ``antialias=True`` draws at 4x and box-downsamples (soft edges, closer to
what a generative model produces); the default draws hard edges (pixel-exact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from reward_models.geometry import boxes_overlap, position_components
from t2i_rl.shapes.world import BACKGROUND, COLORS, RELATIONS, SHAPES

RngLike = np.random.Generator | int | None


@dataclass(frozen=True)
class PlacedObject:
    """One drawn object: class, palette colour, box ``(x0, y0, x1, y1)`` (x1, y1 exclusive) and include index."""

    shape: str
    color: str
    box: tuple[int, int, int, int]
    group: int


@dataclass
class Scene:
    """A sampled layout: image size ``(width, height)`` and the objects to draw."""

    width: int
    height: int
    objects: list[PlacedObject] = field(default_factory=list)


def as_generator(rng: RngLike) -> np.random.Generator:
    """A numpy Generator from a Generator (returned as is), an int seed, or ``None`` (fresh entropy)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _relation_ok(box_a: Sequence[float], box_b: Sequence[float], relation: str, margin: float, gap: float) -> bool:
    """Whether A is clearly ``relation`` B (GenEval components with a margin, plus an axis gap)."""
    comps = position_components(box_a, box_b)
    if comps is None:
        return False
    dx, dy = comps
    lo, hi = 0.5 - margin, 0.5 + margin
    if relation == "left of":
        return dx < -hi and abs(dy) <= lo and box_a[2] + gap <= box_b[0]
    if relation == "right of":
        return dx > hi and abs(dy) <= lo and box_b[2] + gap <= box_a[0]
    if relation == "above":
        return dy < -hi and abs(dx) <= lo and box_a[3] + gap <= box_b[1]
    if relation == "below":
        return dy > hi and abs(dx) <= lo and box_b[3] + gap <= box_a[1]
    raise ValueError(f"unknown relation {relation!r}; use one of {RELATIONS}")


def _object_specs(metadata: dict[str, Any], rng: np.random.Generator) -> list[tuple[str, str, int]]:
    """(shape, colour, include index) for every object to draw."""
    specs = []
    palette = list(COLORS)
    for i, req in enumerate(metadata.get("include", [])):
        if req["class"] not in SHAPES:
            raise ValueError(f"unknown class {req['class']!r}; the shapes world has {SHAPES}")
        if req.get("color") is not None and req["color"] not in COLORS:
            raise ValueError(f"unknown colour {req['color']!r}; the palette is {palette}")
        for _ in range(int(req.get("count", 1))):
            color = req.get("color") or palette[int(rng.integers(len(palette)))]
            specs.append((req["class"], color, i))
    return specs


def sample_scene(
    metadata: dict[str, Any],
    rng: RngLike = None,
    size: int | tuple[int, int] = 64,
    size_range: tuple[float, float] = (0.18, 0.32),
    gap_frac: float = 0.06,
    relation_margin: float = 0.2,
    max_tries: int = 200,
    max_restarts: int = 60,
) -> Scene:
    """Sample a layout consistent with ``metadata`` (GenEval schema).

    ``size`` is the image side (or ``(width, height)``); object sides are drawn uniformly from
    ``size_range`` times the shorter image side; ``gap_frac`` sets the minimum gap between objects.
    Objects are placed one by one (``max_tries`` positions each); a failed layout restarts from scratch, with
    objects 5 % smaller after every 10 failed layouts, at most ``max_restarts`` times, then raises
    ``RuntimeError``.
    """
    gen = as_generator(rng)
    width, height = (size, size) if isinstance(size, int) else size
    short = min(width, height)
    gap = max(2, round(gap_frac * short))
    pad = max(1, round(0.03 * short))
    specs = _object_specs(metadata, gen)
    include = metadata.get("include", [])
    constraints = {
        i: (req["position"][0], int(req["position"][1])) for i, req in enumerate(include) if req.get("position")
    }
    for restart in range(max_restarts):
        scale = 0.95 ** (restart // 10)  # resample freely first; shrink only if layouts keep failing
        placed: list[PlacedObject] = []
        for shape, color, group in specs:
            box = None
            for _ in range(max_tries):
                side = round(gen.uniform(*size_range) * short * scale)
                side = max(6, min(side, short - 2 * pad))
                x0 = int(gen.integers(pad, width - pad - side + 1))
                y0 = int(gen.integers(pad, height - pad - side + 1))
                cand = (x0, y0, x0 + side, y0 + side)
                if any(boxes_overlap(cand, o.box, gap) for o in placed):
                    continue
                if not _constraints_ok(cand, group, placed, constraints, relation_margin, gap):
                    continue
                box = cand
                break
            if box is None:
                break
            placed.append(PlacedObject(shape, color, box, group))
        else:
            return Scene(width, height, placed)
    raise RuntimeError(f"could not lay out {metadata.get('prompt', metadata)!r} in {width}x{height}")


def _constraints_ok(
    box: tuple[int, int, int, int],
    group: int,
    placed: list[PlacedObject],
    constraints: dict[int, tuple[str, int]],
    margin: float,
    gap: float,
) -> bool:
    """Relations between ``box`` (of include ``group``) and every placed object they concern."""
    for other in placed:
        rel = constraints.get(group)
        if rel is not None and rel[1] == other.group and not _relation_ok(box, other.box, rel[0], margin, gap):
            return False
        rel = constraints.get(other.group)
        if rel is not None and rel[1] == group and not _relation_ok(other.box, box, rel[0], margin, gap):
            return False
    return True


def _draw_object(draw: ImageDraw.ImageDraw, obj: PlacedObject, scale: int) -> None:
    x0, y0, x1, y1 = (v * scale for v in obj.box)
    fill = COLORS[obj.color]
    if obj.shape == "circle":
        draw.ellipse([x0, y0, x1 - 1, y1 - 1], fill=fill)
    elif obj.shape == "square":
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=fill)
    elif obj.shape == "triangle":
        draw.polygon([(x0, y1 - 1), (x1 - 1, y1 - 1), ((x0 + x1 - 1) / 2.0, y0)], fill=fill)
    else:
        raise ValueError(f"unknown shape {obj.shape!r}")


def draw_scene(scene: Scene, antialias: bool = False, background: tuple[int, int, int] = BACKGROUND) -> Image.Image:
    """Draw a :class:`Scene` to an RGB PIL image (hard edges, or 4x supersampled when ``antialias``)."""
    factor = 4 if antialias else 1
    img = Image.new("RGB", (scene.width * factor, scene.height * factor), background)
    draw = ImageDraw.Draw(img)
    for obj in scene.objects:
        _draw_object(draw, obj, factor)
    if factor > 1:
        img = img.resize((scene.width, scene.height), Image.Resampling.BOX)
    return img


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> float32 tensor ``[3, H, W]`` in ``[0, 1]``."""
    arr = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def tensor_to_pil(image: torch.Tensor) -> Image.Image:
    """Float tensor ``[3, H, W]`` in ``[0, 1]`` -> RGB PIL image."""
    arr = (image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0).round().astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def render_scene(
    metadata: dict[str, Any],
    rng: RngLike = None,
    size: int | tuple[int, int] = 64,
    antialias: bool = False,
    **layout: Any,
) -> tuple[Image.Image, Scene]:
    """Sample a scene for ``metadata`` and draw it; returns ``(PIL image, scene)``.

    ``layout`` keyword arguments go to :func:`sample_scene` (``size_range``, ``gap_frac``, ...).
    """
    scene = sample_scene(metadata, rng, size, **layout)
    return draw_scene(scene, antialias), scene


def render_image(
    metadata: dict[str, Any], rng: RngLike = None, size: int | tuple[int, int] = 64, antialias: bool = False
) -> Image.Image:
    """A random PIL image consistent with ``metadata``."""
    return render_scene(metadata, rng, size, antialias)[0]


def render_tensor(
    metadata: dict[str, Any], rng: RngLike = None, size: int | tuple[int, int] = 64, antialias: bool = False
) -> torch.Tensor:
    """A random image consistent with ``metadata`` as a float tensor ``[3, H, W]`` in ``[0, 1]``."""
    return pil_to_tensor(render_image(metadata, rng, size, antialias))


def render_batch(
    metadata: Sequence[dict[str, Any]],
    rng: RngLike = None,
    size: int | tuple[int, int] = 64,
    antialias: bool = False,
    return_scenes: bool = False,
    **layout: Any,
) -> torch.Tensor | tuple[torch.Tensor, list[Scene]]:
    """Render one image per metadata dict into ``[B, 3, H, W]`` (one Generator drives the whole batch).

    With ``return_scenes`` also returns the sampled :class:`Scene` of every image; ``layout`` keyword arguments go
    to :func:`sample_scene` (``size_range``, ``gap_frac``, ...).
    """
    gen = as_generator(rng)
    images, scenes = [], []
    for meta in metadata:
        img, scene = render_scene(meta, gen, size, antialias, **layout)
        images.append(pil_to_tensor(img))
        scenes.append(scene)
    batch = (
        torch.stack(images) if images else torch.empty(0, 3, *((size, size) if isinstance(size, int) else size[::-1]))
    )
    return (batch, scenes) if return_scenes else batch
