"""T2I-CompBench scoring (Huang et al., 2023, "T2I-CompBench: A Comprehensive Benchmark for Open-world
Compositional Text-to-image Generation", NeurIPS 2023 Datasets and Benchmarks, arXiv:2307.06350; reference code
github.com/Karine-Huang/T2I-CompBench, referred to below as "the repo").

One metric per category, as in the paper's Table 2 and the repo's scripts:

=============  ====================  =============================================================================
category       metric                per-image formula (this module's function)
=============  ====================  =============================================================================
color, shape,  BLIP-VQA              product over the prompt's noun phrases of BLIP-VQA's ``P(yes)`` for the
texture                              question ``"{noun phrase}?"`` (:func:`blip_vqa_product`). ``P(yes)`` is
                                     ``p_yes / (p_yes + p_no)`` at the answer decoder's first position
                                     (repo ``BLIPvqa_eval/models/blip_vqa.py``, ``vqa_prob``).
spatial (2D)   detector (UniDet)     ``0.25 s1 + 0.25 s2 + position / 2`` with the two objects' detection scores
                                     and the repo's box rule, set to 0 when below 0.5 (:func:`spatial_score`,
                                     :func:`determine_position`; repo ``UniDet_eval/2D_spatial_eval.py``).
non_spatial    CLIPScore (ViT-B/32)  cosine similarity of the L2-normalised image and text embeddings, no
                                     scaling and no clipping (:func:`clip_score`; repo
                                     ``CLIPScore_eval/CLIP_similarity.py``).
complex        3-in-1                mean of BLIP-VQA and, by the prompt's kind, the spatial score and / or the
                                     CLIP score of the prompt without adjectives (:func:`three_in_one`; repo
                                     ``3_in_1_eval/3_in_1.py``).
numeracy       detector (UniDet)     per object of the prompt, weight ``1/n``: ``+0.5`` if found, ``+0.5`` more
                                     if the de-duplicated count is exact (:func:`numeracy_score`; T2I-CompBench++,
                                     Huang et al., 2025, TPAMI, arXiv:2307.06350v3; repo
                                     ``UniDet_eval/numeracy_eval.py``).
=============  ====================  =============================================================================

Category score = mean over its images. 3D spatial (which needs a depth model) is not implemented.

Differences from the repo (also in ``docs/evaluation_compbench_vqa.md``):

* Noun phrases and spatial (subject, relation, object) come from :func:`concept_parsers.parse` instead of
  spaCy's ``noun_chunks`` / POS tags. A noun phrase is the object's phrase with all its attributes
  (``"a green bench"``, ``"rubber gloves"``, ``"two cups"``), close to spaCy's chunk.
* **Detector**: UniDet (RS200 / R50 checkpoints, detectron2) is replaced by Grounding DINO
  (:class:`reward_models.detector.GroundingDinoDetector`, open vocabulary, queried with the prompt's nouns).
  Its scores are sigmoid text-box similarities, not class probabilities, so the spatial formula's detection
  scores (and its 0.5 cut-off) and the 0.5 confidence threshold (the repo's ``confidence_threshold``) are not
  calibrated the same way. The repo maps "girl/boy/man/woman" to UniDet's "person"; an open-vocabulary detector
  needs no such mapping.
* The repo's box rule runs on UniDet's input frame (shorter side resized to 479 px), so its 150-px
  "next to" distance is in that frame; boxes here are rescaled to a 479-px shorter side first
  (``reference_short_side``; ``None`` keeps raw pixels).
* "on top of" counts as "on the top of" (the repo's locality list matches "on top of" but
  ``determine_position`` only knows "on the top of", so complex prompts with "on top of" get position 0
  there; reconstructed as the evident intent).
* Complex prompts' kind (spatial / action / both) comes from the repo's prompt lists when given
  (:func:`load_complex_kinds`), else from the concept graph's relations (:func:`complex_kind`).
* The CLIP text for complex prompts drops the graph's attribute words instead of spaCy's ``ADJ`` tokens.
* Numeracy: an object asked for without an exact number ("a cat") counts as 1 (the repo: "a"/"an"/"one"),
  a plural without a number ("cats") is not counted (the repo's parser skips it too); a prompt without
  countable objects scores NaN (the repo divides by zero) and is left out of the mean.

Inputs: :func:`read_samples` (GenEval folder layout, a flat folder of PNGs with a prompts file or
T2I-CompBench's ``{prompt}_{index:06d}.png`` names, or an iterable of ``(prompt, PIL image[, metadata])``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch and the reward models load lazily, so building the CLI parser stays light
    from reward_models.geneval_rules import Detection

DEFAULT_BLIP_VQA = "Salesforce/blip-vqa-base"
#: T2I-CompBench's CLIP: OpenAI ViT-B/32 (``clip.load("ViT-B/32")``); open_clip's name for the same weights.
DEFAULT_CLIP = "ViT-B-32"
DEFAULT_CLIP_PRETRAINED = "openai"
DEFAULT_DETECTOR = "IDEA-Research/grounding-dino-tiny"

CATEGORIES = ("color", "shape", "texture", "spatial", "non_spatial", "complex", "numeracy")
METRIC_OF_CATEGORY = {"color": "blip_vqa", "shape": "blip_vqa", "texture": "blip_vqa", "spatial": "spatial",
                      "non_spatial": "clip", "complex": "3_in_1", "numeracy": "numeracy"}
#: Accepted spellings of category names (prompt-file stems, metadata tags).
CATEGORY_ALIASES = {"colour": "color", "colors": "color", "2d_spatial": "spatial", "non-spatial": "non_spatial",
                    "nonspatial": "non_spatial", "counting": "numeracy", "3_in_1": "complex"}

#: The repo's spatial thresholds (``determine_position``): IoU 0.1, "next to" distance 150 px.
IOU_THRESHOLD = 0.1
DISTANCE_THRESHOLD = 150.0
#: UniDet's input frame: ``Resize(size=479, max_size=480)``; the repo's boxes (and 150 px) live there.
UNIDET_SHORT_SIDE = 479
#: The repo's detection confidence threshold (``args.confidence_threshold = 0.5``).
DETECTION_THRESHOLD = 0.5
#: The repo's spatial score is set to 0 below this.
SPATIAL_CUTOFF = 0.5
#: CLIPScore conventions: T2I-CompBench's raw cosine, Hessel et al. (2021) ``2.5 max(cos, 0)``, torchmetrics
#: ``max(100 cos, 0)``.
CLIP_CONVENTIONS = ("t2i_compbench", "hessel", "torchmetrics")

#: The repo's locality words -> concept-parser predicates (2D only).
LOCALITIES = ("on the left of", "on the right of", "on the top of", "on the bottom of", "next to", "near",
              "on side of")
PREDICATE_TO_LOCALITY = {"left of": "on the left of", "right of": "on the right of", "above": "on the top of",
                         "on top of": "on the top of", "below": "on the bottom of", "under": "on the bottom of",
                         "next to": "next to", "near": "near"}
COMPLEX_KINDS = ("spatial", "action", "spatialaction")


# ============================================================================================ samples
@dataclass
class Sample:
    """One generated image and its prompt. ``image`` is a PIL image or a path loaded on demand."""

    prompt: str
    image: Any
    metadata: dict[str, Any] = field(default_factory=dict)
    index: int = 0  # prompt index
    sample: int = 0  # image index within the prompt
    path: str | None = None

    def load_image(self):
        from PIL import Image

        if isinstance(self.image, (str, Path)):
            with Image.open(self.image) as im:
                return im.convert("RGB")
        if hasattr(self.image, "convert"):
            return self.image.convert("RGB")
        raise TypeError(f"sample {self.index}/{self.sample}: image must be a PIL image or a path, "
                        f"got {type(self.image).__name__}")


_COMPBENCH_NAME = re.compile(r"^(?P<prompt>.+)_(?P<num>\d+)$")


def read_samples(source: Any, prompts_file: str | Path | None = None) -> list[Sample]:
    """Samples from any of:

    * a GenEval-layout folder: ``<dir>/<index:05d>/metadata.jsonl`` (first line a JSON object with at least
      ``"prompt"``) and ``<dir>/<index:05d>/samples/<i:04d>.png``;
    * a flat folder of PNGs (or its ``samples/`` subfolder) with ``prompts_file`` (one prompt a line, one line per
      PNG in sorted name order), or without it T2I-CompBench's file names ``{prompt}_{number}.png``;
    * an iterable of ``(prompt, PIL image)`` or ``(prompt, PIL image, metadata)``, or a callable returning one.
    """
    if callable(source) and not isinstance(source, (str, Path)):
        source = source()
    if isinstance(source, (str, Path)):
        root = Path(source).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"image folder {str(root)!r} does not exist")
        if any(p.is_dir() and (p / "metadata.jsonl").is_file() for p in root.iterdir()):
            return _read_geneval_layout(root)
        return _read_flat_folder(root, prompts_file)
    samples = []
    for i, item in enumerate(source):
        if isinstance(item, Sample):
            samples.append(item)
            continue
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise TypeError(f"item {i}: expected (prompt, image) or (prompt, image, metadata), got {item!r:.80}")
        prompt, image = item[0], item[1]
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"item {i}: the prompt must be a non-empty string, got {prompt!r}")
        samples.append(Sample(prompt, image, dict(item[2]) if len(item) == 3 else {}, index=i))
    return samples


def _read_geneval_layout(root: Path) -> list[Sample]:
    samples = []
    folders = sorted(p for p in root.iterdir() if p.is_dir() and (p / "metadata.jsonl").is_file())
    for folder in folders:
        lines = [ln for ln in (folder / "metadata.jsonl").read_text().splitlines() if ln.strip()]
        if not lines:
            raise ValueError(f"{folder / 'metadata.jsonl'} is empty")
        try:
            meta = json.loads(lines[0])
        except json.JSONDecodeError as e:
            raise ValueError(f"{folder / 'metadata.jsonl'} is not JSON: {e}") from e
        if not isinstance(meta, dict) or not isinstance(meta.get("prompt"), str):
            raise ValueError(f"{folder / 'metadata.jsonl'} has no \"prompt\" string")  # noqa: TRY004 (a malformed file)
        pngs = sorted((folder / "samples").glob("*.png"))
        if not pngs:
            raise ValueError(f"{folder} has metadata.jsonl but no samples/*.png")
        index = int(folder.name) if folder.name.isdigit() else len({s.index for s in samples})
        for j, png in enumerate(pngs):
            sample_no = int(png.stem) if png.stem.isdigit() else j
            samples.append(Sample(meta["prompt"], str(png), dict(meta), index, sample_no, str(png)))
    return samples


def _read_flat_folder(root: Path, prompts_file: str | Path | None) -> list[Sample]:
    folder = root / "samples" if (root / "samples").is_dir() and not list(root.glob("*.png")) else root
    pngs = sorted(folder.glob("*.png"))
    if not pngs:
        raise ValueError(f"no GenEval layout (<index>/metadata.jsonl) and no PNG files in {str(root)!r}")
    if prompts_file is not None:
        prompts = [ln.strip() for ln in Path(prompts_file).read_text().splitlines() if ln.strip()]
        if len(prompts) != len(pngs):
            raise ValueError(f"{len(prompts)} prompts in {str(prompts_file)!r} for {len(pngs)} PNGs in "
                             f"{str(folder)!r}; give one prompt line per PNG (sorted by file name)")
        return [Sample(p, str(png), {}, i, 0, str(png)) for i, (p, png) in enumerate(zip(prompts, pngs))]
    samples = []
    for png in pngs:
        match = _COMPBENCH_NAME.match(png.stem)
        if not match:
            raise ValueError(f"cannot tell the prompt of {png.name!r}: pass a prompts file (one line per PNG) or "
                             f"name files '{{prompt}}_{{number}}.png' as T2I-CompBench does")
        samples.append(Sample(match["prompt"], str(png), {}, int(match["num"]), 0, str(png)))
    samples.sort(key=lambda s: s.index)
    return samples


# ============================================================================================ noun phrases
def noun_phrases(graph) -> list[str]:
    """BLIP-VQA's noun phrases: each object's phrase with all its attributes ("a green bench", "rubber gloves").
    The repo uses spaCy's ``noun_chunks`` of the prompt; this is the concept graph's equivalent."""
    return [o.phrase(with_count=True, attributes=[a.value for a in o.attributes]) for o in graph.objects]


def blip_vqa_question(phrase: str) -> str:
    """The repo's question for a noun phrase: the phrase followed by a question mark."""
    return f"{phrase}?"


