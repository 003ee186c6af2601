"""GenEval scoring (Ghosh et al., 2023, "GenEval: An Object-Focused Framework for Evaluating Text-to-Image
Alignment", ``evaluation/evaluate_images.py`` and ``evaluation/summary_scores.py``) over a GenEval image folder.

The per-image verdict :func:`evaluate_metadata` is GenEval's ``evaluate`` over one whole metadata record:

* Detections are kept per class with GenEval's filtering (:func:`reward_models.geneval_rules.group_by_label`):
  confidence ``> 0.3`` (``> 0.9`` for every detection of a ``"counting"`` image), most confident first, at most
  ``MAX_OBJECTS = 16`` per class, no NMS (``NMS_THRESHOLD = 1.0``).
* ``include`` clauses are ANDed. Clause ``{"class": c, "count": n}`` finds the ``n`` most confident ``c``
  (fewer fails). ``"color"``: the colour classifier labels each found object among GenEval's ten colours and
  all ``n`` must carry the colour. ``"position": [rel, j]`` (checked only if the clause passed so far): group
  ``j`` must have passed, and every found object must stand ``rel`` to every object of group ``j`` by
  GenEval's box-centre rule with ``POSITION_THRESHOLD = 0.1``
  (:func:`reward_models.geometry.relative_position`).
* ``exclude`` clauses are ORed: ``len(detections of c) >= count`` fails (counting prompts exclude ``n + 1``,
  which makes their counts exact).

Reasons use GenEval's wording, so ``results.jsonl`` reads like GenEval's. The summary is GenEval's
``summary_scores.py``: accuracy per tag and ``overall`` = the mean of the tags' accuracies.

Detectors (``--detector``), all returning :class:`reward_models.geneval_rules.Detection` lists:

* ``grounding-dino`` (default): :class:`reward_models.detector.GroundingDinoDetector`, queried with the record's
  class names. **Differs from GenEval's Mask2Former**: open-vocabulary text-box scores are not COCO class
  probabilities, so the 0.3 / 0.9 thresholds are not calibrated for it; no masks, so the colour crop is not
  composited on GenEval's grey background; numbers are not comparable with published GenEval scores.
* ``mask2former``: transformers' ``Mask2FormerForUniversalSegmentation`` (default
  ``facebook/mask2former-swin-small-coco-instance``, the Swin-S COCO instance model, converted from the
  Detectron2 release; GenEval uses the mmdetection Swin-S checkpoint ``mask2former_swin-s-p4-w7-224_lsj_8x2_50e``).
  Scores are class probability x mask quality as in mmdetection, boxes are the masks' extents, masks are used for
  the grey-background colour crop. Closest to GenEval, but still another checkpoint and post-processing: use
  GenEval's own scorer on the same folder for a paper number.
* ``shapes``: the exact pixel detector of the shapes world (:mod:`t2i_rl.shapes.detect`); it also knows each
  object's palette colour, which the ``detected`` colour classifier returns. Its scores are shape-fit
  confidences, not probabilities, so its thresholds default to 0 (:func:`default_thresholds`), as in
  :mod:`t2i_rl.shapes.scoring`.

Colour classifiers (``--color``): ``clip`` (GenEval's: open_clip ViT-L-14 ``openai``, zero-shot over the ten
colours with GenEval's three templates, argmax, on the box crop, masked on ``#999`` when a mask exists),
``detected`` (the detector's own colour label), or any callable ``(image, detections, classname) -> colours``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import torch

from reward_models.geneval_rules import (
    GENEVAL_COLORS,
    GENEVAL_COUNTING_THRESHOLD,
    GENEVAL_MAX_OBJECTS,
    GENEVAL_NMS_IOU,
    GENEVAL_THRESHOLD,
    Detection,
    failure_key,
    failure_shares,
    geneval_verdict,
    group_by_label,
)
from reward_models.geometry import POSITION_THRESHOLD

#: GenEval's six tags, in its file order.
GENEVAL_TAGS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
#: Background GenEval composites masked objects on before the colour classification (``bgcolor``).
GENEVAL_BGCOLOR = "#999"
DETECTORS = ("grounding-dino", "mask2former", "shapes")
COLOR_CLASSIFIERS = ("clip", "detected")
DEFAULT_MASK2FORMER = "facebook/mask2former-swin-small-coco-instance"

Metadata = dict[str, Any]


@dataclass(frozen=True)
class EvalDetection(Detection):
    """A :class:`~reward_models.geneval_rules.Detection` with what some detectors know besides the box: the
    object's ``color`` (the shapes detector) and its binary ``mask`` ``[H, W]`` (Mask2Former)."""

    color: str | None = None
    mask: Any = field(default=None, compare=False, repr=False)


