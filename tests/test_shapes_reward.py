"""ShapesReward: fixed columns, NaN exactly where a concept is absent, right images outrank wrong ones."""

from __future__ import annotations

import math

import pytest
import torch

from reward_models.base import CONCEPT_GROUPS, RewardBatch, RewardOutput
from t2i_rl.shapes import prompts as P
from t2i_rl.shapes import render as R
from t2i_rl.shapes.reward import ShapesReward, column_names
from t2i_rl.shapes.scoring import per_tag_accuracy
from t2i_rl.shapes.world import COLORS, TAGS

NAMES = ["obj0/presence", "obj0/count", "obj0/color", "obj1/presence", "obj1/count", "obj1/color", "relation"]


def _score(reward: ShapesReward, prompts: list[str], images: torch.Tensor, with_metadata: bool = True) -> RewardOutput:
    metas = [P.metadata_for_prompt(p) for p in prompts] if with_metadata else []
    return reward(RewardBatch(images, prompts, metas))


def _render(prompt: str, seed: int = 0) -> torch.Tensor:
    return R.render_tensor(P.metadata_for_prompt(prompt), seed)


def test_columns_and_shapes_are_fixed():
    reward = ShapesReward()
    one = _score(reward, ["a photo of a circle"], _render("a photo of a circle")[None])
    metas = P.all_prompts()[::7]
    many = reward(RewardBatch(R.render_batch(metas, 0), [m["prompt"] for m in metas], metas))
    assert one.names == many.names == NAMES
    assert one.scores.shape == (1, 7) and many.scores.shape == (len(metas), 7)
    assert one.groups == ["object", "object", "attribute", "object", "object", "attribute", "relation"]
    assert set(one.groups) <= set(CONCEPT_GROUPS)
    strict = ShapesReward(include_strict=True)
    out = _score(strict, ["a photo of a circle"], _render("a photo of a circle")[None])
    assert out.names == NAMES + ["strict"] and out.groups[-1] == "other" and out.scores.shape == (1, 8)
    assert column_names(3)[:3] == ["obj0/presence", "obj0/count", "obj0/color"] and len(column_names(3)) == 10


def test_nan_exactly_where_absent_and_values_in_unit_interval():
    metas = P.all_prompts()
    images = R.render_batch(metas, 1)
    out = ShapesReward().__call__(RewardBatch(images, [m["prompt"] for m in metas], metas))
    for row, meta in zip(out.scores, metas):
        inc = meta["include"]
        expected = {
            "obj0/presence": True,
            "obj0/count": meta["tag"] == "counting",
            "obj0/color": "color" in inc[0],
            "obj1/presence": len(inc) > 1,
            "obj1/count": False,
            "obj1/color": len(inc) > 1 and "color" in inc[1],
            "relation": meta["tag"] == "position",
        }
        got = {name: not math.isnan(float(v)) for name, v in zip(out.names, row)}
        assert got == expected, meta["prompt"]
        finite = row[~torch.isnan(row)]
        assert ((finite >= 0) & (finite <= 1)).all()
        assert (finite == 1).all(), meta["prompt"]  # clean renders satisfy every concept


@pytest.mark.parametrize(
    "prompt, wrong_prompt, column",
    [
        ("a photo of a circle", None, "obj0/presence"),  # None: a blank image
        ("a photo of a circle and a square", "a photo of a circle", "obj1/presence"),
        ("a photo of three circles", "a photo of two circles", "obj0/count"),
        ("a photo of three circles", "a photo of four circles", "obj0/count"),
        ("a photo of a red circle", "a photo of a blue circle", "obj0/color"),
        ("a photo of a red circle and a blue square", "a photo of a red circle and a green square", "obj1/color"),
        ("a photo of a yellow triangle and a blue square", "a photo of a red triangle and a blue square", "obj0/color"),
        ("a photo of a circle left of a square", "a photo of a circle right of a square", "relation"),
        ("a photo of a triangle above a circle", "a photo of a triangle below a circle", "relation"),
    ],
)
def test_right_image_ranks_above_wrong_image(prompt, wrong_prompt, column):
    reward = ShapesReward(include_strict=True)
    for seed in range(4):
        right = _render(prompt, seed)
        wrong = torch.ones_like(right) if wrong_prompt is None else _render(wrong_prompt, seed)
        out = _score(reward, [prompt, prompt], torch.stack([right, wrong]))
        k = out.names.index(column)
        assert out.scores[0, k] > out.scores[1, k], (prompt, seed, out.scores)
        assert out.scores[0, out.names.index("strict")] == 1.0
        assert out.scores[1, out.names.index("strict")] == 0.0
        assert out.details[0]["shapes/correct"] and not out.details[1]["shapes/correct"]