def blip_vqa_product(p_yes: Sequence[float]) -> float:
    """The repo's BLIP-VQA score of one image: the product of the per-phrase ``P(yes)`` (1.0 with no phrase, as
    the repo fills missing phrases with 1)."""
    out = 1.0
    for p in p_yes:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"P(yes) must be in [0, 1], got {p}")
        out *= p
    return out


def text_without_attributes(prompt: str, graph) -> str:
    """Complex prompts' CLIP text: the prompt without its attribute words (the repo drops spaCy ``ADJ`` tokens)."""
    words = {w for o in graph.objects for a in o.attributes for w in a.value.lower().split()}
    kept = [t for t in prompt.split() if t.lower().strip(".,;:!?") not in words]
    return " ".join(kept)


# ============================================================================================ CLIPScore
def clip_score(cosine: float, convention: str = "t2i_compbench") -> float:
    """CLIPScore from the image-text cosine similarity.

    * ``"t2i_compbench"`` (default): the raw cosine (``CLIP_similarity.py`` reports ``image_features @
      text_features.T`` of normalised features; the paper's non-spatial numbers are about 0.3).
    * ``"hessel"``: Hessel et al. (2021, "CLIPScore", EMNLP), ``2.5 * max(cos, 0)``.
    * ``"torchmetrics"``: ``max(100 * cos, 0)`` (torchmetrics' ``CLIPScore``).
    """
    if convention == "t2i_compbench":
        return float(cosine)
    if convention == "hessel":
        return 2.5 * max(float(cosine), 0.0)
    if convention == "torchmetrics":
        return max(100.0 * float(cosine), 0.0)
    raise ValueError(f"CLIPScore convention must be one of {CLIP_CONVENTIONS}, got {convention!r}")