class ObjectDetector(Protocol):
    """PIL images and each image's class names -> each image's detections (pixel boxes x0, y0, x1, y1)."""

    def __call__(self, images: Sequence[Any], queries: Sequence[Sequence[str]]) -> list[list[Detection]]: ...


ColorClassifier = Callable[[Any, Sequence[Detection], str], list[str]]


# ------------------------------------------------------------------------------------------------ verdict
@dataclass
class Verdict:
    """GenEval's result for one image: ``correct``, ``reason`` (GenEval's wording, empty when correct), the
    kept detections per class (GenEval's ``details``) and the ``failures`` as ``(rule, class)`` pairs, one per reason
    (``reward_models.geneval_rules.FAILURE_RULES``)."""

    correct: bool
    reason: str
    detected: dict[str, list[Detection]]
    failures: list[tuple[str, str]] = field(default_factory=list)


def confidence_threshold(metadata: Mapping[str, Any], threshold: float = GENEVAL_THRESHOLD,
                         counting_threshold: float = GENEVAL_COUNTING_THRESHOLD) -> float:
    """GenEval's per-image detection threshold: 0.9 for ``"counting"`` records, 0.3 otherwise."""
    return counting_threshold if metadata.get("tag") == "counting" else threshold


def validate_metadata(metadata: Any) -> Metadata:
    """A GenEval record (``tag``, ``prompt``, ``include`` [, ``exclude``]) or a ``ValueError`` naming what is wrong."""
    if not isinstance(metadata, Mapping):
        raise ValueError(f"a GenEval metadata record must be a dict, got {type(metadata).__name__}")  # noqa: TRY004
    missing = [k for k in ("prompt", "include") if k not in metadata]
    if missing:
        raise ValueError(f"GenEval metadata lacks {missing}: {json.dumps(metadata)[:200]}")
    for clause in list(metadata["include"]) + list(metadata.get("exclude", [])):
        if not isinstance(clause, Mapping) or "class" not in clause or int(clause.get("count", 0)) < 1:
            raise ValueError(f"bad GenEval clause {clause!r} (needs 'class' and 'count' >= 1)")
    return dict(metadata)


def evaluate_metadata(
    detections: Sequence[Detection],
    metadata: Mapping[str, Any],
    image: Any = None,
    color_classifier: ColorClassifier | None = None,
    threshold: float = GENEVAL_THRESHOLD,
    counting_threshold: float = GENEVAL_COUNTING_THRESHOLD,
    max_objects: int = GENEVAL_MAX_OBJECTS,
    position_threshold: float = POSITION_THRESHOLD,
) -> Verdict:
    """GenEval's strict verdict of one image's ``detections`` against a whole metadata record (see the module
    docstring). ``color_classifier(image, found, classname)`` labels the found objects of colour clauses."""
    metadata = validate_metadata(metadata)
    objects = group_by_label(detections, confidence_threshold(metadata, threshold, counting_threshold),
                             max_objects, GENEVAL_NMS_IOU)
    def colors_of(found: Sequence[Detection], classname: str) -> list[str]:
        if color_classifier is None:
            raise ValueError(f"{metadata['prompt']!r} has a colour clause but no colour classifier was given")
        return list(color_classifier(image, found, classname))

    verdict = geneval_verdict(objects, metadata, colors_of, GENEVAL_COLORS, position_threshold)
    return Verdict(verdict.correct, "\n".join(verdict.reasons), objects, verdict.failures)


def query_classes(metadata: Mapping[str, Any]) -> list[str]:
    """The class names a record mentions (include then exclude, no duplicates): what to ask a detector for."""
    return list(dict.fromkeys(c["class"] for c in list(metadata["include"]) + list(metadata.get("exclude", []))))


