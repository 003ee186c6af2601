"""GenEval scoring (evals.geneval) against hand-computed verdicts, GenEval's folder layout and summary.

* Synthetic detections with hand-computed verdicts and GenEval's reason strings: thresholds on both sides of
  0.3 / 0.9, counts off by one, the 16-per-class cap, colour wrong, position inside / outside the margin,
  a failed target group, exclude clauses ORed.
* GenEval's own 553 records (skipped without ../shared/benchmark_data): a synthetic scene built to satisfy each
  record passes, the same scene missing one object fails.
* The shapes world: perfect rendered images in GenEval's folder layout score 1.0 on every tag with the exact detector.
"""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
import torch
from conftest import needs_benchmark_data
from PIL import Image, ImageDraw

from evals.geneval import (
    ClipColorClassifier,
    EvalDetection,
    ShapesDetector,
    build_color_classifier,
    build_detector,
    default_thresholds,
    detected_colors,
    evaluate_metadata,
    geneval_crop,
    query_classes,
    read_folder,
    score_folder,
    summarize,
)
from reward_models.geneval_rules import GENEVAL_COLORS, Detection


def det(label, score, box, color=None):
    return EvalDetection(label, score, box, color=color)


def cats(*scores):
    return [det("cat", s, (30 * k, 0, 30 * k + 20, 20)) for k, s in enumerate(scores)]


ONE_CAT = {"tag": "single_object", "include": [{"class": "cat", "count": 1}], "prompt": "a photo of a cat"}
TWO_CATS = {"tag": "counting", "include": [{"class": "cat", "count": 2}], "exclude": [{"class": "cat", "count": 3}],
            "prompt": "a photo of two cats"}
THREE_DOGS = {"tag": "counting", "include": [{"class": "dog", "count": 3}], "exclude": [{"class": "dog", "count": 4}],
              "prompt": "a photo of three dogs"}
RED_CAT = {"tag": "colors", "include": [{"class": "cat", "count": 1, "color": "red"}], "prompt": "a photo of a red cat"}
CAT_LEFT_OF_DOG = {"tag": "position", "include": [{"class": "dog", "count": 1},
                                                  {"class": "cat", "count": 1, "position": ["left of", 0]}],
                   "prompt": "a photo of a cat left of a dog"}


# ============================================================================================ thresholds
@pytest.mark.parametrize("score,correct", [(0.31, True), (0.30, False), (0.29, False)])
def test_threshold_03_both_sides(score, correct):
    verdict = evaluate_metadata([det("cat", score, (0, 0, 10, 10))], ONE_CAT)
    assert verdict.correct is correct  # GenEval keeps score > 0.3
    assert verdict.reason == ("" if correct else "expected cat>=1, found 0")


def test_counting_threshold_09_both_sides():
    assert evaluate_metadata(cats(0.95, 0.92), TWO_CATS).correct
    assert evaluate_metadata(cats(0.95, 0.92, 0.89), TWO_CATS).correct  # 0.89 is below 0.9: not counted
    three = evaluate_metadata(cats(0.95, 0.92, 0.91), TWO_CATS)
    assert not three.correct and three.reason == "expected cat<3, found 3"
    one = evaluate_metadata(cats(0.95, 0.89), TWO_CATS)
    assert not one.correct and one.reason == "expected cat>=2, found 1"
    # the same detections in a non-counting record use 0.3: all three cats are kept
    assert len(evaluate_metadata(cats(0.95, 0.92, 0.89), {**TWO_CATS, "tag": "two_object"}).detected["cat"]) == 3


def test_counts_off_by_one():
    dogs = lambda n: [det("dog", 0.95, (30 * k, 0, 30 * k + 20, 20)) for k in range(n)]
    assert evaluate_metadata(dogs(3), THREE_DOGS).correct
    assert evaluate_metadata(dogs(2), THREE_DOGS).reason == "expected dog>=3, found 2"
    assert evaluate_metadata(dogs(4), THREE_DOGS).reason == "expected dog<4, found 4"
    assert not evaluate_metadata(dogs(4), THREE_DOGS).correct