# ============================================================================================ spatial rule
def _box_dict(box: Sequence[float]) -> dict[str, float]:
    if len(box) != 4:
        raise ValueError(f"a box has 4 coordinates (x0, y0, x1, y1), got {box!r}")
    x0, y0, x1, y1 = (float(v) for v in box)
    if x1 < x0 or y1 < y0:
        raise ValueError(f"box {box!r} has x1 < x0 or y1 < y0")
    return {"x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1}


def determine_position(locality: str | None, box1: Sequence[float], box2: Sequence[float],
                       iou_threshold: float = IOU_THRESHOLD, distance_threshold: float = DISTANCE_THRESHOLD) -> float:
    """The repo's ``determine_position``: is object 1 (``box1``) ``locality`` object 2 (``box2``)?

    With ``dx, dy`` = centre of box 2 minus centre of box 1 (image y points down):

    * "next to" / "near" / "on side of": 1 if ``|dx| < d`` or ``|dy| < d``, else ``d / max(|dx|, |dy|)``.
    * "on the left of" (``dx > 0``), "on the right of" (``dx < 0``): 0 on the wrong side; on the right side and
      ``|dx| > |dy|``: 1 if ``IoU < 0.1`` else ``0.1 / IoU``; otherwise 0.
    * "on the top of" (``dy > 0``), "on the bottom of" (``dy < 0``): the same with x and y swapped.
    * anything else (``None``, 3D relations): 0.
    """
    b1, b2 = _box_dict(box1), _box_dict(box2)
    c1 = ((b1["x_min"] + b1["x_max"]) / 2, (b1["y_min"] + b1["y_max"]) / 2)
    c2 = ((b2["x_min"] + b2["x_max"]) / 2, (b2["y_min"] + b2["y_max"]) / 2)
    dx, dy = c2[0] - c1[0], c2[1] - c1[1]
    iou = plain_iou(box1, box2)
    if locality in ("next to", "on side of", "near"):
        if abs(dx) < distance_threshold or abs(dy) < distance_threshold:
            return 1.0
        return distance_threshold / max(abs(dx), abs(dy))
    checks = {"on the right of": (dx < 0, abs(dx) > abs(dy)), "on the left of": (dx > 0, abs(dx) > abs(dy)),
              "on the bottom of": (dy < 0, abs(dy) > abs(dx)), "on the top of": (dy > 0, abs(dy) > abs(dx))}
    if locality not in checks:
        return 0.0
    right_side, dominant_axis = checks[locality]
    if not (right_side and dominant_axis):
        return 0.0
    return 1.0 if iou < iou_threshold else iou_threshold / iou


def plain_iou(box1: Sequence[float], box2: Sequence[float]) -> float:
    """IoU without the +1-pixel convention (as ``determine_position``); 0 for two empty boxes."""
    b1, b2 = _box_dict(box1), _box_dict(box2)
    ix = max(0.0, min(b1["x_max"], b2["x_max"]) - max(b1["x_min"], b2["x_min"]))
    iy = max(0.0, min(b1["y_max"], b2["y_max"]) - max(b1["y_min"], b2["y_min"]))
    inter = ix * iy
    union = ((b1["x_max"] - b1["x_min"]) * (b1["y_max"] - b1["y_min"])
             + (b2["x_max"] - b2["x_min"]) * (b2["y_max"] - b2["y_min"]) - inter)
    return inter / union if union > 0 else 0.0


def locality_for(predicate: str) -> str | None:
    """The repo's locality word for a concept-parser predicate (None for 3D and non-spatial relations)."""
    return PREDICATE_TO_LOCALITY.get(predicate)


def spatial_relation(graph) -> tuple[int, str, int] | None:
    """``(subject index, locality, object index)`` of the first 2D spatial relation of the graph, else None."""
    for rel in graph.relations:
        locality = locality_for(rel.predicate) if rel.kind == "position" else None
        if locality is not None:
            return rel.subject, locality, rel.object
    return None


def spatial_score(locality: str | None, det1: Detection | None, det2: Detection | None,
                  scale: float = 1.0, iou_threshold: float = IOU_THRESHOLD,
                  distance_threshold: float = DISTANCE_THRESHOLD, cutoff: float = SPATIAL_CUTOFF) -> float:
    """The repo's 2D-spatial image score from the two objects' detections (None = not found):

    both found: ``0.25 s1 + 0.25 s2 + determine_position / 2``; one found: ``0.25 s``; none: 0; then any score
    below ``cutoff`` (0.5) becomes 0. ``scale`` multiplies the boxes first (into UniDet's frame)."""
    if det1 is not None and det2 is not None:
        box1 = [v * scale for v in det1.box]
        box2 = [v * scale for v in det2.box]
        score = 0.25 * det1.score + 0.25 * det2.score
        score += determine_position(locality, box1, box2, iou_threshold, distance_threshold) / 2
    elif det1 is not None:
        score = 0.25 * det1.score
    elif det2 is not None:
        score = 0.25 * det2.score
    else:
        score = 0.0
    return 0.0 if score < cutoff else score


def best_detection(detections: Iterable[Detection], label: str, threshold: float) -> Detection | None:
    """The most confident detection of ``label`` scoring above ``threshold`` (the repo takes UniDet's first
    instance of the class, and detectron2 sorts instances by score)."""
    kept = [d for d in detections if d.label == label and d.score > threshold]
    return max(kept, key=lambda d: d.score) if kept else None


# ============================================================================================ numeracy
def is_duplicate_box(box1: Sequence[float], box2: Sequence[float]) -> bool:
    """The repo's numeracy de-duplication test (``calculate_iou``, +1-pixel areas): IoU > 0.9, or the overlap
    covers more than 90 % of either box."""
    x0, y0 = max(box1[0], box2[0]), max(box1[1], box2[1])
    x1, y1 = min(box1[2], box2[2]), min(box1[3], box2[3])
    inter = max(0.0, x1 - x0 + 1) * max(0.0, y1 - y0 + 1)
    a1 = (box1[2] - box1[0] + 1) * (box1[3] - box1[1] + 1)
    a2 = (box2[2] - box2[0] + 1) * (box2[3] - box2[1] + 1)
    iou = inter / float(a1 + a2 - inter)
    return iou > 0.9 or inter / float(a1) > 0.9 or inter / float(a2) > 0.9


def dedup_detections(detections: Sequence[Detection]) -> list[Detection]:
    """Keep a detection unless an earlier kept one of the same label is a duplicate box (repo order: by score)."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: -d.score):
        if not any(k.label == det.label and is_duplicate_box(det.box, k.box) for k in kept):
            kept.append(det)
    return kept


def numeracy_targets(graph) -> list[tuple[str, int]]:
    """``(noun, count)`` to check: exact counts, and "a"/"an" objects as 1; plurals without a number are skipped."""
    return [(o.noun, o.count if o.exact else 1) for o in graph.objects if o.exact or o.count == 1]


def numeracy_score(targets: Sequence[tuple[str, int]], detections: Sequence[Detection]) -> float:
    """The repo's numeracy score: each of the ``n`` targets weighs ``1/n``; half for being detected at all, the
    other half for the de-duplicated count equalling the target. NaN with no target."""
    if not targets:
        return math.nan
    labels = [d.label for d in dedup_detections(detections)]
    weight = 1.0 / len(targets)
    score = 0.0
    for noun, count in targets:
        if count < 0:
            raise ValueError(f"a target count must be >= 0, got {count} for {noun!r}")
        if noun in labels:
            score += 0.5 * weight
            if labels.count(noun) == count:
                score += 0.5 * weight
    return score


# ============================================================================================ 3-in-1
def complex_kind(graph) -> str:
    """"spatial", "action" or "spatialaction": which relation scores a complex prompt's 3-in-1 averages, from the
    graph's relations (:func:`concept_parsers.categories.relation_aspect`). No relation at all -> "action"
    (CLIP, which scores the whole prompt)."""
    from concept_parsers.categories import relation_aspect

    aspects = {relation_aspect(r.kind, r.predicate) for r in graph.relations}
    has_spatial = "spatial" in aspects and spatial_relation(graph) is not None
    has_action = "non_spatial" in aspects
    if has_spatial and has_action:
        return "spatialaction"
    return "spatial" if has_spatial else "action"


def three_in_one(attribute: float, spatial: float | None = None, non_spatial: float | None = None) -> float:
    """The repo's 3-in-1: the mean of the BLIP-VQA score and whichever relation scores apply (the repo: spatial
    prompts ``(spatial + attribute) / 2``, action prompts ``(clip + attribute) / 2``, others the mean of all
    three)."""
    parts = [attribute] + [s for s in (spatial, non_spatial) if s is not None]
    if len(parts) == 1:
        raise ValueError("3-in-1 needs a spatial or a non-spatial score besides the attribute score")
    return sum(parts) / len(parts)


def _complex_key(prompt: str) -> str:
    return prompt.strip().split(".")[0].lower()


def load_complex_kinds(data_dir: str | Path) -> dict[str, str]:
    """``prompt key -> kind`` from the repo's complex prompt lists (``complex_{train,val}_{spatial,action,
    spatialaction}.txt``), keyed as the repo does (lower case, up to the first full stop)."""
    kinds: dict[str, str] = {}
    for kind in COMPLEX_KINDS:
        for split in ("train", "val"):
            path = Path(data_dir) / f"complex_{split}_{kind}.txt"
            if path.is_file():
                for line in path.read_text().splitlines():
                    if line.strip():
                        kinds.setdefault(_complex_key(line), kind)
    return kinds


def load_category_prompts(data_dir: str | Path) -> dict[str, str]:
    """``lower-case prompt -> category`` from T2I-CompBench's ``{category}_{train,val}.txt`` prompt files."""
    out: dict[str, str] = {}
    for category in CATEGORIES:
        for split in ("train", "val"):
            path = Path(data_dir) / f"{category}_{split}.txt"
            if path.is_file():
                for line in path.read_text().splitlines():
                    if line.strip():
                        out.setdefault(line.strip().lower(), category)
    return out