# ------------------------------------------------------------------------------------------------ summary
def summarize(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """GenEval's ``summary_scores.py`` over result records: per-tag accuracy (tags in first-seen order),
    ``overall`` = mean over the tags (not over images), plus image / prompt counts and the fraction of correct
    images and of prompts with at least one correct image. When every record has ``failures`` (our
    :func:`score_folder` writes them; GenEval's own results do not), ``failures`` gives per tag the fraction of
    images failing each ``"<rule> <class>"``, most frequent first: which object or relation a model misses."""
    if not records:
        raise ValueError("no results to summarise")
    per_tag: dict[str, list[bool]] = {}
    per_prompt: dict[str, bool] = {}
    for r in records:
        per_tag.setdefault(r["tag"], []).append(bool(r["correct"]))
        key = r.get("metadata") or r["prompt"]
        per_prompt[key] = per_prompt.get(key, False) or bool(r["correct"])
    scores = {tag: sum(v) / len(v) for tag, v in per_tag.items()}
    return {
        "benchmark": "geneval",
        "scores": scores,
        "overall": sum(scores.values()) / len(scores),
        "counts": {tag: [sum(v), len(v)] for tag, v in per_tag.items()},
        "images": len(records),
        "prompts": len(per_prompt),
        "correct_images": sum(bool(r["correct"]) for r in records) / len(records),
        "correct_prompts": sum(per_prompt.values()) / len(per_prompt),
        **({"failures": failure_shares([r["tag"] for r in records], [r["failures"] for r in records])}
           if all("failures" in r for r in records) else {}),
    }


# ------------------------------------------------------------------------------------------------ detectors
class ShapesDetector:
    """The exact shapes-world detector (:func:`t2i_rl.shapes.detect.detect`) as an :class:`ObjectDetector`.

    It reports every object (queries are ignored) with its palette colour; scores are its own confidences."""

    def __init__(self, config: Any = None) -> None:
        from t2i_rl.shapes.detect import DetectorConfig

        self.config = config or DetectorConfig()

    def __call__(self, images: Sequence[Any], queries: Sequence[Sequence[str]]) -> list[list[Detection]]:
        from t2i_rl.shapes.detect import detect
        from t2i_rl.shapes.render import pil_to_tensor

        out: list[list[Detection]] = []
        for image in images:  # images may differ in size
            dets = detect(pil_to_tensor(image), self.config)[0]
            out.append([EvalDetection(d.shape, d.score, d.box, color=d.color) for d in dets])
        return out


class Mask2FormerDetector:
    """Mask2Former (transformers, COCO instance segmentation) as an :class:`ObjectDetector` (see the module
    docstring for how it differs from GenEval's mmdetection model). Labels are the model's ``id2label`` names;
    the caller's class names are matched to them case-insensitively (``"motorbike"`` and ``"motorcycle"``
    included); detections of other classes are dropped."""

    ALIASES: ClassVar[dict[str, str]] = {"motorbike": "motorcycle", "aeroplane": "airplane", "tv monitor": "tv", "sofa": "couch",
               "hair dryer": "hair drier"}

    def __init__(self, model: str = DEFAULT_MASK2FORMER, device: str | torch.device = "cpu",
                 threshold: float = GENEVAL_THRESHOLD, batch_size: int = 4) -> None:
        from transformers import AutoImageProcessor, Mask2FormerForUniversalSegmentation

        from reward_models.detector import load_pretrained

        self.processor = load_pretrained(AutoImageProcessor.from_pretrained, model, "Mask2FormerDetector", DEFAULT_MASK2FORMER)
        self.model = load_pretrained(Mask2FormerForUniversalSegmentation.from_pretrained, model, "Mask2FormerDetector",
                                     DEFAULT_MASK2FORMER)
        self.device = torch.device(device)
        self.model.to(self.device).eval()
        self.threshold = float(threshold)
        self.batch_size = int(batch_size)
        self.id2label = {int(k): self._norm(v) for k, v in self.model.config.id2label.items()}

    @classmethod
    def _norm(cls, name: str) -> str:
        name = " ".join(str(name).lower().replace("-", " ").replace("_", " ").split())
        return cls.ALIASES.get(name, name)

    @torch.no_grad()
    def __call__(self, images: Sequence[Any], queries: Sequence[Sequence[str]]) -> list[list[Detection]]:
        import numpy as np

        out: list[list[Detection]] = []
        for start in range(0, len(images), self.batch_size):
            chunk = list(images[start : start + self.batch_size])
            inputs = self.processor(images=chunk, return_tensors="pt").to(self.device)
            outputs = self.model(**inputs)
            results = self.processor.post_process_instance_segmentation(
                outputs, threshold=self.threshold, target_sizes=[(im.height, im.width) for im in chunk],
                return_binary_maps=True)
            for result, classes in zip(results, queries[start : start + self.batch_size]):
                wanted = {self._norm(c): c for c in classes}
                dets = []
                maps = result["segmentation"]
                for k, info in enumerate(result["segments_info"]):
                    name = self.id2label.get(int(info["label_id"]))
                    if name not in wanted or maps is None:
                        continue
                    mask = maps[k].cpu().numpy().astype(bool)
                    ys, xs = np.nonzero(mask)
                    if len(xs) == 0:
                        continue
                    box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
                    dets.append(EvalDetection(wanted[name], float(info["score"]), box, mask=mask))
                out.append(dets)
        return out


def default_thresholds(detector: str) -> tuple[float, float]:
    """``(threshold, counting_threshold)`` for a detector: GenEval's 0.3 / 0.9, except 0 / 0 for ``shapes``, whose
    scores are shape-fit confidences, not calibrated probabilities (a perfect circle may score 0.85), and which
    never hallucinates objects."""
    return (0.0, 0.0) if detector == "shapes" else (GENEVAL_THRESHOLD, GENEVAL_COUNTING_THRESHOLD)


def build_detector(name: str, model: str | None = None, device: str | torch.device = "cpu",
                   batch_size: int = 8, text_threshold: float | None = None) -> ObjectDetector:
    """A detector by name: ``grounding-dino`` (``model`` default ``IDEA-Research/grounding-dino-tiny``),
    ``mask2former`` (default :data:`DEFAULT_MASK2FORMER`) or ``shapes``. The model call keeps everything above
    GenEval's lower threshold (0.3); the verdict applies 0.3 / 0.9."""
    if name == "shapes":
        return ShapesDetector()
    if name == "grounding-dino":
        from reward_models.detector import DEFAULT_DETECTOR, DEFAULT_TEXT_THRESHOLD, GroundingDinoDetector

        return GroundingDinoDetector(model or DEFAULT_DETECTOR, device, threshold=GENEVAL_THRESHOLD,
                                     text_threshold=DEFAULT_TEXT_THRESHOLD if text_threshold is None else text_threshold,
                                     batch_size=batch_size)
    if name == "mask2former":
        return Mask2FormerDetector(model or DEFAULT_MASK2FORMER, device, GENEVAL_THRESHOLD, batch_size)
    raise ValueError(f"unknown detector {name!r}; use one of {list(DETECTORS)}")


# ------------------------------------------------------------------------------------------------ colours
def geneval_crop(image: Any, detection: Detection, bgcolor: str = GENEVAL_BGCOLOR) -> Any:
    """GenEval's ``ImageCrops`` item: the image composited on ``bgcolor`` through the mask (if the detection has
    one), cropped to the box (PIL rounding, at least one pixel)."""
    from PIL import Image

    image = image.convert("RGB")
    mask = getattr(detection, "mask", None)
    if mask is not None:
        import numpy as np

        blank = Image.new("RGB", image.size, color=bgcolor)
        image = Image.composite(image, blank, Image.fromarray(np.asarray(mask, dtype=bool).astype("uint8") * 255))
    x0, y0, x1, y1 = (round(v) for v in detection.box)
    x0, y0 = min(max(x0, 0), image.width - 1), min(max(y0, 0), image.height - 1)
    return image.crop((x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)))


