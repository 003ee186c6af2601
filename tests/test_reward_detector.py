"""DetectorReward and GenEval's rules over generic detections, offline.

* The rules (``reward_models.geneval_rules``) on synthetic detections with hand-computed verdicts.
* A tiny random Grounding DINO built in code, saved and loaded through ``from_pretrained``: shapes, batching,
  NaN columns, device placement, clear loading errors.
* A scripted fake detector (colour blobs drawn on a white canvas): the reward ranks a right image above a wrong
  one, which a random detector cannot be relied on to do.
"""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image, ImageDraw

from concept_parsers import parse
from reward_models.base import RewardBatch
from reward_models.detector import DetectorReward, GroundingDinoDetector, column_names, images_to_pil
from reward_models.geneval_rules import (
    Detection,
    count_score,
    found_objects,
    geneval_relation,
    group_by_label,
    match_label,
    position_score,
    presence_score,
)
from t2i_rl.tiny import save_tiny_grounding_dino

NAN = float("nan")


def det(label, score, box):
    return Detection(label, score, box)


# ============================================================================================ rules
def test_group_by_label_thresholds_both_sides():
    dets = [det("cat", 0.31, (0, 0, 1, 1)), det("cat", 0.29, (2, 2, 3, 3)), det("cat", 0.3, (4, 4, 5, 5)),
            det("dog", 0.91, (0, 0, 1, 1)), det("dog", 0.89, (5, 5, 6, 6))]
    at_03 = group_by_label(dets, threshold=0.3)
    assert [d.score for d in at_03["cat"]] == [0.31]  # GenEval keeps score > threshold (0.3 itself is dropped)
    assert [d.score for d in at_03["dog"]] == [0.91, 0.89]  # most confident first
    at_09 = group_by_label(dets, threshold=0.9)
    assert "cat" not in at_09 and [d.score for d in at_09["dog"]] == [0.91]


def test_group_by_label_caps_per_class_and_nms():
    many = [det("cat", 0.5 + i / 100, (i * 10, 0, i * 10 + 5, 5)) for i in range(20)]
    assert len(group_by_label(many, max_objects=16)["cat"]) == 16
    assert group_by_label(many, max_objects=16)["cat"][0].score == pytest.approx(0.69)
    overlapping = [det("cat", 0.9, (0, 0, 10, 10)), det("cat", 0.8, (1, 0, 11, 10)), det("dog", 0.7, (0, 0, 10, 10))]
    # IoU of the two cats = 90 / 110 = 0.818
    assert len(group_by_label(overlapping, nms_iou=1.0)["cat"]) == 2  # GenEval's default: no NMS
    assert len(group_by_label(overlapping, nms_iou=0.85)["cat"]) == 2
    nms = group_by_label(overlapping, nms_iou=0.5)
    assert [d.score for d in nms["cat"]] == [0.9] and len(nms["dog"]) == 1  # class-wise: the dog survives


def test_count_score_exact_and_at_least():
    assert count_score(2, 2, exact=True) == 1.0
    assert count_score(1, 2, exact=True) == pytest.approx(math.exp(-1))  # one short
    assert count_score(3, 2, exact=True) == pytest.approx(math.exp(-1))  # one too many (GenEval's exclude n+1)
    assert count_score(4, 2, exact=True) == pytest.approx(math.exp(-2))
    assert count_score(5, 2, exact=False) == 1.0  # "cats": at least two
    assert count_score(1, 3, exact=False) == pytest.approx(math.exp(-2))
    with pytest.raises(ValueError):
        count_score(-1, 2, exact=True)


def test_geneval_relation_mapping():
    assert geneval_relation("left of") == "left of"
    assert geneval_relation("on top of") == "above"
    assert geneval_relation("under") == "below"
    assert geneval_relation("next to") is None  # spatial but not GenEval-checkable
    assert geneval_relation("chasing", "action") is None
    assert geneval_relation("left of", "non-spatial") is None


