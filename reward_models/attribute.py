"""Attribute reward: CLIP zero-shot classification of each object's box crop among the attribute's alternatives.

This is GenEval's colour check (Ghosh et al., 2023, ``evaluation/evaluate_images.py``, ``color_classification``):
open_clip ViT-L-14 (``pretrained="openai"``) classifies the crop of each found object among GenEval's ten
colours, with a zero-shot classifier built from three templates per colour (text embeddings normalised,
averaged, normalised again, as ``clip_benchmark``'s ``zero_shot_classifier``)::

    "a photo of a {c} {noun}", "a photo of a {c}-colored {noun}", "a photo of a {c} object"

Columns are fixed slots, the same for every batch: ``obj{i}/color`` (group ``"attribute"``) for
``i < max_object_slots``, plus ``obj{i}/{type}`` for every other attribute type given in ``alternatives``
(for example ``{"colour": GENEVAL_COLORS, "material": ("wooden", "metal", "plastic", "glass")}``; other types
use the single template ``"a photo of a {c} {noun}"``). A cell is NaN when the prompt's object has no
attribute of that type. The first attribute of a type is checked; a requested value outside the alternatives
("gold", "gray": GenEval has no such colour) is added to them as an eleventh class.

Score (``score_mode``):

* ``"probability"`` (default, a dense reward): the mean over the object's ``count`` found objects of the
  softmax probability (CLIP's logit scale) of the requested value.
* ``"argmax"`` (GenEval): the fraction of the ``count`` found objects whose most likely value is the
  requested one; GenEval's verdict is this fraction being 1.

Missing objects (fewer boxes than the count, or none) score 0: the attribute is not shown.

Boxes, in pixels (x0, y0, x1, y1), come from ``metadata[b]["detector/object_boxes"]`` (per object of the
concept graph: the boxes of its found objects; :class:`reward_models.detector.DetectorReward` writes exactly
this into its ``details``), else from a ``detector`` given to this reward (run on the batch), else the whole
image is the crop (one object). Differences from GenEval: without Mask2Former's masks the crop is not
composited on GenEval's grey (#999) background, so background pixels inside the box reach CLIP.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from concept_parsers import graph_for
from reward_models.base import RewardBatch, RewardOutput
from reward_models.detector import images_to_pil, is_local_path, load_pretrained
from reward_models.geneval_rules import GENEVAL_COLORS

#: GenEval's colour templates ("{c}" the colour, "{noun}" the object).
GENEVAL_COLOR_TEMPLATES = ("a photo of a {c} {noun}", "a photo of a {c}-colored {noun}", "a photo of a {c} object")
#: Template for attribute types other than colour.
DEFAULT_TEMPLATES = ("a photo of a {c} {noun}",)
SCORE_MODES = ("probability", "argmax")
BOXES_KEY = "detector/object_boxes"


class ClipBackend(Protocol):
    """What the reward needs from CLIP: L2-normalised text and image embeddings and the logit scale."""

    logit_scale: float

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor: ...

    def encode_images(self, images: Sequence[Any]) -> torch.Tensor: ...


# --------------------------------------------------------------------------------------------- backends
class OpenClipBackend:
    """open_clip model (``model`` an architecture name with ``pretrained`` a tag or weights file, or a local
    directory / ``"local-dir:<dir>"`` holding ``open_clip_config.json`` + weights)."""

    def __init__(self, model: str = "ViT-L-14", pretrained: str | None = "openai", device: str | torch.device = "cpu",
                 batch_size: int = 16) -> None:
        import open_clip

        name = self._model_name(model)
        if pretrained and is_local_path(pretrained) and not Path(pretrained).expanduser().is_file():
            raise FileNotFoundError(f"AttributeReward: open_clip weights file {pretrained!r} does not exist; pass an "
                                    f"existing file or a tag such as 'openai'.")
        self.device = torch.device(device)
        try:
            self.model, _, self.transform = open_clip.create_model_and_transforms(
                name, pretrained=None if name.startswith("local-dir:") else pretrained, device=self.device)
        except RuntimeError as e:
            raise RuntimeError(f"AttributeReward: could not build open_clip {name!r} (pretrained={pretrained!r}): "
                               f"{e}. Offline? Pass a local directory with open_clip_config.json and the "
                               f"weights, or a local weights file as pretrained.") from e
        self.model.eval()
        self.tokenizer = open_clip.get_tokenizer(name)
        self.logit_scale = float(self.model.logit_scale.detach().exp())
        self.batch_size = int(batch_size)

    @staticmethod
    def _model_name(model: str) -> str:
        path = model.removeprefix("local-dir:")
        if model.startswith("local-dir:") or is_local_path(model):
            if not Path(path).expanduser().is_dir():
                raise FileNotFoundError(f"AttributeReward: local open_clip directory {path!r} does not exist. Pass "
                                        f"a directory with open_clip_config.json and open_clip_pytorch_model.bin, "
                                        f"or an architecture name such as 'ViT-L-14'.")
            return "local-dir:" + str(Path(path).expanduser())
        return model

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        tokens = self.tokenizer(list(texts)).to(self.device)
        return self.model.encode_text(tokens, normalize=True).float().cpu()

    @torch.no_grad()
    def encode_images(self, images: Sequence[Any]) -> torch.Tensor:
        feats = []
        for start in range(0, len(images), self.batch_size):
            pixels = torch.stack([self.transform(im) for im in images[start : start + self.batch_size]])
            feats.append(self.model.encode_image(pixels.to(self.device), normalize=True).float().cpu())
        return torch.cat(feats)


class TransformersClipBackend:
    """transformers ``CLIPModel`` + its processor (``model`` a hub id or a save_pretrained directory)."""

    def __init__(self, model: str = "openai/clip-vit-large-patch14", device: str | torch.device = "cpu",
                 batch_size: int = 16) -> None:
        from transformers import AutoProcessor, CLIPModel

        self.processor = load_pretrained(AutoProcessor.from_pretrained, model, "AttributeReward",
                                         "openai/clip-vit-large-patch14")
        self.model = load_pretrained(CLIPModel.from_pretrained, model, "AttributeReward", "openai/clip-vit-large-patch14")
        self.device = torch.device(device)
        self.model.to(self.device).eval()
        self.logit_scale = float(self.model.logit_scale.detach().exp())
        self.batch_size = int(batch_size)

    @staticmethod
    def _features(out: Any) -> torch.Tensor:
        feats = out if isinstance(out, torch.Tensor) else out.pooler_output  # transformers 5 returns an output object
        return torch.nn.functional.normalize(feats.float(), dim=-1).cpu()

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        inputs = self.processor(text=list(texts), padding=True, return_tensors="pt").to(self.device)
        return self._features(self.model.get_text_features(**inputs))

    @torch.no_grad()
    def encode_images(self, images: Sequence[Any]) -> torch.Tensor:
        feats = []
        for start in range(0, len(images), self.batch_size):
            inputs = self.processor(images=list(images[start : start + self.batch_size]), return_tensors="pt")
            feats.append(self._features(self.model.get_image_features(pixel_values=inputs["pixel_values"].to(self.device))))
        return torch.cat(feats)


# --------------------------------------------------------------------------------------------- helpers
def slot_name(attribute_type: str) -> str:
    """Column suffix of an attribute type ("colour" -> "color")."""
    return "color" if attribute_type == "colour" else attribute_type


def crop_box(image: Any, box: Sequence[float]) -> Any:
    """The PIL crop of a pixel box (x0, y0, x1, y1), clamped to the image, at least one pixel."""
    if len(box) != 4:
        raise ValueError(f"a box has 4 coordinates (x0, y0, x1, y1), got {box!r}")
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise ValueError(f"box coordinates must be finite, got {box!r}")
    w, h = image.size
    left, top = min(max(math.floor(min(x0, x1)), 0), w - 1), min(max(math.floor(min(y0, y1)), 0), h - 1)
    right, bottom = max(min(math.ceil(max(x0, x1)), w), left + 1), max(min(math.ceil(max(y0, y1)), h), top + 1)
    return image.crop((left, top, right, bottom))


def zero_shot_weights(backend: ClipBackend, noun: str, values: Sequence[str], templates: Sequence[str]) -> torch.Tensor:
    """``[D, len(values)]`` classifier: per value, the normalised mean of its normalised template embeddings."""
    texts = [t.format(c=v, noun=noun) for v in values for t in templates]
    emb = torch.nn.functional.normalize(backend.encode_text(texts).float(), dim=-1)
    emb = emb.reshape(len(values), len(templates), -1).mean(1)
    return torch.nn.functional.normalize(emb, dim=-1).T


@dataclass
class _Job:
    """One (image, object slot, attribute type) cell to score."""

    image: int
    column: str
    noun: str
    value: str
    values: tuple[str, ...]
    templates: tuple[str, ...]
    crops: list[Any]
    expected: int  # number of objects that should show the value (the denominator)


# --------------------------------------------------------------------------------------------- reward
class AttributeReward:
    """CLIP attribute classification per object slot (see the module docstring).

    Args:
        backend: ``"open_clip"`` (GenEval's), ``"transformers"``, or a :class:`ClipBackend` object.
        model: open_clip architecture / local dir (default GenEval's ``ViT-L-14``), or a transformers CLIP id.
        pretrained: open_clip weights tag or file (``"openai"``); ignored by the transformers backend.
        device: where CLIP runs; scores come back on the CPU.
        score_mode: ``"probability"`` (default) or ``"argmax"`` (GenEval).
        alternatives: ``attribute type -> values`` to choose among (default: colour -> GenEval's ten colours).
        max_object_slots: column slots ``obj0..``.
        detector: a reward whose ``details`` carry ``"detector/object_boxes"`` (e.g. ``DetectorReward``), run on
            batches whose metadata lack boxes.
        batch_size: crops per CLIP image call.
    """

    def __init__(
        self,
        backend: str | ClipBackend = "open_clip",
        model: str | None = None,
        pretrained: str | None = "openai",
        device: str | torch.device = "cpu",
        score_mode: str = "probability",
        alternatives: Mapping[str, Sequence[str]] | None = None,
        max_object_slots: int = 3,
        detector: Any = None,
        batch_size: int = 16,
    ) -> None:
        from concept_parsers import ATTRIBUTE_TYPES

        if score_mode not in SCORE_MODES:
            raise ValueError(f"score_mode must be one of {SCORE_MODES}, got {score_mode!r}")
        alternatives = dict(alternatives) if alternatives is not None else {"colour": GENEVAL_COLORS}
        for attribute_type, values in alternatives.items():
            if attribute_type not in ATTRIBUTE_TYPES:
                raise ValueError(f"unknown attribute type {attribute_type!r}; use one of {ATTRIBUTE_TYPES}")
            if len(values) < 2 or isinstance(values, str):
                raise ValueError(f"alternatives[{attribute_type!r}] needs at least two values, got {values!r}")
        if not alternatives or max_object_slots < 1:
            raise ValueError("AttributeReward needs at least one attribute type and one object slot")
        self.alternatives = {t: tuple(" ".join(str(v).lower().split()) for v in vs) for t, vs in alternatives.items()}
        self.score_mode = score_mode
        self.max_object_slots = int(max_object_slots)
        self.detector = detector
        self.backend = self._build_backend(backend, model, pretrained, device, batch_size)
        self.names = [f"obj{i}/{slot_name(t)}" for i in range(self.max_object_slots) for t in self.alternatives]
        self.groups = ["attribute"] * len(self.names)
        self._classifiers: dict[tuple, torch.Tensor] = {}

    @staticmethod
    def _build_backend(backend, model, pretrained, device, batch_size) -> ClipBackend:
        if backend == "open_clip":
            return OpenClipBackend(model or "ViT-L-14", pretrained, device, batch_size)
        if backend == "transformers":
            return TransformersClipBackend(model or "openai/clip-vit-large-patch14", device, batch_size)
        if isinstance(backend, str):
            raise ValueError(f"unknown CLIP backend {backend!r}; use 'open_clip', 'transformers' or a ClipBackend")  # noqa: TRY004
        if not all(hasattr(backend, a) for a in ("encode_text", "encode_images", "logit_scale")):
            raise ValueError("a custom backend needs encode_text, encode_images and logit_scale")
        return backend

    def __call__(self, batch: RewardBatch) -> RewardOutput:
        graphs = [graph_for(p, m) for p, m in zip(batch.prompts, batch.metadata)]
        images = images_to_pil(batch.images)
        boxes = self._boxes(batch)
        jobs = [job for b, g in enumerate(graphs) for job in self._jobs(b, g, images[b], boxes[b])]
        scores = torch.full((len(images), len(self.names)), math.nan)
        details: list[dict[str, Any]] = [{"attribute/predictions": []} for _ in images]
        for job, (score, info) in zip(jobs, self._score_jobs(jobs)):
            scores[job.image, self.names.index(job.column)] = score
            details[job.image]["attribute/predictions"].append(info)
        return RewardOutput(scores, list(self.names), list(self.groups), details)

    def _boxes(self, batch: RewardBatch) -> list[list[list[Sequence[float]]] | None]:
        """Per image: per object of the graph, its boxes; ``None`` = no boxes known (whole image)."""
        boxes = [m.get(BOXES_KEY) if isinstance(m, Mapping) else None for m in batch.metadata]
        if self.detector is not None and any(b is None for b in boxes):
            out = self.detector(batch)
            boxes = [b if b is not None else d.get(BOXES_KEY) for b, d in zip(boxes, out.details)]
        for b in boxes:
            if b is not None and not (isinstance(b, (list, tuple)) and all(isinstance(o, (list, tuple)) for o in b)):
                raise TypeError(f"metadata[{BOXES_KEY!r}] must be a list (per object) of lists of boxes, got {b!r}")
        return boxes

    def _jobs(self, b: int, graph, image: Any, boxes) -> list[_Job]:
        jobs = []
        for i, obj in enumerate(graph.objects[: self.max_object_slots]):
            by_type = obj.attributes_by_type()
            for attribute_type, values in self.alternatives.items():
                if not by_type.get(attribute_type):
                    continue
                value = by_type[attribute_type][0]
                options = values if value in values else values + (value,)
                if boxes is None:
                    crops, expected = [image], 1
                else:
                    own = boxes[i] if i < len(boxes) else []
                    crops, expected = [crop_box(image, box) for box in own], max(obj.count, 1)
                templates = GENEVAL_COLOR_TEMPLATES if attribute_type == "colour" else DEFAULT_TEMPLATES
                jobs.append(_Job(b, f"obj{i}/{slot_name(attribute_type)}", obj.noun, value, options, templates,
                                 crops, expected))
        return jobs

    def _classifier(self, job: _Job) -> torch.Tensor:
        key = (job.noun, job.values, job.templates)
        if key not in self._classifiers:
            self._classifiers[key] = zero_shot_weights(self.backend, job.noun, job.values, job.templates)
        return self._classifiers[key]

    def _score_jobs(self, jobs: list[_Job]) -> list[tuple[float, dict[str, Any]]]:
        crops = [c for job in jobs for c in job.crops]
        feats = self.backend.encode_images(crops).float() if crops else torch.zeros(0)
        results, start = [], 0
        for job in jobs:
            own = feats[start : start + len(job.crops)]
            start += len(job.crops)
            probs = (self.backend.logit_scale * own @ self._classifier(job)).softmax(-1) if len(own) else own
            target = job.values.index(job.value)
            if self.score_mode == "probability":
                per_object = probs[:, target].tolist() if len(own) else []
            else:
                per_object = [float(p.argmax() == target) for p in probs] if len(own) else []
            score = sum(per_object[: job.expected]) / job.expected
            predicted = [job.values[int(p.argmax())] for p in probs] if len(own) else []
            results.append((score, {"column": job.column, "noun": job.noun, "value": job.value,
                                    "predicted": predicted, "per_object": per_object}))
        return results
