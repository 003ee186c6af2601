"""PickScore / HPSv2 rewards on tiny random models built offline (no weights are downloaded)."""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pytest
import torch
from PIL import Image

from reward_models.base import RewardBatch
from reward_models.preference import (
    ClipImageConfig,
    HPSv2Reward,
    PickScoreReward,
    ScoreNormalizer,
    clip_preprocess,
    load_hpsv2_state_dict,
    resolve_hpsv2_checkpoint,
)
from t2i_rl.tiny import tiny_clip_tokenizer

PROMPTS = ["a red cube", "a blue ball", "a red cube", "two green dogs", "a blue ball"]


# ---------------------------------------------------------------------------------------------------- helpers


def random_images(batch: int, height: int = 64, width: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


def quantize(images: torch.Tensor) -> torch.Tensor:
    return (images * 255).round() / 255


def to_pil(image: torch.Tensor) -> Image.Image:
    return Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))


@pytest.fixture(scope="module")
def pickscore_dir(tmp_path_factory):
    """A tiny random CLIPModel + CLIPProcessor (64 px, shortest-edge resize + crop) saved like the hub repos."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    torch.manual_seed(0)
    text = {"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1, "vocab_size": 514, "hidden_size": 32,
                "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "max_position_embeddings": 77}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
                  "image_size": 64, "patch_size": 16}
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=32)).eval()
    image_processor = CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    processor = CLIPProcessor(image_processor=image_processor, tokenizer=tiny_clip_tokenizer())
    directory = tmp_path_factory.mktemp("tiny-pickscore")
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return str(directory)


@pytest.fixture(scope="module")
def pickscore(pickscore_dir):
    return PickScoreReward(model_name=pickscore_dir, processor_name=pickscore_dir, batch_size=2)


@pytest.fixture(scope="module")
def tiny_open_clip(tmp_path_factory):
    """A tiny random open_clip ViT registered under a local config name, its checkpoint saved like HPSv2's."""
    import open_clip

    config_dir = tmp_path_factory.mktemp("open-clip-config")
    config = {"embed_dim": 32,
              "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
              "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}}
    (config_dir / "ViT-HPS-Tiny-Test.json").write_text(json.dumps(config))
    open_clip.add_model_config(str(config_dir))
    torch.manual_seed(1)
    model, _, preprocess_val = open_clip.create_model_and_transforms("ViT-HPS-Tiny-Test", pretrained=None)
    checkpoint = tmp_path_factory.mktemp("hps") / "HPS_v2.1_compressed.pt"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    return {"name": "ViT-HPS-Tiny-Test", "model": model.eval(), "preprocess_val": preprocess_val,
            "checkpoint": checkpoint}


# ------------------------------------------------------------------------------------------------- PickScore


def test_pickscore_equals_readme_formula_through_the_processor(pickscore, pickscore_dir):
    """Raw score = logit_scale.exp() * cosine, as the PickScore README computes it via the processor (PIL)."""
    from transformers import AutoProcessor, CLIPModel

    images = quantize(random_images(3))          # uint8-exact, so the PIL route sees the same pixels
    prompts = PROMPTS[:3]
    model, processor = CLIPModel.from_pretrained(pickscore_dir).eval(), AutoProcessor.from_pretrained(pickscore_dir)
    with torch.no_grad():
        image_inputs = processor(images=[to_pil(im) for im in images], return_tensors="pt")
        text_inputs = processor(text=prompts, padding=True, truncation=True, max_length=77, return_tensors="pt")
        image_embs = model.get_image_features(**image_inputs).pooler_output
        text_embs = model.get_text_features(**text_inputs).pooler_output
        image_embs = image_embs / image_embs.norm(dim=-1, keepdim=True)
        text_embs = text_embs / text_embs.norm(dim=-1, keepdim=True)
        expected = model.logit_scale.exp() * (image_embs * text_embs).sum(-1)

    out = pickscore(RewardBatch(images, prompts))
    raw = torch.tensor([d["pickscore_raw"] for d in out.details])
    torch.testing.assert_close(raw, expected, atol=1e-4, rtol=1e-5)
    assert out.names == ["pickscore"] and out.groups == ["quality"]
    torch.testing.assert_close(out.scores[:, 0], torch.sigmoid((raw - 21.5) / 1.0))


def test_pickscore_shapes_batching_determinism_raw_column(pickscore):
    images = random_images(5, seed=3)
    shared = {"model": pickscore.model, "tokenizer": pickscore.tokenizer, "image_config": pickscore.image_config,
                  "raw_column": True, "normalizer": ScoreNormalizer("linear", center=0.0, scale=100.0)}
    small, large = PickScoreReward(batch_size=2, **shared), PickScoreReward(batch_size=16, **shared)
    a, b = small(RewardBatch(images, PROMPTS)), large(RewardBatch(images, PROMPTS))
    assert a.scores.shape == (5, 2) and a.scores.dtype == torch.float32
    assert a.names == ["pickscore", "pickscore_raw"] and a.groups == ["quality", "quality"]
    torch.testing.assert_close(a.scores, b.scores, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.scores, small(RewardBatch(images, PROMPTS)).scores, atol=0, rtol=0)
    torch.testing.assert_close(a.scores[:, 0], a.scores[:, 1] / 100.0)
    # Each image is scored against its own prompt, one image at a time gives the same numbers.
    single = torch.cat([small(RewardBatch(images[i : i + 1], [PROMPTS[i]])).scores for i in range(5)])
    torch.testing.assert_close(a.scores, single, atol=1e-5, rtol=1e-5)


def test_pickscore_device_and_input_devices(pickscore):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    reward = PickScoreReward(model=pickscore.model, tokenizer=pickscore.tokenizer,
                             image_config=pickscore.image_config, device=device)
    images = random_images(2).to(device)
    out = reward(RewardBatch(images, PROMPTS[:2]))
    assert out.scores.device.type == "cpu" and torch.isfinite(out.scores).all()


def test_pickscore_bad_input_is_rejected_clearly(pickscore):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pickscore.score_tensor(random_images(2) * 2 - 1, PROMPTS[:2])
    with pytest.raises(TypeError, match="uint8"):
        pickscore.score_tensor((random_images(2) * 255).to(torch.uint8), PROMPTS[:2])
    with pytest.raises(ValueError, match="3 prompts for 2 images"):
        pickscore.score_tensor(random_images(2), PROMPTS[:3])
    with pytest.raises(TypeError, match="list of strings"):
        pickscore.score_tensor(random_images(1), "a red cube")
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        pickscore.score_tensor(torch.rand(2, 4, 8, 8), PROMPTS[:2])
    with pytest.raises(ValueError, match="batch_size"):
        PickScoreReward(model=pickscore.model, tokenizer=pickscore.tokenizer, batch_size=0)
    with pytest.raises(ValueError, match="tokenizer"):
        PickScoreReward(model=pickscore.model)


def test_pickscore_missing_weights_error_names_the_repos(tmp_path):
    with pytest.raises(OSError, match="yuvalkirstain/PickScore_v1"):
        PickScoreReward(model_name=str(tmp_path / "nowhere"), processor_name=str(tmp_path / "nowhere"))


def test_score_tensor_is_differentiable(pickscore):
    images = random_images(2).requires_grad_(True)
    pickscore.score_tensor(images, PROMPTS[:2]).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


class _ColourCLIP(torch.nn.Module):
    """A scripted CLIP: image embedding = mean normalised RGB, text embedding = the colour word's RGB axis."""

    COLOURS: ClassVar[dict[str, tuple[float, float, float]]] = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}

    def __init__(self):
        super().__init__()
        self.logit_scale = torch.nn.Parameter(torch.tensor(100.0).log())

    def get_image_features(self, pixel_values):
        return pixel_values.mean(dim=(2, 3))

    def get_text_features(self, input_ids, attention_mask=None):
        return input_ids.float()