def normalize_category(name: str) -> str:
    key = str(name).strip().lower()
    key = CATEGORY_ALIASES.get(key, key)
    if key not in CATEGORIES:
        raise ValueError(f"unknown T2I-CompBench category {name!r}; use one of {CATEGORIES} (3d_spatial is not "
                         f"implemented: it needs a depth model)")
    return key


# ============================================================================================ models
class BlipVQA:
    """transformers BLIP VQA (default ``Salesforce/blip-vqa-base``) answering yes/no: ``P(yes)`` as the repo's
    ``vqa_prob``: softmax over the vocabulary of the answer decoder's first position (after the decoder start
    token), renormalised over "yes" and "no": ``p_yes / (p_yes + p_no)``.

    As the repo, the question's first token is replaced by BLIP's ``[ENC]`` token when the tokenizer has one,
    and the decoder attends to the question with its padding mask."""

    def __init__(self, model, processor, batch_size: int = 16) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.processor, self.batch_size = model.eval(), processor, int(batch_size)
        tok = processor.tokenizer
        self.yes_id, self.no_id = tok.convert_tokens_to_ids("yes"), tok.convert_tokens_to_ids("no")
        if tok.unk_token_id is not None and tok.unk_token_id in (self.yes_id, self.no_id):
            raise ValueError("the BLIP tokenizer has no single 'yes' / 'no' token")
        enc = tok.convert_tokens_to_ids("[ENC]") if "[ENC]" in tok.get_vocab() else None
        self.enc_token_id = enc

    @classmethod
    def from_pretrained(cls, model: str = DEFAULT_BLIP_VQA, device: Any = "cpu",
                        batch_size: int = 16) -> BlipVQA:
        import torch
        from transformers import AutoProcessor, BlipForQuestionAnswering

        from reward_models.detector import load_pretrained

        processor = load_pretrained(AutoProcessor.from_pretrained, model, "BLIP-VQA", DEFAULT_BLIP_VQA)
        net = load_pretrained(BlipForQuestionAnswering.from_pretrained, model, "BLIP-VQA", DEFAULT_BLIP_VQA)
        return cls(net.to(torch.device(device)), processor, batch_size)

    @property
    def device(self):
        return next(self.model.parameters()).device

    def p_yes(self, images: Sequence[Any], questions: Sequence[str]) -> list[float]:
        """``P(yes)`` per (image, question) row. Rows are batched by question length, so no question is padded
        (observed with transformers 5.2x: BLIP's decoder does not fully mask padded question tokens in its
        cross-attention, which made batched answers depend on the batch)."""
        if len(images) != len(questions):
            raise ValueError(f"{len(images)} images for {len(questions)} questions")
        lengths = [len(self.processor.tokenizer(q)["input_ids"]) for q in questions]
        by_length: dict[int, list[int]] = {}
        for i, n in enumerate(lengths):
            by_length.setdefault(n, []).append(i)
        out = [math.nan] * len(questions)
        for rows in by_length.values():
            for start in range(0, len(rows), self.batch_size):
                chunk = rows[start : start + self.batch_size]
                for i, p in zip(chunk, self._p_yes_batch([images[i] for i in chunk], [questions[i] for i in chunk])):
                    out[i] = p
        return out

    def _p_yes_batch(self, images: list[Any], questions: list[str]) -> list[float]:
        import torch

        with torch.no_grad():
            return self._p_yes_batch_no_grad(images, questions)

    def _p_yes_batch_no_grad(self, images: list[Any], questions: list[str]) -> list[float]:
        import torch

        inputs = self.processor(images=images, text=questions, padding=True, return_tensors="pt").to(self.device)
        input_ids = inputs["input_ids"].clone()
        if self.enc_token_id is not None:
            input_ids[:, 0] = self.enc_token_id
        m = self.model
        image_embeds = m.vision_model(pixel_values=inputs["pixel_values"])[0]
        image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
        question = m.text_encoder(input_ids=input_ids, attention_mask=inputs["attention_mask"],
                                  encoder_hidden_states=image_embeds, encoder_attention_mask=image_mask,
                                  return_dict=True).last_hidden_state
        start_ids = torch.full((len(questions), 1), m.decoder_start_token_id, dtype=torch.long, device=self.device)
        logits = m.text_decoder(input_ids=start_ids, encoder_hidden_states=question,
                                encoder_attention_mask=inputs["attention_mask"], return_dict=True).logits[:, 0]
        probs = logits.float().softmax(-1)
        yes, no = probs[:, self.yes_id], probs[:, self.no_id]
        return (yes / (yes + no)).cpu().tolist()


