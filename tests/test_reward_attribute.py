"""AttributeReward offline: tiny random open_clip and transformers CLIP built in code (shapes, batching, NaN,
device placement, loading errors), and a scripted fake CLIP ranking the right colour above the wrong one."""

from __future__ import annotations

import json
import math

import pytest
import torch
from PIL import Image, ImageDraw

from reward_models.attribute import (
    GENEVAL_COLOR_TEMPLATES,
    AttributeReward,
    OpenClipBackend,
    TransformersClipBackend,
    crop_box,
    zero_shot_weights,
)
from reward_models.base import RewardBatch
from reward_models.detector import DetectorReward
from reward_models.geneval_rules import GENEVAL_COLORS, Detection

RGB = {"red": (255, 0, 0), "orange": (255, 150, 0), "yellow": (255, 255, 0), "green": (0, 160, 0),
       "blue": (0, 0, 255), "purple": (130, 0, 160), "pink": (255, 150, 200), "brown": (120, 70, 20),
       "black": (0, 0, 0), "white": (255, 255, 255)}


def canvas(blobs, size=64, background=(128, 128, 128)):
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    for colour, box in blobs:
        draw.rectangle(box, fill=RGB[colour])
    return torch.tensor(list(image.getdata()), dtype=torch.float32).reshape(size, size, 3).permute(2, 0, 1) / 255


class FakeClip:
    """Scripted CLIP: a text embeds as the one-hot of the colour word it names; an image embeds as a soft
    one-hot of the palette colour nearest to its mean pixel."""

    logit_scale = 20.0

    def __init__(self):
        self.colours = list(RGB)
        self.image_calls = 0

    def encode_text(self, texts):
        out = torch.zeros(len(texts), len(self.colours))
        for row, text in enumerate(texts):
            for k, colour in enumerate(self.colours):
                if f" {colour} " in f" {text.replace('-colored', ' ')} ":
                    out[row, k] = 1.0
        return torch.nn.functional.normalize(out + 1e-3, dim=-1)

    def encode_images(self, images):
        self.image_calls += 1
        feats = []
        for im in images:
            mean = torch.tensor(list(im.getdata()), dtype=torch.float32).mean(0)
            dist = torch.stack([(mean - torch.tensor(RGB[c], dtype=torch.float32)).norm() for c in self.colours])
            feats.append(torch.softmax(-dist / 10, 0))
        return torch.nn.functional.normalize(torch.stack(feats), dim=-1)


LEFT, RIGHT = (4, 20, 24, 40), (40, 20, 60, 40)


def boxes_meta(*per_object):
    return {"detector/object_boxes": [list(map(list, boxes)) for boxes in per_object]}


# ============================================================================================ scripted ranking
def test_right_colour_ranks_above_wrong_colour():
    reward = AttributeReward(backend=FakeClip())
    right = canvas([("red", LEFT), ("blue", RIGHT)])
    wrong = canvas([("blue", LEFT), ("red", RIGHT)])
    meta = boxes_meta([LEFT], [RIGHT])  # obj0 (car) on the left, obj1 (bench) on the right
    out = reward(RewardBatch(torch.stack([right, wrong]), ["a red car and a blue bench"] * 2, [meta, meta]))
    assert out.names == ["obj0/color", "obj1/color", "obj2/color"] and out.groups == ["attribute"] * 3
    assert (out.scores[0, :2] > 0.9).all() and (out.scores[1, :2] < 0.1).all()
    assert torch.isnan(out.scores[:, 2]).all()
    assert out.details[0]["attribute/predictions"][0]["predicted"] == ["red"]
    argmax = AttributeReward(backend=FakeClip(), score_mode="argmax")
    hard = argmax(RewardBatch(torch.stack([right, wrong]), ["a red car and a blue bench"] * 2, [meta, meta]))
    assert hard.scores[:, :2].tolist() == [[1.0, 1.0], [0.0, 0.0]]


def test_counted_objects_each_need_the_colour_and_missing_ones_score_zero():
    reward = AttributeReward(backend=FakeClip(), score_mode="argmax")
    image = canvas([("red", LEFT), ("green", RIGHT)])
    prompts = ["two red cars", "two red cars", "a red car"]
    metas = [boxes_meta([LEFT, RIGHT]), boxes_meta([LEFT]), boxes_meta([])]
    out = reward(RewardBatch(image.expand(3, -1, -1, -1).clone(), prompts, metas))
    assert out.scores[:, 0].tolist() == [0.5, 0.5, 0.0]  # 1 of 2 red; 1 found of 2 asked; object not found