def test_metadata_fallback_and_details():
    prompts = ["a photo of two squares", "a photo of an orange triangle"]
    images = torch.stack([_render(p, 3) for p in prompts])
    reward = ShapesReward()
    with_meta, without = _score(reward, prompts, images), _score(reward, prompts, images, with_metadata=False)
    assert torch.equal(with_meta.scores.nan_to_num(-1), without.scores.nan_to_num(-1))
    d = with_meta.details[0]
    assert set(d) == {"shapes/detections", "shapes/correct", "shapes/reason", "shapes/tag"}
    assert d["shapes/tag"] == "counting" and d["shapes/correct"] and d["shapes/reason"] == ""
    assert [x["shape"] for x in d["shapes/detections"]] == ["square", "square"]
    with pytest.raises(ValueError):
        reward(RewardBatch(images[:1], ["a photo of a dog"]))


def test_too_many_objects_raises():
    meta = {"tag": "custom", "include": [{"class": c, "count": 1} for c in ("circle", "square", "triangle")]}
    image = R.render_tensor(meta, 0)[None]
    with pytest.raises(ValueError):
        ShapesReward()(RewardBatch(image, ["three shapes"], [meta]))
    out = ShapesReward(max_objects=3)(RewardBatch(image, ["three shapes"], [meta]))
    assert out.scores.shape == (1, 10) and out.scores[0, out.names.index("obj2/presence")] == 1.0


def test_reward_accepts_gpu_style_inputs():
    image = _render("a photo of a green square")[None]
    out = ShapesReward()(RewardBatch(image.to(torch.bfloat16), ["a photo of a green square"]))
    assert out.scores[0, 0] == 1.0 and out.scores[0, 2] == 1.0


def test_per_tag_accuracy():
    metas = P.all_prompts()[::3]
    images = R.render_batch(metas, 2)
    acc = per_tag_accuracy(metas, images)
    assert set(acc) == set(TAGS) | {"overall"} and all(v == 1.0 for v in acc.values())
    # blank out every position image: that tag drops to 0, the overall mean by exactly 1/6
    blanked = images.clone()
    for i, m in enumerate(metas):
        if m["tag"] == "position":
            blanked[i] = 1.0
    acc = per_tag_accuracy(metas, blanked)
    assert acc["position"] == 0.0 and acc["overall"] == pytest.approx(5 / 6)


def _rounded_square(radius: int, side: int = 24, color: str = "blue") -> torch.Tensor:
    """A 64 px image of one square with corners rounded to ``radius`` pixels (0: a crisp square)."""
    from PIL import Image, ImageDraw

    from t2i_rl.shapes.world import BACKGROUND

    image = Image.new("RGB", (64, 64), BACKGROUND)
    ImageDraw.Draw(image).rounded_rectangle((20, 20, 20 + side - 1, 20 + side - 1), radius, fill=COLORS[color])
    return R.pil_to_tensor(image)


def test_shape_confidence_presence_grades_near_misses():
    """Binary presence cannot tell a crisp square from one about to be taken for a circle; the graded one can."""
    prompt = "a photo of a square"
    # radius 8 = a third of the side is already taken for a circle; radius 12 = side / 2 is one
    images = torch.stack([_rounded_square(r) for r in (0, 4, 7, 8, 12)])
    binary = _score(ShapesReward(), [prompt] * 5, images).scores[:, 0]
    graded = _score(ShapesReward(presence="shape_confidence"), [prompt] * 5, images).scores[:, 0]
    assert binary.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert graded[0] > graded[1] > graded[2] > graded[3] == graded[4] == 0.0
    assert graded[0] == 1.0  # a crisp square sits on its prototype
    # a clean render of every prompt keeps full presence, so the graded reward agrees with GenEval's on it
    metas = P.all_prompts()[::5]
    out = ShapesReward(presence="shape_confidence")(RewardBatch(R.render_batch(metas, 0), [m["prompt"] for m in metas], metas))
    presence = out.scores[:, [out.names.index("obj0/presence"), out.names.index("obj1/presence")]]
    assert ((presence > 0.5) | presence.isnan()).all()


def test_unknown_presence_mode_is_refused():
    with pytest.raises(ValueError, match="presence='soft'"):
        ShapesReward(presence="soft")


def test_extra_column_charges_unrequested_shapes():
    reward = ShapesReward(penalize_extra=True, include_strict=True)
    assert reward.names == NAMES + ["extra", "strict"] and reward.groups[-2] == "object"
    prompt = "a photo of two circles"
    clean = _render(prompt, 0)
    cluttered = clean.clone()
    blue = torch.tensor(COLORS["blue"], dtype=torch.float32).view(3, 1, 1) / 255
    cluttered[:, 0:8, 0:8] = blue  # one unrequested square in a corner
    out = _score(reward, [prompt, prompt], torch.stack([clean, cluttered]))
    k = out.names.index("extra")
    assert out.scores[:, k].tolist() == [1.0, 0.5]  # 1 extra shape for 2 named: 1 - 1/2
    assert out.scores[1, out.names.index("strict")] == 1.0  # GenEval's rules let it pass
    metas = P.all_prompts()[::5]
    out = reward(RewardBatch(R.render_batch(metas, 1), [m["prompt"] for m in metas], metas))
    assert (out.scores[:, k] == 1.0).all()  # clean renders draw exactly what they name
    assert "extra" not in ShapesReward().names