class ClipSimilarity:
    """Image-text cosine similarity through a :class:`reward_models.attribute.ClipBackend` (L2-normalised
    embeddings). Default: open_clip ViT-B-32 with OpenAI weights, T2I-CompBench's model."""

    def __init__(self, backend) -> None:
        self.backend = backend

    @classmethod
    def from_pretrained(cls, model: str = DEFAULT_CLIP, pretrained: str | None = DEFAULT_CLIP_PRETRAINED,
                        backend: str = "open_clip", device: Any = "cpu",
                        batch_size: int = 16) -> ClipSimilarity:
        from reward_models.attribute import OpenClipBackend, TransformersClipBackend

        if backend == "open_clip":
            return cls(OpenClipBackend(model, pretrained, device, batch_size))
        if backend == "transformers":
            return cls(TransformersClipBackend(model, device, batch_size))
        raise ValueError(f"CLIP backend must be 'open_clip' or 'transformers', got {backend!r}")

    def cosine(self, images: Sequence[Any], texts: Sequence[str]) -> list[float]:
        if len(images) != len(texts):
            raise ValueError(f"{len(images)} images for {len(texts)} texts")
        if not texts:
            return []
        import torch

        image_features = self.backend.encode_images(list(images)).float()
        text_features = self.backend.encode_text(list(texts)).float()
        image_features = torch.nn.functional.normalize(image_features, dim=-1)
        text_features = torch.nn.functional.normalize(text_features, dim=-1)
        return (image_features * text_features).sum(-1).tolist()