def test_whole_image_fallback_and_nan_without_colour():
    reward = AttributeReward(backend=FakeClip())
    red = canvas([("red", (0, 0, 63, 63))])
    out = reward(RewardBatch(torch.stack([red, red]), ["a red apple", "an apple"]))
    assert out.scores[0, 0] > 0.9 and torch.isnan(out.scores[1]).all()


def test_colour_outside_genevals_ten_is_added_as_a_class():
    reward = AttributeReward(backend=FakeClip(), score_mode="argmax")
    out = reward(RewardBatch(canvas([])[None], ["a gray cat"]))
    info = out.details[0]["attribute/predictions"][0]
    assert info["value"] == "gray" and not math.isnan(out.scores[0, 0].item())


def test_boxes_from_a_detector_reward():
    class Blobs:
        def __call__(self, images, queries):
            return [[Detection("car", 0.95, LEFT), Detection("bench", 0.95, RIGHT)] for _ in images]

    detector = DetectorReward(detector=Blobs())
    fake = FakeClip()
    reward = AttributeReward(backend=fake, detector=detector)
    images = torch.stack([canvas([("red", LEFT), ("blue", RIGHT)]), canvas([("blue", LEFT), ("red", RIGHT)])])
    out = reward(RewardBatch(images, ["a red car and a blue bench"] * 2))
    assert out.scores[0, 0] > out.scores[1, 0] and out.scores[0, 1] > out.scores[1, 1]
    assert fake.image_calls == 1  # all crops of the batch in one CLIP call


def test_zero_shot_weights_average_templates():
    w = zero_shot_weights(FakeClip(), "car", GENEVAL_COLORS, GENEVAL_COLOR_TEMPLATES)
    assert w.shape == (10, 10) and torch.allclose(w.norm(dim=0), torch.ones(10))
    assert (w.argmax(0) == torch.arange(10)).all()


def test_crop_box_clamps():
    image = Image.new("RGB", (32, 16))
    assert crop_box(image, (-5, -5, 100, 100)).size == (32, 16)
    assert crop_box(image, (10, 10, 10, 10)).size == (1, 1)
    assert crop_box(image, (4.2, 2.5, 8.7, 6.1)).size == (5, 5)
    with pytest.raises(ValueError):
        crop_box(image, (0, 0, 1))
    with pytest.raises(ValueError):
        crop_box(image, (0, 0, float("nan"), 1))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="score_mode"):
        AttributeReward(backend=FakeClip(), score_mode="mean")
    with pytest.raises(ValueError, match="attribute type"):
        AttributeReward(backend=FakeClip(), alternatives={"flavour": ("sweet", "sour")})
    with pytest.raises(ValueError, match="backend"):
        AttributeReward(backend="blip")
    reward = AttributeReward(backend=FakeClip())
    with pytest.raises(TypeError, match="detector/object_boxes"):
        reward(RewardBatch(canvas([])[None], ["a red car"], [{"detector/object_boxes": "left"}]))


def test_other_attribute_types_get_their_own_columns():
    alternatives = {"colour": GENEVAL_COLORS, "material": ("wooden", "metal", "plastic")}
    reward = AttributeReward(backend=FakeClip(), alternatives=alternatives, max_object_slots=1)
    out = reward(RewardBatch(canvas([])[None].expand(2, -1, -1, -1).clone(), ["a wooden chair", "a red chair"]))
    assert out.names == ["obj0/color", "obj0/material"]
    assert torch.isnan(out.scores[0, 0]) and not torch.isnan(out.scores[0, 1])
    assert not torch.isnan(out.scores[1, 0]) and torch.isnan(out.scores[1, 1])


# ============================================================================================ tiny open_clip
OPEN_CLIP_CFG = {"embed_dim": 32, "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16,
                                                 "head_width": 32},
                 "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}}