class ClipColorClassifier:
    """GenEval's ``color_classification``: CLIP zero-shot over :data:`GENEVAL_COLORS` with the templates
    "a photo of a {c} {classname}", "a photo of a {c}-colored {classname}", "a photo of a {c} object" (text
    embeddings normalised, averaged, normalised), argmax on each object's crop.

    ``backend``: a :class:`reward_models.attribute.ClipBackend` object, or built lazily (on the first colour
    clause) from open_clip ``model`` (default ``ViT-L-14``, GenEval's; a local directory also works) and
    ``pretrained`` (``"openai"``)."""

    def __init__(self, model: str = "ViT-L-14", pretrained: str | None = "openai", device: str | torch.device = "cpu",
                 backend: Any = None) -> None:
        self.model, self.pretrained, self.device = model, pretrained, device
        self._backend = backend
        self._classifiers: dict[str, torch.Tensor] = {}

    @property
    def backend(self) -> Any:
        if self._backend is None:
            from reward_models.attribute import OpenClipBackend

            self._backend = OpenClipBackend(self.model, self.pretrained, self.device)
        return self._backend

    def __call__(self, image: Any, detections: Sequence[Detection], classname: str) -> list[str]:
        from reward_models.attribute import GENEVAL_COLOR_TEMPLATES, zero_shot_weights

        if not detections:
            return []
        if classname not in self._classifiers:
            self._classifiers[classname] = zero_shot_weights(self.backend, classname, GENEVAL_COLORS,
                                                             GENEVAL_COLOR_TEMPLATES)
        feats = self.backend.encode_images([geneval_crop(image, d) for d in detections]).float()
        return [GENEVAL_COLORS[int(k)] for k in (feats @ self._classifiers[classname]).argmax(-1)]