def test_position_score_margin_and_pairs():
    a = det("cat", 0.9, (0, 0, 10, 10))
    inside = det("dog", 0.9, (1, 0, 11, 10))  # centre offset 1 < 0.1 * (10 + 10) = 2: no relation
    assert position_score([a], [inside], "left of") == 0.0
    outside = det("dog", 0.9, (3, 0, 13, 10))  # offset 3 > 2: revised offset 1, dx = -1/3 ... not < -0.5
    assert position_score([a], [outside], "left of") == 0.0
    far = det("dog", 0.9, (20, 0, 30, 10))  # offset 20, revised 18, dx = -0.9 < -0.5
    assert position_score([a], [far], "left of") == 1.0
    assert position_score([far], [a], "right of") == 1.0
    diagonal = det("dog", 0.9, (20, 20, 30, 30))  # dx = dy = -18 / 28.3 = -0.64: left of AND above
    assert position_score([a], [diagonal], "left of") == 1.0 and position_score([a], [diagonal], "above") == 1.0
    wrong_side = det("cat", 0.8, (40, 0, 50, 10))
    assert position_score([a, wrong_side], [far], "left of") == 0.5  # one of two pairs
    assert position_score([a, wrong_side], [far], "left of", mode="all") == 0.0  # GenEval's verdict
    assert position_score([], [far], "left of") == 0.0
    assert position_score([a], [a], "left of") == 0.0  # a box is never paired with itself
    with pytest.raises(ValueError):
        position_score([a], [far], "next to")
    with pytest.raises(ValueError):
        position_score([a], [far], "left of", mode="mean")


def test_presence_and_found_objects():
    grouped = group_by_label([det("cat", 0.9, (0, 0, 1, 1)), det("cat", 0.5, (2, 2, 3, 3))])
    assert presence_score(grouped, "cat") == 1.0 and presence_score(grouped, "dog") == 0.0
    assert [d.score for d in found_objects(grouped, "cat", 1)] == [0.9]
    assert len(found_objects(grouped, "cat", 0)) == 1  # an uncounted object finds its best box
    assert len(found_objects(grouped, "cat", 5)) == 2


@pytest.mark.parametrize("label,expected", [
    ("cat", "cat"), ("a cat", "cat"), ("cat. [SEP]", "cat"), ("hot dog", "hot dog"), ("dog", "dog"),
    ("cat dog", "cat"), ("dog cat", "dog"), ("", None), ("bird", None), ("cats", None),
])
def test_match_label(label, expected):
    assert match_label(label, ["cat", "dog", "hot dog"]) == expected


def test_detection_validates_box():
    with pytest.raises(ValueError):
        Detection("cat", 0.5, (0, 0, 1))
    assert det("cat", 1, [0, 0, 1, 2]).to_dict() == {"label": "cat", "score": 1.0, "box": [0.0, 0.0, 1.0, 2.0]}


# ============================================================================================ fakes
class ScriptedDetector:
    """Finds axis-aligned colour blobs on a white canvas; ``colour -> (noun, score)`` says what each blob is."""

    def __init__(self, legend: dict[tuple[int, int, int], tuple[str, float]]):
        self.legend = legend
        self.calls = []

    def __call__(self, images, queries):
        self.calls.append([list(q) for q in queries])
        out = []
        for image, nouns in zip(images, queries):
            dets = []
            for colour, (noun, score) in self.legend.items():
                if noun in nouns:
                    dets += [Detection(noun, score, box) for box in blob_boxes(image, colour)]
            out.append(dets)
        return out


def blob_boxes(image, colour):
    """Bounding boxes of the 4-connected components of exactly ``colour`` (pure Python, small images)."""
    w, h = image.size
    px = image.load()
    seen, boxes = set(), []
    for y in range(h):
        for x in range(w):
            if (x, y) in seen or px[x, y] != colour:
                continue
            stack, x0, y0, x1, y1 = [(x, y)], x, y, x, y
            seen.add((x, y))
            while stack:
                cx, cy = stack.pop()
                x0, y0, x1, y1 = min(x0, cx), min(y0, cy), max(x1, cx), max(y1, cy)
                for nx, ny in ((cx + 1, cy), (cx - 1, cy), (cx, cy + 1), (cx, cy - 1)):
                    if 0 <= nx < w and 0 <= ny < h and (nx, ny) not in seen and px[nx, ny] == colour:
                        seen.add((nx, ny))
                        stack.append((nx, ny))
            boxes.append((x0, y0, x1 + 1, y1 + 1))
    return boxes