def _colour_tokenizer(prompts, **kwargs):
    rows = [next(v for k, v in _ColourCLIP.COLOURS.items() if k in p) for p in prompts]
    return {"input_ids": torch.tensor(rows), "attention_mask": torch.ones(len(rows), 3, dtype=torch.long)}


def _solid(rgb, size=32):
    return torch.tensor(rgb, dtype=torch.float32).view(3, 1, 1).expand(3, size, size).clone()


def test_pickscore_ranks_the_right_image_above_the_wrong_one():
    reward = PickScoreReward(model=_ColourCLIP(), tokenizer=_colour_tokenizer,
                             image_config=ClipImageConfig(resize=32, crop=(32, 32)))
    red, blue = _solid((0.9, 0.1, 0.1)), _solid((0.1, 0.1, 0.9))
    images = torch.stack([red, blue, red, blue])
    prompts = ["a red apple", "a red apple", "a blue car", "a blue car"]
    out = reward(RewardBatch(images, prompts))
    raw = torch.tensor([d["pickscore_raw"] for d in out.details])
    assert raw[0] > raw[1] and raw[3] > raw[2]
    assert out.scores[0, 0] > out.scores[1, 0] and out.scores[3, 0] > out.scores[2, 0]
    assert raw.abs().max() <= 100.0 + 1e-4        # logit_scale * cosine


# ------------------------------------------------------------------------------------------------ preprocessing


def test_tensor_preprocessing_matches_the_hf_processor(pickscore):
    """Non-square 96x128 image: resize shortest edge to 64 + center crop, against the processor's PIL route."""
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    config = ClipImageConfig.from_hf_image_processor(processor)
    assert config == ClipImageConfig(resize=64, crop=(64, 64))
    # a smooth image: interpolation kernels agree closely; pure noise would exaggerate sub-pixel differences
    y, x = torch.meshgrid(torch.linspace(0, 1, 96), torch.linspace(0, 1, 128), indexing="ij")
    image = quantize(torch.stack([x, y, (x * y) ** 0.5]))
    ours = clip_preprocess(image[None], config)
    theirs = processor(images=[to_pil(image)], return_tensors="pt")["pixel_values"]
    assert ours.shape == theirs.shape == (1, 3, 64, 64)
    # 1/255 quantisation of the resized PIL image, divided by std ~0.27, is ~0.015 of normalised units
    assert (ours - theirs).abs().max() < 0.05