def detected_colors(image: Any, detections: Sequence[Detection], classname: str) -> list[str]:
    """The detector's own colour label of each object (the shapes detector knows its palette colours)."""
    colors = [getattr(d, "color", None) for d in detections]
    if any(c is None for c in colors):
        raise ValueError("the 'detected' colour classifier needs a detector that reports colours (--detector shapes)")
    return colors


def build_color_classifier(name: str | ColorClassifier, clip_model: str = "ViT-L-14",
                           clip_pretrained: str | None = "openai", device: str | torch.device = "cpu") -> ColorClassifier:
    """``"clip"`` (GenEval's, loaded lazily), ``"detected"``, or a callable passed through."""
    if callable(name):
        return name
    if name == "clip":
        return ClipColorClassifier(clip_model, clip_pretrained, device)
    if name == "detected":
        return detected_colors
    raise ValueError(f"unknown colour classifier {name!r}; use one of {list(COLOR_CLASSIFIERS)} or a callable")


# ------------------------------------------------------------------------------------------------ folders
def read_folder(folder: str | Path) -> list[tuple[Metadata, list[Path]]]:
    """GenEval's image folder: ``<folder>/<index:05d>/metadata.jsonl`` (one JSON record) and ``samples/*.png``.

    Returns ``(metadata, image paths)`` per prompt folder, in index order; non-numeric entries are skipped as in
    GenEval. Raises ``FileNotFoundError`` / ``ValueError`` for a missing or empty folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {str(folder)!r} does not exist (run `t2i-rl eval generate` first)")
    out = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()):
        meta_path = sub / "metadata.jsonl"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path} is missing (every prompt folder needs its metadata.jsonl)")
        text = meta_path.read_text().strip()
        try:
            metadata = json.loads(text.splitlines()[0]) if text else None
        except json.JSONDecodeError as err:
            raise ValueError(f"{meta_path}: not JSON ({err})") from err
        metadata = validate_metadata(metadata)
        samples = sorted((sub / "samples").glob("*.png")) if (sub / "samples").is_dir() else []
        out.append((metadata, samples))
    if not any(samples for _, samples in out):
        raise ValueError(f"no images in GenEval layout under {str(folder)!r} "
                         f"(expected <index:05d>/metadata.jsonl and <index:05d>/samples/<i:04d>.png)")
    return out


def score_folder(
    folder: str | Path,
    detector: ObjectDetector,
    color_classifier: ColorClassifier | None = None,
    batch_size: int = 8,
    progress: bool = True,
    **rules: Any,
) -> list[dict[str, Any]]:
    """Score every image of a GenEval folder; one GenEval ``results.jsonl`` record per image (``filename``,
    ``tag``, ``prompt``, ``correct``, ``reason``, ``metadata`` and ``details`` as JSON strings). ``rules`` go to
    :func:`evaluate_metadata` (thresholds)."""
    from PIL import Image, ImageOps
    from tqdm.auto import tqdm

    jobs = [(meta, path) for meta, paths in read_folder(folder) for path in paths]
    records = []
    with tqdm(total=len(jobs), desc="geneval", unit="img", disable=not progress) as bar:
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            images = [ImageOps.exif_transpose(Image.open(p)).convert("RGB") for _, p in chunk]
            detections = detector(images, [query_classes(m) for m, _ in chunk])
            if len(detections) != len(chunk):
                raise ValueError(f"the detector returned {len(detections)} results for {len(chunk)} images")
            for (meta, path), image, dets in zip(chunk, images, detections):
                verdict = evaluate_metadata(dets, meta, image, color_classifier, **rules)
                records.append({
                    "filename": str(path), "tag": meta.get("tag", "unknown"), "prompt": meta["prompt"],
                    "correct": verdict.correct, "reason": verdict.reason, "metadata": json.dumps(meta),
                    "details": json.dumps({k: [list(d.box) + [d.score] for d in v] for k, v in verdict.detected.items()}),
                    "failures": [failure_key(rule, cls) for rule, cls in verdict.failures],
                })
            bar.update(len(chunk))
    return records


def write_results(records: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """GenEval's ``results.jsonl``: one JSON record per line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return path


def read_results(path: str | Path) -> list[dict[str, Any]]:
    with Path(path).open() as f:
        return [json.loads(line) for line in f if line.strip()]