def test_max_16_objects_per_class():
    many = [det("cat", 0.5 + k / 100, (k, 0, k + 1, 1)) for k in range(20)]
    verdict = evaluate_metadata(many, {"tag": "two_object", "include": [{"class": "cat", "count": 1}],
                                       "exclude": [{"class": "cat", "count": 17}], "prompt": "p"})
    assert verdict.correct and len(verdict.detected["cat"]) == 16  # capped at 16 < 17
    assert verdict.detected["cat"][0].score == pytest.approx(0.69)  # most confident first


def test_thresholds_are_parameters_and_shapes_defaults():
    assert evaluate_metadata([det("cat", 0.2, (0, 0, 1, 1))], ONE_CAT, threshold=0.1).correct
    assert default_thresholds("grounding-dino") == (0.3, 0.9) and default_thresholds("shapes") == (0.0, 0.0)


# ============================================================================================ colour
def box_colors(image, detections, classname):
    return [d.color for d in detections]


def test_colour_wrong_and_right():
    assert evaluate_metadata([det("cat", 0.9, (0, 0, 10, 10), "red")], RED_CAT, color_classifier=box_colors).correct
    wrong = evaluate_metadata([det("cat", 0.9, (0, 0, 10, 10), "blue")], RED_CAT, color_classifier=box_colors)
    assert not wrong.correct and wrong.reason == "expected red cat>=1, found 0 red; and 1 blue"
    # only the most confident cat is checked: a red cat behind a more confident blue one does not help
    behind = [det("cat", 0.9, (0, 0, 10, 10), "blue"), det("cat", 0.8, (20, 0, 30, 10), "red")]
    assert not evaluate_metadata(behind, RED_CAT, color_classifier=box_colors).correct
    with pytest.raises(ValueError, match="colour classifier"):
        evaluate_metadata([det("cat", 0.9, (0, 0, 10, 10))], RED_CAT)


def test_color_attr_both_clauses_anded():
    meta = {"tag": "color_attr", "include": [{"class": "cat", "count": 1, "color": "red"},
                                             {"class": "dog", "count": 1, "color": "blue"}], "prompt": "p"}
    ok = [det("cat", 0.9, (0, 0, 10, 10), "red"), det("dog", 0.9, (20, 0, 30, 10), "blue")]
    swapped = [det("cat", 0.9, (0, 0, 10, 10), "blue"), det("dog", 0.9, (20, 0, 30, 10), "red")]
    assert evaluate_metadata(ok, meta, color_classifier=box_colors).correct
    verdict = evaluate_metadata(swapped, meta, color_classifier=box_colors)
    assert verdict.reason.splitlines() == ["expected red cat>=1, found 0 red; and 1 blue",
                                           "expected blue dog>=1, found 0 blue; and 1 red"]
    with pytest.raises(ValueError, match="reports colours"):
        detected_colors(None, [Detection("cat", 0.9, (0, 0, 1, 1))], "cat")


# ============================================================================================ position
CAT = (0, 0, 10, 10)  # centre x 5


@pytest.mark.parametrize("dog_box,correct,found", [
    ((1, 0, 11, 10), False, ""),  # centre offset 1 < margin 0.1 * (10 + 10) = 2: no relation at all
    ((3, 0, 13, 10), False, ""),  # offset 3, revised 1, dx = -1/3 > -0.5: still not "left of"
    ((20, 0, 30, 10), True, None),  # offset 20, revised 18, dx = -0.9
    ((20, 20, 30, 30), True, None),  # diagonal: dx = dy = -18 / 28.28 = -0.64: left of and above
    ((-20, 0, -10, 10), False, "right of"),  # the cat is right of the dog
])
def test_position_margin(dog_box, correct, found):
    verdict = evaluate_metadata([det("cat", 0.9, CAT), det("dog", 0.9, dog_box)], CAT_LEFT_OF_DOG)
    assert verdict.correct is correct
    if not correct:
        assert verdict.reason == f"expected cat left of target, found {found} target"


