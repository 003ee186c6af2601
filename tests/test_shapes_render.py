"""Shapes-world renderer: images agree with the metadata (counts, colours, relations) and are seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reward_models.geometry import boxes_overlap, position_components, relative_position
from t2i_rl.shapes import prompts as P
from t2i_rl.shapes import render as R
from t2i_rl.shapes.world import BACKGROUND, COLORS


def _sample(n: int, seed: int) -> list[dict]:
    metas = P.all_prompts()
    rng = np.random.default_rng(seed)
    return [metas[i] for i in rng.integers(len(metas), size=n)]


@pytest.mark.parametrize("seed", [0, 1])
def test_scene_matches_metadata(seed):
    rng = np.random.default_rng(seed)
    for meta in _sample(150, seed):
        scene = R.sample_scene(meta, rng)
        for i, req in enumerate(meta["include"]):
            objs = [o for o in scene.objects if o.group == i]
            assert len(objs) == req["count"]
            assert all(o.shape == req["class"] for o in objs)
            if "color" in req:
                assert all(o.color == req["color"] for o in objs)
            if "position" in req:
                rel, j = req["position"]
                for a in objs:
                    for b in (o for o in scene.objects if o.group == j):
                        assert relative_position(a.box, b.box) == {rel}, meta["prompt"]
        assert len(scene.objects) == sum(r["count"] for r in meta["include"])
        for k, a in enumerate(scene.objects):
            x0, y0, x1, y1 = a.box
            assert 0 < x0 < x1 < scene.width and 0 < y0 < y1 < scene.height
            assert x1 - x0 == y1 - y0 and x1 - x0 >= 11  # layouts must not shrink objects to specks
            for b in scene.objects[k + 1 :]:
                assert not boxes_overlap(a.box, b.box, gap=2)


def test_uncoloured_objects_get_varied_colours():
    meta = P.metadata_for_prompt("a photo of a circle")
    colours = {R.sample_scene(meta, s).objects[0].color for s in range(60)}
    assert colours == set(COLORS)


def test_seeding():
    meta = P.metadata_for_prompt("a photo of four triangles")
    a, b = R.render_tensor(meta, 3), R.render_tensor(meta, 3)
    assert torch.equal(a, b)
    assert not torch.equal(a, R.render_tensor(meta, 4))
    gen = np.random.default_rng(5)
    assert torch.equal(R.render_tensor(meta, np.random.default_rng(5)), R.render_tensor(meta, gen))


def test_image_pixels_follow_the_scene():
    meta = P.metadata_for_prompt("a photo of a red square")
    img, scene = R.render_scene(meta, 0, size=64)
    arr = np.asarray(img)
    x0, y0, x1, y1 = scene.objects[0].box
    assert (arr[y0:y1, x0:x1] == COLORS["red"]).all()  # a square fills its box
    outside = np.ones(arr.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert (arr[outside] == BACKGROUND).all()


def test_tensor_helpers_and_sizes():
    meta = P.metadata_for_prompt("a photo of a circle left of a square")
    t = R.render_tensor(meta, 0, size=96)
    assert t.shape == (3, 96, 96) and t.dtype == torch.float32
    assert 0.0 <= float(t.min()) and float(t.max()) <= 1.0
    assert torch.equal(R.pil_to_tensor(R.tensor_to_pil(t)), t)
    wide = R.render_tensor(meta, 0, size=(80, 48))
    assert wide.shape == (3, 48, 80)
    aa = R.render_tensor(meta, 0, antialias=True)
    values = set(aa.flatten().tolist())
    assert len(values) > 10  # soft edges produce intermediate values


def test_render_batch():
    metas = _sample(10, 0)
    batch, scenes = R.render_batch(metas, 0, return_scenes=True)
    assert batch.shape == (10, 3, 64, 64) and len(scenes) == 10
    assert torch.equal(batch, R.render_batch(metas, 0))
    assert R.render_batch([], 0).shape == (0, 3, 64, 64)


def test_unknown_class_raises():
    with pytest.raises(ValueError):
        R.sample_scene({"tag": "single_object", "include": [{"class": "dog", "count": 1}]}, 0)


@pytest.mark.parametrize("relation", ["left of", "right of", "above", "below"])
def test_relations_hold_with_a_clear_margin(relation):
    """GenEval's component on the relation's axis is beyond 0.7, the other within 0.3, and boxes are apart."""
    meta = P.metadata_for_prompt(f"a photo of a square {relation} a triangle")
    axis, sign = {"left of": (0, -1), "right of": (0, 1), "above": (1, -1), "below": (1, 1)}[relation]
    for seed in range(150):
        scene = R.sample_scene(meta, seed)
        ref, subj = sorted(scene.objects, key=lambda o: o.group)
        comps = position_components(subj.box, ref.box)
        assert sign * comps[axis] > 0.7 - 1e-9 and abs(comps[1 - axis]) <= 0.3 + 1e-9, (seed, comps)
        lo, hi = (subj.box, ref.box) if sign < 0 else (ref.box, subj.box)
        assert lo[axis + 2] + 2 <= hi[axis]  # separated along the axis


def test_render_batch_passes_the_layout_through():
    metas = _sample(20, 1)
    _, scenes = R.render_batch(metas, 0, return_scenes=True, size_range=(0.3, 0.3))
    sides = {o.box[2] - o.box[0] for s in scenes for o in s.objects}
    assert sides <= {round(0.3 * 64 * 0.95**k) for k in range(6)} and round(0.3 * 64) in sides