def test_tensor_preprocessing_matches_open_clip_preprocess_val(tiny_open_clip):
    config = ClipImageConfig.from_open_clip_model(tiny_open_clip["model"])
    assert config.resize == 64 and config.crop == (64, 64) and not config.floor_crop_offset
    y, x = torch.meshgrid(torch.linspace(0, 1, 80), torch.linspace(0, 1, 100), indexing="ij")
    image = quantize(torch.stack([y, x, 1 - x * y]))
    ours = clip_preprocess(image[None], config)
    theirs = tiny_open_clip["preprocess_val"](to_pil(image))[None]
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().max() < 0.05


def test_score_normalizer():
    raw = torch.tensor([20.0, 21.5, 23.0])
    torch.testing.assert_close(ScoreNormalizer("sigmoid", 21.5, 1.0)(raw), torch.sigmoid(raw - 21.5))
    torch.testing.assert_close(ScoreNormalizer("linear", 0.0, 100.0)(raw), raw / 100)
    torch.testing.assert_close(ScoreNormalizer("none")(raw), raw)
    fitted = ScoreNormalizer.from_reference([20.0, 21.0, 22.0, float("nan")])
    assert fitted.center == 21.0 and fitted.scale == pytest.approx(1.0)
    with pytest.raises(ValueError, match="normalisation"):
        ScoreNormalizer("softmax")
    with pytest.raises(ValueError, match="positive"):
        ScoreNormalizer("sigmoid", 0.0, 0.0)


# ---------------------------------------------------------------------------------------------------- HPSv2


def test_hpsv2_loads_checkpoint_and_equals_hpsv2_score(tiny_open_clip):
    """Same checkpoint-loading code as for the real HPS_v2.1_compressed.pt; score = cosine via hpsv2's route."""
    reward = HPSv2Reward(tiny_open_clip["checkpoint"], model_name=tiny_open_clip["name"], batch_size=2,
                         raw_column=True)
    images = quantize(random_images(3, seed=7))
    prompts = PROMPTS[:3]
    model, preprocess_val = tiny_open_clip["model"], tiny_open_clip["preprocess_val"]
    import open_clip

    tokenizer = open_clip.get_tokenizer(tiny_open_clip["name"])
    with torch.no_grad():
        pixels = torch.stack([preprocess_val(to_pil(im)) for im in images])
        image_features = model.encode_image(pixels, normalize=True)
        text_features = model.encode_text(tokenizer(prompts), normalize=True)
        expected = torch.diagonal(image_features @ text_features.T)

    out = reward(RewardBatch(images, prompts))
    assert out.scores.shape == (3, 2) and out.names == ["hpsv2", "hpsv2_raw"] and out.groups == ["quality"] * 2
    torch.testing.assert_close(out.scores[:, 1], expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.scores[:, 0], torch.sigmoid((out.scores[:, 1] - 0.28) / 0.02))
    assert out.scores[:, 1].abs().max() <= 1.0
    again = HPSv2Reward(tiny_open_clip["checkpoint"], model_name=tiny_open_clip["name"], batch_size=16)
    torch.testing.assert_close(again(RewardBatch(images, prompts)).scores[:, 0], out.scores[:, 0],
                               atol=1e-5, rtol=1e-5)


def test_hpsv2_missing_checkpoint_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("HPSV2_CHECKPOINT", raising=False)
    monkeypatch.setenv("HPS_ROOT", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"xswu/HPSv2.*HPS_v2\.1_compressed\.pt"):
        HPSv2Reward(tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError, match="HPS_v2.1_compressed.pt"):
        resolve_hpsv2_checkpoint(None)
    with pytest.raises(ValueError, match="HPS version"):
        resolve_hpsv2_checkpoint(None, version="v3")


def test_hpsv2_checkpoint_resolution_and_formats(tiny_open_clip, tmp_path, monkeypatch):
    monkeypatch.setenv("HPSV2_CHECKPOINT", str(tiny_open_clip["checkpoint"]))
    assert resolve_hpsv2_checkpoint(None) == tiny_open_clip["checkpoint"]
    state = tiny_open_clip["model"].state_dict()
    ddp = tmp_path / "ddp.pt"
    torch.save({f"module.{k}": v for k, v in state.items()}, ddp)
    assert set(load_hpsv2_state_dict(ddp)) == set(state)
    wrong = tmp_path / "wrong.pt"
    torch.save({"state_dict": {"visual.proj": torch.zeros(2, 2)}}, wrong)
    with pytest.raises(RuntimeError, match="does not match open_clip"):
        HPSv2Reward(wrong, model_name=tiny_open_clip["name"])