# ============================================================================================ evaluator
@dataclass
class BenchmarkResult:
    """``summary``: ``{category_or_metric: score}``; ``counts``: images behind each summary entry;
    ``records``: one JSON-able dict per image."""

    summary: dict[str, float]
    counts: dict[str, int]
    records: list[dict[str, Any]]
    benchmark: str = "t2i_compbench"

    def to_dict(self) -> dict[str, Any]:
        summary = {k: json_number(v) for k, v in self.summary.items()}
        return {"benchmark": self.benchmark, "summary": summary, "counts": self.counts, "records": self.records}


def json_number(value: float | None) -> float | None:
    """NaN / None -> None (strict JSON), else a float."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def mean_ignoring_nan(values: Iterable[float | None]) -> tuple[float, int]:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return (sum(kept) / len(kept) if kept else math.nan), len(kept)


class CompBenchEvaluator:
    """Scores samples with T2I-CompBench's per-category metric (see the module docstring).

    Models load on first use, so a colour-only run never loads CLIP or the detector. Pass ``blip`` (anything with
    ``p_yes(images, questions)``), ``clip`` (``cosine(images, texts)``) or ``detector`` (an
    :class:`reward_models.detector.ObjectDetector`) to inject models or fakes.

    Args:
        category: one category for every sample; else each sample's ``metadata["category"]`` (or
            ``"compbench_category"``, or a ``"tag"`` naming a category), else a lookup of the prompt in
            ``data_dir``'s prompt files, else ``"auto"`` (:func:`concept_parsers.category`) if asked for.
        data_dir: T2I-CompBench's prompt files (category lookup, complex kinds).
        detection_threshold: detections kept for spatial and numeracy (the repo's 0.5).
        reference_short_side: boxes rescaled so the image's shorter side is this (UniDet's 479) before the box
            rule; None = raw pixels.
        clip_convention: see :func:`clip_score`.
        batch_size: samples per model call.
    """

    def __init__(self, category: str | None = None, data_dir: str | Path | None = None,
                 blip: Any = None, clip: Any = None, detector: Any = None,
                 blip_model: str = DEFAULT_BLIP_VQA, clip_model: str = DEFAULT_CLIP,
                 clip_pretrained: str | None = DEFAULT_CLIP_PRETRAINED, clip_backend: str = "open_clip",
                 detector_model: str = DEFAULT_DETECTOR, device: Any = "cpu",
                 detection_threshold: float = DETECTION_THRESHOLD,
                 reference_short_side: float | None = UNIDET_SHORT_SIDE,
                 clip_convention: str = "t2i_compbench", batch_size: int = 16) -> None:
        if category is not None and category != "auto":
            category = normalize_category(category)
        if not 0.0 <= detection_threshold <= 1.0:
            raise ValueError(f"detection_threshold must be in [0, 1], got {detection_threshold}")
        if clip_convention not in CLIP_CONVENTIONS:
            raise ValueError(f"clip_convention must be one of {CLIP_CONVENTIONS}, got {clip_convention!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if data_dir is not None and not Path(data_dir).is_dir():
            raise FileNotFoundError(f"T2I-CompBench data folder {str(data_dir)!r} does not exist")
        self.category = category
        self.prompt_categories = load_category_prompts(data_dir) if data_dir else {}
        self.complex_kinds = load_complex_kinds(data_dir) if data_dir else {}
        self._blip, self._clip, self._detector = blip, clip, detector
        self.blip_model, self.clip_model, self.clip_pretrained = blip_model, clip_model, clip_pretrained
        if device in (None, "auto"):
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.clip_backend, self.detector_model, self.device = clip_backend, detector_model, device
        self.detection_threshold = float(detection_threshold)
        self.reference_short_side = reference_short_side
        self.clip_convention = clip_convention
        self.batch_size = int(batch_size)

    # ---------------------------------------------------------------- lazy models
    @property
    def blip(self):
        if self._blip is None:
            self._blip = BlipVQA.from_pretrained(self.blip_model, self.device, self.batch_size)
        return self._blip

    @property
    def clip(self):
        if self._clip is None:
            self._clip = ClipSimilarity.from_pretrained(self.clip_model, self.clip_pretrained, self.clip_backend,
                                                        self.device, self.batch_size)
        return self._clip

    @property
    def detector(self):
        if self._detector is None:
            from reward_models.detector import GroundingDinoDetector

            self._detector = GroundingDinoDetector(self.detector_model, self.device, threshold=self.detection_threshold,
                                                   batch_size=self.batch_size)
        return self._detector

    # ---------------------------------------------------------------- per sample
    def category_of(self, sample: Sample, graph) -> str:
        if self.category not in (None, "auto"):
            return self.category
        meta = sample.metadata
        for key in ("category", "compbench_category"):
            if meta.get(key):
                return normalize_category(meta[key])
        tag = str(meta.get("tag", "")).lower()
        if CATEGORY_ALIASES.get(tag, tag) in CATEGORIES:
            return CATEGORY_ALIASES.get(tag, tag)
        found = self.prompt_categories.get(sample.prompt.strip().lower())
        if found:
            return found
        if self.category == "auto":
            from concept_parsers import category as parse_category

            return normalize_category(parse_category(graph))
        raise ValueError(f"no T2I-CompBench category for prompt {sample.prompt!r}: pass category=..., put "
                         f"\"category\" in its metadata, or give data_dir with the prompt files")

    def kind_of(self, sample: Sample, graph) -> str:
        kind = sample.metadata.get("complex_kind") or self.complex_kinds.get(_complex_key(sample.prompt))
        if kind is not None and kind not in COMPLEX_KINDS:
            raise ValueError(f"complex_kind must be one of {COMPLEX_KINDS}, got {kind!r}")
        return kind or complex_kind(graph)

    def evaluate(self, source: Any, prompts_file: str | Path | None = None) -> BenchmarkResult:
        """Score every sample (see :func:`read_samples` for ``source``); summary = per-category means plus
        ``"overall"`` (mean over the categories present)."""
        samples = read_samples(source, prompts_file)
        if not samples:
            raise ValueError("no samples to evaluate")
        records: list[dict[str, Any]] = []
        for start in range(0, len(samples), self.batch_size):
            records += self._score_chunk(samples[start : start + self.batch_size])
        summary, counts = {}, {}
        for category in CATEGORIES:
            values = [r["score"] for r in records if r["category"] == category]
            if values:
                summary[category], counts[category] = mean_ignoring_nan(values)
        present = [v for v in summary.values() if not math.isnan(v)]
        if len(summary) > 1 and present:
            summary["overall"], counts["overall"] = sum(present) / len(present), len(present)
        return BenchmarkResult(summary, counts, records)

    def _score_chunk(self, samples: Sequence[Sample]) -> list[dict[str, Any]]:
        from concept_parsers import graph_for

        images = [s.load_image() for s in samples]
        graphs = [graph_for(s.prompt, s.metadata) for s in samples]
        cats = [self.category_of(s, g) for s, g in zip(samples, graphs)]
        kinds = [self.kind_of(s, g) if c == "complex" else None for s, g, c in zip(samples, graphs, cats)]
        details: list[dict[str, Any]] = [{} for _ in samples]

        # BLIP-VQA: attribute categories and complex
        attribute: dict[int, float] = {}
        rows = [(i, p) for i, c in enumerate(cats) if c in ("color", "shape", "texture", "complex")
                for p in noun_phrases(graphs[i])]
        if rows:
            p_yes = self.blip.p_yes([images[i] for i, _ in rows], [blip_vqa_question(p) for _, p in rows])
            for (i, phrase), p in zip(rows, p_yes):
                details[i].setdefault("blip_vqa", []).append({"question": blip_vqa_question(phrase), "p_yes": p})
        for i, c in enumerate(cats):
            if c in ("color", "shape", "texture", "complex"):
                attribute[i] = blip_vqa_product([q["p_yes"] for q in details[i].get("blip_vqa", [])])

        # CLIP: non-spatial, and complex prompts with an action relation
        clip_rows = [i for i, c in enumerate(cats) if c == "non_spatial" or kinds[i] in ("action", "spatialaction")]
        clip_values: dict[int, float] = {}
        if clip_rows:
            texts = [samples[i].prompt if cats[i] == "non_spatial" else text_without_attributes(samples[i].prompt, graphs[i])
                     for i in clip_rows]
            for i, text, cos in zip(clip_rows, texts, self.clip.cosine([images[i] for i in clip_rows], texts)):
                clip_values[i] = clip_score(cos, self.clip_convention)
                details[i]["clip"] = {"text": text, "cosine": cos}

        # detector: spatial, numeracy, complex prompts with a spatial relation
        det_rows = [i for i, c in enumerate(cats) if c in ("spatial", "numeracy") or kinds[i] in ("spatial", "spatialaction")]
        spatial_values: dict[int, float] = {}
        numeracy_values: dict[int, float] = {}
        if det_rows:
            queries = [list(dict.fromkeys(o.noun for o in graphs[i].objects)) for i in det_rows]
            found = self.detector([images[i] for i in det_rows], queries)
            if len(found) != len(det_rows):
                raise ValueError(f"the detector returned {len(found)} results for {len(det_rows)} images")
            for i, dets in zip(det_rows, found):
                dets = [d for d in dets if d.score > self.detection_threshold]
                details[i]["detections"] = [d.to_dict() for d in dets]
                if cats[i] == "numeracy":
                    targets = numeracy_targets(graphs[i])
                    details[i]["numeracy_targets"] = [list(t) for t in targets]
                    numeracy_values[i] = numeracy_score(targets, dets)
                else:
                    spatial_values[i] = self._spatial(graphs[i], dets, images[i], details[i])

        records = []
        for i, (sample, cat) in enumerate(zip(samples, cats)):
            if cat in ("color", "shape", "texture"):
                score = attribute[i]
            elif cat == "non_spatial":
                score = clip_values[i]
            elif cat == "spatial":
                score = spatial_values[i]
            elif cat == "numeracy":
                score = numeracy_values[i]
            else:
                score = three_in_one(attribute[i], spatial_values.get(i), clip_values.get(i))
                details[i]["3_in_1"] = {"kind": kinds[i], "attribute": attribute[i],
                                        "spatial": spatial_values.get(i), "non_spatial": clip_values.get(i)}
            records.append({"index": sample.index, "sample": sample.sample, "prompt": sample.prompt,
                            "path": sample.path, "category": cat, "metric": METRIC_OF_CATEGORY[cat],
                            "score": json_number(score), "details": details[i]})
        return records

    def _spatial(self, graph, dets: Sequence[Detection], image, info: dict[str, Any]) -> float:
        relation = spatial_relation(graph)
        if relation is None:
            info["spatial"] = {"relation": None, "note": "no 2D spatial relation in the prompt"}
            subject = graph.objects[0].noun if graph.objects else None
            target = graph.objects[-1].noun if len(graph.objects) > 1 else None
            locality = None
        else:
            subject, locality, target = graph.objects[relation[0]].noun, relation[1], graph.objects[relation[2]].noun
        det1 = best_detection(dets, subject, self.detection_threshold) if subject else None
        det2 = best_detection(dets, target, self.detection_threshold) if target else None
        scale = 1.0 if self.reference_short_side is None else self.reference_short_side / min(image.size)
        score = spatial_score(locality, det1, det2, scale=scale)
        info.setdefault("spatial", {}).update({
            "subject": subject, "locality": locality, "object": target, "scale": scale,
            "subject_box": det1.to_dict() if det1 else None, "object_box": det2.to_dict() if det2 else None})
        return score


def evaluate_compbench(source: Any, category: str | None = None, prompts_file: str | Path | None = None,
                       **kwargs: Any) -> BenchmarkResult:
    """One call: :class:`CompBenchEvaluator` ``(category=category, **kwargs).evaluate(source, prompts_file)``."""
    return CompBenchEvaluator(category=category, **kwargs).evaluate(source, prompts_file)


# ============================================================================================ CLI hook
def add_arguments(parser) -> None:
    """Arguments of ``t2i-rl eval compbench DIR`` (for the ``evals.cli`` sub-parser)."""
    parser.add_argument("images", help="image folder (GenEval layout, or PNGs with --prompts / CompBench names)")
    parser.add_argument("--category", default=None, help=f"one of {CATEGORIES} or 'auto' (else from metadata)")
    parser.add_argument("--prompts", default=None, help="prompts file for a flat PNG folder (one line per PNG)")
    parser.add_argument("--data-dir", default=None, help="T2I-CompBench prompt files (category and complex lookup)")
    parser.add_argument("--blip-model", default=DEFAULT_BLIP_VQA)
    parser.add_argument("--clip-model", default=DEFAULT_CLIP)
    parser.add_argument("--clip-pretrained", default=DEFAULT_CLIP_PRETRAINED)
    parser.add_argument("--clip-backend", default="open_clip", choices=("open_clip", "transformers"))
    parser.add_argument("--detector-model", default=DEFAULT_DETECTOR)
    parser.add_argument("--detection-threshold", type=float, default=DETECTION_THRESHOLD)
    parser.add_argument("--clip-convention", default="t2i_compbench", choices=CLIP_CONVENTIONS)
    parser.add_argument("--device", default="auto", help="'auto' = cuda when available")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", default=None, help="write the result JSON here (default: print the summary)")


def run_from_args(args) -> BenchmarkResult:
    """Run ``t2i-rl eval compbench`` from parsed :func:`add_arguments` arguments; writes ``--out`` if given."""
    result = evaluate_compbench(
        args.images, category=args.category, prompts_file=args.prompts, data_dir=args.data_dir,
        blip_model=args.blip_model, clip_model=args.clip_model, clip_pretrained=args.clip_pretrained,
        clip_backend=args.clip_backend, detector_model=args.detector_model,
        detection_threshold=args.detection_threshold, clip_convention=args.clip_convention, device=args.device,
        batch_size=args.batch_size)
    write_or_print(result.to_dict(), args.out)
    return result


def write_or_print(payload: Mapping[str, Any], out: str | Path | None) -> None:
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(payload, indent=2, allow_nan=False, default=str))
    print(json.dumps({"summary": payload["summary"], "counts": payload.get("counts")}, indent=2, default=str))

