"""Open-vocabulary detector reward: Grounding DINO + GenEval's rules, one column per concept slot.

GenEval (Ghosh et al., 2023, ``evaluation/evaluate_images.py``) checks object presence, exact counts and
relative positions with a Mask2Former COCO detector. This reward keeps GenEval's rules
(:mod:`reward_models.geneval_rules`) and swaps the detector for Grounding DINO through transformers
(default ``IDEA-Research/grounding-dino-tiny``), queried with the prompt's object nouns, so it works beyond
the 80 COCO classes. Differences from GenEval's Mask2Former detector:

* Grounding DINO's scores are sigmoid text-box similarities, not class probabilities: GenEval's thresholds
  (0.3, and 0.9 for counting) are the defaults but are not calibrated for it; expect to tune
  ``box_threshold`` / ``count_threshold`` (Grounding DINO's own demo uses 0.35 / 0.25).
* No masks, so nothing is composited on a grey background (that matters for the colour reward only).
* NMS uses ``torchvision.ops.batched_nms`` (plain IoU) instead of GenEval's ``+1``-pixel IoU; both are off
  by default (GenEval's ``NMS_THRESHOLD = 1.0``).
* A box's label is the query noun its text label names (:func:`~reward_models.geneval_rules.match_label`);
  boxes whose label names no noun are dropped.

Columns are fixed slots, the same for every batch (``max_objects`` objects, ``max_relations`` relations)::

    obj{i}/present  obj{i}/count  ...  rel{k}/position
    object          object             relation

Slot ``obj{i}`` is the ``i``-th object of the prompt's concept graph, ``rel{k}`` its ``k``-th relation.

* ``present``: 1.0 if a box of the noun scores above ``box_threshold``, else 0.0. NaN for count-0 objects.
* ``count``: only when the count is exact or above one; boxes above ``count_threshold`` are counted and
  scored by :func:`~reward_models.geneval_rules.count_score` (1.0 when right, ``exp(-|n - target|)`` otherwise).
* ``position``: only for spatial relations GenEval's rule covers (left of, right of, above, below, on top of,
  under); :func:`~reward_models.geneval_rules.position_score` over the subject's and object's found objects,
  the fraction of pairs (``position_mode="fraction"``) or GenEval's all-pairs verdict (``"all"``).

NaN elsewhere (no such object, no count, a non-spatial relation, "next to"). Concepts beyond the slots are
dropped with a warning and listed in ``details[b]["detector/dropped"]``.

``details[b]`` holds ``"detector/detections"`` (kept boxes: label, score, pixel box x0 y0 x1 y1),
``"detector/object_boxes"`` (per object of the graph, the boxes of its found objects: the ``count`` most
confident, at least one) and ``"detector/queries"``. Copying ``details[b]`` into a batch's metadata hands
the boxes to :class:`reward_models.attribute.AttributeReward`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch

from concept_parsers import graph_for
from reward_models.base import RewardBatch, RewardOutput
from reward_models.geneval_rules import (
    GENEVAL_COUNTING_THRESHOLD,
    GENEVAL_MAX_OBJECTS,
    GENEVAL_NMS_IOU,
    GENEVAL_THRESHOLD,
    Detection,
    count_score,
    found_objects,
    geneval_relation,
    group_by_label,
    match_label,
    position_score,
    presence_score,
)

DEFAULT_DETECTOR = "IDEA-Research/grounding-dino-tiny"
#: Grounding DINO's default text threshold (its demo's value).
DEFAULT_TEXT_THRESHOLD = 0.25


class ObjectDetector(Protocol):
    """The model call: PIL images and each image's query nouns -> each image's detections (pixel boxes,
    labels among that image's nouns). :class:`GroundingDinoDetector` is the real one; tests inject fakes."""

    def __call__(self, images: Sequence[Any], queries: Sequence[Sequence[str]]) -> list[list[Detection]]: ...


# --------------------------------------------------------------------------------------------- loading
def is_local_path(name: str) -> bool:
    """Whether a model name is meant as a local directory rather than a hub id ("org/name")."""
    return name.startswith(("/", "./", "../", "~", ".\\")) or Path(name).expanduser().exists()


def load_pretrained(loader: Callable[[str], Any], name: str, what: str, example: str) -> Any:
    """``loader(name)`` with clear errors: a missing local directory names the path and the fix; a hub id
    that cannot be fetched (offline, not cached) says how to provide it."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{what}: model must be a hub id or a local directory, got {name!r}")
    if is_local_path(name):
        path = Path(name).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(
                f"{what}: local model directory {str(path)!r} does not exist. Pass an existing directory written "
                f"by save_pretrained (model + processor), or a hub id such as {example!r}."
            )
        return loader(str(path))
    try:
        return loader(name)
    except OSError as e:
        raise OSError(
            f"{what}: could not load {name!r} from the Hugging Face hub or its cache ({e}). Offline "
            f"(HF_HUB_OFFLINE=1)? Download it once where there is network (huggingface-cli download {name}) "
            f"or pass a local directory written by save_pretrained."
        ) from e


def images_to_pil(images: torch.Tensor) -> list[Any]:
    """``[B, 3, H, W]`` float images in ``[0, 1]`` -> RGB PIL images (values clamped, rounded to uint8)."""
    from PIL import Image

    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be [B, 3, H, W], got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"images must be float in [0, 1], got dtype {images.dtype}")
    arrays = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return [Image.fromarray(a, mode="RGB") for a in arrays]


# --------------------------------------------------------------------------------------------- detector
class GroundingDinoDetector:
    """Grounding DINO (transformers) as an :class:`ObjectDetector`.

    Each image is queried with its own nouns in Grounding DINO's text format (``"cat. dog."``); images are
    run ``batch_size`` at a time (texts padded). Boxes come from the processor's
    ``post_process_grounded_object_detection`` (score ``> threshold``, text tokens ``> text_threshold``), in
    pixels of the input image, labelled by :func:`~reward_models.geneval_rules.match_label`.
    """

    def __init__(
        self,
        model: str = DEFAULT_DETECTOR,
        device: str | torch.device = "cpu",
        threshold: float = GENEVAL_THRESHOLD,
        text_threshold: float = DEFAULT_TEXT_THRESHOLD,
        batch_size: int = 8,
    ) -> None:
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.processor = load_pretrained(AutoProcessor.from_pretrained, model, "DetectorReward", DEFAULT_DETECTOR)
        self.model = load_pretrained(
            AutoModelForZeroShotObjectDetection.from_pretrained, model, "DetectorReward", DEFAULT_DETECTOR
        )
        self.device = torch.device(device)
        self.model.to(self.device).eval()
        self.threshold = float(threshold)
        self.text_threshold = float(text_threshold)
        self.batch_size = int(batch_size)

    @staticmethod
    def query_text(nouns: Sequence[str]) -> str:
        """Grounding DINO's caption format: lower-case phrases, each ending with a dot ("cat. dog.")."""
        return " ".join(f"{n.strip().lower()}." for n in nouns)

    @torch.no_grad()
    def __call__(self, images: Sequence[Any], queries: Sequence[Sequence[str]]) -> list[list[Detection]]:
        if len(images) != len(queries):
            raise ValueError(f"{len(images)} images for {len(queries)} query lists")
        results: list[list[Detection]] = [[] for _ in images]
        todo = [i for i, q in enumerate(queries) if q]
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            for i, dets in zip(chunk, self._detect_chunk([images[i] for i in chunk], [queries[i] for i in chunk])):
                results[i] = dets
        return results

    def _detect_chunk(self, images: Sequence[Any], queries: Sequence[Sequence[str]]) -> list[list[Detection]]:
        texts = [self.query_text(q) for q in queries]
        inputs = self.processor(images=list(images), text=texts, padding=True, return_tensors="pt").to(self.device)
        outputs = self.model(**inputs)
        sizes = [(im.height, im.width) for im in images]
        processed = self.processor.post_process_grounded_object_detection(
            outputs, inputs["input_ids"], threshold=self.threshold, text_threshold=self.text_threshold,
            target_sizes=sizes,
        )
        out = []
        for result, nouns in zip(processed, queries):
            dets = []
            for score, box, text_label in zip(result["scores"].tolist(), result["boxes"].tolist(), result["text_labels"]):
                noun = match_label(text_label, nouns)
                if noun is not None:
                    dets.append(Detection(noun, score, tuple(box)))
            out.append(dets)
        return out


# --------------------------------------------------------------------------------------------- reward
def column_names(max_objects: int = 3, max_relations: int = 2) -> list[str]:
    """The reward's columns, in order (see the module docstring)."""
    names = [f"obj{i}/{kind}" for i in range(max_objects) for kind in ("present", "count")]
    return names + [f"rel{k}/position" for k in range(max_relations)]


def column_groups(names: Sequence[str]) -> list[str]:
    return ["relation" if name.startswith("rel") else "object" for name in names]


class DetectorReward:
    """Presence, exact count and relative position per concept slot (see the module docstring).

    Args:
        model: hub id or local directory of a Grounding DINO checkpoint (processor + model).
        device: where the detector runs; scores come back on the CPU.
        box_threshold: GenEval's confidence threshold (0.3) for presence, positions and found objects.
        text_threshold: Grounding DINO's token threshold deciding a box's text label.
        count_threshold: confidence threshold for counting (GenEval's counting threshold, 0.9).
        nms_iou: class-wise NMS IoU threshold (``>= 1`` = off, GenEval's default).
        max_objects: GenEval's per-class cap on detections (16).
        batch_size: images per detector call.
        max_object_slots / max_relation_slots: column slots (``obj0..``, ``rel0..``).
        position_mode: ``"fraction"`` of (subject, object) pairs or GenEval's ``"all"``-pairs verdict.
        detector: an :class:`ObjectDetector` to use instead of loading ``model`` (tests, other detectors).
    """

    def __init__(
        self,
        model: str = DEFAULT_DETECTOR,
        device: str | torch.device = "cpu",
        box_threshold: float = GENEVAL_THRESHOLD,
        text_threshold: float = DEFAULT_TEXT_THRESHOLD,
        count_threshold: float = GENEVAL_COUNTING_THRESHOLD,
        nms_iou: float = GENEVAL_NMS_IOU,
        max_objects: int = GENEVAL_MAX_OBJECTS,
        batch_size: int = 8,
        max_object_slots: int = 3,
        max_relation_slots: int = 2,
        position_mode: str = "fraction",
        detector: ObjectDetector | None = None,
    ) -> None:
        for name, value in (("box_threshold", box_threshold), ("text_threshold", text_threshold),
                            ("count_threshold", count_threshold)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if nms_iou <= 0.0:
            raise ValueError(f"nms_iou must be > 0 (>= 1 switches NMS off), got {nms_iou}")
        if max_objects < 1 or max_object_slots < 1 or max_relation_slots < 0:
            raise ValueError("max_objects and max_object_slots must be >= 1, max_relation_slots >= 0")
        if position_mode not in ("fraction", "all"):
            raise ValueError(f"position_mode must be 'fraction' or 'all', got {position_mode!r}")
        self.box_threshold = float(box_threshold)
        self.count_threshold = float(count_threshold)
        self.nms_iou = float(nms_iou)
        self.max_objects = int(max_objects)
        self.max_object_slots = int(max_object_slots)
        self.max_relation_slots = int(max_relation_slots)
        self.position_mode = position_mode
        self.names = column_names(self.max_object_slots, self.max_relation_slots)
        self.groups = column_groups(self.names)
        self.detector = detector if detector is not None else GroundingDinoDetector(
            model, device, threshold=min(self.box_threshold, self.count_threshold),
            text_threshold=text_threshold, batch_size=batch_size,
        )

    def __call__(self, batch: RewardBatch) -> RewardOutput:
        graphs = [graph_for(p, m) for p, m in zip(batch.prompts, batch.metadata)]
        queries = [self._nouns(g) for g in graphs]
        detections = self.detector(images_to_pil(batch.images), queries)
        if len(detections) != len(graphs):
            raise ValueError(f"the detector returned {len(detections)} results for {len(graphs)} images")
        rows, details = [], []
        for graph, dets, nouns in zip(graphs, detections, queries):
            scores, info = self.score_image(graph, dets)
            info["detector/queries"] = list(nouns)
            rows.append([scores[n] for n in self.names])
            details.append(info)
        return RewardOutput(torch.tensor(rows, dtype=torch.float32).reshape(len(rows), len(self.names)),
                            list(self.names), list(self.groups), details)

    def _nouns(self, graph) -> list[str]:
        return list(dict.fromkeys(o.noun for o in graph.objects[: self.max_object_slots]))

    def score_image(self, graph, detections: Sequence[Detection]) -> tuple[dict[str, float], dict[str, Any]]:
        """One image's column values and details from its detections (the rule logic, no model call)."""
        grouped = group_by_label(detections, self.box_threshold, self.max_objects, self.nms_iou)
        counted = group_by_label(detections, self.count_threshold, self.max_objects, self.nms_iou)
        scores = {name: math.nan for name in self.names}
        found = [found_objects(grouped, o.noun, o.count) for o in graph.objects]
        for i, obj in enumerate(graph.objects[: self.max_object_slots]):
            if obj.count > 0:
                scores[f"obj{i}/present"] = presence_score(grouped, obj.noun)
            if obj.exact or obj.count > 1:
                scores[f"obj{i}/count"] = count_score(len(counted.get(obj.noun, [])), obj.count, obj.exact)
        for k, rel in enumerate(graph.relations[: self.max_relation_slots]):
            relation = geneval_relation(rel.predicate, rel.kind)
            if relation is not None and max(rel.subject, rel.object) < self.max_object_slots:
                scores[f"rel{k}/position"] = position_score(found[rel.subject], found[rel.object], relation,
                                                            self.position_mode)
        dropped = self._dropped(graph)
        if dropped:
            warnings.warn(f"DetectorReward: no column slot for {dropped} (raise max_object_slots / "
                          f"max_relation_slots)", stacklevel=3)
        info = {
            "detector/detections": [d.to_dict() for dets in grouped.values() for d in dets],
            "detector/object_boxes": [[list(d.box) for d in f] for f in found],
            "detector/dropped": dropped,
        }
        return scores, info

    def _dropped(self, graph) -> list[str]:
        objects = [f"obj{i}:{o.noun}" for i, o in enumerate(graph.objects) if i >= self.max_object_slots]
        relations = [f"rel{k}:{r.predicate}" for k, r in enumerate(graph.relations)
                     if k >= self.max_relation_slots or max(r.subject, r.object) >= self.max_object_slots]
        return objects + relations
