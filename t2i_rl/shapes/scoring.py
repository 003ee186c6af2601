"""GenEval's scoring rules on top of shapes-world detections, per-concept scores and per-tag accuracy.

:func:`evaluate_detections` is GenEval's ``evaluate`` (``evaluation/evaluate_images.py``, Ghosh et al., 2023;
the clause logic is :func:`reward_models.geneval_rules.geneval_verdict`, shared with :mod:`evals.geneval`) with the
Mask2Former detector replaced by :func:`~t2i_rl.shapes.detect.detect` and the CLIP colour classifier replaced by the
detected palette colour. Detections are grouped by class, most confident first, at most ``MAX_OBJECTS = 16`` per
class; GenEval also drops detections under a confidence threshold (0.3, or 0.9 for counting), but our detector's
scores are not calibrated probabilities, so the threshold is a parameter, 0 by default.

The per-concept scores of :func:`concept_scores` are this project's shaped version of the same checks (see
its docstring); the strict GenEval verdict is ``ImageEvaluation.correct``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from reward_models.geneval_rules import failure_key, failure_shares, geneval_verdict
from reward_models.geometry import POSITION_THRESHOLD, relative_position
from t2i_rl.shapes.detect import Detection, DetectorConfig, detect
from t2i_rl.shapes.world import COLORS

#: GenEval's per-class cap on detections.
MAX_OBJECTS = 16

Metadata = dict[str, Any]


@dataclass
class ImageEvaluation:
    """GenEval verdict for one image: ``correct``, a ``reason`` (empty when correct) and the evidence."""

    correct: bool
    reason: str
    detections: list[Detection]
    found: list[list[Detection]] = field(default_factory=list)  # per include clause: its n most confident
    tag: str | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)  # (rule, class) per reason: geneval_rules.FAILURE_RULES


def group_by_class(
    detections: Sequence[Detection], score_threshold: float = 0.0, max_objects: int = MAX_OBJECTS
) -> dict[str, list[Detection]]:
    """``class -> detections`` (score above ``score_threshold``), most confident first, at most ``max_objects``."""
    grouped: dict[str, list[Detection]] = {}
    for det in sorted(detections, key=lambda d: -d.score):
        if det.score > score_threshold or score_threshold <= 0.0:
            grouped.setdefault(det.shape, [])
            if len(grouped[det.shape]) < max_objects:
                grouped[det.shape].append(det)
    return grouped


def evaluate_detections(
    detections: Sequence[Detection],
    metadata: Metadata,
    score_threshold: float = 0.0,
    position_threshold: float = POSITION_THRESHOLD,
) -> ImageEvaluation:
    """GenEval's ``evaluate`` on one image's detections (see the module docstring)."""
    objects = group_by_class(detections, score_threshold)
    verdict = geneval_verdict(objects, metadata, lambda found, _: [d.color for d in found], COLORS, position_threshold)
    return ImageEvaluation(verdict.correct, "\n".join(verdict.reasons), list(detections), verdict.found,
                           metadata.get("tag"), verdict.failures)


def evaluate_images(
    images: torch.Tensor,
    metadata: Sequence[Metadata],
    detector: DetectorConfig | None = None,
    score_threshold: float = 0.0,
) -> list[ImageEvaluation]:
    """Detect and evaluate a ``[B, 3, H, W]`` batch against one metadata dict per image."""
    if images.shape[0] != len(metadata):
        raise ValueError(f"{images.shape[0]} images for {len(metadata)} metadata entries")
    detections = detect(images, detector or DetectorConfig())
    return [evaluate_detections(d, m, score_threshold) for d, m in zip(detections, metadata)]


# ------------------------------------------------------------------------------------- per-concept scores
def _count_range(req: Metadata, metadata: Metadata) -> tuple[int, float] | None:
    """Allowed ``[low, high]`` count of a clause's class, or ``None`` when the prompt does not constrain it.

    ``low`` is the clause's count, ``high`` the smallest matching exclude count minus one (inf without one).
    A count is constrained when ``count > 1`` or an exclude clause names the same class.
    """
    excludes = [int(e["count"]) - 1 for e in metadata.get("exclude", []) if e["class"] == req["class"]]
    if int(req["count"]) <= 1 and not excludes:
        return None
    return int(req["count"]), float(min(excludes)) if excludes else math.inf


def named_objects(metadata: Metadata) -> int:
    """How many objects the prompt names: the sum of its include counts ("two circles and a square": 3)."""
    return sum(int(req["count"]) for req in metadata.get("include", []))


#: ``presence`` modes of :func:`concept_scores`.
PRESENCE_MODES = ("binary", "shape_confidence")


def concept_scores(
    evaluation: ImageEvaluation, metadata: Metadata, max_objects: int = 2, presence: str = "binary"
) -> dict[str, float]:
    """Per-concept scores in ``[0, 1]``, NaN where the prompt has no such concept.

    For include clause ``i`` (slot ``obj{i}``, ``i < max_objects``) of class ``c`` and count ``n``:

    * ``obj{i}/presence``: always applicable. ``presence="binary"`` (GenEval's verdict): 1 if at least one ``c`` is
      detected, else 0. ``presence="shape_confidence"``: the highest ``shape_score`` among the detected ``c`` (0 if
      none), the way a learned detector's confidence grades a detection: a crisp square scores ~1, a square whose
      rounded corners nearly make it a circle ~0, so the reward also separates near misses from clear hits. It is
      continuous across the square/circle boundary (both sides score 0 there).
    * ``obj{i}/count``: applicable when ``n > 1`` or an exclude clause names ``c``. With ``m`` detections of
      ``c`` and an allowed range ``[n, high]`` (``high`` from the exclude clause, see ``_count_range``), 1 inside
      the range, else ``max(0, 1 - distance_to_range / n)`` (partial credit: 3 of 4 squares scores 0.75).
    * ``obj{i}/color``: applicable when the clause has a colour: the fraction of the ``n`` GenEval-found
      objects (the ``n`` most confident ``c``) that have it; missing objects count as wrong.
    * ``relation``: applicable when a clause has ``"position"``: the fraction of (found object of the clause,
      found object of the target clause) pairs for which GenEval's relation holds; 0 if either side has no
      detection (mean over position clauses if there are several). Unlike strict GenEval, it does not
      require the colours to be right, so it isolates the spatial concept.
    * ``strict``: 1.0 / 0.0 GenEval verdict. Always applicable.
    * ``extra``: 1 when the image has at most :func:`named_objects` detections, else ``max(0, 1 - extra / named)``
      (GenEval's include clauses mean "at least", so its verdict lets unrequested shapes pass). Always applicable.
    """
    if presence not in PRESENCE_MODES:
        raise ValueError(f"presence={presence!r}: use one of {PRESENCE_MODES}")
    include = metadata.get("include", [])
    if len(include) > max_objects:
        raise ValueError(f"metadata has {len(include)} include clauses, the reward has {max_objects} slots")
    objects = group_by_class(evaluation.detections)
    nan = float("nan")
    out: dict[str, float] = {}
    for i in range(max_objects):
        out.update({f"obj{i}/presence": nan, f"obj{i}/count": nan, f"obj{i}/color": nan})
    relation_scores = []
    for i, req in enumerate(include):
        n = int(req["count"])
        dets = objects.get(req["class"], [])
        found = evaluation.found[i] if i < len(evaluation.found) else dets[:n]
        if presence == "binary":
            out[f"obj{i}/presence"] = 1.0 if dets else 0.0
        else:
            out[f"obj{i}/presence"] = max((d.shape_score for d in dets), default=0.0)
        rng = _count_range(req, metadata)
        if rng is not None:
            low, high = rng
            m = len(dets)
            dist = low - m if m < low else (m - high if m > high else 0.0)
            out[f"obj{i}/count"] = max(0.0, 1.0 - dist / low)
        if req.get("color") is not None:
            out[f"obj{i}/color"] = sum(d.color == req["color"] for d in found) / n
        if req.get("position"):
            rel, j = req["position"][0], int(req["position"][1])
            target = evaluation.found[j] if j < len(evaluation.found) else []
            pairs = [(a, b) for a in found for b in target]
            relation_scores.append(
                sum(rel in relative_position(a.box, b.box) for a, b in pairs) / len(pairs) if pairs else 0.0
            )
    out["relation"] = sum(relation_scores) / len(relation_scores) if relation_scores else nan
    out["strict"] = 1.0 if evaluation.correct else 0.0
    named = named_objects(metadata)
    out["extra"] = max(0.0, 1.0 - max(0, len(evaluation.detections) - named) / max(named, 1))
    return out


# --------------------------------------------------------------------------------------- per-tag accuracy
def summarize_accuracy(tags: Sequence[str], correct: Sequence[bool]) -> dict[str, float]:
    """``tag -> mean strict correctness`` plus ``"overall"`` = mean over the tags present (GenEval's summary)."""
    if len(tags) != len(correct):
        raise ValueError(f"{len(tags)} tags for {len(correct)} verdicts")
    per: dict[str, list[bool]] = {}
    for tag, ok in zip(tags, correct):
        per.setdefault(tag, []).append(bool(ok))
    out = {tag: sum(v) / len(v) for tag, v in per.items()}
    out["overall"] = sum(out.values()) / len(out) if out else float("nan")
    return out


def paired_gain_stderr(tags: Sequence[str], before: Sequence[bool], after: Sequence[bool]) -> float:
    """Standard error of the gain in ``summarize_accuracy``'s overall figure between two models scored on the same
    (prompt, seed) images: ``sqrt(sum_t var_t(d) / n_t) / T`` over the ``T`` tags, with ``d_i = after_i - before_i``
    and ``var_t`` the (ddof 1) variance of ``d`` over tag ``t``'s ``n_t`` images.

    It measures the noise of the evaluation's seeds given its prompts (images treated as independent within a tag),
    not the noise of training or of choosing other prompts: a gain of two standard errors or less may vanish on
    other seeds. It is a plug-in estimate, so a tag whose differences are all equal (one image, or every pair
    flipped the same way) adds 0: with tags that small it is a lower bound. The demo renders 48 images per tag.
    """
    if not len(tags) == len(before) == len(after):
        raise ValueError(f"{len(tags)} tags for {len(before)} and {len(after)} verdicts")
    per: dict[str, list[float]] = {}
    for tag, b, a in zip(tags, before, after):
        per.setdefault(tag, []).append(float(bool(a)) - float(bool(b)))
    if not per:
        return float("nan")
    total = sum(statistics.variance(diffs) / len(diffs) for diffs in per.values() if len(diffs) > 1)
    return math.sqrt(total) / len(per)


def per_tag_accuracy(
    metadata: Sequence[Metadata], images: torch.Tensor, detector: DetectorConfig | None = None
) -> dict[str, float]:
    """Strict GenEval accuracy per tag of ``images`` ``[B, 3, H, W]`` against ``metadata``, plus ``"overall"``."""
    evals = evaluate_images(images, metadata, detector)
    return summarize_accuracy([m.get("tag", "unknown") for m in metadata], [e.correct for e in evals])


def object_statistics(evaluations: Sequence[ImageEvaluation], metadata: Sequence[Metadata]) -> dict[str, dict[str, float]]:
    """Per tag (and ``"overall"``, over all images): ``objects``, the mean number of detected objects per image, and
    ``extra``, the fraction of images with more objects than the prompt names (the sum of its include counts).

    GenEval's include clauses mean "at least", so an image with unrequested extra shapes can still be correct; a
    policy trained on such rewards can learn to scatter shapes (more tries at a detectable one) rather than draw
    the requested one better, and these figures show it.
    """
    if len(evaluations) != len(metadata):
        raise ValueError(f"{len(evaluations)} evaluations for {len(metadata)} metadata entries")
    per: dict[str, list[tuple[int, bool]]] = {}
    for ev, meta in zip(evaluations, metadata):
        row = (len(ev.detections), len(ev.detections) > named_objects(meta))
        per.setdefault(meta.get("tag", "unknown"), []).append(row)
        per.setdefault("overall", []).append(row)
    return {tag: {"objects": sum(n for n, _ in rows) / len(rows), "extra": sum(e for _, e in rows) / len(rows)}
            for tag, rows in per.items()}


def failure_breakdown(evaluations: Sequence[ImageEvaluation], metadata: Sequence[Metadata]) -> dict[str, dict[str, float]]:
    """Per tag (and ``"overall"``, over all images): the fraction of images that fail each rule on each class, keyed
    ``"<rule> <class>"`` (``"missing square"``, ``"position circle"``, ...; rules: ``geneval_rules.FAILURE_RULES``),
    most frequent first (``geneval_rules.failure_shares``). It tells which concept a model misses: one class missing
    everywhere is a drawing problem, not a compositional one.
    """
    if len(evaluations) != len(metadata):
        raise ValueError(f"{len(evaluations)} evaluations for {len(metadata)} metadata entries")
    return failure_shares([m.get("tag", "unknown") for m in metadata],
                          [[failure_key(rule, cls) for rule, cls in ev.failures] for ev in evaluations])