@pytest.fixture(scope="module")
def tiny_open_clip_dir(tmp_path_factory):
    import open_clip
    from open_clip.model import CLIP

    directory = tmp_path_factory.mktemp("tiny-open-clip")
    torch.manual_seed(0)
    model = CLIP(**OPEN_CLIP_CFG)
    (directory / "open_clip_config.json").write_text(json.dumps({
        "model_cfg": OPEN_CLIP_CFG,
        "preprocess_cfg": {"mean": list(open_clip.OPENAI_DATASET_MEAN), "std": list(open_clip.OPENAI_DATASET_STD)}}))
    torch.save(model.state_dict(), directory / "open_clip_pytorch_model.bin")
    return str(directory)


def scene_batch():
    images = torch.stack([canvas([("red", LEFT), ("blue", RIGHT)]), canvas([("green", LEFT)]),
                          canvas([]), canvas([("black", RIGHT)])])
    prompts = ["a red car and a blue bench", "two green apples", "a dog", "a black cat"]
    metas = [boxes_meta([LEFT], [RIGHT]), boxes_meta([LEFT]), {}, {}]
    return RewardBatch(images, prompts, metas)


def check_shapes_and_nan(out):
    assert out.scores.shape == (4, 3) and out.scores.dtype == torch.float32 and out.scores.device.type == "cpu"
    finite = ~torch.isnan(out.scores)
    assert finite.tolist() == [[True, True, False], [True, False, False], [False] * 3, [True, False, False]]
    vals = out.scores[finite]
    assert ((vals >= 0) & (vals <= 1)).all()
    assert out.scores[1, 0] <= 0.5 + 1e-6  # one of two green apples found: at most half


def test_tiny_open_clip(tiny_open_clip_dir):
    reward = AttributeReward(backend="open_clip", model=tiny_open_clip_dir, batch_size=2)
    assert isinstance(reward.backend, OpenClipBackend)
    assert next(reward.backend.model.parameters()).device == torch.device("cpu")
    out = reward(scene_batch())
    check_shapes_and_nan(out)
    again = AttributeReward(backend="open_clip", model="local-dir:" + tiny_open_clip_dir, batch_size=16)(scene_batch())
    assert torch.allclose(out.scores, again.scores, equal_nan=True, atol=1e-5)  # crop batching does not matter
    hard = AttributeReward(backend=reward.backend, score_mode="argmax")(scene_batch())
    assert set(hard.scores[~torch.isnan(hard.scores)].tolist()) <= {0.0, 0.5, 1.0}


def test_missing_open_clip_dir_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-clip"):
        AttributeReward(backend="open_clip", model=str(tmp_path / "no-such-clip"))
    with pytest.raises(FileNotFoundError, match="no-such-clip"):
        AttributeReward(backend="open_clip", model="local-dir:" + str(tmp_path / "no-such-clip"))


# ============================================================================================ tiny transformers CLIP
def tiny_clip_tokenizer():
    from transformers import CLIPTokenizer

    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    chars = [chr(c) for c in cs]
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


@pytest.fixture(scope="module")
def tiny_hf_clip_dir(tmp_path_factory):
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor

    directory = tmp_path_factory.mktemp("tiny-hf-clip")
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1, "vocab_size": 514, "hidden_size": 32,
                     "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
                     "max_position_embeddings": 77},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
                       "image_size": 64, "patch_size": 16},
        projection_dim=32)
    CLIPModel(config).save_pretrained(directory)
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    CLIPProcessor(image_processor=image_processor, tokenizer=tiny_clip_tokenizer()).save_pretrained(directory)
    return str(directory)


def test_tiny_transformers_clip(tiny_hf_clip_dir):
    reward = AttributeReward(backend="transformers", model=tiny_hf_clip_dir, batch_size=3)
    assert isinstance(reward.backend, TransformersClipBackend)
    assert next(reward.backend.model.parameters()).device == torch.device("cpu")
    out = reward(scene_batch())
    check_shapes_and_nan(out)


def test_missing_transformers_dir_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-clip"):
        AttributeReward(backend="transformers", model=str(tmp_path / "no-such-clip"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_tiny_clips_on_cuda(tiny_open_clip_dir, tiny_hf_clip_dir):
    for backend, model in (("open_clip", tiny_open_clip_dir), ("transformers", tiny_hf_clip_dir)):
        reward = AttributeReward(backend=backend, model=model, device="cuda")
        assert next(reward.backend.model.parameters()).device.type == "cuda"
        batch = scene_batch()
        out = reward(RewardBatch(batch.images.cuda(), batch.prompts, batch.metadata))
        check_shapes_and_nan(out)