RED, BLUE = (255, 0, 0), (0, 0, 255)


def canvas(blobs, size=64):
    """A white ``[3, size, size]`` image with filled rectangles ``(colour, (x0, y0, x1, y1))``."""
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for colour, box in blobs:
        draw.rectangle(box, fill=colour)
    return torch.tensor(list(image.getdata()), dtype=torch.float32).reshape(size, size, 3).permute(2, 0, 1) / 255


def fake_reward(legend=None, **kwargs):
    legend = legend or {RED: ("square", 0.95), BLUE: ("circle", 0.95)}
    return DetectorReward(detector=ScriptedDetector(legend), **kwargs)


# ============================================================================================ scripted ranking
def test_right_count_ranks_above_wrong_count():
    reward = fake_reward()
    right = canvas([(RED, (4, 4, 20, 20)), (RED, (40, 40, 56, 56))])
    one = canvas([(RED, (4, 4, 20, 20))])
    three = canvas([(RED, (4, 4, 14, 14)), (RED, (40, 40, 50, 50)), (RED, (4, 40, 14, 50))])
    out = reward(RewardBatch(torch.stack([right, one, three]), ["two red squares"] * 3))
    count = out.scores[:, out.names.index("obj0/count")]
    assert count.tolist() == pytest.approx([1.0, math.exp(-1), math.exp(-1)])
    assert out.scores[:, out.names.index("obj0/present")].tolist() == [1.0, 1.0, 1.0]
    assert len(out.details[0]["detector/object_boxes"][0]) == 2 and len(out.details[1]["detector/object_boxes"][0]) == 1


def test_right_side_ranks_above_wrong_side():
    reward = fake_reward()
    right = canvas([(RED, (4, 24, 20, 40)), (BLUE, (44, 24, 60, 40))])
    wrong = canvas([(BLUE, (4, 24, 20, 40)), (RED, (44, 24, 60, 40))])
    missing = canvas([(RED, (4, 24, 20, 40))])
    prompts = ["a square to the left of a circle"] * 3
    out = reward(RewardBatch(torch.stack([right, wrong, missing]), prompts))
    pos = out.scores[:, out.names.index("rel0/position")]
    assert pos.tolist() == [1.0, 0.0, 0.0]
    assert out.scores[2, out.names.index("obj1/present")] == 0.0
    assert out.groups[out.names.index("rel0/position")] == "relation"


def test_counting_threshold_applies_to_count_only():
    # Second square has a confidence between 0.3 and 0.9: present, found, but not counted (GenEval's 0.9).
    legend = {RED: ("square", 0.95), (255, 0, 1): ("square", 0.5)}
    reward = fake_reward(legend)
    image = canvas([(RED, (4, 4, 20, 20)), ((255, 0, 1), (40, 40, 56, 56))])
    out = reward(RewardBatch(image[None], ["two squares"]))
    assert out.scores[0, out.names.index("obj0/count")].item() == pytest.approx(math.exp(-1))
    assert len(out.details[0]["detector/object_boxes"][0]) == 2
    relaxed = fake_reward(legend, count_threshold=0.4)(RewardBatch(image[None], ["two squares"]))
    assert relaxed.scores[0, relaxed.names.index("obj0/count")].item() == 1.0