def test_position_needs_the_target_group():
    verdict = evaluate_metadata([det("cat", 0.9, CAT)], CAT_LEFT_OF_DOG)
    assert verdict.reason.splitlines() == ["expected dog>=1, found 0", "no target for cat to be left of"]


def test_exclude_clauses_are_ored():
    meta = {"tag": "two_object", "include": [{"class": "cat", "count": 1}],
            "exclude": [{"class": "dog", "count": 1}, {"class": "bird", "count": 2}], "prompt": "p"}
    assert evaluate_metadata([det("cat", 0.9, CAT)], meta).correct
    assert not evaluate_metadata([det("cat", 0.9, CAT), det("dog", 0.5, (20, 0, 30, 10))], meta).correct
    birds = [det("bird", 0.5, (40 + 20 * k, 0, 50 + 20 * k, 10)) for k in range(2)]
    assert evaluate_metadata([det("cat", 0.9, CAT)] + birds, meta).reason == "expected bird<2, found 2"
    assert query_classes(meta) == ["cat", "dog", "bird"]


def test_bad_metadata_is_a_clear_error():
    with pytest.raises(ValueError, match="lacks"):
        evaluate_metadata([], {"prompt": "a cat"})
    with pytest.raises(ValueError, match="count"):
        evaluate_metadata([], {"prompt": "a cat", "include": [{"class": "cat", "count": 0}]})
    with pytest.raises(ValueError, match="unknown detector"):
        build_detector("yolo")
    with pytest.raises(ValueError, match="unknown colour"):
        build_color_classifier("hsv")


# ============================================================================================ summary
def test_summary_is_genevals_mean_over_tags():
    records = ([{"tag": "single_object", "prompt": "a", "correct": True}] * 3
               + [{"tag": "counting", "prompt": "b", "correct": False}] * 1
               + [{"tag": "counting", "prompt": "c", "correct": True}] * 1)
    s = summarize(records)
    assert s["scores"] == {"single_object": 1.0, "counting": 0.5}
    assert s["overall"] == 0.75  # mean over tags; the mean over images would be 0.8
    assert s["correct_images"] == 0.8 and s["prompts"] == 3 and s["correct_prompts"] == pytest.approx(2 / 3)
    assert s["counts"]["counting"] == [1, 2]
    with pytest.raises(ValueError):
        summarize([])
    assert "failures" not in s  # GenEval's own records carry no failures


def test_summary_tallies_failures_per_tag_when_records_carry_them():
    records = [
        {"tag": "two_object", "prompt": "a", "correct": False, "failures": ["missing dog", "missing cat"]},
        {"tag": "two_object", "prompt": "a", "correct": False, "failures": ["missing dog"]},
        {"tag": "two_object", "prompt": "a", "correct": True, "failures": []},
        {"tag": "colors", "prompt": "b", "correct": False, "failures": ["color car"]},
    ]
    failures = summarize(records)["failures"]
    assert failures["two_object"] == {"missing dog": 2 / 3, "missing cat": 1 / 3}
    assert failures["colors"] == {"color car": 1.0}
    assert list(failures["overall"]) == ["missing dog", "color car", "missing cat"]  # by share, then by name
    assert failures["overall"]["missing dog"] == 0.5


# ============================================================================================ CLIP colour
class FakeClip:
    """Scripted CLIP: texts embed as the one-hot of their colour word; images as the one-hot of the GenEval
    colour nearest to their mean pixel."""

    logit_scale = 100.0
    RGB: ClassVar[dict[str, tuple[int, int, int]]] = {"red": (255, 0, 0), "orange": (255, 150, 0), "yellow": (255, 255, 0), "green": (0, 160, 0),
           "blue": (0, 0, 255), "purple": (130, 0, 160), "pink": (255, 150, 200), "brown": (120, 70, 20),
           "black": (0, 0, 0), "white": (255, 255, 255)}

    def encode_text(self, texts):
        out = torch.full((len(texts), 10), 1e-3)
        for row, text in enumerate(texts):
            for k, c in enumerate(GENEVAL_COLORS):
                if f" {c} " in f" {text.replace('-colored', ' ')} ":
                    out[row, k] = 1.0
        return torch.nn.functional.normalize(out, dim=-1)

    def encode_images(self, images):
        feats = torch.zeros(len(images), 10)
        for n, im in enumerate(images):
            mean = torch.tensor(list(im.getdata()), dtype=torch.float32).mean(0)
            dist = [(mean - torch.tensor(self.RGB[c], dtype=torch.float32)).norm() for c in GENEVAL_COLORS]
            feats[n, int(torch.stack(dist).argmin())] = 1.0
        return feats


