"""Caption noise for pretraining: scenes that break exactly one concept of their caption.

Web-scale text-to-image data is captioned by alt text that often does not describe the image: a count that is off,
an object the image lacks, a colour on the wrong object (Betker et al. 2023, "Improving Image Generation with Better
Captions", the DALL-E 3 report, trace much of the prompt-following gap to it). A model trained on such pairs learns
``p(image | caption)`` as a mixture of the right scene and near misses of it: it *can* draw the right scene, but
often draws a near miss instead. That is the headroom online RL with per-concept rewards recovers on real models.

``scripts/pretrain_shapes.py --caption-noise P`` reproduces it in the shapes world: a fraction ``P`` of the training
renders are drawn from :func:`mismatched` metadata and keep the original caption. Captions stay training prompts, so
the held-out prompts are still never seen. The mismatch per GenEval tag (one concept each, the errors real models make
on GenEval):

* ``two_object``: one of the two objects is missing;
* ``counting``: one object more or one fewer (within the world's counts 1-4);
* ``colors``: another palette colour;
* ``position``: the inverse relation (the subject on the other side of, or above instead of below, the reference);
* ``color_attr``: the two colours swapped between the objects (attribute binding);
* ``single_object``: unchanged, so that single objects stay recognisable (the base model's target in issue 3).
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

import numpy as np

from t2i_rl.shapes.world import COLORS, COUNTS, INVERSE_RELATION, TAGS

Metadata = dict[str, Any]


def mismatched(meta: Metadata, rng: np.random.Generator) -> Metadata:
    """The metadata of a scene that breaks exactly one concept of ``meta`` (see the module docstring).

    ``prompt`` and ``tag`` are kept (the caption the scene is paired with); ``include``/``exclude`` describe what is
    drawn, so scoring a render against the returned metadata passes and against ``meta`` fails (single objects
    excepted: they are returned unchanged). Raises ``ValueError`` for a tag it has no mismatch for.
    """
    scene = copy.deepcopy(meta)
    tag, include = meta["tag"], scene["include"]
    if tag == "single_object":
        return scene
    if tag == "two_object":
        scene["include"] = [include[int(rng.integers(2))]]
    elif tag == "counting":
        count = include[0]["count"]
        options = [n for n in (count - 1, count + 1) if n in COUNTS]
        new = options[int(rng.integers(len(options)))]
        include[0]["count"] = new
        scene["exclude"] = [{"class": include[0]["class"], "count": new + 1}]
    elif tag == "colors":
        others = [c for c in COLORS if c != include[0]["color"]]
        include[0]["color"] = others[int(rng.integers(len(others)))]
    elif tag == "position":
        relation, reference = include[1]["position"]
        include[1]["position"] = [INVERSE_RELATION[relation], reference]
    elif tag == "color_attr":
        include[0]["color"], include[1]["color"] = include[1]["color"], include[0]["color"]
    else:
        raise ValueError(f"no caption mismatch for tag {tag!r}; the shapes world's tags are the six of GenEval")
    return scene


def noisy_captions(metas: list[Metadata], prompt_ids: list[int], fraction: float, seed: int,
                   tags: Collection[str] | None = None) -> list[Metadata]:
    """The scene to render for each (training prompt index) in ``prompt_ids``: a :func:`mismatched` one for a random
    ``fraction`` of them (drawn once from ``seed``), the prompt's own metadata otherwise. ``tags`` limits the noise
    to prompts of those GenEval tags (all tags when None)."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"caption noise must be a fraction in [0, 1), got {fraction}")
    if tags is not None and (unknown := set(tags) - set(TAGS)):
        raise ValueError(f"caption noise for unknown tags {sorted(unknown)}; the tags are {list(TAGS)}")
    rng = np.random.default_rng(seed)
    flips = rng.random(len(prompt_ids)) < fraction
    return [mismatched(metas[i], rng) if flip and (tags is None or metas[i]["tag"] in tags) else metas[i]
            for i, flip in zip(prompt_ids, flips)]