def test_nan_columns_follow_the_prompt():
    reward = fake_reward()
    image = canvas([(RED, (4, 4, 20, 20))])
    prompts = ["a square", "two squares to the left of a circle", "a square chasing a circle", "no squares",
               "a square next to a circle"]
    out = reward(RewardBatch(image.expand(len(prompts), -1, -1, -1).clone(), prompts))
    assert out.names == column_names(3, 2) and out.scores.shape == (5, 8)
    assert out.groups == ["object"] * 6 + ["relation"] * 2
    nan = torch.isnan(out.scores)
    col = {n: i for i, n in enumerate(out.names)}
    assert not nan[0, col["obj0/present"]] and nan[0, col["obj0/count"]] and nan[0, col["obj1/present"]]
    assert nan[0, col["rel0/position"]]
    assert not nan[1, col["obj0/count"]] and not nan[1, col["rel0/position"]] and not nan[1, col["obj1/present"]]
    assert nan[1, col["obj1/count"]] and nan[1, col["obj2/present"]] and nan[1, col["rel1/position"]]
    assert nan[2, col["rel0/position"]]  # action: not GenEval-checkable
    assert nan[3, col["obj0/present"]] and out.scores[3, col["obj0/count"]] == pytest.approx(math.exp(-1))
    assert nan[4, col["rel0/position"]]  # "next to": spatial but no GenEval rule
    finite = out.scores[~nan]
    assert ((finite >= 0) & (finite <= 1)).all()


def test_graph_from_metadata_and_geneval_metadata():
    reward = fake_reward()
    image = canvas([(RED, (4, 4, 20, 20)), (RED, (40, 40, 56, 56))])
    graph = parse("two red squares").to_dict()
    geneval = {"tag": "counting", "include": [{"class": "square", "count": 2}],
               "exclude": [{"class": "square", "count": 3}]}
    out = reward(RewardBatch(image.expand(3, -1, -1, -1).clone(), ["ignored", "ignored", "a square"],
                             [{"concept_graph": graph}, geneval, {}]))
    col = out.names.index("obj0/count")
    assert out.scores[0, col] == 1.0 and out.scores[1, col] == 1.0 and torch.isnan(out.scores[2, col])
    with pytest.raises(TypeError, match="concept_graph"):
        reward(RewardBatch(image[None], ["x"], [{"concept_graph": "two squares"}]))


