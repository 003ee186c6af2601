"""Human-preference rewards: PickScore (default) and HPSv2.

Both are CLIP models fine-tuned on human pairwise preferences between generated images:

* **PickScore** (Kirstain et al., 2023, "Pick-a-Pic: An Open Dataset of User Preferences for Text-to-Image
  Generation"): a ``transformers`` CLIP-H/14 (``yuvalkirstain/PickScore_v1``) with the LAION CLIP-H processor
  (``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``). As in the PickScore README the score is
  ``logit_scale.exp() * cos(image_embedding, text_embedding)``, roughly 17-24 for current generators.
* **HPSv2** (Wu et al., 2023, "Human Preference Score v2"): an ``open_clip`` ViT-H-14 whose weights come from the
  ``xswu/HPSv2`` checkpoint file (``HPS_v2.1_compressed.pt`` or ``HPS_v2_compressed.pt``). As in ``hpsv2.score()``
  the score is the cosine similarity of the normalised image and text features, roughly 0.2-0.35.

Each reward returns one ``"quality"`` column with a *normalised* score (see :class:`ScoreNormalizer`; by default a
sigmoid around a reference value, so that the column lives in ``(0, 1)`` like the other rewards' columns) and
keeps the raw score in ``details[b]["<column>_raw"]`` (and, with ``raw_column=True``, as a second column).

Images arrive as ``[B, 3, H, W]`` tensors in ``[0, 1]`` and are preprocessed in torch, without a PIL round trip,
following each model's own recipe (:class:`ClipImageConfig`): shortest-edge bicubic resize (antialiased, like
PIL), center crop, CLIP mean/std normalisation. The only difference from the PIL pipelines is that no ``uint8``
quantisation happens (measured against them in ``tests/test_reward_preference.py``). :meth:`score_tensor` keeps
the autograd graph, for differentiable-reward methods.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from reward_models.base import RewardBatch, RewardOutput

PICKSCORE_MODEL = "yuvalkirstain/PickScore_v1"
PICKSCORE_PROCESSOR = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
HPSV2_HUB_REPO = "xswu/HPSv2"
HPSV2_FILES = {"v2.0": "HPS_v2_compressed.pt", "v2.1": "HPS_v2.1_compressed.pt"}
HPSV2_MODEL_NAME = "ViT-H-14"

#: OpenAI CLIP normalisation, used by the LAION CLIP-H processor and by open_clip's ViT-H-14 (and so by HPSv2).
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

_PIL_RESAMPLE_TO_MODE = {0: "nearest", 2: "bilinear", 3: "bicubic"}


# --------------------------------------------------------------------------------------------------------------
# Preprocessing
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipImageConfig:
    """How a CLIP model wants its pixels: shortest edge -> ``resize``, center crop -> ``crop``, then mean/std.

    ``floor_crop_offset``: ``transformers`` crops at ``(H - h) // 2``, torchvision (open_clip, HPSv2) at
    ``round((H - h) / 2)``; they differ by one pixel when ``H - h`` is odd.
    """

    resize: int = 224
    crop: tuple[int, int] = (224, 224)
    mean: tuple[float, float, float] = OPENAI_CLIP_MEAN
    std: tuple[float, float, float] = OPENAI_CLIP_STD
    interpolation: str = "bicubic"
    floor_crop_offset: bool = True

    @classmethod
    def from_hf_image_processor(cls, image_processor: Any) -> ClipImageConfig:
        """Read a ``transformers`` ``CLIPImageProcessor`` (size/crop_size/mean/std/resample)."""
        size = _as_dict(image_processor.size)
        if "shortest_edge" not in size:
            raise ValueError(f"expected a shortest-edge resize in the CLIP image processor, got size={size}")
        crop = _as_dict(getattr(image_processor, "crop_size", None) or {})
        crop_hw = (int(crop.get("height", size["shortest_edge"])), int(crop.get("width", size["shortest_edge"])))
        if not getattr(image_processor, "do_center_crop", True):
            crop_hw = (int(size["shortest_edge"]),) * 2
        resample = getattr(image_processor, "resample", 3)
        resample = int(getattr(resample, "value", resample))
        if resample not in _PIL_RESAMPLE_TO_MODE:
            raise ValueError(f"unsupported resample={resample}; supported PIL codes {sorted(_PIL_RESAMPLE_TO_MODE)}")
        return cls(
            resize=int(size["shortest_edge"]),
            crop=crop_hw,
            mean=tuple(float(m) for m in image_processor.image_mean),
            std=tuple(float(s) for s in image_processor.image_std),
            interpolation=_PIL_RESAMPLE_TO_MODE[resample],
            floor_crop_offset=True,
        )

    @classmethod
    def from_open_clip_model(cls, model: Any) -> ClipImageConfig:
        """Read open_clip's ``model.visual`` (image_size, preprocess_cfg): HPSv2's ``preprocess_val`` recipe,
        ``Resize(image_size, bicubic) -> CenterCrop(image_size) -> Normalize(OpenAI mean/std)``."""
        visual = model.visual
        size = getattr(visual, "image_size", 224)
        crop = (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))
        cfg = dict(getattr(visual, "preprocess_cfg", {}) or {})
        return cls(
            resize=min(crop),
            crop=crop,
            mean=tuple(cfg.get("mean", OPENAI_CLIP_MEAN)),
            std=tuple(cfg.get("std", OPENAI_CLIP_STD)),
            interpolation=cfg.get("interpolation", "bicubic"),
            floor_crop_offset=False,
        )


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    if hasattr(value, "items"):
        return dict(value.items())
    if isinstance(value, int):
        return {"shortest_edge": value}
    return {k: getattr(value, k) for k in ("shortest_edge", "height", "width") if getattr(value, k, None)}


def validate_images(images: Any) -> torch.Tensor:
    """Check the reward input contract: a float tensor ``[B, 3, H, W]`` with values in ``[0, 1]``."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor [B, 3, H, W] in [0, 1], got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be [B, 3, H, W], got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"images must be floating point in [0, 1], got dtype {images.dtype} (divide uint8 by 255)")
    if images.numel() and (images.min() < -1e-3 or images.max() > 1 + 1e-3):
        raise ValueError(
            f"images must lie in [0, 1], got [{images.min().item():.3f}, {images.max().item():.3f}]; "
            "map [-1, 1] VAE outputs with (x + 1) / 2"
        )
    return images