def test_clip_colour_classifier_on_crops_and_masks():
    image = Image.new("RGB", (64, 64), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((4, 4, 23, 23), fill=(255, 0, 0))
    draw.rectangle((40, 40, 59, 59), fill=(0, 0, 255))
    clf = ClipColorClassifier(backend=FakeClip())
    boxes = [det("cat", 0.9, (4, 4, 24, 24)), det("cat", 0.8, (40, 40, 60, 60))]
    assert clf(image, boxes, "cat") == ["red", "blue"]
    meta = {"tag": "color_attr", "include": [{"class": "cat", "count": 2, "color": "red"}], "prompt": "p"}
    assert evaluate_metadata(boxes, meta, image, clf).reason == "expected red cat>=2, found 1 red; and 1 red, 1 blue"
    # a mask composites the object on GenEval's grey (#999) before the crop
    mask = torch.zeros(64, 64, dtype=torch.bool)
    mask[4:24, 4:24] = True
    crop = geneval_crop(image, EvalDetection("cat", 0.9, (0, 0, 32, 32), mask=mask.numpy()))
    assert crop.size == (32, 32) and crop.getpixel((30, 30)) == (0x99, 0x99, 0x99) and crop.getpixel((10, 10)) == (255, 0, 0)


# ============================================================================================ GenEval's records
def synthetic_scene(meta, drop_last=False):
    """Detections (score 0.95, colours attached) that satisfy a GenEval record; without its last object if asked."""
    dets, centres = [], {}
    offsets = {"left of": (-300, 0), "right of": (300, 0), "above": (0, -300), "below": (0, 300)}
    for i, clause in enumerate(meta["include"]):
        if "position" in clause:
            rel, j = clause["position"]
            cx, cy = centres[j][0] + offsets[rel][0], centres[j][1] + offsets[rel][1]
        else:
            cx, cy = 1000 + 400 * i, 1000
        centres[i] = (cx, cy)
        for k in range(clause["count"]):
            x = cx + 12 * k
            dets.append(det(clause["class"], 0.95, (x, cy, x + 10, cy + 10), clause.get("color", "white")))
    return dets[:-1] if drop_last else dets


@needs_benchmark_data
def test_genevals_553_records_pass_on_a_satisfying_scene_and_fail_without_an_object():
    from evals.generate import load_prompts

    records = load_prompts("geneval")
    assert len(records) == 553
    assert sorted({r["tag"] for r in records}) == sorted(
        ["single_object", "two_object", "counting", "colors", "position", "color_attr"])
    for meta in records:
        ok = evaluate_metadata(synthetic_scene(meta), meta, color_classifier=box_colors)
        assert ok.correct, (meta, ok.reason)
        bad = evaluate_metadata(synthetic_scene(meta, drop_last=True), meta, color_classifier=box_colors)
        assert not bad.correct and bad.reason.startswith("expected"), meta


# ============================================================================================ shapes world
def test_perfect_rendered_shapes_score_one_on_every_tag(tmp_path):
    from evals.generate import generate_folder
    from t2i_rl.shapes.prompts import heldout_prompts
    from t2i_rl.shapes.render import render_batch

    metadata = heldout_prompts()
    by_prompt = {m["prompt"]: m for m in metadata}

    def render(prompts, seeds):  # a "model" that draws a correct scene for every prompt
        return torch.cat([render_batch([by_prompt[p]], rng=s) for p, s in zip(prompts, seeds)])

    counts = generate_folder(render, metadata, tmp_path, images_per_prompt=2, seed=0, batch_size=16, progress=False)
    assert counts == {"generated": 2 * len(metadata), "skipped": 0, "total": 2 * len(metadata)}
    assert json.loads((tmp_path / "00000" / "metadata.jsonl").read_text()) == metadata[0]  # GenEval's json.load works
    assert (tmp_path / f"{len(metadata) - 1:05d}" / "samples" / "0001.png").is_file()
    assert len(read_folder(tmp_path)) == len(metadata)
    records = score_folder(tmp_path, ShapesDetector(), detected_colors, progress=False,
                           threshold=0.0, counting_threshold=0.0)
    summary = summarize(records)
    assert summary["scores"] == {tag: 1.0 for tag in
                                 ["single_object", "two_object", "counting", "colors", "position", "color_attr"]}
    assert summary["overall"] == 1.0 and summary["images"] == 2 * len(metadata)
    assert set(records[0]) == {"filename", "tag", "prompt", "correct", "reason", "metadata", "details", "failures"}
    assert all(r["failures"] == [] for r in records) and summary["failures"]["overall"] == {}
    # GenEval's 0.9 counting threshold is not meant for the shapes detector's fit confidences
    strict = summarize(score_folder(tmp_path, ShapesDetector(), detected_colors, progress=False))
    assert strict["scores"]["colors"] == 1.0


def test_read_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_folder(tmp_path / "nope")
    with pytest.raises(ValueError, match="no images"):
        read_folder(tmp_path)
    (tmp_path / "00000").mkdir()
    with pytest.raises(FileNotFoundError, match="metadata.jsonl"):
        read_folder(tmp_path)


# ============================================================================================ Mask2Former (plumbing)
def test_tiny_mask2former_detector_plumbing(tmp_path, monkeypatch):
    """A tiny random Mask2Former saved and loaded through the detector: labels restricted to the queried classes,
    boxes from the masks, masks kept for the colour crop. transformers builds the training loss at init, which
    needs scipy; without scipy it is replaced by a stub (inference never uses it)."""
    import importlib.util

    from transformers import (
        Mask2FormerConfig,
        Mask2FormerForUniversalSegmentation,
        Mask2FormerImageProcessorPil,
        SwinConfig,
    )

    from evals.geneval import Mask2FormerDetector

    if importlib.util.find_spec("scipy") is None:
        import transformers.models.mask2former.modeling_mask2former as m2f

        class NoLoss(torch.nn.Module):
            def __init__(self, config, weight_dict):
                super().__init__()
                self.num_labels, self.eos_coef = config.num_labels, config.no_object_weight
                self.register_buffer("empty_weight", torch.ones(config.num_labels + 1))

        monkeypatch.setattr(m2f, "Mask2FormerLoss", NoLoss)
    labels = {0: "circle", 1: "square", 2: "triangle"}
    config = Mask2FormerConfig(
        backbone_config=SwinConfig(image_size=64, patch_size=4, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                                   window_size=7, out_features=["stage1", "stage2", "stage3", "stage4"]),
        feature_size=32, mask_feature_size=32, hidden_dim=32, encoder_feedforward_dim=64, dim_feedforward=64,
        encoder_layers=1, decoder_layers=2, num_attention_heads=2, num_queries=8, common_stride=4, num_labels=3,
        id2label=labels, label2id={v: k for k, v in labels.items()})
    torch.manual_seed(0)
    Mask2FormerForUniversalSegmentation(config).save_pretrained(tmp_path)
    Mask2FormerImageProcessorPil(size={"shortest_edge": 64, "longest_edge": 64}).save_pretrained(tmp_path)
    detector = Mask2FormerDetector(str(tmp_path), threshold=0.0)
    images = [Image.new("RGB", (64, 48), "red"), Image.new("RGB", (64, 64), "blue")]
    out = detector(images, [["circle", "square"], ["triangle"]])
    assert len(out) == 2
    assert {d.label for d in out[0]} <= {"circle", "square"} and {d.label for d in out[1]} <= {"triangle"}
    for image, dets in zip(images, out):
        for d in dets:
            assert d.mask.shape == (image.height, image.width) and 0 <= d.box[0] < d.box[2] <= image.width
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Mask2FormerDetector(str(tmp_path / "missing"))
