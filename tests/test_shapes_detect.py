"""Shapes-world detector: exact on clean renders, robust to noise and blur, and it catches broken images."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from t2i_rl.shapes import prompts as P
from t2i_rl.shapes import render as R
from t2i_rl.shapes.detect import DetectorConfig, classify_shape, connected_components, detect, detect_one
from t2i_rl.shapes.scoring import evaluate_images
from t2i_rl.shapes.world import COLORS, SHAPES, TAGS


def _sample(n: int, seed: int) -> list[dict]:
    """``n`` random metadata covering every tag (each tag at least n // 12 times)."""
    rng = np.random.default_rng(seed)
    per_tag = {tag: P.enumerate_tag(tag) for tag in TAGS}
    out = [per_tag[tag][int(rng.integers(len(per_tag[tag])))] for tag in TAGS for _ in range(n // 12)]
    everything = P.all_prompts()
    out += [everything[int(i)] for i in rng.integers(len(everything), size=n - len(out))]
    return out


def _blur3(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)


def _objects(scene) -> list[tuple[str, str]]:
    return sorted((o.shape, o.color) for o in scene.objects)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_renders_are_detected_exactly(seed):
    metas = _sample(300, seed)
    images, scenes = R.render_batch(metas, seed, return_scenes=True)
    dets = detect(images)
    for scene, ds in zip(scenes, dets):
        assert sorted((o.shape, o.color, o.box) for o in scene.objects) == sorted((d.shape, d.color, d.box) for d in ds)
    evals = evaluate_images(images, metas)
    assert all(e.correct for e in evals), [(m["prompt"], e.reason) for m, e in zip(metas, evals) if not e.correct]


@pytest.mark.parametrize("antialias", [False, True])
def test_noisy_blurred_renders_are_still_detected(antialias):
    metas = _sample(300, 7)
    images, scenes = R.render_batch(metas, 7, antialias=antialias, return_scenes=True)
    gen = torch.Generator().manual_seed(0)
    noisy = (_blur3(images) + 0.03 * torch.randn(images.shape, generator=gen)).clamp(0, 1)
    dets = detect(noisy)
    assert [_objects(s) for s in scenes] == [sorted((d.shape, d.color) for d in ds) for ds in dets]
    evals = evaluate_images(noisy, metas)
    assert all(e.correct for e in evals), [(m["prompt"], e.reason) for m, e in zip(metas, evals) if not e.correct]


def test_antialiased_clean_renders_strictly_correct():
    metas = _sample(120, 3)
    images = R.render_batch(metas, 3, antialias=True)
    assert all(e.correct for e in evaluate_images(images, metas))


# ----------------------------------------------------------------------------------------- corruptions
def _render(prompt: str, seed: int):
    meta = P.metadata_for_prompt(prompt)
    img, scene = R.render_scene(meta, seed)
    return meta, scene, R.pil_to_tensor(img)


def _erase(image: torch.Tensor, box) -> torch.Tensor:
    out = image.clone()
    x0, y0, x1, y1 = box
    out[:, y0:y1, x0:x1] = 1.0  # background is white
    return out


@pytest.mark.parametrize(
    "prompt",
    [
        "a photo of a circle",
        "a photo of a circle and a triangle",
        "a photo of three squares",
        "a photo of a red triangle",
        "a photo of a square above a circle",
        "a photo of a blue circle and a yellow square",
    ],
)
def test_missing_shape_is_caught(prompt):
    for seed in range(5):
        meta, scene, image = _render(prompt, seed)
        (ok,) = evaluate_images(image[None], [meta])
        assert ok.correct
        for obj in scene.objects:
            (bad,) = evaluate_images(_erase(image, obj.box)[None], [meta])
            assert not bad.correct
            assert "expected" in bad.reason or "no target" in bad.reason


def test_extra_object_breaks_exact_count():
    meta = P.metadata_for_prompt("a photo of two circles")
    scene = R.sample_scene(meta, 0)
    # add a third circle in a free spot
    extra = R.PlacedObject("circle", "green", (0, 0, 0, 0), 0)
    for y in range(2, 50, 2):
        for x in range(2, 50, 2):
            box = (x, y, x + 12, y + 12)
            if not any(
                max(box[0], o.box[0]) < min(box[2], o.box[2]) + 3 and max(box[1], o.box[1]) < min(box[3], o.box[3]) + 3
                for o in scene.objects
            ):
                extra = replace(extra, box=box)
                break
        if extra.box[2]:
            break
    assert extra.box[2], "no free spot"
    image = R.pil_to_tensor(R.draw_scene(R.Scene(64, 64, scene.objects + [extra])))
    (ev,) = evaluate_images(image[None], [meta])
    assert not ev.correct and "circle<3" in ev.reason
    assert len(detect_one(image)) == 3


@pytest.mark.parametrize("prompt", ["a photo of a red triangle", "a photo of a purple circle and an orange square"])
def test_recoloured_shape_is_caught(prompt):
    for seed in range(5):
        meta, scene, _ = _render(prompt, seed)
        for k, obj in enumerate(scene.objects):
            for colour in COLORS:
                if colour == obj.color:
                    continue
                objects = list(scene.objects)
                objects[k] = replace(obj, color=colour)
                recoloured = R.pil_to_tensor(R.draw_scene(R.Scene(64, 64, objects)))
                (ev,) = evaluate_images(recoloured[None], [meta])
                assert not ev.correct, (prompt, seed, colour)
                assert f"expected {obj.color} {obj.shape}" in ev.reason


@pytest.mark.parametrize("relation", ["left of", "right of", "above", "below"])
def test_moved_shape_breaking_relation_is_caught(relation):
    prompt = f"a photo of a triangle {relation} a circle"
    for seed in range(5):
        meta, scene, _ = _render(prompt, seed)
        ref, subj = sorted(scene.objects, key=lambda o: o.group)
        # swap where the two objects are (the subject moves to the reference's side and vice versa)
        moved = [replace(ref, box=subj.box), replace(subj, box=ref.box)]
        swapped = R.pil_to_tensor(R.draw_scene(R.Scene(64, 64, moved)))
        (ev,) = evaluate_images(swapped[None], [meta])
        assert not ev.correct
        assert f"expected triangle {relation} target" in ev.reason


# ---------------------------------------------------------------------------------------------- detector
def test_blank_and_specks():
    blank = torch.ones(2, 3, 64, 64)
    assert detect(blank) == [[], []]
    specks = blank.clone()
    specks[0, :, 10:13, 10:13] = torch.tensor([0.84, 0.12, 0.16]).view(3, 1, 1)  # 9 px red: below min area
    assert detect(specks)[0] == []
    assert len(detect(specks, DetectorConfig(min_area_frac=0.001))[0]) == 1


def test_components_split_and_merge():
    img = torch.ones(3, 32, 32)
    red = torch.tensor([0.84, 0.12, 0.16]).view(3, 1, 1)
    img[:, 4:12, 4:12] = red
    img[:, 4:12, 14:22] = red  # same colour, separated by a 2 px gap
    assert [d.shape for d in detect_one(img)] == ["square", "square"]
    img[:, 4:12, 12:14] = red  # now joined: one 8x18 rectangle
    dets = detect_one(img)
    assert len(dets) == 1 and dets[0].box == (4, 4, 22, 12)


def test_connected_components_labels():
    labels = torch.zeros(1, 5, 5, dtype=torch.long)
    labels[0, 0, 0:3] = 1
    labels[0, 1, 2] = 1  # L-shape, 4-connected
    labels[0, 3, 3] = 1
    labels[0, 4, 4] = 1  # diagonal neighbours are separate components
    labels[0, 0, 3] = 2  # a different colour touching the L
    comps = connected_components(labels)[0]
    assert comps[0, 0] == comps[0, 2] == comps[1, 2] != 0
    assert comps[3, 3] != comps[4, 4]
    assert comps[0, 3] != comps[0, 2]
    assert (comps[labels[0].numpy() == 0] == 0).all()
    assert len(np.unique(comps[comps > 0])) == 4
    assert comps[0, 0] == 1  # 1 + smallest pixel index of the component


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("side", [9, 12, 20, 40])
def test_single_shape_classification(shape, side):
    scene = R.Scene(64, 64, [R.PlacedObject(shape, "blue", (10, 12, 10 + side, 12 + side), 0)])
    image = R.pil_to_tensor(R.draw_scene(scene))
    (det,) = detect_one(image)
    assert (det.shape, det.color, det.box) == (shape, "blue", (10, 12, 10 + side, 12 + side))
    assert 0.0 < det.score <= 1.0


def test_classify_shape_prototypes():
    assert classify_shape(1.0, 0.5)[0] == "square"
    assert classify_shape(0.785, 0.5)[0] == "circle"
    assert classify_shape(0.5, 0.25)[0] == "triangle"
    assert classify_shape(0.5, 0.75)[0] == "triangle"  # inverted
    assert classify_shape(0.72, 0.35)[0] == "triangle"  # a blurred small triangle
    assert classify_shape(0.785, 0.5)[1] > classify_shape(0.89, 0.5)[1]


def test_input_formats_agree():
    meta = P.metadata_for_prompt("a photo of a green circle and a purple triangle")
    img = R.render_image(meta, 0)
    as_tensor = detect_one(R.pil_to_tensor(img))
    assert detect(np.asarray(img))[0] == as_tensor
    assert detect(R.pil_to_tensor(img)[None].double())[0] == as_tensor
    with pytest.raises(ValueError):
        detect(torch.ones(1, 4, 8, 8))