def clip_preprocess(images: torch.Tensor, config: ClipImageConfig) -> torch.Tensor:
    """``[B, 3, H, W]`` in ``[0, 1]`` -> normalised CLIP pixel values ``[B, 3, crop_h, crop_w]`` (differentiable).

    Shortest edge to ``config.resize`` (long edge ``int(resize * long / short)``, as ``transformers`` and
    torchvision compute it), antialiased bicubic like PIL, clamp to ``[0, 1]`` (PIL clamps to uint8), center crop,
    ``(x - mean) / std``.
    """
    validate_images(images)
    height, width = images.shape[-2:]
    short, long = min(height, width), max(height, width)
    new_long = int(config.resize * long / short)
    new_size = (config.resize, new_long) if height <= width else (new_long, config.resize)
    x = images
    if tuple(new_size) != (height, width):
        if config.interpolation == "nearest":
            x = F.interpolate(x, size=new_size, mode="nearest")
        else:
            x = F.interpolate(x, size=new_size, mode=config.interpolation, antialias=True, align_corners=False)
            x = x.clamp(0.0, 1.0)
    crop_h, crop_w = config.crop
    if crop_h > x.shape[-2] or crop_w > x.shape[-1]:
        raise ValueError(f"crop {config.crop} is larger than the resized image {tuple(x.shape[-2:])}")
    top, left = _crop_offset(x.shape[-2], crop_h, config.floor_crop_offset), _crop_offset(
        x.shape[-1], crop_w, config.floor_crop_offset
    )
    x = x[..., top : top + crop_h, left : left + crop_w]
    mean = torch.tensor(config.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(config.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def _crop_offset(size: int, crop: int, floor: bool) -> int:
    return (size - crop) // 2 if floor else round((size - crop) / 2.0)


# --------------------------------------------------------------------------------------------------------------
# Normalisation of raw scores
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreNormalizer:
    """Maps a raw preference score to the reward column.

    ``kind="sigmoid"``: ``sigmoid((raw - center) / scale)``, in ``(0, 1)``, 0.5 at the reference ``center``;
    ``kind="linear"``: ``(raw - center) / scale`` (e.g. ``center=0, scale=100`` turns PickScore into the cosine);
    ``kind="none"``: the raw score. Calibrate on your own base model with :meth:`from_reference`.
    """

    kind: str = "sigmoid"
    center: float = 0.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("sigmoid", "linear", "none"):
            raise ValueError(f"unknown normalisation {self.kind!r}; use 'sigmoid', 'linear' or 'none'")
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise ValueError(f"normalisation scale must be positive and finite, got {self.scale}")

    def __call__(self, raw: torch.Tensor) -> torch.Tensor:
        if self.kind == "none":
            return raw
        z = (raw - self.center) / self.scale
        return torch.sigmoid(z) if self.kind == "sigmoid" else z

    @classmethod
    def from_reference(cls, raw_scores: Sequence[float] | torch.Tensor, kind: str = "sigmoid") -> ScoreNormalizer:
        """Center on the median and scale by the standard deviation of raw scores of reference images."""
        values = torch.as_tensor(raw_scores, dtype=torch.float64).flatten()
        values = values[torch.isfinite(values)]
        if values.numel() < 2:
            raise ValueError("ScoreNormalizer.from_reference needs at least two finite reference scores")
        std = float(values.std())
        return cls(kind=kind, center=float(values.median()), scale=std if std > 0 else 1.0)


#: PickScore of SD-class generators is about 20-23 (raw = 100 x cosine): 0.5 at 21.5, ~0.73 at 22.5.
#: Approximate; calibrate with ScoreNormalizer.from_reference on your base model's samples.
PICKSCORE_DEFAULT_NORMALIZER = ScoreNormalizer("sigmoid", center=21.5, scale=1.0)
#: HPSv2.1 (a cosine) of SD-class generators is about 0.24-0.32: 0.5 at 0.28. Approximate, as above.
HPSV2_DEFAULT_NORMALIZER = ScoreNormalizer("sigmoid", center=0.28, scale=0.02)


# --------------------------------------------------------------------------------------------------------------
# Shared reward plumbing
# --------------------------------------------------------------------------------------------------------------


def _check_prompts(prompts: Sequence[str], batch: int) -> list[str]:
    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of strings (one per image), not a single string")
    prompts = list(prompts)
    if len(prompts) != batch:
        raise ValueError(f"{len(prompts)} prompts for {batch} images")
    bad = [p for p in prompts if not isinstance(p, str)]
    if bad:
        raise TypeError(f"prompts must be strings, got {type(bad[0]).__name__}")
    return prompts


def _feature_tensor(output: Any) -> torch.Tensor:
    """``transformers`` 5 returns a ``BaseModelOutputWithPooling`` (projected features in ``pooler_output``)
    from ``get_image_features``/``get_text_features``; older versions return the tensor itself."""
    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if pooled is None:
        raise TypeError(f"cannot read CLIP features from {type(output).__name__}")
    return pooled


def _model_device_dtype(model: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
    param = next(iter(model.parameters()), None)
    if param is None:
        return torch.device("cpu"), torch.float32
    return param.device, param.dtype


class _PreferenceReward:
    """Scores each image against its own prompt in chunks; subclasses implement ``_encode_*`` and ``_scale``."""

    model: torch.nn.Module
    image_config: ClipImageConfig
    batch_size: int
    normalizer: ScoreNormalizer
    column: str
    raw_column: bool

    def _encode_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _encode_texts(self, prompts: list[str]) -> torch.Tensor:
        raise NotImplementedError

    def _scale(self) -> torch.Tensor | float:
        return 1.0

    def score_tensor(self, images: torch.Tensor, prompts: Sequence[str]) -> torch.Tensor:
        """Raw scores ``[B]`` of each image against its prompt; keeps the autograd graph (no ``no_grad``)."""
        images = validate_images(images)
        prompts = _check_prompts(prompts, images.shape[0])
        device, dtype = _model_device_dtype(self.model)
        unique = list(dict.fromkeys(prompts))
        text = torch.cat([self._encode_texts(unique[i : i + self.batch_size])
                          for i in range(0, len(unique), self.batch_size)])
        text = F.normalize(text.float(), dim=-1)
        index = torch.tensor([unique.index(p) for p in prompts], device=text.device)
        scores = []
        for start in range(0, images.shape[0], self.batch_size):
            chunk = images[start : start + self.batch_size].to(device=device)
            pixels = clip_preprocess(chunk.float(), self.image_config).to(dtype)
            image = F.normalize(self._encode_images(pixels).float(), dim=-1)
            scores.append((image * text[index[start : start + self.batch_size]]).sum(-1))
        return self._scale() * torch.cat(scores)

    def __call__(self, batch: RewardBatch) -> RewardOutput:
        with torch.no_grad():
            raw = self.score_tensor(batch.images, batch.prompts).float().cpu()
        columns = [self.normalizer(raw)] + ([raw] if self.raw_column else [])
        names = [self.column] + ([f"{self.column}_raw"] if self.raw_column else [])
        details = [{f"{self.column}_raw": float(r)} for r in raw]
        return RewardOutput(torch.stack(columns, dim=1), names, ["quality"] * len(names), details)


# --------------------------------------------------------------------------------------------------------------
# PickScore
# --------------------------------------------------------------------------------------------------------------


def load_pickscore(
    model_name: str = PICKSCORE_MODEL,
    processor_name: str = PICKSCORE_PROCESSOR,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.nn.Module, Any]:
    """``AutoModel`` + ``AutoProcessor`` from the hub cache or local directories, in eval mode."""
    from transformers import AutoModel, AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(processor_name)
        model = AutoModel.from_pretrained(model_name, dtype=dtype)
    except OSError as err:
        raise OSError(
            f"could not load PickScore (model {model_name!r}, processor {processor_name!r}): {err}. Offline, "
            f"download both once where the hub is reachable (`hf download {PICKSCORE_MODEL}` and "
            f"`hf download {PICKSCORE_PROCESSOR}`) or pass local directories."
        ) from err
    return model.eval(), processor


class PickScoreReward(_PreferenceReward):
    """PickScore (Kirstain et al., 2023): ``logit_scale.exp() * cos(image, prompt)`` with a CLIP-H/14.

    Column ``column`` (default ``"pickscore"``, group ``"quality"``) is ``normalizer(raw)``; the raw score is in
    ``details[b]["pickscore_raw"]`` and, with ``raw_column=True``, in column ``"pickscore_raw"`` (both columns then
    count in the quality group: keep it off when aggregating).

    Pass ``model`` (anything with ``get_image_features``, ``get_text_features`` and ``logit_scale``) and
    ``tokenizer``/``processor`` to inject a model; otherwise ``model_name``/``processor_name`` are loaded.
    """

    def __init__(
        self,
        model_name: str = PICKSCORE_MODEL,
        processor_name: str = PICKSCORE_PROCESSOR,
        *,
        model: torch.nn.Module | None = None,
        processor: Any = None,
        tokenizer: Callable[..., Any] | None = None,
        image_config: ClipImageConfig | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        batch_size: int = 16,
        normalizer: ScoreNormalizer | None = None,
        column: str = "pickscore",
        raw_column: bool = False,
        max_length: int = 77,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if model is None:
            model, loaded = load_pickscore(model_name, processor_name, dtype)
            processor = processor if processor is not None else loaded
        self.tokenizer = tokenizer if tokenizer is not None else getattr(processor, "tokenizer", None)
        if self.tokenizer is None:
            raise ValueError("PickScoreReward needs a tokenizer: pass processor= or tokenizer= with model=")
        if image_config is None:
            image_processor = getattr(processor, "image_processor", None)
            image_config = (ClipImageConfig.from_hf_image_processor(image_processor) if image_processor is not None
                            else ClipImageConfig())
        self.model = model.eval() if device is None else model.to(device).eval()
        self.image_config = image_config
        self.batch_size = batch_size
        self.normalizer = normalizer if normalizer is not None else PICKSCORE_DEFAULT_NORMALIZER
        self.column = column
        self.raw_column = raw_column
        self.max_length = max_length

    def _encode_texts(self, prompts: list[str]) -> torch.Tensor:
        device, _ = _model_device_dtype(self.model)
        tokens = self.tokenizer(prompts, padding=True, truncation=True, max_length=self.max_length,
                                return_tensors="pt")
        tokens = {k: v.to(device) for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
        return _feature_tensor(self.model.get_text_features(**tokens))

    def _encode_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return _feature_tensor(self.model.get_image_features(pixel_values=pixel_values))

    def _scale(self) -> torch.Tensor:
        return self.model.logit_scale.exp().float()


# --------------------------------------------------------------------------------------------------------------
# HPSv2
# --------------------------------------------------------------------------------------------------------------


def hpsv2_missing_message(version: str, searched: Sequence[str]) -> str:
    filename = HPSV2_FILES.get(version, HPSV2_FILES["v2.1"])
    return (
        f"HPSv2 checkpoint not found (searched: {', '.join(searched) or 'nothing'}). Get {filename!r} from the "
        f"Hugging Face repo {HPSV2_HUB_REPO!r} where the hub is reachable, e.g. "
        f"`hf download {HPSV2_HUB_REPO} {filename}`, then pass checkpoint_path=... or set HPSV2_CHECKPOINT."
    )


def resolve_hpsv2_checkpoint(checkpoint_path: str | os.PathLike | None = None, version: str = "v2.1") -> Path:
    """An explicit path, else ``$HPSV2_CHECKPOINT``, ``$HPS_ROOT/<file>``, ``~/.cache/hpsv2/<file>`` (hpsv2's own
    cache) or the local Hugging Face cache (never downloads). Raises ``FileNotFoundError`` naming where to get it."""
    if version not in HPSV2_FILES:
        raise ValueError(f"unknown HPS version {version!r}; choose from {sorted(HPSV2_FILES)}")
    filename = HPSV2_FILES[version]
    if checkpoint_path is not None:
        path = Path(checkpoint_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(hpsv2_missing_message(version, [str(path)]))
        return path
    candidates = [os.environ.get("HPSV2_CHECKPOINT")]
    root = os.environ.get("HPS_ROOT", os.path.expanduser("~/.cache/hpsv2"))
    candidates.append(os.path.join(root, filename))
    searched = [c for c in candidates if c]
    for candidate in searched:
        if Path(candidate).is_file():
            return Path(candidate)
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(HPSV2_HUB_REPO, filename, local_files_only=True))
    except Exception:  # noqa: BLE001 - not in the cache (or hub library unavailable): report below
        searched.append(f"huggingface cache {HPSV2_HUB_REPO}/{filename}")
    raise FileNotFoundError(hpsv2_missing_message(version, searched))


def load_hpsv2_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The HPSv2 checkpoint is ``{"state_dict": {...}}`` (hpsv2's ``score()`` loads ``checkpoint["state_dict"]``);
    a bare state dict and a ``module.`` (DDP) prefix are accepted too. Loaded with ``weights_only=True``."""
    checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict):
        raise TypeError(f"{path}: expected a dict checkpoint, got {type(checkpoint).__name__}")
    state = checkpoint.get("state_dict", checkpoint)
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: no tensor state dict found (keys: {sorted(checkpoint)[:10]})")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_hpsv2(
    checkpoint_path: str | os.PathLike | None = None,
    *,
    version: str = "v2.1",
    model_name: str = HPSV2_MODEL_NAME,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
) -> tuple[torch.nn.Module, Callable[..., torch.Tensor]]:
    """Build the open_clip architecture without pretrained weights, load the HPS checkpoint into it (strict), and
    return ``(model in eval mode, tokenizer)``. Nothing is downloaded."""
    import open_clip

    path = resolve_hpsv2_checkpoint(checkpoint_path, version)
    model = open_clip.create_model(model_name, pretrained=None, precision=precision, device="cpu")
    state = load_hpsv2_state_dict(path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise RuntimeError(f"{path} does not match open_clip {model_name!r}: {err}") from err
    return model.to(device).eval(), open_clip.get_tokenizer(model_name)


class HPSv2Reward(_PreferenceReward):
    """HPSv2 (Wu et al., 2023): ``cos(image, prompt)`` with an open_clip ViT-H-14 carrying the HPS weights.

    Column ``column`` (default ``"hpsv2"``, group ``"quality"``) is ``normalizer(raw)``; raw cosine in
    ``details[b]["hpsv2_raw"]`` (and column ``"hpsv2_raw"`` with ``raw_column=True``). The checkpoint is found by
    :func:`resolve_hpsv2_checkpoint`; pass ``model`` + ``tokenizer`` (open_clip) to inject a model instead.
    """

    def __init__(
        self,
        checkpoint_path: str | os.PathLike | None = None,
        *,
        version: str = "v2.1",
        model_name: str = HPSV2_MODEL_NAME,
        model: torch.nn.Module | None = None,
        tokenizer: Callable[..., torch.Tensor] | None = None,
        image_config: ClipImageConfig | None = None,
        device: str | torch.device | None = None,
        precision: str = "fp32",
        batch_size: int = 16,
        normalizer: ScoreNormalizer | None = None,
        column: str = "hpsv2",
        raw_column: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if model is None:
            model, tokenizer = load_hpsv2(checkpoint_path, version=version, model_name=model_name,
                                          device=device or "cpu", precision=precision)
        elif tokenizer is None:
            import open_clip

            tokenizer = open_clip.get_tokenizer(model_name)
        self.model = model.eval() if device is None else model.to(device).eval()
        self.tokenizer = tokenizer
        self.image_config = image_config or ClipImageConfig.from_open_clip_model(self.model)
        self.batch_size = batch_size
        self.normalizer = normalizer if normalizer is not None else HPSV2_DEFAULT_NORMALIZER
        self.column = column
        self.raw_column = raw_column

    def _encode_texts(self, prompts: list[str]) -> torch.Tensor:
        device, _ = _model_device_dtype(self.model)
        return self.model.encode_text(self.tokenizer(prompts).to(device))

    def _encode_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixel_values)