def test_overflowing_concepts_are_dropped_with_a_warning():
    reward = fake_reward(max_object_slots=2, max_relation_slots=1)
    image = canvas([(RED, (4, 4, 20, 20))])
    with pytest.warns(UserWarning, match="no column slot"):
        out = reward(RewardBatch(image[None], ["a cat, a dog, a square and a circle"]))
    assert out.scores.shape == (1, 5)
    assert out.details[0]["detector/dropped"] == ["obj2:square", "obj3:circle"]
    assert reward.detector.calls[-1] == [["cat", "dog"]]  # only slotted nouns are queried


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="box_threshold"):
        fake_reward(box_threshold=1.5)
    with pytest.raises(ValueError, match="position_mode"):
        fake_reward(position_mode="mean")
    with pytest.raises(ValueError, match="float"):
        images_to_pil(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


def test_position_mode_all_is_genevals_verdict():
    image = canvas([(RED, (4, 4, 14, 14)), (RED, (50, 4, 60, 14)), (BLUE, (28, 4, 38, 14))])
    prompt = ["two squares to the left of a circle"]
    frac = fake_reward()(RewardBatch(image[None], prompt))
    strict = fake_reward(position_mode="all")(RewardBatch(image[None], prompt))
    assert frac.scores[0, frac.names.index("rel0/position")] == 0.5
    assert strict.scores[0, strict.names.index("rel0/position")] == 0.0


# ============================================================================================ tiny Grounding DINO
@pytest.fixture(scope="module")
def tiny_gdino_dir(tmp_path_factory):
    return save_tiny_grounding_dino(tmp_path_factory.mktemp("tiny-gdino"))


PROMPTS = ["a cat", "two dogs to the left of a cat", "a dog chasing a cat", "a red square on top of a blue circle"]


def random_images(n=4, size=64, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_tiny_grounding_dino_shapes_nan_and_details(tiny_gdino_dir):
    reward = DetectorReward(model=tiny_gdino_dir, box_threshold=0.0, count_threshold=0.0, batch_size=4)
    assert isinstance(reward.detector, GroundingDinoDetector)
    assert next(reward.detector.model.parameters()).device == torch.device("cpu")
    out = reward(RewardBatch(random_images(), PROMPTS))
    assert out.scores.shape == (4, 8) and out.scores.dtype == torch.float32 and out.scores.device.type == "cpu"
    nan = torch.isnan(out.scores)
    col = {n: i for i, n in enumerate(out.names)}
    expected_finite = {0: ["obj0/present"], 1: ["obj0/present", "obj0/count", "obj1/present", "rel0/position"],
                       2: ["obj0/present", "obj1/present"], 3: ["obj0/present", "obj1/present", "rel0/position"]}
    for b, cols in expected_finite.items():
        assert sorted(out.names[k] for k in range(8) if not nan[b, k]) == sorted(cols), b
    finite = out.scores[~nan]
    assert ((finite >= 0) & (finite <= 1)).all()
    for b, d in enumerate(out.details):
        assert set(d) >= {"detector/detections", "detector/object_boxes", "detector/queries"}
        assert len(d["detector/object_boxes"]) == len(parse(PROMPTS[b]).objects)
        for entry in d["detector/detections"]:
            assert entry["label"] in d["detector/queries"] and len(entry["box"]) == 4
    assert out.details[1]["detector/queries"] == ["dog", "cat"]
    assert sum(len(d["detector/detections"]) for d in out.details) > 0  # labels were matched to nouns
    count = out.scores[1, col["obj0/count"]].item()  # exp(-|n - 2|) for some n
    assert min(abs(count - math.exp(-k)) for k in range(17)) < 1e-6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_tiny_grounding_dino_on_cuda(tiny_gdino_dir):
    reward = DetectorReward(model=tiny_gdino_dir, device="cuda", box_threshold=0.0, count_threshold=0.0)
    assert next(reward.detector.model.parameters()).device.type == "cuda"
    images = random_images()
    out = reward(RewardBatch(images.cuda(), PROMPTS))
    ref = DetectorReward(model=tiny_gdino_dir, box_threshold=0.0, count_threshold=0.0)(RewardBatch(images, PROMPTS))
    assert out.scores.device.type == "cpu" and out.scores.shape == ref.scores.shape
    assert torch.equal(torch.isnan(out.scores), torch.isnan(ref.scores))


def test_tiny_grounding_dino_batching_is_consistent(tiny_gdino_dir):
    images = random_images()
    big = DetectorReward(model=tiny_gdino_dir, box_threshold=0.0, count_threshold=0.0, batch_size=4)
    small = DetectorReward(model=tiny_gdino_dir, box_threshold=0.0, count_threshold=0.0, batch_size=1)
    a, b = big(RewardBatch(images, PROMPTS)), small(RewardBatch(images, PROMPTS))
    assert torch.allclose(a.scores, b.scores, equal_nan=True)
    for da, db in zip(a.details, b.details):
        assert [d["label"] for d in da["detector/detections"]] == [d["label"] for d in db["detector/detections"]]
        for x, y in zip(da["detector/detections"], db["detector/detections"]):
            assert x["box"] == pytest.approx(y["box"], abs=1e-3) and x["score"] == pytest.approx(y["score"], abs=1e-4)


def test_tiny_grounding_dino_default_thresholds_and_non_square_images(tiny_gdino_dir):
    reward = DetectorReward(model=tiny_gdino_dir)
    images = torch.rand(2, 3, 48, 80, generator=torch.Generator().manual_seed(1))
    out = reward(RewardBatch(images, ["two cats", "a dog below a cat"]))
    assert out.scores.shape == (2, 8)
    for d in out.details:
        for entry in d["detector/detections"]:
            x0, y0, x1, y1 = entry["box"]
            assert entry["score"] > 0.3
            assert -1 <= x0 <= x1 <= 81 and -1 <= y0 <= y1 <= 49  # pixel boxes of the 80x48 input


def test_missing_local_model_names_the_path(tmp_path):
    missing = tmp_path / "no-such-detector"
    with pytest.raises(FileNotFoundError, match="no-such-detector") as info:
        DetectorReward(model=str(missing))
    assert "save_pretrained" in str(info.value)


def test_uncached_hub_id_offline_gives_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="HF_HUB_OFFLINE"):
        DetectorReward(model="t2i-rl-tests/no-such-grounding-dino")
